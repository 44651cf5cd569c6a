"""What the training loop calls at fixed points of :meth:`lesson6lib.learner.Learner.fit`, for
what varies from run to run: stepping a schedule, recording losses, stopping early, and carrying a
recurrent model's state from batch to batch."""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING

import pandas as pd
from torch.optim.lr_scheduler import LRScheduler

from lesson6lib.checks import check_choice, check_int, check_number

if TYPE_CHECKING:
    from lesson6lib.learner import Learner

__all__ = ["Callback", "EarlyStopping", "Recorder", "ResetState", "ScheduleStep"]


class Callback:
    """Hooks the learner calls; override the ones you need. Each takes ``learn``, the
    :class:`Learner`, and is called:

    - ``before_fit``: once, at the start of :meth:`Learner.fit`;
    - ``before_epoch``: at the start of each epoch, with the model in training mode;
    - ``after_batch``: after each training step (``learn.loss`` and ``learn.step`` are set);
    - ``before_validate``: after an epoch's training batches, before ``valid_dl`` is evaluated;
    - ``after_epoch``: once the epoch's row is in the history;
    - ``after_fit``: once, at the end of :meth:`Learner.fit`, even when it stops early or raises.

    Setting ``learn.stop = True`` ends training after the current epoch.
    """

    def before_fit(self, learn: Learner) -> None: ...
    def before_epoch(self, learn: Learner) -> None: ...
    def after_batch(self, learn: Learner) -> None: ...
    def before_validate(self, learn: Learner) -> None: ...
    def after_epoch(self, learn: Learner) -> None: ...
    def after_fit(self, learn: Learner) -> None: ...


class ScheduleStep(Callback):
    """Steps an LR scheduler after every training batch (but the last, so a 1cycle schedule of
    ``epochs * len(train_dl)`` steps ends exactly on its final value)."""

    def __init__(self, scheduler: LRScheduler) -> None:
        self.scheduler = scheduler

    def after_batch(self, learn: Learner) -> None:
        if learn.step < learn.total_steps:
            self.scheduler.step()


class Recorder(Callback):
    """Records each training batch's loss and each group's LR."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.lrs: list[list[float]] = []

    def after_batch(self, learn: Learner) -> None:
        self.losses.append(learn.loss)
        self.lrs.append([g["lr"] for g in learn.optimizer.param_groups])

    def plot(self, ax=None):
        """Batch losses (and their 20-batch running mean) against the step."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots()[1]
        losses = pd.Series(self.losses)
        ax.plot(losses, alpha=0.35, label="batch loss")
        ax.plot(losses.rolling(20, min_periods=1).mean(), label="running mean (20)")
        ax.set(xlabel="step", ylabel="training loss")
        ax.legend()
        return ax


class EarlyStopping(Callback):
    """Stops training once ``monitor`` (a column of the history) has not improved by more than
    ``min_delta`` for ``patience`` epochs; with ``restore_best`` the best weights are put back."""

    def __init__(
        self,
        monitor: str = "valid_loss",
        patience: int = 2,
        min_delta: float = 0.0,
        mode: str = "min",
        restore_best: bool = True,
    ) -> None:
        check_choice("mode", mode, ("min", "max"))
        check_int("patience", patience)
        check_number("min_delta", min_delta, 0.0)
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.sign = 1.0 if mode == "min" else -1.0
        self.restore_best = restore_best

    def before_fit(self, learn: Learner) -> None:
        self.best, self.wait, self.best_state = math.inf, 0, None

    def after_epoch(self, learn: Learner) -> None:
        row = learn.history[-1]
        if self.monitor not in row:
            raise ValueError(f"EarlyStopping monitors {self.monitor!r}, not in {list(row)}")
        value = self.sign * row[self.monitor]
        if not math.isfinite(value):
            raise FloatingPointError(
                f"EarlyStopping: {self.monitor} is {row[self.monitor]} after epoch {row['epoch']}"
            )
        if value < self.best - self.min_delta:
            self.best, self.wait = value, 0
            if self.restore_best:
                self.best_state = copy.deepcopy(learn.model.state_dict())
        else:
            self.wait += 1
            if self.wait >= self.patience:
                learn.stop = True

    def after_fit(self, learn: Learner) -> None:
        if self.restore_best and self.best_state is not None:
            learn.model.load_state_dict(self.best_state)


class ResetState(Callback):
    """For a model that returns ``(output, state)``: the loop carries the state, detached, from
    each batch into the next (truncated backpropagation through time), and forgets it before each
    pass over the training data and before validation, so each starts at the beginning of its
    streams (see :class:`lesson6lib.batches.StreamBatches`)."""

    def before_fit(self, learn: Learner) -> None:
        learn.carry_state, learn.state = True, None

    def before_epoch(self, learn: Learner) -> None:
        learn.state = None

    def before_validate(self, learn: Learner) -> None:
        learn.state = None

    def after_fit(self, learn: Learner) -> None:
        learn.carry_state, learn.state = False, None
