"""The line experiment: its loss surface against a direct computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lesson6lib.experiments.line import LinePreset, make_line, mse_grid


def test_mse_grid_equals_the_mse_of_each_line():
    x, y = make_line(LinePreset(n_points=500))
    a_values, b_values = np.linspace(-2, 6, 7), np.linspace(4, 10, 5)
    grid = mse_grid(x, y, a_values, b_values)
    assert grid.shape == (5, 7)
    x64, y64 = x.double(), y.double()
    for j, b in enumerate(b_values):
        for i, a in enumerate(a_values):
            direct = ((a * x64 + b - y64) ** 2).mean().item()
            assert grid[j, i] == pytest.approx(direct, rel=1e-10)


def test_mse_grid_refuses_mismatched_points():
    with pytest.raises(ValueError, match="x and y must be 1-D, non-empty and equal in length"):
        mse_grid(torch.zeros(3), torch.zeros(4), [0.0], [0.0])
    with pytest.raises(ValueError, match="x and y must be 1-D"):
        mse_grid(torch.zeros(0), torch.zeros(0), [0.0], [0.0])
