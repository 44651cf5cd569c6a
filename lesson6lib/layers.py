"""Small pieces that several models share."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["prediction", "sigmoid_range"]


def sigmoid_range(x: Tensor, low: float, high: float) -> Tensor:
    """Squash ``x`` into (low, high): low + (high - low) sigmoid(x)."""
    return low + (high - low) * torch.sigmoid(x)


def prediction(output: Tensor | tuple) -> Tensor:
    """A model's prediction: its output, or the first element of an ``(output, state)`` pair
    (what a recurrent model with an explicit state returns)."""
    return output[0] if isinstance(output, tuple) else output
