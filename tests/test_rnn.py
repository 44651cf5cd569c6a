"""Character models: our loop RNN against nn.RNN, shapes, the loss axis, the explicit state
(continuing from a state is running the longer sequence), stateful training through the
learner, identity initialisation, sampling. The data layouts are in test_text.py."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from lesson6lib import optim
from lesson6lib.batches import StreamBatches
from lesson6lib.callbacks import Callback, ResetState
from lesson6lib.layers import prediction
from lesson6lib.learner import Learner
from lesson6lib.rnn import (
    Char3Model,
    CharLoop,
    CharLoopConcat,
    CharRnn,
    CharSeqRnn,
    identity_init_,
    rnn_loop,
    sample,
    seq_loss,
    wrong_axis_loss,
)
from lesson6lib.text import Vocab, contiguous_split

TEXT = "the cat sat on the mat. " * 40


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_hand_written_loop_equals_nn_rnn(nonlinearity):
    torch.manual_seed(0)
    rnn = nn.RNN(5, 7, nonlinearity=nonlinearity)
    x, h0 = torch.randn(6, 3, 5), torch.randn(1, 3, 7)
    expected_out, expected_h = rnn(x, h0)
    out, h = rnn_loop(
        x, h0[0], rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0, nonlinearity
    )
    assert torch.allclose(out, expected_out, atol=1e-6) and torch.allclose(
        h, expected_h[0], atol=1e-6
    )
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn_loop(
            x, h0[0], rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0, "gelu"
        )


def test_char_loop_is_char3_for_three_characters():
    torch.manual_seed(0)
    three, loop = Char3Model(20, 4, 8), CharLoop(20, 4, 8)
    loop.load_state_dict(three.state_dict())
    x = torch.randint(0, 20, (5, 3))
    assert torch.allclose(three(x), loop(x), atol=1e-6)
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        three(torch.randint(0, 20, (5, 4)))


@pytest.mark.parametrize(
    ("model", "shape"),
    [
        (CharLoop(20, 4, 8), (5, 20)),
        (CharLoopConcat(20, 4, 8), (5, 20)),
        (CharRnn(20, 4, 8), (5, 20)),
        (CharRnn(20, 4, 8, cell="gru", n_layers=2), (5, 20)),
        (CharRnn(20, 4, 8, cell="lstm"), (5, 20)),
        (CharSeqRnn(20, 4, 8), (5, 8, 20)),
        (CharSeqRnn(20, 4, 8, cell="lstm", n_layers=2), (5, 8, 20)),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else "",
)
def test_output_shapes(model, shape):
    assert prediction(model(torch.randint(0, 20, (5, 8)))).shape == shape


def test_models_take_their_sizes_by_the_shared_names():
    model = CharSeqRnn(20, n_factors=4, n_hidden=8, cell="gru", n_layers=2, dropout=0.1)
    assert model.e.embedding_dim == 4 and model.rnn.hidden_size == 8
    assert CharLoop(20, n_factors=4, n_hidden=8).l_in.in_features == 4


def test_unknown_cell_is_refused():
    with pytest.raises(ValueError, match="cell must be one of"):
        CharRnn(20, cell="transformer")


def test_loss_is_over_the_character_axis():
    """The 2018 bug: log_softmax without dim on a 3-D tensor normalised the wrong axis."""
    torch.manual_seed(0)
    logits, targets = torch.randn(4, 6, 10), torch.randint(0, 10, (4, 6))
    by_hand = -torch.log_softmax(logits, dim=-1).gather(-1, targets[..., None]).mean()
    assert torch.allclose(seq_loss(logits, targets), by_hand)
    wrong_axis = -torch.log_softmax(logits, dim=0).gather(-1, targets[..., None]).mean()
    assert not torch.allclose(seq_loss(logits, targets), wrong_axis)


def test_wrong_axis_loss_is_the_2018_loss_in_our_layout():
    """(seq, batch, vocab) log-softmax over dim 0, as in 2018, equals ours over dim 1 of
    (batch, seq, vocab); its 'probabilities' sum to one over the positions."""
    torch.manual_seed(0)
    logits, targets = torch.randn(4, 8, 10), torch.randint(0, 10, (4, 8))
    seq_first = logits.transpose(0, 1)  # the 2018 layout
    log_probs = torch.log_softmax(seq_first, dim=0)  # what log_softmax() without dim picked
    by_hand = -log_probs.gather(-1, targets.T[..., None]).mean()
    assert torch.allclose(wrong_axis_loss(logits, targets), by_hand)
    assert torch.allclose(torch.log_softmax(logits, dim=1).exp().sum(1), torch.ones(4, 10))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_continuing_from_a_state_is_running_the_whole_sequence(cell):
    torch.manual_seed(0)
    model = CharSeqRnn(20, 4, 8, cell=cell, n_layers=2).eval()
    x = torch.randint(0, 20, (3, 10))
    whole, h_whole = model(x)
    first, h = model(x[:, :6])
    rest, h_end = model(x[:, 6:], h)
    assert torch.allclose(torch.cat([first, rest], dim=1), whole, atol=1e-6)
    pairs = zip(h_end, h_whole, strict=True) if cell == "lstm" else [(h_end, h_whole)]
    for ours, expected in pairs:  # an LSTM's state is the pair (h, c)
        assert ours.shape == (2, 3, 8) and torch.allclose(ours, expected, atol=1e-6)


def test_the_state_is_explicit_and_the_model_keeps_none():
    torch.manual_seed(0)
    model = CharSeqRnn(20, 4, 8)
    x = torch.randint(0, 20, (3, 5))
    first, h = model(x)
    carried, _ = model(x, h)
    assert not torch.allclose(first, carried)
    assert torch.allclose(model(x)[0], first)  # no state given: zeros, whatever ran before
    assert not hasattr(model, "stateful") and not hasattr(model, "reset")
    assert model(torch.randint(0, 20, (2, 5)))[0].shape == (2, 5, 20)  # other batch size: fresh


def test_the_models_do_not_import_the_training_loop():
    code = "import sys, lesson6lib.rnn; print(sorted(sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    for module in ("learner", "callbacks", "batches", "experiments"):
        assert f"'lesson6lib.{module}'" not in run.stdout


def test_identity_init():
    rnn = identity_init_(nn.RNN(4, 6, num_layers=2, nonlinearity="relu"), scale=0.5, input_std=1e-3)
    assert torch.equal(rnn.weight_hh_l1, 0.5 * torch.eye(6))
    assert torch.count_nonzero(rnn.bias_hh_l0) == 0 and rnn.weight_ih_l0.std() < 0.01
    with pytest.raises(TypeError, match="nn.RNN"):
        identity_init_(nn.GRU(4, 6))


class _StateSeen(Callback):
    """Records, after each training batch, whether the learner holds a state and whether it is
    detached from the graph."""

    def __init__(self) -> None:
        self.held, self.detached = [], []

    def after_batch(self, learn) -> None:
        self.held.append(learn.state is not None)
        self.detached.append(learn.state is not None and not learn.state.requires_grad)


def test_a_stateful_model_learns_a_repeating_text():
    torch.manual_seed(0)
    vocab = Vocab(TEXT)
    codes = vocab.encode(TEXT)
    train, valid = contiguous_split(codes, 0.2)
    model = CharSeqRnn(len(vocab), 8, 64, cell="gru")
    seen = _StateSeen()
    learn = Learner(
        model,
        StreamBatches(train, 8, 16),
        seq_loss,
        optim.Adam(model.parameters(), lr=1e-2),
        valid_dl=StreamBatches(valid, 4, 16),
        callbacks=[ResetState(), seen],
        progress=False,
    )
    history = learn.fit(12)
    assert history["valid_loss"].iloc[-1] < 0.5
    assert sample(model, vocab, "the cat sat on the ", 16) == "mat. the cat sat"
    assert all(seen.held) and all(seen.detached)  # carried, detached, from batch to batch
    assert not learn.carry_state and learn.state is None  # and forgotten after fit


def test_sampling_with_temperature_is_seeded_and_checks_input():
    torch.manual_seed(0)
    vocab = Vocab(TEXT)
    model = Char3Model(len(vocab), 4, 8)
    a = sample(model, vocab, "the", 20, temperature=1.0, context=3, seed=1)
    assert a == sample(model, vocab, "the", 20, temperature=1.0, context=3, seed=1) and len(a) == 20
    with pytest.raises(ValueError, match="temperature"):
        sample(model, vocab, "the", 5, temperature=0, context=3)
    with pytest.raises(ValueError, match="prompt"):
        sample(model, vocab, "", 5)


def test_sampling_a_sequence_model_leaves_it_as_it_was():
    torch.manual_seed(0)
    vocab = Vocab(TEXT)
    model = CharSeqRnn(len(vocab), 4, 8, dropout=0.5).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    a = sample(model, vocab, "the ", 12, temperature=0.8, seed=3)
    assert a == sample(model, vocab, "the ", 12, temperature=0.8, seed=3) and len(a) == 12
    assert model.training  # dropout off while sampling, back on after
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_cross_entropy_matches_nll_of_log_softmax():
    logits, y = torch.randn(7, 10), torch.randint(0, 10, (7,))
    assert torch.allclose(seq_loss(logits, y), F.nll_loss(F.log_softmax(logits, dim=-1), y))
