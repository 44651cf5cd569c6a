"""TensorBatches: every row once per pass, reproducible shuffles, clear errors."""

from __future__ import annotations

import pytest
import torch

from lesson6lib.batches import TensorBatches


def test_batches_cover_every_row_once():
    x, y = torch.arange(10), torch.arange(10) * 2
    batches = list(TensorBatches(x, y, batch_size=4))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([b[1] for b in batches]), y)
    assert len(TensorBatches(x, batch_size=4, drop_last=True)) == 2


def test_shuffle_is_seeded_and_changes_each_pass():
    a = TensorBatches(torch.arange(20), batch_size=20, shuffle=True, seed=3)
    b = TensorBatches(torch.arange(20), batch_size=20, shuffle=True, seed=3)
    first_a, second_a = next(iter(a))[0], next(iter(a))[0]
    assert torch.equal(first_a, next(iter(b))[0])
    assert not torch.equal(first_a, second_a)
    assert sorted(first_a.tolist()) == list(range(20))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((), {}, ValueError, "at least one tensor"),
        ((torch.zeros(3), torch.zeros(4)), {}, ValueError, r"same number of rows, got \[3, 4\]"),
        (([1, 2],), {}, TypeError, "takes tensors"),
        ((torch.zeros(3),), {"batch_size": 0}, ValueError, "batch_size"),
    ],
)
def test_bad_input(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        TensorBatches(*args, **kwargs)


def test_the_order_of_an_epoch_depends_on_seed_and_epoch_only():
    a = TensorBatches(torch.arange(50), batch_size=50, shuffle=True, seed=7)
    b = TensorBatches(torch.arange(50), batch_size=50, shuffle=True, seed=7)
    first, second, third = (next(iter(a))[0] for _ in range(3))
    b.set_epoch(2)
    assert torch.equal(next(iter(b))[0], third)
    b.set_epoch(0)  # back to the start: the same order as a fresh object's first pass
    assert torch.equal(next(iter(b))[0], first) and torch.equal(next(iter(b))[0], second)
    with pytest.raises(ValueError, match="epoch must be a non-negative integer"):
        b.set_epoch(-1)


def test_a_second_fit_sees_the_same_batches_as_a_fresh_one():
    from torch import nn

    from lesson6lib import optim
    from lesson6lib.learner import Learner
    from lesson6lib.runtime import seed_everything

    def run(learn_twice: bool) -> list[float]:
        seed_everything(0)
        x = torch.randn(64, 2)
        y = x.sum(dim=1, keepdim=True)
        dl = TensorBatches(x, y, batch_size=8, shuffle=True, seed=1)
        model = nn.Linear(2, 1)
        losses: list[float] = []
        for _ in range(2 if learn_twice else 1):
            seed_everything(0)
            model = nn.Linear(2, 1)
            learn = Learner(
                model,
                dl,
                nn.functional.mse_loss,
                optim.SGD(model.parameters(), 0.1),
                progress=False,
            )
            losses = learn.fit(2)["train_loss"].tolist()
        return losses

    assert run(learn_twice=True) == run(learn_twice=False)


def test_stream_batches_continue_each_row():
    from lesson6lib.batches import StreamBatches

    codes = torch.arange(41)
    batches = list(StreamBatches(codes, batch_size=4, bptt=3))
    assert len(batches) == len(StreamBatches(codes, 4, 3)) == 4
    (x0, y0), (x1, _) = batches[0], batches[1]
    assert x0[:, -1].tolist() == [2, 12, 22, 32] and x1[:, 0].tolist() == [3, 13, 23, 33]
    assert torch.equal(y0, x0 + 1)
    assert batches[-1][0].shape == (4, 1)  # 10 columns in chunks of 3
    with pytest.raises(ValueError, match="too few"):
        StreamBatches(torch.arange(5), batch_size=4, bptt=2)
    with pytest.raises(ValueError, match="bptt"):
        StreamBatches(codes, batch_size=4, bptt=0)
