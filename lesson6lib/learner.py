"""A small training loop: :class:`Learner` with ``fit``, ``evaluate``, ``predict``, ``lr_find``,
``save`` and ``load``, and callbacks for what varies (schedules, recording, early stopping,
carrying a recurrent model's state).

A batch is a tuple ``(x, y)``, or ``(x1, ..., xn, y)`` for a model with several inputs: everything
but the last element goes to ``model(*inputs)``, the last is the target. A model may return
``(output, state)``: the loss sees the output; with :class:`~lesson6lib.callbacks.ResetState` the
loop passes the state (detached) back into the next batch, ``model(*inputs, state)``. The
callbacks are in :mod:`lesson6lib.callbacks`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from lesson6lib import checkpoint
from lesson6lib.callbacks import Callback, ScheduleStep
from lesson6lib.checks import check_int, check_number
from lesson6lib.layers import prediction
from lesson6lib.lr_find import LRFinderResult, lr_find
from lesson6lib.metrics import Metric
from lesson6lib.progress import progress_bar
from lesson6lib.runtime import get_device

__all__ = ["Learner"]

Batch = Sequence[Tensor]


def _detach(state):
    return tuple(t.detach() for t in state) if isinstance(state, tuple) else state.detach()


def _batch_rows(state) -> int:
    return (state[0] if isinstance(state, tuple) else state).shape[1]


class Learner:
    """Trains ``model`` on ``train_dl`` with ``loss_fn`` and ``optimizer``.

    ``optimizer`` is built by you on the model's parameters, with as many parameter groups
    (per-group LR and weight decay) as you like: see :func:`lesson6lib.optim.layer_groups`. The
    model moves to ``device`` (CPU unless asked); each batch moves there as it is used.
    ``clip_grad`` clips the gradients' global norm before each step. ``metrics`` are
    :class:`lesson6lib.metrics.Metric` objects, reported on the validation data after each epoch.
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
        if clip_grad is not None:
            check_number("clip_grad", clip_grad, 0.0, low_open=True)
        bad = [type(m).__name__ for m in metrics if not isinstance(m, Metric)]
        if bad:
            raise TypeError(f"metrics must be lesson6lib.metrics.Metric objects, got {bad}")
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
        self.carry_state, self.state = False, None  # see callbacks.ResetState

    # -- batches ------------------------------------------------------------------------------

    def _split(self, batch: Batch) -> tuple[list[Tensor], Tensor]:
        if not isinstance(batch, list | tuple) or len(batch) < 2:
            raise ValueError(
                f"a batch must be a tuple (x, y) or (x1, ..., xn, y), got {type(batch).__name__}"
            )
        *xs, y = (t.to(self.device) for t in batch)
        return xs, y

    def _forward(self, xs: list[Tensor]) -> Tensor:
        """The model's prediction for one batch; with a carried state, the state goes in as the
        last argument (unless its batch size differs: a shorter last batch starts afresh)."""
        state = self.state
        if self.carry_state and state is not None and _batch_rows(state) == xs[0].shape[0]:
            out = self.model(*xs, state)
        else:
            out = self.model(*xs)
        if self.carry_state and isinstance(out, tuple):
            self.state = _detach(out[1])
        return prediction(out)

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
        loss = self._loss(self._forward(xs), y)
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
        A ``scheduler`` is stepped after every batch. Returns the history as a frame.
        A loader with ``set_epoch`` (such as :class:`~lesson6lib.batches.TensorBatches`) is told
        the epoch, 0 to epochs - 1, so every fit sees the same batches."""
        check_int("epochs", epochs)
        extra = [ScheduleStep(scheduler)] if scheduler is not None else []
        self.callbacks += extra
        n_batches = len(self.train_dl) if hasattr(self.train_dl, "__len__") else None
        self.step, self.stop = 0, False
        self.total_steps = epochs * n_batches if n_batches else math.inf
        try:
            self._call("before_fit")
            for epoch in range(1, epochs + 1):
                if hasattr(self.train_dl, "set_epoch"):
                    self.train_dl.set_epoch(epoch - 1)
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
        bar = progress_bar(n_batches, f"epoch {epoch}/{epochs}", self.progress)
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
        """Mean loss over ``dl`` (default: ``valid_dl``), each batch weighted by its number of
        targets, and each metric reduced over every row (see :class:`~lesson6lib.metrics.Metric`).
        A loss that is not finite (NaN in the inputs, say) raises rather than being reported."""
        dl = self.valid_dl if dl is None else dl
        if dl is None:
            raise ValueError("there is no valid_dl to evaluate on; pass a data loader")
        self.model.eval()
        loss_sum, count = 0.0, 0
        sums = {m.name: 0.0 for m in self.metrics}
        rows = dict.fromkeys(sums, 0)
        for batch in dl:
            xs, y = self._split(batch)
            pred = self._forward(xs)
            loss_sum += self._loss(pred, y).item() * y.numel()
            count += y.numel()
            for m in self.metrics:
                values = m.per_row(pred, y)
                sums[m.name] += values.double().sum().item()
                rows[m.name] += values.numel()
        if count == 0:
            raise ValueError("the data loader yielded no batch")
        if not math.isfinite(loss_sum):
            raise FloatingPointError(
                f"the validation loss is {loss_sum / count}: are there NaN or infinite inputs?"
            )
        return {"loss": loss_sum / count} | {
            m.name: m.finish(sums[m.name] / rows[m.name]) for m in self.metrics
        }

    @torch.no_grad()
    def predict(self, data: Iterable[Batch] | Tensor) -> Tensor:
        """The model's outputs, on the CPU, for a tensor of inputs or for every batch of a loader
        (whose last element, the target, is ignored)."""
        self.model.eval()
        if isinstance(data, Tensor):
            return prediction(self.model(data.to(self.device))).cpu()
        outs = [prediction(self.model(*self._split(batch)[0])).cpu() for batch in data]
        if not outs:
            raise ValueError("the data loader yielded no batch")
        return torch.cat(outs)

    def lr_find(self, **kwargs) -> LRFinderResult:
        """The LR range test on this model, loss, optimizer and training data (see
        :func:`lesson6lib.lr_find.lr_find`); the weights and optimizer are restored after."""
        batches = (tuple(t.to(self.device) for t in batch) for batch in self.train_dl)
        return lr_find(self.model, self._loss, batches, self.optimizer, **kwargs)

    # -- saving -------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the model's and the optimizer's state (see :func:`lesson6lib.checkpoint.save`)."""
        return checkpoint.save(path, self.model, self.optimizer)

    def load(self, path: str | Path, with_optimizer: bool = True) -> Learner:
        """Read what :meth:`save` wrote onto this learner's device; the file is checked against
        the model (and optimizer) before anything changes (see
        :func:`lesson6lib.checkpoint.load`)."""
        checkpoint.load(path, self.model, self.optimizer if with_optimizer else None, self.device)
        return self
