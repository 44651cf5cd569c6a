"""Everything Rossmann-specific about the data: the lesson's feature pipeline, applied to train
and test together, and the closures analyses.

:func:`build_frame` joins every table onto the daily store rows of ``train`` and ``test`` (one
frame, with ``is_test`` telling them apart), adds date parts, the competition and Promo2 features,
days since and until holidays and promotions (the ``EVENTS`` columns), and 7-day counts of them.
Computing the event features on train and test together is what the 2018 notebook only did from
July 2018 on: the first test days need the last training days' events. A model's inputs are
``CATEGORICAL`` (the lesson's ``LESSON_CATEGORICAL`` and the two ``CLOSURE`` features) and
``CONTINUOUS``.

Two changes from the lesson. Google Trends rows are weekly, Sunday to Saturday, and are joined to
the week that *contains* each day. The lesson joined on (calendar year, ISO week of the Sunday),
which pairs most days with a neighbouring week and mismatches days around New Year. And two
features the lesson did not have, ``AfterClosure`` and ``BeforeClosure``: days since and until the
store's last and next closure on a day other than Sunday, capped at ``CLOSURE_HORIZON`` + 1 (which
also stands for "none"). Sales jump when a store reopens; only a frame that still holds the closed
days can compute these, which is why closed days are dropped after the features, not before.

:func:`load_frame` caches the result in the user cache as plain arrays (NumPy's ``.npz``, read
with ``allow_pickle=False``: a cache file can hold data only, never code), keyed by the input
files' sha256, the code that builds the frame and the pandas and NumPy versions.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from lesson6lib import tabular
from lesson6lib.checks import check_int
from lesson6lib.data import rossmann, tables
from lesson6lib.data.files import cache_root, locate, sha256_of, write_atomically

__all__ = [
    "CATEGORICAL",
    "CLOSURE",
    "CLOSURE_HORIZON",
    "CONTINUOUS",
    "EVENTS",
    "LESSON_CATEGORICAL",
    "around_closures",
    "build_frame",
    "closure_features",
    "closure_runs",
    "competition_features",
    "load_frame",
]

KEY, DATE = "Store", "Date"
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


def competition_features(df: pd.DataFrame) -> pd.DataFrame:
    """The lesson's store features, on a frame with ``Date`` and the store table's columns:

    - missing CompetitionOpenSince year/month become 1900/1, missing Promo2Since year/week 1900/1;
    - CompetitionDaysOpen = days since the 15th of the opening month, at least 0, and 0 for
      openings before 1990; CompetitionMonthsOpen = those days // 30, capped at 24;
    - Promo2Days = days since the Monday of Promo2's ISO start week, at least 0;
      Promo2Weeks = those days // 7, clipped to [0, 25].
    """
    store = "CompetitionOpenSinceYear CompetitionOpenSinceMonth Promo2SinceYear Promo2SinceWeek"
    tabular.require_columns(df, [DATE, *store.split()], "competition_features")
    out = df.copy()
    year = out["CompetitionOpenSinceYear"].fillna(1900).astype("int64")
    month = out["CompetitionOpenSinceMonth"].fillna(1).astype("int64")
    out["CompetitionOpenSinceYear"], out["CompetitionOpenSinceMonth"] = year, month
    opened = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": 15}))
    days = (pd.to_datetime(out[DATE]) - opened) // pd.Timedelta(days=1)
    days = days.clip(lower=0).where(year >= 1990, 0)
    out["CompetitionDaysOpen"] = days
    out["CompetitionMonthsOpen"] = (days // 30).clip(upper=24)
    p_year = out["Promo2SinceYear"].fillna(1900).astype("int64")
    p_week = out["Promo2SinceWeek"].fillna(1).astype("int64")
    out["Promo2SinceYear"], out["Promo2SinceWeek"] = p_year, p_week
    iso = p_year.astype(str) + "-W" + p_week.astype(str).str.zfill(2) + "-1"
    monday = pd.to_datetime(iso, format="%G-W%V-%u")
    p_days = ((pd.to_datetime(out[DATE]) - monday) // pd.Timedelta(days=1)).clip(lower=0)
    out["Promo2Days"] = p_days
    out["Promo2Weeks"] = (p_days // 7).clip(0, 25)
    return out


def closure_features(rows: pd.DataFrame, horizon: int = CLOSURE_HORIZON) -> pd.DataFrame:
    """``AfterClosure`` / ``BeforeClosure``: days since / until the store's last / next closure
    (``Open == 0``) on a day other than Sunday (``DayOfWeek`` 7), counted within each store;
    days further away than ``horizon``, and days with no such closure, get ``horizon + 1``.
    A missing ``Open`` counts as open."""
    horizon = check_int("horizon", horizon, low=0)
    tabular.require_columns(rows, [KEY, DATE, "Open", "DayOfWeek"], "closure_features")
    marked = rows.assign(Closure=(rows["Open"] == 0) & (rows["DayOfWeek"] != 7))
    out = tabular.elapsed_features(marked, ["Closure"], KEY, DATE, fill=horizon + 1)
    out[CLOSURE] = out[CLOSURE].clip(upper=horizon + 1)
    return out.drop(columns="Closure")


def build_frame(tables: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Train and test rows with every joined table and engineered feature (see module doc)."""
    t = rossmann.load_all() if tables is None else tables
    train = t["train"].assign(is_test=False)
    test = t["test"].assign(is_test=True, Sales=np.nan, Customers=np.nan)
    rows = pd.concat([train, test], ignore_index=True)
    rows["StateHoliday"] = rows["StateHoliday"] != "0"
    rows["Open"] = rows["Open"].astype("float64")  # 11 test rows are missing it
    store = tabular.join_checked(t["store"], t["store_states"], KEY)
    weather = tabular.join_checked(
        t["weather"], t["state_names"], "file", right_on="StateName"
    ).drop(columns=["file", "StateName"])
    states, germany = _trends(t["googletrend"])
    rows = tabular.join_checked(rows, store, KEY)
    rows["week"] = _week_start(rows[DATE])
    rows = tabular.join_checked(rows, states, ["State", "week"])
    rows = tabular.join_checked(rows, germany, "week")
    rows = tabular.join_checked(rows, weather, ["State", DATE])
    rows = tabular.add_datepart(rows, DATE)
    rows = competition_features(rows)
    rows = tabular.elapsed_features(rows, EVENTS, KEY, DATE, fill=0)
    rows = tabular.rolling_counts(rows, EVENTS, KEY, DATE)
    rows = closure_features(rows)
    return rows.drop(columns="week")


def closure_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """Every run of consecutive closed days (``Open == 0``) of each store: Store, first, last
    and days (the run's length). Rows must be one per (Store, Date); a missing day ends a run."""
    tabular.require_columns(frame, [KEY, DATE, "Open"], "closure_runs")
    rows, _, keys = tabular.day_keys(frame, KEY, DATE)
    closed = (rows["Open"] == 0).to_numpy()
    continues = np.r_[False, closed[:-1] & (np.diff(keys) == 1)]  # same store, next day
    run = np.cumsum(closed & ~continues)
    runs = pd.DataFrame(
        {"run": run[closed], KEY: rows[KEY].to_numpy()[closed], DATE: rows[DATE].to_numpy()[closed]}
    )
    out = runs.groupby("run").agg(
        Store=(KEY, "first"), first=(DATE, "min"), last=(DATE, "max"), days=(DATE, "size")
    )
    return out.reset_index(drop=True)


def around_closures(frame: pd.DataFrame, min_days: int = 3, reach: int = 10) -> pd.DataFrame:
    """Sales on the ``reach`` days before and after every closure of at least ``min_days``
    days, relative to the store's median sales on that weekday: one row per (closure, side,
    distance in days), for open days with sales only."""
    min_days, reach = check_int("min_days", min_days), check_int("reach", reach)
    tabular.require_columns(frame, [KEY, DATE, "Open", "Sales", "DayOfWeek"], "around_closures")
    runs = closure_runs(frame)
    runs = runs[runs["days"] >= min_days].reset_index(names="closure")
    open_days = frame[(frame["Open"] == 1) & (frame["Sales"] > 0)]
    typical = open_days.groupby([KEY, "DayOfWeek"])["Sales"].median().rename("typical")
    rows = open_days.join(typical, on=[KEY, "DayOfWeek"])
    rows = rows.assign(ratio=rows["Sales"] / rows["typical"])[[KEY, DATE, "ratio"]]
    day, sides = pd.Timedelta(days=1), (("before", "first", -1), ("after", "last", 1))
    parts = [
        runs[["closure", KEY]].assign(Date=runs[anchor] + sign * k * day, side=side, distance=k)
        for side, anchor, sign in sides
        for k in range(1, reach + 1)
    ]
    near = pd.concat(parts, ignore_index=True).merge(rows, on=[KEY, DATE])
    return near.sort_values(["closure", "side", "distance"], ignore_index=True)


# -- the cache: plain arrays only ------------------------------------------------------------


def _column_arrays(name: str, s: pd.Series) -> tuple[dict, dict[str, np.ndarray]]:
    """How one column is stored: its dtype for the JSON header, and plain arrays: the values of
    a NumPy column; else codes (-1 = missing) into an array of the distinct values."""
    dtype = s.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biufmM":
        return {"dtype": "numpy"}, {"values": s.to_numpy()}
    if isinstance(dtype, pd.StringDtype):
        na = "NA" if dtype.na_value is pd.NA else "nan"
        spec = {"dtype": "string", "storage": dtype.storage, "na": na}
    elif str(dtype) in ("object", "boolean") or str(dtype).startswith(("Int", "UInt")):
        spec = {"dtype": str(dtype)}
    else:
        raise TypeError(f"cannot cache column {name!r} of dtype {dtype}")
    codes, uniques = pd.factorize(s)
    distinct = np.array(uniques.tolist())  # one NumPy dtype, or the check below fails
    mixed = distinct.dtype == object or distinct.tolist() != uniques.tolist()
    if mixed or (spec["dtype"] == "object" and (codes < 0).any()):
        raise TypeError(f"cannot cache column {name!r}: mixed types, or missing in object")
    return spec, {"codes": codes, "distinct": distinct}


def _column(spec: dict, arrays: dict[str, np.ndarray], index: pd.Index) -> pd.Series:
    if spec["dtype"] == "numpy":
        return pd.Series(arrays["values"], index=index, copy=False)
    dtype, distinct = spec["dtype"], arrays["distinct"].astype(object)
    if dtype == "string":
        dtype = pd.StringDtype(spec["storage"], na_value=pd.NA if spec["na"] == "NA" else np.nan)
    if dtype != "object":
        distinct = pd.array(distinct, dtype=dtype)
    values = pd.api.extensions.take(distinct, arrays["codes"], allow_fill=True)  # -1: missing
    return pd.Series(values, index, dtype)


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as one ``.npz`` of plain arrays: a JSON header (columns, dtypes) and data."""
    header: dict[str, list] = {"columns": []}
    arrays = {"index": np.asarray(frame.index, dtype=np.int64)}
    for i, name in enumerate(frame.columns):
        meta, parts = _column_arrays(name, frame[name])
        header["columns"].append({"name": name, **meta})
        arrays |= {f"{i}/{part}": values for part, values in parts.items()}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _read_frame(path: Path) -> pd.DataFrame:
    """What :func:`_write_frame` wrote; raises on anything else (never unpickles)."""
    with np.load(path, allow_pickle=False) as npz:
        header, columns = json.loads(npz["header"].tobytes()), {}
        index = pd.Index(npz["index"])
        for i, meta in enumerate(header["columns"]):
            parts = {k.split("/", 1)[1]: npz[k] for k in npz.files if k.startswith(f"{i}/")}
            columns[meta["name"]] = _column(meta, parts, index)
    return pd.DataFrame(columns)


def _cache_key() -> str:
    """A hash of what the frame depends on: the input files, the code that reads and builds
    it, and the pandas and NumPy versions."""
    digest = hashlib.sha256()
    for name in rossmann.TABLES:
        digest.update(f"{name}:{sha256_of(locate(rossmann.data_file(name)))}\n".encode())
    for module in (tabular, tables, rossmann, sys.modules[__name__]):
        digest.update(inspect.getsource(module).encode())
    digest.update(f"pandas {pd.__version__} numpy {np.__version__}".encode())
    return digest.hexdigest()[:16]


def _warn(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def load_frame(refresh: bool = False) -> pd.DataFrame:
    """:func:`build_frame`'s result, read from the user cache when the inputs and code are
    unchanged (built and written there otherwise; never into ``LESSON6_DATA``). A cache file
    that cannot be read is built again; a cache that cannot be written gives a warning, and
    the frame is returned all the same."""
    folder = cache_root() / "rossmann-processed"
    path = folder / f"frame-{_cache_key()}.npz"
    if path.is_file() and not refresh:
        try:
            return _read_frame(path)
        except Exception as err:  # a corrupt or foreign file is never trusted: build again
            _warn(f"the cached Rossmann frame {path} is unreadable ({err!r}); building it again")
    frame = build_frame()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for old in set(folder.glob("frame-*")) - {path}:  # other keys' frames, old pickles
            old.unlink(missing_ok=True)
        write_atomically(path, lambda tmp: _write_frame(frame, tmp))
    except OSError as err:
        _warn(f"could not cache the Rossmann frame in {folder} ({err}); built again next time")
    return frame
