"""Command line: ``python -m lesson6lib run NAME --preset {cpu,full} --device {cpu,cuda,auto}``.

Runs one of the pages' experiments (see :mod:`lesson6lib.experiments`) and prints its settings,
its results, the device it ran on and the wall time. ``--json FILE`` also writes the results.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import pandas as pd

from lesson6lib import experiments, rossmann_runs
from lesson6lib.runtime import setup_page


def _run(name: str, preset, device) -> dict:
    if name == "sgd":
        return experiments.fit_line(preset, device)
    if name == "collab":
        result = experiments.train_collab(preset, device=device, progress=True)
        return {"valid_mse": result["valid_mse"], "seconds": result["seconds"]}
    if name == "char-rnn":
        result = experiments.train_seq(preset, device=device, progress=True)
        return {"valid_nats_per_char": result["valid_nats"], "seconds": result["seconds"]}
    if name == "rossmann":
        result = rossmann_runs.train_rossmann(preset, device=device, progress=True)
        with pd.option_context("display.width", 160):
            print(result["history"])
        return {"valid_rmspe": result["valid_rmspe"], "seconds": result["seconds"]}
    if name == "wd-grid":
        grid = experiments.weight_decay_grid(preset, device)
        table = grid.groupby(["method", "lr", "weight_decay"])["valid_mse"].mean().unstack()
        with pd.option_context("display.width", 160, "display.precision", 4):
            print(table)
        best = grid.groupby("method")["valid_mse"].min().to_dict()
        return {"best_valid_mse": best, "runs": len(grid), "seconds": float(grid["seconds"].sum())}
    raise ValueError(f"unknown experiment {name!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lesson6lib", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one of the pages' experiments")
    run.add_argument("name", choices=sorted(experiments.PRESETS))
    run.add_argument("--preset", choices=["cpu", "full"], default="cpu")
    run.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    run.add_argument("--threads", type=int, default=None, help="CPU threads (default 1)")
    run.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)

    page = setup_page(seed=0, device=args.device, threads=args.threads)
    preset = experiments.PRESETS[args.name][args.preset]
    print(f"{args.name}, preset {args.preset}: {preset}")
    print(page.stamp)
    start = time.perf_counter()
    results = _run(args.name, preset, page.device)
    results |= {
        "wall_s": time.perf_counter() - start,
        "device": str(page.device),
        "stamp": page.stamp,
    }
    print(json.dumps(results, indent=2, default=str))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results | {"preset": str(preset)}, fh, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
