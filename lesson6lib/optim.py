r"""SGD (with momentum), SGDW, Adam and AdamW, written from scratch, and :func:`layer_groups`.

Each optimizer is a loop over its parameter tensors that applies the update rule to one tensor
at a time, as the equations read. SGD and SGDW, Adam and AdamW differ only by one switch,
``decouple_wd``, which picks how the weight decay $\lambda$ enters the step:

- **L2 regularisation** (``decouple_wd=False``, as in ``torch.optim.SGD`` and ``Adam``) adds
  $\lambda\theta$ to the gradient, $g_t \leftarrow \nabla L(\theta_{t-1}) +
  \lambda\theta_{t-1}$, so the decay goes through momentum and, in Adam, is divided by
  $\sqrt{\hat v_t}$ like every other part of the gradient.
- **Decoupled weight decay** (``decouple_wd=True``: SGDW and AdamW, Loshchilov & Hutter,
  arXiv:1711.05101) shrinks the weights directly, before and apart from the gradient step:
  $\theta_{t-1} \leftarrow (1 - r\lambda)\,\theta_{t-1}$. Every weight then decays at
  the same rate, whatever its gradient history.

A second switch, ``decay``, sets the rate $r$ of the decoupled decay:

- ``decay="lr"`` (the default, PyTorch's ``torch.optim.AdamW``): $r = \eta$, the current
  learning rate, so the decay per step is $\eta\lambda$ and changes with the learning rate;
- ``decay="schedule"`` (the paper's Algorithms 1 and 2): $r = \eta / \hat\eta$, the
  schedule multiplier, where $\hat\eta$ is the group's ``peak_lr`` (by default the learning
  rate the group was created with; the schedulers of :mod:`lesson6lib.schedules` set it to
  their peak). The decay per step is then $\lambda$ times the multiplier, whatever the base
  learning rate: at a constant learning rate, exactly $\lambda$.

Everything else follows PyTorch's definitions (the tests check the trajectories against
``torch.optim``). Every hyper-parameter, in the defaults and in each parameter group, is
checked when the group is added: a NaN, an infinity or a value out of range is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, get_args

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from lesson6lib.checks import check_choice, check_number

__all__ = [
    "SGD",
    "SGDW",
    "Adam",
    "AdamW",
    "Decay",
    "decay_rate",
    "layer_groups",
    "weight_decay",
]

Params = Iterable[Tensor] | Iterable[dict[str, Any]]
Decay = Literal["lr", "schedule"]
"""The two forms of decoupled weight decay, as the ``decay`` argument names them: ``"lr"``
(PyTorch's) and ``"schedule"`` (Loshchilov & Hutter's)."""


def layer_groups(
    modules: Sequence[nn.Module],
    lr: float | Sequence[float],
    weight_decay: float | Sequence[float] = 0.0,
) -> list[dict[str, Any]]:
    """Parameter groups, one per module, each with its own LR and weight decay: the lesson's
    "layer groups" for differential learning rates. Pass the result to an optimizer."""
    n = len(modules)
    lrs = list(lr) if isinstance(lr, Sequence) else [lr] * n
    wds = list(weight_decay) if isinstance(weight_decay, Sequence) else [weight_decay] * n
    if len(lrs) != n or len(wds) != n:
        raise ValueError(f"got {n} modules, {len(lrs)} lrs and {len(wds)} weight decays")
    return [
        {"params": list(m.parameters()), "lr": g_lr, "weight_decay": g_wd}
        for m, g_lr, g_wd in zip(modules, lrs, wds, strict=True)
    ]


class _Optimizer(Optimizer):
    """What the four share: checked groups, and the step (closure, the tensors that have a
    gradient); subclasses supply ``_check_group`` and ``_update``, the rule for one tensor."""

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        try:
            check_number("lr", group["lr"], 0.0)
            check_number("weight_decay", group["weight_decay"], 0.0)
            _check_decay(group)
            self._check_group(group)
        except (TypeError, ValueError) as err:
            self.param_groups.pop()
            where = f"parameter group {len(self.param_groups)}"
            raise type(err)(f"{err} ({where})") from None

    def _check_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                self._update(p, p.grad, group, self.state[p])
        return loss

    def _update(self, p: Tensor, g: Tensor, group: dict[str, Any], state: dict) -> None:
        raise NotImplementedError


def _check_decay(group: dict[str, Any]) -> None:
    """The decay switch: a known form, only with decoupled decay, and a peak to divide by."""
    check_choice("decay", group["decay"], get_args(Decay))
    if group["decay"] == "schedule" and not group["decouple_wd"]:
        raise ValueError("decay='schedule' applies to decoupled decay: set decouple_wd=True")
    if group["peak_lr"] is None:
        group["peak_lr"] = group["lr"]
    if group["decay"] == "schedule":
        check_number("peak_lr", group["peak_lr"], 0.0, low_open=True)


def decay_rate(group: dict[str, Any]) -> float:
    """The rate r of decoupled decay this step (theta <- (1 - r wd) theta): the current lr
    with decay="lr" (PyTorch), lr / peak_lr, the schedule multiplier, with decay="schedule"
    (Loshchilov & Hutter)."""
    if group["decay"] == "lr":
        return group["lr"]
    return group["lr"] / group["peak_lr"]


def weight_decay(p: Tensor, g: Tensor, group: dict[str, Any]) -> Tensor:
    """Weight decay as the group sets it; returns the gradient to step with.
    Decoupled: theta <- (1 - r wd) theta, in place, r from decay_rate. Coupled (L2):
    g + wd theta (a new tensor; ``.grad`` is left as it was)."""
    wd = group["weight_decay"]
    if wd == 0:
        return g
    if group["decouple_wd"]:
        p.mul_(1 - decay_rate(group) * wd)
        return g
    return g.add(p, alpha=wd)


class SGD(_Optimizer):
    r"""Stochastic gradient descent with momentum; ``decouple_wd=True`` makes it SGDW.

    With $g_t$ the gradient after weight decay, momentum $\mu$ and dampening
    $d$, the buffer is $b_1 = g_1$, $b_t = \mu b_{t-1} + (1 - d) g_t$, and the
    step is $\theta_t = \theta_{t-1} - \eta\, b_t$ (Nesterov:
    $\theta_t = \theta_{t-1} - \eta\,(g_t + \mu b_t)$). With ``momentum=0`` it is plain
    $\theta_t = \theta_{t-1} - \eta\, g_t$.

    ``decay`` and ``peak_lr`` set the rate of the decoupled decay (see the module's docstring):
    with ``decay="schedule"`` the weights shrink by $\lambda\,\eta/\hat\eta$ per step, as in
    the paper's SGDW. The momentum buffer stays PyTorch's (the learning rate multiplies it at
    the step; the paper folds it into the buffer), which is the same update while the learning
    rate is constant.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        decouple_wd: bool = False,
        decay: Decay = "lr",
        peak_lr: float | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            decouple_wd=decouple_wd,
            decay=decay,
            peak_lr=peak_lr,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_number("momentum", group["momentum"], 0.0, 1.0, high_open=True)
        check_number("dampening", group["dampening"], 0.0, 1.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("nesterov=True needs momentum > 0 and dampening = 0")

    def _update(self, p: Tensor, g: Tensor, group: dict[str, Any], state: dict) -> None:
        lr, mu = group["lr"], group["momentum"]
        g = weight_decay(p, g, group)
        if mu != 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.detach().clone()  # b_1 = g_1: no dampening
            else:
                state["momentum_buffer"].mul_(mu).add_(g, alpha=1 - group["dampening"])
            b = state["momentum_buffer"]
            g = g.add(b, alpha=mu) if group["nesterov"] else b
        p.add_(g, alpha=-lr)


class SGDW(SGD):
    """SGD with decoupled weight decay (Loshchilov & Hutter): :class:`SGD` with
    ``decouple_wd=True`` (``decay="schedule"`` for the paper's form of the decay)."""

    def __init__(self, params: Params, lr: float = 1e-3, momentum: float = 0.0, **kwargs) -> None:
        kwargs.setdefault("decouple_wd", True)
        super().__init__(params, lr=lr, momentum=momentum, **kwargs)


class Adam(_Optimizer):
    r"""Adam (Kingma & Ba); ``decouple_wd=True`` makes it AdamW.

    With $g_t$ the gradient after weight decay, the moments are
    $m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t$ and
    $v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2$, debiased as
    $\hat m_t = m_t / (1-\beta_1^t)$ and $\hat v_t = v_t / (1-\beta_2^t)$, and the
    step is $\theta_t = \theta_{t-1} - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)$.

    ``decay`` and ``peak_lr`` set the rate of the decoupled decay (see the module's docstring).
    With ``decay="schedule"`` this is the paper's AdamW (its Algorithm 2, with
    $\alpha = \hat\eta$ and $\eta_t = \eta/\hat\eta$):
    $\theta_t = \theta_{t-1} - \eta_t\bigl(\alpha\,\hat m_t / (\sqrt{\hat v_t} + \epsilon)
    + \lambda\,\theta_{t-1}\bigr)$.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decouple_wd: bool = False,
        decay: Decay = "lr",
        peak_lr: float | None = None,
    ) -> None:
        if not (isinstance(betas, tuple | list) and len(betas) == 2):
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            decouple_wd=decouple_wd,
            decay=decay,
            peak_lr=peak_lr,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        betas = group["betas"]
        if not (isinstance(betas, tuple | list) and len(betas) == 2):
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        check_number("betas[0]", betas[0], 0.0, 1.0, high_open=True)
        check_number("betas[1]", betas[1], 0.0, 1.0, high_open=True)
        check_number("eps", group["eps"], 0.0)

    def _update(self, p: Tensor, g: Tensor, group: dict[str, Any], state: dict) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        g = weight_decay(p, g, group)
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(g, 1 - beta1)  # m = b1 m + (1 - b1) g
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v = b2 v + (1 - b2) g^2
        denom = v.sqrt().div_((1 - beta2**t) ** 0.5).add_(eps)  # sqrt(v_hat) + eps
        p.addcdiv_(m, denom, value=-lr / (1 - beta1**t))  # theta -= lr m_hat / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): :class:`Adam` with
    ``decouple_wd=True``. PyTorch's default decay for AdamW is 0.01; so is this one's. By
    default the decay is PyTorch's form (``decay="lr"``); ``decay="schedule"`` is the paper's."""

    def __init__(self, params: Params, lr: float = 1e-3, weight_decay: float = 1e-2, **kwargs):
        kwargs.setdefault("decouple_wd", True)
        super().__init__(params, lr=lr, weight_decay=weight_decay, **kwargs)
