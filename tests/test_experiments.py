"""The experiments the pages and the command line share."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lesson6lib import experiments
from lesson6lib.__main__ import main


def test_fit_line_reaches_the_noise_floor():
    result = experiments.fit_line(experiments.PRESETS["sgd"]["cpu"])
    assert result["a"] == pytest.approx(3, abs=0.05) and result["b"] == pytest.approx(8, abs=0.05)
    assert result["mse"] <= 1.02 * 0.09
    assert result["mse"] <= result["noise_mse"] + 1e-6


def test_cli_runs_an_experiment_and_writes_json(tmp_path, capsys):
    out = tmp_path / "result.json"
    assert main(["run", "sgd", "--preset", "cpu", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["device"] == "cpu" and result["mse"] < 0.0918
    assert "Verified with torch" in capsys.readouterr().out


def test_cli_rejects_unknown_experiment():
    with pytest.raises(SystemExit):
        main(["run", "nonsense"])


def test_collab_preset_reaches_the_lesson_mse_on_2016(real_data_root, monkeypatch):
    monkeypatch.setenv("LESSON6_OFFLINE", "1")
    result = experiments.train_collab(experiments.PRESETS["collab"]["cpu"])
    assert result["valid_mse"] <= 0.765


def test_collab_preset_rejects_unknown_model_and_schedule(real_data_root):
    base = experiments.PRESETS["collab"]["cpu"]
    with pytest.raises(ValueError, match="model must be"):
        experiments.train_collab(replace(base, model="svd"))
    with pytest.raises(ValueError, match="schedule must be"):
        experiments.train_collab(replace(base, schedule="step"))
