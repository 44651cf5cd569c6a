"""Mini-batches straight from in-memory tensors.

For tabular and ratings data that already sit in tensors, slicing is much faster than
``torch.utils.data.DataLoader`` over a ``TensorDataset``, which fetches and collates every row
one by one in Python.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

__all__ = ["TensorBatches"]


class TensorBatches:
    """Iterate over aligned tensors in batches of ``batch_size`` rows: each batch is a tuple with
    one slice per tensor. With ``shuffle``, every pass draws a new order from a generator seeded
    with ``seed``, so two runs with the same seed see the same batches."""

    def __init__(
        self,
        *tensors: Tensor,
        batch_size: int = 64,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if not tensors:
            raise ValueError("TensorBatches needs at least one tensor")
        if not all(isinstance(t, Tensor) for t in tensors):
            kinds = [type(t).__name__ for t in tensors]
            raise TypeError(f"TensorBatches takes tensors, got {kinds}")
        rows = {len(t) for t in tensors}
        if len(rows) != 1:
            raise ValueError(f"the tensors must have the same number of rows, got {sorted(rows)}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.tensors, self.batch_size = tensors, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.n = rows.pop()
        self._gen = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (0 if self.drop_last or rest == 0 else 1)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        order = torch.randperm(self.n, generator=self._gen) if self.shuffle else None
        for i in range(len(self)):
            if order is None:
                rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
                yield tuple(t[rows] for t in self.tensors)
            else:
                idx = order[i * self.batch_size : (i + 1) * self.batch_size]
                yield tuple(t[idx] for t in self.tensors)
