"""Character models on Nietzsche, as run by the ``char-rnn`` and ``rnn-more`` pages and the command
line (``EXPERIMENTS``): :func:`train_next_char` (read ``context`` characters, predict the next one)
and :func:`train_seq` (a prediction after every character). Scores are validation nats per
character; a run seeds torch once, at its start, and the model factory :func:`seq_model` never
seeds."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
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
from lesson6lib.text import Vocab, char_windows, contiguous_split, seq_windows

__all__ = [
    "EXPERIMENTS",
    "CharPreset",
    "CharResult",
    "SeqPreset",
    "SeqResult",
    "seq_model",
    "train_next_char",
    "train_seq",
]


@dataclass(frozen=True)
class CharPreset(Preset):
    """A model that reads ``context`` characters and predicts the next one."""

    model: Literal["char3", "loop", "concat", "rnn"] = "loop"
    context: int = 8
    n_factors: int = 42
    n_hidden: int = 256
    overlapping: bool = True  # a window at every character, or every `context` characters
    split: Literal["contiguous", "random"] = "contiguous"  # random: 2018's leaky split
    train_windows: int | None = 150_000  # a seeded sample of the training windows; None: all
    text_chars: int | None = None  # use only the first so many characters of the text
    valid_chars: int | None = 20_000  # the first so many characters of the validation text
    epochs: int = 1
    batch_size: int = 512
    lr: float = 3e-3
    valid_frac: float = 0.1
    seed: int = 0

    def check(self) -> None:
        self.positive("context", "n_factors", "n_hidden", "epochs", "batch_size", "lr")
        for name in ("train_windows", "text_chars", "valid_chars"):  # None, or >= 1
            if getattr(self, name) is not None:
                self.positive(name)
        self.fraction("valid_frac")
        check_int(self._field("seed"), self.seed, low=0)
        if self.model == "char3" and self.context != 3:
            raise ValueError(
                f"{self._field('context')} must be 3 for model='char3' (it reads exactly 3 "
                f"characters); got {self.context}"
            )


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
class CharResult(_TextResult):
    """A :func:`train_next_char` run: the last epoch's ``train_nats``, the training ``windows``."""

    train_nats: float
    windows: int


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


_NEXT_CHAR_MODELS = {
    "char3": rnn.Char3Model,
    "loop": rnn.CharLoop,
    "concat": rnn.CharLoopConcat,
    "rnn": rnn.CharRnn,
}


def _next_char_windows(preset: CharPreset, codes: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """x, y for training and validation, per the preset's split; sampled with a generator of
    its own (seeded with ``preset.seed``), so the global RNG is untouched."""
    codes = codes if preset.text_chars is None else codes[: preset.text_chars]
    gen = torch.Generator().manual_seed(preset.seed)
    if preset.split == "contiguous":
        train, valid = contiguous_split(codes, preset.valid_frac)
        x, y = char_windows(train, preset.context, preset.overlapping)
        valid = valid if preset.valid_chars is None else valid[: preset.valid_chars]
        xv, yv = char_windows(valid, preset.context, overlapping=True)
    else:  # "random": windows of the whole text, shuffled, then cut (neighbours leak)
        x_all, y_all = char_windows(codes, preset.context, preset.overlapping)
        order = torch.randperm(len(x_all), generator=gen)
        n_valid = int(len(order) * preset.valid_frac)
        if preset.valid_chars is not None:
            n_valid = min(n_valid, preset.valid_chars)
        xv, yv = x_all[order[:n_valid]], y_all[order[:n_valid]]
        x, y = x_all[order[n_valid:]], y_all[order[n_valid:]]
    if preset.train_windows is not None and len(x) > preset.train_windows:
        keep = torch.randperm(len(x), generator=gen)[: preset.train_windows]
        x, y = x[keep], y[keep]
    return x, y, xv, yv


def train_next_char(
    preset: CharPreset,
    device: str | torch.device | None = None,
    progress: bool = False,
    *,
    text: str | None = None,
) -> CharResult:
    """Train a one-next-character model per ``preset`` on ``text`` (default: Nietzsche)."""
    _check_preset(preset, CharPreset)
    seed_everything(preset.seed)
    vocab, codes = _encoded(text)
    x, y, xv, yv = _next_char_windows(preset, codes)
    model = _NEXT_CHAR_MODELS[preset.model](len(vocab), preset.n_factors, preset.n_hidden)
    train_dl = TensorBatches(x, y, batch_size=preset.batch_size, shuffle=True, seed=preset.seed)
    valid_dl = TensorBatches(xv, yv, batch_size=4096)
    opt = optim.Adam(model.parameters(), lr=preset.lr)
    learn = Learner(model, train_dl, rnn.seq_loss, opt, valid_dl, device=device, progress=progress)
    start = time.perf_counter()
    history = learn.fit(preset.epochs)
    train_nats = float(history["train_loss"].iloc[-1])
    return CharResult.of(learn, history, start, vocab=vocab, train_nats=train_nats, windows=len(x))


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
) -> SeqResult:
    """Train a :class:`~lesson6lib.rnn.CharSeqRnn` per ``preset`` on the first
    ``1 - valid_frac`` of ``text`` (default: Nietzsche), scored on the rest. A run whose loss
    becomes infinite or NaN stops there and reports ``diverged``. The ``char-rnn`` experiment."""
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
        rnn.seq_loss,
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


EXPERIMENTS = (
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
