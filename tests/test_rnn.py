"""Character models: data layouts, our loop RNN against nn.RNN, shapes, the loss axis, the
stateful model, identity initialisation, sampling."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from lesson6lib import optim
from lesson6lib.learner import Learner
from lesson6lib.rnn import (
    Char3Model,
    CharLoop,
    CharLoopConcat,
    CharRnn,
    CharSeqRnn,
    ResetState,
    StreamBatches,
    Vocab,
    char_windows,
    contiguous_split,
    identity_init_,
    rnn_loop,
    sample,
    seq_loss,
    seq_windows,
)

TEXT = "the cat sat on the mat. " * 40


def test_vocab_round_trip_and_unknown_characters():
    v = Vocab("hello")
    assert v.chars == ["e", "h", "l", "o"] and len(v) == 4
    assert v.decode(v.encode("hole")) == "hole"
    with pytest.raises(ValueError, match=r"not in the vocabulary: \['z'\]"):
        v.encode("zoo")
    with pytest.raises(ValueError, match="non-empty"):
        Vocab("")


def test_windows_by_hand():
    codes = torch.arange(10)
    x, y = char_windows(codes, 3)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and y.tolist() == [3, 6, 9]
    x, y = char_windows(codes, 3, overlapping=True)
    assert len(x) == 7 and x[1].tolist() == [1, 2, 3] and y[1] == 4
    x, y = seq_windows(codes, 4)
    assert x.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]] and y.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    with pytest.raises(ValueError, match="cs"):
        char_windows(codes, 10)


def test_contiguous_split_keeps_order():
    train, valid = contiguous_split(torch.arange(100), 0.1)
    assert train.tolist() == list(range(90)) and valid.tolist() == list(range(90, 100))
    with pytest.raises(ValueError, match="valid_frac"):
        contiguous_split(torch.arange(10), 0.0)


def test_stream_batches_continue_each_row():
    codes = torch.arange(41)
    batches = list(StreamBatches(codes, batch_size=4, bptt=3))
    assert len(batches) == len(StreamBatches(codes, 4, 3)) == 4
    (x0, y0), (x1, _) = batches[0], batches[1]
    assert x0[:, -1].tolist() == [2, 12, 22, 32] and x1[:, 0].tolist() == [3, 13, 23, 33]
    assert torch.equal(y0, x0 + 1)
    assert batches[-1][0].shape == (4, 1)  # 10 columns in chunks of 3


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
    assert model(torch.randint(0, 20, (5, 8))).shape == shape


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


def test_stateful_model_carries_its_state_and_resets():
    torch.manual_seed(0)
    model = CharSeqRnn(20, 4, 8, stateful=True)
    x = torch.randint(0, 20, (3, 5))
    first = model(x)
    carried = model(x)
    assert not torch.allclose(first, carried) and not model.h.requires_grad
    model.reset()
    assert torch.allclose(model(x), first)
    assert model(torch.randint(0, 20, (2, 5))).shape == (2, 5, 20)  # other batch size: fresh


def test_identity_init():
    rnn = identity_init_(nn.RNN(4, 6, num_layers=2, nonlinearity="relu"), scale=0.5, input_std=1e-3)
    assert torch.equal(rnn.weight_hh_l1, 0.5 * torch.eye(6))
    assert torch.count_nonzero(rnn.bias_hh_l0) == 0 and rnn.weight_ih_l0.std() < 0.01
    with pytest.raises(TypeError, match="nn.RNN"):
        identity_init_(nn.GRU(4, 6))


def test_a_stateful_model_learns_a_repeating_text():
    torch.manual_seed(0)
    vocab = Vocab(TEXT)
    codes = vocab.encode(TEXT)
    train, valid = contiguous_split(codes, 0.2)
    model = CharSeqRnn(len(vocab), 8, 64, cell="gru", stateful=True)
    learn = Learner(
        model,
        StreamBatches(train, 8, 16),
        seq_loss,
        optim.Adam(model.parameters(), lr=1e-2),
        valid_dl=StreamBatches(valid, 4, 16),
        callbacks=[ResetState()],
        progress=False,
    )
    history = learn.fit(12)
    assert history["valid_loss"].iloc[-1] < 0.5
    assert sample(model, vocab, "the cat sat on the ", 16) == "mat. the cat sat"
    assert model.stateful and model.h is None


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


def test_cross_entropy_matches_nll_of_log_softmax():
    logits, y = torch.randn(7, 10), torch.randint(0, 10, (7,))
    assert torch.allclose(seq_loss(logits, y), F.nll_loss(F.log_softmax(logits, dim=-1), y))
