"""Learning-rate schedules (triangular cyclical, cosine with warm restarts, 1cycle) and the LR
range test.

Each schedule is first a plain function of the step number (easy to plot and to test), then an
``LRScheduler`` subclass that applies it to any optimizer's parameter groups, ours or
``torch.optim``'s. Call ``scheduler.step()`` once per batch.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import cycle, islice

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

__all__ = [
    "CosineWarmRestarts",
    "LRFinderResult",
    "OneCycle",
    "TriangularLR",
    "cosine_anneal",
    "lr_find",
    "one_cycle",
    "sgdr",
    "triangular",
]


def _positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _per_group(name: str, value: float | Sequence[float], optimizer: Optimizer) -> list[float]:
    n = len(optimizer.param_groups)
    values = list(value) if isinstance(value, Sequence) else [value] * n
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} values for {n} parameter groups")
    return [float(v) for v in values]


# --- the schedules as functions of the step ---------------------------------------------------


def triangular(
    step: int, base_lr: float, max_lr: float, step_size_up: int, step_size_down: int | None = None
) -> float:
    """Smith's triangular cyclical LR (arXiv:1506.01186): a linear climb from ``base_lr`` to
    ``max_lr`` over ``step_size_up`` steps, a linear descent over ``step_size_down`` (default:
    the same), repeated."""
    down = step_size_up if step_size_down is None else step_size_down
    period = step_size_up + down
    t = step % period
    frac = t / step_size_up if t <= step_size_up else 1 - (t - step_size_up) / down
    return base_lr + (max_lr - base_lr) * frac


def cosine_anneal(start: float, end: float, pct: float) -> float:
    """Half a cosine from ``start`` (pct = 0) to ``end`` (pct = 1)."""
    return end + (start - end) / 2 * (1 + math.cos(math.pi * pct))


def sgdr(step: int, base_lr: float, min_lr: float, cycle_len: int, cycle_mult: int = 1) -> float:
    """SGDR (Loshchilov & Hutter, arXiv:1608.03983): cosine annealing from ``base_lr`` to
    ``min_lr`` over a cycle, then a warm restart. Cycle i lasts ``cycle_len * cycle_mult**i``
    steps:  lr = min + (base - min) (1 + cos(pi t_cur / T_i)) / 2."""
    if cycle_mult == 1:
        t_cur, t_i = step % cycle_len, cycle_len
    else:
        n = int(math.log(step / cycle_len * (cycle_mult - 1) + 1, cycle_mult))
        t_cur = step - cycle_len * (cycle_mult**n - 1) // (cycle_mult - 1)
        t_i = cycle_len * cycle_mult**n
        if t_cur >= t_i:  # guard against log() rounding down at a cycle boundary
            t_cur, t_i = t_cur - t_i, t_i * cycle_mult
    return cosine_anneal(base_lr, min_lr, t_cur / t_i)


def one_cycle(
    step: int,
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.25,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> float:
    """Smith's 1cycle (arXiv:1803.09820), in PyTorch's form: cosine from ``max_lr/div_factor``
    up to ``max_lr`` over the first ``pct_start`` of the steps, then down to
    ``max_lr/div_factor/final_div_factor`` at the last step."""
    start = max_lr / div_factor
    peak_step = pct_start * total_steps - 1
    if step <= peak_step:
        return cosine_anneal(start, max_lr, step / peak_step)
    return cosine_anneal(
        max_lr, start / final_div_factor, (step - peak_step) / (total_steps - 1 - peak_step)
    )


def _one_cycle_momentum(step: int, total_steps: int, pct_start: float, low: float, high: float):
    """Momentum mirrors the LR in 1cycle: high -> low while the LR climbs, low -> high after."""
    peak_step = pct_start * total_steps - 1
    if step <= peak_step:
        return cosine_anneal(high, low, step / peak_step)
    return cosine_anneal(low, high, (step - peak_step) / (total_steps - 1 - peak_step))


# --- the schedules as LRSchedulers ------------------------------------------------------------


class TriangularLR(LRScheduler):
    """:func:`triangular` for every parameter group, from the group's own LR to ``max_lr``.
    Equal to ``torch.optim.lr_scheduler.CyclicLR(mode="triangular", cycle_momentum=False)``."""

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        step_size_up: int,
        step_size_down: int | None = None,
        last_epoch: int = -1,
    ) -> None:
        _positive_int("step_size_up", step_size_up)
        if step_size_down is not None:
            _positive_int("step_size_down", step_size_down)
        self.max_lrs = _per_group("max_lr", max_lr, optimizer)
        self.step_size_up, self.step_size_down = step_size_up, step_size_down
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            triangular(self.last_epoch, base, peak, self.step_size_up, self.step_size_down)
            for base, peak in zip(self.base_lrs, self.max_lrs, strict=True)
        ]


class CosineWarmRestarts(LRScheduler):
    """:func:`sgdr` for every group, from the group's own LR down to ``min_lr``. Equal to
    ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(T_0=cycle_len, T_mult=cycle_mult,
    eta_min=min_lr)`` stepped once per batch."""

    def __init__(
        self,
        optimizer: Optimizer,
        cycle_len: int,
        cycle_mult: int = 1,
        min_lr: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        _positive_int("cycle_len", cycle_len)
        _positive_int("cycle_mult", cycle_mult)
        if min_lr < 0:
            raise ValueError(f"min_lr must be >= 0, got {min_lr}")
        self.cycle_len, self.cycle_mult, self.min_lr = cycle_len, cycle_mult, min_lr
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            sgdr(self.last_epoch, base, self.min_lr, self.cycle_len, self.cycle_mult)
            for base in self.base_lrs
        ]


class OneCycle(LRScheduler):
    """:func:`one_cycle` for every group, with momentum (or Adam's beta1) cycled the other way
    between ``max_momentum`` and ``base_momentum``. Equal to
    ``torch.optim.lr_scheduler.OneCycleLR`` with the same settings (its default ``pct_start``
    is 0.3, this one's 0.25 as in fastai). Step it exactly ``total_steps - 1`` times."""

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int,
        pct_start: float = 0.25,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        cycle_momentum: bool = True,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
        last_epoch: int = -1,
    ) -> None:
        _positive_int("total_steps", total_steps)
        if not 0 < pct_start < 1 or pct_start * total_steps < 2:
            raise ValueError(
                f"pct_start must be in (0, 1) and leave >= 2 warm-up steps, got {pct_start} "
                f"of {total_steps} steps"
            )
        self.max_lrs = _per_group("max_lr", max_lr, optimizer)
        self.total_steps, self.pct_start = total_steps, pct_start
        self.div_factor, self.final_div_factor = div_factor, final_div_factor
        self.cycle_momentum = cycle_momentum
        self.momentum_range = (base_momentum, max_momentum)
        if cycle_momentum:
            for group in optimizer.param_groups:
                if "momentum" not in group and "betas" not in group:
                    raise ValueError(
                        "cycle_momentum=True needs an optimizer with momentum or betas"
                    )
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step >= self.total_steps:
            raise ValueError(f"OneCycle was stepped {step} times; it has {self.total_steps} steps")
        if self.cycle_momentum:
            mom = _one_cycle_momentum(step, self.total_steps, self.pct_start, *self.momentum_range)
            for group in self.optimizer.param_groups:
                if "betas" in group:
                    group["betas"] = (mom, *group["betas"][1:])
                else:
                    group["momentum"] = mom
        return [
            one_cycle(
                step, peak, self.total_steps, self.pct_start, self.div_factor, self.final_div_factor
            )
            for peak in self.max_lrs
        ]


# --- the LR range test ------------------------------------------------------------------------


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
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got {start_lr} and {end_lr}")
    _positive_int("num_steps", num_steps)
    if num_steps < 5:
        raise ValueError(f"num_steps must be at least 5 to find anything, got {num_steps}")
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
            loss = loss_fn(model(*xs), y)
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
