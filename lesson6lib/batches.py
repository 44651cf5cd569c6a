"""Mini-batches straight from in-memory tensors, in two layouts.

- :class:`TensorBatches`: aligned tensors cut into batches of rows, shuffled per epoch. For
  tabular, ratings and window data that already sit in tensors, slicing is much faster than
  ``torch.utils.data.DataLoader`` over a ``TensorDataset``, which fetches and collates every row
  one by one in Python.
- :class:`StreamBatches`: the stateful layout of a text, for models that carry their hidden state
  from one batch to the next.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from lesson6lib.checks import check_int

__all__ = ["StreamBatches", "TensorBatches"]


class TensorBatches:
    """Iterate over aligned tensors in batches of ``batch_size`` rows: each batch is a tuple with
    one slice per tensor.

    With ``shuffle``, the order of epoch e (0, 1, ...) is the (e+1)-th permutation drawn from a
    generator seeded with ``seed``: a function of (seed, epoch) alone. The training loop calls
    :meth:`set_epoch` before each epoch, so a second ``fit`` on the same object sees the same
    batches as a fresh object; iterating without it moves on to the next epoch by itself.
    """

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
        self.tensors = tensors
        self.batch_size = check_int("batch_size", batch_size)
        self.seed = check_int("seed", seed, low=0)
        self.shuffle, self.drop_last = shuffle, drop_last
        self.n = rows.pop()
        self.epoch = 0
        self._gen = torch.Generator().manual_seed(self.seed)
        self._drawn = 0  # permutations drawn from _gen so far

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (0 if self.drop_last or rest == 0 else 1)

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass the ``epoch``-th (0-based): its order depends on (seed, epoch)."""
        self.epoch = check_int("epoch", epoch, low=0)

    def order(self, epoch: int) -> Tensor:
        """The row order of ``epoch``: the (epoch+1)-th permutation of a generator seeded with
        ``seed``. Drawn in sequence, so consecutive epochs cost one permutation each."""
        check_int("epoch", epoch, low=0)
        if epoch < self._drawn - 1:  # an earlier epoch: draw again from the start
            self._gen, self._drawn = torch.Generator().manual_seed(self.seed), 0
        while self._drawn <= epoch:
            self._last = torch.randperm(self.n, generator=self._gen)
            self._drawn += 1
        return self._last

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        order = self.order(self.epoch) if self.shuffle else None
        self.epoch += 1
        for i in range(len(self)):
            if order is None:
                rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
                yield tuple(t[rows] for t in self.tensors)
            else:
                idx = order[i * self.batch_size : (i + 1) * self.batch_size]
                yield tuple(t[idx] for t in self.tensors)


class StreamBatches:
    """The stateful layout: the text cut into ``batch_size`` parallel streams, read ``bptt``
    characters at a time, in order, so that row b of each batch continues row b of the previous
    one. A model may then carry its hidden state from batch to batch (truncated backpropagation
    through time: gradients stop at the batch boundary, the state does not).

    x[b, t] is stream b's character t and y[b, t] the one after it."""

    def __init__(self, codes: Tensor, batch_size: int, bptt: int) -> None:
        check_int("batch_size", batch_size)
        self.bptt = check_int("bptt", bptt)
        length = (len(codes) - 1) // batch_size
        if length < 2:
            raise ValueError(f"{len(codes)} codes are too few for {batch_size} streams")
        self.x = codes[: length * batch_size].view(batch_size, length)
        self.y = codes[1 : length * batch_size + 1].view(batch_size, length)

    def __len__(self) -> int:
        return -(-self.x.shape[1] // self.bptt)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for t in range(0, self.x.shape[1], self.bptt):
            yield self.x[:, t : t + self.bptt], self.y[:, t : t + self.bptt]
