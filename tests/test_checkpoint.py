"""Checkpoints: written atomically, checked before anything is loaded, and only tensors read."""

from __future__ import annotations

import os
import pickle
import random

import pytest
import torch
from torch import nn

from lesson6lib import checkpoint, optim
from lesson6lib.checkpoint import CheckpointError
from lesson6lib.learner import Learner


def learner(width: int = 4, opt: str = "adam") -> Learner:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, width), nn.ReLU(), nn.Linear(width, 1))
    make = {"adam": optim.Adam, "sgd": lambda p: optim.SGD(p, lr=0.1, momentum=0.9)}[opt]
    x, y = torch.randn(32, 3), torch.randn(32, 1)
    return Learner(
        model, [(x, y)], nn.functional.mse_loss, make(model.parameters()), progress=False
    )


def snapshot(learn: Learner) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in learn.model.state_dict().items()}


def unchanged(learn: Learner, before: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(before[k], v) for k, v in learn.model.state_dict().items())


def test_a_save_killed_mid_write_leaves_the_old_checkpoint_loadable(tmp_path, monkeypatch):
    learn = learner()
    learn.fit(1)
    path = learn.save(tmp_path / "model.pt")
    good = path.read_bytes()

    def killed(obj, f, *args, **kwargs):
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        learn.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"], "a temporary file was left"
    learner().load(path)


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (lambda: learner(width=5), r"0\.weight has shape \(4, 3\) in the file and \(5, 3\)"),
        (lambda: learner(opt="sgd"), "holds the state of a Adam optimizer"),
    ],
)
def test_a_mismatched_load_leaves_the_model_untouched(tmp_path, other, message):
    path = learner().save(tmp_path / "model.pt")
    target = other()
    before = snapshot(target)
    with pytest.raises(CheckpointError, match=message):
        target.load(path)
    assert unchanged(target, before)


def test_extra_or_missing_layers_and_missing_optimizer(tmp_path):
    learn = learner()
    state = {"model": learn.model.state_dict() | {"3.weight": torch.zeros(1)}}
    torch.save(state, tmp_path / "extra.pt")
    before = snapshot(learn)
    with pytest.raises(CheckpointError, match=r"unexpected \['3.weight'\]"):
        learn.load(tmp_path / "extra.pt")
    assert unchanged(learn, before)
    torch.save({"model": learn.model.state_dict()}, tmp_path / "no-opt.pt")
    with pytest.raises(CheckpointError, match="no optimizer state"):
        learn.load(tmp_path / "no-opt.pt")
    learn.load(tmp_path / "no-opt.pt", with_optimizer=False)  # the model alone loads


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_garbage_and_code_are_refused_with_one_clear_error(tmp_path):
    garbage = tmp_path / "garbage.pt"
    rng = random.Random(0)
    for _ in range(300):  # random bytes fail inside torch.load in many ways, KeyError included
        garbage.write_bytes(rng.randbytes(rng.randint(1, 400)))
        with pytest.raises(CheckpointError, match="is not a checkpoint written by Learner.save"):
            learner().load(garbage)

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"model": Evil()}))
    with pytest.raises(CheckpointError) as err:
        learner().load(evil)
    assert "weights_only=False" not in str(err.value)
    assert not marker.exists()
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        learner().load(tmp_path / "missing.pt")


def test_save_load_functions_round_trip_across_devices_by_map_location(tmp_path):
    learn = learner()
    learn.fit(1)
    path = checkpoint.save(tmp_path / "sub" / "m.pt", learn.model, learn.optimizer)
    other = learner()
    checkpoint.load(path, other.model, other.optimizer, device="cpu")
    x = torch.randn(4, 3)
    assert torch.equal(learn.predict(x), other.predict(x))
