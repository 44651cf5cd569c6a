"""The adding problem: the data follow their rule, the model is an RNN with a read-out of its
last state (identity-initialised on request), presets check themselves, runs are repeatable."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from lesson6lib.experiments.adding import (
    BASELINE_MSE,
    AddingPreset,
    AddingResult,
    AddingRnn,
    adding_problem,
    loss_curves,
    train_adding,
    train_variants,
    variants_table,
)
from lesson6lib.rnn import rnn_loop

TINY = AddingPreset(length=6, n_hidden=8, train_size=64, valid_size=32, batch_size=16)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- the data ---------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [2, 3, 7, 50])
def test_two_markers_one_in_each_half(length: int):
    x, y = adding_problem(500, length, _gen())
    assert x.shape == (500, length, 2) and y.shape == (500,)
    markers = x[:, :, 1]
    assert set(markers.unique().tolist()) <= {0.0, 1.0}
    half = length // 2
    assert (markers[:, :half].sum(dim=1) == 1).all()
    assert (markers[:, half:].sum(dim=1) == 1).all()


def test_the_markers_reach_every_position_of_their_half():
    x, _ = adding_problem(2000, 10, _gen())
    first = x[:, :5, 1].argmax(dim=1)
    second = x[:, 5:, 1].argmax(dim=1) + 5
    assert set(first.tolist()) == set(range(5))
    assert set(second.tolist()) == set(range(5, 10))


def test_the_target_is_the_sum_of_the_two_marked_numbers():
    x, y = adding_problem(300, 20, _gen(3))
    numbers = x[:, :, 0]
    assert ((numbers >= 0) & (numbers < 1)).all()
    for row in range(300):
        marked = x[row, :, 1].nonzero().flatten()
        assert len(marked) == 2
        assert y[row].item() == pytest.approx(numbers[row, marked].sum().item(), abs=1e-6)


def test_the_same_generator_seed_gives_the_same_data():
    a, b, c = (adding_problem(64, 12, _gen(seed)) for seed in (5, 5, 6))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_predicting_one_scores_a_sixth():
    _, y = adding_problem(200_000, 4, _gen(1))
    # (y - 1) is triangular on [-1, 1]: its square has sd 0.197, so the mean's SE is 0.0004
    assert ((y - 1) ** 2).mean().item() == pytest.approx(BASELINE_MSE, abs=0.003)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((0, 10), ValueError, "n must be a positive integer"),
        ((2.0, 10), TypeError, "n must be an integer"),
        ((5, 1), ValueError, "length must be an integer >= 2"),
        ((5, True), TypeError, "length must be an integer"),
    ],
)
def test_bad_sizes_are_refused(args, error, message):
    with pytest.raises(error, match=message):
        adding_problem(*args, _gen())


def test_a_seed_is_not_a_generator():
    with pytest.raises(TypeError, match="generator must be a torch.Generator, got int"):
        adding_problem(5, 10, 0)


# --- the model --------------------------------------------------------------------------------


def test_identity_init_gives_an_identity_recurrent_matrix():
    model = AddingRnn(n_hidden=12, nonlinearity="relu", identity_init=True)
    assert torch.equal(model.rnn.weight_hh_l0, torch.eye(12))
    assert not model.rnn.bias_hh_l0.any() and not model.rnn.bias_ih_l0.any()
    default = AddingRnn(n_hidden=12, nonlinearity="relu", identity_init=False)
    assert not torch.allclose(default.rnn.weight_hh_l0, torch.eye(12), atol=0.1)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_the_model_reads_out_the_last_state_of_the_loop(nonlinearity: str):
    torch.manual_seed(0)
    model = AddingRnn(n_hidden=5, nonlinearity=nonlinearity)
    x, _ = adding_problem(4, 7, _gen())
    r = model.rnn
    weights = (r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0)
    _, h = rnn_loop(x.transpose(0, 1), torch.zeros(4, 5), *weights, nonlinearity=nonlinearity)
    expected = model.l_out(h).squeeze(-1)
    assert model(x).shape == (4,)
    torch.testing.assert_close(model(x), expected)


def test_the_model_refuses_bad_settings_and_inputs():
    with pytest.raises(ValueError, match="nonlinearity must be one of 'tanh', 'relu'"):
        AddingRnn(nonlinearity="gelu")
    with pytest.raises(ValueError, match="n_hidden must be a positive integer"):
        AddingRnn(n_hidden=0)
    with pytest.raises(ValueError, match=r"takes \(batch, length, 2\) inputs, got \(3, 4\)"):
        AddingRnn(n_hidden=4)(torch.zeros(3, 4))


# --- presets and runs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"length": 1}, r"AddingPreset\.length must be an integer >= 2"),
        ({"nonlinearity": "gelu"}, r"AddingPreset\.nonlinearity must be one of 'tanh', 'relu'"),
        ({"identity_init": 1}, r"AddingPreset\.identity_init must be of type bool"),
        ({"optimiser": "rmsprop"}, r"AddingPreset\.optimiser must be one of 'adam', 'sgd'"),
        ({"n_hidden": 0}, r"AddingPreset\.n_hidden must be a positive integer"),
        ({"train_size": 0}, r"AddingPreset\.train_size"),
        ({"valid_size": 10.0}, r"AddingPreset\.valid_size must be of type int"),
        ({"epochs": 0}, r"AddingPreset\.epochs"),
        ({"lr": 0.0}, r"AddingPreset\.lr must be in \(0, inf\]"),
        ({"lr": math.inf}, r"AddingPreset\.lr must be a finite number"),
        ({"momentum": 0.9}, r"AddingPreset\.momentum applies to optimiser='sgd' only"),
        ({"optimiser": "sgd", "momentum": 1.0}, r"AddingPreset\.momentum must be in \[0, 1\)"),
        ({"clip_grad": 0.0}, r"AddingPreset\.clip_grad"),
        ({"batch_size": 65}, r"AddingPreset\.batch_size must be at most train_size=64"),
        ({"seed": -1}, r"AddingPreset\.seed"),
    ],
)
def test_a_bad_setting_fails_when_the_preset_is_built(settings, message):
    with pytest.raises(ValueError, match=message):
        replace(TINY, **settings)


def test_the_variant_names_the_paper_s_three_nets():
    assert AddingPreset(nonlinearity="relu", identity_init=True).variant == "IRNN"
    assert AddingPreset(nonlinearity="tanh", identity_init=False).variant == "tanh, default init"
    assert AddingPreset(nonlinearity="relu", identity_init=False).variant == "relu, default init"


def test_a_run_is_repeatable_and_scored_on_the_same_validation_set():
    first, second = train_adding(TINY), train_adding(TINY)
    assert isinstance(first, AddingResult) and first.metric == "valid_mse"
    assert len(first.batch_losses) == 4  # 64 sequences in batches of 16, one epoch
    assert first.batch_losses == second.batch_losses
    assert first.value == second.value == first.valid_mse
    assert math.isfinite(first.value) and not first.diverged
    other_seed = train_adding(replace(TINY, seed=1))
    assert other_seed.batch_losses != first.batch_losses
    assert other_seed.baseline_mse == first.baseline_mse  # the validation set is fixed


@pytest.mark.parametrize("optimiser", ["adam", "sgd"])
def test_a_run_starts_from_the_identity_when_asked(optimiser: str):
    tiny_steps = replace(TINY, lr=1e-7, optimiser=optimiser)  # 4 steps barely move the weights
    w_hh = train_adding(tiny_steps).learner.model.rnn.weight_hh_l0.detach()
    torch.testing.assert_close(w_hh, torch.eye(8), atol=1e-5, rtol=0)
    w_hh = train_adding(replace(tiny_steps, identity_init=False)).learner.model.rnn.weight_hh_l0
    assert not torch.allclose(w_hh.detach(), torch.eye(8), atol=0.1)


def test_train_adding_takes_only_its_preset():
    with pytest.raises(TypeError, match="preset must be an AddingPreset, got dict"):
        train_adding({"length": 6})


def test_input_std_draws_the_input_weights_and_needs_the_identity():
    torch.manual_seed(0)
    model = AddingRnn(n_hidden=50, identity_init=True, input_std=1e-3)
    assert model.rnn.weight_ih_l0.std().item() == pytest.approx(1e-3, rel=0.2)
    with pytest.raises(ValueError, match="input_std applies with identity_init=True only"):
        AddingRnn(identity_init=False, input_std=1e-3)
    with pytest.raises(ValueError, match=r"AddingPreset\.input_std applies with identity_init"):
        replace(TINY, identity_init=False, input_std=1e-3)
    with pytest.raises(ValueError, match=r"AddingPreset\.input_std"):
        replace(TINY, input_std=0.0)


def test_train_variants_runs_each_net_and_seed_and_tabulates_them():
    base = replace(TINY, input_std=1e-3)  # kept for the IRNN, dropped for the others
    results = train_variants(base, seeds=(0, 1))
    assert list(results) == [
        ("IRNN", 0),
        ("IRNN", 1),
        ("tanh, default init", 0),
        ("tanh, default init", 1),
        ("relu, default init", 0),
        ("relu, default init", 1),
    ]
    alone = train_adding(replace(base, nonlinearity="tanh", identity_init=False, input_std=None))
    assert results["tanh, default init", 0].batch_losses == alone.batch_losses
    table = variants_table(results)
    assert table.index.names == ["variant", "seed"]
    assert list(table.columns) == ["valid_mse", "baseline_mse", "diverged", "seconds"]
    assert table.loc[("IRNN", 1), "valid_mse"] == results["IRNN", 1].value
    raw, smooth = loss_curves(results, window=1), loss_curves(results, window=2)
    assert raw.shape == (4, 6) and raw.index[0] == 1 and raw.columns.names == ["variant", "seed"]
    assert raw[("IRNN", 0)].tolist() == results["IRNN", 0].batch_losses
    losses = results["IRNN", 0].batch_losses
    assert smooth[("IRNN", 0)].tolist() == pytest.approx(
        [losses[0], *((a + b) / 2 for a, b in zip(losses, losses[1:], strict=False))]
    )
    with pytest.raises(ValueError, match="window must be a positive integer"):
        loss_curves(results, window=0)
    with pytest.raises(ValueError, match="seeds must hold at least one seed"):
        train_variants(TINY, seeds=())
    with pytest.raises(TypeError, match="preset must be an AddingPreset"):
        train_variants(None)
