"""Tabular preprocessing for the Rossmann pages: checked joins, date parts, competition and promo
features, elapsed-event features, categorical codes and scaling fitted on train, and RMSPE.

Every function returns a new frame and leaves its input alone. Encoders follow scikit-learn's
fit/transform: fitted on the training rows only, then applied to validation and test rows with
the same codes and statistics (the lesson's ``train_cats`` then ``apply_cats``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "CategoryEncoder",
    "ContinuousScaler",
    "add_datepart",
    "competition_features",
    "day_keys",
    "elapsed_features",
    "join_checked",
    "require_columns",
    "rmspe",
    "rolling_counts",
]

_DAY = np.timedelta64(1, "D")


def require_columns(df: pd.DataFrame, columns: Sequence[str], who: str) -> None:
    """Raise a ValueError naming ``who`` and every column of ``columns`` that ``df`` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{who}: the frame has no column(s) {missing}")


def join_checked(
    left: pd.DataFrame,
    right: pd.DataFrame,
    on: str | Sequence[str],
    right_on: str | Sequence[str] | None = None,
    suffix: str = "_y",
) -> pd.DataFrame:
    """``left`` left-joined with ``right``, checked to lose and add nothing: every left row
    finds exactly one right row. Raises naming the keys otherwise."""
    on = [on] if isinstance(on, str) else list(on)
    right_on = (
        on if right_on is None else ([right_on] if isinstance(right_on, str) else list(right_on))
    )
    require_columns(left, on, "join_checked (left)")
    require_columns(right, right_on, "join_checked (right)")
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


def competition_features(df: pd.DataFrame) -> pd.DataFrame:
    """The lesson's store features, on a frame with ``Date`` and the store table's columns:

    - missing CompetitionOpenSince year/month become 1900/1, missing Promo2Since year/week 1900/1;
    - CompetitionDaysOpen = days since the 15th of the opening month, at least 0, and 0 for
      openings before 1990; CompetitionMonthsOpen = those days // 30, capped at 24;
    - Promo2Days = days since the Monday of Promo2's ISO start week, at least 0;
      Promo2Weeks = those days // 7, clipped to [0, 25].
    """
    cols = [
        "Date",
        "CompetitionOpenSinceYear",
        "CompetitionOpenSinceMonth",
        "Promo2SinceYear",
        "Promo2SinceWeek",
    ]
    require_columns(df, cols, "competition_features")
    out = df.copy()
    year = out["CompetitionOpenSinceYear"].fillna(1900).astype("int64")
    month = out["CompetitionOpenSinceMonth"].fillna(1).astype("int64")
    out["CompetitionOpenSinceYear"], out["CompetitionOpenSinceMonth"] = year, month
    opened = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": 15}))
    days = (pd.to_datetime(out["Date"]) - opened) // pd.Timedelta(days=1)
    days = days.clip(lower=0).where(year >= 1990, 0)
    out["CompetitionDaysOpen"] = days
    out["CompetitionMonthsOpen"] = (days // 30).clip(upper=24)
    p_year = out["Promo2SinceYear"].fillna(1900).astype("int64")
    p_week = out["Promo2SinceWeek"].fillna(1).astype("int64")
    out["Promo2SinceYear"], out["Promo2SinceWeek"] = p_year, p_week
    iso = p_year.astype(str) + "-W" + p_week.astype(str).str.zfill(2) + "-1"
    monday = pd.to_datetime(iso, format="%G-W%V-%u")
    p_days = ((pd.to_datetime(out["Date"]) - monday) // pd.Timedelta(days=1)).clip(lower=0)
    out["Promo2Days"] = p_days
    out["Promo2Weeks"] = (p_days // 7).clip(0, 25)
    return out


def day_keys(
    df: pd.DataFrame, key: str = "Store", date: str = "Date"
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows sorted by (key, date), their day numbers, and one sortable int per (key, day):
    code(key) * 1,000,000 + day, so that two rows are the same key on consecutive days exactly
    when their ints differ by 1. Each (key, date) pair must appear once."""
    require_columns(df, [key, date], "elapsed/rolling features")
    if not df.index.is_unique:
        raise ValueError("the frame's index must be unique (reset_index() first)")
    ordered = df.sort_values([key, date], kind="stable")
    if ordered.duplicated([key, date]).any():
        raise ValueError(f"each ({key}, {date}) pair must appear once")
    days = (pd.to_datetime(ordered[date]).to_numpy() - np.datetime64("1970-01-01")) // _DAY
    store = pd.factorize(ordered[key], sort=True)[0].astype(np.int64)
    return ordered, days.astype(np.int64), store * 1_000_000 + days


def elapsed_features(
    df: pd.DataFrame, fields: Sequence[str], key: str = "Store", date: str = "Date"
) -> pd.DataFrame:
    """For each event column in ``fields`` (truthy = the event happens that day): ``After<f>``,
    days since the latest event on or before this day, and ``Before<f>``, days until the next
    event on or after it, within each ``key`` (store). 0 on the day itself; where there is no
    such event, 0 (the lesson's fill). Vectorised with sorted-key searches, no row loops."""
    require_columns(df, list(fields), "elapsed_features")
    ordered, days, keys = day_keys(df, key, date)
    out = ordered.copy()
    for field in fields:
        event = ordered[field].fillna(False).astype(bool).to_numpy()
        event_keys, event_days = keys[event], days[event]
        last = np.searchsorted(event_keys, keys, side="right") - 1
        ok = last >= 0
        ok[ok] &= event_keys[last[ok]] // 1_000_000 == keys[ok] // 1_000_000
        after = np.where(ok, days - event_days[np.clip(last, 0, None)], 0)
        nxt = np.searchsorted(event_keys, keys, side="left")
        ok = nxt < len(event_keys)
        ok[ok] &= event_keys[nxt[ok]] // 1_000_000 == keys[ok] // 1_000_000
        before = np.where(ok, event_days[np.clip(nxt, 0, len(event_keys) - 1)] - days, 0)
        out[f"After{field}"], out[f"Before{field}"] = after, before
    return out.loc[df.index]


def rolling_counts(
    df: pd.DataFrame, fields: Sequence[str], key: str = "Store", date: str = "Date", days: int = 7
) -> pd.DataFrame:
    """``<f>_bw``: how many of the ``days`` days ending today had the event; ``<f>_fw``: how
    many of the ``days`` days starting today, within each ``key``. Counted by date, so missing
    days count as no event."""
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
    """Integer codes for categorical columns, fitted on training rows: 1..n for the values seen
    in ``fit`` (in sorted order), 0 for missing values and for values never seen in ``fit``."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)

    def fit(self, df: pd.DataFrame) -> CategoryEncoder:
        require_columns(df, self.columns, "CategoryEncoder.fit")
        self.categories_ = {
            c: pd.Index(sorted(df[c].dropna().unique(), key=str)) for c in self.columns
        }
        return self

    @property
    def cardinalities(self) -> list[int]:
        """Codes per column, the unknown code included: the rows each embedding needs."""
        return [len(self.categories_[c]) + 1 for c in self.columns]

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """An int64 array (rows, columns) of codes, in the order of ``columns``."""
        if not hasattr(self, "categories_"):
            raise RuntimeError("CategoryEncoder is not fitted: call fit() first")
        require_columns(df, self.columns, "CategoryEncoder.transform")
        codes = [self.categories_[c].get_indexer(df[c]) + 1 for c in self.columns]
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


def rmspe(y_true, y_pred) -> float:
    """Root mean square percentage error, Kaggle's Rossmann metric:
    sqrt(mean(((y - y_hat) / y)^2)) over the rows with y != 0 (days with no sales are ignored)."""
    y, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {y.shape} and {p.shape}")
    keep = y != 0
    if not keep.any():
        raise ValueError("rmspe needs at least one non-zero true value")
    return float(np.sqrt(np.mean(((y[keep] - p[keep]) / y[keep]) ** 2)))
