"""Reading a CSV data file into a typed pandas frame, with its schema and row count checked."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lesson6lib.data.files import DataError, DataFile, DataIntegrityError, locate
from lesson6lib.data.settings import unreadable

__all__ = ["TableSpec", "read_table", "read_text"]

# What pandas and the gzip module raise on a truncated, corrupt or mistyped file.
_READ_ERRORS = (
    ValueError,
    TypeError,
    EOFError,
    OSError,
    gzip.BadGzipFile,
    zlib.error,
    UnicodeDecodeError,
    pd.errors.ParserError,
)


@dataclass(frozen=True)
class TableSpec:
    """The schema of one CSV file.

    ``columns`` is the exact header, in order. ``dtypes`` gives a pandas dtype per column (the
    rest are inferred). ``dates`` are ISO dates (``YYYY-MM-DD``), ``unix_times`` are seconds since
    1970 (read as UTC datetimes). ``rows`` is the expected number of data rows, if known.
    """

    columns: tuple[str, ...]
    dtypes: dict[str, str] = field(default_factory=dict)
    dates: tuple[str, ...] = ()
    unix_times: tuple[str, ...] = ()
    rows: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))


def _wrap(path: Path, err: BaseException) -> DataError:
    if isinstance(err, PermissionError):  # not a damaged file: one we may not read
        return unreadable(path, err)
    return DataIntegrityError(
        f"{path} could not be read as the expected table ({type(err).__name__}: {err}); "
        f"the file is truncated, corrupt or not the expected release"
    )


def _check_header(path: Path, spec: TableSpec) -> None:
    try:
        header = tuple(pd.read_csv(path, nrows=0).columns)
    except _READ_ERRORS as err:
        raise _wrap(path, err) from err
    if header != spec.columns:
        missing = [c for c in spec.columns if c not in header]
        extra = [c for c in header if c not in spec.columns]
        raise DataIntegrityError(
            f"{path} has columns {list(header)}, expected {list(spec.columns)} "
            f"(missing: {missing or 'none'}; unexpected: {extra or 'none'})"
        )


def read_table(file: DataFile, spec: TableSpec) -> pd.DataFrame:
    """Locate ``file`` (see :func:`~lesson6lib.data.files.locate`) and read it per ``spec``."""
    path = locate(file)
    _check_header(path, spec)
    try:
        frame = pd.read_csv(path, dtype=spec.dtypes or None, keep_default_na=True)
        for col in spec.dates:
            frame[col] = pd.to_datetime(frame[col], format="%Y-%m-%d")
        for col in spec.unix_times:
            frame[col] = pd.to_datetime(frame[col], unit="s", utc=True)
    except _READ_ERRORS as err:
        raise _wrap(path, err) from err
    if spec.rows is not None and len(frame) != spec.rows:
        raise DataIntegrityError(
            f"{path} has {len(frame):,} data rows, expected {spec.rows:,}: "
            f"the file is truncated or a different release"
        )
    return frame


def read_text(file: DataFile, chars: int | None = None) -> str:
    """Locate ``file`` and read it as UTF-8 text, checking its length in characters."""
    path = locate(file)
    try:
        text = path.read_text(encoding="utf-8")
    except _READ_ERRORS as err:
        raise _wrap(path, err) from err
    if chars is not None and len(text) != chars:
        raise DataIntegrityError(
            f"{path} has {len(text):,} characters, expected {chars:,}: "
            f"the file is truncated or a different text"
        )
    return text
