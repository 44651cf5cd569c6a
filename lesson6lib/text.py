"""A text as the character models see it: a vocabulary of its characters, the codes of the
text, a split that keeps validation text apart, and the two ways of cutting it into examples
(windows that predict one next character, and sequences shifted by one)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from lesson6lib.checks import check_int, check_number

__all__ = ["Vocab", "char_windows", "contiguous_split", "seq_windows"]


class Vocab:
    """The characters of a text, sorted, and the two maps between characters and codes."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text:
            raise ValueError("Vocab needs a non-empty string")
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> Tensor:
        """Codes of ``text`` as a 1-D int64 tensor; a character not in the vocabulary raises."""
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown[:10]}")
        return torch.tensor([self.stoi[c] for c in text], dtype=torch.int64)

    def decode(self, codes: Sequence[int] | Tensor) -> str:
        return "".join(self.chars[int(i)] for i in codes)


def contiguous_split(codes: Tensor, valid_frac: float = 0.1) -> tuple[Tensor, Tensor]:
    """The text's first ``1 - valid_frac`` for training and its last ``valid_frac`` for
    validation: no window of the validation text overlaps one of the training text."""
    check_number("valid_frac", valid_frac, 0.0, 1.0, low_open=True, high_open=True)
    cut = int(len(codes) * (1 - valid_frac))
    return codes[:cut], codes[cut:]


def char_windows(codes: Tensor, context: int, overlapping: bool = False) -> tuple[Tensor, Tensor]:
    """Inputs of ``context`` characters and the character that follows each: x (n, context),
    y (n,). Non-overlapping windows start every ``context`` characters; overlapping ones at
    every character."""
    check_int("context", context)
    if len(codes) <= context:
        raise ValueError(f"need context < len(codes), got {context} for {len(codes)} codes")
    step = 1 if overlapping else context
    starts = torch.arange(0, len(codes) - context, step)
    x = codes[starts[:, None] + torch.arange(context)]
    return x, codes[starts + context]


def seq_windows(codes: Tensor, bptt: int) -> tuple[Tensor, Tensor]:
    """Non-overlapping sequences of ``bptt`` characters and the same shifted by one: x and y of
    shape (n, bptt), y[:, t] being the character after x[:, t]."""
    check_int("bptt", bptt)
    n = (len(codes) - 1) // bptt
    if n < 1:
        raise ValueError(f"the text is shorter than one sequence of {bptt} characters")
    return codes[: n * bptt].view(n, bptt), codes[1 : n * bptt + 1].view(n, bptt)
