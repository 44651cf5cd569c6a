r"""Learning-rate schedules: triangular cyclical, cosine with warm restarts (SGDR) and 1cycle.

Each schedule is first a plain function of the step number (easy to plot and to test), then an
``LRScheduler`` subclass that applies it to any optimizer's parameter groups, ours or
``torch.optim``'s. Call ``scheduler.step()`` once per batch.

Each scheduler also sets the ``peak_lr`` of the groups that have one (the optimizers of
:mod:`lesson6lib.optim`) to the schedule's peak, so that with ``decay="schedule"`` the decoupled
weight decay follows the schedule multiplier $\eta_t = \eta / \hat\eta$, which is 1 at the
peak, as in Loshchilov & Hutter's AdamW and SGDW.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from lesson6lib.checks import check_int, check_number

__all__ = [
    "CosineWarmRestarts",
    "OneCycle",
    "TriangularLR",
    "cosine_anneal",
    "one_cycle",
    "sgdr",
    "triangular",
]


def _per_group(name: str, value: float | Sequence[float], optimizer: Optimizer) -> list[float]:
    n = len(optimizer.param_groups)
    values = list(value) if isinstance(value, Sequence) else [value] * n
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} values for {n} parameter groups")
    return [check_number(f"{name}[{i}]", v, 0.0, low_open=True) for i, v in enumerate(values)]


def _set_peaks(optimizer: Optimizer, peaks: Sequence[float]) -> None:
    """The schedule's peak as each group's ``peak_lr``, where the group has that setting."""
    for group, peak in zip(optimizer.param_groups, peaks, strict=True):
        if "peak_lr" in group:
            group["peak_lr"] = peak


def _check_lrs(**lrs: float) -> None:
    for name, value in lrs.items():
        check_number(name, value, 0.0)


# --- the schedules as functions of the step ---------------------------------------------------


def triangular(
    step: int, base_lr: float, max_lr: float, step_size_up: int, step_size_down: int | None = None
) -> float:
    """Smith's triangular cyclical LR (arXiv:1506.01186): a linear climb from ``base_lr`` to
    ``max_lr`` over ``step_size_up`` steps, a linear descent over ``step_size_down`` (default:
    the same), repeated."""
    check_int("step", step, low=0)
    check_int("step_size_up", step_size_up)
    _check_lrs(base_lr=base_lr, max_lr=max_lr)
    down = step_size_up if step_size_down is None else check_int("step_size_down", step_size_down)
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
    check_int("step", step, low=0)
    check_int("cycle_len", cycle_len)
    check_int("cycle_mult", cycle_mult)
    _check_lrs(base_lr=base_lr, min_lr=min_lr)
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
    ``max_lr/div_factor/final_div_factor`` at the last step, ``total_steps - 1``. A step outside
    0..total_steps - 1 is refused (the curve is not defined there)."""
    _check_one_cycle(max_lr, total_steps, pct_start, div_factor, final_div_factor)
    check_int("step", step, low=0)
    if step >= total_steps:
        raise ValueError(f"step must be in 0..{total_steps - 1} (total_steps - 1), got {step}")
    start = max_lr / div_factor
    peak_step = pct_start * total_steps - 1
    if step <= peak_step:
        return cosine_anneal(start, max_lr, step / peak_step)
    return cosine_anneal(
        max_lr, start / final_div_factor, (step - peak_step) / (total_steps - 1 - peak_step)
    )


def _check_one_cycle(
    max_lr: float, total_steps: int, pct_start: float, div_factor: float, final_div_factor: float
) -> None:
    check_number("max_lr", max_lr, 0.0, low_open=True)
    check_int("total_steps", total_steps, low=2)
    check_number("pct_start", pct_start, 0.0, 1.0, low_open=True, high_open=True)
    if pct_start * total_steps < 2:
        raise ValueError(
            f"pct_start must leave >= 2 warm-up steps, got {pct_start} of {total_steps} steps"
        )
    check_number("div_factor", div_factor, 0.0, low_open=True)
    check_number("final_div_factor", final_div_factor, 0.0, low_open=True)


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
        check_int("step_size_up", step_size_up)
        if step_size_down is not None:
            check_int("step_size_down", step_size_down)
        self.max_lrs = _per_group("max_lr", max_lr, optimizer)
        self.step_size_up, self.step_size_down = step_size_up, step_size_down
        super().__init__(optimizer, last_epoch)
        _set_peaks(optimizer, [max(b, m) for b, m in zip(self.base_lrs, self.max_lrs, strict=True)])

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
        check_int("cycle_len", cycle_len)
        check_int("cycle_mult", cycle_mult)
        check_number("min_lr", min_lr, 0.0)
        self.cycle_len, self.cycle_mult, self.min_lr = cycle_len, cycle_mult, min_lr
        super().__init__(optimizer, last_epoch)
        _set_peaks(optimizer, self.base_lrs)

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
        self.max_lrs = _per_group("max_lr", max_lr, optimizer)
        for peak in self.max_lrs:
            _check_one_cycle(peak, total_steps, pct_start, div_factor, final_div_factor)
        check_number("base_momentum", base_momentum, 0.0, 1.0, high_open=True)
        check_number("max_momentum", max_momentum, base_momentum, 1.0, high_open=True)
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
        _set_peaks(optimizer, self.max_lrs)

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
