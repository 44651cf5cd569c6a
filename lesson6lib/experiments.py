"""The runs the pages make, as functions of a preset: ``"cpu"`` (small, for the site build) or
``"full"`` (the full-size version, for a GPU or a patient CPU). A page and the command line
(``python -m lesson6lib run NAME --preset full --device cuda``) call the same functions.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from importlib import resources

import numpy as np
import pandas as pd
import torch
from torch import nn

from lesson6lib import optim, schedules
from lesson6lib.collab import CollabData, EmbeddingDot, EmbeddingDotBias, EmbeddingNet, collab_data
from lesson6lib.data import movielens
from lesson6lib.learner import Learner, Recorder
from lesson6lib.runtime import get_device, seed_everything

__all__ = [
    "CollabPreset",
    "GridPreset",
    "LinePreset",
    "PRESETS",
    "fit_line",
    "load_reference",
    "make_line",
    "train_collab",
    "weight_decay_grid",
]


# --- SGD from scratch: a line --------------------------------------------------------------


@dataclass(frozen=True)
class LinePreset:
    """Fitting y = a x + b to noisy points by full-batch gradient descent."""

    n_points: int = 10_000
    a: float = 3.0
    b: float = 8.0
    noise_std: float = 0.3
    lr: float = 0.1
    steps: int = 1_000
    seed: int = 0


def make_line(
    preset: LinePreset, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ U(0, 1) and y = a x + b + noise, noise ~ N(0, noise_std^2)."""
    gen = torch.Generator().manual_seed(preset.seed)
    x = torch.rand(preset.n_points, generator=gen)
    y = preset.a * x + preset.b + preset.noise_std * torch.randn(preset.n_points, generator=gen)
    return x.to(device), y.to(device)


def fit_line(preset: LinePreset, device: str | torch.device | None = None) -> dict[str, float]:
    """Gradient descent on (a, b) from a random start with :class:`lesson6lib.optim.SGD`;
    returns the fitted a and b, the final MSE, the noise floor and the time taken."""
    device = get_device(device)
    x, y = make_line(preset, device)
    seed_everything(preset.seed)
    a, b = torch.randn(2, device=device).unbind()
    a, b = a.clone().requires_grad_(), b.clone().requires_grad_()
    opt = optim.SGD([a, b], lr=preset.lr)
    start = time.perf_counter()
    for _ in range(preset.steps):
        loss = ((a * x + b - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        final = ((a * x + b - y) ** 2).mean().item()
        floor = ((preset.a * x + preset.b - y) ** 2).mean().item()
    return {"a": a.item(), "b": b.item(), "mse": final, "noise_mse": floor, "seconds": seconds}


# --- MovieLens: one model, and a weight-decay grid ------------------------------------------


@dataclass(frozen=True)
class CollabPreset:
    """Training one collaborative-filtering model on MovieLens ml-latest-small."""

    release: str = "2016"
    model: str = "dotbias"  # "dot", "dotbias" or "net"
    n_factors: int = 50
    epochs: int = 5
    batch_size: int = 1024
    lr: float = 3e-2
    weight_decay: float = 3e-4
    decouple_wd: bool = False  # False: Adam with L2; True: AdamW
    schedule: str = "1cycle"  # or "constant"
    valid_pct: float = 0.2
    seed: int = 42


def _model(preset: CollabPreset, data: CollabData) -> nn.Module:
    n_users, n_items = data.users.n_codes, data.items.n_codes
    if preset.model == "dot":
        return EmbeddingDot(n_users, n_items, preset.n_factors)
    if preset.model == "dotbias":
        return EmbeddingDotBias(n_users, n_items, preset.n_factors, data.y_range)
    if preset.model == "net":
        return EmbeddingNet(n_users, n_items, preset.n_factors, y_range=data.y_range)
    raise ValueError(f"model must be 'dot', 'dotbias' or 'net', got {preset.model!r}")


def collab_learner(
    preset: CollabPreset,
    ratings: pd.DataFrame | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> tuple[Learner, CollabData]:
    """Data, model (seeded) and an Adam optimizer (L2 or decoupled) set up per ``preset``."""
    ratings = movielens.load_ratings(preset.release) if ratings is None else ratings
    data = collab_data(
        ratings, valid_pct=preset.valid_pct, seed=preset.seed, batch_size=preset.batch_size
    )
    seed_everything(preset.seed)
    model = _model(preset, data)
    opt = optim.Adam(
        model.parameters(),
        lr=preset.lr,
        weight_decay=preset.weight_decay,
        decouple_wd=preset.decouple_wd,
    )
    learn = Learner(
        model,
        data.train,
        nn.functional.mse_loss,
        opt,
        valid_dl=data.valid,
        device=device,
        progress=progress,
    )
    return learn, data


def train_collab(
    preset: CollabPreset,
    ratings: pd.DataFrame | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> dict:
    """Train per ``preset``; return the validation MSE, the history, the batch losses and the
    wall time."""
    learn, data = collab_learner(preset, ratings, device, progress)
    recorder = Recorder()
    learn.callbacks.append(recorder)
    scheduler = None
    if preset.schedule == "1cycle":
        total = preset.epochs * len(data.train)
        scheduler = schedules.OneCycle(learn.optimizer, preset.lr, total)
    elif preset.schedule != "constant":
        raise ValueError(f"schedule must be '1cycle' or 'constant', got {preset.schedule!r}")
    start = time.perf_counter()
    history = learn.fit(preset.epochs, scheduler=scheduler)
    return {
        "valid_mse": float(history["valid_loss"].iloc[-1]),
        "history": history,
        "batch_losses": recorder.losses,
        "seconds": time.perf_counter() - start,
        "learner": learn,
    }


@dataclass(frozen=True)
class GridPreset:
    """Adam with L2 against AdamW, over a grid of learning rates and weight decays."""

    base: CollabPreset = field(default_factory=CollabPreset)
    lrs: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2)
    l2: tuple[float, ...] = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3)
    decoupled: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0)
    seeds: tuple[int, ...] = (42,)


def weight_decay_grid(preset: GridPreset, device: str | torch.device | None = None) -> pd.DataFrame:
    """One row per (method, lr, weight decay, seed): the validation MSE after training."""
    ratings = movielens.load_ratings(preset.base.release)
    rows = []
    for decouple, wds in ((False, preset.l2), (True, preset.decoupled)):
        for lr in preset.lrs:
            for wd in wds:
                for seed in preset.seeds:
                    run = replace(
                        preset.base, lr=lr, weight_decay=wd, decouple_wd=decouple, seed=seed
                    )
                    result = train_collab(run, ratings, device)
                    rows.append(
                        {
                            "method": "AdamW" if decouple else "Adam + L2",
                            "lr": lr,
                            "weight_decay": wd,
                            "seed": seed,
                            "valid_mse": result["valid_mse"],
                            "seconds": result["seconds"],
                        }
                    )
    return pd.DataFrame(rows)


PRESETS: dict[str, dict[str, object]] = {
    "sgd": {"cpu": LinePreset(), "full": LinePreset(n_points=1_000_000, steps=10_000)},
    "collab": {
        "cpu": CollabPreset(),
        "full": CollabPreset(epochs=10, batch_size=256, lr=1e-2, weight_decay=1e-4),
    },
    "wd-grid": {
        "cpu": GridPreset(),
        "full": GridPreset(
            lrs=tuple(float(v) for v in np.geomspace(1e-3, 1e-1, 7)),
            l2=tuple(float(v) for v in np.geomspace(1e-6, 1e-2, 9)),
            decoupled=tuple(float(v) for v in np.geomspace(1e-2, 10, 7)),
            seeds=(42, 43, 44),
        ),
    },
}


def describe(preset) -> dict:
    """A preset's settings as a flat dict (for printing)."""
    return asdict(preset)


def load_reference(name: str) -> dict:
    """Numbers measured once by a benchmark (``nox -s bench``) and shipped with the package, for
    the pages to show: ``lesson6lib/reference/<name>.json``."""
    folder = resources.files("lesson6lib") / "reference"
    path = folder / f"{name}.json"
    if not path.is_file():
        known = sorted(
            p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")
        )
        raise ValueError(f"no reference results named {name!r}; there are {known}")
    return json.loads(path.read_text(encoding="utf-8"))
