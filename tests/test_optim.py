"""Our optimizers against torch.optim: the same trajectories over 100 steps, to 1e-6."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from lesson6lib import optim

STEPS = 100
TOL = 1e-6


def make_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 1))


def batches(n: int = STEPS) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(1)
    return [
        (torch.randn(32, 5, generator=gen), torch.randn(32, 1, generator=gen)) for _ in range(n)
    ]


def groups(model: nn.Module, per_group: list[dict]) -> list[dict]:
    """Two groups: first layer / the rest, each with its own hyper-parameters."""
    layers = list(model.children())
    return [
        {"params": layers[0].parameters(), **per_group[0]},
        {"params": [p for m in layers[1:] for p in m.parameters()], **per_group[1]},
    ]


def trajectory(model: nn.Module, opt, before_step=None) -> list[torch.Tensor]:
    out = []
    for x, y in batches():
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        if before_step:
            before_step()
        opt.step()
        out.append(torch.cat([p.detach().flatten() for p in model.parameters()]).clone())
    return out


def max_diff(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True))


SGD_CASES = [
    {"lr": 0.05},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.02, "momentum": 0.9, "weight_decay": 1e-2},
    {"lr": 0.02, "momentum": 0.8, "dampening": 0.3, "weight_decay": 5e-3},
    {"lr": 0.02, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
]
ADAM_CASES = [
    {"lr": 1e-3},
    {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6},
    {"lr": 3e-3, "weight_decay": 1e-2},
    {"lr": 1e-2, "betas": (0.9, 0.95), "weight_decay": 0.1},
]


@pytest.mark.parametrize("foreach", [False, True], ids=["for-loop", "foreach"])
@pytest.mark.parametrize("hp", SGD_CASES, ids=str)
def test_sgd_matches_torch(hp, foreach):
    ours, theirs = make_model(), make_model()
    a = trajectory(ours, optim.SGD(ours.parameters(), **hp))
    b = trajectory(theirs, torch.optim.SGD(theirs.parameters(), foreach=foreach, **hp))
    assert max_diff(a, b) <= TOL


@pytest.mark.parametrize("foreach", [False, True], ids=["for-loop", "foreach"])
@pytest.mark.parametrize("hp", ADAM_CASES, ids=str)
def test_adam_matches_torch(hp, foreach):
    ours, theirs = make_model(), make_model()
    a = trajectory(ours, optim.Adam(ours.parameters(), **hp))
    b = trajectory(theirs, torch.optim.Adam(theirs.parameters(), foreach=foreach, **hp))
    assert max_diff(a, b) <= TOL


@pytest.mark.parametrize("foreach", [False, True], ids=["for-loop", "foreach"])
@pytest.mark.parametrize("hp", ADAM_CASES, ids=str)
def test_adamw_matches_torch(hp, foreach):
    ours, theirs = make_model(), make_model()
    a = trajectory(ours, optim.AdamW(ours.parameters(), **hp))
    b = trajectory(theirs, torch.optim.AdamW(theirs.parameters(), foreach=foreach, **hp))
    assert max_diff(a, b) <= TOL


@pytest.mark.parametrize(
    "hp",
    [{"lr": 0.05, "momentum": 0.9, "weight_decay": 1e-2}, {"lr": 0.05, "weight_decay": 0.1}],
    ids=str,
)
def test_sgdw_is_sgd_after_shrinking_the_weights(hp):
    """torch has no SGDW; its definition is: shrink by (1 - lr wd), then an SGD step without wd."""
    ours, theirs = make_model(), make_model()
    a = trajectory(ours, optim.SGDW(ours.parameters(), **hp))
    plain = {k: v for k, v in hp.items() if k != "weight_decay"}

    def shrink():
        with torch.no_grad():
            for p in theirs.parameters():
                p.mul_(1 - hp["lr"] * hp["weight_decay"])

    b = trajectory(theirs, torch.optim.SGD(theirs.parameters(), **plain), before_step=shrink)
    assert max_diff(a, b) <= TOL


PAIRS = [
    (
        optim.SGD,
        torch.optim.SGD,
        [
            {"lr": 0.05, "momentum": 0.9, "weight_decay": 1e-2},
            {"lr": 0.005, "momentum": 0.5, "weight_decay": 0.0},
        ],
    ),
    (
        optim.Adam,
        torch.optim.Adam,
        [{"lr": 1e-2, "weight_decay": 1e-3}, {"lr": 1e-3, "weight_decay": 0.1}],
    ),
    (
        optim.AdamW,
        torch.optim.AdamW,
        [{"lr": 1e-2, "weight_decay": 0.0}, {"lr": 3e-3, "weight_decay": 0.2}],
    ),
]


@pytest.mark.parametrize(
    ("ours_cls", "torch_cls", "hps"), PAIRS, ids=lambda v: getattr(v, "__name__", "")
)
def test_parameter_groups_with_own_lr_and_wd(ours_cls, torch_cls, hps):
    ours, theirs = make_model(), make_model()
    a = trajectory(ours, ours_cls(groups(ours, hps)))
    b = trajectory(theirs, torch_cls(groups(theirs, hps)))
    assert max_diff(a, b) <= TOL


@pytest.mark.parametrize(
    ("ours_cls", "torch_cls", "hps"), PAIRS, ids=lambda v: getattr(v, "__name__", "")
)
def test_state_dict_round_trip_continues_identically(ours_cls, torch_cls, hps):
    model = make_model()
    opt = ours_cls(groups(model, hps))
    trajectory(model, opt)
    clone = copy.deepcopy(model)
    opt2 = ours_cls(groups(clone, hps))
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert max_diff(trajectory(model, opt), trajectory(clone, opt2)) == 0


def test_parameters_without_grad_are_left_alone():
    a, b = nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(3))
    opt = optim.AdamW([a, b], lr=0.1, weight_decay=0.5)
    a.sum().backward()
    opt.step()
    assert torch.equal(b.detach(), torch.ones(3)) and not torch.equal(a.detach(), torch.ones(3))


def test_l2_and_decoupled_differ_for_adam():
    """The point of AdamW: the same wd is a different regulariser once Adam rescales it."""
    m1, m2 = make_model(), make_model()
    a = trajectory(m1, optim.Adam(m1.parameters(), lr=1e-2, weight_decay=0.1))
    b = trajectory(m2, optim.Adam(m2.parameters(), lr=1e-2, weight_decay=0.1, decouple_wd=True))
    assert max_diff(a, b) > 1e-3


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: optim.SGD(p, lr=-1), "lr must be"),
        (lambda p: optim.SGD(p, momentum=1.0), "momentum must be"),
        (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "nesterov"),
        (lambda p: optim.SGD(p, weight_decay=-0.1), "weight_decay must be"),
        (lambda p: optim.Adam(p, betas=(0.9,)), "betas must be a pair"),
        (lambda p: optim.Adam(p, betas=(0.9, 1.0)), r"betas\[1\] must be"),
        (lambda p: optim.Adam(p, eps=-1e-8), "eps must be"),
        (lambda p: optim.AdamW(p, lr="0.1"), "lr must be a number"),
    ],
)
def test_bad_hyper_parameters(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make(make_model().parameters())


def test_sparse_gradients_are_refused():
    emb = nn.Embedding(10, 3, sparse=True)
    opt = optim.Adam(emb.parameters())
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse"):
        opt.step()


def test_closure_is_called_and_its_loss_returned():
    model = make_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, y = batches(1)[0]

    def closure():
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    assert opt.step(closure).item() > 0


# --- what the optimizers refuse ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: optim.SGD(p, lr=float("nan")),
            r"lr must be a finite number, got nan \(parameter group 0\)",
        ),
        (lambda p: optim.SGD(p, lr=0.1, momentum=float("inf")), "momentum"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=1.0), r"momentum must be in \[0, 1\)"),
        (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1e-4), "weight_decay"),
        (
            lambda p: optim.Adam(p, lr=-1e-3),
            r"lr must be in \[0, inf\], got -0.001 \(parameter group 0\)",
        ),
        (lambda p: optim.Adam(p, eps=float("nan")), "eps"),
        (lambda p: optim.Adam(p, betas=(0.9, float("nan"))), r"betas\[1\]"),
        (lambda p: optim.Adam(p, betas=(1.0, 0.999)), r"betas\[0\]"),
        (lambda p: optim.AdamW(p, weight_decay=float("inf")), "weight_decay"),
        (lambda p: optim.Adam(p, betas=0.9), "betas must be a pair"),
        (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "nesterov"),
    ],
)
def test_bad_hyper_parameters_are_refused(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make(make_model().parameters())


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW])
@pytest.mark.parametrize("bad", [{"lr": -0.05}, {"lr": float("nan")}, {"weight_decay": -1.0}])
def test_values_inside_parameter_groups_are_checked(cls, bad):
    model = make_model()
    layers = list(model.children())
    good = {"params": layers[0].parameters()}
    rest = {"params": [p for m in layers[1:] for p in m.parameters()], **bad}
    with pytest.raises(ValueError, match=r"parameter group 1"):
        cls([good, rest], lr=0.01)
    opt = cls(layers[0].parameters(), lr=0.01)
    with pytest.raises(ValueError, match=r"parameter group 1"):
        opt.add_param_group(rest)


# --- decoupled decay in the paper's form (decay="schedule") ---------------------------------------


def _hand_adamw(theta, grads, lr, wd, rate, betas=(0.9, 0.999), eps=1e-8):
    """Loshchilov & Hutter's Algorithm 2 on one number, written out: decay by rate * wd, then
    Adam's step at the learning rate lr."""
    m = v = 0.0
    for t, g in enumerate(grads, start=1):
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        theta = theta - rate * wd * theta - lr * m_hat / (v_hat**0.5 + eps)
    return theta


def _run_on_scalar(opt_cls, theta0, grads, **hp):
    p = nn.Parameter(torch.tensor([theta0], dtype=torch.float64))
    opt = opt_cls([p], **hp)
    for g in grads:
        p.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
    return float(p.detach())


@pytest.mark.parametrize(("lr", "peak"), [(0.01, None), (0.01, 0.04), (0.2, 0.1)])
def test_paper_adamw_matches_a_hand_computation(lr, peak):
    grads = [0.5, -1.0, 2.0, 0.25, -0.75]
    rate = lr / (peak if peak is not None else lr)  # the schedule multiplier
    ours = _run_on_scalar(
        optim.AdamW, 1.5, grads, lr=lr, weight_decay=0.3, decay="schedule", peak_lr=peak
    )
    assert ours == pytest.approx(_hand_adamw(1.5, grads, lr, 0.3, rate), rel=1e-12)
    pytorch_form = _run_on_scalar(optim.AdamW, 1.5, grads, lr=lr, weight_decay=0.3)
    assert pytorch_form == pytest.approx(_hand_adamw(1.5, grads, lr, 0.3, lr), rel=1e-12)


@pytest.mark.parametrize("cls", [optim.AdamW, optim.SGDW])
def test_paper_form_decays_by_wd_per_step_whatever_the_lr(cls):
    """At a constant schedule (multiplier 1) a weight with zero gradient shrinks by (1 - wd) per
    step in the paper's form, at any lr; in PyTorch's form by (1 - lr wd)."""
    wd, steps = 0.05, 10
    for lr in (1e-3, 1e-2, 0.3):
        paper = _run_on_scalar(cls, 2.0, [0.0] * steps, lr=lr, weight_decay=wd, decay="schedule")
        pytorch = _run_on_scalar(cls, 2.0, [0.0] * steps, lr=lr, weight_decay=wd)
        assert paper == pytest.approx(2.0 * (1 - wd) ** steps, rel=1e-12)
        assert pytorch == pytest.approx(2.0 * (1 - lr * wd) ** steps, rel=1e-12)


def test_paper_form_follows_the_schedule_multiplier():
    """Under 1cycle the paper's decay per step is wd * lr_t / max_lr: 1 at the peak."""
    from lesson6lib import schedules

    p = nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = optim.AdamW([p], lr=0.05, weight_decay=0.2, decay="schedule")
    sched = schedules.OneCycle(opt, max_lr=0.1, total_steps=20)
    assert opt.param_groups[0]["peak_lr"] == 0.1
    for _ in range(19):
        before, lr_t = float(p.detach()), opt.param_groups[0]["lr"]
        p.grad = torch.zeros_like(p)
        opt.step()
        assert float(p.detach()) == pytest.approx(before * (1 - 0.2 * lr_t / 0.1), rel=1e-12)
        sched.step()


def test_paper_form_round_trips_through_the_state_dict():
    model = make_model()
    hp = {"lr": 1e-2, "weight_decay": 0.1, "decay": "schedule", "peak_lr": 0.02}
    opt = optim.AdamW(model.parameters(), **hp)
    trajectory(model, opt)
    clone = copy.deepcopy(model)
    opt2 = optim.AdamW(clone.parameters(), lr=1e-2)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert opt2.param_groups[0]["decay"] == "schedule" and opt2.param_groups[0]["peak_lr"] == 0.02
    assert max_diff(trajectory(model, opt), trajectory(clone, opt2)) == 0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: optim.AdamW(p, decay="paper"), r"decay must be one of 'lr', 'schedule'"),
        (lambda p: optim.SGDW(p, decay=None), r"decay must be one of"),
        (lambda p: optim.Adam(p, weight_decay=0.1, decay="schedule"), "decouple_wd=True"),
        (lambda p: optim.SGD(p, lr=0.1, decay="schedule"), "decouple_wd=True"),
        (lambda p: optim.AdamW(p, decay="schedule", peak_lr=0.0), r"peak_lr must be in \(0"),
        (lambda p: optim.AdamW(p, decay="schedule", peak_lr=-1e-3), "peak_lr must be"),
        (lambda p: optim.AdamW(p, decay="schedule", peak_lr=float("nan")), "peak_lr must be"),
        (lambda p: optim.AdamW(p, lr=0.0, decay="schedule"), r"peak_lr .*parameter group 0"),
        (
            lambda p: optim.SGDW(p, lr=0.1, decay="schedule", peak_lr="1"),
            "peak_lr must be a number",
        ),
    ],
)
def test_bad_decay_settings_are_refused(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make(make_model().parameters())


def test_update_rules_are_written_for_katex_not_as_raw_text():
    """The docstrings hold their maths as $...$ (rendered in the API reference), never as
    Sphinx :math: roles or doubled backslashes, which a page would show as typed; the functions
    the optimizers page shows as code state their rule in plain words."""
    import inspect

    from lesson6lib import schedules
    from lesson6lib.experiments import collab

    for module in (optim, schedules, collab):
        text = inspect.getsource(module)
        assert ":math:" not in text and "\\\\" not in text, module.__name__
    assert "$" in optim.__doc__ and "\\eta" in optim.Adam.__doc__
    for shown in (optim.weight_decay, optim.decay_rate):
        assert "$" not in shown.__doc__ and "\\" not in shown.__doc__
