"""The MkDocs hook's execution-cache key: it must change whenever a page's outputs could."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def hooks():
    spec = importlib.util.spec_from_file_location("lesson6_hooks", ROOT / "hooks" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    lib, data = tmp_path / "lib", tmp_path / "data"
    (lib / "sub").mkdir(parents=True)
    (lib / "sub" / "model.py").write_text("W = 1\n")
    (data / "set").mkdir(parents=True)
    (data / "set" / "file.csv").write_text("a\n1\n")
    return lib, data


def test_key_is_stable(hooks, tree):
    lib, data = tree
    env = {"LESSON6_DATA": str(data)}
    assert hooks.execution_key(lib, env) == hooks.execution_key(lib, dict(env))


@pytest.mark.parametrize(
    "change",
    ["library source", "new library file", "data bytes", "data folder", "threads"],
)
def test_key_follows_library_data_and_settings(hooks, tree, change):
    lib, data = tree
    env = {"LESSON6_DATA": str(data)}
    before = hooks.execution_key(lib, env)
    if change == "library source":
        (lib / "sub" / "model.py").write_text("W = 2\n")
    elif change == "new library file":
        (lib / "extra.py").write_text("")
    elif change == "data bytes":
        (data / "set" / "file.csv").write_text("a\n2\n")
    elif change == "data folder":
        env = {"LESSON6_DATA": str(data / "set")}
    else:
        env = {**env, "LESSON6_THREADS": "2"}
    assert hooks.execution_key(lib, env) != before


def test_bytecode_caches_do_not_count(hooks, tree):
    lib, data = tree
    env = {"LESSON6_DATA": str(data)}
    before = hooks.execution_key(lib, env)
    (lib / "__pycache__").mkdir()
    (lib / "__pycache__" / "x.py").write_text("junk")
    assert hooks.execution_key(lib, env) == before
