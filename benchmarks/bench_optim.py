"""Benchmark: our AdamW step (PyTorch's form of the decay and the paper's) against
torch.optim.AdamW (foreach and for-loop), and the Learner's overhead against a bare PyTorch
training loop. Run with `nox -s bench`; prints two tables.

Timings use torch.utils.benchmark (median of adaptive repeats) on one CPU thread, so that they are
stable on a shared machine; set BENCH_THREADS to use more.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import statistics
import time

import torch
from torch import nn
from torch.utils import benchmark
from torch.utils.data import DataLoader, TensorDataset

from lesson6lib import optim
from lesson6lib.learner import Learner

CASES = {
    "many small (400 tensors, 0.8M values)": [(64, 64)] * 200 + [(64,)] * 200,
    "few large (4 tensors, 16.8M values)": [(2048, 2048)] * 4,
}


def make_params(shapes) -> list[nn.Parameter]:
    gen = torch.Generator().manual_seed(0)
    params = [nn.Parameter(torch.randn(s, generator=gen)) for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen)
    return params


def time_step(make_opt, shapes) -> float:
    params = make_params(shapes)
    opt = make_opt(params)
    for _ in range(3):  # create the state first
        opt.step()
    timer = benchmark.Timer(
        stmt="opt.step()", globals={"opt": opt}, num_threads=torch.get_num_threads()
    )
    return timer.adaptive_autorange(min_run_time=1.0).median


def optimizer_table() -> None:
    kinds = {
        "lesson6lib AdamW": lambda p: optim.AdamW(p, lr=1e-3, weight_decay=1e-2),
        "lesson6lib AdamW, paper": lambda p: optim.AdamW(
            p, lr=1e-3, weight_decay=1e-2, decay="schedule"
        ),
        "torch AdamW foreach": lambda p: torch.optim.AdamW(
            p, lr=1e-3, weight_decay=1e-2, foreach=True
        ),
        "torch AdamW for-loop": lambda p: torch.optim.AdamW(
            p, lr=1e-3, weight_decay=1e-2, foreach=False
        ),
    }
    print("\nAdamW.step() time, ms (ratio to torch foreach)")
    print(f"{'case':40s} " + " ".join(f"{k:>22s}" for k in kinds))
    for case, shapes in CASES.items():
        times = {k: time_step(make, shapes) for k, make in kinds.items()}
        base = times["torch AdamW foreach"]
        cells = [f"{t * 1e3:9.3f} ({t / base:4.2f}x)".rjust(22) for t in times.values()]
        print(f"{case:40s} " + " ".join(cells))


def training_setup(seed: int = 0):
    torch.manual_seed(seed)
    x, y = torch.randn(256 * 60, 256), torch.randn(256 * 60, 1)
    dl = DataLoader(TensorDataset(x, y), batch_size=256, shuffle=False)
    model = nn.Sequential(
        nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 1)
    )
    return model, dl, optim.AdamW(model.parameters(), lr=1e-3)


def bare_loop() -> float:
    model, dl, opt = training_setup()
    start = time.perf_counter()
    model.train()
    for x, y in dl:
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def learner_loop(progress: bool) -> float:
    model, dl, opt = training_setup()
    learn = Learner(model, dl, nn.functional.mse_loss, opt, progress=progress)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        learn.fit(1)
    return time.perf_counter() - start


def overhead_table(repeats: int = 15) -> None:
    runs = {"bare PyTorch loop": [], "Learner.fit": [], "Learner.fit, no progress bar": []}
    for _ in range(repeats):  # interleaved, so that drift in machine load hits all three alike
        runs["bare PyTorch loop"].append(bare_loop())
        runs["Learner.fit"].append(learner_loop(progress=True))
        runs["Learner.fit, no progress bar"].append(learner_loop(progress=False))
    base = statistics.median(runs["bare PyTorch loop"])
    print(f"\nOne epoch, 60 batches of 256 rows, MLP 256-512-512-1, AdamW (median of {repeats})")
    for name, times in runs.items():
        med = statistics.median(times)
        print(f"{name:32s} {med * 1e3:8.1f} ms   overhead {100 * (med / base - 1):+5.1f}%")


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    cpu = platform.processor() or platform.machine()
    threads = torch.get_num_threads()
    python = platform.python_version()
    print(f"torch {torch.__version__}, Python {python}, {threads} thread(s), {cpu}")
    optimizer_table()
    overhead_table()
