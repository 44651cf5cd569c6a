"""The integer-code contract shared by collaborative filtering and the tabular model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lesson6lib.collab import IdEncoder
from lesson6lib.encoding import UNKNOWN, CodeEncoder


def test_codes_in_order_of_appearance_or_sorted_by_text():
    values = [30, 10, 20, 10]
    assert CodeEncoder().fit(values).transform([30, 10, 20]).tolist() == [1, 2, 3]
    sorted_ = CodeEncoder("sorted").fit([3, 10, 1])
    assert sorted_.classes_.tolist() == [1, 10, 3]  # by text: "1" < "10" < "3"
    assert sorted_.transform([1, 3, 99]).tolist() == [1, 3, UNKNOWN]
    assert sorted_.n_codes == 4 and sorted_.inverse([2]).tolist() == [10]


def test_missing_values_are_never_a_known_value():
    enc = IdEncoder().fit(pd.Series([1.0, np.nan, 2.0]))
    assert enc.n_codes == 3
    assert enc.transform(pd.Series([np.nan, 2.0])).tolist() == [UNKNOWN, 2]


def test_values_of_another_kind_are_refused_not_silently_unknown():
    enc = IdEncoder().fit([1, 2, 3])
    with pytest.raises(TypeError, match="fitted on number values and got text values"):
        enc.transform(["1", "2"])
    with pytest.raises(TypeError, match="text values and got number"):
        CodeEncoder().fit(["a", "b"]).transform([1])


def test_unknown_raise_and_unfitted():
    enc = IdEncoder().fit([5, 6])
    with pytest.raises(KeyError, match=r"1 values were not seen in fit, e.g. \[7\]"):
        enc.transform([5, 7], unknown="raise")
    with pytest.raises(RuntimeError, match="not fitted"):
        IdEncoder().transform([1])
    with pytest.raises(ValueError, match="order must be one of"):
        CodeEncoder("random")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no ids"):
        IdEncoder().fit([np.nan])
