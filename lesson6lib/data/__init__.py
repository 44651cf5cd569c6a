"""The lesson's data sets: MovieLens, the Nietzsche text and Rossmann.

Each loader returns pandas frames (or the text) with their dtypes set, and checks the file's
sha256, header and row count. Files are looked for in ``$LESSON6_DATA/<dataset>/``, then in the
user cache, then downloaded from the official address (see :mod:`lesson6lib.data.files`).
"""

from lesson6lib.data import movielens, nietzsche, rossmann
from lesson6lib.data.files import (
    DataError,
    DataFile,
    DataIntegrityError,
    DataNotFoundError,
    cache_root,
    data_root,
    locate,
)

__all__ = [
    "DataError",
    "DataFile",
    "DataIntegrityError",
    "DataNotFoundError",
    "cache_root",
    "data_root",
    "locate",
    "movielens",
    "nietzsche",
    "rossmann",
]
