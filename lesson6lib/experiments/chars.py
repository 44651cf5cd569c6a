"""Recurrent models with a prediction after every character, on Nietzsche, as run by the
``rnn-more`` page and the command line (``EXPERIMENTS``): :func:`train_seq`. Scores are
validation nats per character; a run seeds torch once, at its start, and the model factory
:func:`seq_model` never seeds. (Models that predict one next character from a window:
:mod:`lesson6lib.experiments.next_char`.)"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import pandas as pd
import torch

from lesson6lib import optim, rnn, schedules
from lesson6lib.batches import StreamBatches, TensorBatches
from lesson6lib.callbacks import Callback, Recorder, ResetState
from lesson6lib.checks import check_int, check_number
from lesson6lib.data import nietzsche
from lesson6lib.experiments.base import Experiment, Preset, RunResult
from lesson6lib.learner import Learner
from lesson6lib.runtime import seed_everything
from lesson6lib.text import Vocab, contiguous_split, seq_windows

__all__ = [
    "EXPERIMENTS",
    "LESSON_SEQ",
    "SeqPreset",
    "SeqResult",
    "seq_model",
    "train_seq",
]


@dataclass(frozen=True)
class SeqPreset(Preset):
    """A recurrent model with an output after every character. ``stateful``: ``batch_size``
    streams of text, the state carried across batches; else shuffled sequences from zeros."""

    cell: Literal["rnn", "gru", "lstm"] = "gru"
    n_layers: int = 1
    n_hidden: int = 256
    n_factors: int = 42
    nonlinearity: Literal["tanh", "relu"] = "tanh"  # for cell="rnn"
    identity_init: bool = False  # for cell="rnn"
    stateful: bool = False
    bptt: int = 64
    batch_size: int = 64
    epochs: int = 2
    lr: float = 3e-3
    weight_decay: float = 0.01  # decoupled (AdamW)
    dropout: float = 0.0
    clip_grad: float | None = 1.0
    schedule: Literal["1cycle", "constant"] = "1cycle"
    valid_frac: float = 0.1
    seed: int = 0

    def check(self) -> None:
        self.positive("n_layers", "n_hidden", "n_factors", "bptt", "batch_size", "epochs", "lr")
        check_number(self._field("weight_decay"), self.weight_decay, 0.0)
        check_number(self._field("dropout"), self.dropout, 0.0, 1.0, high_open=True)
        if self.clip_grad is not None:
            self.positive("clip_grad")
        self.fraction("valid_frac")
        check_int(self._field("seed"), self.seed, low=0)
        if self.cell != "rnn" and self.nonlinearity != "tanh":
            raise ValueError(
                f"{self._field('nonlinearity')} applies to cell='rnn' only; got "
                f"nonlinearity={self.nonlinearity!r} with cell={self.cell!r}"
            )
        if self.identity_init and self.cell != "rnn":
            raise ValueError(
                f"{self._field('identity_init')} needs cell='rnn' (a plain RNN's recurrent "
                f"matrix); got cell={self.cell!r}"
            )


@dataclass(kw_only=True)
class _TextResult(RunResult):
    vocab: Vocab = field(repr=False)

    @property
    def valid_nats(self) -> float:
        """The validation loss in nats per character (``value``)."""
        return self.value

    @classmethod
    def of(cls, learn: Learner, history: pd.DataFrame, start: float, **fields):
        """The result of a run that trained ``learn`` from ``start`` (``time.perf_counter()``)
        to now: the last validation loss is its value."""
        value = float(history["valid_loss"].iloc[-1]) if len(history) else math.nan
        seconds = time.perf_counter() - start
        return cls("valid_nats", value, seconds, history, learn, **fields)


@dataclass(kw_only=True)
class SeqResult(_TextResult):
    """A :func:`train_seq` run: ``batch_losses`` has every training batch's loss; ``diverged``
    says a loss became infinite or NaN and stopped the run (in epoch 1: ``value`` is NaN)."""

    batch_losses: list[float] = field(repr=False)
    diverged: bool


def _check_preset(preset: object, kind: type[Preset]) -> None:
    if not isinstance(preset, kind):
        raise TypeError(f"preset must be a {kind.__name__}, got {type(preset).__name__}")


def _encoded(text: str | None) -> tuple[Vocab, torch.Tensor]:
    text = nietzsche.load_text() if text is None else text
    vocab = Vocab(text)
    return vocab, vocab.encode(text)


def seq_model(preset: SeqPreset, vocab_size: int) -> rnn.CharSeqRnn:
    """The :class:`~lesson6lib.rnn.CharSeqRnn` a preset describes, initialised from torch's
    global generator as it stands (seeding is the caller's, once per run)."""
    _check_preset(preset, SeqPreset)
    names = ("n_factors", "n_hidden", "cell", "n_layers", "nonlinearity", "dropout")
    model = rnn.CharSeqRnn(vocab_size, **{name: getattr(preset, name) for name in names})
    if preset.identity_init:
        rnn.identity_init_(model.rnn)
    return model


def _seq_batches(preset: SeqPreset, train: torch.Tensor, valid: torch.Tensor) -> tuple:
    """Streams read in order (stateful) or shuffled sequences of ``bptt`` characters."""
    if preset.stateful:
        return tuple(StreamBatches(part, preset.batch_size, preset.bptt) for part in (train, valid))
    x, y = seq_windows(train, preset.bptt)
    return (
        TensorBatches(x, y, batch_size=preset.batch_size, shuffle=True, seed=preset.seed),
        TensorBatches(*seq_windows(valid, preset.bptt), batch_size=512),
    )


def train_seq(
    preset: SeqPreset,
    device: str | torch.device | None = None,
    progress: bool = False,
    *,
    text: str | None = None,
    callbacks: Sequence[Callback] = (),
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = rnn.seq_loss,
) -> SeqResult:
    """Train a :class:`~lesson6lib.rnn.CharSeqRnn` per ``preset`` on the first
    ``1 - valid_frac`` of ``text`` (default: Nietzsche), scored on the rest with the same
    ``loss_fn`` (default: cross-entropy over the vocabulary; the ``rnn-more`` page passes the 2018
    mistake, :func:`~lesson6lib.rnn.wrong_axis_loss`). A run whose loss becomes infinite or NaN
    stops there and reports ``diverged``. The ``char-rnn`` and ``char-seq`` experiments."""
    _check_preset(preset, SeqPreset)
    seed_everything(preset.seed)
    vocab, codes = _encoded(text)
    train_dl, valid_dl = _seq_batches(preset, *contiguous_split(codes, preset.valid_frac))
    model = seq_model(preset, len(vocab))
    opt = optim.AdamW(model.parameters(), lr=preset.lr, weight_decay=preset.weight_decay)
    recorder = Recorder()
    carry = [ResetState()] if preset.stateful else []  # the Learner carries the model's state
    total = preset.epochs * len(train_dl)
    scheduler = schedules.OneCycle(opt, preset.lr, total) if preset.schedule == "1cycle" else None
    learn = Learner(
        model,
        train_dl,
        loss_fn,
        opt,
        valid_dl,
        callbacks=[recorder, *carry, *callbacks],
        device=device,
        clip_grad=preset.clip_grad,
        progress=progress,
    )
    start = time.perf_counter()
    try:
        history, diverged = learn.fit(preset.epochs, scheduler=scheduler), False
    except FloatingPointError:
        history, diverged = learn.history_frame(), True
    losses = recorder.losses
    return SeqResult.of(learn, history, start, vocab=vocab, batch_losses=losses, diverged=diverged)


LESSON_SEQ = SeqPreset(
    cell="rnn", n_hidden=256, bptt=8, batch_size=512, epochs=4, lr=1e-2, weight_decay=0.0
)
"""The lesson's multi-output model (the ``char-seq`` experiment's ``cpu`` preset): a tanh
``nn.RNN`` of 256 units, 8 characters per sequence, every sequence from a zero state, Adam
without weight decay, 4 epochs of 1cycle peaking at 0.01."""

EXPERIMENTS = (
    Experiment(
        name="char-seq",
        page="rnn-more",
        summary="The lesson's CharSeqRnn (nn.RNN, an output after each of 8 characters): "
        "validation nats per character, last 10% of the text",
        presets={"cpu": LESSON_SEQ, "full": replace(LESSON_SEQ, epochs=12)},
        run=train_seq,
    ),
    Experiment(
        name="char-rnn",
        page="rnn-more",
        summary="A GRU writes Nietzsche: validation nats per character, last 10% of the text",
        presets={
            "cpu": SeqPreset(),
            "full": SeqPreset(
                n_layers=2,
                n_hidden=512,
                stateful=True,
                bptt=128,
                batch_size=128,
                epochs=8,
                lr=2e-3,
                dropout=0.1,
            ),
        },
        run=train_seq,
    ),
)
