"""The Rossmann feature pipeline of the lesson, applied to train and test together.

:func:`build_frame` joins every table onto the daily store rows of ``train`` and ``test`` (one
frame, with ``is_test`` telling them apart), adds date parts, the competition and Promo2
features, days since and until holidays and promotions, and 7-day counts of them. Computing the
event features on train and test together is what the 2018 notebook only did from July 2018 on:
the first test days need the last training days' events.

Two changes from the lesson. Google Trends rows are weekly, Sunday to Saturday, and are joined to
the week that *contains* each day. The lesson joined on (calendar year, ISO week of the Sunday),
which pairs most days with a neighbouring week and mismatches days around New Year. And two
features the lesson did not have, ``AfterClosure`` and ``BeforeClosure``: days since and until the
store's last and next closure on a day other than Sunday, capped at ``CLOSURE_HORIZON`` + 1 (which
also stands for "none"). Sales jump when a store reopens; only a frame that still holds the closed
days can compute these, which is why closed days are dropped after the features, not before.

:func:`load_frame` caches the result in the user cache, keyed by the input files and this code.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from lesson6lib import tabular
from lesson6lib.data import rossmann
from lesson6lib.data.files import cache_root, locate

__all__ = [
    "CATEGORICAL",
    "CLOSURE",
    "CLOSURE_HORIZON",
    "CONTINUOUS",
    "EVENTS",
    "LESSON_CATEGORICAL",
    "build_frame",
    "closure_features",
    "load_frame",
]

EVENTS = ("SchoolHoliday", "StateHoliday", "Promo")
# The lesson's 22 categorical and 16 continuous inputs; CATEGORICAL adds the two closure features.
LESSON_CATEGORICAL = (
    "Store DayOfWeek Year Month Day StateHoliday CompetitionMonthsOpen Promo2Weeks StoreType "
    "Assortment PromoInterval CompetitionOpenSinceYear Promo2SinceYear State Week Events "
    "Promo_fw Promo_bw StateHoliday_fw StateHoliday_bw SchoolHoliday_fw SchoolHoliday_bw"
).split()
CLOSURE = ["AfterClosure", "BeforeClosure"]
CLOSURE_HORIZON = 14
CATEGORICAL = [*LESSON_CATEGORICAL, *CLOSURE]
CONTINUOUS = (
    "CompetitionDistance Max_TemperatureC Mean_TemperatureC Min_TemperatureC Max_Humidity "
    "Mean_Humidity Min_Humidity Max_Wind_SpeedKm_h Mean_Wind_SpeedKm_h CloudCover trend "
    "trend_DE AfterStateHoliday BeforeStateHoliday Promo SchoolHoliday"
).split()


def _week_start(dates: pd.Series) -> pd.Series:
    """The Sunday that starts the Sunday-to-Saturday week holding each date."""
    dates = pd.to_datetime(dates)
    return dates - pd.to_timedelta((dates.dt.day_of_week + 1) % 7, unit="D")


def _trends(googletrend: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-state weekly trends (State, week, trend) and the whole of Germany's (week, trend_DE)."""
    g = googletrend.copy()
    g["week"] = pd.to_datetime(g["week"].str.split(" - ").str[0])
    parts = g["file"].str.split("_")
    g["State"] = parts.str[2].replace({"NI": "HB,NI"})
    germany = g.loc[g["file"] == "Rossmann_DE", ["week", "trend"]].rename(
        columns={"trend": "trend_DE"}
    )
    states = g.loc[g["State"].notna(), ["State", "week", "trend"]]
    return states, germany


def closure_features(rows: pd.DataFrame, horizon: int = CLOSURE_HORIZON) -> pd.DataFrame:
    """``AfterClosure`` / ``BeforeClosure``: days since / until the store's last / next closure
    (``Open == 0``) on a day other than Sunday (``DayOfWeek`` 7), counted within each store;
    days further away than ``horizon``, and days with no such closure, get ``horizon + 1``.
    A missing ``Open`` counts as open."""
    tabular.require_columns(rows, ["Store", "Date", "Open", "DayOfWeek"], "closure_features")
    closed = (rows["Open"] == 0) & (rows["DayOfWeek"] != 7)
    elapsed = tabular.elapsed_features(rows.assign(Closure=closed), ["Closure"])
    out = rows.copy()
    for name in CLOSURE:
        days = elapsed[name].to_numpy()
        none = (days == 0) & ~closed.to_numpy()  # elapsed_features' 0 for "no closure"
        out[name] = np.where(none, horizon + 1, np.minimum(days, horizon + 1))
    return out


def build_frame(tables: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Train and test rows with every joined table and engineered feature (see module doc)."""
    t = rossmann.load_all() if tables is None else tables
    train = t["train"].assign(is_test=False)
    test = t["test"].assign(is_test=True, Sales=np.nan, Customers=np.nan)
    rows = pd.concat([train, test], ignore_index=True)
    rows["StateHoliday"] = rows["StateHoliday"] != "0"
    rows["Open"] = rows["Open"].astype("float64")  # 11 test rows are missing it
    store = tabular.join_checked(t["store"], t["store_states"], "Store")
    weather = tabular.join_checked(
        t["weather"], t["state_names"], "file", right_on="StateName"
    ).drop(columns=["file", "StateName"])
    states, germany = _trends(t["googletrend"])
    rows = tabular.join_checked(rows, store, "Store")
    rows["week"] = _week_start(rows["Date"])
    rows = tabular.join_checked(rows, states, ["State", "week"])
    rows = tabular.join_checked(rows, germany, "week")
    rows = tabular.join_checked(rows, weather, ["State", "Date"])
    rows = tabular.add_datepart(rows, "Date")
    rows = tabular.competition_features(rows)
    rows = tabular.elapsed_features(rows, EVENTS)
    rows = tabular.rolling_counts(rows, EVENTS)
    rows = closure_features(rows)
    return rows.drop(columns="week")


def _cache_key() -> str:
    digest = hashlib.sha256()
    for name in rossmann.TABLES:
        path = locate(rossmann.data_file(name))
        digest.update(f"{name}:{path.stat().st_size}:".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for module in (tabular, rossmann, inspect.getmodule(build_frame)):
        digest.update(inspect.getsource(module).encode())
    digest.update(pd.__version__.encode())
    return digest.hexdigest()[:16]


def load_frame(refresh: bool = False) -> pd.DataFrame:
    """:func:`build_frame`'s result, read from the user cache when the inputs and code are
    unchanged (built and written there otherwise; never into ``LESSON6_DATA``)."""
    folder = cache_root() / "rossmann-processed"
    path = folder / f"frame-{_cache_key()}.pkl"
    if path.is_file() and not refresh:
        return pd.read_pickle(path)
    frame = build_frame()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("frame-*.pkl"):
        old.unlink()
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    os.close(fd)
    try:
        frame.to_pickle(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return frame
