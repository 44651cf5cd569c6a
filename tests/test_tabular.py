"""Tabular preprocessing on small hand-made frames, with the expected values worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lesson6lib.tabular import (
    CategoryEncoder,
    ContinuousScaler,
    add_datepart,
    competition_features,
    elapsed_features,
    join_checked,
    rmspe,
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


def test_competition_features_by_hand():
    df = pd.DataFrame(
        {
            "Date": pd.to_datetime(["2015-07-31", "2015-07-31", "2015-07-31"]),
            "CompetitionOpenSinceYear": [2015, np.nan, 1985],
            "CompetitionOpenSinceMonth": [7, np.nan, 3],
            "Promo2SinceYear": [2015, np.nan, 2013],
            "Promo2SinceWeek": [27, np.nan, 1],
        }
    )
    out = competition_features(df)
    # opened 2015-07-15: 16 days before 2015-07-31; unknown -> 1900 -> 0; before 1990 -> 0
    assert out["CompetitionDaysOpen"].tolist() == [16, 0, 0]
    assert out["CompetitionMonthsOpen"].tolist() == [0, 0, 0]
    # ISO week 27 of 2015 starts Monday 2015-06-29: 32 days -> 4 weeks; 2013-W01 starts 2012-12-31
    assert out["Promo2Days"].tolist()[0] == 32 and out["Promo2Weeks"].tolist() == [4, 25, 25]
    assert out["CompetitionOpenSinceYear"].tolist() == [2015, 1900, 1985]


def daily(store: int, flags: list[int], start: str = "2015-01-01") -> pd.DataFrame:
    dates = pd.date_range(start, periods=len(flags))
    return pd.DataFrame({"Store": store, "Date": dates, "Holiday": flags})


def test_elapsed_features_by_hand():
    df = pd.concat([daily(1, [0, 1, 0, 0, 1, 0]), daily(2, [0, 0, 0, 1, 0, 0])], ignore_index=True)
    out = elapsed_features(df.sample(frac=1, random_state=0), ["Holiday"]).sort_index()
    assert out["AfterHoliday"].tolist() == [0, 0, 1, 2, 0, 1] + [0, 0, 0, 0, 1, 2]
    assert out["BeforeHoliday"].tolist() == [1, 0, 2, 1, 0, 0] + [3, 2, 1, 0, 0, 0]


def test_elapsed_features_never_cross_stores():
    df = pd.concat([daily(1, [1, 0, 0]), daily(2, [0, 0, 0])], ignore_index=True)
    out = elapsed_features(df, ["Holiday"])
    assert out.loc[out.Store == 2, "AfterHoliday"].tolist() == [0, 0, 0]


def test_rolling_counts_by_date_with_a_gap():
    df = daily(1, [1, 1, 0, 1, 0, 0, 0, 1, 1])
    df = df.drop(index=[5]).reset_index(drop=True)  # a missing day counts as no event
    out = rolling_counts(df, ["Holiday"], days=3)
    assert out["Holiday_bw"].tolist() == [1, 2, 2, 2, 1, 0, 1, 2]
    assert out["Holiday_fw"].tolist() == [2, 2, 1, 1, 0, 2, 2, 1]


def test_duplicate_store_days_are_refused():
    df = pd.concat([daily(1, [1, 0]), daily(1, [0, 1])], ignore_index=True)
    with pytest.raises(ValueError, match="must appear once"):
        elapsed_features(df, ["Holiday"])


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


def test_rmspe_ignores_zero_sales():
    assert rmspe([100, 0, 200], [110, 50, 180]) == pytest.approx(np.sqrt((0.1**2 + 0.1**2) / 2))
    with pytest.raises(ValueError, match="differ in shape"):
        rmspe([1, 2], [1])
    with pytest.raises(ValueError, match="non-zero"):
        rmspe([0, 0], [1, 1])
