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
