"""MovieLens ``ml-latest-small`` (GroupLens Research): ratings, movies, tags and links.

Two releases are served: ``"2018"`` (generated 2018-09-26, the one GroupLens's official zip holds
now: 100,836 ratings by 610 users) and ``"2016"`` (generated 2016-10-17, the one the 2018 fast.ai
course loaded: 100,004 ratings by 671 users). Folders under ``$LESSON6_DATA``:
``movielens/ml-latest-small/`` and ``movielens/ml-latest-small-2016/``.

Licence: research use, cite Harper & Konstan (2015), https://doi.org/10.1145/2827872; see the
README.txt that ships with the data.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import pandas as pd

from lesson6lib.data.files import DataFile
from lesson6lib.data.tables import TableSpec, read_table

__all__ = [
    "FILES",
    "OFFICIAL_ZIP",
    "RELEASES",
    "data_file",
    "load_links",
    "load_movies",
    "load_ratings",
    "load_tags",
    "summary",
]

Release = Literal["2018", "2016"]
RELEASES: tuple[Release, ...] = ("2018", "2016")
"""The releases every loader accepts as ``release``; ``"2018"`` is the default."""
OFFICIAL_ZIP = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
"""GroupLens's zip of the 2018 release, where the 2018 files are downloaded from."""
# GroupLens no longer serves the 2016 release. This public copy, at a fixed commit, holds the
# original bytes; the sha256 below (matched by a second, unrelated copy) guards against any change.
_MIRROR_2016 = (
    "https://raw.githubusercontent.com/LoryPack/BPMF/"
    "d5dc75f14f75725093609e837fe8fadc9264713c/data/ml-latest-small/"
)
_FOLDER = {"2018": "movielens/ml-latest-small", "2016": "movielens/ml-latest-small-2016"}

_SHA256 = {
    "2018": {
        "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
        "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
        "tags.csv": "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d",
        "links.csv": "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31",
    },
    "2016": {
        "ratings.csv": "821795331fd974bbe7a8416f2a7eec2b548a485dedb47a073580b0a9a8a0a8d2",
        "movies.csv": "a87480009b75ecd8d1e8f70700c534b6aefd57eed31b087ce8268ef6061a166c",
        "tags.csv": "e0659bc6a79fb226cfaaedb9bc022fa611337d273badcc18325bebdc26a5e442",
        "links.csv": "772cb400f68f03cc61b112a544601d25571b168788dab7dc96f462d93059c49f",
    },
}
_ROWS = {
    "2018": {"ratings.csv": 100_836, "movies.csv": 9_742, "tags.csv": 3_683, "links.csv": 9_742},
    "2016": {"ratings.csv": 100_004, "movies.csv": 9_125, "tags.csv": 1_296, "links.csv": 9_125},
}
_SCHEMA = {
    "ratings.csv": TableSpec(
        columns=("userId", "movieId", "rating", "timestamp"),
        dtypes={"userId": "int32", "movieId": "int32", "rating": "float32", "timestamp": "int64"},
        unix_times=("timestamp",),
    ),
    "movies.csv": TableSpec(
        columns=("movieId", "title", "genres"),
        dtypes={"movieId": "int32", "title": "string", "genres": "string"},
    ),
    "tags.csv": TableSpec(
        columns=("userId", "movieId", "tag", "timestamp"),
        dtypes={"userId": "int32", "movieId": "int32", "tag": "string", "timestamp": "int64"},
        unix_times=("timestamp",),
    ),
    "links.csv": TableSpec(
        columns=("movieId", "imdbId", "tmdbId"),
        dtypes={"movieId": "int32", "imdbId": "int32", "tmdbId": "Int32"},
    ),
}
# The files of each release, as data_file() accepts them.
FILES: tuple[str, ...] = tuple(_SCHEMA)
"""The file names of a release, as :func:`data_file` takes them: ``ratings.csv``,
``movies.csv``, ``tags.csv`` and ``links.csv``."""


def _check_release(release: str) -> Release:
    if release not in RELEASES:
        raise ValueError(f"release must be one of {RELEASES}, got {release!r}")
    return release  # type: ignore[return-value]


def data_file(name: str, release: Release = "2018") -> DataFile:
    """The :class:`DataFile` for ``name`` (``ratings.csv``, ...) of one release."""
    release = _check_release(release)
    if name not in _SCHEMA:
        raise ValueError(f"name must be one of {list(FILES)}, got {name!r}")
    if release == "2018":
        return DataFile(
            dataset=_FOLDER[release],
            names=(name,),
            url=OFFICIAL_ZIP,
            member=f"ml-latest-small/{name}",
            sha256={name: (_SHA256[release][name],)},
        )
    return DataFile(
        dataset=_FOLDER[release],
        names=(name,),
        url=_MIRROR_2016 + name,
        sha256={name: (_SHA256[release][name],)},
        note="GroupLens no longer serves the 2016 release; the address is a public copy at a "
        "fixed commit, checked by sha256.",
    )


def _load(name: str, release: Release) -> pd.DataFrame:
    spec = replace(_SCHEMA[name], rows=_ROWS[release][name])
    return read_table(data_file(name, release), spec)


def load_ratings(release: Release = "2018") -> pd.DataFrame:
    """One row per rating: ``userId``, ``movieId`` (int32), ``rating`` (0.5 to 5 in half stars,
    float32), ``timestamp`` (UTC datetime)."""
    return _load("ratings.csv", _check_release(release))


def load_movies(release: Release = "2018") -> pd.DataFrame:
    """One row per movie: ``movieId``, ``title`` (with the year in brackets), ``genres``
    (``|``-separated)."""
    return _load("movies.csv", _check_release(release))


def load_tags(release: Release = "2018") -> pd.DataFrame:
    """Free-text tags users gave movies: ``userId``, ``movieId``, ``tag``, ``timestamp``."""
    return _load("tags.csv", _check_release(release))


def load_links(release: Release = "2018") -> pd.DataFrame:
    """Ids of each movie on IMDb and TMDB (``tmdbId`` may be missing)."""
    return _load("links.csv", _check_release(release))


def summary(ratings: pd.DataFrame, movies: pd.DataFrame) -> dict[str, object]:
    """The headline numbers of one release: counts, mean rating and the dates it spans."""
    return {
        "ratings": len(ratings),
        "users": ratings["userId"].nunique(),
        "movies rated": ratings["movieId"].nunique(),
        "movies listed": len(movies),
        "mean rating": round(float(ratings["rating"].mean()), 3),
        "first rating": ratings["timestamp"].min().date(),
        "last rating": ratings["timestamp"].max().date(),
    }
