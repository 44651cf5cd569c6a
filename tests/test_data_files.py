"""The data layer's contract, on small files the tests make: found, cached, downloaded, missing
offline, corrupt, wrong schema, unsafe archives, and never a write into LESSON6_DATA."""

from __future__ import annotations

import builtins
import gzip
import hashlib
import io
import os
import random
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

import pooch
import pytest

from lesson6lib.data import files
from lesson6lib.data.files import DataFile, DataIntegrityError, DataNotFoundError, locate
from lesson6lib.data.tables import TableSpec, read_table, read_text

CSV = b"a,b,when\n1,x,2020-01-02\n2,y,2020-01-03\n3,z,2020-01-04\n"
SHA = hashlib.sha256(CSV).hexdigest()
URL = "https://example.org/toy/toy.csv"
SPEC = TableSpec(columns=("a", "b", "when"), dtypes={"a": "int32", "b": "string"}, dates=("when",))


def toy(**kw) -> DataFile:
    args = {"dataset": "toy", "names": ("toy.csv",), "url": URL, "sha256": {"toy.csv": (SHA,)}}
    args.update(kw)
    return DataFile(**args)


def put(folder: Path, data: bytes = CSV, name: str = "toy.csv") -> Path:
    (folder / "toy").mkdir(parents=True, exist_ok=True)
    path = folder / "toy" / name
    path.write_bytes(data)
    return path


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def fake_retrieve(payload: bytes, calls: list[str]):
    """A stand-in for pooch.retrieve that 'downloads' payload, as pooch does, into path/fname."""

    def retrieve(url, known_hash, fname, path, progressbar=False):  # noqa: ARG001
        calls.append(url)
        target = Path(path) / fname
        target.write_bytes(payload)
        return str(target)

    return retrieve


def no_network(*args, **kwargs):
    raise ConnectionError("Name or service not known")


# --- where a file is found ------------------------------------------------------------------


def test_found_in_data_root_is_read_and_never_written(isolated, monkeypatch):
    data, cache = isolated
    put(data)
    data.chmod(0o555)
    before = snapshot(data)
    monkeypatch.setattr(pooch, "retrieve", no_network)
    frame = read_table(toy(), SPEC)
    assert frame["a"].tolist() == [1, 2, 3]
    assert str(frame["a"].dtype) == "int32"
    assert str(frame["when"].dtype).startswith("datetime64")
    assert snapshot(data) == before
    assert not cache.exists()


def test_second_accepted_name_is_found(isolated):
    data, _ = isolated
    put(data, name="toy.csv.gz")
    spec = toy(names=("toy.csv", "toy.csv.gz"), sha256={})
    assert locate(spec).name == "toy.csv.gz"


def test_found_in_cache_when_no_data_root(isolated, monkeypatch):
    _, cache = isolated
    monkeypatch.delenv("LESSON6_DATA")
    put(cache)
    monkeypatch.setattr(pooch, "retrieve", no_network)
    assert locate(toy()) == cache / "toy" / "toy.csv"


# --- missing ---------------------------------------------------------------------------------


def test_missing_offline_names_file_address_and_env(isolated, monkeypatch):
    monkeypatch.setenv("LESSON6_OFFLINE", "1")
    monkeypatch.setattr(pooch, "retrieve", no_network)
    with pytest.raises(DataNotFoundError) as info:
        locate(toy(note="needs an account"))
    msg = str(info.value)
    for part in ("toy/toy.csv", URL, "LESSON6_DATA", "LESSON6_OFFLINE", "needs an account"):
        assert part in msg
    assert isinstance(info.value, FileNotFoundError)


def test_missing_and_network_down_is_one_clear_error(isolated, monkeypatch):
    _, cache = isolated
    monkeypatch.setattr(pooch, "retrieve", no_network)
    with pytest.raises(DataNotFoundError, match="downloading failed: ConnectionError"):
        locate(toy())
    assert [p for p in cache.rglob("*") if p.is_file()] == []


# --- downloads -------------------------------------------------------------------------------


def test_download_lands_in_cache_verified_then_is_reused(isolated, monkeypatch):
    data, cache = isolated
    calls: list[str] = []
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve(CSV, calls))
    path = locate(toy())
    assert path == cache / "toy" / "toy.csv"
    assert path.read_bytes() == CSV
    assert locate(toy()) == path
    assert calls == [URL]
    assert snapshot(data) == {}


def test_corrupt_download_leaves_no_file(isolated, monkeypatch):
    _, cache = isolated
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve(CSV[:-5], []))
    with pytest.raises(DataIntegrityError, match="sha256"):
        locate(toy())
    assert not (cache / "toy" / "toy.csv").exists()
    assert [p for p in cache.rglob("*") if p.is_file()] == []


def test_corrupt_cached_copy_is_replaced(isolated, monkeypatch):
    _, cache = isolated
    put(cache, CSV[:10])
    calls: list[str] = []
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve(CSV, calls))
    with pytest.warns(UserWarning, match="moved it aside"):
        assert locate(toy()).read_bytes() == CSV
    assert calls == [URL]


def test_interrupted_write_leaves_nothing(tmp_path):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 0:
                raise OSError("connection reset")
            return super().read(4)

    target = tmp_path / "out.csv"
    with pytest.raises(OSError, match="connection reset"):
        files._copy_atomically(Broken(CSV), target)
    assert list(tmp_path.iterdir()) == []


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    return buf.getvalue()


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


@pytest.mark.parametrize("pack", [_zip, _tar], ids=["zip", "tgz"])
def test_member_is_taken_from_an_archive(isolated, monkeypatch, pack):
    _, cache = isolated
    archive = pack({"bundle/README": b"hi", "bundle/toy.csv": CSV})
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve(archive, []))
    spec = toy(url="https://example.org/bundle.tgz", member="bundle/toy.csv")
    assert locate(spec).read_bytes() == CSV
    assert sorted(p.name for p in (cache / "toy").iterdir()) == ["toy.csv"]


@pytest.mark.parametrize("evil", ["../toy.csv", "/etc/toy.csv", "a/../../toy.csv"])
def test_unsafe_archive_member_is_refused(isolated, monkeypatch, tmp_path, evil):
    archive = _tar({evil: CSV})
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve(archive, []))
    spec = toy(url="https://example.org/bundle.tgz", member="toy.csv")
    with pytest.raises(DataIntegrityError, match="unsafe path"):
        locate(spec)
    assert not (tmp_path / "toy.csv").exists()


def test_archive_without_the_member(isolated, monkeypatch):
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve(_zip({"other.csv": CSV}), []))
    with pytest.raises(DataIntegrityError, match="no member"):
        locate(toy(url="https://example.org/b.zip", member="toy.csv"))


# --- corrupt or wrong files in LESSON6_DATA --------------------------------------------------


def test_checksum_mismatch_in_data_root_names_the_file_and_is_left_alone(isolated):
    data, _ = isolated
    path = put(data, CSV.replace(b"x", b"q"))
    with pytest.raises(DataIntegrityError) as info:
        locate(toy())
    assert str(path) in str(info.value) and URL in str(info.value)
    assert path.exists()


def test_wrong_schema_lists_missing_and_unexpected_columns(isolated):
    data, _ = isolated
    put(data, b"a,c,when\n1,2,2020-01-01\n")
    with pytest.raises(DataIntegrityError, match=r"missing: \['b'\]; unexpected: \['c'\]"):
        read_table(toy(sha256={}), SPEC)


def test_wrong_row_count_is_caught(isolated):
    data, _ = isolated
    put(data)
    with pytest.raises(DataIntegrityError, match="3 data rows, expected 4"):
        read_table(toy(), TableSpec(SPEC.columns, SPEC.dtypes, SPEC.dates, rows=4))


def test_bad_value_for_dtype_is_caught(isolated):
    data, _ = isolated
    put(data, b"a,b,when\n1,x,2020-01-02\noops,y,2020-01-03\n")
    with pytest.raises(DataIntegrityError, match="could not be read"):
        read_table(toy(sha256={}), SPEC)


def test_truncated_gzip_is_caught(isolated):
    data, _ = isolated
    packed = gzip.compress(CSV * 2000)
    put(data, packed[: len(packed) // 2], name="toy.csv.gz")
    with pytest.raises(DataIntegrityError, match="truncated, corrupt"):
        read_table(toy(names=("toy.csv.gz",), sha256={}), SPEC)


def test_text_length_is_checked(isolated):
    data, _ = isolated
    put(data, "héllo".encode(), name="t.txt")
    spec = toy(names=("t.txt",), sha256={})
    assert read_text(spec, chars=5) == "héllo"
    with pytest.raises(DataIntegrityError, match="5 characters, expected 6"):
        read_text(spec, chars=6)


def test_data_file_rejects_bad_folders():
    with pytest.raises(ValueError, match="relative folder"):
        toy(dataset="../up")
    with pytest.raises(ValueError, match="at least one"):
        toy(names=())


def test_cache_root_defaults_to_platform_cache(monkeypatch):
    monkeypatch.delenv("LESSON6_CACHE", raising=False)
    assert files.cache_root().name == "lesson6lib"


def test_copy_of_real_layout_is_accepted(real_data_root, isolated):
    """A user's own copy laid out like the shared folder works through LESSON6_DATA."""
    data, _ = isolated
    shutil.copytree(real_data_root / "nietzsche", data / "nietzsche")
    from lesson6lib.data import nietzsche

    assert nietzsche.load_text().startswith("PREFACE\n\n\nSUPPOSING that Truth is a woman")
    (data / "nietzsche" / "nietzsche.txt").write_text("PREFACE")
    with pytest.raises(DataIntegrityError, match="sha256"):
        nietzsche.load_text()


# --- one atomic writer for the library -------------------------------------------------------


def test_write_atomically_replaces_the_target_fsyncs_and_returns_it(tmp_path, monkeypatch):
    target = tmp_path / "model.pt"
    target.write_bytes(b"old")
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    assert files.write_atomically(target, lambda tmp: tmp.write_bytes(b"new")) == target
    assert target.read_bytes() == b"new"
    assert synced, "the new bytes were not fsynced before the rename"
    assert list(tmp_path.iterdir()) == [target]


def test_write_atomically_keeps_the_old_target_when_writing_fails(tmp_path):
    target = tmp_path / "cache.parquet"
    target.write_bytes(b"old")

    def write(tmp: Path) -> None:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        files.write_atomically(target, write)
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_write_atomically_into_a_missing_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'nope'} does not exist"):
        files.write_atomically(tmp_path / "nope" / "x.pt", lambda tmp: tmp.write_bytes(b""))


def test_write_atomically_keeps_the_suffix_and_the_usual_permissions(tmp_path):
    """Writers that infer the format from the name (pandas' compression='infer') still work, and
    a new file gets the permissions any new file would get (umask), not a temp file's 0600."""
    import pandas as pd

    target = tmp_path / "table.csv.gz"
    frame = pd.DataFrame({"a": [1, 2]})
    files.write_atomically(target, lambda tmp: frame.to_csv(tmp, index=False))
    assert gzip.decompress(target.read_bytes()) == b"a\n1\n2\n"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


# --- downloads and archives ------------------------------------------------------------------

BIG = random.Random(6).randbytes(300_000)  # incompressible, so a cut archive cuts the member
BIG_SHA = hashlib.sha256(BIG).hexdigest()
BUNDLE = "https://example.org/dl/bundle"


def big(ext: str) -> DataFile:
    return toy(url=f"{BUNDLE}.{ext}", member="bundle/toy.csv", sha256={"toy.csv": (BIG_SHA,)})


def like_pooch(payloads: list[bytes], paths: list[Path]):
    """A stand-in for pooch.retrieve that behaves as pooch does with known_hash=None: a file
    already at path/fname is reused as it is; otherwise the next payload is 'downloaded'."""

    def retrieve(url, known_hash, fname, path, progressbar=False):  # noqa: ARG001
        target = Path(path) / fname
        paths.append(Path(path))
        if not target.exists():
            target.write_bytes(payloads.pop(0))
        return str(target)

    return retrieve


def _flip_middle(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


@pytest.mark.parametrize(
    ("ext", "spoil"),
    [
        ("tgz", lambda b: b[: len(b) // 2]),
        ("zip", lambda b: b[: len(b) // 2]),
        ("zip", _flip_middle),
        ("tgz", lambda b: b"<html>503 Service Unavailable</html>"),
    ],
    ids=["cut tgz", "cut zip", "damaged zip", "not an archive"],
)
def test_bad_archive_is_deleted_named_and_a_later_call_succeeds(isolated, monkeypatch, ext, spoil):
    _, cache = isolated
    good = (_tar if ext == "tgz" else _zip)({"bundle/README": b"hi", "bundle/toy.csv": BIG})
    paths: list[Path] = []
    monkeypatch.setattr(pooch, "retrieve", like_pooch([spoil(good), good], paths))
    spec = big(ext)
    with pytest.raises(DataIntegrityError) as info:
        locate(spec)
    msg = str(info.value)
    assert f"bundle.{ext}" in msg and spec.url in msg and "deleted" in msg
    assert [p for p in cache.rglob("*") if p.is_file()] == []
    path = locate(spec)
    assert path == cache / "toy" / "toy.csv" and path.read_bytes() == BIG
    assert len(paths) == 2


def test_member_with_the_wrong_digest_names_the_archive_and_its_address(isolated, monkeypatch):
    _, cache = isolated
    wrong = _zip({"bundle/toy.csv": BIG[:-1] + b"!"})
    good = _zip({"bundle/toy.csv": BIG})
    monkeypatch.setattr(pooch, "retrieve", like_pooch([wrong, good], []))
    spec = big("zip")
    with pytest.raises(DataIntegrityError, match="sha256") as info:
        locate(spec)
    msg = str(info.value)
    assert "bundle.zip" in msg and spec.url in msg and BIG_SHA in msg and "bundle/toy.csv" in msg
    assert [p for p in cache.rglob("*") if p.is_file()] == []
    assert locate(spec).read_bytes() == BIG


def test_each_download_gets_its_own_temp_folder_which_is_removed(isolated, monkeypatch):
    _, cache = isolated
    paths: list[Path] = []
    monkeypatch.setattr(pooch, "retrieve", like_pooch([CSV, CSV], paths))
    locate(toy())
    (cache / "toy" / "toy.csv").unlink()
    locate(toy())
    first, second = paths
    assert first != second
    assert first.parent == second.parent == cache / "_downloads"
    assert not first.exists() and not second.exists()


# --- a corrupt file in the user cache --------------------------------------------------------


def test_corrupt_cached_copy_is_moved_aside_with_a_warning(isolated, monkeypatch):
    _, cache = isolated
    bad = put(cache, CSV[:10])
    put(cache, b"an older corrupt copy", name="toy.csv.corrupt")
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve(CSV, []))
    with pytest.warns(UserWarning) as record:
        assert locate(toy()).read_bytes() == CSV
    msg = str(record[0].message)
    assert str(bad) in msg and "toy.csv.corrupt" in msg and hashlib.sha256(CSV[:10]).hexdigest()
    assert (cache / "toy" / "toy.csv.corrupt").read_bytes() == CSV[:10]


def test_corrupt_cached_copy_offline_is_an_integrity_error_naming_the_digests(
    isolated, monkeypatch
):
    _, cache = isolated
    monkeypatch.delenv("LESSON6_DATA")
    monkeypatch.setenv("LESSON6_OFFLINE", "1")
    bad = put(cache, CSV[:10])
    with pytest.raises(DataIntegrityError) as info:
        locate(toy())
    msg = str(info.value)
    for part in (str(bad), hashlib.sha256(CSV[:10]).hexdigest(), SHA, "LESSON6_OFFLINE", URL):
        assert part in msg
    assert bad.read_bytes() == CSV[:10], "offline, the file must be left where it is"


def test_a_file_edited_in_place_with_size_and_mtime_kept_is_caught(isolated):
    data, _ = isolated
    path = put(data)
    assert locate(toy()) == path
    before = path.stat()
    path.write_bytes(CSV.replace(b"x", b"q"))  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    with pytest.raises(DataIntegrityError, match="sha256"):
        locate(toy())


# --- settings from the environment -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        (" On ", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("off", False),
        ("", False),
    ],
)
def test_offline_values(monkeypatch, value, expected):
    monkeypatch.setenv("LESSON6_OFFLINE", value)
    assert files.offline() is expected
    assert files.offline({"LESSON6_OFFLINE": value}) is expected


def test_offline_false_allows_downloads(isolated, monkeypatch):
    monkeypatch.setenv("LESSON6_OFFLINE", "false")
    calls: list[str] = []
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve(CSV, calls))
    assert locate(toy()).read_bytes() == CSV
    assert calls == [URL]


def test_offline_rejects_other_values(isolated, monkeypatch):
    monkeypatch.setenv("LESSON6_OFFLINE", "maybe")
    monkeypatch.setattr(pooch, "retrieve", no_network)
    with pytest.raises(ValueError, match="LESSON6_OFFLINE.*'maybe'"):
        locate(toy())


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_data_root_that_is_not_a_folder_fails_at_once(isolated, monkeypatch, tmp_path, kind):
    wrong = tmp_path / "nowhere"
    if kind == "a file":
        wrong.write_text("")
    monkeypatch.setenv("LESSON6_DATA", str(wrong))
    calls: list[str] = []
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve(CSV, calls))
    with pytest.raises(DataNotFoundError) as info:
        locate(toy())
    assert "LESSON6_DATA" in str(info.value) and str(wrong) in str(info.value)
    assert calls == [], "a wrong LESSON6_DATA must not fall through to a download"


def _deny(monkeypatch, where: Path, *, attr: str) -> None:
    """Make reads (or directory creation) under ``where`` fail as they would without permission:
    the tests run as root, where chmod does not stop anything."""
    if attr == "open":
        real = builtins.open

        def fake_open(file, *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and Path(file).is_relative_to(where):
                raise PermissionError(13, "Permission denied", str(file))
            return real(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", fake_open)
    elif attr == "stat":
        real_is_file = Path.is_file

        def is_file(self):
            if self.is_relative_to(where):
                raise PermissionError(13, "Permission denied", str(self))
            return real_is_file(self)

        monkeypatch.setattr(Path, "is_file", is_file)
    else:
        real_mkdir = os.mkdir

        def mkdir(path, *args, **kwargs):
            if Path(path).is_relative_to(where):
                raise PermissionError(13, "Permission denied", str(path))
            return real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(os, "mkdir", mkdir)


def test_unreadable_data_folder_is_a_data_error_naming_it(isolated, monkeypatch):
    data, _ = isolated
    put(data)
    _deny(monkeypatch, data / "toy", attr="stat")
    with pytest.raises(files.DataAccessError) as info:
        locate(toy())
    assert isinstance(info.value, PermissionError)
    assert str(data / "toy") in str(info.value) and "cannot read" in str(info.value)


@pytest.mark.parametrize("pinned", [True, False], ids=["checksummed", "not checksummed"])
def test_unreadable_data_file_is_a_data_error_naming_it(isolated, monkeypatch, pinned):
    data, _ = isolated
    path = put(data)
    _deny(monkeypatch, path, attr="open")
    with pytest.raises(files.DataAccessError) as info:
        read_table(toy() if pinned else toy(sha256={}), SPEC)
    assert isinstance(info.value, PermissionError)
    assert str(path) in str(info.value) and "cannot read" in str(info.value)


def test_unwritable_cache_is_reported_as_such(isolated, monkeypatch):
    _, cache = isolated
    _deny(monkeypatch, cache, attr="mkdir")
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve(CSV, []))
    with pytest.raises(files.DataAccessError) as info:
        locate(toy())
    msg = str(info.value)
    assert f"cannot write to the user cache {cache}" in msg and "LESSON6_CACHE" in msg
    assert "go online" not in msg


def test_data_files_lists_every_file_the_loaders_read():
    from lesson6lib.data import data_files, movielens, rossmann

    specs = data_files()
    labels = [spec.label for spec in specs]
    assert len(labels) == len(set(labels)) == 2 * len(movielens.FILES) + 1 + len(rossmann.TABLES)
    assert "nietzsche/nietzsche.txt" in labels
    assert "movielens/ml-latest-small-2016/ratings.csv" in labels
    assert "rossmann/train.csv.gz" in labels
