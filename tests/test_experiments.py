"""The experiments the pages and the command line share: the registry, presets that check
themselves, typed results, and the command line over the registry."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from typing import Literal

import pytest
import torch

from lesson6lib import experiments
from lesson6lib.__main__ import main
from lesson6lib.experiments import Preset
from lesson6lib.experiments.collab import (
    CollabPreset,
    CollabResult,
    GridPreset,
    collab_learner,
    train_collab,
)
from lesson6lib.experiments.line import LinePreset, LineResult


def test_registry_holds_every_experiment_with_a_cpu_and_a_full_preset():
    names = set(experiments.registry())
    assert {"sgd", "collab", "wd-grid", "rossmann", "char-rnn"} <= names
    for exp in experiments.registry().values():
        assert {"cpu", "full"} <= set(exp.presets), exp.name
        assert all(isinstance(p, Preset) for p in exp.presets.values())
    with pytest.raises(ValueError, match="no experiment named 'nope'; there are"):
        experiments.get("nope")
    with pytest.raises(ValueError, match="has presets cpu, full; got 'huge'"):
        experiments.get("sgd").preset("huge")


def _bad_values(preset: Preset):
    """For every field, a value of the wrong type or outside its choices."""
    import typing

    hints = typing.get_type_hints(type(preset))
    for f in fields(preset):
        hint = hints[f.name]
        if typing.get_origin(hint) is Literal:
            yield f.name, "no-such-choice"
        else:
            yield f.name, object()


PRESET_CLASSES = sorted(
    {type(p) for exp in experiments.registry().values() for p in exp.presets.values()},
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("cls", PRESET_CLASSES, ids=lambda c: c.__name__)
def test_every_preset_class_refuses_a_wrong_value_at_construction(cls):
    preset = cls()
    for name, bad in _bad_values(preset):
        with pytest.raises(ValueError, match=rf"{cls.__name__}\.{name} must be"):
            replace(preset, **{name: bad})


def test_a_choice_error_lists_the_allowed_values():
    with pytest.raises(ValueError, match=r"CollabPreset\.model must be one of 'dot', 'dotbias'"):
        CollabPreset(model="dotbais")
    with pytest.raises(ValueError, match=r"CollabPreset\.epochs must be a positive integer"):
        CollabPreset(epochs=0)
    with pytest.raises(ValueError, match=r"CollabPreset\.valid_frac must be in \(0, 1\)"):
        CollabPreset(valid_frac=1.0)
    with pytest.raises(ValueError, match=r"CollabPreset\.lr must be a finite"):
        CollabPreset(lr=float("nan"))
    with pytest.raises(ValueError, match=r"LinePreset\.steps must be of type int; got 10.0"):
        LinePreset(steps=10.0)
    with pytest.raises(ValueError, match=r"GridPreset\.seeds must hold at least one"):
        GridPreset(seeds=())


def test_preset_digest_and_dict():
    a, b = CollabPreset(), CollabPreset(lr=1e-2)
    assert a.digest() == CollabPreset().digest() != b.digest()
    assert a.as_dict()["model"] == "dotbias"


@dataclass(frozen=True)
class _Toy(Preset):
    kind: Literal["a", "b"] = "a"
    size: int | None = None
    widths: tuple[int, ...] = (1, 2)


def test_preset_types_cover_optional_and_tuples():
    assert _Toy(size=None).size is None and _Toy(size=3).size == 3
    with pytest.raises(ValueError, match=r"_Toy\.widths must be of type"):
        _Toy(widths=(1, 2.5))
    with pytest.raises(ValueError, match=r"_Toy\.size must be of type"):
        _Toy(size=True)


def test_fit_line_reaches_the_noise_floor():
    result = experiments.get("sgd")("cpu")
    assert isinstance(result, LineResult) and result.metric == "mse"
    assert result.a == pytest.approx(3, abs=0.05) and result.b == pytest.approx(8, abs=0.05)
    assert result.value <= 1.02 * 0.09
    assert result.value <= result.noise_mse + 1e-6


def test_a_factory_does_not_reseed_the_callers_random_state(real_data_root):
    preset = replace(CollabPreset(), epochs=1)
    after = []
    for seed in (123, 999):
        torch.manual_seed(seed)
        collab_learner(preset)
        after.append(torch.rand(1).item())
    assert after[0] != after[1], "collab_learner reseeded torch's global generator"


def test_collab_preset_reaches_the_lesson_mse_on_2016(real_data_root):
    result = train_collab(CollabPreset())
    assert isinstance(result, CollabResult) and result.metric == "valid_mse"
    assert result.value <= 0.765
    assert len(result.batch_losses) == 5 * len(result.data.train)


def test_same_preset_same_numbers(real_data_root):
    preset = replace(CollabPreset(), epochs=1)
    assert train_collab(preset).value == train_collab(preset).value


def test_cli_runs_an_experiment_and_writes_json(tmp_path, capsys):
    out = tmp_path / "result.json"
    assert main(["run", "sgd", "--preset", "cpu", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["device"] == "cpu" and result["value"] < 0.0918 and result["metric"] == "mse"
    assert result["preset"]["steps"] == 1000 and result["preset_digest"] == LinePreset().digest()
    assert "Verified with torch" in capsys.readouterr().out


def test_cli_checks_the_json_path_before_running(tmp_path, monkeypatch):
    import lesson6lib.__main__ as cli

    ran = []
    monkeypatch.setattr(cli, "setup_page", lambda *a, **k: ran.append(1))
    with pytest.raises(SystemExit, match="does not exist"):
        main(["run", "sgd", "--json", str(tmp_path / "missing" / "out.json")])
    with pytest.raises(SystemExit, match="is a folder"):
        main(["run", "sgd", "--json", str(tmp_path)])
    assert not ran


def test_cli_honours_lesson6_device(monkeypatch):
    monkeypatch.setenv("LESSON6_DEVICE", "cuda:7")
    with pytest.raises((RuntimeError, ValueError), match="cuda:7"):
        main(["run", "sgd"])


def test_cli_rejects_unknown_experiment_and_preset(capsys):
    with pytest.raises(SystemExit):
        main(["run", "nonsense"])
    with pytest.raises(SystemExit, match="has presets"):
        main(["run", "sgd", "--preset", "huge"])


def test_cli_help_lists_experiments_and_presets(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for name in experiments.registry():
        assert name in out
    assert "cpu, full" in out


def test_load_reference_reads_shipped_results_and_never_a_path():
    assert "rows" in experiments.load_reference("collab_baselines")
    for bad in ("../pyproject", "/etc/passwd", "collab_baselines.json", "", "a/b"):
        with pytest.raises(ValueError, match="a reference name is letters, digits"):
            experiments.load_reference(bad)
    with pytest.raises(ValueError, match="no reference results named 'nothing'"):
        experiments.load_reference("nothing")
