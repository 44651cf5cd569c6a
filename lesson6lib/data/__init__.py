"""The lesson's data sets: MovieLens, the Nietzsche text and Rossmann.

Each loader returns pandas frames (or the text) with their dtypes set, and checks the file's
sha256, header and row count. Files are looked for in ``$LESSON6_DATA/<dataset>/``, then in the
user cache, then downloaded from the official address (see :mod:`lesson6lib.data.files`).
"""

from lesson6lib.data import movielens, nietzsche, rossmann
from lesson6lib.data.files import (
    DataAccessError,
    DataError,
    DataFile,
    DataIntegrityError,
    DataNotFoundError,
    cache_root,
    data_root,
    locate,
    offline,
    sha256_of,
    write_atomically,
)

__all__ = [
    "DataAccessError",
    "DataError",
    "DataFile",
    "DataIntegrityError",
    "DataNotFoundError",
    "cache_root",
    "data_files",
    "data_root",
    "locate",
    "movielens",
    "nietzsche",
    "offline",
    "rossmann",
    "sha256_of",
    "write_atomically",
]


def data_files() -> tuple[DataFile, ...]:
    """Every file the loaders read: MovieLens (both releases, every file), the Nietzsche text and
    every Rossmann table, in that order."""
    return (
        *(
            movielens.data_file(name, release)
            for release in movielens.RELEASES
            for name in movielens.FILES
        ),
        nietzsche.DATA_FILE,
        *(rossmann.data_file(name) for name in rossmann.TABLES),
    )
