"""Metrics and their reductions over a whole data set."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lesson6lib.metrics import (
    Metric,
    accuracy,
    batch_mean_rmspe,
    exp_rmspe,
    mape,
    rmse,
    rmspe,
)


def test_rmse_on_one_batch_and_its_reduction():
    pred, target = torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 1.0, 1.0])
    assert float(rmse(pred, target)) == pytest.approx(math.sqrt((0 + 1 + 9) / 3))
    assert rmse.reduce == "root_mean" and rmse.finish(4.0) == 2.0
    assert accuracy.reduce == "mean" and accuracy.finish(0.25) == 0.25


def test_root_mean_of_the_whole_set_is_not_the_mean_of_batch_roots():
    pred, target = torch.tensor([0.0, 0.0, 0.0, 3.0]), torch.zeros(4)
    per_row = rmse.per_row(pred, target)
    whole = rmse.finish(float(per_row.mean()))
    batches = [float(rmse(pred[:2], target[:2])), float(rmse(pred[2:], target[2:]))]
    assert whole == pytest.approx(1.5) and np.mean(batches) == pytest.approx(1.0607, abs=1e-4)


def test_exp_rmspe_equals_rmspe_of_the_sales():
    sales = np.array([100.0, 200.0, 50.0])
    guess = np.array([110.0, 180.0, 55.0])
    ours = float(exp_rmspe(torch.log(torch.tensor(guess)), torch.log(torch.tensor(sales))))
    assert ours == pytest.approx(rmspe(sales, guess), rel=1e-6)


def test_rmspe_skips_days_without_sales_and_checks_its_input():
    assert rmspe([0, 100, 200], [50, 110, 180]) == rmspe([100, 200], [110, 180])
    with pytest.raises(ValueError, match="differ in shape"):
        rmspe([1, 2], [1])
    with pytest.raises(ValueError, match="non-zero"):
        rmspe([0, 0], [1, 2])


def test_accuracy_and_a_bad_reduction():
    logits = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert float(accuracy(logits, torch.tensor([1, 1, 1]))) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="reduce must be"):
        Metric("x", accuracy.per_row, "median")  # type: ignore[arg-type]


def test_batch_mean_rmspe_is_the_weighted_mean_of_batch_roots():
    sales = np.array([100.0, 200.0, 50.0, 80.0, 40.0])
    guess = np.array([110.0, 180.0, 50.0, 100.0, 40.0])
    # by hand, batches of 2: [+10%, -10%], [0%, +25%], [0%]
    first = math.sqrt((0.1**2 + 0.1**2) / 2)
    second = math.sqrt((0 + 0.25**2) / 2)
    expected = (2 * first + 2 * second + 1 * 0.0) / 5
    assert batch_mean_rmspe(sales, guess, 2) == pytest.approx(expected)
    assert batch_mean_rmspe(sales, guess, 5) == pytest.approx(rmspe(sales, guess))
    assert batch_mean_rmspe(sales, guess, 2) < rmspe(sales, guess)


def test_batch_mean_rmspe_refuses_bad_input():
    with pytest.raises(ValueError, match="batch_size"):
        batch_mean_rmspe([1.0], [1.0], 0)
    with pytest.raises(TypeError, match="batch_size"):
        batch_mean_rmspe([1.0], [1.0], 2.5)
    with pytest.raises(ValueError, match="one length"):
        batch_mean_rmspe([1.0, 2.0], [1.0], 2)
    with pytest.raises(ValueError, match="no zero"):
        batch_mean_rmspe([0.0, 2.0], [1.0, 2.0], 2)


def test_mape_by_hand_and_its_checks():
    assert mape([0, 100, 200], [50, 110, 150]) == pytest.approx((0.1 + 0.25) / 2)
    with pytest.raises(ValueError, match="differ in shape"):
        mape([1, 2], [1])
    with pytest.raises(ValueError, match="non-zero"):
        mape([0, 0], [1, 2])
