"""MkDocs hooks for the executed pages.

- A per-cell time limit: nbconvert reads ``jupyter_config/`` (``NotebookClient.timeout``).
- An execution cache that follows what a page's outputs depend on. mkdocs-jupyter keys its cache on
  the notebook and its own options only; here its ``cache_dir`` gets a sub-folder named by a hash
  of ``lesson6lib/``, the data files the pages read, and the torch and Python versions. Changing
  any of them re-executes every page; stale sub-folders are removed.
- ``MPLBACKEND=Agg`` in the environment would silently drop every plot from the pages, so it is
  removed (with a warning) before any kernel starts.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import shutil
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.lesson6")
ROOT = Path(__file__).resolve().parents[1]
DATA_ENVS = ("LESSON6_DATA", "LESSON6_CACHE")
RUN_ENVS = ("LESSON6_THREADS", "LESSON6_DEVICE")


def _hash_tree(digest: Any, folder: Path, pattern: str) -> None:
    """Feed the relative name and bytes of every file under ``folder`` into ``digest``."""
    for path in sorted(p for p in folder.rglob(pattern) if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if "__pycache__" in rel or "/_downloads/" in f"/{rel}":
            continue
        digest.update(rel.encode() + b"\0")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)


def execution_key(library: Path = ROOT / "lesson6lib", environ: dict | None = None) -> str:
    """A hash of everything besides the notebook that a page's outputs depend on: the library's
    sources, the data folders named in the environment, the run settings, torch and Python."""
    import torch

    environ = os.environ if environ is None else environ
    digest = hashlib.sha256()
    _hash_tree(digest, library, "*.py")
    for env in DATA_ENVS:
        raw = environ.get(env, "").strip()
        digest.update(f"{env}={raw}\0".encode())
        if raw and Path(raw).expanduser().is_dir():
            _hash_tree(digest, Path(raw).expanduser(), "*")
    for env in RUN_ENVS:
        digest.update(f"{env}={environ.get(env, '')}\0".encode())
    digest.update(f"torch={torch.__version__} python={platform.python_version()}".encode())
    return digest.hexdigest()[:16]


def on_config(config, **kwargs):
    os.environ.setdefault("JUPYTER_CONFIG_DIR", str(ROOT / "jupyter_config"))
    if os.environ.get("MPLBACKEND", "").lower() == "agg":
        log.warning("MPLBACKEND=Agg would remove every plot from the pages; unsetting it")
        del os.environ["MPLBACKEND"]
    plugin = config.plugins.get("mkdocs-jupyter")
    if plugin is None or not plugin.config.get("cache"):
        return config
    base = Path(plugin.config["cache_dir"])
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
