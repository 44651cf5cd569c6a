"""The character-model experiments: presets that check themselves when built, typed results,
seeding once per run, and stateful training that is the loop one would write by hand."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from lesson6lib import optim
from lesson6lib.batches import StreamBatches
from lesson6lib.callbacks import Callback
from lesson6lib.experiments import chars, next_char
from lesson6lib.experiments.chars import SeqPreset, SeqResult, seq_model, train_seq
from lesson6lib.experiments.next_char import (
    CharPreset,
    CharResult,
    leak_free_mask,
    train_next_char,
)
from lesson6lib.rnn import CharSeqRnn, seq_loss
from lesson6lib.runtime import seed_everything
from lesson6lib.text import Vocab, contiguous_split

TEXT = "the cat sat on the mat. the dog sat on the log. " * 60
TINY_CHAR = CharPreset(n_hidden=16, context=6, train_windows=None, valid_chars=None, epochs=2)
TINY_SEQ = SeqPreset(n_hidden=16, bptt=8, batch_size=8, epochs=2, lr=1e-2)


# --- presets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "settings", "message"),
    [
        (SeqPreset, {"cell": "gruu"}, r"SeqPreset\.cell must be one of 'rnn', 'gru', 'lstm'"),
        (SeqPreset, {"nonlinearity": "gelu"}, r"SeqPreset\.nonlinearity must be one of 'tanh'"),
        (SeqPreset, {"schedule": "step"}, r"SeqPreset\.schedule must be one of '1cycle', 'const"),
        (SeqPreset, {"stateful": 1}, r"SeqPreset\.stateful must be of type bool"),
        (SeqPreset, {"n_layers": 0}, r"SeqPreset\.n_layers"),
        (SeqPreset, {"n_hidden": 256.0}, r"SeqPreset\.n_hidden must be of type int"),
        (SeqPreset, {"bptt": 0}, r"SeqPreset\.bptt"),
        (SeqPreset, {"batch_size": -1}, r"SeqPreset\.batch_size"),
        (SeqPreset, {"epochs": 0}, r"SeqPreset\.epochs"),
        (SeqPreset, {"lr": 0.0}, r"SeqPreset\.lr must be in \(0, inf\]"),
        (SeqPreset, {"lr": math.nan}, r"SeqPreset\.lr must be a finite number"),
        (SeqPreset, {"weight_decay": -0.1}, r"SeqPreset\.weight_decay must be in \[0, inf\]"),
        (SeqPreset, {"dropout": 1.0}, r"SeqPreset\.dropout must be in \[0, 1\)"),
        (SeqPreset, {"clip_grad": 0.0}, r"SeqPreset\.clip_grad"),
        (SeqPreset, {"valid_frac": 1.0}, r"SeqPreset\.valid_frac must be in \(0, 1\)"),
        (SeqPreset, {"seed": -1}, r"SeqPreset\.seed"),
        (SeqPreset, {"nonlinearity": "relu"}, r"SeqPreset\.nonlinearity applies to cell='rnn'"),
        (SeqPreset, {"identity_init": True}, r"SeqPreset\.identity_init needs cell='rnn'"),
        (CharPreset, {"model": "lstm"}, r"CharPreset\.model must be one of 'char3', 'loop'"),
        (CharPreset, {"split": "shuffled"}, r"CharPreset\.split must be one of 'contiguous'"),
        (CharPreset, {"context": 3.5}, r"CharPreset\.context must be of type int; got 3\.5"),
        (CharPreset, {"context": 0}, r"CharPreset\.context"),
        (CharPreset, {"model": "char3"}, r"CharPreset\.context must be 3 for model='char3'"),
        (CharPreset, {"model": "char3", "context": 8}, r"CharPreset\.context must be 3"),
        (CharPreset, {"n_factors": 0}, r"CharPreset\.n_factors"),
        (CharPreset, {"train_windows": 0}, r"CharPreset\.train_windows"),
        (CharPreset, {"valid_chars": 2.5}, r"CharPreset\.valid_chars must be of type"),
        (CharPreset, {"overlapping": "yes"}, r"CharPreset\.overlapping must be of type bool"),
        (CharPreset, {"valid_frac": 0.0}, r"CharPreset\.valid_frac must be in \(0, 1\)"),
    ],
)
def test_a_bad_setting_fails_when_the_preset_is_built(kind, settings, message):
    with pytest.raises(ValueError, match=message):
        kind(**settings)


@pytest.mark.parametrize("kind", [SeqPreset, CharPreset])
def test_a_misspelt_or_old_field_name_fails(kind):
    with pytest.raises(TypeError, match="n_fac"):
        kind(n_fac=42)
    with pytest.raises(TypeError, match="'cs'"):
        kind(cs=8)
    with pytest.raises(ValueError, match="epochs"):
        dataclasses.replace(kind(), epochs=0)  # replace() checks too


def test_good_combinations_are_accepted():
    assert CharPreset(model="char3", context=3).context == 3
    assert SeqPreset(cell="rnn", nonlinearity="relu", identity_init=True).identity_init
    assert SeqPreset(clip_grad=None, dropout=0.0, stateful=True).clip_grad is None


def test_the_char_rnn_experiment():
    experiment = {e.name: e for e in chars.EXPERIMENTS}["char-rnn"]
    assert (experiment.name, experiment.page) == ("char-rnn", "rnn-more")
    assert experiment.preset("cpu") == SeqPreset()
    full = experiment.preset("full")
    assert (full.n_layers, full.n_hidden, full.stateful, full.bptt) == (2, 512, True, 128)
    assert (full.batch_size, full.epochs, full.lr, full.dropout) == (128, 8, 2e-3, 0.1)


def test_the_experiment_runs_a_preset_on_the_real_text(real_data_root, monkeypatch):
    monkeypatch.setenv("LESSON6_OFFLINE", "1")
    experiment = {e.name: e for e in chars.EXPERIMENTS}["char-rnn"]
    preset = SeqPreset(n_hidden=16, batch_size=512, epochs=1, stateful=True)
    result = experiment(preset, device="cpu", progress=False)
    assert isinstance(result, SeqResult) and len(result.vocab) == 84
    assert result.metric == "valid_nats" and result.value < math.log(84)


# --- runs: typed results, seeding ------------------------------------------------------------


def test_a_next_char_run_returns_a_typed_result():
    result = train_next_char(TINY_CHAR, text=TEXT)
    assert isinstance(result, CharResult) and isinstance(result.vocab, Vocab)
    assert result.metric == "valid_nats" and result.valid_nats == result.value
    assert result.value == result.history["valid_loss"].iloc[-1] and len(result.history) == 2
    assert result.train_nats == result.history["train_loss"].iloc[-1]
    assert result.windows == len(result.learner.train_dl.tensors[0]) > 0 and result.seconds > 0
    assert set(result.summary()) == {"metric", "value", "seconds", "train_nats", "windows"}
    assert len(result.batch_losses) == 2 * len(result.learner.train_dl)


def test_a_seq_run_returns_a_typed_result():
    result = train_seq(TINY_SEQ, text=TEXT)
    assert isinstance(result, SeqResult) and result.diverged is False
    assert result.metric == "valid_nats" and result.valid_nats == result.value
    assert len(result.batch_losses) == 2 * len(result.learner.train_dl)
    assert all(isinstance(loss, float) for loss in result.batch_losses)
    assert set(result.summary()) == {"metric", "value", "seconds", "diverged"}


def test_a_run_whose_loss_blows_up_reports_it():
    class Blowup(Callback):
        def after_batch(self, learn):
            if learn.step == 3:
                raise FloatingPointError("the training loss is nan at step 3")

    result = train_seq(TINY_SEQ, text=TEXT, callbacks=[Blowup()])
    assert result.diverged and math.isnan(result.value) and len(result.batch_losses) == 3


def test_a_run_refuses_the_other_preset():
    with pytest.raises(TypeError, match="preset must be a SeqPreset, got CharPreset"):
        train_seq(CharPreset(), text=TEXT)
    with pytest.raises(TypeError, match="preset must be a CharPreset, got SeqPreset"):
        train_next_char(SeqPreset(), text=TEXT)


@pytest.mark.parametrize(
    ("run", "preset"),
    [
        (train_next_char, TINY_CHAR),
        (train_seq, TINY_SEQ),
        (train_seq, dataclasses.replace(TINY_SEQ, stateful=True)),
    ],
)
def test_two_runs_give_the_same_numbers_whatever_the_global_rng(run, preset):
    torch.manual_seed(1)
    first = run(preset, text=TEXT)
    torch.manual_seed(2)  # the run seeds itself, once, at its start
    torch.rand(5)
    second = run(preset, text=TEXT)
    assert first.value == second.value
    assert first.history.drop(columns="time_s").equals(second.history.drop(columns="time_s"))
    pairs = zip(first.learner.model.parameters(), second.learner.model.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    if isinstance(first, SeqResult):
        assert first.batch_losses == second.batch_losses


def test_seq_model_draws_from_the_global_rng_without_seeding_it():
    preset = SeqPreset(cell="lstm", n_layers=2, n_hidden=16, dropout=0.2)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    ours = seq_model(preset, 10)
    after = torch.get_rng_state()
    torch.set_rng_state(before)
    direct = CharSeqRnn(10, 42, 16, "lstm", 2, dropout=0.2)
    assert torch.equal(after, torch.get_rng_state())  # drew what the layers draw, no more
    for a, b in zip(ours.parameters(), direct.parameters(), strict=True):
        assert torch.equal(a, b)
    seed_everything(preset.seed)
    reseeded = seq_model(preset, 10)  # a seeding factory would give this from any state
    assert not torch.equal(ours.e.weight, reseeded.e.weight)


# --- stateful training is the loop that carries the state ------------------------------------


def _by_hand(preset: SeqPreset, carry: bool) -> tuple[list[float], float, nn.Module]:
    """Train and validate as the stateful layout means it, with the state carried explicitly."""
    seed_everything(preset.seed)
    vocab = Vocab(TEXT)
    train, valid = contiguous_split(vocab.encode(TEXT), preset.valid_frac)
    model = seq_model(preset, len(vocab))
    opt = optim.AdamW(model.parameters(), lr=preset.lr, weight_decay=preset.weight_decay)
    losses = []
    for _ in range(preset.epochs):
        model.train()
        h = None
        for x, y in StreamBatches(train, preset.batch_size, preset.bptt):
            logits, h = model(x, h if carry else None)
            loss = seq_loss(logits, y)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), preset.clip_grad)
            opt.step()
            h = h.detach()  # truncated backpropagation: the state goes on, its gradient stops
            losses.append(loss.item())
    model.eval()
    h, total, count = None, 0.0, 0
    with torch.no_grad():
        for x, y in StreamBatches(valid, preset.batch_size, preset.bptt):
            logits, h = model(x, h if carry else None)
            total += seq_loss(logits, y).item() * y.numel()
            count += y.numel()
    return losses, total / count, model


def test_stateful_training_is_the_hand_written_loop_that_carries_the_state():
    preset = dataclasses.replace(TINY_SEQ, cell="rnn", stateful=True, schedule="constant")
    result = train_seq(preset, text=TEXT)
    losses, valid_nats, model = _by_hand(preset, carry=True)
    assert result.batch_losses == losses and result.value == valid_nats
    for a, b in zip(result.learner.model.parameters(), model.parameters(), strict=True):
        assert torch.equal(a, b)
    forgetting, _, _ = _by_hand(preset, carry=False)
    assert forgetting[1:] != losses[1:]  # the comparison can tell carrying from not


# --- moved from test_experiments.py ----------------------------------------------------------


@pytest.mark.parametrize("model", ["char3", "loop", "concat", "rnn"])
@pytest.mark.parametrize("split", ["contiguous", "random"])
def test_next_char_models_learn_a_small_text(model, split):
    preset = CharPreset(
        model=model,
        context=3 if model == "char3" else 6,
        n_hidden=32,
        train_windows=None,
        valid_chars=None,
        epochs=3,
        batch_size=64,
        lr=1e-2,
        split=split,
    )
    result = train_next_char(preset, text=TEXT)
    assert result.valid_nats < 2.0  # ln(vocab) is about 2.8


def test_next_char_presets_are_checked():
    with pytest.raises(ValueError, match="context must be 3"):
        CharPreset(model="char3")
    with pytest.raises(ValueError, match="model must be one of"):
        CharPreset(model="lstm")
    with pytest.raises(ValueError, match="split must be"):
        CharPreset(split="shuffled")


@pytest.mark.parametrize("stateful", [False, True])
def test_seq_model_learns_a_small_text(stateful):
    preset = SeqPreset(n_hidden=32, bptt=16, batch_size=8, epochs=4, lr=1e-2, stateful=stateful)
    result = train_seq(preset, text=TEXT)
    assert result.valid_nats < 1.5 and not result.diverged
    assert len(result.batch_losses) == 4 * len(result.learner.train_dl)


def test_identity_preset_initialises_the_rnn():
    model = seq_model(
        SeqPreset(cell="rnn", nonlinearity="relu", identity_init=True, n_hidden=16), 10
    )
    assert torch.equal(model.rnn.weight_hh_l0, torch.eye(16))


# --- next-char splits: the leak, isolated --------------------------------------------------


def test_leak_free_mask_is_the_rule_written_out():
    context, n = 3, 40
    valid = torch.tensor([5, 20, 21, 38])
    mask = leak_free_mask(n, valid, context)
    by_rule = [all(abs(i - v) > context for v in valid.tolist()) for i in range(n)]
    assert mask.tolist() == by_rule
    assert not mask[valid].any() and mask.shape == (n,)


def _split(split: str, **settings):
    preset = CharPreset(
        context=4, split=split, train_windows=500, valid_chars=60, valid_frac=0.05, **settings
    )
    codes = torch.arange(3000) % 7
    return next_char._next_char_windows(preset, codes), preset


def test_random_and_isolated_splits_share_validation_windows_and_train_size():
    (x_r, y_r, xv_r, yv_r), _ = _split("random")
    (x_i, y_i, xv_i, yv_i), preset = _split("isolated")
    assert torch.equal(xv_r, xv_i) and torch.equal(yv_r, yv_i) and len(xv_i) == 60
    assert len(x_r) == len(x_i) == 500


def test_isolated_training_windows_share_no_character_with_a_validation_window():
    preset = CharPreset(context=4, split="isolated", train_windows=None, valid_chars=60)
    codes = torch.arange(3000)  # every code distinct: a window's codes are its positions
    x, y, xv, yv = next_char._next_char_windows(preset, codes)
    train_chars = set(torch.cat([x, y[:, None]], 1).flatten().tolist())
    valid_chars = set(torch.cat([xv, yv[:, None]], 1).flatten().tolist())
    assert train_chars and not train_chars & valid_chars
    leaky = next_char._next_char_windows(dataclasses.replace(preset, split="random"), codes)
    leaky_chars = set(torch.cat([leaky[0], leaky[1][:, None]], 1).flatten().tolist())
    assert leaky_chars & valid_chars  # the random split does share characters


def test_one_cycle_schedule_peaks_at_the_preset_lr():
    preset = dataclasses.replace(TINY_CHAR, schedule="1cycle", lr=1e-2)
    result = train_next_char(preset, text=TEXT)
    lrs = [g[0] for g in result.learner.callbacks[0].lrs]
    assert max(lrs) == pytest.approx(1e-2) and lrs[0] < 1e-2 / 5 and lrs[-1] < 1e-3


def test_a_non_contiguous_split_needs_overlapping_windows():
    with pytest.raises(ValueError, match=r"CharPreset\.split='isolated' samples overlapping"):
        CharPreset(split="isolated", overlapping=False)


def test_the_lesson_experiments_of_the_rnn_pages():
    seq = {e.name: e for e in chars.EXPERIMENTS}["char-seq"]
    assert (seq.page, seq.preset("cpu")) == ("rnn-more", chars.LESSON_SEQ)
    lesson = seq.preset("cpu")
    assert (lesson.cell, lesson.n_hidden, lesson.bptt, lesson.batch_size) == ("rnn", 256, 8, 512)
    assert (lesson.weight_decay, lesson.stateful, seq.preset("full").epochs) == (0.0, False, 12)
    (nxt,) = next_char.EXPERIMENTS
    assert (nxt.name, nxt.page) == ("next-char", "char-rnn")
    build, full = nxt.preset("cpu"), nxt.preset("full")
    assert (build.model, build.train_windows, build.valid_chars, build.epochs) == (
        "rnn",
        400_000,
        None,
        1,
    )
    assert (full.train_windows, full.epochs, full.lr, full.schedule) == (None, 6, 3e-3, "1cycle")


def test_train_seq_takes_another_loss_for_training_and_validation():
    calls = []

    def counting_loss(logits, targets):
        calls.append(logits.shape)
        return seq_loss(logits, targets)

    result = train_seq(dataclasses.replace(TINY_SEQ, epochs=1), text=TEXT, loss_fn=counting_loss)
    batches = len(result.learner.train_dl) + len(result.learner.valid_dl)
    assert len(calls) == batches and result.learner.loss_fn is counting_loss
