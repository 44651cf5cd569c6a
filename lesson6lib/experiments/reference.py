"""Measured full-size results and where they came from.

A *run record* is what ``python -m lesson6lib run NAME --preset full --json FILE`` writes: the
metric and its value, the per-epoch history, the exact command, the preset (its settings and
digest, and any ``--set`` changes), a hash of the library code that ran, the machine, the
torch and Python versions, the wall time and the date. Records shipped with the package live in
``lesson6lib/reference/run-*.json``; :func:`reference_runs` reads them and
:func:`runs_table` shows them on a page.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import html
import json
import os
import platform
import re
import typing
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import BashLexer

from lesson6lib.experiments.base import Preset, RunResult

__all__ = [
    "RECORD_FIELDS",
    "ShellCommand",
    "apply_settings",
    "check_record",
    "code_hash",
    "machine_info",
    "make_record",
    "parse_settings",
    "record_filename",
    "reference_runs",
    "runs_table",
    "shell_command",
]

# Every field a run record holds, with its type.
RECORD_FIELDS: dict[str, type | tuple[type, ...]] = {
    "experiment": str,
    "preset_name": str,
    "settings": dict,  # the --set changes to the named preset ({} for the preset as it is)
    "preset": dict,
    "preset_digest": str,
    "metric": str,
    "value": (int, float),
    "summary": dict,
    "history": list,
    "command": str,
    "code_hash": str,
    "machine": dict,
    "device": str,
    "torch": str,
    "python": str,
    "wall_s": (int, float),
    "date": str,
}
"""Every field of a run record and the type (or types) of its value, as :func:`check_record`
checks them."""
MACHINE_FIELDS = ("cpu", "cores", "threads", "device_name")


def code_hash(root: Path | None = None) -> str:
    """A short sha256 of every ``*.py`` file of the library (paths and contents, in order)."""
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: torch.device, threads: int) -> dict[str, Any]:
    """The CPU model, its core count, the threads torch used, and the name of ``device``."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = "CPU"
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "threads": threads,
        "device_name": name,
    }


def _coerce(value: Any, hint: Any) -> Any:
    """JSON lists become tuples where the field is a tuple."""
    if isinstance(value, list) and (
        typing.get_origin(hint) is tuple or "tuple" in str(hint).lower()
    ):
        return tuple(value)
    return value


def parse_settings(items: list[str]) -> dict[str, Any]:
    """``["epochs=1", "lrs=[0.01, 0.1]"]`` as ``{"epochs": 1, "lrs": [0.01, 0.1]}``: each value
    read as JSON where it parses, else kept as a string."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--set takes field=value, got {item!r}")
        try:
            out[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[name.strip()] = raw
    return out


def apply_settings(preset: Preset, settings: dict[str, Any]) -> Preset:
    """``preset`` with the fields of ``settings`` changed (``"base.epochs"`` reaches into a
    nested preset). The new preset checks itself, so a wrong name or value fails here, before
    any training."""
    for name, value in settings.items():
        preset = _replace(preset, name.split("."), value)
    return preset


def _replace(preset: Preset, path: list[str], value: Any) -> Preset:
    fields = {f.name for f in dataclasses.fields(preset)}
    head = path[0]
    if head not in fields:
        raise ValueError(
            f"{type(preset).__name__} has no field {head!r}; it has {', '.join(sorted(fields))}"
        )
    if len(path) > 1:
        value = _replace(getattr(preset, head), path[1:], value)
    else:
        value = _coerce(value, typing.get_type_hints(type(preset))[head])
    return dataclasses.replace(preset, **{head: value})


def make_record(
    *,
    experiment: str,
    preset_name: str,
    settings: dict[str, Any],
    preset: Preset,
    result: RunResult,
    command: str,
    machine: dict[str, Any],
    device: str,
    wall_s: float,
) -> dict[str, Any]:
    """The run record of one finished run (see the module's docstring)."""
    history = json.loads(result.history.to_json(orient="records")) if len(result.history) else []
    summary = json.loads(json.dumps(result.summary(), default=str))
    return {
        "experiment": experiment,
        "preset_name": preset_name,
        "settings": settings,
        "preset": preset.as_dict(),
        "preset_digest": preset.digest(),
        "metric": result.metric,
        "value": float(result.value),
        "summary": summary,
        "history": history,
        "command": command,
        "code_hash": code_hash(),
        "machine": machine,
        "device": device,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "wall_s": round(float(wall_s), 2),
        "date": _dt.date.today().isoformat(),
    }


def check_record(record: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the first missing or mistyped field of a run record."""
    for name, kind in RECORD_FIELDS.items():
        if name not in record:
            raise ValueError(f"a run record needs {name!r}; it has {sorted(record)}")
        if not isinstance(record[name], kind) or isinstance(record[name], bool):
            raise ValueError(f"run record field {name!r} has the wrong type: {record[name]!r}")
    for name in MACHINE_FIELDS:
        if name not in record["machine"]:
            raise ValueError(f"a run record's machine needs {name!r}")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", record["date"]):
        raise ValueError(f"a run record's date is YYYY-MM-DD, got {record['date']!r}")


def _slug(value: Any) -> str:
    return re.sub(r"[^a-z0-9]+", "", str(value).lower())


def record_filename(record: dict[str, Any]) -> str:
    """``run-<experiment>-<preset>[-<settings>]-<device><threads>.json``."""
    parts = [record["experiment"], record["preset_name"]]
    parts += [f"{_slug(k)}{_slug(v)}" for k, v in sorted(record["settings"].items())]
    where = "cuda" if record["device"].startswith("cuda") else f"cpu{record['machine']['threads']}"
    return "-".join(["run", *parts, where]) + ".json"


def reference_runs(experiment: str | None = None) -> list[dict[str, Any]]:
    """Every run record shipped in ``lesson6lib/reference/``, of ``experiment`` if given,
    sorted by experiment, then full presets before measured subsets."""
    folder = resources.files("lesson6lib") / "reference"
    runs = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.startswith("run-") and path.name.endswith(".json"):
            record = json.loads(path.read_text(encoding="utf-8"))
            if experiment is None or record.get("experiment") == experiment:
                runs.append(record)
    return sorted(runs, key=lambda r: (r["experiment"], bool(r["settings"]), r["command"]))


def _minutes(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def runs_table(experiment: str) -> pd.DataFrame:
    """The measured runs of ``experiment`` as a table for a page: the run (preset and any
    changes), its metric, the machine, the wall time, the versions and the date."""
    rows = []
    for rec in reference_runs(experiment):
        changes = ", ".join(f"{k}={v}" for k, v in rec["settings"].items())
        machine = rec["machine"]
        where = machine["device_name"]
        if rec["device"] == "cpu":
            where = f"{machine['cpu']}, {machine['threads']} thread(s) of {machine['cores']}"
        rows.append(
            {
                "run": rec["preset_name"] + (f" with {changes}" if changes else ""),
                "metric": rec["metric"],
                "value": float(f"{rec['value']:.5g}"),
                "machine": where,
                "wall time": _minutes(rec["wall_s"]),
                "torch": rec["torch"],
                "date": rec["date"],
            }
        )
    columns = ["run", "metric", "value", "machine", "wall time", "torch", "date"]
    return pd.DataFrame(rows, columns=columns).set_index("run")


class ShellCommand:
    """A shell command that a notebook shows as a highlighted block with the site's copy
    button (the same markup as the site's own code blocks) and a terminal prints as text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_html_(self) -> str:
        formatter = HtmlFormatter(cssclass="highlight", wrapcode=True)
        code = highlight(self.text, BashLexer(), formatter)
        return f'<div class="l6-command" aria-label="{html.escape(self.text)}">{code}</div>'

    def __repr__(self) -> str:
        return self.text


def shell_command(experiment: str, preset: str = "full", device: str = "cuda") -> ShellCommand:
    """The command that runs ``experiment``'s ``preset`` on ``device`` and saves its record."""
    return ShellCommand(
        f"python -m lesson6lib run {experiment} --preset {preset} --device {device}"
        f" --json {experiment}-{preset}.json"
    )
