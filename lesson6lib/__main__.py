"""Command line: ``python -m lesson6lib run NAME --preset {cpu,full} --device {cpu,cuda,auto}``.

Runs one of the pages' experiments (see :mod:`lesson6lib.experiments`) and prints its settings,
its results, the device it ran on and the wall time. ``--json FILE`` also writes the run record
(see :mod:`lesson6lib.experiments.reference`: metric, history, command, preset and digest, code
hash, machine, versions, wall time, date); the file is checked to be writable before the run
starts. ``--set field=value`` (repeatable) changes the preset, e.g. to measure a subset.
``--device`` defaults to ``$LESSON6_DEVICE``, else the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import pandas as pd

from lesson6lib import experiments
from lesson6lib.experiments import reference
from lesson6lib.runtime import DEVICE_ENV, setup_page


def _listing() -> str:
    lines = ["experiments (presets):"]
    for name, exp in experiments.registry().items():
        lines.append(f"  {name:<10} {exp.summary} ({', '.join(exp.presets)}; page: {exp.page})")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lesson6lib",
        description=__doc__.splitlines()[0],
        epilog=_listing(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="run one of the pages' experiments",
        epilog=_listing(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("name", choices=list(experiments.registry()))
    run.add_argument("--preset", default="cpu", help="a preset of the experiment (cpu, full)")
    run.add_argument(
        "--device",
        default=None,
        help=f"cpu, cuda, cuda:N or auto (default: ${DEVICE_ENV}, else cpu)",
    )
    run.add_argument("--threads", type=int, default=None, help="CPU threads (default 1)")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change one setting of the preset (JSON value; base.epochs=1 for a nested one)",
    )
    run.add_argument("--json", default=None, help="also write the results to this file")
    return parser


def _check_writable(path: Path) -> None:
    """Fail now, not after an hour of training, if ``path`` cannot be written."""
    if path.is_dir():
        raise SystemExit(f"--json {path}: is a folder, not a file")
    if not path.parent.is_dir():
        raise SystemExit(f"--json {path}: the folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise SystemExit(f"--json {path}: not writable")


def _command(args: argparse.Namespace, device: object, threads: int) -> str:
    """The command that repeats this run, with the device and threads it used."""
    words = ["python", "-m", "lesson6lib", "run", args.name, "--preset", args.preset]
    for item in args.set:
        words += ["--set", item]
    words += ["--device", str(device), "--threads", str(threads)]
    return shlex.join(words)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    exp = experiments.get(args.name)
    try:
        settings = reference.parse_settings(args.set)
        preset = reference.apply_settings(exp.preset(args.preset), settings)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    out = Path(args.json) if args.json else None
    if out is not None:
        _check_writable(out)
    page = setup_page(seed=0, device=args.device, threads=args.threads)
    print(f"{args.name}, preset {args.preset}: {preset}")
    print(page.stamp)
    start = time.perf_counter()
    result = exp.run(preset, device=page.device, progress=True)
    for title, table in result.tables().items():
        with pd.option_context("display.width", 160, "display.precision", 4):
            print(f"{title}:\n{table}")
    wall_s = time.perf_counter() - start
    record = reference.make_record(
        experiment=args.name,
        preset_name=args.preset,
        settings=settings,
        preset=preset,
        result=result,
        command=_command(args, page.device, page.threads),
        machine=reference.machine_info(page.device, page.threads),
        device=str(page.device),
        wall_s=wall_s,
    )
    shown = {k: v for k, v in record.items() if k not in ("history", "preset")}
    print(json.dumps(shown, indent=2, default=str))
    if out is not None:
        out.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
