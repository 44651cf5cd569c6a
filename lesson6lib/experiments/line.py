"""SGD from scratch: fitting a line y = a x + b to noisy points by full-batch gradient descent,
with :class:`lesson6lib.optim.SGD`."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from lesson6lib import optim
from lesson6lib.experiments.base import Experiment, Preset, RunResult
from lesson6lib.runtime import get_device, seed_everything

__all__ = ["EXPERIMENTS", "LinePreset", "LineResult", "fit_line", "make_line", "mse_grid"]


@dataclass(frozen=True)
class LinePreset(Preset):
    """Fitting y = a x + b to noisy points by full-batch gradient descent."""

    n_points: int = 10_000
    a: float = 3.0
    b: float = 8.0
    noise_std: float = 0.3
    lr: float = 0.1
    steps: int = 1_000
    seed: int = 0

    def check(self) -> None:
        self.positive("n_points", "steps", "lr")
        if self.noise_std < 0:
            raise ValueError(f"{self._field('noise_std')} must be >= 0; got {self.noise_std}")


@dataclass
class LineResult(RunResult):
    """The fitted a and b; ``value`` is the final MSE and ``noise_mse`` the MSE of the true
    line on the same points (the floor no fit can beat on average)."""

    a: float = 0.0
    b: float = 0.0
    noise_mse: float = 0.0


def make_line(
    preset: LinePreset, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ U(0, 1) and y = a x + b + noise, noise ~ N(0, noise_std^2), from the preset's seed
    (its own generator: the global random state is left alone)."""
    gen = torch.Generator().manual_seed(preset.seed)
    x = torch.rand(preset.n_points, generator=gen)
    y = preset.a * x + preset.b + preset.noise_std * torch.randn(preset.n_points, generator=gen)
    return x.to(device), y.to(device)


def mse_grid(x: torch.Tensor, y: torch.Tensor, a_values, b_values) -> np.ndarray:
    """The MSE of the line a x + b on the points (x, y) for every pair of a grid: ``values[j, i]``
    for ``a_values[i]`` and ``b_values[j]``. Computed from the sample's moments, in float64:
    MSE(a, b) = a² mean(x²) + 2ab mean(x) + b² - 2a mean(xy) - 2b mean(y) + mean(y²), which is
    exact and needs no pass over the points per line."""
    x, y = (torch.as_tensor(t, dtype=torch.float64).cpu().numpy() for t in (x, y))
    if x.ndim != 1 or x.shape != y.shape or len(x) == 0:
        raise ValueError(
            f"x and y must be 1-D, non-empty and equal in length; got {x.shape}, {y.shape}"
        )
    a, b = np.meshgrid(np.asarray(a_values, float), np.asarray(b_values, float))
    xx, xy, yy = (x * x).mean(), (x * y).mean(), (y * y).mean()
    return a * a * xx + 2 * a * b * x.mean() + b * b - 2 * a * xy - 2 * b * y.mean() + yy


def fit_line(
    preset: LinePreset, device: str | torch.device | None = None, progress: bool = False
) -> LineResult:
    """Gradient descent on (a, b) from a random start; the MSE is the metric."""
    device = get_device(device)
    x, y = make_line(preset, device)
    seed_everything(preset.seed)
    a, b = torch.randn(2, device=device).unbind()
    a, b = a.clone().requires_grad_(), b.clone().requires_grad_()
    opt = optim.SGD([a, b], lr=preset.lr)
    start = time.perf_counter()
    for _ in range(preset.steps):
        loss = ((a * x + b - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        final = ((a * x + b - y) ** 2).mean().item()
        floor = ((preset.a * x + preset.b - y) ** 2).mean().item()
    return LineResult("mse", final, seconds, a=a.item(), b=b.item(), noise_mse=floor)


EXPERIMENTS = (
    Experiment(
        name="sgd",
        page="sgd",
        summary="SGD from scratch: a line fitted by full-batch gradient descent",
        presets={"cpu": LinePreset(), "full": LinePreset(n_points=1_000_000, steps=10_000)},
        run=fit_line,
    ),
)
"""The ``sgd`` experiment, as the command line and the registry list it."""
