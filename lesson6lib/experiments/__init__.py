"""The runs the pages make, one module per page topic, each as a function of a preset:
``"cpu"`` (small, for the site build) or ``"full"`` (the lesson's size, for a GPU or a patient
CPU). A page and the command line (``python -m lesson6lib run NAME --preset full``) call the same
functions.

Each topic module (``line``, ``collab``, ``next_char``, ``chars``, ``rossmann``,
``rossmann_variants``) lists its experiments in a module-level ``EXPERIMENTS`` tuple;
:func:`registry` collects them from every module of this package, so adding an experiment means
writing one module. :func:`load_reference` reads the
measured full-size results shipped in ``lesson6lib/reference/``; :func:`reference_table` shows
the run records there (see :mod:`lesson6lib.experiments.reference`) and :func:`gpu_command` the
command that makes one.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from functools import cache
from importlib import resources

import pandas as pd

from lesson6lib.experiments import reference
from lesson6lib.experiments.base import Experiment, Preset, RunResult

__all__ = [
    "Experiment",
    "Preset",
    "RunResult",
    "get",
    "gpu_command",
    "load_reference",
    "reference_table",
    "registry",
]

_REFERENCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


@cache
def registry() -> dict[str, Experiment]:
    """Every experiment of every module in this package, by name (sorted)."""
    found: dict[str, Experiment] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name in ("base", "reference") or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for exp in getattr(module, "EXPERIMENTS", ()):
            if exp.name in found:
                raise RuntimeError(f"two experiments are named {exp.name!r}")
            found[exp.name] = exp
    return dict(sorted(found.items()))


def get(name: str) -> Experiment:
    """The experiment called ``name``; a clear error lists the ones there are."""
    known = registry()
    if name not in known:
        raise ValueError(f"no experiment named {name!r}; there are {', '.join(known)}")
    return known[name]


def load_reference(name: str) -> dict:
    """Numbers measured once and shipped with the package, for the pages to show:
    ``lesson6lib/reference/<name>.json``. ``name`` is a bare name (letters, digits, ``-``,
    ``_``): never a path."""
    if not isinstance(name, str) or not _REFERENCE_NAME.fullmatch(name):
        raise ValueError(f"a reference name is letters, digits, '-' and '_', got {name!r}")
    folder = resources.files("lesson6lib") / "reference"
    path = folder / f"{name}.json"
    if not path.is_file():
        known = sorted(
            p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")
        )
        raise ValueError(f"no reference results named {name!r}; there are {known}")
    return json.loads(path.read_text(encoding="utf-8"))


def reference_table(name: str) -> pd.DataFrame:
    """The measured runs of experiment ``name`` shipped in ``lesson6lib/reference/run-*.json``:
    one row per run (preset and any ``--set`` changes, metric, machine, wall time, date)."""
    get(name)
    return reference.runs_table(name)


def gpu_command(name: str, preset: str = "full", device: str = "cuda") -> reference.ShellCommand:
    """The command that runs experiment ``name``'s ``preset`` on ``device`` and writes its run
    record; a notebook shows it as a code block with a copy button."""
    get(name).preset(preset)  # a clear error for an unknown experiment or preset
    return reference.shell_command(name, preset, device)
