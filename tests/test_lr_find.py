"""The LR range test's contract: weights and optimizer restored, a sane suggestion, a stop on
divergence, and clear errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lesson6lib import optim
from lesson6lib.lr_find import lr_find


def regression_problem(seed: int = 0):
    torch.manual_seed(seed)
    x = torch.randn(512, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1 * torch.randn(512, 1)
    model = nn.Linear(4, 1)
    batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 512, 32)]
    return model, batches


def test_lr_find_restores_weights_and_optimizer_and_suggests_a_sane_lr():
    model, batches = regression_problem()
    opt = optim.SGD(model.parameters(), lr=0.123, momentum=0.9)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = lr_find(model, nn.functional.mse_loss, batches, opt, num_steps=300)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert opt.param_groups[0]["lr"] == 0.123 and not opt.state
    assert result.lrs == sorted(result.lrs) and len(result.lrs) == len(result.losses)
    assert len(result.lrs) < 300, "the loss should diverge before lr = 10 with momentum 0.9"
    assert 1e-3 < result.suggestion < 1.0
    assert min(result.losses) < result.losses[0] / 2


def test_lr_find_stops_on_divergence():
    model, batches = regression_problem()
    opt = optim.SGD(model.parameters(), lr=0.1)
    result = lr_find(model, nn.functional.mse_loss, batches, opt, end_lr=1e4, num_steps=200)
    assert result.lrs[-1] < 1e4
    assert result.losses[-1] > min(result.losses)


def test_lr_find_bad_input():
    model, batches = regression_problem()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"end_lr must be in \(1, inf\]"):
        lr_find(model, nn.functional.mse_loss, batches, opt, start_lr=1, end_lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        lr_find(model, nn.functional.mse_loss, [], opt)
    with pytest.raises(ValueError, match="num_steps must be an integer >= 5"):
        lr_find(model, nn.functional.mse_loss, batches, opt, num_steps=3)
