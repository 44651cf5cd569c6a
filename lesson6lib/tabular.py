"""Generic tabular preprocessing: checked joins, date parts, elapsed-event and rolling-count
features per key (a store, a customer, ...), and categorical codes and scaling fitted on train.

Every function returns a new frame and leaves its input alone. Encoders follow scikit-learn's
fit/transform: fitted on the training rows only, then applied to validation and test rows with
the same codes and statistics (the lesson's ``train_cats`` then ``apply_cats``). Nothing here
knows about Rossmann: that is :mod:`lesson6lib.rossmann_features`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lesson6lib.checks import check_int
from lesson6lib.encoding import CodeEncoder

__all__ = [
    "DAY_KEY_STRIDE",
    "CategoryEncoder",
    "ContinuousScaler",
    "add_datepart",
    "day_keys",
    "elapsed_features",
    "join_checked",
    "key_codes",
    "pack_day_keys",
    "require_columns",
    "rolling_counts",
]

_DAY = np.timedelta64(1, "D")

DAY_KEY_STRIDE = 1_000_000
"""(key, day) pairs are packed into one int as code * DAY_KEY_STRIDE + day (days since 1970)."""


def require_columns(df: pd.DataFrame, columns: Sequence[str], who: str) -> None:
    """Raise a ValueError naming ``who`` and every column of ``columns`` that ``df`` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{who}: the frame has no column(s) {missing}")


def _as_list(columns: str | Sequence[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)


def _require_keys(df: pd.DataFrame, columns: list[str], side: str) -> None:
    """Missing keys would match each other in a merge (NaN == NaN there): refuse them."""
    require_columns(df, columns, f"join_checked ({side})")
    for column in columns:
        missing = int(df[column].isna().sum())
        if missing:
            raise ValueError(
                f"join_checked: {missing} {side} rows have a missing key in column {column!r}"
            )


def join_checked(
    left: pd.DataFrame,
    right: pd.DataFrame,
    on: str | Sequence[str],
    right_on: str | Sequence[str] | None = None,
    suffix: str = "_y",
) -> pd.DataFrame:
    """``left`` left-joined with ``right``, checked to lose and add nothing: every left row
    finds exactly one right row. Raises naming the keys otherwise, and naming the column when a
    key is missing (NaN) on either side."""
    on = _as_list(on)
    right_on = on if right_on is None else _as_list(right_on)
    _require_keys(left, on, "left")
    _require_keys(right, right_on, "right")
    dupes = right.duplicated(right_on).sum()
    if dupes:
        raise ValueError(
            f"join_checked: {dupes} right rows repeat a key {right_on}; rows would multiply"
        )
    merged = left.merge(
        right, how="left", left_on=on, right_on=right_on, suffixes=("", suffix), indicator=True
    )
    unmatched = int((merged["_merge"] == "left_only").sum())
    if unmatched:
        example = merged.loc[merged["_merge"] == "left_only", on].iloc[0].to_dict()
        raise ValueError(
            f"join_checked: {unmatched} left rows have no match on {on}, e.g. {example}"
        )
    return merged.drop(columns="_merge")


def add_datepart(df: pd.DataFrame, column: str, prefix: str = "") -> pd.DataFrame:
    """Columns describing a date: Year, Month, Week (ISO), Day, Dayofweek (0 = Monday),
    Dayofyear, the month/quarter/year start and end flags, and Elapsed (days since 1970)."""
    require_columns(df, [column], "add_datepart")
    date = pd.to_datetime(df[column])
    out = df.copy()
    parts = {
        "Year": date.dt.year,
        "Month": date.dt.month,
        "Week": date.dt.isocalendar().week.astype("int64"),
        "Day": date.dt.day,
        "Dayofweek": date.dt.day_of_week,
        "Dayofyear": date.dt.day_of_year,
        "Is_month_end": date.dt.is_month_end,
        "Is_month_start": date.dt.is_month_start,
        "Is_quarter_end": date.dt.is_quarter_end,
        "Is_quarter_start": date.dt.is_quarter_start,
        "Is_year_end": date.dt.is_year_end,
        "Is_year_start": date.dt.is_year_start,
        "Elapsed": (date - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1),
    }
    for name, values in parts.items():
        out[prefix + name] = values
    return out


def pack_day_keys(codes: np.ndarray, days: np.ndarray) -> np.ndarray:
    """One sortable int per (key code, day): code * DAY_KEY_STRIDE + day. Sorted, two rows are
    the same key on consecutive days exactly when their ints differ by 1."""
    days = np.asarray(days, dtype=np.int64)
    if len(days) and (days.min() < 0 or days.max() >= DAY_KEY_STRIDE):
        raise ValueError(f"days must be in [0, {DAY_KEY_STRIDE}) since 1970-01-01")
    return np.asarray(codes, dtype=np.int64) * DAY_KEY_STRIDE + days


def key_codes(keys: np.ndarray) -> np.ndarray:
    """The key codes of packed (key, day) ints (see :func:`pack_day_keys`)."""
    return keys // DAY_KEY_STRIDE


def day_keys(df: pd.DataFrame, key: str, date: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows sorted by (key, date), their day numbers, and their packed (key, day) ints
    (:func:`pack_day_keys`, with the key's rank as its code). Each (key, date) pair must appear
    once."""
    require_columns(df, [key, date], "elapsed/rolling features")
    if not df.index.is_unique:
        raise ValueError("the frame's index must be unique (reset_index() first)")
    ordered = df.sort_values([key, date], kind="stable")
    if ordered.duplicated([key, date]).any():
        raise ValueError(f"each ({key}, {date}) pair must appear once")
    days = (pd.to_datetime(ordered[date]).to_numpy() - np.datetime64("1970-01-01")) // _DAY
    codes = pd.factorize(ordered[key], sort=True)[0]
    return ordered, days.astype(np.int64), pack_day_keys(codes, days)


def _days_to_event(
    keys: np.ndarray, days: np.ndarray, event: np.ndarray, side: str, fill: int
) -> np.ndarray:
    """Days from each row to the latest event at or before it (``side="right"``) or to the
    earliest at or after it (``"left"``) of the same key code; ``fill`` where there is none."""
    event_keys, event_days = keys[event], days[event]
    if not len(event_keys):
        return np.full(len(keys), fill, dtype=np.int64)
    pos = np.searchsorted(event_keys, keys, side=side) - (side == "right")
    ok = (pos >= 0) & (pos < len(event_keys))
    pos = np.clip(pos, 0, len(event_keys) - 1)
    ok &= key_codes(event_keys[pos]) == key_codes(keys)
    return np.where(ok, np.abs(event_days[pos] - days), fill)


def elapsed_features(
    df: pd.DataFrame, fields: Sequence[str], key: str, date: str, *, fill: int
) -> pd.DataFrame:
    """For each event column in ``fields`` (truthy = the event happens that day): ``After<f>``,
    days since the latest event on or before this day, and ``Before<f>``, days until the next
    event on or after it, within each ``key``. 0 on the day itself; ``fill`` where there is no
    such event (the lesson used 0). Vectorised with sorted-key searches, no row loops."""
    fill = check_int("fill", fill, low=None)
    require_columns(df, list(fields), "elapsed_features")
    ordered, days, keys = day_keys(df, key, date)
    out = ordered.copy()
    for field in fields:
        event = ordered[field].fillna(False).astype(bool).to_numpy()
        out[f"After{field}"] = _days_to_event(keys, days, event, "right", fill)
        out[f"Before{field}"] = _days_to_event(keys, days, event, "left", fill)
    return out.loc[df.index]


def rolling_counts(
    df: pd.DataFrame, fields: Sequence[str], key: str, date: str, days: int = 7
) -> pd.DataFrame:
    """``<f>_bw``: how many of the ``days`` days ending today had the event; ``<f>_fw``: how
    many of the ``days`` days starting today, within each ``key``. Counted by date, so missing
    days count as no event."""
    days = check_int("days", days)
    require_columns(df, list(fields), "rolling_counts")
    ordered, _, keys = day_keys(df, key, date)
    out = ordered.copy()
    for field in fields:
        event = ordered[field].fillna(False).astype(np.int64).to_numpy()
        cum = np.concatenate([[0], np.cumsum(event)])
        start = np.searchsorted(keys, keys - (days - 1), side="left")
        end = np.searchsorted(keys, keys + (days - 1), side="right")
        idx = np.arange(len(keys))
        out[f"{field}_bw"] = cum[idx + 1] - cum[start]
        out[f"{field}_fw"] = cum[end] - cum[idx]
    return out.loc[df.index]


class CategoryEncoder:
    """Integer codes for categorical columns, fitted on training rows: one
    :class:`~lesson6lib.encoding.CodeEncoder` per column, ``order="sorted"``: 1..n for the
    values seen in ``fit`` (sorted by their text), 0 for missing values and for values never
    seen in ``fit``."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)

    def fit(self, df: pd.DataFrame) -> CategoryEncoder:
        require_columns(df, self.columns, "CategoryEncoder.fit")
        self.encoders_ = {c: CodeEncoder(order="sorted").fit(df[c]) for c in self.columns}
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "encoders_"):
            raise RuntimeError("CategoryEncoder is not fitted: call fit() first")

    @property
    def cardinalities(self) -> list[int]:
        """Codes per column, the unknown code included: the rows each embedding needs."""
        self._check_fitted()
        return [self.encoders_[c].n_codes for c in self.columns]

    def classes(self, column: str) -> np.ndarray:
        """The values behind codes 1..n of ``column`` (code 0, unknown, has none)."""
        self._check_fitted()
        if column not in self.encoders_:
            raise ValueError(f"column must be one of {self.columns}, got {column!r}")
        return self.encoders_[column].classes_

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """An int64 array (rows, columns) of codes, in the order of ``columns``."""
        self._check_fitted()
        require_columns(df, self.columns, "CategoryEncoder.transform")
        codes = [self.encoders_[c].transform(df[c]) for c in self.columns]
        return np.stack(codes, axis=1).astype(np.int64)


class ContinuousScaler:
    """Missing values filled with the training median, then (x - mean) / std with the training
    statistics; a constant column is only centred."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)

    def fit(self, df: pd.DataFrame) -> ContinuousScaler:
        require_columns(df, self.columns, "ContinuousScaler.fit")
        values = self._numbers(df)
        self.medians_ = values.median()
        filled = values.fillna(self.medians_)
        self.means_, self.stds_ = filled.mean(), filled.std(ddof=0).replace(0, 1.0)
        return self

    def _numbers(self, df: pd.DataFrame) -> pd.DataFrame:
        bad = [
            c
            for c in self.columns
            if not pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
        ]
        if bad:
            raise TypeError(f"ContinuousScaler: column(s) {bad} are not numeric")
        return df[self.columns].astype("float64")

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """A float32 array (rows, columns), in the order of ``columns``."""
        if not hasattr(self, "medians_"):
            raise RuntimeError("ContinuousScaler is not fitted: call fit() first")
        require_columns(df, self.columns, "ContinuousScaler.transform")
        values = self._numbers(df).fillna(self.medians_)
        return ((values - self.means_) / self.stds_).to_numpy(dtype=np.float32)
