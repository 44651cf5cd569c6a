"""Benchmark: our EmbeddingDotBias (the collab page's CPU preset) against scikit-surprise's SVD
and SVD++ on the same random 80/20 split of each MovieLens release, on this machine's CPU.

Run with `nox -s bench`. Writes lesson6lib/reference/collab_baselines.json, which the
collaborative-filtering page shows; the docs build never runs this (SVD++ alone takes minutes).
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import surprise
import torch

from lesson6lib.collab import random_split
from lesson6lib.data import movielens
from lesson6lib.experiments.collab import CollabPreset, train_collab
from lesson6lib.runtime import setup_page

OUT = Path(__file__).resolve().parents[1] / "lesson6lib" / "reference" / "collab_baselines.json"


def surprise_run(algo, ratings, train_idx, valid_idx) -> dict:
    reader = surprise.Reader(rating_scale=(0.5, 5.0))
    train = ratings.iloc[train_idx][["userId", "movieId", "rating"]]
    trainset = surprise.Dataset.load_from_df(train, reader).build_full_trainset()
    start = time.perf_counter()
    algo.fit(trainset)
    seconds = time.perf_counter() - start
    valid = ratings.iloc[valid_idx]
    pred = np.array(
        [algo.predict(u, i).est for u, i in zip(valid.userId, valid.movieId, strict=True)]
    )
    mse = float(((pred - valid.rating.to_numpy()) ** 2).mean())
    return {"mse": mse, "rmse": mse**0.5, "fit_s": seconds}


def ours(release: str, ratings) -> dict:
    preset = replace(CollabPreset(), release=release)
    result = train_collab(preset, ratings)
    mse = result.value
    return {"mse": mse, "rmse": mse**0.5, "fit_s": result.seconds}


def main() -> None:
    setup_page(seed=0)
    rows = []
    for release in movielens.RELEASES:
        ratings = movielens.load_ratings(release)
        preset = CollabPreset()
        train_idx, valid_idx = random_split(len(ratings), preset.valid_frac, preset.seed)
        models = [
            ("lesson6lib EmbeddingDotBias (CPU preset)", None),
            ("surprise SVD (defaults)", surprise.SVD(random_state=0)),
            ("surprise SVD++ (defaults)", surprise.SVDpp(random_state=0)),
        ]
        for model, algo in models:
            if algo is None:
                result = ours(release, ratings)
            else:
                result = surprise_run(algo, ratings, train_idx, valid_idx)
            rows.append({"release": release, "model": model} | result)
            print(
                f"{release}  {model:42s} MSE {result['mse']:.4f}  RMSE {result['rmse']:.4f}  "
                f"fit {result['fit_s']:.1f} s",
                flush=True,
            )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "measured_on": dt.date.today().isoformat(),
        "machine": f"{platform.machine()} CPU, torch {torch.__version__} on 1 thread, "
        f"scikit-surprise {surprise.__version__}, Python {platform.python_version()}",
        "split": "random 80/20, seed 42 (lesson6lib.collab.random_split)",
    }
    OUT.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
