"""Finding, fetching and checking the lesson's data files; the library's hasher and atomic writer.

:func:`locate` looks in ``$LESSON6_DATA/<dataset>/`` (read only), then in the user cache (a copy
that fails its checksum is moved aside to ``<name>.corrupt``, with a warning), then downloads the
file with pooch, each download into a fresh folder of its own under ``<cache>/_downloads/`` that
is removed afterwards; a file enters the cache only complete and verified. :func:`sha256_of` and
:func:`write_atomically` are the one hasher and the one atomic writer of the whole library.
Settings and errors come from :mod:`lesson6lib.data.settings`, archives from
:mod:`lesson6lib.data.archives`.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from lesson6lib.data.archives import ArchiveError, open_member
from lesson6lib.data.settings import (
    CACHE_ENV,
    DATA_ENV,
    OFFLINE_ENV,
    DataAccessError,
    DataError,
    DataIntegrityError,
    DataNotFoundError,
    cache_root,
    data_root,
    offline,
    unreadable,
    unwritable,
)

__all__ = [
    "CACHE_ENV",
    "DATA_ENV",
    "OFFLINE_ENV",
    "DataAccessError",
    "DataError",
    "DataFile",
    "DataIntegrityError",
    "DataNotFoundError",
    "cache_root",
    "data_root",
    "locate",
    "offline",
    "sha256_of",
    "write_atomically",
]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class DataFile:
    """One file of a data set and where it officially comes from.

    ``names`` are the accepted file names, most preferred first (``train.csv.gz`` as kept in the
    shared folder, then ``train.csv`` as Kaggle ships it). ``sha256`` maps a name to the digests
    accepted for it; a name with no entry is not checksummed (its schema still is). ``url`` is the
    official address: the file itself, or an archive holding ``member``. Archives are not pinned:
    neither GroupLens nor fast.ai publishes a sha256 of ml-latest-small.zip or rossmann.tgz, and a
    re-packed archive with the same members is fine; the pins on the members guard correctness.
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


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes. Not memoised: it is cheap next to parsing (30 ms for the 7 MB
    train.csv.gz), and a memo keyed on size and times can miss a file edited in place."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomically(target: Path, write: Callable[[Path], None]) -> Path:
    """Write ``target`` all at once: readers see the old file or the new one, never a part.

    ``write(tmp)`` writes the new content to the path it is given: a fresh empty file beside
    ``target`` in the same (existing) folder, whose name ends with ``target``'s name so writers
    that infer the format from the suffix (``.csv.gz``) behave as for ``target``. The file is then
    fsynced and renamed over ``target`` (``os.replace``). If anything raises, the temporary file
    is removed, ``target`` is left as it was, and the exception propagates. A new file gets the
    usual permissions (umask). Returns ``target``.
    """
    target = Path(target)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"cannot write {target}: its folder {target.parent} does not exist")
    tmp = target.with_name(f".part-{os.getpid()}-{secrets.token_hex(6)}-{target.name}")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if os.name != "nt":  # make the rename durable too (folders cannot be opened on Windows)
        fd = os.open(target.parent, os.O_RDONLY)
        with suppress(OSError):  # some file systems do not sync folders
            os.fsync(fd)
        os.close(fd)
    return target


def _copy_atomically(
    src: IO[bytes], target: Path, check: Callable[[Path], None] | None = None
) -> Path:
    """Copy the byte stream ``src`` to ``target`` with :func:`write_atomically`; ``check(tmp)``
    may raise to refuse the copy before it replaces anything."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)
        if check is not None:
            check(tmp)

    return write_atomically(target, write)


def _mismatch(spec: DataFile, path: Path, name: str, where: str = "") -> str | None:
    """``None`` if ``path`` (holding ``name``) has an accepted digest or none is pinned, else
    ``"sha256 <found>, expected <accepted>"``."""
    accepted = spec.sha256.get(name)
    if not accepted:
        return None
    try:
        digest = sha256_of(path)
    except PermissionError as err:
        raise unreadable(path, err, where) from err
    return None if digest in accepted else f"sha256 {digest}, expected {' or '.join(accepted)}"


def _first_existing(folder: Path, spec: DataFile, where: str) -> Path | None:
    for name in spec.names:
        try:
            if (folder / name).is_file():
                return folder / name
        except PermissionError as err:
            raise unreadable(folder, err, where) from err
    return None


def locate(spec: DataFile, *, environ: Mapping[str, str] | None = None) -> Path:
    """Return a verified local path for ``spec``, downloading it into the cache if need be.
    ``environ`` (default ``os.environ``) supplies LESSON6_DATA, LESSON6_CACHE, LESSON6_OFFLINE."""
    env = os.environ if environ is None else environ
    no_downloads, root, base = offline(env), data_root(env), cache_root(env)
    searched: list[str] = []
    if root is not None:
        where = f" (in ${DATA_ENV})"
        searched.append(f"{root / spec.dataset}/ (from ${DATA_ENV})")
        found = _first_existing(root / spec.dataset, spec, where)
        if found is not None:
            if bad := _mismatch(spec, found, found.name, where):
                raise DataIntegrityError(
                    f"{found}{where} has {bad}. The file is truncated, corrupt or a different "
                    f"release: replace it with the file from {spec.url}"
                )
            return found
    cache, where = base / spec.dataset, " (in the user cache)"
    searched.append(f"{cache}/ (the user cache)")
    found = _first_existing(cache, spec, where)
    if found is not None:
        if not (bad := _mismatch(spec, found, found.name, where)):
            return found
        if no_downloads:
            raise DataIntegrityError(
                f"{found}{where} has {bad}: it is truncated, corrupt or a different release, "
                f"and ${OFFLINE_ENV} is set, so no fresh copy can be downloaded. Fix: delete it "
                f"and run once with {OFFLINE_ENV} unset to download it again from {spec.url}, or "
                f"set {DATA_ENV} to a folder holding a good {spec.dataset}/{found.name}."
            )
        aside = found.with_name(found.name + ".corrupt")
        try:
            os.replace(found, aside)  # kept for inspection; replaces an older one
        except FileNotFoundError:  # another process moved it aside first
            pass
        except PermissionError as err:
            raise unwritable(base, err) from err
        warnings.warn(
            f"{found}{where} has {bad}; moved it aside to {aside} and downloading a fresh copy "
            f"from {spec.url}",
            stacklevel=2,
        )
    if no_downloads:
        raise _not_found(spec, searched, f"${OFFLINE_ENV} is set, so nothing was downloaded")
    try:
        return _download(spec, cache, base)
    except DataError:
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
    return DataNotFoundError(msg + (f" Note: {spec.note}" if spec.note else ""))


def _download(spec: DataFile, cache: Path, base: Path) -> Path:
    """Fetch ``spec`` into a fresh folder of its own, then move it, verified, into ``cache``."""
    import pooch  # imported late: only a download needs it

    try:
        (base / "_downloads").mkdir(parents=True, exist_ok=True)
        cache.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="fetch-", dir=base / "_downloads"))
    except PermissionError as err:
        raise unwritable(base, err) from err
    fname = spec.url.rstrip("/").rsplit("/", 1)[-1]
    try:  # known_hash=None: checked here, with messages that name the file and the address
        fetched = Path(
            pooch.retrieve(spec.url, known_hash=None, fname=fname, path=scratch, progressbar=False)
        )
        if spec.member is not None:
            return _extract(spec, fetched, cache)
        target = cache / spec.names[0]

        def check(tmp: Path) -> None:
            if bad := _mismatch(spec, tmp, target.name):
                raise DataIntegrityError(
                    f"The file downloaded from {spec.url} for {spec.label} has {bad}: the "
                    f"download was cut short or the server sent something else. It was deleted "
                    f"and nothing was kept; try again later, or set {DATA_ENV} to a folder "
                    f"holding a good copy."
                )

        with open(fetched, "rb") as src:
            return _copy_atomically(src, target, check)
    except DataError:
        raise
    except PermissionError as err:
        raise unwritable(base, err) from err
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _extract(spec: DataFile, archive: Path, cache: Path) -> Path:
    """Copy ``spec.member`` out of ``archive`` into ``cache``, verified; any problem is a
    :class:`DataIntegrityError` naming the archive and its address."""
    assert spec.member is not None
    try:
        with open_member(archive, spec.member) as (src, name):

            def check(tmp: Path) -> None:
                if bad := _mismatch(spec, tmp, name):
                    raise ArchiveError(
                        f"holds {spec.member} with {bad}: it is truncated, corrupt or a "
                        f"different release"
                    )

            return _copy_atomically(src, cache / name, check)
    except ArchiveError as err:
        raise DataIntegrityError(
            f"The archive {archive.name} downloaded from {spec.url} {err}. It was deleted and "
            f"nothing was kept; a later call downloads it again. If this persists, the server "
            f"sends something else: set {DATA_ENV} to a folder holding the files instead."
        ) from err
