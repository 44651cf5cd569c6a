"""SGD (with momentum), SGDW, Adam and AdamW, written from scratch.

All four share one piece, :func:`weight_decay`, and differ from their partner only by one switch,
``decouple_wd``:

- **L2 regularisation** (``decouple_wd=False``, as in ``torch.optim.SGD`` and ``Adam``) adds
  :math:`\\lambda\\theta` to the gradient, so the decay goes through momentum and, in Adam, is
  divided by :math:`\\sqrt{\\hat v}` like every other part of the gradient:
  :math:`g_t \\leftarrow \\nabla L(\\theta_{t-1}) + \\lambda\\theta_{t-1}`.
- **Decoupled weight decay** (``decouple_wd=True``: SGDW and AdamW, Loshchilov & Hutter,
  arXiv:1711.05101) shrinks the weights directly, before and apart from the gradient step:
  :math:`\\theta_{t-1} \\leftarrow (1 - \\eta\\lambda)\\,\\theta_{t-1}`. Every weight then decays
  at the same rate whatever its gradient history.

The updates follow PyTorch's definitions exactly (the tests check the trajectories against
``torch.optim``), including its convention that the decoupled decay is scaled by the learning
rate. They use ``torch._foreach_*`` operations, which apply one operation to a list of tensors at
once, as ``torch.optim`` does, so that many small parameters cost few kernel launches.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

__all__ = ["SGD", "SGDW", "Adam", "AdamW", "weight_decay"]

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


def weight_decay(
    params: list[Tensor], grads: list[Tensor], lr: float, wd: float, decouple: bool
) -> list[Tensor]:
    """Apply weight decay ``wd`` one of the two ways; return the gradients to step with.

    Coupled (L2): :math:`g \\leftarrow g + \\lambda\\theta` (new tensors; ``.grad`` is untouched).
    Decoupled: :math:`\\theta \\leftarrow (1 - \\eta\\lambda)\\theta` in place; gradients unchanged.
    """
    if wd == 0:
        return grads
    if decouple:
        torch._foreach_mul_(params, 1 - lr * wd)
        return grads
    return torch._foreach_add(grads, params, alpha=wd)


def _check(name: str, value: float, low: float, high: float | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if value < low or (high is not None and value >= high):
        bound = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")


class _Optimizer(Optimizer):
    """What the four share: the step itself (closure, the parameters that have gradients, weight
    decay); subclasses supply ``_update``, the rule that turns gradients into a step."""

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads = self._with_grads(group)
            if not params:
                continue
            grads = weight_decay(
                params, grads, group["lr"], group["weight_decay"], group["decouple_wd"]
            )
            self._update(group, params, grads)
        return loss

    def _update(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> None:
        raise NotImplementedError

    def _with_grads(self, group: dict[str, Any]) -> tuple[list[Tensor], list[Tensor]]:
        params, grads = [], []
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
            params.append(p)
            grads.append(p.grad)
        return params, grads


class SGD(_Optimizer):
    """Stochastic gradient descent with momentum; ``decouple_wd=True`` makes it SGDW.

    With :math:`g_t` the gradient after :func:`weight_decay`, momentum :math:`\\mu` and dampening
    :math:`d`:

    .. math::
        b_1 = g_1,\\quad b_t = \\mu b_{t-1} + (1 - d) g_t,\\qquad
        \\theta_t = \\theta_{t-1} - \\eta\\,(g_t + \\mu b_t \\text{ if Nesterov else } b_t)

    and with ``momentum=0``, plain :math:`\\theta_t = \\theta_{t-1} - \\eta g_t`.
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
    ) -> None:
        _check("lr", lr, 0.0)
        _check("momentum", momentum, 0.0, 1.0)
        _check("dampening", dampening, 0.0, 1.0 + 1e-12)
        _check("weight_decay", weight_decay, 0.0)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov=True needs momentum > 0 and dampening = 0")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            decouple_wd=decouple_wd,
        )
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> None:
        mu = group["momentum"]
        if mu != 0:
            grads = self._momentum(params, grads, mu, group["dampening"], group["nesterov"])
        torch._foreach_add_(params, grads, alpha=-group["lr"])

    def _momentum(
        self, params: list[Tensor], grads: list[Tensor], mu: float, dampening: float, nesterov: bool
    ) -> list[Tensor]:
        """Update each momentum buffer b and return the step direction (b, or g + mu b)."""
        bufs = []
        for p, g in zip(params, grads, strict=True):
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.detach().clone()  # b_1 = g_1: no dampening
            else:
                state["momentum_buffer"].mul_(mu).add_(g, alpha=1 - dampening)
            bufs.append(state["momentum_buffer"])
        if nesterov:
            return torch._foreach_add(grads, bufs, alpha=mu)
        return bufs


class SGDW(SGD):
    """SGD with decoupled weight decay (Loshchilov & Hutter): :class:`SGD` with
    ``decouple_wd=True``."""

    def __init__(self, params: Params, lr: float = 1e-3, momentum: float = 0.0, **kwargs) -> None:
        kwargs.setdefault("decouple_wd", True)
        super().__init__(params, lr=lr, momentum=momentum, **kwargs)


class Adam(_Optimizer):
    """Adam (Kingma & Ba); ``decouple_wd=True`` makes it AdamW.

    With :math:`g_t` the gradient after :func:`weight_decay`:

    .. math::
        m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\quad
        v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2,\\quad
        \\theta_t = \\theta_{t-1} - \\frac{\\eta}{1-\\beta_1^t}\\,
        \\frac{m_t}{\\sqrt{v_t}/\\sqrt{1-\\beta_2^t} + \\epsilon}
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decouple_wd: bool = False,
    ) -> None:
        _check("lr", lr, 0.0)
        if not (isinstance(betas, tuple | list) and len(betas) == 2):
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        _check("betas[0]", betas[0], 0.0, 1.0)
        _check("betas[1]", betas[1], 0.0, 1.0)
        _check("eps", eps, 0.0)
        _check("weight_decay", weight_decay, 0.0)
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, decouple_wd=decouple_wd
        )
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        ms, vs, steps = self._moments(params)
        torch._foreach_lerp_(ms, grads, 1 - beta1)  # m = b1 m + (1 - b1) g
        torch._foreach_mul_(vs, beta2)  # v = b2 v + (1 - b2) g^2
        torch._foreach_addcmul_(vs, grads, grads, value=1 - beta2)
        step_sizes = [-lr / (1 - beta1**t) for t in steps]
        denom = torch._foreach_sqrt(vs)  # sqrt(v / (1 - b2^t)) + eps
        torch._foreach_div_(denom, [(1 - beta2**t) ** 0.5 for t in steps])
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(params, ms, denom, step_sizes)

    def _moments(self, params: list[Tensor]) -> tuple[list[Tensor], list[Tensor], list[int]]:
        """Each parameter's m and v (zeros at first) and its step count, advanced by one."""
        ms, vs, steps = [], [], []
        for p in params:
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["step"] += 1
            ms.append(state["exp_avg"])
            vs.append(state["exp_avg_sq"])
            steps.append(state["step"])
        return ms, vs, steps


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): :class:`Adam` with
    ``decouple_wd=True``. PyTorch's default decay for AdamW is 0.01; so is this one's."""

    def __init__(self, params: Params, lr: float = 1e-3, weight_decay: float = 1e-2, **kwargs):
        kwargs.setdefault("decouple_wd", True)
        super().__init__(params, lr=lr, weight_decay=weight_decay, **kwargs)
