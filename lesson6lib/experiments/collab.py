"""MovieLens: one collaborative-filtering model, and Adam with L2 against AdamW (in PyTorch's form
and in the paper's) over a grid of learning rates and weight decays (the optimizers page)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

import numpy as np
import pandas as pd
import torch
from torch import nn

from lesson6lib import optim, schedules
from lesson6lib.callbacks import Recorder
from lesson6lib.checks import check_choice
from lesson6lib.collab import CollabData, collab_data, make_model
from lesson6lib.data import movielens
from lesson6lib.experiments.base import Experiment, Preset, RunResult
from lesson6lib.learner import Learner
from lesson6lib.runtime import seed_everything

__all__ = [
    "EXPERIMENTS",
    "METHODS",
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
    decay: optim.Decay = "lr",
) -> tuple[Learner, CollabData]:
    """Data, model and an Adam optimizer (L2 or decoupled) set up per ``preset``; ``decay``
    picks the form of a decoupled decay (see :class:`lesson6lib.optim.Adam`: ``"lr"``, PyTorch's,
    or ``"schedule"``, the paper's). It draws the model's initial weights from torch's global
    generator and does not seed it: seed first (``seed_everything(preset.seed)``) for the run's
    numbers, as :func:`train_collab` does."""
    check_choice("decay", decay, get_args(optim.Decay))
    if decay == "schedule" and not preset.decouple_wd:
        raise ValueError("decay='schedule' needs a preset with decouple_wd=True")
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
        decay=decay,
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
    decay: optim.Decay = "lr",
) -> CollabResult:
    """Seed, build and train per ``preset`` (``decay`` as in :func:`collab_learner`); the
    metric is the validation MSE."""
    seed_everything(preset.seed)
    learn, data = collab_learner(preset, ratings, device, progress, decay)
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


METHODS: dict[str, tuple[bool, optim.Decay, str]] = {
    "Adam + L2": (False, "lr", "l2"),
    "AdamW (PyTorch)": (True, "lr", "decoupled"),
    "AdamW (paper)": (True, "schedule", "paper"),
}
r"""The grid's three methods: ``decouple_wd``, the ``decay`` form, and the :class:`GridPreset`
field that holds their weight decays. L2 adds $\lambda\theta$ to the gradient; PyTorch's AdamW
shrinks the weights by $\eta\lambda$ per step ($\eta$ the lr), the paper's by
$\lambda\eta/\hat\eta$ (the schedule multiplier, 1 at the 1cycle peak)."""


@dataclass(frozen=True)
class GridPreset(Preset):
    r"""Adam with L2 against AdamW in PyTorch's form and in the paper's, over a grid of learning
    rates and weight decays (each method its own range of $\lambda$), every cell on ``seeds``."""

    base: CollabPreset = field(default_factory=lambda: CollabPreset(epochs=3, batch_size=2048))
    lrs: tuple[float, ...] = (0.03, 0.1)
    l2: tuple[float, ...] = (3e-5, 1e-4, 3e-4, 1e-3)
    decoupled: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0)
    paper: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3)
    seeds: tuple[int, ...] = (42, 43, 44)

    def check(self) -> None:
        for name in ("lrs", "l2", "decoupled", "paper", "seeds"):
            if not getattr(self, name):
                raise ValueError(f"{self._field(name)} must hold at least one value")
        if min(self.lrs) <= 0:
            raise ValueError(f"{self._field('lrs')} must hold positive values")
        for name in ("l2", "decoupled", "paper"):
            if min(getattr(self, name)) < 0:
                raise ValueError(f"{self._field(name)} must hold values >= 0")
        # Decoupled decay multiplies the weights by 1 - r wd at each step, r the peak lr
        # (PyTorch's form) or 1 (the paper's) at the peak: past r wd = 1 it flips their sign.
        if max(self.lrs) * max(self.decoupled) > 1:
            raise ValueError(f"{self._field('decoupled')} times the largest lr must be <= 1")
        if max(self.paper) > 1:
            raise ValueError(f"{self._field('paper')} must hold values <= 1")


@dataclass
class GridResult(RunResult):
    """``grid`` (and ``history``, which a run record stores) has one row per (method, lr,
    weight decay, seed) with its validation MSE; ``value`` is the lowest mean over seeds of any
    cell; ``runs`` how many were trained; ``ranges`` each method's weight decays."""

    grid: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    runs: int = 0
    ranges: dict[str, tuple[float, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_record(cls, record: dict) -> GridResult:
        """The result of a run record of the ``wd-grid`` experiment, as the command line wrote
        it (see :mod:`lesson6lib.experiments.reference`); each method's range is the weight
        decays of its runs, as the record stored them (to 10 significant digits)."""
        if record.get("experiment") != "wd-grid" or not record.get("history"):
            raise ValueError("from_record needs a wd-grid run record with its runs in 'history'")
        grid = pd.DataFrame(record["history"])
        ranges = {m: tuple(sorted(set(rows["weight_decay"]))) for m, rows in grid.groupby("method")}
        return cls(
            record["metric"], record["value"], record["wall_s"], grid, None, grid, len(grid), ranges
        )

    def cells(self) -> pd.DataFrame:
        """One row per (method, lr, weight decay): the mean validation MSE over seeds and the
        spread, max - min."""
        by = self.grid.groupby(["method", "lr", "weight_decay"], sort=False)["valid_mse"]
        return pd.DataFrame({"mean": by.mean(), "spread": by.max() - by.min()})

    def table(self) -> pd.DataFrame:
        """The mean validation MSE over seeds, methods and lrs down, weight decays across."""
        return self.cells()["mean"].unstack()

    def best(self, per_lr: bool = True) -> pd.DataFrame:
        """The cell of lowest mean per method (and lr, with ``per_lr``), with its spread and
        ``inside``: whether its weight decay lies strictly inside the method's range."""
        cells = self.cells().reset_index()
        keys = ["method", "lr"] if per_lr else ["method"]
        best = cells.loc[cells.groupby(keys, sort=False)["mean"].idxmin()].copy()
        best["inside"] = [
            min(self.ranges[m]) < wd < max(self.ranges[m])
            for m, wd in zip(best["method"], best["weight_decay"], strict=True)
        ]
        return best.set_index(keys)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "mean validation MSE over seeds": self.table(),
            "spread (max - min) over seeds": self.cells()["spread"].unstack(),
            "best weight decay per method and lr": self.best(),
        }


def weight_decay_grid(
    preset: GridPreset,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> GridResult:
    """Train one model per (method, lr, weight decay, seed) of the grid; the seed sets the
    split, the initial weights and the batch order of its run."""
    ratings = movielens.load_ratings(preset.base.release)
    rows, ranges = [], {}
    for method, (decouple, decay, name) in METHODS.items():
        ranges[method] = getattr(preset, name)
        for lr in preset.lrs:
            for wd in ranges[method]:
                for seed in preset.seeds:
                    run = replace(
                        preset.base, lr=lr, weight_decay=wd, decouple_wd=decouple, seed=seed
                    )
                    result = train_collab(run, ratings, device, decay=decay)
                    rows.append(
                        {
                            "method": method,
                            "lr": lr,
                            "weight_decay": wd,
                            "seed": seed,
                            "valid_mse": result.value,
                            "seconds": result.seconds,
                        }
                    )
    grid = pd.DataFrame(rows)
    result = GridResult("best_valid_mse", 0.0, float(grid["seconds"].sum()), grid, grid=grid)
    result.runs, result.ranges = len(grid), ranges
    result.value = float(result.cells()["mean"].min())
    return result


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
        summary="Adam + L2 against AdamW (PyTorch's and the paper's) over lrs and weight decays",
        presets={
            "cpu": GridPreset(),
            "full": GridPreset(
                base=CollabPreset(),
                lrs=(1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
                l2=_geomspace(1e-6, 1e-2, 9),
                decoupled=_geomspace(1e-3, 10, 9),
                paper=_geomspace(1e-4, 1, 9),
            ),
        },
        run=weight_decay_grid,
    ),
)
"""The ``collab`` and ``wd-grid`` experiments, as the command line and the registry list them."""
