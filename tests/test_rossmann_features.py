"""The Rossmann features: hand-checked rows of the competition, closure and closures-analysis
features; the whole pipeline on the real tables (nothing lost in the joins, train and test
handled together); and the frame's cache, which must never run code from a file."""

from __future__ import annotations

import builtins
import inspect
import os
import pickle

import numpy as np
import pandas as pd
import pytest

from lesson6lib import rossmann_features as rf
from lesson6lib import tabular
from tests.conftest import require


def days(store: int, start: str, opens: list[int], sales: list[float] | None = None):
    dates = pd.date_range(start, periods=len(opens), freq="D")
    sales = sales if sales is not None else [100.0 * o for o in opens]
    return pd.DataFrame(
        {
            "Store": store,
            "Date": dates,
            "DayOfWeek": dates.day_of_week + 1,
            "Open": [float(o) for o in opens],
            "Sales": sales,
        }
    )


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
    out = rf.competition_features(df)
    # opened 2015-07-15: 16 days before 2015-07-31; unknown -> 1900 -> 0; before 1990 -> 0
    assert out["CompetitionDaysOpen"].tolist() == [16, 0, 0]
    assert out["CompetitionMonthsOpen"].tolist() == [0, 0, 0]
    # ISO week 27 of 2015 starts Monday 2015-06-29: 32 days -> 4 weeks; 2013-W01 starts 2012-12-31
    assert out["Promo2Days"].tolist()[0] == 32 and out["Promo2Weeks"].tolist() == [4, 25, 25]
    assert out["CompetitionOpenSinceYear"].tolist() == [2015, 1900, 1985]


def test_closure_features_count_days_to_closures_other_than_sundays():
    # 2024-01-01 is a Monday; closed Wed 3rd and Sun 7th (a Sunday does not count)
    rows = days(1, "2024-01-01", [1, 1, 0, 1, 1, 1, 0, 1])
    out = rf.closure_features(rows, horizon=3)
    assert out["AfterClosure"].tolist() == [4, 4, 0, 1, 2, 3, 4, 4]
    assert out["BeforeClosure"].tolist() == [2, 1, 0, 4, 4, 4, 4, 4]
    with pytest.raises(ValueError, match="Open"):
        rf.closure_features(rows.drop(columns="Open"))
    assert list(out.columns) == [*rows.columns, *rf.CLOSURE]
    with pytest.raises(ValueError, match="horizon"):
        rf.closure_features(rows, horizon=-1)


def test_closure_runs_stop_at_open_days_missing_days_and_other_stores():
    a = days(1, "2024-01-01", [1, 0, 0, 0, 1, 0])
    b = days(2, "2024-01-01", [0, 0, 1])
    gap = days(2, "2024-01-05", [0])  # 4 January missing: a new run
    runs = rf.closure_runs(pd.concat([a, b, gap], ignore_index=True))
    assert runs[["Store", "days"]].values.tolist() == [[1, 3], [1, 1], [2, 2], [2, 1]]
    assert runs.loc[0, "first"] == pd.Timestamp("2024-01-02")


def test_around_closures_divides_by_the_usual_sales_of_that_weekday():
    opens = [1] * 14 + [0] * 3 + [1] * 14
    sales = [100.0] * 14 + [0.0] * 3 + [300.0] + [100.0] * 13
    near = rf.around_closures(days(1, "2024-01-01", opens, sales), min_days=3, reach=2)
    after = near[near["side"] == "after"].set_index("distance")["ratio"]
    assert after[1] == pytest.approx(3.0) and after[2] == pytest.approx(1.0)
    assert set(near["side"]) == {"before", "after"}
    with pytest.raises(ValueError, match="reach"):
        rf.around_closures(days(1, "2024-01-01", opens, sales), reach=0)


# -- the real tables ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    raw = os.environ.get("LESSON6_DATA", "")
    require(bool(raw), "LESSON6_DATA is not set to the data folder")
    mp = pytest.MonkeyPatch()
    mp.setenv("LESSON6_OFFLINE", "1")
    # one cache per test session: the other Rossmann tests read the frame built here
    mp.setenv("LESSON6_CACHE", str(tmp_path_factory.getbasetemp() / "rossmann-cache"))
    yield rf.load_frame()
    mp.undo()


def test_every_train_and_test_row_is_there_with_its_joins(frame):
    assert len(frame) == 1_017_209 + 41_088
    assert int(frame["is_test"].sum()) == 41_088
    joined = ["State", "StoreType", "trend", "trend_DE", "Max_TemperatureC", "Mean_Humidity"]
    assert frame[joined].notna().all().all()
    assert set(rf.CATEGORICAL + rf.CONTINUOUS) <= set(frame.columns)


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
    trends = pd.read_csv(rf.locate(rf.rossmann.data_file("googletrend")))
    he = trends[(trends.file == "Rossmann_DE_HE") & (trends.week == "2012-12-30 - 2013-01-05")]
    assert tuesday.trend == he.trend.item()


def test_second_load_comes_from_the_cache(frame, monkeypatch):
    def rebuilt(*args, **kwargs):
        raise AssertionError("load_frame rebuilt the frame instead of reading the cache")

    monkeypatch.setattr(rf, "build_frame", rebuilt)
    again = rf.load_frame()
    pd.testing.assert_frame_equal(again, frame)
    assert again.dtypes.to_dict() == frame.dtypes.to_dict()  # every dtype, exactly
    assert list((rf.cache_root() / "rossmann-processed").glob("*.pkl")) == []


def test_closure_features_on_the_real_data(frame):
    assert set(rf.CLOSURE) <= set(frame.columns)
    assert frame[rf.CLOSURE].min().min() == 0 and frame[rf.CLOSURE].max().max() == 15
    # a closure other than a Sunday: AfterClosure is 0 on it and 1 on the next row of that store
    closed = frame[(frame.Open == 0) & (frame.DayOfWeek != 7)].iloc[0]
    assert closed.AfterClosure == 0 and closed.BeforeClosure == 0


def test_cache_key_covers_the_code_and_the_versions(monkeypatch):
    require(bool(os.environ.get("LESSON6_DATA")), "LESSON6_DATA is not set to the data folder")
    monkeypatch.setenv("LESSON6_OFFLINE", "1")
    key = rf._cache_key()
    assert rf._cache_key() == key
    real_source = inspect.getsource

    def edited(obj):
        return real_source(obj) + ("\n# edited" if obj is tabular else "")

    with monkeypatch.context() as m:
        m.setattr(inspect, "getsource", edited)
        assert rf._cache_key() != key  # a change to the code that builds the frame
    with monkeypatch.context() as m:
        m.setattr(pd, "__version__", "0.0.1")
        assert rf._cache_key() != key
    with monkeypatch.context() as m:
        m.setattr(rf, "sha256_of", lambda path: "0" * 64)
        assert rf._cache_key() != key  # other input files


# -- the cache, on a small frame -------------------------------------------------------------


def small_frame() -> pd.DataFrame:
    """A frame with every kind of column the real one has, and a few more."""
    return pd.DataFrame(
        {
            "Store": np.array([1, 2, 3], dtype=np.int16),
            "Date": pd.to_datetime(["2015-01-01", "2015-01-02", "2015-01-03"]).as_unit("us"),
            "Sales": [1.0, np.nan, 3.0],
            "is_test": [False, True, False],
            "StateHoliday": pd.array([True, False, None], dtype="boolean"),
            "Events": pd.array(["Fog", None, "Rain"], dtype="string"),
            "State": pd.Series(["HE", "BY", "HE"], dtype=object),
            "text": pd.Series(["a", None, "b"], dtype="str"),
            "count": pd.array([1, None, 3], dtype="Int64"),
            "empty": pd.array([None, None, None], dtype="string"),
        }
    ).set_axis([5, 3, 9])  # an index that is not 0..n-1


@pytest.fixture
def small_cache(tmp_path, monkeypatch):
    """load_frame with a small frame to build and a fixed key: the path it reads."""
    monkeypatch.setenv("LESSON6_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(rf, "_cache_key", lambda: "test")
    builds = []
    monkeypatch.setattr(rf, "build_frame", lambda: builds.append(1) or small_frame())
    path = tmp_path / "cache" / "rossmann-processed" / "frame-test.npz"
    path.parent.mkdir(parents=True)
    return path, builds


def assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_index_type=True)
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()


def test_the_cache_round_trips_every_dtype(small_cache):
    path, builds = small_cache
    assert_same(rf.load_frame(), small_frame())
    assert_same(rf.load_frame(), small_frame())
    assert path.is_file() and builds == [1]  # built once, then read
    assert_same(rf.load_frame(refresh=True), small_frame())
    assert builds == [1, 1]


def test_a_planted_pickle_is_never_run(small_cache, tmp_path):
    path, builds = small_cache
    marker = tmp_path / "ran"

    class Payload:  # unpickling calls open(marker, "w"): the file appears
        def __reduce__(self):
            return (builtins.open, (str(marker), "w"))

    payload = pickle.dumps(Payload())
    pickle.loads(payload).close()  # the payload works: it is what pd.read_pickle would run
    assert marker.exists()
    marker.unlink()
    path.write_bytes(payload)
    with pytest.warns(RuntimeWarning, match="unreadable"):
        frame = rf.load_frame()
    assert not marker.exists()
    assert_same(frame, small_frame())
    assert builds == [1]
    assert_same(rf.load_frame(), small_frame())  # the rebuilt file replaced the planted one


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not a zip", b"\x93NUMPY garbage"])
def test_a_corrupt_cache_file_is_rebuilt(small_cache, content):
    path, builds = small_cache
    path.write_bytes(content)
    with pytest.warns(RuntimeWarning, match="building it again"):
        assert_same(rf.load_frame(), small_frame())
    assert builds == [1]


def test_a_truncated_cache_file_is_rebuilt(small_cache):
    path, builds = small_cache
    rf.load_frame()
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.warns(RuntimeWarning, match="unreadable"):
        assert_same(rf.load_frame(), small_frame())
    assert builds == [1, 1]


def test_an_unwritable_cache_still_returns_the_frame(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LESSON6_CACHE", str(blocker))
    monkeypatch.setattr(rf, "_cache_key", lambda: "test")
    monkeypatch.setattr(rf, "build_frame", small_frame)
    with pytest.warns(RuntimeWarning, match="could not cache the Rossmann frame"):
        assert_same(rf.load_frame(), small_frame())


def test_old_frames_are_removed_and_unstorable_columns_refused(small_cache, tmp_path):
    path, _ = small_cache
    old = [path.with_name("frame-0123.pkl"), path.with_name("frame-4567.npz")]
    for p in old:
        p.write_bytes(b"old")
    rf.load_frame()
    assert not any(p.exists() for p in old) and path.is_file()
    mixed = pd.DataFrame({"x": pd.Series(["a", 1], dtype=object)})
    with pytest.raises(TypeError, match="cannot cache column 'x'"):
        rf._write_frame(mixed, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="cannot cache column 'c'"):
        rf._write_frame(pd.DataFrame({"c": pd.Categorical(["a"])}), tmp_path / "c.npz")
