"""The training loop's cost on the character models, at the pages' sizes: the library's loop
(``Learner`` with its Adam, ``TensorBatches``, a ``Recorder``) against the bare PyTorch loop one
would write (``torch.optim.Adam``, a shuffled index, the same batches). Same model, same data,
same number of steps; interleaved repeats, median. Run with `nox -s bench` or
`python benchmarks/bench_chars.py` (``BENCH_THREADS``, default 1)."""

from __future__ import annotations

import os
import platform
import statistics
import time

import torch
from torch import nn

from lesson6lib import optim, rnn
from lesson6lib.batches import TensorBatches
from lesson6lib.callbacks import Recorder
from lesson6lib.learner import Learner

VOCAB, ROWS, BATCH = 84, 512 * 40, 512


def data(seq_out: bool) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, VOCAB, (ROWS, 8), generator=gen)
    y = torch.randint(0, VOCAB, (ROWS, 8) if seq_out else (ROWS,), generator=gen)
    return x, y


MODELS = {
    "CharLoop (8 steps, 256 units)": (lambda: rnn.CharLoop(VOCAB), False),
    "CharLoopConcat (8 steps, 256 units)": (lambda: rnn.CharLoopConcat(VOCAB), False),
    "CharRnn (nn.RNN, 8 steps, 256)": (lambda: rnn.CharRnn(VOCAB), False),
    "CharSeqRnn (nn.RNN, 8 outputs, 256)": (lambda: rnn.CharSeqRnn(VOCAB), True),
}


def bare(make, seq_out: bool) -> float:
    torch.manual_seed(0)
    model, (x, y) = make(), data(seq_out)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.randperm(ROWS, generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    model.train()
    for i in range(0, ROWS, BATCH):
        idx = order[i : i + BATCH]
        out = model(x[idx])
        logits = out[0] if isinstance(out, tuple) else out
        loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB), y[idx].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def ours(make, seq_out: bool) -> float:
    torch.manual_seed(0)
    model, (x, y) = make(), data(seq_out)
    dl = TensorBatches(x, y, batch_size=BATCH, shuffle=True)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    learn = Learner(model, dl, rnn.seq_loss, opt, callbacks=[Recorder()], progress=False)
    start = time.perf_counter()
    learn.fit(1)
    return time.perf_counter() - start


def main(repeats: int = 7) -> None:
    print(f"\nOne epoch of {ROWS // BATCH} batches of {BATCH} windows (median of {repeats})")
    print(f"{'model':38s} {'bare, ms':>9s} {'Learner, ms':>12s} {'overhead':>9s}")
    for name, (make, seq_out) in MODELS.items():
        times = {"bare": [], "ours": []}
        for _ in range(repeats):  # interleaved: drift in machine load hits both alike
            times["bare"].append(bare(make, seq_out))
            times["ours"].append(ours(make, seq_out))
        b, o = (statistics.median(times[k]) for k in ("bare", "ours"))
        print(f"{name:38s} {b * 1e3:9.1f} {o * 1e3:12.1f} {100 * (o / b - 1):+8.1f}%")


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    cpu = platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, Python {platform.python_version()}, ", end="")
    print(f"{torch.get_num_threads()} thread(s), {cpu}")
    main()
