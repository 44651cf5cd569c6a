"""The weight-decay grid of the optimizers page: its preset, its three methods, the table of
means and seed spreads it reports, and the decay form it passes to the optimizer."""

from __future__ import annotations

import json
from dataclasses import fields, replace

import pandas as pd
import pytest

from lesson6lib.experiments.collab import (
    METHODS,
    CollabPreset,
    GridPreset,
    GridResult,
    collab_learner,
    weight_decay_grid,
)


def test_each_method_names_a_field_of_the_grid_preset():
    names = {f.name for f in fields(GridPreset)}
    assert set(METHODS) == {"Adam + L2", "AdamW (PyTorch)", "AdamW (paper)"}
    for decouple, decay, field_name in METHODS.values():
        assert field_name in names
        assert decay in ("lr", "schedule") and (decouple or decay == "lr")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"paper": ()}, r"GridPreset\.paper must hold at least one value"),
        ({"seeds": ()}, r"GridPreset\.seeds must hold at least one value"),
        ({"l2": (1e-4, -1e-5)}, r"GridPreset\.l2 must hold values >= 0"),
        ({"decoupled": (-1.0,)}, r"GridPreset\.decoupled must hold values >= 0"),
        ({"lrs": (0.0, 0.01)}, r"GridPreset\.lrs must hold positive values"),
        ({"decoupled": (0.1, 20.0)}, r"GridPreset\.decoupled times the largest lr must be <= 1"),
        ({"paper": (0.1, 2.0)}, r"GridPreset\.paper must hold values <= 1"),
        ({"paper": (0.1, "x")}, r"GridPreset\.paper must be of type"),
    ],
)
def test_a_bad_grid_is_refused_at_construction(change, message):
    with pytest.raises(ValueError, match=message):
        replace(GridPreset(), **change)


def _result() -> GridResult:
    rows = []
    values = {  # (method, lr, wd): the three seeds' MSEs
        ("A", 0.01, 1.0): (0.80, 0.82, 0.81),
        ("A", 0.01, 2.0): (0.78, 0.79, 0.80),
        ("A", 0.01, 3.0): (0.85, 0.85, 0.85),
        ("A", 0.1, 1.0): (0.70, 0.74, 0.72),
        ("A", 0.1, 2.0): (0.90, 0.90, 0.90),
        ("A", 0.1, 3.0): (0.95, 0.95, 0.95),
    }
    for (method, lr, wd), mses in values.items():
        for seed, mse in zip((1, 2, 3), mses, strict=True):
            rows.append(
                {"method": method, "lr": lr, "weight_decay": wd, "seed": seed, "valid_mse": mse}
            )
    return GridResult(
        "best_valid_mse", 0.72, 1.0, grid=pd.DataFrame(rows), runs=18, ranges={"A": (1.0, 2.0, 3.0)}
    )


def test_cells_are_the_mean_and_the_spread_over_seeds():
    cells = _result().cells()
    assert cells.loc[("A", 0.01, 2.0), "mean"] == pytest.approx(0.79)
    assert cells.loc[("A", 0.1, 1.0), "spread"] == pytest.approx(0.04)
    assert _result().table().shape == (2, 3)


def test_best_cells_know_whether_they_lie_inside_the_range():
    best = _result().best()
    assert best.loc[("A", 0.01), "weight_decay"] == 2.0 and best.loc[("A", 0.01), "inside"]
    assert best.loc[("A", 0.1), "weight_decay"] == 1.0 and not best.loc[("A", 0.1), "inside"]
    overall = _result().best(per_lr=False)
    assert overall.loc["A", "lr"] == 0.1 and overall.loc["A", "mean"] == pytest.approx(0.72)


def test_collab_learner_passes_the_decay_form_and_refuses_a_bad_one(real_data_root):
    preset = replace(CollabPreset(), epochs=1, decouple_wd=True, weight_decay=0.1)
    learn, _ = collab_learner(preset)
    assert learn.optimizer.param_groups[0]["decay"] == "lr"  # PyTorch's form by default
    learn, _ = collab_learner(preset, decay="schedule")
    assert learn.optimizer.param_groups[0]["decay"] == "schedule"
    with pytest.raises(ValueError, match="decay must be one of 'lr', 'schedule'"):
        collab_learner(preset, decay="paper")
    with pytest.raises(ValueError, match="decouple_wd=True"):
        collab_learner(replace(preset, decouple_wd=False), decay="schedule")


def test_a_small_grid_runs_every_cell_and_the_two_adamw_forms_agree_at_one_lr(real_data_root):
    """At one peak lr L, the paper's form with wd x is PyTorch's form with wd x / L: the same
    runs (up to rounding), which the grid shows when the ranges line up."""
    lr = 0.04
    preset = GridPreset(
        base=CollabPreset(epochs=1, batch_size=4096),
        lrs=(lr,),
        l2=(0.0, 1e-4),
        decoupled=(0.5, 2.5),
        paper=(0.5 * lr, 2.5 * lr),
        seeds=(1, 2),
    )
    result = weight_decay_grid(preset)
    assert result.runs == len(result.grid) == 3 * 2 * 2
    assert result.value == pytest.approx(result.cells()["mean"].min())
    assert result.ranges["AdamW (paper)"] == preset.paper
    pytorch = result.grid[result.grid["method"] == "AdamW (PyTorch)"]["valid_mse"].to_numpy()
    paper = result.grid[result.grid["method"] == "AdamW (paper)"]["valid_mse"].to_numpy()
    assert paper == pytest.approx(pytorch, abs=1e-5)
    l2 = result.grid[result.grid["method"] == "Adam + L2"]["valid_mse"].to_numpy()
    assert abs(l2 - pytorch).max() > 1e-4  # L2 is another regulariser
    assert set(result.tables()) == {
        "mean validation MSE over seeds",
        "spread (max - min) over seeds",
        "best weight decay per method and lr",
    }


def test_a_run_record_gives_the_grid_back():
    grid = _result().grid.assign(method="Adam + L2")
    record = {
        "experiment": "wd-grid",
        "metric": "best_valid_mse",
        "value": 0.72,
        "wall_s": 3.0,
        "history": json.loads(grid.to_json(orient="records")),
    }
    result = GridResult.from_record(record)
    assert result.runs == 18 and result.ranges["Adam + L2"] == (1.0, 2.0, 3.0)
    assert result.best().loc[("Adam + L2", 0.01), "weight_decay"] == 2.0
    with pytest.raises(ValueError, match="wd-grid run record"):
        GridResult.from_record(record | {"history": []})
