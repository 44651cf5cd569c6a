"""Our schedules against torch.optim.lr_scheduler, and what they refuse."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler as torch_sched

from lesson6lib import optim, schedules


def lrs_of(scheduler, optimizer, steps: int, key: str = "lr") -> list[float]:
    """The value of ``key`` in every group before each of ``steps`` steps, flattened."""
    out = []
    for _ in range(steps):
        out += [g[key] if key != "beta1" else g["betas"][0] for g in optimizer.param_groups]
        optimizer.step()
        scheduler.step()
    return out


def two_groups(cls=torch.optim.SGD, **kw):
    a, b = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(3))
    return cls([{"params": [a], "lr": 0.01}, {"params": [b], "lr": 0.001}], **kw)


@pytest.mark.parametrize(("up", "down"), [(5, None), (4, 7), (1, 1)])
def test_triangular_matches_cycliclr(up, down):
    ours_opt, torch_opt = two_groups(), two_groups()
    ours = schedules.TriangularLR(
        ours_opt, max_lr=[0.1, 0.05], step_size_up=up, step_size_down=down
    )
    theirs = torch_sched.CyclicLR(
        torch_opt,
        base_lr=[0.01, 0.001],
        max_lr=[0.1, 0.05],
        step_size_up=up,
        step_size_down=down,
        mode="triangular",
        cycle_momentum=False,
    )
    assert lrs_of(ours, ours_opt, 40) == pytest.approx(lrs_of(theirs, torch_opt, 40), abs=1e-12)


@pytest.mark.parametrize(("cycle_len", "mult"), [(10, 1), (3, 2), (2, 3), (1, 2)])
def test_sgdr_matches_cosine_warm_restarts(cycle_len, mult):
    ours_opt, torch_opt = two_groups(), two_groups()
    ours = schedules.CosineWarmRestarts(ours_opt, cycle_len, mult, min_lr=1e-4)
    theirs = torch_sched.CosineAnnealingWarmRestarts(torch_opt, cycle_len, mult, eta_min=1e-4)
    assert lrs_of(ours, ours_opt, 60) == pytest.approx(lrs_of(theirs, torch_opt, 60), abs=1e-12)


def test_sgdr_restarts_at_the_right_steps():
    values = [schedules.sgdr(t, 1.0, 0.0, cycle_len=2, cycle_mult=2) for t in range(14)]
    restarts = [t for t in range(14) if values[t] == 1.0]
    assert restarts == [0, 2, 6]  # cycles of 2, 4, 8 steps


@pytest.mark.parametrize("pct", [0.25, 0.3, 0.5])
@pytest.mark.parametrize(
    ("opt_cls", "key", "kw"),
    [(torch.optim.SGD, "momentum", {"momentum": 0.9}), (optim.AdamW, "beta1", {})],
    ids=["sgd-momentum", "adamw-beta1"],
)
def test_one_cycle_matches_onecyclelr(pct, opt_cls, key, kw):
    total = 50
    settings = dict(
        max_lr=[0.1, 0.02],
        total_steps=total,
        pct_start=pct,
        div_factor=20.0,
        final_div_factor=100.0,
        base_momentum=0.8,
        max_momentum=0.95,
    )
    ours_opt, torch_opt = two_groups(opt_cls, **kw), two_groups(opt_cls, **kw)
    ours = schedules.OneCycle(ours_opt, **settings)
    theirs = torch_sched.OneCycleLR(torch_opt, anneal_strategy="cos", **settings)
    steps = total - 1
    assert lrs_of(ours, ours_opt, steps) == pytest.approx(
        lrs_of(theirs, torch_opt, steps), abs=1e-12
    )
    ours_opt, torch_opt = two_groups(opt_cls, **kw), two_groups(opt_cls, **kw)
    ours = schedules.OneCycle(ours_opt, **settings)
    theirs = torch_sched.OneCycleLR(torch_opt, anneal_strategy="cos", **settings)
    assert lrs_of(ours, ours_opt, steps, key) == pytest.approx(
        lrs_of(theirs, torch_opt, steps, key), abs=1e-12
    )


def test_one_cycle_shape():
    values = [schedules.one_cycle(t, 1.0, 100, pct_start=0.25) for t in range(100)]
    peak = max(range(100), key=values.__getitem__)
    assert values[0] == pytest.approx(1 / 25) and values[peak] == pytest.approx(1.0)
    assert 23 <= peak <= 25 and values[-1] == pytest.approx(1 / 25 / 1e4)


def test_one_cycle_refuses_stepping_past_the_end():
    opt = two_groups(momentum=0.9)
    sched = schedules.OneCycle(opt, max_lr=0.1, total_steps=10)
    for _ in range(9):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="stepped 10 times"):
        sched.step()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda o: schedules.TriangularLR(o, 0.1, step_size_up=0), "step_size_up"),
        (lambda o: schedules.TriangularLR(o, [0.1, 0.2, 0.3], 5), "3 values for 2"),
        (lambda o: schedules.CosineWarmRestarts(o, cycle_len=5, cycle_mult=0), "cycle_mult"),
        (lambda o: schedules.CosineWarmRestarts(o, cycle_len=5, min_lr=-1), "min_lr"),
        (lambda o: schedules.OneCycle(o, 0.1, total_steps=10, pct_start=1.5), "pct_start"),
        (lambda o: schedules.OneCycle(o, 0.1, total_steps=10), "momentum or betas"),
    ],
)
def test_bad_settings(make, message):
    opt = two_groups()  # plain SGD groups: no momentum key unless given
    for g in opt.param_groups:
        g.pop("momentum", None)
    with pytest.raises(ValueError, match=message):
        make(opt)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: schedules.one_cycle(0, 1.0, 0), ValueError, "total_steps must be an integer >= 2"),
        (
            lambda: schedules.one_cycle(-1, 1.0, 100),
            ValueError,
            "step must be a non-negative integer",
        ),
        (lambda: schedules.one_cycle(100, 1.0, 100), ValueError, r"step must be in 0\.\.99"),
        (lambda: schedules.one_cycle(5, -1.0, 100), ValueError, "max_lr must be in"),
        (
            lambda: schedules.one_cycle(5, float("nan"), 100),
            ValueError,
            "max_lr must be finite|finite",
        ),
        (lambda: schedules.one_cycle(5, 1.0, 4), ValueError, "warm-up"),
        (lambda: schedules.triangular(-1, 0.1, 1.0, 5), ValueError, "step must be"),
        (lambda: schedules.triangular(3, 0.1, 1.0, 0), ValueError, "step_size_up"),
        (lambda: schedules.triangular(3, 0.1, float("inf"), 5), ValueError, "max_lr"),
        (lambda: schedules.sgdr(-2, 1.0, 0.0, 10), ValueError, "step must be"),
        (lambda: schedules.sgdr(2, 1.0, 0.0, 0), ValueError, "cycle_len"),
        (lambda: schedules.sgdr(2.5, 1.0, 0.0, 10), TypeError, "step must be an integer"),
    ],
)
def test_schedule_functions_refuse_steps_and_values_they_cannot_handle(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_one_cycle_scheduler_refuses_a_negative_or_nan_peak():
    for bad in (-1.0, 0.0, float("nan")):
        opt = two_groups(momentum=0.9)
        with pytest.raises(ValueError, match="max_lr"):
            schedules.OneCycle(opt, max_lr=bad, total_steps=10)


# --- the schedule's peak, for the paper's form of decoupled decay --------------------------------


def _peaks(optimizer):
    return [g.get("peak_lr") for g in optimizer.param_groups]


@pytest.mark.parametrize(
    ("make", "peaks"),
    [
        (lambda o: schedules.OneCycle(o, max_lr=[0.1, 0.02], total_steps=20), [0.1, 0.02]),
        (lambda o: schedules.TriangularLR(o, max_lr=[0.05, 0.004], step_size_up=5), [0.05, 0.004]),
        (lambda o: schedules.CosineWarmRestarts(o, cycle_len=5), [0.01, 0.001]),
    ],
    ids=["1cycle", "triangular", "sgdr"],
)
def test_schedulers_set_the_peak_of_our_optimizers(make, peaks):
    opt = two_groups(optim.AdamW, decay="schedule")
    assert _peaks(opt) == [0.01, 0.001]  # by default, the lr each group was created with
    make(opt)
    assert _peaks(opt) == pytest.approx(peaks)
    theirs = two_groups()
    make(theirs)
    assert _peaks(theirs) == [None, None]  # torch's optimizers get no new setting


def test_paper_decay_under_sgdr_is_one_at_each_restart():
    p = nn.Parameter(torch.ones(1, dtype=torch.float64))
    opt = optim.SGDW([p], lr=0.2, weight_decay=0.1, decay="schedule")
    sched = schedules.CosineWarmRestarts(opt, cycle_len=4, min_lr=0.0)
    factors = []
    for _ in range(8):
        before = float(p.detach())
        p.grad = torch.zeros_like(p)
        opt.step()
        factors.append(float(p.detach()) / before)
        sched.step()
    multipliers = [schedules.sgdr(t, 1.0, 0.0, cycle_len=4) for t in range(8)]
    assert factors == pytest.approx([1 - 0.1 * m for m in multipliers], rel=1e-12)
    assert factors[0] == factors[4] == pytest.approx(0.9)
