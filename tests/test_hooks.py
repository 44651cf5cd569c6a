"""The MkDocs hook: the execution-cache key must change whenever a page's outputs could, and only
then; ``mkdocs serve`` must follow the library; each cell has a time limit whatever the user's
Jupyter configuration."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from types import SimpleNamespace

import pooch
import pytest

from lesson6lib.data.files import DataFile
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def hooks():
    spec = importlib.util.spec_from_file_location("lesson6_hooks", ROOT / "hooks" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# A stand-in for the loaders' files: one file of one data set.
TOY_FILES = (DataFile(dataset="set", names=("file.csv",), url="https://example.org/file.csv"),)


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    lib, data = tmp_path / "lib", tmp_path / "data"
    (lib / "sub").mkdir(parents=True)
    (lib / "sub" / "model.py").write_text("W = 1\n")
    (lib / "reference").mkdir()
    (lib / "reference" / "baselines.json").write_text('{"rmse": 0.9}\n')
    (data / "set").mkdir(parents=True)
    (data / "set" / "file.csv").write_text("a\n1\n")
    return lib, data


def test_key_is_stable(hooks, tree):
    lib, data = tree
    env = {"LESSON6_DATA": str(data)}
    assert hooks.execution_key(lib, env, TOY_FILES) == hooks.execution_key(
        lib, dict(env), TOY_FILES
    )


@pytest.mark.parametrize(
    "change",
    [
        "library source",
        "new library file",
        "reference json",
        "data bytes",
        "data folder",
        "threads",
        "device",
    ],
)
def test_key_follows_library_data_and_settings(hooks, tree, change):
    lib, data = tree
    env = {"LESSON6_DATA": str(data)}
    before = hooks.execution_key(lib, env, TOY_FILES)
    if change == "library source":
        (lib / "sub" / "model.py").write_text("W = 2\n")
    elif change == "new library file":
        (lib / "extra.py").write_text("")
    elif change == "reference json":
        (lib / "reference" / "baselines.json").write_text('{"rmse": 0.8}\n')
    elif change == "data bytes":
        (data / "set" / "file.csv").write_text("a\n2\n")
    elif change == "data folder":
        env = {"LESSON6_DATA": str(data / "set")}
    elif change == "threads":
        env = {**env, "LESSON6_THREADS": "2"}
    else:
        env = {**env, "LESSON6_DEVICE": "cuda"}
    assert hooks.execution_key(lib, env, TOY_FILES) != before


def test_bytecode_caches_do_not_count(hooks, tree):
    lib, data = tree
    env = {"LESSON6_DATA": str(data)}
    before = hooks.execution_key(lib, env, TOY_FILES)
    (lib / "__pycache__").mkdir()
    (lib / "__pycache__" / "x.py").write_text("junk")
    (lib / "sub" / "__pycache__").mkdir()
    (lib / "sub" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"junk")
    assert hooks.execution_key(lib, env, TOY_FILES) == before


def test_writes_into_the_user_cache_do_not_change_the_key(hooks, tree, tmp_path):
    """Pages write into LESSON6_CACHE while the site builds (feature caches, downloads)."""
    lib, data = tree
    cache = tmp_path / "cache"
    (cache / "rossmann-processed").mkdir(parents=True)
    env = {"LESSON6_DATA": str(data), "LESSON6_CACHE": str(cache)}
    before = hooks.execution_key(lib, env, TOY_FILES)
    (cache / "rossmann-processed" / "features.parquet").write_bytes(b"written by a page")
    (cache / "_downloads").mkdir()
    assert hooks.execution_key(lib, env, TOY_FILES) == before


def test_a_data_file_is_identified_by_its_digest_wherever_it_is_found(hooks, tree, tmp_path):
    lib, _ = tree
    empty, cache = tmp_path / "empty", tmp_path / "cache"
    empty.mkdir()
    env = {"LESSON6_DATA": str(empty), "LESSON6_CACHE": str(cache)}
    missing = hooks.execution_key(lib, env, TOY_FILES)
    (cache / "set").mkdir(parents=True)
    (cache / "set" / "file.csv").write_text("a\n1\n")
    found = hooks.execution_key(lib, env, TOY_FILES)
    (cache / "set" / "file.csv").write_text("a\n3\n")
    assert len({missing, found, hooks.execution_key(lib, env, TOY_FILES)}) == 3


def test_the_key_never_downloads(hooks, tree, monkeypatch, tmp_path):
    lib, data = tree

    def no_download(*args, **kwargs):
        raise AssertionError("the execution key downloaded a file")

    monkeypatch.setattr(pooch, "retrieve", no_download)
    env = {"LESSON6_DATA": str(data), "LESSON6_CACHE": str(tmp_path / "cache")}
    hooks.execution_key(lib, env)  # every loader file: all missing here
    assert not (tmp_path / "cache").exists()


def test_key_follows_the_versions_of_the_stack(hooks, tree, monkeypatch):
    lib, data = tree
    env = {"LESSON6_DATA": str(data)}
    before = hooks.execution_key(lib, env, TOY_FILES)
    real = hooks.metadata.version
    monkeypatch.setattr(
        hooks.metadata, "version", lambda name: "0.0.1" if name == "numpy" else real(name)
    )
    assert hooks.execution_key(lib, env, TOY_FILES) != before


def test_default_data_files_are_the_loaders_files(hooks, real_data_root, tmp_path):
    """With the real data, every loader file is located and hashed (none 'missing')."""
    env = {"LESSON6_DATA": str(real_data_root), "LESSON6_CACHE": str(tmp_path / "cache")}
    states = hooks.data_states(env)
    from lesson6lib.data import data_files

    assert [label for label, _ in states] == [spec.label for spec in data_files()]
    assert all(len(state) == 64 for _, state in states), states


# --- mkdocs serve ----------------------------------------------------------------------------


def test_on_serve_watches_the_library(hooks):
    watched: list[str] = []
    server = SimpleNamespace(watch=watched.append)
    assert hooks.on_serve(server, config=None, builder=None) is server
    assert str(ROOT / "lesson6lib") in watched


def _fake_config(tmp_path: Path, plugin=None):
    plugin = plugin or SimpleNamespace(config={"cache": True, "cache_dir": ".cache/jupyter"})
    return SimpleNamespace(
        plugins={"mkdocs-jupyter": plugin}, config_file_path=str(tmp_path / "mkdocs.yml")
    ), plugin


def test_each_build_recomputes_the_key(hooks, tree, tmp_path, monkeypatch):
    """mkdocs serve calls on_config again for every rebuild; a library change must reach it."""
    lib, _ = tree
    monkeypatch.setattr(hooks, "LIBRARY", lib)
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "")
    base = tmp_path / ".cache" / "jupyter"
    config, plugin = _fake_config(tmp_path)
    hooks.on_config(config)
    first = Path(plugin.config["cache_dir"])
    first.mkdir(parents=True)
    (lib / "sub" / "model.py").write_text("W = 3\n")
    config, plugin = _fake_config(tmp_path)
    hooks.on_config(config)
    second = Path(plugin.config["cache_dir"])
    assert first.parent == second.parent == base and first != second
    assert not first.exists(), "the stale execution cache was not removed"
    # A plugin object kept across rebuilds must not nest one key's folder in another's.
    hooks.on_config(config)
    assert Path(plugin.config["cache_dir"]) == second


def test_mkdocs_reloads_the_plugin_config_and_runs_the_hook_per_build(tmp_path, monkeypatch):
    """What `mkdocs serve` does per rebuild (mkdocs 1.6): load the config again (a fresh
    mkdocs-jupyter plugin, the hook module reused), then run on_config."""
    from mkdocs.config import load_config

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Home\n")
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "a.py").write_text("A = 1\n")
    yml = tmp_path / "mkdocs.yml"
    yml.write_text(
        "site_name: t\n"
        "plugins:\n  - mkdocs-jupyter:\n      cache: true\n      cache_dir: .cache/nb\n"
        f"hooks:\n  - {ROOT / 'hooks' / 'build.py'}\n"
    )
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "")
    dirs = []
    for step in ("first build", "rebuild", "rebuild after a library change"):
        if step == "rebuild after a library change":
            (lib / "a.py").write_text("A = 2\n")
        config = load_config(config_file=str(yml))
        (hook,) = config.hooks.values()
        monkeypatch.setattr(hook, "LIBRARY", lib)
        config = config.plugins.on_config(config)
        dirs.append(Path(config.plugins["mkdocs-jupyter"].config["cache_dir"]))
    assert dirs[0] == dirs[1] != dirs[2]
    assert dirs[0].parent == dirs[2].parent == tmp_path / ".cache" / "nb"


# --- the time limit per cell -----------------------------------------------------------------


def test_the_cell_time_limit_holds_with_a_users_jupyter_config_dir(hooks, tmp_path, monkeypatch):
    """JUPYTER_CONFIG_DIR set by the user (here: an empty folder) must not lift the limit."""
    from mkdocs_jupyter.nbconvert2 import nb2html

    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "user-jupyter"))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "")
    monkeypatch.setenv("LESSON6_CELL_TIMEOUT", "2")
    config, _ = _fake_config(tmp_path, SimpleNamespace(config={"cache": False}))
    hooks.on_config(config)
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "id": "slow",
                "metadata": {},
                "source": ["import time\n", "time.sleep(5)"],
                "outputs": [],
                "execution_count": None,
            }
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "slow.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    start = time.monotonic()
    with pytest.raises(Exception) as info:
        nb2html(str(path), execute=True, kernel_name="python3", allow_errors=False)
    assert type(info.value).__name__ == "CellTimeoutError", repr(info.value)
    assert time.monotonic() - start < 30


def test_the_cell_time_limit_reaches_nbconvert_config(hooks, tmp_path, monkeypatch):
    from nbconvert.nbconvertapp import NbConvertApp

    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "user-jupyter"))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "")
    config, _ = _fake_config(tmp_path, SimpleNamespace(config={"cache": False}))
    for value, seconds in (("", 180), ("7", 7)):
        monkeypatch.setenv("LESSON6_CELL_TIMEOUT", value)
        hooks.on_config(config)
        app = NbConvertApp()
        app.load_config_file()
        assert app.config.ExecutePreprocessor.timeout == seconds
        assert app.config.NotebookClient.timeout == seconds


@pytest.mark.parametrize("value", ["soon", "0", "-5", "1.5"])
def test_a_bad_cell_time_limit_is_refused(hooks, tmp_path, monkeypatch, value):
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "")
    monkeypatch.setenv("LESSON6_CELL_TIMEOUT", value)
    config, _ = _fake_config(tmp_path, SimpleNamespace(config={"cache": False}))
    with pytest.raises(ValueError, match=f"LESSON6_CELL_TIMEOUT.*'{value}'"):
        hooks.on_config(config)
