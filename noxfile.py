"""Developer tasks. `nox` alone runs lint, the unit tests, the notebooks and the strict docs build.

Every session shares one virtual environment, `.nox/lesson6`, built once from `constraints.txt`
(torch first, pinned and CPU-only) and rebuilt only when `constraints.txt` or `pyproject.toml`
change: torch and the docs stack take a minute to install, so reuse saves minutes per session.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".nox" / "lesson6"
SITE = ROOT / "site"
# CPU wheels of torch; pip prefers 2.13.0+cpu from here over PyPI's CUDA build of 2.13.0.
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
# The per-cell time limit, as the site build applies it (hooks/build.py reads the same variable).
CELL_TIMEOUT_S = os.environ.get("LESSON6_CELL_TIMEOUT", "180")

nox.options.default_venv_backend = "none"  # sessions run inside the shared venv below
nox.options.sessions = ["lint", "tests", "notebooks", "docs"]
nox.options.error_on_external_run = False


def _bin() -> Path:
    return VENV / ("Scripts" if os.name == "nt" else "bin")


def _env(session: nox.Session) -> None:
    """Create or reuse the shared venv and put it first on PATH for this session."""
    key = hashlib.sha256(
        (ROOT / "constraints.txt").read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    ).hexdigest()
    stamp = VENV / ".lesson6-installed"
    if not (stamp.is_file() and stamp.read_text() == key):
        session.log(f"Building {VENV} (torch, the project and its docs and test tools)")
        session.run(sys.executable, "-m", "venv", "--clear", str(VENV))
        pip = [str(_bin() / "python"), "-m", "pip", "install", "-q", "-c", "constraints.txt"]
        # torch alone from the CPU index (its dependencies come with the project, from PyPI).
        session.run(
            *pip, "--no-deps", "--retries", "1", "--index-url", TORCH_INDEX, "torch==2.13.0"
        )
        session.run(*pip, "-e", ".[dev]")
        stamp.write_text(key)
    session.env["VIRTUAL_ENV"] = str(VENV)
    session.env["PATH"] = os.pathsep.join([str(_bin()), os.environ.get("PATH", "")])
    session.env.setdefault("NO_MKDOCS_2_WARNING", "1")
    session.env.pop("MPLBACKEND", None)  # Agg would remove every plot from the pages


def _run(session: nox.Session, tool: str, *args: str, **kwargs) -> None:
    """Run a program from the shared venv."""
    session.run(str(_bin() / tool), *args, **kwargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the library, the tests and the notebooks."""
    _env(session)
    _run(session, "ruff", "check", ".")
    _run(session, "ruff", "format", "--check", ".")


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests of the library and of the project's own rules (not the site, not a browser)."""
    _env(session)
    _run(session, "pytest", "-m", "not site and not browser", *session.posargs)


@nox.session
def notebooks(session: nox.Session) -> None:
    """Every page's notebook, run top to bottom in a fresh kernel by nbmake."""
    _env(session)
    _run(
        session,
        "pytest",
        "--nbmake",
        f"--nbmake-timeout={CELL_TIMEOUT_S}",
        "--durations=0",
        "-p",
        "no:cacheprovider",
        "docs",
        *session.posargs,
    )


@nox.session
def docs(session: nox.Session) -> None:
    """A cold, strict build of the site (every page executed), then the checks of the built site."""
    _env(session)
    _run(session, "mkdocs", "build", "--strict", "--clean", "--site-dir", str(SITE))
    _run(session, "pytest", "-m", "site", *session.posargs, env={"LESSON6_SITE": str(SITE)})


@nox.session
def browser(session: nox.Session) -> None:
    """The built site in Debian's chromium: console errors, images, search, dark mode."""
    _env(session)
    if not (SITE / "index.html").is_file():
        _run(session, "mkdocs", "build", "--strict", "--site-dir", str(SITE))
    _run(session, "pytest", "-m", "browser", *session.posargs, env={"LESSON6_SITE": str(SITE)})


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not tests): our AdamW against torch's; the Learner's overhead (on an MLP and
    on the character models); our MovieLens model against scikit-surprise (rewrites
    lesson6lib/reference/collab_baselines.json)."""
    _env(session)
    _run(session, "python", "benchmarks/bench_optim.py")
    _run(session, "python", "benchmarks/bench_chars.py")
    _run(session, "python", "benchmarks/bench_collab.py")


GPU_VENV = ROOT / ".nox" / "lesson6-gpu"
# PyTorch's CUDA wheel index for torch 2.13.0; pick the one your driver supports from PyTorch's
# install selector and set LESSON6_TORCH_INDEX to it.
CUDA_INDEX = os.environ.get("LESSON6_TORCH_INDEX", "https://download.pytorch.org/whl/cu130")


@nox.session
def gpu(session: nox.Session) -> None:
    """On a machine with an NVIDIA GPU: a CUDA build of the pinned torch in its own venv,
    `.nox/lesson6-gpu`, then the full preset of one experiment, saved with its record.
    `nox -s gpu -- NAME [more arguments of python -m lesson6lib run]`."""
    if not session.posargs:
        session.error("name an experiment: nox -s gpu -- NAME (python -m lesson6lib run --help)")
    name, *extra = session.posargs
    bindir = GPU_VENV / ("Scripts" if os.name == "nt" else "bin")
    key = CUDA_INDEX + hashlib.sha256((ROOT / "constraints.txt").read_bytes()).hexdigest()
    stamp = GPU_VENV / ".lesson6-installed"
    if not (stamp.is_file() and stamp.read_text() == key):
        session.run(sys.executable, "-m", "venv", "--clear", str(GPU_VENV))
        pip = [str(bindir / "python"), "-m", "pip", "install", "-q"]
        session.run(*pip, "--index-url", CUDA_INDEX, "torch==2.13.0")
        session.run(*pip, "-c", "constraints.txt", "-e", ".")  # torch is already satisfied
        stamp.write_text(key)
    python = str(bindir / "python")
    session.run(python, "-c", "import torch; assert torch.cuda.is_available(), 'no CUDA GPU'")
    args = ["--preset", "full", "--device", "cuda", "--json", f"{name}-full-cuda.json"]
    session.run(python, "-m", "lesson6lib", "run", name, *args, *extra)


@nox.session
def serve(session: nox.Session) -> None:
    """The site on http://127.0.0.1:8000, pages executed, rebuilt on every change."""
    _env(session)
    _run(session, "mkdocs", "serve", "--dev-addr", "127.0.0.1:8000", *session.posargs)


@nox.session
def ci(session: nox.Session) -> None:
    """Everything: lint, unit tests, notebooks, the strict build and its checks, the browser."""
    for task in (lint, tests, notebooks, docs, browser):
        session.log(f"--- {task.__name__}")
        task(session)
