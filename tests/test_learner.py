"""The training loop: it trains, evaluates, predicts, steps schedules, records, stops early,
saves and loads, and refuses bad input with a clear message."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lesson6lib import optim, schedules
from lesson6lib.callbacks import Callback, EarlyStopping, Recorder
from lesson6lib.learner import Learner
from lesson6lib.metrics import accuracy, rmse
from lesson6lib.optim import layer_groups
from lesson6lib.runtime import seed_everything


def data(n: int = 256, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen)
    y = x @ torch.tensor([[2.0], [-1.0], [0.5]]) + 1.0 + 0.1 * torch.randn(n, 1, generator=gen)
    return x, y


def loaders(bs: int = 32):
    x, y = data()
    xv, yv = data(128, seed=1)
    return (
        DataLoader(TensorDataset(x, y), batch_size=bs, shuffle=True),
        DataLoader(TensorDataset(xv, yv), batch_size=64),
    )


def learner(**kw) -> Learner:
    seed_everything(0)
    model = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 1))
    train, valid = loaders()
    opt = kw.pop("optimizer", None) or optim.AdamW(model.parameters(), lr=1e-2)
    return Learner(model, train, nn.functional.mse_loss, opt, valid_dl=valid, progress=False, **kw)


def test_fit_lowers_the_loss_and_records_history():
    learn = learner(metrics=[rmse])
    before = learn.evaluate()["loss"]
    history = learn.fit(5)
    assert list(history.index) == [1, 2, 3, 4, 5]
    assert {"train_loss", "valid_loss", "valid_rmse", "time_s"} <= set(history.columns)
    assert history["valid_loss"].iloc[-1] < before / 10
    assert history["valid_rmse"].iloc[-1] == pytest.approx(
        math.sqrt(history["valid_loss"].iloc[-1])
    )


def test_same_seed_same_history():
    a = learner().fit(2)["valid_loss"].tolist()
    b = learner().fit(2)["valid_loss"].tolist()
    assert a == b


def test_rmse_is_over_all_rows_not_a_mean_of_batch_rmses():
    learn = learner(metrics=[rmse])
    out = learn.evaluate()
    assert out["rmse"] == pytest.approx(math.sqrt(out["loss"]), rel=1e-6)


def test_schedule_is_stepped_every_batch_and_ends_on_its_last_value():
    learn = learner(optimizer=None)
    rec = Recorder()
    learn.callbacks.append(rec)
    steps = 2 * len(learn.train_dl)
    sched = schedules.OneCycle(learn.optimizer, max_lr=0.05, total_steps=steps)
    learn.fit(2, scheduler=sched)
    lrs = [row[0] for row in rec.lrs]
    assert len(lrs) == steps and len(rec.losses) == steps
    # the LR each batch trained with; the last batch used the schedule's final value
    assert lrs == pytest.approx([schedules.one_cycle(t, 0.05, steps) for t in range(steps)])
    assert learn.callbacks == [rec], "fit() removes the ScheduleStep it added"


def test_early_stopping_stops_and_restores_the_best_weights():
    snapshots = []

    class Snapshot(Callback):
        def after_epoch(self, learn):
            snapshots.append({k: v.clone() for k, v in learn.model.state_dict().items()})

    # min_delta so large that no epoch after the first counts as an improvement
    learn = learner(callbacks=[Snapshot(), EarlyStopping(patience=2, min_delta=1e9)])
    history = learn.fit(10)
    assert list(history.index) == [1, 2, 3]
    final = learn.model.state_dict()
    assert all(torch.equal(final[k], snapshots[0][k]) for k in final)
    assert not all(torch.equal(final[k], snapshots[-1][k]) for k in final)


def test_early_stopping_checks_its_settings():
    with pytest.raises(ValueError, match="mode must be"):
        EarlyStopping(mode="lowest")
    learn = learner(callbacks=[EarlyStopping(monitor="valid_auc")])
    with pytest.raises(ValueError, match="valid_auc"):
        learn.fit(1)


def test_parameter_groups_get_their_own_lr_and_wd():
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
    groups = layer_groups([model[0], model[2]], lr=[1e-3, 1e-2], weight_decay=[0.0, 0.1])
    opt = optim.AdamW(groups)
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 1e-2]
    assert [g["weight_decay"] for g in opt.param_groups] == [0.0, 0.1]
    with pytest.raises(ValueError, match="2 modules, 3 lrs"):
        layer_groups([model[0], model[2]], lr=[1, 2, 3])


def test_predict_and_multi_input_batches():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 1), nn.Linear(1, 1)

        def forward(self, x1, x2):
            return self.a(x1) + self.b(x2)

    x1, x2, y = torch.randn(40, 2), torch.randn(40, 1), torch.randn(40, 1)
    dl = DataLoader(TensorDataset(x1, x2, y), batch_size=16)
    model = TwoInputs()
    learn = Learner(
        model, dl, nn.functional.mse_loss, optim.SGD(model.parameters(), lr=0.1), progress=False
    )
    learn.fit(1)
    assert learn.predict(dl).shape == (40, 1)
    assert learn.lr_find(num_steps=10, end_lr=1.0).lrs


def test_clip_grad_bounds_the_update():
    learn = learner(optimizer=None, clip_grad=1e-3)
    learn.optimizer = optim.SGD(learn.model.parameters(), lr=1.0)
    before = [p.detach().clone() for p in learn.model.parameters()]
    learn._train_batch(next(iter(learn.train_dl)))
    moved = torch.sqrt(
        sum(((p - b) ** 2).sum() for p, b in zip(learn.model.parameters(), before, strict=True))
    )
    assert moved <= 1e-3 + 1e-7


def test_save_and_load_round_trip(tmp_path):
    learn = learner()
    learn.fit(1)
    path = learn.save(tmp_path / "model.pt")
    other = learner()
    other.load(path)
    x = torch.randn(5, 3)
    assert torch.equal(learn.predict(x), other.predict(x))
    assert (
        other.optimizer.state_dict()["state"].keys() == learn.optimizer.state_dict()["state"].keys()
    )
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not written by Learner.save"):
        other.load(tmp_path / "other.pt")


def test_callbacks_are_called_in_order():
    calls = []

    class Log(Callback):
        def before_fit(self, learn):
            calls.append("before_fit")

        def before_epoch(self, learn):
            calls.append("before_epoch")

        def after_epoch(self, learn):
            calls.append("after_epoch")

        def after_fit(self, learn):
            calls.append("after_fit")

    learner(callbacks=[Log()]).fit(2)
    assert calls == [
        "before_fit",
        "before_epoch",
        "after_epoch",
        "before_epoch",
        "after_epoch",
        "after_fit",
    ]


def test_accuracy():
    pred = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(pred, torch.tensor([1, 0, 0])).item() == pytest.approx(2 / 3)


# --- bad input ------------------------------------------------------------------------------


def test_shapes_that_would_broadcast_are_refused():
    model = nn.Linear(3, 1)
    x, y = data(64)
    dl = DataLoader(TensorDataset(x, y.squeeze(1)), batch_size=16)
    learn = Learner(
        model, dl, nn.functional.mse_loss, optim.SGD(model.parameters()), progress=False
    )
    with pytest.raises(ValueError, match=r"\(16, 1\) and target shape \(16,\)"):
        learn.fit(1)


def test_row_count_mismatch_is_refused():
    model = nn.Linear(3, 1)
    dl = [(torch.randn(8, 3), torch.randn(4, 1))]
    learn = Learner(
        model, dl, nn.functional.mse_loss, optim.SGD(model.parameters()), progress=False
    )
    with pytest.raises(ValueError, match="8 rows for 4 targets"):
        learn.fit(1)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"train_dl": []}, ValueError, "train_dl is empty"),
        ({"valid_dl": []}, ValueError, "valid_dl is empty"),
        ({"model": "not a model"}, TypeError, "model must be an nn.Module"),
        ({"optimizer": "adam"}, TypeError, "optimizer must be"),
        ({"loss_fn": 3}, TypeError, "loss_fn must be callable"),
        ({"clip_grad": 0}, ValueError, "clip_grad"),
        ({"device": "tpu"}, ValueError, "device must be"),
        ({"optimizer": optim.SGD(nn.Linear(1, 1).parameters())}, ValueError, "not the model's"),
    ],
)
def test_bad_construction(kwargs, error, message):
    model = nn.Linear(3, 1)
    args = {
        "model": model,
        "train_dl": [(torch.randn(4, 3), torch.randn(4, 1))],
        "loss_fn": nn.functional.mse_loss,
        "optimizer": optim.SGD(model.parameters()),
    } | kwargs
    with pytest.raises(error, match=message):
        Learner(**args)


def test_bad_batches_and_epochs():
    model = nn.Linear(3, 1)
    learn = Learner(
        model,
        [torch.randn(4, 3)],
        nn.functional.mse_loss,
        optim.SGD(model.parameters()),
        progress=False,
    )
    with pytest.raises(ValueError, match="a batch must be a tuple"):
        learn.fit(1)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        learn.fit(0)
    with pytest.raises(ValueError, match="no valid_dl"):
        learn.evaluate()


def test_diverging_loss_is_reported():
    learn = learner(optimizer=None)
    learn.optimizer = optim.SGD(learn.model.parameters(), lr=1e6)
    with pytest.raises(FloatingPointError, match="training loss is"):
        learn.fit(3)


def test_progress_line_ends_with_the_epoch_losses(capsys):
    learn = learner(metrics=[rmse])
    learn.progress = True
    learn.fit(1)
    last = capsys.readouterr().out.replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("epoch 1/1 ") and " 8/8 " in last
    assert "train_loss" in last and "valid_rmse" in last


# --- state carried by the loop, and NaN in validation -------------------------------------------


class Accumulator(nn.Module):
    """A toy recurrent model with an explicit state: h <- h + sum of the inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))

    def forward(self, x, h=None):
        h = torch.zeros(1, x.shape[0]) if h is None else h
        h = h + self.w * x.sum(dim=1)
        return h[0].unsqueeze(1), h


def test_reset_state_carries_the_state_between_batches_and_resets_each_pass():
    from lesson6lib.callbacks import ResetState

    batches = [(torch.ones(2, 3), torch.zeros(2, 1))] * 3
    model = Accumulator()
    seen = []

    class Spy(Callback):
        def after_batch(self, learn):
            seen.append(learn.state[0, 0].item())

    learn = Learner(
        model,
        batches,
        nn.functional.mse_loss,
        optim.SGD(model.parameters(), lr=0.0),
        callbacks=[ResetState(), Spy()],
        progress=False,
    )
    learn.fit(2)
    assert seen == [3.0, 6.0, 9.0, 3.0, 6.0, 9.0]
    assert learn.state is None and not learn.carry_state  # forgotten after fit
    plain = Learner(
        model,
        batches,
        nn.functional.mse_loss,
        optim.SGD(model.parameters(), lr=0.0),
        progress=False,
    )
    plain.fit(1)  # without ResetState no state is kept
    assert plain.state is None


def test_nan_in_validation_raises_instead_of_a_silent_nan():
    learn = learner()
    x, y = data(32)
    x[3, 1] = float("nan")
    with pytest.raises(FloatingPointError, match="validation loss is nan"):
        learn.evaluate([(x, y)])


def test_early_stopping_stops_loudly_on_a_nan_monitor():
    from lesson6lib.callbacks import EarlyStopping as ES

    stopper = ES(patience=2)

    class Fake:
        history = [{"epoch": 1, "valid_loss": float("nan")}]

    stopper.before_fit(Fake())
    with pytest.raises(FloatingPointError, match="valid_loss is nan after epoch 1"):
        stopper.after_epoch(Fake())
