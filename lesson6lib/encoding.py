"""Integer codes for the values of a column, the contract every embedding in the library relies
on: codes 1..n for the n values seen when fitting, code 0 for a value never seen there (or
missing), so that an embedding with n + 1 rows can look up any row of any later frame.

Collaborative filtering's user and movie ids number the values in order of first appearance
(:class:`lesson6lib.collab.IdEncoder`); the tabular model's categories number them sorted by
their text (:class:`lesson6lib.tabular.CategoryEncoder`). Both are this class.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from lesson6lib.checks import check_choice

__all__ = ["UNKNOWN", "CodeEncoder"]

UNKNOWN = 0
"""The code of a value not seen in ``fit``, or missing."""


def _kind(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_numeric_dtype(values):
        return "number"
    return "text"


class CodeEncoder:
    """Codes 1..n for the values seen in :meth:`fit`, 0 for missing or unseen ones.

    ``order="appearance"`` numbers the values in order of first appearance,
    ``order="sorted"`` in the order of their text (``str(value)``). Missing values (NaN, None)
    are never a known value. :meth:`transform` refuses values of another kind than the fitted
    ones (text for numbers, say), which would otherwise all become "unknown".
    """

    def __init__(self, order: Literal["appearance", "sorted"] = "appearance") -> None:
        self.order = check_choice("order", order, ("appearance", "sorted"))

    def fit(self, values) -> CodeEncoder:
        """Learn the known values from ``values`` (a Series or an array); returns ``self``."""
        series = pd.Series(np.asarray(values)) if not isinstance(values, pd.Series) else values
        known = series.dropna()
        uniques = pd.unique(known)
        if self.order == "sorted":
            uniques = sorted(uniques, key=str)
        self.classes_ = np.asarray(uniques)
        self.kind_ = _kind(known) if len(known) else None
        self._index = pd.Index(self.classes_)
        return self

    @property
    def n_codes(self) -> int:
        """How many rows an embedding needs: the known values plus the unknown code 0."""
        self._check_fitted()
        return len(self.classes_) + 1

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")

    def transform(self, values, unknown: Literal["code", "raise"] = "code") -> np.ndarray:
        """Codes for ``values`` (int64): 1..n for known values; 0 for missing and unseen ones,
        or a KeyError naming a few unseen ones with ``unknown="raise"``."""
        self._check_fitted()
        check_choice("unknown", unknown, ("code", "raise"))
        series = pd.Series(np.asarray(values)) if not isinstance(values, pd.Series) else values
        present = series.dropna()
        if self.kind_ is not None and len(present) and _kind(present) != self.kind_:
            raise TypeError(
                f"{type(self).__name__} was fitted on {self.kind_} values and got "
                f"{_kind(present)} values (e.g. {present.iloc[0]!r})"
            )
        pos = self._index.get_indexer(series)
        missing = pos < 0
        if unknown == "raise" and (missing & series.notna().to_numpy()).any():
            seen = series.notna().to_numpy() & missing
            examples = pd.unique(series[seen])[:5].tolist()
            raise KeyError(f"{int(seen.sum())} values were not seen in fit, e.g. {examples}")
        return np.where(missing, UNKNOWN, pos + 1).astype(np.int64)

    def inverse(self, codes) -> np.ndarray:
        """The values behind codes 1..n (code 0 has none)."""
        self._check_fitted()
        codes = np.asarray(codes)
        if (codes < 1).any() or (codes > len(self.classes_)).any():
            raise ValueError(f"codes must be in 1..{len(self.classes_)}")
        return self.classes_[codes - 1]
