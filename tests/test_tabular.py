"""Generic tabular preprocessing on small hand-made frames, with the expected values worked out
by hand."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from lesson6lib import tabular
from lesson6lib.tabular import (
    DAY_KEY_STRIDE,
    CategoryEncoder,
    ContinuousScaler,
    add_datepart,
    day_keys,
    elapsed_features,
    join_checked,
    key_codes,
    pack_day_keys,
    rolling_counts,
)


def test_join_checked_keeps_every_row_and_refuses_losses_and_duplicates():
    left = pd.DataFrame({"Store": [1, 2, 1], "Sales": [10, 20, 30]})
    right = pd.DataFrame({"Store": [1, 2], "State": ["HE", "BY"]})
    joined = join_checked(left, right, "Store")
    assert joined["State"].tolist() == ["HE", "BY", "HE"] and len(joined) == 3
    with pytest.raises(
        ValueError, match=r"1 left rows have no match on \['Store'\], e.g. \{'Store': 3\}"
    ):
        join_checked(pd.DataFrame({"Store": [1, 3]}), right, "Store")
    with pytest.raises(ValueError, match="repeat a key"):
        join_checked(left, pd.concat([right, right]), "Store")
    with pytest.raises(ValueError, match=r"no column\(s\) \['Shop'\]"):
        join_checked(left, right, "Shop")


def test_add_datepart_by_hand():
    df = pd.DataFrame({"Date": pd.to_datetime(["2015-07-31", "2015-01-01"])})
    out = add_datepart(df, "Date")
    first = out.iloc[0]
    assert (first.Year, first.Month, first.Day, first.Dayofweek, first.Week) == (2015, 7, 31, 4, 31)
    assert bool(first.Is_month_end) and not bool(first.Is_month_start)
    assert bool(out.iloc[1].Is_year_start) and out.iloc[1].Elapsed == 16436
    assert "Year" not in df.columns  # the input is left alone


def daily(store: int, flags: list[int], start: str = "2015-01-01") -> pd.DataFrame:
    dates = pd.date_range(start, periods=len(flags))
    return pd.DataFrame({"Store": store, "Date": dates, "Holiday": flags})


def test_elapsed_features_by_hand():
    df = pd.concat([daily(1, [0, 1, 0, 0, 1, 0]), daily(2, [0, 0, 0, 1, 0, 0])], ignore_index=True)
    out = elapsed_features(
        df.sample(frac=1, random_state=0), ["Holiday"], "Store", "Date", fill=0
    ).sort_index()
    assert out["AfterHoliday"].tolist() == [0, 0, 1, 2, 0, 1] + [0, 0, 0, 0, 1, 2]
    assert out["BeforeHoliday"].tolist() == [1, 0, 2, 1, 0, 0] + [3, 2, 1, 0, 0, 0]


def test_elapsed_features_never_cross_stores():
    df = pd.concat([daily(1, [1, 0, 0]), daily(2, [0, 0, 0])], ignore_index=True)
    out = elapsed_features(df, ["Holiday"], "Store", "Date", fill=0)
    assert out.loc[out.Store == 2, "AfterHoliday"].tolist() == [0, 0, 0]


def test_rolling_counts_by_date_with_a_gap():
    df = daily(1, [1, 1, 0, 1, 0, 0, 0, 1, 1])
    df = df.drop(index=[5]).reset_index(drop=True)  # a missing day counts as no event
    out = rolling_counts(df, ["Holiday"], "Store", "Date", days=3)
    assert out["Holiday_bw"].tolist() == [1, 2, 2, 2, 1, 0, 1, 2]
    assert out["Holiday_fw"].tolist() == [2, 2, 1, 1, 0, 2, 2, 1]


def test_duplicate_store_days_are_refused():
    df = pd.concat([daily(1, [1, 0]), daily(1, [0, 1])], ignore_index=True)
    with pytest.raises(ValueError, match="must appear once"):
        elapsed_features(df, ["Holiday"], "Store", "Date", fill=0)


def test_category_encoder_fit_on_train_applied_to_test():
    train = pd.DataFrame({"StoreType": ["c", "a", "a", None], "Assortment": ["a", "b", "c", "a"]})
    test = pd.DataFrame({"StoreType": ["a", "d", None], "Assortment": ["c", "c", "a"]})
    enc = CategoryEncoder(["StoreType", "Assortment"]).fit(train)
    assert enc.cardinalities == [3, 4]
    assert enc.transform(train).tolist() == [[2, 1], [1, 2], [1, 3], [0, 1]]
    assert enc.transform(test).tolist() == [[1, 3], [0, 3], [0, 1]]  # unseen "d" and NaN -> 0
    with pytest.raises(ValueError, match=r"no column\(s\) \['Assortment'\]"):
        enc.transform(test[["StoreType"]])
    with pytest.raises(RuntimeError, match="not fitted"):
        CategoryEncoder(["x"]).transform(test)


def test_continuous_scaler_uses_train_statistics():
    train = pd.DataFrame({"a": [1.0, 3.0, np.nan], "b": [5, 5, 5]})
    scaler = ContinuousScaler(["a", "b"]).fit(train)
    out = scaler.transform(pd.DataFrame({"a": [np.nan, 4.0], "b": [5, 6]}))
    # train a: median 2 fills the NaN -> [1, 3, 2], mean 2, std sqrt(2/3)
    assert out[:, 0] == pytest.approx([0.0, 2 / np.sqrt(2 / 3)], rel=1e-6)
    assert out[:, 1].tolist() == [0.0, 1.0]  # constant column: centred only
    assert out.dtype == np.float32
    with pytest.raises(TypeError, match=r"\['c'\] are not numeric"):
        ContinuousScaler(["c"]).fit(pd.DataFrame({"c": ["x", "y"]}))


def test_join_checked_never_matches_missing_keys():
    right = pd.DataFrame({"State": ["HE", np.nan], "trend": [1, 2]})
    left = pd.DataFrame({"State": ["HE", np.nan]})
    # pandas would pair the two NaN keys; a missing key is refused instead, on either side
    with pytest.raises(ValueError, match=r"1 left rows have a missing key in column 'State'"):
        join_checked(left, right.dropna(), "State")
    with pytest.raises(ValueError, match=r"1 right rows have a missing key in column 'State'"):
        join_checked(left.dropna(), right, "State")
    with pytest.raises(ValueError, match="missing key in column 'code'"):
        join_checked(left.dropna(), right.assign(code=[None, "x"]), "State", right_on="code")


def test_elapsed_features_fill_stands_for_no_event():
    df = pd.concat([daily(1, [0, 1, 0]), daily(2, [0, 0, 0])], ignore_index=True)
    out = elapsed_features(df, ["Holiday"], "Store", "Date", fill=99)
    assert out["AfterHoliday"].tolist() == [99, 0, 1] + [99, 99, 99]
    assert out["BeforeHoliday"].tolist() == [1, 0, 99] + [99, 99, 99]
    none = elapsed_features(daily(1, [0, 0]), ["Holiday"], "Store", "Date", fill=-1)
    assert none["AfterHoliday"].tolist() == [-1, -1]  # a field with no event at all
    with pytest.raises(TypeError, match="fill must be an integer"):
        elapsed_features(df, ["Holiday"], "Store", "Date", fill=0.5)
    with pytest.raises(TypeError, match="fill"):
        elapsed_features(df, ["Holiday"], "Store", "Date")  # no default: the caller decides


def test_key_and_date_are_required_and_checked():
    df = daily(1, [1, 0])
    with pytest.raises(TypeError):
        rolling_counts(df, ["Holiday"])  # no Rossmann defaults
    with pytest.raises(ValueError, match=r"no column\(s\) \['Shop'\]"):
        rolling_counts(df, ["Holiday"], "Shop", "Date")
    with pytest.raises(ValueError, match="days must be"):
        rolling_counts(df, ["Holiday"], "Store", "Date", days=0)


def test_day_keys_pack_the_key_and_the_day():
    df = pd.concat([daily(7, [0, 0], "1970-01-01"), daily(3, [0], "1970-01-03")])
    ordered, days, keys = day_keys(df.reset_index(drop=True), "Store", "Date")
    assert ordered["Store"].tolist() == [3, 7, 7] and days.tolist() == [2, 0, 1]
    assert keys.tolist() == [2, DAY_KEY_STRIDE, DAY_KEY_STRIDE + 1]
    assert key_codes(keys).tolist() == [0, 1, 1]
    assert pack_day_keys(np.array([2]), np.array([5])).tolist() == [2 * DAY_KEY_STRIDE + 5]
    with pytest.raises(ValueError, match="days must be in"):
        pack_day_keys(np.array([0]), np.array([-1]))  # before 1970 would borrow from the key


def test_category_encoder_is_one_sorted_code_encoder_per_column():
    train = pd.DataFrame({"n": [10, 9, 2, 10], "b": [True, False, True, True]})
    enc = CategoryEncoder(["n", "b"]).fit(train)
    assert enc.classes("n").tolist() == [10, 2, 9]  # sorted by text, as the lesson's codes
    assert enc.transform(train).tolist() == [[1, 2], [3, 1], [2, 2], [1, 2]]
    assert all(e.order == "sorted" for e in enc.encoders_.values())
    with pytest.raises(ValueError, match="column must be one of"):
        enc.classes("x")
    with pytest.raises(TypeError, match="fitted on number values"):
        enc.transform(pd.DataFrame({"n": ["10"], "b": [True]}))


def test_nothing_rossmann_in_the_generic_module():
    source = inspect.getsource(tabular)
    for word in ("Store", "Promo", "Competition", "rmspe", "Sales"):
        assert word not in source, word
