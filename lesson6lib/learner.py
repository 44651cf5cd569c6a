"""A small training loop: :class:`Learner` with ``fit``, ``evaluate``, ``predict``, ``lr_find``,
``save`` and ``load``, and callbacks for what varies (schedules, recording, early stopping).

A batch is a tuple ``(x, y)``, or ``(x1, ..., xn, y)`` for a model with several inputs: everything
but the last element goes to ``model(*inputs)``, the last is the target.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from tqdm.std import tqdm

from lesson6lib.runtime import get_device
from lesson6lib.schedules import LRFinderResult, lr_find

__all__ = [
    "Callback",
    "EarlyStopping",
    "Learner",
    "Recorder",
    "ScheduleStep",
    "accuracy",
    "layer_groups",
    "rmse",
    "root_mean",
]

Batch = Sequence[Tensor]
Metric = Callable[[Tensor, Tensor], Tensor]


def root_mean(metric: Metric) -> Metric:
    """Mark ``metric`` as a root of a mean, sqrt(mean(e)), so that :meth:`Learner.evaluate`
    averages its square over all rows and takes the root at the end, instead of averaging
    per-batch roots (which would be wrong)."""
    metric.root_mean = True
    return metric


@root_mean
def rmse(pred: Tensor, target: Tensor) -> Tensor:
    """Root mean squared error, sqrt(mean((pred - target)^2)), over the whole data set when used
    as a metric (the learner averages squared errors first)."""
    return torch.sqrt(nn.functional.mse_loss(pred, target))


def accuracy(pred: Tensor, target: Tensor) -> Tensor:
    """Share of rows whose highest-scoring class is the target class."""
    return (pred.argmax(dim=-1) == target).float().mean()


def layer_groups(
    modules: Sequence[nn.Module],
    lr: float | Sequence[float],
    weight_decay: float | Sequence[float] = 0.0,
) -> list[dict[str, Any]]:
    """Parameter groups, one per module, each with its own LR and weight decay: the lesson's
    "layer groups" for differential learning rates. Pass the result to an optimizer."""
    n = len(modules)
    lrs = list(lr) if isinstance(lr, Sequence) else [lr] * n
    wds = list(weight_decay) if isinstance(weight_decay, Sequence) else [weight_decay] * n
    if len(lrs) != n or len(wds) != n:
        raise ValueError(f"got {n} modules, {len(lrs)} lrs and {len(wds)} weight decays")
    return [
        {"params": list(m.parameters()), "lr": g_lr, "weight_decay": g_wd}
        for m, g_lr, g_wd in zip(modules, lrs, wds, strict=True)
    ]


class _NotebookLine:
    """A file for tqdm inside a Jupyter kernel: its latest line is shown in one output that is
    updated in place, so an executed notebook keeps only the final state of each bar."""

    def __init__(self) -> None:
        from IPython.display import Pretty, display

        self._pretty = Pretty
        self._handle = display(Pretty(""), display_id=True)

    def write(self, text: str) -> None:
        line = text.replace("\r", "").strip("\n")
        if line.strip():
            self._handle.update(self._pretty(line))

    def flush(self) -> None:
        pass


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _progress_bar(total: int | None, desc: str, enabled: bool) -> tqdm:
    """A tqdm bar of ``total`` batches: updated in place in a notebook, on stdout elsewhere; the
    learner closes it with the epoch's losses appended, one line per epoch."""
    out = _NotebookLine() if enabled and _in_notebook() else sys.stdout
    return tqdm(
        total=total,
        desc=desc,
        disable=not enabled,
        file=out,
        bar_format="{desc} {bar:16} {n}/{total} {elapsed}{postfix}",
        mininterval=0.5,
        ascii=False,
    )


class Callback:
    """Hooks the learner calls; override the ones you need. ``learn`` is the :class:`Learner`."""

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
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
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


class Learner:
    """Trains ``model`` on ``train_dl`` with ``loss_fn`` and ``optimizer``.

    ``optimizer`` is built by you on the model's parameters, with as many parameter groups
    (per-group LR and weight decay) as you like: see :func:`layer_groups`. The model moves to
    ``device`` (CPU unless asked); each batch moves there as it is used. ``clip_grad`` clips the
    gradients' global norm before each step.
    """

    def __init__(
        self,
        model: nn.Module,
        train_dl: Iterable[Batch],
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        optimizer: Optimizer,
        valid_dl: Iterable[Batch] | None = None,
        metrics: Sequence[Metric] = (),
        callbacks: Sequence[Callback] = (),
        device: str | torch.device | None = None,
        clip_grad: float | None = None,
        progress: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch Optimizer, got {type(optimizer).__name__}")
        if not callable(loss_fn):
            raise TypeError("loss_fn must be callable as loss_fn(prediction, target)")
        if clip_grad is not None and not clip_grad > 0:
            raise ValueError(f"clip_grad must be a positive number, got {clip_grad!r}")
        for name, dl in (("train_dl", train_dl), ("valid_dl", valid_dl)):
            if dl is not None and hasattr(dl, "__len__") and len(dl) == 0:
                raise ValueError(f"{name} is empty: it yields no batch")
        own = {id(p) for p in model.parameters()}
        foreign = sum(1 for g in optimizer.param_groups for p in g["params"] if id(p) not in own)
        if foreign:
            raise ValueError(f"the optimizer holds {foreign} tensors that are not the model's")
        self.device = get_device(device)
        self.model = model.to(self.device)
        self.train_dl, self.valid_dl = train_dl, valid_dl
        self.loss_fn, self.optimizer = loss_fn, optimizer
        self.metrics = list(metrics)
        self.callbacks = list(callbacks)
        self.clip_grad, self.progress = clip_grad, progress
        self.history: list[dict[str, float]] = []
        self.loss, self.step, self.total_steps, self.stop = math.nan, 0, 0, False

    # -- batches ------------------------------------------------------------------------------

    def _split(self, batch: Batch) -> tuple[list[Tensor], Tensor]:
        if not isinstance(batch, list | tuple) or len(batch) < 2:
            raise ValueError(
                f"a batch must be a tuple (x, y) or (x1, ..., xn, y), got {type(batch).__name__}"
            )
        *xs, y = (t.to(self.device) for t in batch)
        return xs, y

    def _loss(self, pred: Tensor, y: Tensor) -> Tensor:
        if pred.shape[0] != y.shape[0]:
            raise ValueError(f"the model returned {pred.shape[0]} rows for {y.shape[0]} targets")
        if y.is_floating_point() and pred.shape != y.shape:
            raise ValueError(
                f"prediction shape {tuple(pred.shape)} and target shape {tuple(y.shape)} differ "
                f"and would broadcast: reshape one (e.g. pred.squeeze(-1) or y.view(-1, 1))"
            )
        return self.loss_fn(pred, y)

    def _call(self, hook: str) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self)

    # -- training -----------------------------------------------------------------------------

    def _train_batch(self, batch: Batch) -> None:
        xs, y = self._split(batch)
        loss = self._loss(self.model(*xs), y)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the training loss is {loss.item()} at step {self.step}")
        self.optimizer.zero_grad()
        loss.backward()
        if self.clip_grad is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_grad)
        self.optimizer.step()
        self.loss = loss.item()
        self.step += 1

    def fit(self, epochs: int, scheduler: LRScheduler | None = None) -> pd.DataFrame:
        """Train for ``epochs`` passes over ``train_dl``; evaluate on ``valid_dl`` after each.
        A ``scheduler`` is stepped after every batch. Returns the history as a frame."""
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        extra = [ScheduleStep(scheduler)] if scheduler is not None else []
        self.callbacks += extra
        n_batches = len(self.train_dl) if hasattr(self.train_dl, "__len__") else None
        self.step, self.stop = 0, False
        self.total_steps = epochs * n_batches if n_batches else math.inf
        try:
            self._call("before_fit")
            for epoch in range(1, epochs + 1):
                self._fit_epoch(epoch, epochs, n_batches)
                if self.stop:
                    break
        finally:
            self._call("after_fit")
            for cb in extra:
                self.callbacks.remove(cb)
        return self.history_frame()

    def _fit_epoch(self, epoch: int, epochs: int, n_batches: int | None) -> None:
        start = time.perf_counter()
        self.model.train()
        self._call("before_epoch")
        total, count = 0.0, 0
        bar = _progress_bar(n_batches, f"epoch {epoch}/{epochs}", self.progress)
        for batch in self.train_dl:
            self._train_batch(batch)
            total += self.loss * batch[-1].numel()  # a mean over every target in the epoch
            count += batch[-1].numel()
            bar.update()
            self._call("after_batch")
        if count == 0:
            bar.close()
            raise ValueError("train_dl yielded no batch")
        row = {"epoch": epoch, "train_loss": total / count}
        if self.valid_dl is not None:
            self._call("before_validate")
            row |= {f"valid_{k}": v for k, v in self.evaluate().items()}
        row["time_s"] = time.perf_counter() - start
        self.history.append(row)
        bar.set_postfix_str(self._format_row(row), refresh=False)
        bar.close()
        self._call("after_epoch")

    @staticmethod
    def _format_row(row: dict[str, float]) -> str:
        return "  ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("epoch", "time_s"))

    def history_frame(self) -> pd.DataFrame:
        """Every epoch trained so far, one row each."""
        return pd.DataFrame(self.history).set_index("epoch") if self.history else pd.DataFrame()

    # -- evaluation and prediction ------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self, dl: Iterable[Batch] | None = None) -> dict[str, float]:
        """Mean loss and metrics over ``dl`` (default: ``valid_dl``), each batch weighted by its
        number of targets.
        A metric marked with :func:`root_mean` (``rmse``, say) is computed from the mean of
        its square over all rows."""
        dl = self.valid_dl if dl is None else dl
        if dl is None:
            raise ValueError("there is no valid_dl to evaluate on; pass a data loader")
        self.model.eval()
        sums = {"loss": 0.0} | {m.__name__: 0.0 for m in self.metrics}
        count = 0
        for batch in dl:
            xs, y = self._split(batch)
            pred = self.model(*xs)
            n = y.numel()
            sums["loss"] += self._loss(pred, y).item() * n
            for m in self.metrics:
                value = m(pred, y) ** 2 if getattr(m, "root_mean", False) else m(pred, y)
                sums[m.__name__] += value.item() * n
            count += n
        if count == 0:
            raise ValueError("the data loader yielded no batch")
        means = {k: v / count for k, v in sums.items()}
        for m in self.metrics:
            if getattr(m, "root_mean", False):
                means[m.__name__] = math.sqrt(means[m.__name__])
        return means

    @torch.no_grad()
    def predict(self, data: Iterable[Batch] | Tensor) -> Tensor:
        """The model's outputs, on the CPU, for a tensor of inputs or for every batch of a loader
        (whose last element, the target, is ignored)."""
        self.model.eval()
        if isinstance(data, Tensor):
            return self.model(data.to(self.device)).cpu()
        outs = [self.model(*self._split(batch)[0]).cpu() for batch in data]
        if not outs:
            raise ValueError("the data loader yielded no batch")
        return torch.cat(outs)

    def lr_find(self, **kwargs) -> LRFinderResult:
        """The LR range test on this model, loss, optimizer and training data (see
        :func:`lesson6lib.schedules.lr_find`); the weights and optimizer are restored after."""
        batches = (tuple(t.to(self.device) for t in batch) for batch in self.train_dl)
        return lr_find(self.model, self._loss, batches, self.optimizer, **kwargs)

    # -- saving -------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the model's and the optimizer's state dicts (tensors only) to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}, path
        )
        return path

    def load(self, path: str | Path, with_optimizer: bool = True) -> Learner:
        """Read what :meth:`save` wrote, mapping every tensor onto this learner's device
        (a GPU-saved file loads on a CPU-only machine). Only tensors are unpickled."""
        state = torch.load(Path(path), map_location=self.device, weights_only=True)
        if not isinstance(state, dict) or "model" not in state:
            raise ValueError(f"{path} was not written by Learner.save")
        self.model.load_state_dict(state["model"])
        if with_optimizer:
            self.optimizer.load_state_dict(state["optimizer"])
        return self
