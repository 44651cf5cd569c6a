"""The Rossmann experiment on small hand-made frames: the preset's checks, the split, the
metric, the run's typed result and its seeding, the submission checks; and one short run on the
real data."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from lesson6lib import rossmann_features as rf
from lesson6lib.batches import TensorBatches
from lesson6lib.experiments import rossmann as rx
from lesson6lib.experiments.base import RunResult
from lesson6lib.learner import Learner
from lesson6lib.metrics import exp_rmspe, rmspe
from tests.test_rossmann_features import days, frame  # noqa: F401 (a module fixture)


def frame_for_split(train: pd.DataFrame | None = None) -> pd.DataFrame:
    if train is None:
        train = days(1, "2014-07-30", [1, 1, 1, 0, 1, 1], [10.0, 20, 30, 0, 0, 60])
    test = days(1, "2015-08-01", [1, 0]).assign(Sales=np.nan, Id=[2, 1])
    rows = pd.concat([train.assign(is_test=False), test.assign(is_test=True)], ignore_index=True)
    for c in rf.CATEGORICAL:
        rows[c] = rows["DayOfWeek"]
    for c in rf.CONTINUOUS:
        rows[c] = 1.0
    rows.loc[rows["is_test"], "Store"] = 99  # a store training never saw
    return rows


def test_split_keeps_sold_days_and_uses_the_window():
    split = rx.split_frame(frame_for_split())
    assert split.train["Date"].dt.strftime("%m-%d").tolist() == ["07-30", "07-31"]
    assert split.valid["Date"].dt.strftime("%m-%d").tolist() == ["08-01", "08-04"]
    assert len(split.test) == 2
    codes, conts, y = split.tensors("train")
    assert codes.shape == (2, len(rf.CATEGORICAL)) and conts.shape == (2, len(rf.CONTINUOUS))
    assert torch.allclose(y, torch.log(torch.tensor([10.0, 20.0])))
    store = split.encoder.columns.index("Store")
    assert split.tensors("test")[0][:, store].tolist() == [0, 0]  # unknown store -> code 0
    assert len(rx.split_frame(frame_for_split(), rx.RossmannPreset(closure_features=False))
               .encoder.columns) == 22  # fmt: skip
    with pytest.raises(ValueError, match="sample"):
        rx.split_frame(frame_for_split(), rx.RossmannPreset(sample=0))
    with pytest.raises(ValueError, match="part"):
        split.tensors("validation")
    with pytest.raises(TypeError, match="RossmannPreset"):
        rx.split_frame(frame_for_split(), {"sample": 0.5})


BAD_PRESETS = [
    ("batchnorm", {"batchnorm": "yes"}),
    ("closure_features", {"closure_features": 1}),
    ("sample", {"sample": 0}),
    ("sample", {"sample": 1.5}),
    ("sample", {"sample": math.nan}),
    ("epochs", {"epochs": 0}),
    ("epochs", {"epochs": 2.0}),
    ("batch_size", {"batch_size": 0}),
    ("lr", {"lr": 0.0}),
    ("lr", {"lr": -1e-3}),
    ("lr", {"lr": math.inf}),
    ("hidden", {"hidden": [200, 100]}),
    ("hidden[1]", {"hidden": (200, 0)}),
    ("dropouts", {"hidden": (200,)}),
    ("dropouts[1]", {"dropouts": (0.1, 1.0)}),
    ("emb_dropout", {"emb_dropout": -0.1}),
    ("weight_decay", {"weight_decay": -1e-4}),
    ("seed", {"seed": -1}),
    ("seed", {"seed": 2**32}),
]


@pytest.mark.parametrize(("name", "kwargs"), BAD_PRESETS, ids=[str(k) for _, k in BAD_PRESETS])
def test_every_bad_preset_fails_when_built_naming_the_field(name, kwargs):
    with pytest.raises((ValueError, TypeError), match=re.escape(f"RossmannPreset.{name}")):
        rx.RossmannPreset(**kwargs)
    with pytest.raises((ValueError, TypeError), match=re.escape(f"RossmannPreset.{name}")):
        replace(rx.RossmannPreset(), **kwargs)  # a changed copy is checked too


def test_a_misspelt_field_is_refused_and_the_presets_are_valid():
    with pytest.raises(TypeError, match="hiden"):
        rx.RossmannPreset(hiden=(10,))
    (exp,) = rx.EXPERIMENTS
    assert (exp.name, exp.page) == ("rossmann", "rossmann-training")
    assert exp.run is rx.train_rossmann
    assert exp.preset("cpu") == rx.RossmannPreset()
    assert exp.preset("full") == rx.RossmannPreset(hidden=(1000, 500), epochs=12, lr=5e-3)
    assert rx.RossmannPreset(hidden=(), dropouts=()).hidden == ()  # no hidden layer is a model


def test_exp_rmspe_is_kaggles_metric_over_all_rows():
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(100, generator=gen) * 3 + 5
    pred = target + torch.randn(100, generator=gen) * 0.2
    expected = rmspe(np.exp(target.numpy()), np.exp(pred.numpy()))
    assert exp_rmspe(pred, target).item() == pytest.approx(expected, rel=1e-5)
    # rows without sales are skipped: Kaggle's rule
    assert rmspe([100, 0, 200], [110, 50, 180]) == pytest.approx(np.sqrt((0.1**2 + 0.1**2) / 2))
    with pytest.raises(ValueError, match="differ in shape"):
        rmspe([1, 2], [1])
    with pytest.raises(ValueError, match="non-zero"):
        rmspe([0, 0], [1, 1])


def test_evaluate_takes_the_root_after_averaging_over_batches():
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(100, generator=gen) * 3 + 5
    pred = target + torch.randn(100, generator=gen) * 0.2
    model = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Flatten(0))
    learn = Learner(
        model,
        TensorBatches(pred[:, None], target, batch_size=7),
        torch.nn.functional.mse_loss,
        torch.optim.SGD(model.parameters(), lr=0.1),
        metrics=[exp_rmspe],
    )
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.zero_()
    out = learn.evaluate(TensorBatches(pred[:, None], target, batch_size=7))
    assert out["exp_rmspe"] == pytest.approx(exp_rmspe(pred, target).item(), rel=1e-5)


def test_a_run_returns_a_typed_result_and_seeds_once_at_its_start():
    sales = [100.0 + 10 * (i % 7) for i in range(40)]  # 30 training days, 10 validation days
    rows = frame_for_split(days(1, "2014-07-02", [1] * 40, sales))
    preset = rx.RossmannPreset(hidden=(8,), dropouts=(0.0,), batch_size=8, epochs=2)
    result = rx.train_rossmann(preset, rows)
    assert isinstance(result, rx.RossmannResult) and isinstance(result, RunResult)
    assert result.metric == "valid_rmspe" and result.value == result.valid_rmspe
    assert result.valid_rmspe == rmspe(result.split.valid["Sales"], result.valid_pred)
    assert len(result.valid_pred) == 10 and len(result.history) == 2
    assert set(result.summary()) >= {"metric", "value", "seconds", "valid_rmspe"}
    again = rx.train_rossmann(preset, rows)
    pd.testing.assert_frame_equal(
        again.history.drop(columns="time_s"), result.history.drop(columns="time_s")
    )
    torch.manual_seed(7)
    rx.rossmann_learner(preset, result.split)  # a factory: it builds, it does not seed
    assert torch.initial_seed() == 7
    settings = rx.model_settings(preset, result.split)
    assert settings["y_range"] == (0.0, pytest.approx(1.2 * math.log(160.0)))
    assert settings["cardinalities"] == result.split.encoder.cardinalities


def test_check_submission_names_each_problem():
    test = pd.DataFrame({"Id": [1, 2, 3], "Open": [1.0, 0.0, np.nan]})
    good = pd.DataFrame({"Id": [1, 2, 3], "Sales": [5.0, 0.0, 7.0]})
    rx.check_submission(good, test)
    bad = {
        "columns": good.rename(columns={"Sales": "sales"}),
        "more than once": good.assign(Id=[1, 1, 3]),
        "Ids differ": good.assign(Id=[1, 2, 4]),
        "finite": good.assign(Sales=[5.0, 0.0, math.nan]),
        "closed store": good.assign(Sales=[5.0, 1.0, 7.0]),
        # and never a bare KeyError or TypeError from inside pandas
        "submission's Id is missing on 1 rows": good.assign(Id=[1.0, math.nan, 3.0]),
        "submission's Id must be integers, got dtype": good.assign(Id=["1", "2", "3"]),
        "submission's Id must be whole numbers": good.assign(Id=[1.0, 2.5, 3.0]),
        "Sales must be numbers, got dtype": good.assign(Sales=["5", "0", "7"]),
        "Sales must be numbers, got dtype bool": good.assign(Sales=[True, False, True]),
        "Sales must be finite": good.assign(Sales=pd.array([5.0, None, 7.0], dtype="Float64")),
        ">= 0": good.assign(Sales=[5.0, 0.0, -1.0]),
    }
    for message, sub in bad.items():
        with pytest.raises(ValueError, match=re.escape(message)):
            rx.check_submission(sub, test)
    with pytest.raises(ValueError, match=re.escape("no column(s) ['Open']")):
        rx.check_submission(good, test.drop(columns="Open"))
    with pytest.raises(ValueError, match="test set's Id is missing"):
        rx.check_submission(good, test.assign(Id=[1.0, 2.0, math.nan]))
    with pytest.raises(TypeError, match="submission must be a pandas DataFrame"):
        rx.check_submission(good.to_dict(), test)


def test_a_short_run_and_its_submission(frame):  # noqa: F811 (the fixture)
    preset = replace(rx.EXPERIMENTS[0].preset("cpu"), sample=0.05, epochs=1)
    result = rx.train_rossmann(preset, frame)
    assert result.valid_rmspe < 0.25
    assert result.history["valid_exp_rmspe"].iloc[-1] == pytest.approx(result.valid_rmspe, rel=1e-3)
    sub = rx.submission(result.learner, result.split)
    rx.check_submission(sub, result.split.test)
    assert len(sub) == 41_088 and (sub["Sales"] == 0).sum() == 5_984
