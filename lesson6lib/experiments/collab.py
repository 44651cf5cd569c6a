"""MovieLens: one collaborative-filtering model, and Adam with L2 against AdamW over a grid of
learning rates and weight decays (the optimizers page)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch import nn

from lesson6lib import optim, schedules
from lesson6lib.callbacks import Recorder
from lesson6lib.collab import CollabData, collab_data, make_model
from lesson6lib.data import movielens
from lesson6lib.experiments.base import Experiment, Preset, RunResult
from lesson6lib.learner import Learner
from lesson6lib.runtime import seed_everything

__all__ = [
    "EXPERIMENTS",
    "CollabPreset",
    "CollabResult",
    "GridPreset",
    "GridResult",
    "collab_learner",
    "train_collab",
    "weight_decay_grid",
]


@dataclass(frozen=True)
class CollabPreset(Preset):
    """Training one collaborative-filtering model on MovieLens ml-latest-small."""

    release: Literal["2016", "2018"] = "2016"
    model: Literal["dot", "dotbias", "net"] = "dotbias"
    n_factors: int = 50
    epochs: int = 5
    batch_size: int = 1024
    lr: float = 3e-2
    weight_decay: float = 3e-4
    decouple_wd: bool = False  # False: Adam with L2; True: AdamW
    schedule: Literal["1cycle", "constant"] = "1cycle"
    valid_frac: float = 0.2
    seed: int = 42

    def check(self) -> None:
        self.positive("n_factors", "epochs", "batch_size", "lr")
        self.fraction("valid_frac")
        if self.weight_decay < 0:
            raise ValueError(f"{self._field('weight_decay')} must be >= 0; got {self.weight_decay}")


@dataclass
class CollabResult(RunResult):
    """``value`` is the validation MSE; ``batch_losses`` every training batch's loss; ``data``
    the split, encoded and batched."""

    batch_losses: list[float] = field(default_factory=list, repr=False)
    data: CollabData | None = field(default=None, repr=False)


def collab_learner(
    preset: CollabPreset,
    ratings: pd.DataFrame | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> tuple[Learner, CollabData]:
    """Data, model and an Adam optimizer (L2 or decoupled) set up per ``preset``. It draws the
    model's initial weights from torch's global generator and does not seed it: seed first
    (``seed_everything(preset.seed)``) for the run's numbers, as :func:`train_collab` does."""
    ratings = movielens.load_ratings(preset.release) if ratings is None else ratings
    data = collab_data(
        ratings, valid_frac=preset.valid_frac, seed=preset.seed, batch_size=preset.batch_size
    )
    model = make_model(preset.model, data, preset.n_factors)
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
) -> CollabResult:
    """Seed, build and train per ``preset``; the metric is the validation MSE."""
    seed_everything(preset.seed)
    learn, data = collab_learner(preset, ratings, device, progress)
    recorder = Recorder()
    learn.callbacks.append(recorder)
    scheduler = None
    if preset.schedule == "1cycle":
        total = preset.epochs * len(data.train)
        scheduler = schedules.OneCycle(learn.optimizer, preset.lr, total)
    start = time.perf_counter()
    history = learn.fit(preset.epochs, scheduler=scheduler)
    return CollabResult(
        "valid_mse",
        float(history["valid_loss"].iloc[-1]),
        time.perf_counter() - start,
        history=history,
        learner=learn,
        batch_losses=recorder.losses,
        data=data,
    )


@dataclass(frozen=True)
class GridPreset(Preset):
    """Adam with L2 against AdamW, over a grid of learning rates and weight decays."""

    base: CollabPreset = field(default_factory=CollabPreset)
    lrs: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2)
    l2: tuple[float, ...] = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3)
    decoupled: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0)
    seeds: tuple[int, ...] = (42,)

    def check(self) -> None:
        for name in ("lrs", "l2", "decoupled", "seeds"):
            if not getattr(self, name):
                raise ValueError(f"{self._field(name)} must hold at least one value")


@dataclass
class GridResult(RunResult):
    """``grid`` has one row per (method, lr, weight decay, seed) with its validation MSE;
    ``value`` is the lowest of them; ``runs`` how many were trained."""

    grid: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    runs: int = 0

    def table(self) -> pd.DataFrame:
        """The mean validation MSE over seeds, methods and lrs down, weight decays across."""
        means = self.grid.groupby(["method", "lr", "weight_decay"])["valid_mse"].mean()
        return means.unstack()

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"mean validation MSE over seeds": self.table()}


def weight_decay_grid(
    preset: GridPreset,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> GridResult:
    """Train one model per (method, lr, weight decay, seed) of the grid."""
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
                            "valid_mse": result.value,
                            "seconds": result.seconds,
                        }
                    )
    grid = pd.DataFrame(rows)
    return GridResult(
        "best_valid_mse",
        float(grid["valid_mse"].min()),
        float(grid["seconds"].sum()),
        grid=grid,
        runs=len(grid),
    )


def _geomspace(low: float, high: float, n: int) -> tuple[float, ...]:
    return tuple(float(v) for v in np.geomspace(low, high, n))


EXPERIMENTS = (
    Experiment(
        name="collab",
        page="collab",
        summary="one MovieLens model (EmbeddingDotBias, Adam + L2, 1cycle)",
        presets={
            "cpu": CollabPreset(),
            "full": CollabPreset(epochs=10, batch_size=256, lr=1e-2, weight_decay=1e-4),
        },
        run=train_collab,
    ),
    Experiment(
        name="wd-grid",
        page="optimizers",
        summary="Adam + L2 against AdamW over learning rates and weight decays",
        presets={
            "cpu": GridPreset(),
            "full": GridPreset(
                lrs=_geomspace(1e-3, 1e-1, 7),
                l2=_geomspace(1e-6, 1e-2, 9),
                decoupled=_geomspace(1e-2, 10, 7),
                seeds=(42, 43, 44),
            ),
        },
        run=weight_decay_grid,
    ),
)
"""The ``collab`` and ``wd-grid`` experiments, as the command line and the registry list them."""
