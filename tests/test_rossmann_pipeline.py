"""The Rossmann pipeline on the real tables: nothing lost in the joins, the features right on
rows checked by hand, train and test handled together, and the cache."""

from __future__ import annotations

import pandas as pd
import pytest

from lesson6lib import rossmann_pipeline as rp


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    import os

    from tests.conftest import require

    raw = os.environ.get("LESSON6_DATA", "")
    require(bool(raw), "LESSON6_DATA is not set to the data folder")
    mp = pytest.MonkeyPatch()
    mp.setenv("LESSON6_OFFLINE", "1")
    mp.setenv("LESSON6_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield rp.load_frame()
    mp.undo()


def test_every_train_and_test_row_is_there_with_its_joins(frame):
    assert len(frame) == 1_017_209 + 41_088
    assert int(frame["is_test"].sum()) == 41_088
    joined = ["State", "StoreType", "trend", "trend_DE", "Max_TemperatureC", "Mean_Humidity"]
    assert frame[joined].notna().all().all()
    assert set(rp.CATEGORICAL + rp.CONTINUOUS) <= set(frame.columns)


def test_features_on_rows_checked_by_hand(frame):
    row = frame[(frame.Store == 1) & (frame.Date == pd.Timestamp("2015-07-31"))].iloc[0]
    assert row.State == "HE" and row.Dayofweek == 4 and row.Week == 31
    # store 1's competitor opened September 2008: 15 Sep 2008 to 31 Jul 2015
    assert row.CompetitionDaysOpen == (pd.Timestamp("2015-07-31") - pd.Timestamp("2008-09-15")).days
    assert row.CompetitionMonthsOpen == 24
    first_test = frame[(frame.Store == 1) & (frame.Date == pd.Timestamp("2015-08-01"))].iloc[0]
    # a Saturday after a promo week: the promo ended yesterday (a training day) and restarts Monday
    assert bool(first_test.is_test) and first_test.AfterPromo == 1 and first_test.BeforePromo == 2


def test_trend_is_the_week_that_contains_the_day(frame):
    tuesday = frame[(frame.Store == 1) & (frame.Date == pd.Timestamp("2013-01-01"))].iloc[0]
    trends = pd.read_csv(rp.locate(rp.rossmann.data_file("googletrend")))
    he = trends[(trends.file == "Rossmann_DE_HE") & (trends.week == "2012-12-30 - 2013-01-05")]
    assert tuesday.trend == he.trend.item()


def test_second_load_comes_from_the_cache(frame):
    import time

    start = time.perf_counter()
    again = rp.load_frame()
    assert time.perf_counter() - start < 3
    pd.testing.assert_frame_equal(again, frame)


def test_closure_features_on_the_real_data(frame):
    assert set(rp.CLOSURE) <= set(frame.columns)
    assert frame[rp.CLOSURE].min().min() == 0 and frame[rp.CLOSURE].max().max() == 15
    # a closure other than a Sunday: AfterClosure is 0 on it and 1 on the next row of that store
    closed = frame[(frame.Open == 0) & (frame.DayOfWeek != 7)].iloc[0]
    assert closed.AfterClosure == 0 and closed.BeforeClosure == 0


def test_a_short_run_and_its_submission(frame):
    from dataclasses import replace

    from lesson6lib import rossmann_runs as rr
    from lesson6lib.experiments import PRESETS

    preset = replace(PRESETS["rossmann"]["cpu"], sample=0.05, epochs=1)
    result = rr.train_rossmann(preset, frame)
    assert result["valid_rmspe"] < 0.25
    assert result["history"]["valid_exp_rmspe"].iloc[-1] == pytest.approx(
        result["valid_rmspe"], rel=1e-3
    )
    sub = rr.submission(result["learner"], result["split"])
    rr.check_submission(sub, result["split"].test)
    assert len(sub) == 41_088 and (sub["Sales"] == 0).sum() == 5_984
