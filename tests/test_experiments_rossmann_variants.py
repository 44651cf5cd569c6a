"""The rossmann-variants experiment: its preset's checks, its registration, the models of its
variants, a tiny run on a hand-made frame of a few thousand rows (the typed table, the seeds
and the record the command line writes) and bad input."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from lesson6lib import __main__ as cli
from lesson6lib import experiments
from lesson6lib import rossmann_features as rf
from lesson6lib.entity import fastai1_embedding_sizes
from lesson6lib.experiments import reference
from lesson6lib.experiments import rossmann as rx
from lesson6lib.experiments import rossmann_variants as rv
from lesson6lib.experiments.base import RunResult
from lesson6lib.runtime import seed_everything
from tests.test_rossmann_features import days

TINY = rx.RossmannPreset(hidden=(8,), dropouts=(0.0,), batch_size=64, epochs=1)


def tiny_frame() -> pd.DataFrame:
    """12 stores over 240 days (about 2,600 rows kept for training and validation), every
    categorical column a small function of the store and the day, and two test days."""
    gen = np.random.default_rng(0)
    parts = []
    for store in range(1, 13):
        opens = [0 if i % 7 == 6 else 1 for i in range(240)]
        sales = [float(1000 * store + 50 * (i % 7)) * o for i, o in enumerate(opens)]
        parts.append(days(store, "2014-02-01", opens, sales).assign(is_test=False))
        test = days(store, "2015-08-01", [1, 0]).assign(Sales=np.nan, is_test=True)
        parts.append(test.assign(Id=[2 * store, 2 * store + 1]))
    rows = pd.concat(parts, ignore_index=True)
    for k, c in enumerate(rf.CATEGORICAL):
        if c not in ("Store", "DayOfWeek"):
            rows[c] = (rows["Store"] + k) % 4
    for c in rf.CONTINUOUS:
        rows[c] = gen.normal(size=len(rows))
    return rows


@pytest.fixture(scope="module")
def tiny():
    return rv.train_variants(rv.VariantsPreset(base=TINY, seeds=(0, 1)), frame=tiny_frame())


def test_the_experiment_is_registered_with_its_page_and_presets():
    exp = experiments.get("rossmann-variants")
    assert exp.page == "inside-the-model" and exp.run is rv.train_variants
    cpu = exp.preset("cpu")
    assert cpu == rv.VariantsPreset()
    assert cpu.base == replace(rx.RossmannPreset(), sample=0.25, epochs=2)
    assert cpu.variants == rv.VARIANTS and cpu.seeds == (42, 1, 2)
    full = exp.preset("full")
    assert full.base == experiments.get("rossmann").preset("full")
    assert (full.variants, full.seeds) == (cpu.variants, cpu.seeds)


BAD_PRESETS = [
    ("base", {"base": {"epochs": 1}}),
    ("variants", {"variants": ()}),
    ("variants", {"variants": ("library", "library")}),
    ("variants", {"variants": ("batchnorm",)}),
    ("variants", {"variants": ["library"]}),
    ("seeds", {"seeds": ()}),
    ("seeds", {"seeds": (1, 1)}),
    ("seeds[1]", {"seeds": (1, -2)}),
    ("seeds[0]", {"seeds": (2**32,)}),
    ("seeds", {"seeds": (1.0,)}),
]


@pytest.mark.parametrize(("name", "kwargs"), BAD_PRESETS, ids=[str(k) for _, k in BAD_PRESETS])
def test_every_bad_preset_fails_when_built_naming_the_field(name, kwargs):
    with pytest.raises((ValueError, TypeError), match=re.escape(f"VariantsPreset.{name}")):
        rv.VariantsPreset(**kwargs)


def test_a_nested_setting_reaches_the_base_preset():
    preset = reference.apply_settings(rv.VariantsPreset(), {"base.epochs": 1, "seeds": [3]})
    assert preset.base.epochs == 1 and preset.seeds == (3,)
    with pytest.raises(ValueError, match=re.escape("RossmannPreset.sample")):
        reference.apply_settings(rv.VariantsPreset(), {"base.sample": 0})


def test_each_variant_builds_its_model(tiny):
    split = tiny_split()
    cards = split.encoder.cardinalities
    library = rv.variant_model("library", TINY, split)
    widths = rv.variant_model("fastai1-widths", TINY, split)
    normed = rv.variant_model("bn-before-relu", TINY, split)
    assert [e.embedding_dim for e in widths.embeddings] == [
        w for _, w in fastai1_embedding_sizes(cards)
    ]
    assert library.norms is None and widths.norms is None
    assert normed.norms is not None and normed.bn_before_relu
    with pytest.raises(ValueError, match="variant must be one of"):
        rv.variant_model("copy", TINY, split)


def tiny_split() -> rx.RossmannSplit:
    return rx.split_frame(tiny_frame(), TINY)


def test_a_tiny_run_returns_the_typed_table(tiny):
    assert isinstance(tiny, rv.VariantsResult) and isinstance(tiny, RunResult)
    scores = tiny.scores
    assert list(scores.columns) == ["variant", "seed", "parameters", "valid_rmspe", "seconds"]
    assert list(zip(scores["variant"], scores["seed"], strict=True)) == [
        (v, s) for v in rv.VARIANTS for s in (0, 1)
    ]
    assert scores["valid_rmspe"].between(0, math.inf).all()
    assert scores["parameters"].nunique() == 3  # three different models
    library = scores.loc[scores["variant"] == "library", "valid_rmspe"]
    assert (tiny.metric, tiny.headline) == ("mean_valid_rmspe", "library")
    assert tiny.value == pytest.approx(library.mean())
    spread = tiny.spread()
    assert list(spread.index) == list(rv.VARIANTS)
    assert spread.loc["library", "low"] == library.min()
    assert set(tiny.tables()) == {"runs", "validation RMSPE over the seeds"}
    assert len(tiny.history) == len(scores)  # one epoch per run
    assert {"variant", "seed"} <= set(tiny.history.columns)


def test_each_run_seeds_builds_then_trains_with_the_seed(tiny):
    """A run of seed s: seed, build the variant's model, then the ``rossmann`` run of the base
    preset with seed s (which seeds again) on the split of the base preset."""
    split = tiny_split()
    for seed in (0, 1):
        seed_everything(seed)
        model = rv.variant_model("library", replace(TINY, seed=seed), split)
        alone = rx.train_rossmann(replace(TINY, seed=seed), split=split, model=model)
        row = tiny.scores[(tiny.scores["variant"] == "library") & (tiny.scores["seed"] == seed)]
        assert row["valid_rmspe"].item() == alone.valid_rmspe


def test_the_headline_is_the_first_variant_without_the_library():
    preset = rv.VariantsPreset(base=TINY, variants=("bn-before-relu",), seeds=(0,))
    result = rv.train_variants(preset, frame=tiny_frame())
    assert result.headline == "bn-before-relu" and len(result.scores) == 1


def test_bad_input_is_refused():
    with pytest.raises(TypeError, match="VariantsPreset"):
        rv.train_variants(TINY, frame=tiny_frame())
    with pytest.raises(TypeError, match="VariantsPreset"):
        rv.train_variants({"seeds": (1,)}, frame=tiny_frame())


def test_the_command_line_writes_a_record(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(rf, "load_frame", tiny_frame)
    out = tmp_path / "run.json"
    settings = ["--set", "seeds=[0]", "--set", "base.epochs=1", "--set", "base.batch_size=64"]
    assert cli.main(["run", "rossmann-variants", *settings, "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    reference.check_record(record)
    assert (record["experiment"], record["metric"]) == ("rossmann-variants", "mean_valid_rmspe")
    assert record["summary"]["headline"] == "library"
    assert record["preset"]["base"]["epochs"] == 1 and record["settings"]["seeds"] == [0]
    name = reference.record_filename(record)
    assert name.startswith("run-rossmann-variants-cpu-") and name.endswith("-cpu1.json")
    assert "validation RMSPE over the seeds" in capsys.readouterr().out
