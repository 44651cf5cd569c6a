"""The adding problem of Le, Jaitly & Hinton (arXiv:1504.00941), where identity initialisation
matters: :func:`adding_problem` makes the data, :class:`AddingRnn` reads a sequence and predicts
the sum, :func:`train_adding` trains one per :class:`AddingPreset`.

Predicting 1 for every sequence scores an MSE of 1/6 (the variance of the sum of two U(0, 1)
numbers): :data:`BASELINE_MSE`. A model beats it only by finding the two marked numbers among
``length`` steps and carrying them to the end, which is where the start state of the recurrent
matrix counts. A run seeds torch once, at its start; the model never seeds.

The paper trained nets of 100 units with SGD and gradient clipping on sequences of 150 to 400
steps, and drew an IRNN's input weights from N(0, 0.001^2). To train at page build on a CPU,
:class:`AddingPreset` defaults to sequences of 50 steps, 64 units and 512 updates of Adam (each
sequence seen once), and keeps PyTorch's input weights: with ``input_std=0.001``, or with SGD
(learning rate 0.01 or 0.1, momentum 0 or 0.9), even the IRNN stays at the baseline then.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import pandas as pd
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lesson6lib import optim
from lesson6lib.batches import TensorBatches
from lesson6lib.callbacks import Recorder
from lesson6lib.checks import check_choice, check_int, check_number
from lesson6lib.experiments.base import Preset, RunResult
from lesson6lib.learner import Learner
from lesson6lib.rnn import identity_init_
from lesson6lib.runtime import seed_everything

__all__ = [
    "BASELINE_MSE",
    "VARIANTS",
    "AddingPreset",
    "AddingResult",
    "AddingRnn",
    "adding_problem",
    "loss_curves",
    "train_adding",
    "train_variants",
    "variants_table",
]

BASELINE_MSE = 1 / 6
"""The expected MSE of always predicting 1: Var(u1 + u2) for independent u1, u2 ~ U(0, 1)."""

VARIANTS = (("relu", True), ("tanh", False), ("relu", False))
"""The nets compared, as (nonlinearity, identity_init): the IRNN, then tanh and ReLU nets with
PyTorch's default initialisation (the paper compares an LSTM too)."""

_VALID_SEED = 2**31 - 1  # the validation set's generator: the same set for every run seed


def adding_problem(n: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` sequences of the adding problem, drawn from ``generator``: x of shape
    (n, length, 2) and y of shape (n,).

    Step t of a sequence holds a number u_t ~ U(0, 1) (feature 0) and a marker m_t (feature 1).
    The marker is 1 at exactly two steps, one drawn uniformly from the first half
    (t < length // 2) and one from the second (t >= length // 2), and 0 elsewhere. The target
    is the sum of the two marked numbers, y = sum_t m_t u_t.
    """
    n = check_int("n", n)
    length = check_int("length", length, low=2)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    half = length // 2
    numbers = torch.rand(n, length, generator=generator)
    first = torch.randint(0, half, (n,), generator=generator)
    second = torch.randint(half, length, (n,), generator=generator)
    markers = torch.zeros(n, length)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return torch.stack([numbers, markers], dim=2), (numbers * markers).sum(dim=1)


class AddingRnn(nn.Module):
    """One ``nn.RNN`` layer (``tanh`` or ``relu``) over (batch, length, 2) inputs and a linear
    read-out of its last state: one predicted sum per sequence, shape (batch,). With
    ``identity_init`` the recurrent matrix starts as the identity and the biases as zero
    (:func:`lesson6lib.rnn.identity_init_`), and with ``input_std`` too the input weights are
    drawn from N(0, input_std^2); otherwise PyTorch's default initialisation,
    U(-1/sqrt(n_hidden), 1/sqrt(n_hidden)) for every weight."""

    def __init__(
        self,
        n_hidden: int = 100,
        nonlinearity: str = "relu",
        identity_init: bool = False,
        input_std: float | None = None,
    ) -> None:
        super().__init__()
        check_int("n_hidden", n_hidden)
        check_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
        if not isinstance(identity_init, bool):
            raise TypeError(f"identity_init must be a bool, got {identity_init!r}")
        self.rnn = nn.RNN(2, n_hidden, nonlinearity=nonlinearity, batch_first=True)
        self.l_out = nn.Linear(n_hidden, 1)
        if identity_init:
            identity_init_(self.rnn, input_std=input_std)
        elif input_std is not None:
            raise ValueError("input_std applies with identity_init=True only")

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[2] != 2:
            raise ValueError(f"AddingRnn takes (batch, length, 2) inputs, got {tuple(x.shape)}")
        _, h = self.rnn(x)  # h: (1, batch, n_hidden), the state after the last step
        return self.l_out(h[0]).squeeze(-1)


@dataclass(frozen=True)
class AddingPreset(Preset):
    """One run on the adding problem. The training set is ``train_size`` sequences drawn once
    from a generator seeded with ``seed``; with ``epochs=1`` every batch is new to the model,
    so the training curve is itself a held-out curve. The validation set is ``valid_size``
    sequences from a fixed generator, the same for every seed and variant."""

    length: int = 50
    n_hidden: int = 64
    nonlinearity: Literal["tanh", "relu"] = "relu"
    identity_init: bool = True
    input_std: float | None = None  # with identity_init; the paper's IRNN: 0.001
    train_size: int = 16_384
    valid_size: int = 4_096
    epochs: int = 1
    batch_size: int = 32
    optimiser: Literal["adam", "sgd"] = "adam"
    lr: float = 1e-3
    momentum: float = 0.0  # for optimiser="sgd"
    clip_grad: float | None = 1.0
    seed: int = 0

    def check(self) -> None:
        self.positive("n_hidden", "train_size", "valid_size", "epochs", "batch_size", "lr")
        check_int(self._field("length"), self.length, low=2)
        check_int(self._field("seed"), self.seed, low=0)
        check_number(self._field("momentum"), self.momentum, 0.0, 1.0, high_open=True)
        if self.momentum and self.optimiser != "sgd":
            raise ValueError(
                f"{self._field('momentum')} applies to optimiser='sgd' only; got "
                f"momentum={self.momentum} with optimiser={self.optimiser!r}"
            )
        for name in ("clip_grad", "input_std"):  # None, or > 0
            if getattr(self, name) is not None:
                self.positive(name)
        if self.input_std is not None and not self.identity_init:
            raise ValueError(
                f"{self._field('input_std')} applies with identity_init=True only; got "
                f"input_std={self.input_std} with identity_init=False"
            )
        if self.batch_size > self.train_size:
            raise ValueError(
                f"{self._field('batch_size')} must be at most train_size={self.train_size}; "
                f"got {self.batch_size}"
            )

    @property
    def variant(self) -> str:
        """``"IRNN"`` (relu with identity init), else e.g. ``"tanh, default init"``."""
        if self.identity_init and self.nonlinearity == "relu":
            return "IRNN"
        return f"{self.nonlinearity}, {'identity' if self.identity_init else 'default'} init"


@dataclass(kw_only=True)
class AddingResult(RunResult):
    """A :func:`train_adding` run: ``value`` is the final validation MSE (NaN if the run
    ``diverged``), ``baseline_mse`` what predicting 1 scores on the same validation set, and
    ``batch_losses`` every training batch's MSE, for curves."""

    baseline_mse: float
    batch_losses: list[float] = field(repr=False)
    diverged: bool

    @property
    def valid_mse(self) -> float:
        """The validation MSE after training (``value``)."""
        return self.value


def _optimiser(preset: AddingPreset, model: nn.Module) -> torch.optim.Optimizer:
    if preset.optimiser == "adam":
        return optim.Adam(model.parameters(), lr=preset.lr)
    return optim.SGD(model.parameters(), lr=preset.lr, momentum=preset.momentum)


def train_adding(
    preset: AddingPreset, device: str | torch.device | None = None, progress: bool = False
) -> AddingResult:
    """Train an :class:`AddingRnn` per ``preset`` with the MSE loss (and the gradient's global
    norm clipped to ``clip_grad``) and score it on the validation set. A run whose loss becomes
    infinite or NaN stops there and reports ``diverged``."""
    if not isinstance(preset, AddingPreset):
        raise TypeError(f"preset must be an AddingPreset, got {type(preset).__name__}")
    seed_everything(preset.seed)
    x, y = adding_problem(
        preset.train_size, preset.length, torch.Generator().manual_seed(preset.seed)
    )
    xv, yv = adding_problem(
        preset.valid_size, preset.length, torch.Generator().manual_seed(_VALID_SEED)
    )
    model = AddingRnn(preset.n_hidden, preset.nonlinearity, preset.identity_init, preset.input_std)
    recorder = Recorder()
    learn = Learner(
        model,
        TensorBatches(x, y, batch_size=preset.batch_size, shuffle=True, seed=preset.seed),
        F.mse_loss,
        _optimiser(preset, model),
        TensorBatches(xv, yv, batch_size=4096),
        callbacks=[recorder],
        device=device,
        clip_grad=preset.clip_grad,
        progress=progress,
    )
    start = time.perf_counter()
    try:
        history, diverged = learn.fit(preset.epochs), False
    except FloatingPointError:
        history, diverged = learn.history_frame(), True
    value = math.nan if diverged or not len(history) else float(history["valid_loss"].iloc[-1])
    return AddingResult(
        "valid_mse",
        value,
        time.perf_counter() - start,
        history,
        learn,
        baseline_mse=F.mse_loss(torch.ones_like(yv), yv).item(),
        batch_losses=recorder.losses,
        diverged=diverged,
    )


def train_variants(
    preset: AddingPreset, seeds: Sequence[int] = (0, 1, 2), **kwargs
) -> dict[tuple[str, int], AddingResult]:
    """:func:`train_adding` for each of :data:`VARIANTS` and each seed, every other setting
    taken from ``preset``: results keyed by (``preset.variant``, seed). ``kwargs`` go to
    :func:`train_adding` (``device``, ``progress``)."""
    if not isinstance(preset, AddingPreset):
        raise TypeError(f"preset must be an AddingPreset, got {type(preset).__name__}")
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    results = {}
    for nonlinearity, identity_init in VARIANTS:
        for seed in seeds:
            std = preset.input_std if identity_init else None  # input_std needs the identity
            run = replace(
                preset,
                nonlinearity=nonlinearity,
                identity_init=identity_init,
                input_std=std,
                seed=seed,
            )
            results[run.variant, seed] = train_adding(run, **kwargs)
    return results


def variants_table(results: dict[tuple[str, int], AddingResult]) -> pd.DataFrame:
    """One row per run of :func:`train_variants`, indexed by (variant, seed): the validation
    MSE, what predicting 1 scores on the same set, whether it diverged, the wall time."""
    rows = {
        key: {
            "valid_mse": r.value,
            "baseline_mse": r.baseline_mse,
            "diverged": r.diverged,
            "seconds": r.seconds,
        }
        for key, r in results.items()
    }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=["variant", "seed"])
    return frame


def loss_curves(results: dict[tuple[str, int], AddingResult], window: int = 25) -> pd.DataFrame:
    """The training curves of :func:`train_variants`' runs, one column per (variant, seed),
    one row per step (from 1): each batch's MSE averaged with the ``window - 1`` before it
    (fewer at the start)."""
    window = check_int("window", window)
    columns = {key: pd.Series(r.batch_losses) for key, r in results.items()}
    frame = pd.DataFrame(columns).rolling(window, min_periods=1).mean()
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["variant", "seed"])
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="step")
    return frame
