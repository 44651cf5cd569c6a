"""The runs the pages make, as functions of a preset: ``"cpu"`` (small, for the site build) or
``"full"`` (the full-size version, for a GPU or a patient CPU). A page and the command line
(``python -m lesson6lib run NAME --preset full --device cuda``) call the same functions.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, replace
from importlib import resources

import numpy as np
import pandas as pd
import torch
from torch import nn

from lesson6lib import optim, schedules
from lesson6lib.collab import CollabData, EmbeddingDot, EmbeddingDotBias, EmbeddingNet, collab_data
from lesson6lib.data import movielens
from lesson6lib.learner import Learner, Recorder
from lesson6lib.rossmann_runs import RossmannPreset
from lesson6lib.runtime import get_device, seed_everything

__all__ = [
    "CharPreset",
    "CollabPreset",
    "GridPreset",
    "LinePreset",
    "PRESETS",
    "SeqPreset",
    "fit_line",
    "load_reference",
    "make_line",
    "seq_model",
    "train_next_char",
    "train_seq",
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


# --- character models on Nietzsche ---------------------------------------------------------------


@dataclass(frozen=True)
class CharPreset:
    """A model that reads ``cs`` characters and predicts the next one."""

    model: str = "loop"  # "char3", "loop", "concat" or "rnn"
    cs: int = 8
    n_fac: int = 42
    n_hidden: int = 256
    overlapping: bool = True
    split: str = "contiguous"  # or "random": the 2018 notebook's leaky split of windows
    train_windows: int | None = 150_000  # a seeded sample of the training windows; None: all
    text_chars: int | None = None  # use only the first so many characters of the text
    valid_chars: int | None = 20_000  # the first so many characters of the validation text
    epochs: int = 1
    batch_size: int = 512
    lr: float = 3e-3
    valid_frac: float = 0.1
    seed: int = 0


@dataclass(frozen=True)
class SeqPreset:
    """A recurrent model with an output after every character."""

    cell: str = "gru"
    n_layers: int = 1
    n_hidden: int = 256
    n_fac: int = 42
    nonlinearity: str = "tanh"  # for cell="rnn"
    identity_init: bool = False
    stateful: bool = False
    bptt: int = 64
    batch_size: int = 64
    epochs: int = 2
    lr: float = 3e-3
    weight_decay: float = 0.01
    dropout: float = 0.0
    clip_grad: float | None = 1.0
    schedule: str = "1cycle"
    valid_frac: float = 0.1
    seed: int = 0


def _nietzsche(text: str | None):
    from lesson6lib.data import nietzsche
    from lesson6lib.rnn import Vocab

    text = nietzsche.load_text() if text is None else text
    vocab = Vocab(text)
    return vocab, vocab.encode(text)


def train_next_char(
    preset: CharPreset, text: str | None = None, device=None, progress=False
) -> dict:
    """Train a one-next-character model per ``preset``; validation loss in nats per character."""
    from lesson6lib.batches import TensorBatches
    from lesson6lib.rnn import Char3Model, CharLoop, CharLoopConcat, CharRnn, char_windows, seq_loss

    vocab, codes = _nietzsche(text)
    codes = codes if preset.text_chars is None else codes[: preset.text_chars]
    gen = torch.Generator().manual_seed(preset.seed)
    if preset.split == "contiguous":
        cut = int(len(codes) * (1 - preset.valid_frac))
        x, y = char_windows(codes[:cut], preset.cs, preset.overlapping)
        valid = codes[cut:] if preset.valid_chars is None else codes[cut : cut + preset.valid_chars]
        xv, yv = char_windows(valid, preset.cs, overlapping=True)
    elif preset.split == "random":  # windows of the whole text, shuffled, then cut
        x_all, y_all = char_windows(codes, preset.cs, preset.overlapping)
        order = torch.randperm(len(x_all), generator=gen)
        n_valid = int(len(order) * preset.valid_frac)
        if preset.valid_chars is not None:
            n_valid = min(n_valid, preset.valid_chars)
        xv, yv = x_all[order[:n_valid]], y_all[order[:n_valid]]
        x, y = x_all[order[n_valid:]], y_all[order[n_valid:]]
    else:
        raise ValueError(f"split must be 'contiguous' or 'random', got {preset.split!r}")
    if preset.train_windows is not None and len(x) > preset.train_windows:
        keep = torch.randperm(len(x), generator=gen)[: preset.train_windows]
        x, y = x[keep], y[keep]
    models = {"char3": Char3Model, "loop": CharLoop, "concat": CharLoopConcat, "rnn": CharRnn}
    if preset.model not in models:
        raise ValueError(f"model must be one of {sorted(models)}, got {preset.model!r}")
    if preset.model == "char3" and preset.cs != 3:
        raise ValueError("the char3 model reads exactly 3 characters: set cs=3")
    seed_everything(preset.seed)
    model = models[preset.model](len(vocab), preset.n_fac, preset.n_hidden)
    learn = Learner(
        model,
        TensorBatches(x, y, batch_size=preset.batch_size, shuffle=True, seed=preset.seed),
        seq_loss,
        optim.Adam(model.parameters(), lr=preset.lr),
        valid_dl=TensorBatches(xv, yv, batch_size=4096),
        device=device,
        progress=progress,
    )
    start = time.perf_counter()
    history = learn.fit(preset.epochs)
    return {
        "valid_nats": float(history["valid_loss"].iloc[-1]),
        "train_nats": float(history["train_loss"].iloc[-1]),
        "seconds": time.perf_counter() - start,
        "windows": len(x),
        "learner": learn,
        "vocab": vocab,
    }


def seq_model(preset: SeqPreset, vocab_size: int) -> nn.Module:
    """The :class:`~lesson6lib.rnn.CharSeqRnn` a preset describes, initialised (and seeded)."""
    from lesson6lib.rnn import CharSeqRnn, identity_init_

    seed_everything(preset.seed)
    model = CharSeqRnn(
        vocab_size,
        preset.n_fac,
        preset.n_hidden,
        preset.cell,
        preset.n_layers,
        preset.nonlinearity,
        preset.stateful,
        preset.dropout,
    )
    if preset.identity_init:
        identity_init_(model.rnn)
    return model


def train_seq(
    preset: SeqPreset, text: str | None = None, device=None, progress=False, callbacks=()
) -> dict:
    """Train a :class:`~lesson6lib.rnn.CharSeqRnn` per ``preset`` on the first 90% of the text;
    validation loss in nats per character on the last 10%."""
    from lesson6lib.batches import TensorBatches
    from lesson6lib.rnn import ResetState, StreamBatches, seq_loss, seq_windows

    vocab, codes = _nietzsche(text)
    cut = int(len(codes) * (1 - preset.valid_frac))
    train, valid = codes[:cut], codes[cut:]
    if preset.stateful:
        train_dl = StreamBatches(train, preset.batch_size, preset.bptt)
        valid_dl = StreamBatches(valid, preset.batch_size, preset.bptt)
        callbacks = [ResetState(), *callbacks]
    else:
        x, y = seq_windows(train, preset.bptt)
        train_dl = TensorBatches(x, y, batch_size=preset.batch_size, shuffle=True, seed=preset.seed)
        valid_dl = TensorBatches(*seq_windows(valid, preset.bptt), batch_size=512)
    model = seq_model(preset, len(vocab))
    opt = optim.Adam(
        model.parameters(), lr=preset.lr, weight_decay=preset.weight_decay, decouple_wd=True
    )
    recorder = Recorder()
    learn = Learner(
        model,
        train_dl,
        seq_loss,
        opt,
        valid_dl=valid_dl,
        device=device,
        clip_grad=preset.clip_grad,
        callbacks=[recorder, *callbacks],
        progress=progress,
    )
    scheduler = None
    if preset.schedule == "1cycle":
        scheduler = schedules.OneCycle(opt, preset.lr, preset.epochs * len(train_dl))
    elif preset.schedule != "constant":
        raise ValueError(f"schedule must be '1cycle' or 'constant', got {preset.schedule!r}")
    start = time.perf_counter()
    try:
        history = learn.fit(preset.epochs, scheduler=scheduler)
        diverged = False
    except FloatingPointError:
        history, diverged = learn.history_frame(), True
    return {
        "valid_nats": float(history["valid_loss"].iloc[-1]) if len(history) else math.nan,
        "history": history,
        "batch_losses": recorder.losses,
        "diverged": diverged,
        "seconds": time.perf_counter() - start,
        "learner": learn,
        "vocab": vocab,
    }


PRESETS: dict[str, dict[str, object]] = {
    "sgd": {"cpu": LinePreset(), "full": LinePreset(n_points=1_000_000, steps=10_000)},
    "collab": {
        "cpu": CollabPreset(),
        "full": CollabPreset(epochs=10, batch_size=256, lr=1e-2, weight_decay=1e-4),
    },
    "char-rnn": {
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
    "rossmann": {
        "cpu": RossmannPreset(),
        "full": RossmannPreset(hidden=(1000, 500), epochs=12, lr=5e-3),
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
