"""The real loaders against the real files under $LESSON6_DATA: shapes, dtypes and known facts
(row counts and statistics from the data's own README and the project's STATS.md)."""

from __future__ import annotations

import pytest

from lesson6lib.data import movielens, nietzsche, rossmann


@pytest.fixture(autouse=True)
def offline(real_data_root, monkeypatch):
    monkeypatch.setenv("LESSON6_OFFLINE", "1")


@pytest.mark.parametrize(
    ("release", "ratings", "users", "movies", "mean"),
    [("2018", 100_836, 610, 9_742, 3.5016), ("2016", 100_004, 671, 9_125, 3.5436)],
)
def test_movielens_releases(release, ratings, users, movies, mean):
    r = movielens.load_ratings(release)
    assert len(r) == ratings and r["userId"].nunique() == users
    assert r["rating"].min() == 0.5 and r["rating"].max() == 5.0
    assert ((r["rating"] * 2) % 1 == 0).all()
    assert round(float(r["rating"].mean()), 4) == mean
    assert str(r["timestamp"].dt.tz) == "UTC"
    m = movielens.load_movies(release)
    assert len(m) == movies and m["movieId"].is_unique
    assert set(r["movieId"]) <= set(m["movieId"])
    assert len(movielens.load_links(release)) == movies
    assert {"userId", "movieId", "tag"} <= set(movielens.load_tags(release).columns)


def test_movielens_2016_is_the_release_the_course_used():
    first = movielens.load_ratings("2016").head(2)
    assert first[["userId", "movieId"]].values.tolist() == [[1, 31], [1, 1029]]
    assert first["rating"].tolist() == [2.5, 3.0]


def test_movielens_rejects_unknown_release_and_file():
    with pytest.raises(ValueError, match="release must be one of"):
        movielens.load_ratings("2020")
    with pytest.raises(ValueError, match="name must be one of"):
        movielens.data_file("users.csv")


def test_nietzsche_text():
    text = nietzsche.load_text()
    assert len(text) == 600_893 and len(set(text)) == 84
    assert text.startswith("PREFACE\n\n\nSUPPOSING that Truth is a woman--what then?")
    assert text.endswith("the indications of sinfulness.")


def test_rossmann_tables():
    t = rossmann.load_all()
    assert list(t) == list(rossmann.TABLES)
    train, test = t["train"], t["test"]
    assert train.shape == (1_017_209, 9) and train["Store"].nunique() == 1_115
    assert str(train["Date"].min().date()) == "2013-01-01"
    assert str(train["Date"].max().date()) == "2015-07-31"
    assert round(float(train["Sales"].mean()), 6) == 5773.818972
    assert set(train["StateHoliday"]) == {"0", "a", "b", "c"}
    assert test.shape == (41_088, 8) and int(test["Open"].isna().sum()) == 11
    assert str(test["Date"].min().date()) == "2015-08-01"
    assert t["store"]["CompetitionDistance"].isna().sum() == 3
    assert t["store"]["Promo2SinceYear"].isna().sum() == 544
    states = t["state_names"].set_index("StateName")["State"]
    assert states["Niedersachsen"] == "HB,NI"
    assert t["weather"]["CloudCover"].isna().sum() == 1_173
    assert t["googletrend"]["file"].nunique() == 14
    assert (t["sample_submission"]["Id"] == test["Id"]).all()


def test_rossmann_rejects_unknown_table():
    with pytest.raises(ValueError, match="table must be one of"):
        rossmann.load_table("holidays")


def test_rossmann_missing_file_mentions_kaggle(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSON6_DATA", str(tmp_path))
    monkeypatch.setenv("LESSON6_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="Kaggle") as info:
        rossmann.load_table("store")
    assert rossmann.FASTAI_BUNDLE in str(info.value)


def test_movielens_summary():
    ratings, movies = movielens.load_ratings("2016"), movielens.load_movies("2016")
    s = movielens.summary(ratings, movies)
    assert (s["ratings"], s["users"], s["movies rated"], s["movies listed"]) == (
        100_004,
        671,
        9_066,
        9_125,
    )
    assert s["mean rating"] == 3.544 and str(s["first rating"]) == "1995-01-09"
