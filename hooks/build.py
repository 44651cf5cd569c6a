"""MkDocs hooks for the executed pages.

- A time limit per cell: ``$LESSON6_CELL_TIMEOUT`` seconds (default 180). ``jupyter_config/``
  holds an nbconvert config that applies it; it is put first on ``JUPYTER_CONFIG_PATH``, so it
  holds whatever ``JUPYTER_CONFIG_DIR`` the user has (only an ``ExecutePreprocessor.timeout`` set
  in the user's own Jupyter config overrides it).
- An execution cache that follows what a page's outputs depend on, and nothing else.
  mkdocs-jupyter keys its cache on the notebook and its own options only; here its ``cache_dir``
  gets a sub-folder named by :func:`execution_key`: every file of ``lesson6lib/``, the sha256 of
  each data file the loaders would read (located as they would, without downloading), the
  versions of the stack and of Python, and the settings the pages read from the environment.
  Changing any of them re-executes every page; stale sub-folders are removed. The user cache's
  contents are not part of the key: pages write into it while the site builds.
- ``mkdocs serve`` watches ``lesson6lib/`` too, and every rebuild runs :func:`on_config` again
  (mkdocs 1.6 loads the config afresh per rebuild), so a library change re-executes the pages.
- ``MPLBACKEND=Agg`` in the environment would silently drop every plot from the pages, so it is
  removed (with a warning) before any kernel starts.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import shutil
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.lesson6")
ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "lesson6lib"
JUPYTER_CONFIG = ROOT / "jupyter_config"
# Settings the pages' outputs depend on. The values of the data settings count (a page prints
# them), not the contents of the folders they name: the data files count by their digests.
DATA_ENVS = ("LESSON6_DATA", "LESSON6_CACHE", "LESSON6_OFFLINE")
RUN_ENVS = ("LESSON6_THREADS", "LESSON6_DEVICE")
PACKAGES = ("torch", "numpy", "pandas", "matplotlib", "nbconvert", "nbclient", "ipykernel")
TIMEOUT_ENV = "LESSON6_CELL_TIMEOUT"
DEFAULT_TIMEOUT_S = 180  # jupyter_config/jupyter_nbconvert_config.py has the same default


def _hash_library(digest: Any, folder: Path) -> None:
    """Feed the relative name and bytes of every file under ``folder`` (bytecode caches aside)
    into ``digest``."""
    files = sorted(
        p
        for p in folder.rglob("*")
        if "__pycache__" not in p.relative_to(folder).parts and p.is_file()
    )
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")


def data_states(
    environ: Mapping[str, str] | None = None, data_files: Iterable[Any] | None = None
) -> list[tuple[str, str]]:
    """``(label, state)`` for each data file the loaders read: its sha256 where the loaders would
    find it now, else ``"missing"`` (or ``"corrupt: <why>"``). Nothing is downloaded or moved:
    the files are located as with ``LESSON6_OFFLINE=1``. A bad setting (a ``LESSON6_DATA`` that
    is no folder, an unknown ``LESSON6_OFFLINE`` value) raises, as the pages would."""
    from lesson6lib.data import files

    environ = os.environ if environ is None else environ
    files.offline(environ)
    files.data_root(environ)
    if data_files is None:
        from lesson6lib.data import data_files as loaders_files

        data_files = loaders_files()
    look = {**environ, files.OFFLINE_ENV: "1"}
    states = []
    for spec in data_files:
        try:
            state = files.sha256_of(files.locate(spec, environ=look))
        except files.DataNotFoundError:
            state = "missing"
        except files.DataIntegrityError as err:
            state = f"corrupt: {err}"
        states.append((spec.label, state))
    return states


def _versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name}=absent")
    found.append(f"python={platform.python_implementation()}-{platform.python_version()}")
    return " ".join(found)


def execution_key(
    library: Path | None = None,
    environ: Mapping[str, str] | None = None,
    data_files: Iterable[Any] | None = None,
) -> str:
    """A hash of everything besides the notebook that a page's outputs depend on: every file of
    the library, the data files the loaders read (by sha256), the run and data settings, and the
    versions of the stack and of Python. ``library`` defaults to :data:`LIBRARY`, ``environ`` to
    ``os.environ``, ``data_files`` to every loader's file."""
    library = LIBRARY if library is None else library
    environ = os.environ if environ is None else environ
    digest = hashlib.sha256()
    _hash_library(digest, library)
    for label, state in data_states(environ, data_files):
        digest.update(f"data {label}={state}\0".encode())
    for env in DATA_ENVS + RUN_ENVS:
        digest.update(f"{env}={environ.get(env, '').strip()}\0".encode())
    digest.update(_versions().encode())
    return digest.hexdigest()[:16]


def cell_timeout(environ: Mapping[str, str] | None = None) -> int:
    """The time limit per cell in seconds: ``$LESSON6_CELL_TIMEOUT``, default 180."""
    raw = (os.environ if environ is None else environ).get(TIMEOUT_ENV, "")
    if not raw.strip():
        return DEFAULT_TIMEOUT_S
    try:
        seconds = int(raw.strip())
    except ValueError:
        seconds = 0
    if seconds <= 0:
        raise ValueError(
            f"{TIMEOUT_ENV} is set to {raw!r}; expected a whole number of seconds above 0 "
            f"(the time limit per cell; default {DEFAULT_TIMEOUT_S})"
        )
    return seconds


def _apply_cell_timeout() -> None:
    """Check ``$LESSON6_CELL_TIMEOUT`` and put ``jupyter_config/`` first on JUPYTER_CONFIG_PATH,
    where nbconvert finds it whatever JUPYTER_CONFIG_DIR is (its config applies the limit)."""
    cell_timeout()
    paths = [p for p in os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    if str(JUPYTER_CONFIG) not in paths:
        os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(JUPYTER_CONFIG), *paths])


EXEC_CACHE_ENV = "LESSON6_EXEC_CACHE"


def on_config(config, **kwargs):
    _apply_cell_timeout()
    if os.environ.get("MPLBACKEND", "").lower() == "agg":
        log.warning("MPLBACKEND=Agg would remove every plot from the pages; unsetting it")
        del os.environ["MPLBACKEND"]
    plugin = config.plugins.get("mkdocs-jupyter")
    if plugin is None or not plugin.config.get("cache"):
        return config
    # mkdocs 1.6 makes a fresh plugin per (re)build; should one be kept, start from its base.
    configured = (
        getattr(plugin, "_lesson6_cache_base", None)
        or os.environ.get(EXEC_CACHE_ENV, "").strip()  # several checkouts or builds side by side
        or plugin.config["cache_dir"]
    )
    plugin._lesson6_cache_base = configured
    base = Path(configured)
    if not base.is_absolute():
        base = Path(config.config_file_path).parent / base
    key = execution_key()
    if base.is_dir():
        for stale in base.iterdir():
            if stale.is_dir() and stale.name != key:
                shutil.rmtree(stale, ignore_errors=True)
    plugin.config["cache_dir"] = str(base / key)
    log.info("Executed pages are cached under %s", base / key)
    return config


def on_serve(server, config, builder, **kwargs):
    """``mkdocs serve`` rebuilds when the library changes, not only the pages."""
    server.watch(str(LIBRARY))
    return server
