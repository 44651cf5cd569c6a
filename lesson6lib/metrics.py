"""Metrics, and how each one reduces over the batches of a data set.

A :class:`Metric` is a per-row quantity q and a reduction: ``"mean"`` reports mean(q) over every
row, ``"root_mean"`` reports sqrt(mean(q)). The training loop sums q over all rows of all
batches and reduces once at the end, so a root-mean metric (RMSE, RMSPE) is the root of the mean
over the whole data set, never a mean of per-batch roots (which reads low).

:func:`rmspe` is Kaggle's Rossmann metric on arrays of sales (NumPy, zero-sales rows skipped);
:func:`batch_mean_rmspe` is the way fastai 0.7's ``validate`` reported it in 2018, a mean of
per-batch RMSPEs, kept to compare with the lesson's printed numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from lesson6lib.checks import check_int

__all__ = ["Metric", "accuracy", "batch_mean_rmspe", "exp_rmspe", "mape", "rmse", "rmspe"]


@dataclass(frozen=True)
class Metric:
    """A named metric: ``per_row(pred, target)`` gives one value of q per row, and ``reduce``
    says how the mean of q over a data set becomes the metric (``"mean"`` or ``"root_mean"``).
    Called on one batch, it returns the metric of that batch alone."""

    name: str
    per_row: Callable[[Tensor, Tensor], Tensor]
    reduce: Literal["mean", "root_mean"] = "mean"

    def __post_init__(self) -> None:
        if self.reduce not in ("mean", "root_mean"):
            raise ValueError(f"reduce must be 'mean' or 'root_mean', got {self.reduce!r}")

    def finish(self, mean: float) -> float:
        """The metric from the mean of q over every row."""
        return math.sqrt(mean) if self.reduce == "root_mean" else mean

    def __call__(self, pred: Tensor, target: Tensor) -> Tensor:
        mean = self.per_row(pred, target).float().mean()
        return mean.sqrt() if self.reduce == "root_mean" else mean


def _squared_error(pred: Tensor, target: Tensor) -> Tensor:
    return (pred - target) ** 2


def _correct(pred: Tensor, target: Tensor) -> Tensor:
    return (pred.argmax(dim=-1) == target).float()


def _squared_pct_error_of_exp(pred: Tensor, target: Tensor) -> Tensor:
    # ((e^t - e^p) / e^t)^2 = (1 - e^(p - t))^2
    return (1 - torch.exp(pred - target)) ** 2


rmse = Metric("rmse", _squared_error, "root_mean")
"""Root mean squared error: sqrt(mean((pred - target)^2))."""

accuracy = Metric("accuracy", _correct)
"""Share of rows whose highest-scoring class is the target class."""

exp_rmspe = Metric("exp_rmspe", _squared_pct_error_of_exp, "root_mean")
"""RMSPE of the sales when ``pred`` and ``target`` are log sales:
sqrt(mean(((e^t - e^p) / e^t)^2)) = sqrt(mean((1 - e^(p - t))^2))."""


def _nonzero_rows(name: str, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """``y_true`` and ``y_pred`` as float64 arrays of one shape, without the rows where the
    true value is 0 (a percentage error is undefined there); at least one row must remain."""
    y, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {y.shape} and {p.shape}")
    keep = y != 0
    if not keep.any():
        raise ValueError(f"{name} needs at least one non-zero true value")
    return y[keep], p[keep]


def rmspe(y_true, y_pred) -> float:
    """Root mean square percentage error, Kaggle's Rossmann metric:
    sqrt(mean(((y - y_hat) / y)^2)) over the rows with y != 0 (days with no sales are ignored)."""
    y, p = _nonzero_rows("rmspe", y_true, y_pred)
    return float(np.sqrt(np.mean(((y - p) / y) ** 2)))


def mape(y_true, y_pred) -> float:
    """Mean absolute percentage error, the metric of the entity-embeddings paper:
    mean(|y - y_hat| / |y|) over the rows with y != 0 (as :func:`rmspe`, zero rows skipped)."""
    y, p = _nonzero_rows("mape", y_true, y_pred)
    return float(np.mean(np.abs(y - p) / np.abs(y)))


def batch_mean_rmspe(y_true, y_pred, batch_size: int) -> float:
    """RMSPE as fastai 0.7's ``validate`` reported it: the rows, in their order, are cut into
    consecutive batches of ``batch_size`` (the last one may be shorter), the RMSPE of each
    batch is computed, and the results are averaged with each batch weighted by its number of
    rows: sum_b n_b * sqrt(mean_b(((y - y_hat) / y)^2)) / n. A mean of roots is at most the
    root of the mean (Jensen), so this reads at or below :func:`rmspe` of the same rows.
    Every true value must be non-zero (the 2018 code divided by each one)."""
    batch_size = check_int("batch_size", batch_size)
    y, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y.ndim != 1 or y.shape != p.shape:
        raise ValueError(f"y_true and y_pred must be 1-D of one length: {y.shape}, {p.shape}")
    if len(y) == 0 or (y == 0).any():
        raise ValueError("batch_mean_rmspe needs at least one row and no zero true value")
    sq = ((y - p) / y) ** 2
    starts = np.arange(0, len(y), batch_size)
    counts = np.diff(np.append(starts, len(y)))
    roots = np.sqrt(np.add.reduceat(sq, starts) / counts)
    return float(np.sum(roots * counts) / len(y))
