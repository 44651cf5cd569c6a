"""Saving and loading a model and its optimizer, safely.

- :func:`save` writes to a temporary file beside the target and renames it into place, so a run
  killed mid-write leaves the previous checkpoint whole.
- :func:`load` unpickles tensors only (``weights_only=True``: a file cannot run code), maps them
  onto the requested device, and checks the whole file against the model and optimizer *before*
  changing either: a mismatch raises one error naming the file and leaves both untouched.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.optim import Optimizer

from lesson6lib.data.files import write_atomically

__all__ = ["CheckpointError", "load", "save"]


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded into this model or optimizer."""


def save(path: str | Path, model: nn.Module, optimizer: Optimizer) -> Path:
    """Write ``{"model", "optimizer", "optimizer_class"}`` (state dicts: tensors, numbers and
    names) to ``path`` atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "optimizer_class": type(optimizer).__name__,
    }
    return write_atomically(path, lambda tmp: torch.save(state, tmp))


def _read(path: Path, device: torch.device | str) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # bytes that are no checkpoint fail in many ways (KeyError too)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{path} is not a checkpoint written by Learner.save (or it is truncated): {first}"
        ) from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} was not written by Learner.save: it holds no 'model' state")
    return state


def _check_model(path: Path, model: nn.Module, saved: dict) -> None:
    own = model.state_dict()
    missing = sorted(own.keys() - saved.keys())
    extra = sorted(saved.keys() - own.keys())
    if missing or extra:
        raise CheckpointError(
            f"{path} does not fit this model: missing {missing[:5] or 'none'}, "
            f"unexpected {extra[:5] or 'none'}"
        )
    for name, tensor in own.items():
        if tuple(saved[name].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{path} does not fit this model: {name} has shape {tuple(saved[name].shape)} "
                f"in the file and {tuple(tensor.shape)} in the model"
            )


def _check_optimizer(path: Path, optimizer: Optimizer, state: dict) -> None:
    if "optimizer" not in state:
        raise CheckpointError(f"{path} holds no optimizer state; load it with with_optimizer=False")
    kind = state.get("optimizer_class", type(optimizer).__name__)
    if kind != type(optimizer).__name__:
        raise CheckpointError(
            f"{path} holds the state of a {kind} optimizer, this learner has a "
            f"{type(optimizer).__name__}"
        )
    saved = state["optimizer"].get("param_groups", [])
    sizes = [len(g["params"]) for g in saved]
    own = [len(g["params"]) for g in optimizer.param_groups]
    if sizes != own:
        raise CheckpointError(
            f"{path} has parameter groups of {sizes} tensors, this optimizer {own}"
        )


def load(
    path: str | Path,
    model: nn.Module,
    optimizer: Optimizer | None = None,
    device: torch.device | str = "cpu",
) -> None:
    """Load what :func:`save` wrote into ``model`` (and ``optimizer``, unless None), after
    checking that every tensor's name and shape fits and that the optimizer is of the same kind
    with the same groups. Raises :class:`CheckpointError` and changes nothing otherwise."""
    path = Path(path)
    state = _read(path, device)
    _check_model(path, model, state["model"])
    if optimizer is not None:
        _check_optimizer(path, optimizer, state)
    model.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
