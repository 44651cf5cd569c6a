"""Models that read a window of characters and predict the one after it, as run by the
``char-rnn`` page and the command line (``EXPERIMENTS``): :func:`train_next_char`.

Three ways to choose validation windows (``CharPreset.split``):

- ``"contiguous"``: the last ``valid_frac`` of the text; the page's default and the honest one.
- ``"random"``: the 2018 notebook's way: a random sample of the overlapping windows of the whole
  text, and training windows drawn from the rest, so most validation windows have training
  neighbours that share all but one of their characters.
- ``"isolated"``: the same validation windows as ``"random"``, but training windows drawn only
  from those that share no character with any validation window. Comparing the two at the same
  number of training windows isolates what the neighbours contribute.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Literal

import torch

from lesson6lib import optim, rnn, schedules
from lesson6lib.batches import TensorBatches
from lesson6lib.callbacks import Recorder
from lesson6lib.checks import check_int
from lesson6lib.experiments.base import Experiment, Preset
from lesson6lib.experiments.chars import _check_preset, _encoded, _TextResult
from lesson6lib.learner import Learner
from lesson6lib.runtime import seed_everything
from lesson6lib.text import char_windows, contiguous_split

__all__ = ["EXPERIMENTS", "CharPreset", "CharResult", "leak_free_mask", "train_next_char"]


@dataclass(frozen=True)
class CharPreset(Preset):
    """A model that reads ``context`` characters and predicts the next one."""

    model: Literal["char3", "loop", "concat", "rnn"] = "loop"
    context: int = 8
    n_factors: int = 42
    n_hidden: int = 256
    overlapping: bool = True  # a window at every character, or every `context` characters
    split: Literal["contiguous", "random", "isolated"] = "contiguous"
    train_windows: int | None = 150_000  # a seeded sample of the training windows; None: all
    text_chars: int | None = None  # use only the first so many characters of the text
    valid_chars: int | None = 20_000  # at most so many validation windows; None: all
    epochs: int = 1
    batch_size: int = 512
    lr: float = 3e-3
    schedule: Literal["constant", "1cycle"] = "constant"  # 1cycle peaks at `lr`
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
        if self.split != "contiguous" and not self.overlapping:
            raise ValueError(
                f"{self._field('split')}={self.split!r} samples overlapping windows; it needs "
                f"overlapping=True"
            )


@dataclass(kw_only=True)
class CharResult(_TextResult):
    """A :func:`train_next_char` run: the last epoch's ``train_nats``, the number of training
    ``windows``, and every training batch's loss (``batch_losses``)."""

    train_nats: float
    windows: int
    batch_losses: list[float] = field(repr=False)


def leak_free_mask(n_windows: int, valid_starts: torch.Tensor, context: int) -> torch.Tensor:
    """Which of ``n_windows`` overlapping windows share no character with a validation window.

    A window starting at i covers characters i..i+context (its ``context`` inputs and its
    target), so windows i and j share a character exactly when abs(i - j) <= context."""
    near = torch.zeros(n_windows + 2 * context + 1, dtype=torch.int64)
    near[valid_starts] += 1  # a difference array: +1 at v - context, -1 after v + context
    near[valid_starts + 2 * context + 1] -= 1
    covered = near.cumsum(0)[: n_windows + context]
    return covered[context:] == 0


def _random_split(preset: CharPreset, codes: torch.Tensor, gen: torch.Generator) -> tuple:
    """Validation windows sampled from the whole text; training windows from the rest
    (``"random"``) or from those sharing no character with them (``"isolated"``)."""
    x_all, y_all = char_windows(codes, preset.context, overlapping=True)
    order = torch.randperm(len(x_all), generator=gen)
    n_valid = int(len(order) * preset.valid_frac)
    if preset.valid_chars is not None:
        n_valid = min(n_valid, preset.valid_chars)
    valid, rest = order[:n_valid], order[n_valid:]
    if preset.split == "isolated":
        rest = rest[leak_free_mask(len(x_all), valid, preset.context)[rest]]
    return x_all[rest], y_all[rest], x_all[valid], y_all[valid]


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
    else:
        x, y, xv, yv = _random_split(preset, codes, gen)
    if preset.train_windows is not None and len(x) > preset.train_windows:
        keep = torch.randperm(len(x), generator=gen)[: preset.train_windows]
        x, y = x[keep], y[keep]
    return x, y, xv, yv


_MODELS = {
    "char3": rnn.Char3Model,
    "loop": rnn.CharLoop,
    "concat": rnn.CharLoopConcat,
    "rnn": rnn.CharRnn,
}


def train_next_char(
    preset: CharPreset,
    device: str | torch.device | None = None,
    progress: bool = False,
    *,
    text: str | None = None,
) -> CharResult:
    """Train a one-next-character model per ``preset`` on ``text`` (default: Nietzsche) with
    Adam, at a constant learning rate or on a 1cycle schedule peaking at ``preset.lr``."""
    _check_preset(preset, CharPreset)
    seed_everything(preset.seed)
    vocab, codes = _encoded(text)
    x, y, xv, yv = _next_char_windows(preset, codes)
    model = _MODELS[preset.model](len(vocab), preset.n_factors, preset.n_hidden)
    train_dl = TensorBatches(x, y, batch_size=preset.batch_size, shuffle=True, seed=preset.seed)
    valid_dl = TensorBatches(xv, yv, batch_size=4096)
    opt = optim.Adam(model.parameters(), lr=preset.lr)
    total = preset.epochs * len(train_dl)
    scheduler = schedules.OneCycle(opt, preset.lr, total) if preset.schedule == "1cycle" else None
    recorder = Recorder()
    learn = Learner(
        model,
        train_dl,
        rnn.seq_loss,
        opt,
        valid_dl,
        callbacks=[recorder],
        device=device,
        progress=progress,
    )
    start = time.perf_counter()
    history = learn.fit(preset.epochs, scheduler=scheduler)
    return CharResult.of(
        learn,
        history,
        start,
        vocab=vocab,
        train_nats=float(history["train_loss"].iloc[-1]),
        windows=len(x),
        batch_losses=recorder.losses,
    )


# The page's build: nn.RNN on a 400,000-window sample, one epoch of 1cycle peaking at 0.01. Full
# size: every window, six epochs peaking at 0.003 (the lesson trained CharRnn for six epochs).
_BUILD = CharPreset(
    model="rnn", train_windows=400_000, valid_chars=None, schedule="1cycle", lr=1e-2
)
_FULL = replace(_BUILD, train_windows=None, epochs=6, lr=3e-3)

EXPERIMENTS = (
    Experiment(
        name="next-char",
        page="char-rnn",
        summary="Read 8 characters, predict the 9th (CharLoop, CharLoopConcat or nn.RNN): "
        "validation nats per character, last 10% of the text",
        presets={"cpu": _BUILD, "full": _FULL},
        run=train_next_char,
    ),
)
