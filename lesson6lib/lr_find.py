"""The LR range test (Smith, arXiv:1506.01186): train briefly while the learning rate grows
exponentially, and read a good learning rate off the smoothed loss curve."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import cycle, islice

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from lesson6lib.checks import check_int, check_number
from lesson6lib.layers import prediction

__all__ = ["LRFinderResult", "lr_find"]


@dataclass
class LRFinderResult:
    """What :func:`lr_find` measured: one smoothed loss per learning rate tried."""

    lrs: list[float]
    losses: list[float]
    suggestion: float
    """Where the smoothed loss fell fastest (steepest negative slope against log LR)."""
    min_loss_lr: float
    """The LR of the lowest smoothed loss; a tenth of it is the classic, more careful choice."""

    def plot(self, ax=None):
        """Loss against LR on a log axis, with the two suggestions marked."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots()[1]
        ax.plot(self.lrs, self.losses)
        ax.set_xscale("log")
        ax.axvline(
            self.suggestion, ls="--", color="#D55E00", label=f"steepest: {self.suggestion:.1e}"
        )
        tenth = self.min_loss_lr / 10
        ax.axvline(tenth, ls=":", color="#009E73", label=f"min / 10: {tenth:.1e}")
        ax.set(xlabel="learning rate (log scale)", ylabel="smoothed training loss")
        ax.legend()
        return ax


def lr_find(
    model: nn.Module,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    batches: Iterable[tuple[Tensor, ...]],
    optimizer: Optimizer,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    smoothing: float = 0.98,
    diverge: float = 4.0,
) -> LRFinderResult:
    """The LR range test (Smith, arXiv:1506.01186): train for up to ``num_steps`` batches while
    the LR grows exponentially from ``start_lr`` to ``end_lr``,
    lr_i = start (end / start)^(i / (num_steps - 1)), recording a debiased exponential moving
    average of the loss; stop once it exceeds ``diverge`` times its best value. Every parameter
    group gets the same LR. The model's weights and the optimizer's state are restored after.

    ``batches`` yields ``(x, y)`` or ``(x1, ..., xn, y)`` (the model is called as
    ``model(x1, ..., xn)``), already on the model's device; it is cycled if it runs out.
    """
    check_number("start_lr", start_lr, 0.0, low_open=True)
    check_number("end_lr", end_lr, start_lr, low_open=True)
    check_int("num_steps", num_steps, low=5)
    check_number("smoothing", smoothing, 0.0, 1.0, high_open=True)
    check_number("diverge", diverge, 1.0, low_open=True)
    saved_model = copy.deepcopy(model.state_dict())
    saved_opt = copy.deepcopy(optimizer.state_dict())
    saved_lrs = [g["lr"] for g in optimizer.param_groups]
    lrs, losses = [], []
    avg, best = 0.0, math.inf
    was_training = model.training
    model.train()
    try:
        source = list(islice(iter(batches), num_steps))
        if not source:
            raise ValueError("batches is empty")
        for i, (*xs, y) in enumerate(islice(cycle(source), num_steps)):
            lr = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = loss_fn(prediction(model(*xs)), y)
            if not torch.isfinite(loss):
                break
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            avg = smoothing * avg + (1 - smoothing) * loss.item()
            smoothed = avg / (1 - smoothing ** (i + 1))
            lrs.append(lr)
            losses.append(smoothed)
            best = min(best, smoothed)
            if smoothed > diverge * best:
                break
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_opt)
        for group, lr in zip(optimizer.param_groups, saved_lrs, strict=True):
            group["lr"] = lr
        model.train(was_training)
    if len(losses) < 5:
        raise RuntimeError(f"the loss diverged after {len(losses)} steps: lower start_lr")
    return _suggest(lrs, losses)


def _suggest(lrs: list[float], losses: list[float]) -> LRFinderResult:
    """Steepest descent of the smoothed loss against log LR, ignoring the noisy first tenth and
    the divergence at the end."""
    loss = np.asarray(losses)
    best = int(loss.argmin())
    skip = max(1, len(loss) // 10)
    window = slice(skip, max(best, skip + 2) + 1)
    slope = np.gradient(loss[window], np.log(np.asarray(lrs)[window]))
    steepest = skip + int(slope.argmin())
    return LRFinderResult(lrs, losses, suggestion=lrs[steepest], min_loss_lr=lrs[best])
