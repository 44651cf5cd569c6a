"""Argument checks shared by the whole library: one place decides what "a positive integer" or
"a finite number in a range" means, and how the error reads.

Every check names the argument, what was expected and what arrived. ``bool`` is refused where a
number is expected (``True`` is an ``int`` in Python, but never a learning rate), and so are NaN
and infinities (``nan < 0`` is False, so a plain range check would let NaN through).
"""

from __future__ import annotations

import math
import numbers

__all__ = ["check_choice", "check_int", "check_number"]


def check_int(name: str, value: object, low: int | None = 1) -> int:
    """``value`` as an int, which must be an integer (not a bool) and at least ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if low is not None and value < low:
        bound = {0: "a non-negative integer", 1: "a positive integer"}.get(
            low, f"an integer >= {low}"
        )
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def check_number(
    name: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a float, which must be a finite real number (not a bool) within the bounds:
    ``low <= value <= high``, or strict where ``low_open``/``high_open``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must be in {left}{lo}, {hi}{right}, got {value:g}")
    return value


def check_choice(name: str, value: object, allowed: tuple) -> object:
    """``value``, which must be one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value
