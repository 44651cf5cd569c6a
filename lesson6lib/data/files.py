"""Finding, fetching and checking the lesson's data files.

Every file a loader needs is described by a :class:`DataFile`. :func:`locate` finds it in this
order and checks its sha256 (where known) before handing back a path:

1. ``$LESSON6_DATA/<dataset>/<name>``: a local copy, laid out like the project's shared data
   folder. It is only ever read, never written.
2. ``<cache>/<dataset>/<name>``: the user cache (``$LESSON6_CACHE``, else the platform's cache
   folder for ``lesson6lib``).
3. A download from the official address into the cache, with pooch. A download is written to a
   temporary name and moved into place only once complete and verified, so an interrupted or
   corrupt download never leaves a file behind. From an archive, only the member asked for is
   read, and only into the cache; members with absolute paths or ``..`` are refused.

``$LESSON6_OFFLINE=1`` skips step 3. When a file cannot be found, one :class:`DataNotFoundError`
names the file, the places searched, the official address and ``LESSON6_DATA``.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

import platformdirs

__all__ = [
    "CACHE_ENV",
    "DATA_ENV",
    "OFFLINE_ENV",
    "DataError",
    "DataFile",
    "DataIntegrityError",
    "DataNotFoundError",
    "cache_root",
    "data_root",
    "locate",
    "sha256_of",
]

DATA_ENV = "LESSON6_DATA"
CACHE_ENV = "LESSON6_CACHE"
OFFLINE_ENV = "LESSON6_OFFLINE"
_CHUNK = 1 << 20


class DataError(Exception):
    """Base class of every data-layer error."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A data file is in none of the places searched and could not be downloaded."""


class DataIntegrityError(DataError, ValueError):
    """A data file is there but wrong: checksum, schema, row count, or an unsafe archive."""


@dataclass(frozen=True)
class DataFile:
    """One file of a data set and where it officially comes from.

    ``names`` are the accepted file names, most preferred first (e.g. ``train.csv.gz`` as kept in
    the shared folder, then ``train.csv`` as Kaggle ships it). ``sha256`` maps a name to the
    digests accepted for it; a name with no entry is not checksummed (its schema still is).
    ``url`` is the official address: the file itself, or an archive holding ``member`` (matched
    on the last path components, so ``ml-latest-small/ratings.csv`` finds it in any top folder).
    """

    dataset: str
    names: tuple[str, ...]
    url: str
    member: str | None = None
    sha256: dict[str, tuple[str, ...]] = field(default_factory=dict)
    note: str = ""

    def __post_init__(self) -> None:
        if not self.names:
            raise ValueError("DataFile.names must hold at least one file name")
        if Path(self.dataset).is_absolute() or ".." in PurePosixPath(self.dataset).parts:
            raise ValueError(f"DataFile.dataset must be a relative folder, got {self.dataset!r}")

    @property
    def label(self) -> str:
        """``<dataset>/<first name>``, how errors name the file."""
        return f"{self.dataset}/{self.names[0]}"


def data_root() -> Path | None:
    """The folder named by ``$LESSON6_DATA``, or ``None`` when it is not set."""
    raw = os.environ.get(DATA_ENV, "").strip()
    return Path(raw).expanduser() if raw else None


def cache_root() -> Path:
    """The user cache: ``$LESSON6_CACHE`` if set, else the platform's cache folder."""
    raw = os.environ.get(CACHE_ENV, "").strip()
    if raw:
        return Path(raw).expanduser()
    return Path(platformdirs.user_cache_dir("lesson6lib", appauthor=False))


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


_verified: dict[tuple[str, int, int], str] = {}


def _check(spec: DataFile, path: Path, where: str) -> None:
    """Raise :class:`DataIntegrityError` unless ``path`` has one of its name's accepted digests."""
    accepted = spec.sha256.get(path.name)
    if not accepted:
        return
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    digest = _verified.get(key) or sha256_of(path)
    if digest not in accepted:
        raise DataIntegrityError(
            f"{path} ({where}) has sha256 {digest}, expected {' or '.join(accepted)}. "
            f"The file is truncated, corrupt or a different release: replace it with the file "
            f"from {spec.url}"
        )
    _verified[key] = digest


def _first_existing(folder: Path, spec: DataFile) -> Path | None:
    for name in spec.names:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def locate(spec: DataFile) -> Path:
    """Return a verified local path for ``spec``, downloading it into the cache if need be."""
    searched: list[str] = []
    root = data_root()
    if root is not None:
        folder = root / spec.dataset
        searched.append(f"{folder}/ (from ${DATA_ENV})")
        found = _first_existing(folder, spec)
        if found is not None:
            _check(spec, found, f"in ${DATA_ENV}")
            return found
    cache = cache_root() / spec.dataset
    searched.append(f"{cache}/ (the user cache)")
    found = _first_existing(cache, spec)
    if found is not None:
        try:
            _check(spec, found, "in the user cache")
            return found
        except DataIntegrityError:
            found.unlink()  # a bad cached copy is ours to replace
    if os.environ.get(OFFLINE_ENV, "").strip() not in ("", "0"):
        raise _not_found(spec, searched, f"${OFFLINE_ENV} is set, so nothing was downloaded")
    try:
        return _download(spec, cache)
    except DataIntegrityError:
        raise
    except Exception as err:  # network errors come in many types (requests, OSError, ...)
        why = f"downloading failed: {type(err).__name__}: {err}"
        raise _not_found(spec, searched, why) from err


def _not_found(spec: DataFile, searched: list[str], why: str) -> DataNotFoundError:
    names = " or ".join(spec.names)
    source = f"{spec.url} (member {spec.member})" if spec.member else spec.url
    msg = (
        f"Data file {spec.label} ({names}) was not found. Looked in: {'; '.join(searched)}. "
        f"Official address: {source}; {why}. "
        f"Fix: set {DATA_ENV} to a folder holding {spec.dataset}/{spec.names[0]} "
        f"(laid out like the project's shared data folder), or go online so it can be downloaded."
    )
    if spec.note:
        msg += f" Note: {spec.note}"
    return DataNotFoundError(msg)


def _download(spec: DataFile, cache: Path) -> Path:
    """Fetch ``spec`` from its official address into ``cache`` and verify it."""
    import pooch  # imported late: only a download needs it

    downloads = cache_root() / "_downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    fetched = Path(
        pooch.retrieve(
            spec.url,
            known_hash=None if spec.member else _pooch_hash(spec),
            fname=spec.url.rstrip("/").rsplit("/", 1)[-1],
            path=downloads,
            progressbar=False,
        )
    )
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / spec.names[0]
    if spec.member is None:
        with open(fetched, "rb") as src:
            _write_atomically(src, target)
        fetched.unlink()
    else:
        with _open_member(fetched, spec.member) as (src, name):
            target = cache / name
            _write_atomically(src, target)
    try:
        _check(spec, target, "just downloaded")
    except DataIntegrityError:
        target.unlink()
        raise
    return target


def _pooch_hash(spec: DataFile) -> str | None:
    digests = spec.sha256.get(spec.names[0])
    return f"sha256:{digests[0]}" if digests and len(digests) == 1 else None


def _write_atomically(src: IO[bytes], target: Path) -> None:
    """Copy ``src`` to a temporary file beside ``target``, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in iter(lambda: src.read(_CHUNK), b""):
                out.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _safe_member_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise DataIntegrityError(f"archive member {name!r} has an unsafe path; refusing it")
    return path


def _matches(member: PurePosixPath, wanted: PurePosixPath) -> bool:
    return member.parts[-len(wanted.parts) :] == wanted.parts


@contextmanager
def _open_member(archive: Path, member: str) -> Iterator[tuple[IO[bytes], str]]:
    """Open one regular-file member of a zip or tar archive, yielding (stream, base name)."""
    wanted = PurePosixPath(member)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                path = _safe_member_name(info.filename)
                if not info.is_dir() and _matches(path, wanted):
                    with zf.open(info) as fh:
                        yield fh, path.name
                    return
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            for info in tf:
                path = _safe_member_name(info.name)
                if _matches(path, wanted):
                    if not info.isfile():
                        raise DataIntegrityError(
                            f"archive member {info.name!r} is not a regular file; refusing it"
                        )
                    fh = tf.extractfile(info)
                    assert fh is not None  # a regular file always has a stream
                    yield fh, path.name
                    return
    else:
        raise DataIntegrityError(f"{archive} is neither a zip nor a tar archive")
    raise DataIntegrityError(f"{archive} holds no member {member!r}")
