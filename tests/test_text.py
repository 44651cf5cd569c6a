"""A text as the character models see it: the vocabulary, the two kinds of windows, the split
that keeps validation text apart, and the stateful layout of parallel streams."""

from __future__ import annotations

import pytest
import torch

from lesson6lib.text import Vocab, char_windows, contiguous_split, seq_windows


def test_vocab_round_trip_and_unknown_characters():
    v = Vocab("hello")
    assert v.chars == ["e", "h", "l", "o"] and len(v) == 4
    assert v.decode(v.encode("hole")) == "hole"
    with pytest.raises(ValueError, match=r"not in the vocabulary: \['z'\]"):
        v.encode("zoo")
    with pytest.raises(ValueError, match="non-empty"):
        Vocab("")


def test_windows_by_hand():
    codes = torch.arange(10)
    x, y = char_windows(codes, 3)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and y.tolist() == [3, 6, 9]
    x, y = char_windows(codes, 3, overlapping=True)
    assert len(x) == 7 and x[1].tolist() == [1, 2, 3] and y[1] == 4
    x, y = seq_windows(codes, 4)
    assert x.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]] and y.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    with pytest.raises(ValueError, match="context"):
        char_windows(codes, 10)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: char_windows(c, 0), ValueError, "context"),
        (lambda c: char_windows(c, 2.5), TypeError, "context"),
        (lambda c: seq_windows(c, 0), ValueError, "bptt"),
        (lambda c: seq_windows(c, 10), ValueError, "shorter than one sequence"),
        (lambda c: contiguous_split(c, 1.0), ValueError, "valid_frac"),
    ],
)
def test_bad_window_arguments_name_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call(torch.arange(10))


def test_contiguous_split_keeps_order():
    train, valid = contiguous_split(torch.arange(100), 0.1)
    assert train.tolist() == list(range(90)) and valid.tolist() == list(range(90, 100))
    with pytest.raises(ValueError, match="valid_frac"):
        contiguous_split(torch.arange(10), 0.0)
