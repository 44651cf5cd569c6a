"""The measured full-size results shipped in lesson6lib/reference/run-*.json, the run record the
command line writes, and the helpers the pages show them with."""

from __future__ import annotations

import json
import re
import shlex

import pandas as pd
import pytest

from lesson6lib import experiments
from lesson6lib.__main__ import main
from lesson6lib.experiments import reference
from tests.conftest import ROOT

RECORDS = sorted((ROOT / "lesson6lib" / "reference").glob("run-*.json"))


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


UNMEASURED = {
    "rossmann-variants": "9 runs of the rossmann full preset, about 2.4 h on one CPU thread",
}
"""Experiments whose full preset has no run record yet (their pages say so), and why."""


def test_every_experiment_has_a_measured_full_preset():
    measured = {(r["experiment"], r["preset_name"]) for r in map(_load, RECORDS)}
    for name in experiments.registry():
        if name in UNMEASURED:
            assert (name, "full") not in measured, f"{name} is measured: drop it from UNMEASURED"
            continue
        assert (name, "full") in measured, f"no run record of {name}'s full preset"


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_record_has_every_field(path):
    record = _load(path)
    reference.check_record(record)
    assert record["machine"]["threads"] >= 1 and record["machine"]["cores"] >= 1
    assert record["wall_s"] > 0
    assert re.fullmatch(r"[0-9a-f]{12}", record["preset_digest"])
    assert re.fullmatch(r"[0-9a-f]{16}", record["code_hash"])
    assert record["metric"] == record["summary"]["metric"]
    assert record["value"] == pytest.approx(record["summary"]["value"])
    assert path.name == reference.record_filename(record)


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_record_is_not_stale(path):
    """The record's preset is the registry's preset of that name, with its --set changes."""
    record = _load(path)
    exp = experiments.get(record["experiment"])
    preset = reference.apply_settings(exp.preset(record["preset_name"]), record["settings"])
    assert record["preset_digest"] == preset.digest(), (
        f"{path.name} was measured with another {record['preset_name']!r} preset of "
        f"{record['experiment']}: measure it again (see the README, 'Running on a GPU')"
    )
    assert record["preset"] == preset.as_dict()


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_record_command_repeats_the_run(path):
    record = _load(path)
    words = shlex.split(record["command"])
    assert words[:5] == ["python", "-m", "lesson6lib", "run", record["experiment"]]
    assert words[words.index("--preset") + 1] == record["preset_name"]
    sets = [words[i + 1] for i, w in enumerate(words) if w == "--set"]
    assert reference.parse_settings(sets) == record["settings"]
    assert words[words.index("--device") + 1] == record["device"]


def test_a_changed_preset_makes_a_record_stale():
    record = _load(RECORDS[0])
    preset = experiments.get(record["experiment"]).preset(record["preset_name"])
    seed_field = "seed" if hasattr(preset, "seed") else "seeds"
    changed = reference.apply_settings(preset, {seed_field: 7 if seed_field == "seed" else [7]})
    assert changed.digest() != preset.digest()


def test_cli_json_is_the_run_record(tmp_path, capsys):
    out = tmp_path / "run.json"
    code = main(["run", "sgd", "--set", "steps=3", "--set", "n_points=50", "--json", str(out)])
    assert code == 0
    record = _load(out)
    reference.check_record(record)
    assert set(record) == set(reference.RECORD_FIELDS)
    assert record["settings"] == {"steps": 3, "n_points": 50}
    assert record["preset"]["steps"] == 3
    expected = experiments.get("sgd").preset("cpu")
    assert (
        record["preset_digest"]
        == reference.apply_settings(expected, {"steps": 3, "n_points": 50}).digest()
    )
    assert record["command"] == (
        "python -m lesson6lib run sgd --preset cpu --set steps=3 --set n_points=50"
        " --device cpu --threads 1"
    )
    assert record["device"] == "cpu" and record["machine"]["threads"] == 1
    assert reference.record_filename(record) == "run-sgd-cpu-npoints50-steps3-cpu1.json"


def test_cli_history_has_one_row_per_epoch(tmp_path, capsys):
    pytest.importorskip("lesson6lib.data.movielens")
    out = tmp_path / "run.json"
    try:
        main(["run", "collab", "--set", "epochs=1", "--json", str(out)])
    except Exception as err:  # noqa: BLE001 - no MovieLens here
        pytest.skip(f"MovieLens is not available: {err}")
    record = _load(out)
    assert len(record["history"]) == 1 and "valid_loss" in record["history"][0]


@pytest.mark.parametrize(
    "items, message",
    [
        (["epochs"], "field=value"),
        (["nope=1"], "has no field 'nope'"),
        (["epochs=0"], "epochs"),
        (["model='svd'"], "model"),
    ],
)
def test_set_is_checked_by_the_preset(items, message):
    preset = experiments.get("collab").preset("full")
    with pytest.raises(ValueError, match=message):
        reference.apply_settings(preset, reference.parse_settings(items))


def test_set_reaches_nested_presets_and_makes_tuples():
    grid = experiments.get("wd-grid").preset("full")
    changed = reference.apply_settings(
        grid, reference.parse_settings(["base.epochs=1", "seeds=[42]", "lrs=[0.01, 0.1]"])
    )
    assert changed.base.epochs == 1 and changed.seeds == (42,) and changed.lrs == (0.01, 0.1)
    assert changed.base.n_factors == grid.base.n_factors


def test_cli_rejects_a_bad_set_before_running():
    with pytest.raises(SystemExit, match="has no field"):
        main(["run", "sgd", "--set", "stepz=3"])


def test_code_hash_follows_the_code(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("y = 2\n")
    first = reference.code_hash(tmp_path)
    assert reference.code_hash(tmp_path) == first
    (tmp_path / "sub" / "b.py").write_text("y = 3\n")
    assert reference.code_hash(tmp_path) != first


def test_check_record_names_what_is_wrong():
    record = _load(RECORDS[0])
    with pytest.raises(ValueError, match="'date'"):
        reference.check_record({k: v for k, v in record.items() if k != "date"})
    with pytest.raises(ValueError, match="'value'"):
        reference.check_record(record | {"value": "0.1"})


@pytest.mark.parametrize("name", list(experiments.registry()))
def test_reference_table_for_every_experiment(name):
    table = experiments.reference_table(name)
    assert isinstance(table, pd.DataFrame) and len(table) >= (name not in UNMEASURED)
    assert list(table.columns) == ["metric", "value", "machine", "wall time", "torch", "date"]
    assert table.index.name == "run"


def test_reference_table_rejects_unknown_names():
    with pytest.raises(ValueError, match="no experiment named"):
        experiments.reference_table("nope")


def test_gpu_command_is_a_copyable_code_block():
    command = experiments.gpu_command("rossmann")
    assert repr(command) == (
        "python -m lesson6lib run rossmann --preset full --device cuda --json rossmann-full.json"
    )
    html = command._repr_html_()
    assert '<div class="highlight"><pre>' in html and "<code>" in html
    with pytest.raises(ValueError, match="presets"):
        experiments.gpu_command("rossmann", preset="huge")
