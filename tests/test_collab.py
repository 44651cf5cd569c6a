"""Collaborative filtering: id encoding, splits, the three models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from lesson6lib import optim
from lesson6lib.collab import (
    EmbeddingDot,
    EmbeddingDotBias,
    EmbeddingNet,
    IdEncoder,
    collab_data,
    kfold_splits,
    make_model,
    random_split,
    time_split,
)
from lesson6lib.layers import sigmoid_range
from lesson6lib.learner import Learner
from lesson6lib.runtime import seed_everything


def test_encoder_codes_unknowns_and_inverse():
    enc = IdEncoder().fit([31, 1029, 31, 7])
    assert enc.n_codes == 4
    assert enc.transform([7, 31, 1029, 999]).tolist() == [3, 1, 2, 0]
    assert enc.inverse([1, 2, 3]).tolist() == [31, 1029, 7]
    with pytest.raises(KeyError, match=r"1 values were not seen in fit, e.g. \[999\]"):
        enc.transform([31, 999], unknown="raise")
    with pytest.raises(ValueError, match="codes must be in 1..3"):
        enc.inverse([0])
    with pytest.raises(RuntimeError, match="not fitted"):
        IdEncoder().transform([1])
    with pytest.raises(ValueError, match="no ids"):
        IdEncoder().fit([])


def test_random_split_is_seeded_disjoint_and_complete():
    train, valid = random_split(1000, 0.2, seed=42)
    again = random_split(1000, 0.2, seed=42)
    assert len(valid) == 200 and len(train) == 800
    assert np.array_equal(train, again[0]) and not set(train) & set(valid)
    assert not np.array_equal(valid, random_split(1000, 0.2, seed=1)[1])
    with pytest.raises(ValueError, match="valid_frac"):
        random_split(10, 1.5)


def test_time_split_holds_out_the_latest_rows():
    times = pd.Series(
        pd.to_datetime(["2020-01-05", "2020-01-01", "2020-01-03", "2020-01-04", "2020-01-02"])
    )
    train, valid = time_split(times, 0.4)
    assert valid.tolist() == [0, 3] and train.tolist() == [1, 2, 4]


def test_dot_bias_by_hand():
    model = EmbeddingDotBias(n_users=3, n_items=2, n_factors=2, y_range=(0.0, 5.0))
    with torch.no_grad():
        model.u.weight[1] = torch.tensor([1.0, 2.0])
        model.i.weight[1] = torch.tensor([0.5, -1.0])
        model.ub.weight[1] = 0.25
        model.ib.weight[1] = -0.5
    logit = 1 * 0.5 + 2 * -1.0 + 0.25 - 0.5
    expected = 5.0 * torch.sigmoid(torch.tensor(logit))
    assert model(torch.tensor([1]), torch.tensor([1])).item() == pytest.approx(expected.item())


@pytest.mark.parametrize("cls", [EmbeddingDot, EmbeddingDotBias, EmbeddingNet])
def test_shapes_range_and_unknown_code(cls):
    model = cls(10, 20, 4) if cls is EmbeddingDot else cls(10, 20, 4, y_range=(0.5, 5.5))
    users, items = torch.randint(0, 10, (32,)), torch.randint(0, 20, (32,))
    out = model(users, items)
    assert out.shape == (32,)
    if cls is not EmbeddingDot:
        assert (out > 0.5).all() and (out < 5.5).all()
    assert torch.count_nonzero(model.u.weight[0]) == 0


@pytest.mark.parametrize(
    ("users", "items", "error", "message"),
    [
        (torch.tensor([0, 10]), torch.tensor([0, 1]), ValueError, r"users codes must be in 0..9"),
        (torch.tensor([0, 1]), torch.tensor([-1, 1]), ValueError, r"items codes must be in 0..19"),
        (torch.tensor([0.0, 1.0]), torch.tensor([0, 1]), TypeError, "integer codes"),
        (torch.tensor([0, 1]), torch.tensor([0, 1, 2]), ValueError, "same length"),
    ],
)
def test_bad_codes(users, items, error, message):
    with pytest.raises(error, match=message):
        EmbeddingDotBias(10, 20, 4)(users, items)


def synthetic_ratings(n_users=60, n_items=40, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    taste, kind = rng.normal(size=(n_users, 2)), rng.normal(size=(n_items, 2))
    rows = [(u, i) for u in range(n_users) for i in range(n_items) if rng.random() < 0.5]
    users, items = np.array(rows).T
    score = 3 + (taste[users] * kind[items]).sum(1) + 0.1 * rng.normal(size=len(users))
    return pd.DataFrame(
        {"userId": users + 100, "movieId": items + 5000, "rating": np.clip(score, 0.5, 5)}
    )


@pytest.mark.parametrize("cls", [EmbeddingDot, EmbeddingDotBias, EmbeddingNet])
def test_training_reduces_the_validation_loss(cls):
    seed_everything(0)
    data = collab_data(synthetic_ratings(), batch_size=64)
    args = (data.users.n_codes, data.items.n_codes, 8)
    model = cls(*args) if cls is EmbeddingDot else cls(*args, y_range=data.y_range)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    learn = Learner(
        model, data.train, nn.functional.mse_loss, opt, valid_dl=data.valid, progress=False
    )
    before = learn.evaluate()["loss"]
    history = learn.fit(15)
    assert history["valid_loss"].iloc[-1] < 0.85 * before


def test_collab_data_encodes_on_train_only_and_checks_columns():
    ratings = synthetic_ratings()
    data = collab_data(ratings, valid_frac=0.3, seed=1)
    train_users = set(ratings.iloc[data.train_idx]["userId"])
    assert set(data.users.classes_) == train_users
    assert data.y_range == (0.0, float(ratings.iloc[data.train_idx]["rating"].max()) + 0.5)
    with pytest.raises(ValueError, match=r"no column\(s\) \['stars'\]"):
        collab_data(ratings, rating_col="stars")
    with pytest.raises(ValueError, match="split must be"):
        collab_data(ratings, split="users")
    with pytest.raises(ValueError, match="timestamp"):
        collab_data(ratings, split="time")
    bad = ratings.copy()
    bad.loc[0, "rating"] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        collab_data(bad)


def test_sigmoid_range_limits():
    out = sigmoid_range(torch.tensor([-100.0, 0.0, 100.0]), 1.0, 3.0)
    assert out.tolist() == pytest.approx([1.0, 2.0, 3.0])


def test_collab_data_takes_an_explicit_split_and_kfold_takes_a_few_lines():
    ratings = synthetic_ratings()
    folds = list(kfold_splits(len(ratings), k=4, seed=0))
    assert len(folds) == 4
    valid_rows = np.concatenate([v for _, v in folds])
    assert sorted(valid_rows.tolist()) == list(range(len(ratings)))
    for train_idx, valid_idx in folds:
        data = collab_data(ratings, split=(train_idx, valid_idx), batch_size=64)
        assert np.array_equal(data.valid_idx, valid_idx)
        assert len(data.train.tensors[0]) == len(train_idx)
    with pytest.raises(ValueError, match="share rows"):
        collab_data(ratings, split=(np.arange(10), np.arange(5, 20)))
    with pytest.raises(ValueError, match="valid indices must be in"):
        collab_data(ratings, split=(np.arange(10), np.array([10**9])))
    with pytest.raises(ValueError, match="k must be an integer >= 2"):
        list(kfold_splits(10, k=1))


def test_collab_data_refuses_ratings_its_range_cannot_hold():
    ratings = synthetic_ratings().assign(rating=lambda f: -f["rating"])
    with pytest.raises(ValueError, match=r"must be >= 0 with a positive maximum"):
        collab_data(ratings)


def test_make_model_builds_each_kind_for_the_data():
    data = collab_data(synthetic_ratings(), batch_size=64)
    for kind, cls in (("dot", EmbeddingDot), ("dotbias", EmbeddingDotBias), ("net", EmbeddingNet)):
        model = make_model(kind, data, n_factors=4)
        assert isinstance(model, cls) and model.u.num_embeddings == data.users.n_codes
    with pytest.raises(ValueError, match="kind must be one of"):
        make_model("svd", data)


def test_most_similar_ranks_by_cosine_like_torch():
    from lesson6lib.collab import most_similar

    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(40, 6, generator=gen)
    weight[0] = 0  # the unknown code's row: never a neighbour
    codes, sims = most_similar(weight, 5, k=7)
    oracle = torch.nn.functional.cosine_similarity(weight, weight[5:6], dim=1).double()
    oracle[[0, 5]] = -float("inf")
    expected = torch.argsort(oracle, descending=True, stable=True)[:7]
    assert codes.tolist() == expected.tolist()
    assert np.allclose(sims, oracle[expected].numpy(), atol=1e-6)
    assert (np.diff(sims) <= 0).all() and 0 not in codes and 5 not in codes
    # a scaled copy of a row is its nearest neighbour, with similarity 1
    weight[9] = 3 * weight[5]
    codes, sims = most_similar(weight.numpy(), 5, k=100)
    assert codes[0] == 9 and sims[0] == pytest.approx(1.0)
    assert len(codes) == 38  # every non-zero row but code 5 itself


def test_most_similar_refuses_bad_input():
    from lesson6lib.collab import most_similar

    weight = torch.randn(4, 3)
    weight[0] = 0
    with pytest.raises(ValueError, match="non-zero row code=0"):
        most_similar(weight, 0)
    with pytest.raises(ValueError, match="non-zero row code=4"):
        most_similar(weight, 4)
    with pytest.raises(ValueError, match="vectors must be 2-D"):
        most_similar(torch.randn(5), 1)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        most_similar(weight, 1, k=0)
    with pytest.raises(TypeError, match="code must be an integer"):
        most_similar(weight, 1.0)
