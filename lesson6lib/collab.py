"""Collaborative filtering: id encoding, splits, and three models of a rating.

All three models take ``(users, items)``, two tensors of contiguous integer codes from
:class:`IdEncoder`, and return one predicted rating per row. Code 0 is reserved for ids the
encoder did not see when it was fitted: its embedding and bias start at zero and, since no
training row uses it, stay there, so an unknown user or item gets the "average" prediction."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from lesson6lib.batches import TensorBatches
from lesson6lib.checks import check_choice, check_int, check_number
from lesson6lib.encoding import UNKNOWN, CodeEncoder
from lesson6lib.layers import sigmoid_range

__all__ = [
    "CollabData",
    "EmbeddingDot",
    "EmbeddingDotBias",
    "EmbeddingNet",
    "IdEncoder",
    "collab_data",
    "kfold_splits",
    "make_model",
    "most_similar",
    "random_split",
    "time_split",
]


class IdEncoder(CodeEncoder):
    """User or movie ids to codes 1..n, in order of first appearance in ``fit``; code 0 for an
    id not seen in ``fit`` (see :class:`lesson6lib.encoding.CodeEncoder`).
    ``transform(..., unknown="raise")`` refuses such ids instead, naming a few of them."""

    def __init__(self) -> None:
        super().__init__(order="appearance")

    def fit(self, ids) -> IdEncoder:
        super().fit(ids)
        if len(self.classes_) == 0:
            raise ValueError("IdEncoder.fit got no ids")
        return self


def random_split(n: int, valid_frac: float = 0.2, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """Row indices for a random ``valid_frac`` validation set and the rest, from a seeded NumPy
    generator (the same split every time for the same ``n`` and ``seed``)."""
    check_number("valid_frac", valid_frac, 0.0, 1.0, low_open=True, high_open=True)
    check_int("n", n, low=2)
    order = np.random.default_rng(seed).permutation(n)
    cut = max(1, round(n * valid_frac))
    return np.sort(order[cut:]), np.sort(order[:cut])


def time_split(
    times: pd.Series | np.ndarray, valid_frac: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """The latest ``valid_frac`` of rows (by ``times``) for validation, the earlier ones for
    training: the model is then judged on the future, as in production."""
    check_number("valid_frac", valid_frac, 0.0, 1.0, low_open=True, high_open=True)
    order = np.argsort(np.asarray(times), kind="stable")
    cut = len(order) - max(1, round(len(order) * valid_frac))
    return np.sort(order[:cut]), np.sort(order[cut:])


def kfold_splits(n: int, k: int = 5, seed: int = 42) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """k (train, valid) index pairs: the rows shuffled once with ``seed`` and cut into k folds;
    each fold is the validation set once. Pass each pair to :func:`collab_data` as ``split``."""
    check_int("k", k, low=2)
    check_int("n", n, low=k)
    folds = np.array_split(np.random.default_rng(seed).permutation(n), k)
    for i, valid in enumerate(folds):
        train = np.concatenate([f for j, f in enumerate(folds) if j != i])
        yield np.sort(train), np.sort(valid)


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

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50) -> None:
        super().__init__()
        self.n_users, self.n_items = n_users, n_items
        self.u = _embedding(n_users, n_factors)
        self.i = _embedding(n_items, n_factors)


class EmbeddingDot(_Factors):
    """rating(u, i) = w_u . w_i: a user vector dotted with an item vector, nothing else."""

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

    def counts(self, which: Literal["users", "items"]) -> np.ndarray:
        """How many training ratings each code has, indexed by code (code 0, unknown, has 0)."""
        check_choice("which", which, ("users", "items"))
        codes = self.train.tensors[0 if which == "users" else 1]
        encoder = self.users if which == "users" else self.items
        return np.bincount(codes.numpy(), minlength=encoder.n_codes)


Split = Literal["random", "time"] | tuple[np.ndarray, np.ndarray]


def _split_rows(
    ratings: pd.DataFrame, split: Split, valid_frac: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(split, tuple):
        if len(split) != 2:
            raise ValueError("split must be 'random', 'time' or a pair (train_idx, valid_idx)")
        train_idx, valid_idx = (np.asarray(part) for part in split)
        for name, idx in (("train", train_idx), ("valid", valid_idx)):
            if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer) or len(idx) == 0:
                raise ValueError(f"the {name} indices must be a non-empty 1-D integer array")
            if idx.min() < 0 or idx.max() >= len(ratings):
                raise ValueError(f"the {name} indices must be in 0..{len(ratings) - 1}")
        if np.intersect1d(train_idx, valid_idx).size:
            raise ValueError("the train and valid indices share rows")
        return train_idx, valid_idx
    check_choice("split", split, ("random", "time"))
    if split == "random":
        return random_split(len(ratings), valid_frac, seed)
    if "timestamp" not in ratings.columns:
        raise ValueError("split='time' needs a 'timestamp' column")
    return time_split(ratings["timestamp"], valid_frac)


def collab_data(
    ratings: pd.DataFrame,
    user_col: str = "userId",
    item_col: str = "movieId",
    rating_col: str = "rating",
    valid_frac: float = 0.2,
    split: Split = "random",
    seed: int = 42,
    batch_size: int = 1024,
) -> CollabData:
    """Split ``ratings`` (``split``: ``"random"`` with ``seed``, ``"time"`` by ``timestamp``, or
    an explicit pair of row-index arrays ``(train_idx, valid_idx)``, e.g. from
    :func:`kfold_splits`), fit the id encoders on the training rows only, and batch both parts.
    ``y_range`` is (0, max + 0.5) of the training ratings, so a sigmoid output can reach the top
    rating; ratings must therefore be >= 0 with a positive maximum."""
    missing = [c for c in (user_col, item_col, rating_col) if c not in ratings.columns]
    if missing:
        raise ValueError(f"ratings has no column(s) {missing}; it has {list(ratings.columns)}")
    if ratings[[user_col, item_col, rating_col]].isna().any().any():
        raise ValueError("ratings has missing values in the user, item or rating column")
    low, high = float(ratings[rating_col].min()), float(ratings[rating_col].max())
    if low < 0 or high <= 0:
        raise ValueError(
            f"{rating_col} must be >= 0 with a positive maximum (the model's range is "
            f"(0, max + 0.5)); got {low:g}..{high:g}"
        )
    train_idx, valid_idx = _split_rows(ratings, split, valid_frac, seed)
    train, valid = ratings.iloc[train_idx], ratings.iloc[valid_idx]
    users = IdEncoder().fit(train[user_col])
    items = IdEncoder().fit(train[item_col])

    def tensors(frame: pd.DataFrame) -> tuple[Tensor, Tensor, Tensor]:
        return (
            torch.from_numpy(users.transform(frame[user_col])),
            torch.from_numpy(items.transform(frame[item_col])),
            torch.tensor(frame[rating_col].to_numpy(), dtype=torch.float32),
        )

    return CollabData(
        users=users,
        items=items,
        train=TensorBatches(*tensors(train), batch_size=batch_size, shuffle=True, seed=seed),
        valid=TensorBatches(*tensors(valid), batch_size=4 * batch_size),
        train_idx=train_idx,
        valid_idx=valid_idx,
        y_range=(0.0, float(train[rating_col].max()) + 0.5),
    )


def make_model(
    kind: Literal["dot", "dotbias", "net"], data: CollabData, n_factors: int = 50
) -> nn.Module:
    """The model called ``kind`` sized for ``data``'s users and items (and its y_range)."""
    check_choice("kind", kind, ("dot", "dotbias", "net"))
    models = {"dot": EmbeddingDot, "dotbias": EmbeddingDotBias, "net": EmbeddingNet}
    kwargs = {} if kind == "dot" else {"y_range": data.y_range}
    return models[kind](data.users.n_codes, data.items.n_codes, n_factors, **kwargs)


def most_similar(
    vectors: Tensor | np.ndarray, code: int, k: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    r"""The ``k`` rows of ``vectors`` (one embedding per code) nearest to row ``code`` by cosine
    similarity $\cos(v, w) = v \cdot w / (\lVert v \rVert \lVert w \rVert)$, most similar first,
    as ``(codes, similarities)``; row ``code`` itself and all-zero rows (code 0) are left out."""
    v = np.asarray(vectors.detach().cpu() if isinstance(vectors, Tensor) else vectors, float)
    check_int("code", code, low=0)
    check_int("k", k, low=1)
    if v.ndim != 2 or code >= len(v) or not v[code].any():
        raise ValueError(f"vectors must be 2-D with a non-zero row code={code}; got {v.shape}")
    norms = np.linalg.norm(v, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sims = v @ v[code] / (norms * norms[code])
    sims[(norms == 0) | (np.arange(len(v)) == code)] = -np.inf
    order = np.argsort(-sims, kind="stable")[: min(k, int(np.isfinite(sims).sum()))]
    return order, sims[order]
