"""The data layer's contract, on small files the tests make: found, cached, downloaded, missing
offline, corrupt, wrong schema, unsafe archives, and never a write into LESSON6_DATA."""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
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
    assert not list(cache.rglob("*.part"))


def test_corrupt_cached_copy_is_replaced(isolated, monkeypatch):
    _, cache = isolated
    put(cache, CSV[:10])
    calls: list[str] = []
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve(CSV, calls))
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
        files._write_atomically(Broken(CSV), target)
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
