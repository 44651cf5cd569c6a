"""Shared fixtures: an isolated data root and cache for every test that touches the data layer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def require(condition: bool, reason: str) -> None:
    """Skip when ``condition`` is false, except in CI, where a missing prerequisite fails."""
    if condition:
        return
    if _truthy("CI") or _truthy("LESSON6_STRICT"):
        pytest.fail(f"{reason} (CI runs every test, so this is a failure)")
    pytest.skip(reason)


@pytest.fixture
def real_data_root() -> Path:
    """The real data under $LESSON6_DATA (CI points it at the shared data folder)."""
    raw = os.environ.get("LESSON6_DATA", "")
    require(bool(raw) and Path(raw).is_dir(), "LESSON6_DATA is not set to the data folder")
    return Path(raw).resolve()


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An empty data root and cache; downloads are allowed unless a test forbids them."""
    data = tmp_path / "data"
    cache = tmp_path / "cache"
    data.mkdir()
    monkeypatch.setenv("LESSON6_DATA", str(data))
    monkeypatch.setenv("LESSON6_CACHE", str(cache))
    monkeypatch.delenv("LESSON6_OFFLINE", raising=False)
    return data, cache
