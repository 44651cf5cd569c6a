"""Collaborative filtering: id encoding, splits, and three models of a rating.

All three models take ``(users, items)``, two tensors of contiguous integer codes from
:class:`IdEncoder`, and return one predicted rating per row. Code 0 is reserved for ids the
encoder did not see when it was fitted: its embedding and bias start at zero and, since no
training row uses it, stay there, so an unknown user or item gets the "average" prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from lesson6lib.batches import TensorBatches

__all__ = [
    "CollabData",
    "EmbeddingDot",
    "EmbeddingDotBias",
    "EmbeddingNet",
    "IdEncoder",
    "collab_data",
    "random_split",
    "sigmoid_range",
    "time_split",
]

UNKNOWN = 0


class IdEncoder:
    """Maps raw ids (user or movie ids) to codes 1..n in order of first appearance in ``fit``;
    code 0 stands for an id not seen in ``fit``. ``transform(..., unknown="raise")`` refuses such
    ids instead, naming a few of them."""

    def fit(self, ids: Sequence | np.ndarray | pd.Series) -> IdEncoder:
        uniques = pd.unique(pd.Series(np.asarray(ids)))
        if len(uniques) == 0:
            raise ValueError("IdEncoder.fit got no ids")
        self.classes_ = np.asarray(uniques)
        self._index = pd.Index(self.classes_)
        return self

    @property
    def n_codes(self) -> int:
        """How many codes a model's embedding needs: the known ids plus the unknown code 0."""
        return len(self.classes_) + 1

    def transform(self, ids, unknown: str = "code") -> np.ndarray:
        """Codes for ``ids``: 1..n for known ids; unknown ids get 0, or raise with
        ``unknown="raise"``."""
        if not hasattr(self, "classes_"):
            raise RuntimeError("IdEncoder is not fitted: call fit() first")
        if unknown not in ("code", "raise"):
            raise ValueError(f"unknown must be 'code' or 'raise', got {unknown!r}")
        pos = self._index.get_indexer(np.asarray(ids))
        missing = pos < 0
        if missing.any() and unknown == "raise":
            examples = pd.unique(np.asarray(ids)[missing])[:5].tolist()
            raise KeyError(f"{int(missing.sum())} ids were not seen in fit, e.g. {examples}")
        return np.where(missing, UNKNOWN, pos + 1).astype(np.int64)

    def inverse(self, codes) -> np.ndarray:
        """The ids behind codes 1..n (code 0 has no id)."""
        codes = np.asarray(codes)
        if (codes < 1).any() or (codes > len(self.classes_)).any():
            raise ValueError(f"codes must be in 1..{len(self.classes_)}")
        return self.classes_[codes - 1]


def random_split(n: int, valid_pct: float = 0.2, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """Row indices for a random ``valid_pct`` validation set and the rest, from a seeded NumPy
    generator (the same split every time for the same ``n`` and ``seed``)."""
    if not 0 < valid_pct < 1:
        raise ValueError(f"valid_pct must be in (0, 1), got {valid_pct}")
    if n < 2:
        raise ValueError(f"need at least 2 rows to split, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    cut = max(1, round(n * valid_pct))
    return np.sort(order[cut:]), np.sort(order[:cut])


def time_split(
    times: pd.Series | np.ndarray, valid_pct: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """The latest ``valid_pct`` of rows (by ``times``) for validation, the earlier ones for
    training: the model is then judged on the future, as in production."""
    if not 0 < valid_pct < 1:
        raise ValueError(f"valid_pct must be in (0, 1), got {valid_pct}")
    order = np.argsort(np.asarray(times), kind="stable")
    cut = len(order) - max(1, round(len(order) * valid_pct))
    return np.sort(order[:cut]), np.sort(order[cut:])


def sigmoid_range(x: Tensor, low: float, high: float) -> Tensor:
    """Squash ``x`` into (low, high): low + (high - low) * sigmoid(x)."""
    return low + (high - low) * torch.sigmoid(x)


def _embedding(n: int, dim: int) -> nn.Embedding:
    emb = nn.Embedding(n, dim)
    nn.init.normal_(emb.weight, std=0.01)
    with torch.no_grad():
        emb.weight[UNKNOWN] = 0  # the unknown code predicts from the rest alone
    return emb


def _check_codes(users: Tensor, items: Tensor, n_users: int, n_items: int) -> None:
    if users.shape != items.shape or users.dim() != 1:
        raise ValueError(
            f"users and items must be 1-D and the same length, got {tuple(users.shape)} and "
            f"{tuple(items.shape)}"
        )
    for name, codes, n in (("users", users, n_users), ("items", items, n_items)):
        if codes.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"{name} must be integer codes, got {codes.dtype}")
        if len(codes) and (codes.min() < 0 or codes.max() >= n):
            raise ValueError(
                f"{name} codes must be in 0..{n - 1}, got {int(codes.min())}..{int(codes.max())}"
            )


class _Factors(nn.Module):
    """What the three models share: a vector of ``n_factors`` for every user and every item."""

    def __init__(self, n_users: int, n_items: int, n_factors: int) -> None:
        super().__init__()
        self.n_users, self.n_items = n_users, n_items
        self.u = _embedding(n_users, n_factors)
        self.i = _embedding(n_items, n_factors)


class EmbeddingDot(_Factors):
    """rating(u, i) = w_u . w_i: a user vector dotted with an item vector, nothing else."""

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50) -> None:
        super().__init__(n_users, n_items, n_factors)

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        _check_codes(users, items, self.n_users, self.n_items)
        return (self.u(users) * self.i(items)).sum(dim=1)


class EmbeddingDotBias(_Factors):
    """rating(u, i) = low + (high - low) sigmoid(w_u . w_i + b_u + b_i): the dot product plus a
    bias per user (a harsh or generous rater) and per item (a good or bad movie), squashed into
    ``y_range``."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_factors: int = 50,
        y_range: tuple[float, float] = (0.0, 5.5),
    ) -> None:
        super().__init__(n_users, n_items, n_factors)
        self.y_range = y_range
        self.ub = _embedding(n_users, 1)
        self.ib = _embedding(n_items, 1)

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        _check_codes(users, items, self.n_users, self.n_items)
        dot = (self.u(users) * self.i(items)).sum(dim=1)
        logits = dot + self.ub(users).squeeze(1) + self.ib(items).squeeze(1)
        return sigmoid_range(logits, *self.y_range)


class EmbeddingNet(_Factors):
    """rating(u, i) = low + (high - low) sigmoid(MLP([w_u, w_i])): the two vectors concatenated
    and fed through a hidden layer (with dropout) instead of a dot product."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_factors: int = 50,
        n_hidden: int = 10,
        dropout: tuple[float, float] = (0.05, 0.5),
        y_range: tuple[float, float] = (0.0, 5.5),
    ) -> None:
        super().__init__(n_users, n_items, n_factors)
        self.y_range = y_range
        self.emb_drop = nn.Dropout(dropout[0])
        self.hidden = nn.Linear(2 * n_factors, n_hidden)
        self.drop = nn.Dropout(dropout[1])
        self.out = nn.Linear(n_hidden, 1)

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        _check_codes(users, items, self.n_users, self.n_items)
        x = self.emb_drop(torch.cat([self.u(users), self.i(items)], dim=1))
        x = self.drop(torch.relu(self.hidden(x)))
        return sigmoid_range(self.out(x).squeeze(1), *self.y_range)


@dataclass
class CollabData:
    """A ratings frame split, encoded and batched, ready for a
    :class:`~lesson6lib.learner.Learner`."""

    users: IdEncoder
    items: IdEncoder
    train: TensorBatches
    valid: TensorBatches
    train_idx: np.ndarray
    valid_idx: np.ndarray
    y_range: tuple[float, float]


def collab_data(
    ratings: pd.DataFrame,
    user_col: str = "userId",
    item_col: str = "movieId",
    rating_col: str = "rating",
    valid_pct: float = 0.2,
    split: str = "random",
    seed: int = 42,
    batch_size: int = 1024,
) -> CollabData:
    """Split ``ratings`` (randomly with ``seed``, or by ``timestamp``), fit the id encoders on
    the training rows only, and batch both parts. ``y_range`` is (0, max + 0.5) of the
    training ratings, so a sigmoid output can reach the top rating."""
    missing = [c for c in (user_col, item_col, rating_col) if c not in ratings.columns]
    if missing:
        raise ValueError(f"ratings has no column(s) {missing}; it has {list(ratings.columns)}")
    if ratings[[user_col, item_col, rating_col]].isna().any().any():
        raise ValueError("ratings has missing values in the user, item or rating column")
    if split == "random":
        train_idx, valid_idx = random_split(len(ratings), valid_pct, seed)
    elif split == "time":
        if "timestamp" not in ratings.columns:
            raise ValueError("split='time' needs a 'timestamp' column")
        train_idx, valid_idx = time_split(ratings["timestamp"], valid_pct)
    else:
        raise ValueError(f"split must be 'random' or 'time', got {split!r}")
    train, valid = ratings.iloc[train_idx], ratings.iloc[valid_idx]
    users = IdEncoder().fit(train[user_col])
    items = IdEncoder().fit(train[item_col])

    def tensors(frame: pd.DataFrame) -> tuple[Tensor, Tensor, Tensor]:
        return (
            torch.from_numpy(users.transform(frame[user_col])),
            torch.from_numpy(items.transform(frame[item_col])),
            torch.tensor(frame[rating_col].to_numpy(), dtype=torch.float32),
        )

    high = float(train[rating_col].max())
    return CollabData(
        users=users,
        items=items,
        train=TensorBatches(*tensors(train), batch_size=batch_size, shuffle=True, seed=seed),
        valid=TensorBatches(*tensors(valid), batch_size=4 * batch_size),
        train_idx=train_idx,
        valid_idx=valid_idx,
        y_range=(0.0, high + 0.5),
    )
