"""Reading one member out of a downloaded zip or tar archive, safely.

A member is matched on its last path components (``ml-latest-small/ratings.csv`` finds it in any
top folder). Members with absolute paths, ``..`` or a drive are refused, and so is a matching
member that is not a regular file. Whatever a cut, damaged or mistyped archive raises while it is
opened or read, the caller gets one :class:`ArchiveError` saying what is wrong; the caller, who
knows where the archive came from, names it (see :func:`lesson6lib.data.files.locate`).
"""

from __future__ import annotations

import lzma
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path, PurePosixPath
from typing import IO

__all__ = ["ArchiveError", "open_member"]

# What opening or reading a cut, damaged or mistyped archive raises.
READ_ERRORS = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    struct.error,
    NotImplementedError,  # a zip compression method Python lacks
    OSError,  # gzip.BadGzipFile and friends
)
_CUT = "it is truncated (the download was cut short) or damaged"


class ArchiveError(ValueError):
    """The archive is cut, damaged or not an archive, lacks the member, or is unsafe."""


class _GuardedStream:
    """A member's byte stream whose read errors become :class:`ArchiveError`."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except READ_ERRORS as err:
            raise ArchiveError(f"could not be read ({type(err).__name__}: {err}): {_CUT}") from err


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ArchiveError(f"has a member {name!r} with an unsafe path; refusing it")
    return path


def _matches(member: PurePosixPath, wanted: PurePosixPath) -> bool:
    return member.parts[-len(wanted.parts) :] == wanted.parts


def _find(archive: Path, wanted: PurePosixPath, stack: ExitStack) -> tuple[IO[bytes], str]:
    if zipfile.is_zipfile(archive):
        zf = stack.enter_context(zipfile.ZipFile(archive))
        for info in zf.infolist():
            path = _safe_name(info.filename)
            if not info.is_dir() and _matches(path, wanted):
                return stack.enter_context(zf.open(info)), path.name
    elif tarfile.is_tarfile(archive):
        tf = stack.enter_context(tarfile.open(archive))
        for info in tf:
            path = _safe_name(info.name)
            if _matches(path, wanted):
                if not info.isfile():
                    raise ArchiveError(
                        f"has a member {info.name!r} that is not a regular file; refusing it"
                    )
                fh = tf.extractfile(info)
                assert fh is not None  # a regular file always has a stream
                return stack.enter_context(fh), path.name
    else:
        with open(archive, "rb") as fh:
            head = fh.read(24)
        raise ArchiveError(f"is neither a zip nor a tar archive (it starts {head!r})")
    raise ArchiveError(f"holds no member {str(wanted)!r}")


@contextmanager
def open_member(archive: Path, member: str) -> Iterator[tuple[IO[bytes], str]]:
    """Open the regular-file ``member`` of a zip or tar archive, yielding (stream, base name).

    Raises :class:`ArchiveError` for any problem with the archive, also while the stream is read.
    """
    with ExitStack() as stack:
        try:
            stream, name = _find(archive, PurePosixPath(member), stack)
        except ArchiveError:
            raise
        except READ_ERRORS as err:
            raise ArchiveError(f"could not be read ({type(err).__name__}: {err}): {_CUT}") from err
        yield _GuardedStream(stream), name
