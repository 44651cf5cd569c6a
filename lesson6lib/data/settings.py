"""The data layer's errors and its settings from the environment.

``LESSON6_DATA`` names a local copy of the data (read only), ``LESSON6_CACHE`` the user cache
(default: the platform's cache folder), ``LESSON6_OFFLINE`` forbids downloads; ``DATA_ENV``,
``CACHE_ENV`` and ``OFFLINE_ENV`` hold these three names. Each function takes an optional
``environ`` mapping (default ``os.environ``) and refuses a value it cannot use at once, naming
the variable, the value and what was expected. Everything here is re-exported by
:mod:`lesson6lib.data.files`; import it from there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

__all__ = [
    "CACHE_ENV",
    "DATA_ENV",
    "OFFLINE_ENV",
    "DataAccessError",
    "DataError",
    "DataIntegrityError",
    "DataNotFoundError",
    "cache_root",
    "data_root",
    "offline",
]

DATA_ENV, CACHE_ENV, OFFLINE_ENV = "LESSON6_DATA", "LESSON6_CACHE", "LESSON6_OFFLINE"


class DataError(Exception):
    """Base class of every data-layer error."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A data file is nowhere searched and could not be downloaded, or LESSON6_DATA is no folder."""


class DataIntegrityError(DataError, ValueError):
    """A data file is there but wrong: checksum, schema, row count, or a bad or unsafe archive."""


class DataAccessError(DataError, PermissionError):
    """A data file or folder cannot be read, or the user cache cannot be written."""


def _get(environ: Mapping[str, str] | None, name: str) -> str:
    return (os.environ if environ is None else environ).get(name, "")


def offline(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``$LESSON6_OFFLINE`` forbids downloads: ``1``/``true``/``yes``/``on`` do; ``0``/
    ``false``/``no``/``off``/empty/unset do not (any case); anything else is a ValueError."""
    raw = _get(environ, OFFLINE_ENV)
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(
        f"{OFFLINE_ENV} is set to {raw!r}; expected 1, true, yes or on (no downloads) or "
        f"0, false, no, off or empty (downloads allowed)"
    )


def data_root(environ: Mapping[str, str] | None = None) -> Path | None:
    """The folder named by ``$LESSON6_DATA``, ``None`` when unset. A value that names no folder
    raises :class:`DataNotFoundError` at once: a typo must not turn into a download."""
    raw = _get(environ, DATA_ENV).strip()
    if not raw:
        return None
    root = Path(raw).expanduser()
    try:
        is_dir, exists = root.is_dir(), root.exists()
    except PermissionError as err:
        raise unreadable(root, err, f" (from ${DATA_ENV})") from err
    if not is_dir:
        raise DataNotFoundError(
            f"{DATA_ENV} is set to {raw!r}, but {root} "
            f"{'is not a folder' if exists else 'does not exist'}; expected the folder that "
            f"holds the data sets (movielens/, nietzsche/, rossmann/). Fix the path, or unset "
            f"{DATA_ENV} to use the user cache and downloads."
        )
    return root


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """The user cache: ``$LESSON6_CACHE`` if set, else the platform's cache folder."""
    raw = _get(environ, CACHE_ENV).strip()
    if raw:
        return Path(raw).expanduser()
    return Path(platformdirs.user_cache_dir("lesson6lib", appauthor=False))


def unreadable(path: Path, err: OSError, where: str = "") -> DataAccessError:
    """The error for a data file or folder this process may not read."""
    return DataAccessError(
        f"cannot read {path}{where}: {err.strerror or err} ({type(err).__name__}); expected a "
        f"readable file or folder. Give your user read access, or point {DATA_ENV} or "
        f"{CACHE_ENV} at a copy you can read."
    )


def unwritable(root: Path, err: OSError) -> DataAccessError:
    """The error for a user cache this process may not write."""
    return DataAccessError(
        f"cannot write to the user cache {root}: {err.strerror or err} ({type(err).__name__}: "
        f"{getattr(err, 'filename', None) or root}). Set {CACHE_ENV} to a writable folder, or "
        f"set {DATA_ENV} to a folder that already holds the data."
    )
