"""Rossmann Store Sales (Kaggle, 2015) and the extra tables fast.ai added for the lesson.

Tables: ``train`` (1,017,209 daily sales of 1,115 stores, 2013-01-01 to 2015-07-31), ``test``
(41,088 rows to predict, 2015-08-01 to 2015-09-17), ``store``, ``sample_submission``, and the
extras ``store_states``, ``state_names``, ``googletrend`` and ``weather``. Folder under
``$LESSON6_DATA``: ``rossmann/`` (``train.csv.gz`` or ``train.csv``; the other files as named).

Where it comes from: Kaggle's competition page (an account and accepting the competition rules
are needed to download) or fast.ai's bundle ``rossmann.tgz``, which holds every table; this module
downloads the bundle. The data may be used for the competition and for non-commercial study; the
rules give no right to redistribute it.
"""

from __future__ import annotations

import pandas as pd

from lesson6lib.data.files import DataFile
from lesson6lib.data.tables import TableSpec, read_table

__all__ = ["FASTAI_BUNDLE", "KAGGLE_PAGE", "TABLES", "data_file", "load_all", "load_table"]

FASTAI_BUNDLE = "http://files.fast.ai/part2/lesson14/rossmann.tgz"
"""fast.ai's archive of every table, the one the loaders download."""
KAGGLE_PAGE = "https://www.kaggle.com/c/rossmann-store-sales/data"
"""The competition's data page (downloads there need a Kaggle account)."""
_NOTE = (
    f"the Kaggle files need an account and the competition rules accepted ({KAGGLE_PAGE}); "
    f"fast.ai's bundle {FASTAI_BUNDLE} holds every table."
)

_WEATHER_NUMBERS = (
    "Max_TemperatureC Mean_TemperatureC Min_TemperatureC Dew_PointC MeanDew_PointC Min_DewpointC "
    "Max_Humidity Mean_Humidity Min_Humidity Max_Sea_Level_PressurehPa Mean_Sea_Level_PressurehPa "
    "Min_Sea_Level_PressurehPa Max_VisibilityKm Mean_VisibilityKm Min_VisibilitykM "
    "Max_Wind_SpeedKm_h Mean_Wind_SpeedKm_h Max_Gust_SpeedKm_h Precipitationmm CloudCover"
).split()

# name -> (accepted files with their sha256 digests, schema with row count)
_TABLES: dict[str, tuple[dict[str, tuple[str, ...]], TableSpec]] = {
    "train": (
        {
            "train.csv.gz": ("5e569f126ba96c3dd68a51672fde398b77a4e9879e3b9ec6c4c2f11715e19e5a",),
            "train.csv": ("f6e4597c142d7d909a13d53b68a8e85c00b9a4c7b5ff40adbb37d6829cc1f4cc",),
        },
        TableSpec(
            columns=(
                "Store DayOfWeek Date Sales Customers Open Promo StateHoliday SchoolHoliday"
            ).split(),
            dtypes={
                "Store": "int16",
                "DayOfWeek": "int8",
                "Sales": "int32",
                "Customers": "int32",
                "Open": "int8",
                "Promo": "int8",
                "StateHoliday": "string",
                "SchoolHoliday": "int8",
            },
            dates=("Date",),
            rows=1_017_209,
        ),
    ),
    "test": (
        {"test.csv": ("e75f79972de046d88c2fd55da19df627f5ca654aaf418090d4d30c60ea7dbe26",)},
        TableSpec(
            columns=("Id Store DayOfWeek Date Open Promo StateHoliday SchoolHoliday").split(),
            dtypes={
                "Id": "int32",
                "Store": "int16",
                "DayOfWeek": "int8",
                "Open": "Int8",
                "Promo": "int8",
                "StateHoliday": "string",
                "SchoolHoliday": "int8",
            },
            dates=("Date",),
            rows=41_088,
        ),
    ),
    "store": (
        {"store.csv": ("f56bd124a2849489e6bbb5c000f5fc9640204355e316475c918ae4d089afb344",)},
        TableSpec(
            columns=(
                "Store StoreType Assortment CompetitionDistance CompetitionOpenSinceMonth "
                "CompetitionOpenSinceYear Promo2 Promo2SinceWeek Promo2SinceYear PromoInterval"
            ).split(),
            dtypes={
                "Store": "int16",
                "StoreType": "string",
                "Assortment": "string",
                "CompetitionDistance": "float32",
                "CompetitionOpenSinceMonth": "Int8",
                "CompetitionOpenSinceYear": "Int16",
                "Promo2": "int8",
                "Promo2SinceWeek": "Int8",
                "Promo2SinceYear": "Int16",
                "PromoInterval": "string",
            },
            rows=1_115,
        ),
    ),
    "sample_submission": (
        {
            "sample_submission.csv": (
                "592d892eb07072ddfa3773f13c4822ce5d01981243134c8d512ae30f016805db",
            )
        },
        TableSpec(columns=("Id", "Sales"), dtypes={"Id": "int32", "Sales": "int32"}, rows=41_088),
    ),
    "store_states": (
        {"store_states.csv": ("86df632ad7469a4ed961df9844ff8a15ef9cbcd545514945a7291ccfb32b9797",)},
        TableSpec(
            columns=("Store", "State"), dtypes={"Store": "int16", "State": "string"}, rows=1_115
        ),
    ),
    "state_names": (
        {"state_names.csv": ("666b1b79e3af47040c16fc0a7fb06193915e16ebe73ab1160c2ed506132beee9",)},
        TableSpec(
            columns=("StateName", "State"),
            dtypes={"StateName": "string", "State": "string"},
            rows=16,
        ),
    ),
    "googletrend": (
        # The project's copy, rebuilt from the raw series, and fast.ai's own file.
        {
            "googletrend.csv": (
                "9b4621fc5253343cb4a56e7f2a0a513f1cfe6cd3ce948ad4fe07166c99e1c01f",
                "87c8a0dc6830a26b939ff89084cf128a32a0222c73fbcd38f4c804e6f7e305c2",
            )
        },
        TableSpec(
            columns=("file", "week", "trend"),
            dtypes={"file": "string", "week": "string", "trend": "int16"},
            rows=2_072,
        ),
    ),
    "weather": (
        {
            "weather.csv": (
                "952352f6b84bf2c475f6a9e08cbde0810a512bbfdf3ea9f32e5d0192d2478f77",
                "2df9748eb7bbd782b8e60d9973812232ffdc265e678e7da538bd8eff4ed2f090",
            )
        },
        TableSpec(
            columns=("file", "Date", *_WEATHER_NUMBERS, "Events", "WindDirDegrees"),
            dtypes={
                "file": "string",
                "Events": "string",
                "WindDirDegrees": "float32",
                **dict.fromkeys(_WEATHER_NUMBERS, "float32"),
            },
            dates=("Date",),
            rows=15_840,
        ),
    ),
}
TABLES: tuple[str, ...] = tuple(_TABLES)
"""The names :func:`load_table` accepts: the four Kaggle tables, then fast.ai's four."""


def _check_name(name: str) -> None:
    if name not in _TABLES:
        raise ValueError(f"table must be one of {list(TABLES)}, got {name!r}")


def data_file(name: str) -> DataFile:
    """The :class:`DataFile` of one table (``"train"``, ``"store"``, ...)."""
    _check_name(name)
    digests, _ = _TABLES[name]
    names = tuple(digests)
    return DataFile(
        dataset="rossmann",
        names=names,
        url=FASTAI_BUNDLE,
        member=names[-1],  # the bundle holds plain CSVs
        sha256=dict(digests),
        note=_NOTE,
    )


def load_table(name: str) -> pd.DataFrame:
    """One Rossmann table as a typed frame (dates as datetimes, missing ints as ``<NA>``)."""
    _check_name(name)
    return read_table(data_file(name), _TABLES[name][1])


def load_all() -> dict[str, pd.DataFrame]:
    """Every table, keyed by name, in the order of :data:`TABLES`."""
    return {name: load_table(name) for name in TABLES}
