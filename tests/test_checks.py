"""The one argument check of the library: numbers, integers and choices."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lesson6lib.checks import check_choice, check_int, check_number


def test_accepts_and_returns_plain_values():
    assert check_int("n", np.int64(3)) == 3 and isinstance(check_int("n", np.int64(3)), int)
    assert check_number("lr", 1) == 1.0
    assert check_number("p", 0.5, 0.0, 1.0, low_open=True, high_open=True) == 0.5
    assert check_choice("mode", "min", ("min", "max")) == "min"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: check_int("epochs", True), TypeError, r"epochs must be an integer, got True"),
        (lambda: check_int("epochs", 2.0), TypeError, "epochs must be an integer"),
        (lambda: check_int("epochs", 0), ValueError, "epochs must be a positive integer, got 0"),
        (lambda: check_number("lr", "0.1"), TypeError, "lr must be a number"),
        (lambda: check_number("lr", False), TypeError, "lr must be a number"),
        (lambda: check_number("lr", math.nan), ValueError, "lr must be a finite number"),
        (lambda: check_number("lr", -math.inf, 0.0), ValueError, "finite"),
        (lambda: check_number("lr", -0.1, 0.0), ValueError, r"lr must be in \[0, inf\]"),
        (lambda: check_number("p", 1.0, 0.0, 1.0, high_open=True), ValueError, r"\[0, 1\)"),
        (lambda: check_number("p", 0.0, 0.0, 1.0, low_open=True), ValueError, r"\(0, 1\]"),
        (lambda: check_choice("mode", "mean", ("min", "max")), ValueError, "'min', 'max'"),
    ],
)
def test_refuses_with_a_message_naming_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()
