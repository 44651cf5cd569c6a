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


TEXT = "the cat sat on the mat. the dog sat on the log. " * 60


@pytest.mark.parametrize("model", ["char3", "loop", "concat", "rnn"])
@pytest.mark.parametrize("split", ["contiguous", "random"])
def test_next_char_models_learn_a_small_text(model, split):
    preset = experiments.CharPreset(
        model=model,
        cs=3 if model == "char3" else 6,
        n_hidden=32,
        train_windows=None,
        valid_chars=None,
        epochs=3,
        batch_size=64,
        lr=1e-2,
        split=split,
    )
    result = experiments.train_next_char(preset, text=TEXT)
    assert result["valid_nats"] < 2.0  # ln(vocab) is about 2.8


def test_next_char_presets_are_checked():
    with pytest.raises(ValueError, match="cs=3"):
        experiments.train_next_char(experiments.CharPreset(model="char3"), text=TEXT)
    with pytest.raises(ValueError, match="model must be one of"):
        experiments.train_next_char(experiments.CharPreset(model="lstm"), text=TEXT)
    with pytest.raises(ValueError, match="split must be"):
        experiments.train_next_char(experiments.CharPreset(split="shuffled"), text=TEXT)


@pytest.mark.parametrize("stateful", [False, True])
def test_seq_model_learns_a_small_text(stateful):
    preset = experiments.SeqPreset(
        n_hidden=32, bptt=16, batch_size=8, epochs=4, lr=1e-2, stateful=stateful
    )
    result = experiments.train_seq(preset, text=TEXT)
    assert result["valid_nats"] < 1.5 and not result["diverged"]
    assert len(result["batch_losses"]) == 4 * len(result["learner"].train_dl)


def test_identity_preset_initialises_the_rnn():
    import torch

    model = experiments.seq_model(
        experiments.SeqPreset(cell="rnn", nonlinearity="relu", identity_init=True, n_hidden=16), 10
    )
    assert torch.equal(model.rnn.weight_hh_l0, torch.eye(16))
