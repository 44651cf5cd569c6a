"""Seeding, device choice and the stamp."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest
import torch

from lesson6lib import get_device, seed_everything, setup_page, verified_stamp


def draw() -> tuple[float, float, list[float]]:
    return random.random(), float(np.random.rand())  # noqa: NPY002, torch.randn(3).tolist()


def test_same_seed_same_numbers_other_seed_other_numbers():
    seed_everything(7)
    a = draw()
    seed_everything(7)
    assert draw() == a
    seed_everything(8)
    assert draw() != a


def test_same_training_run_twice_is_identical():
    def run() -> list[float]:
        setup_page(seed=3)
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(64, 4), torch.randn(64, 1)
        losses = []
        for _ in range(20):
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    assert run() == run()


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "1", True])
def test_bad_seed(seed):
    with pytest.raises((TypeError, ValueError), match="seed must be"):
        seed_everything(seed)


def test_device_defaults_to_cpu(monkeypatch):
    monkeypatch.delenv("LESSON6_DEVICE", raising=False)
    assert get_device() == torch.device("cpu")
    monkeypatch.setenv("LESSON6_DEVICE", "cpu")
    assert get_device(None).type == "cpu"
    assert get_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("name", ["tpu", "gpu0", "", "mps"])
def test_bad_device_name(name):
    with pytest.raises(ValueError, match="device must be"):
        get_device(name)


def test_device_type_checked():
    with pytest.raises(TypeError, match="device must be a str"):
        get_device(0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_asking_for_cuda_without_gpu_is_an_error():
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        get_device("cuda")


def test_stamp_names_torch_device_and_date():
    stamp = verified_stamp("cpu", when=dt.date(2026, 1, 2))
    assert stamp.startswith(f"Verified with torch {torch.__version__} on CPU, Python ")
    assert stamp.endswith("on 2026-01-02.")


def test_setup_page(monkeypatch):
    monkeypatch.setenv("LESSON6_THREADS", "1")
    info = setup_page(seed=5)
    assert info.threads == 1 and torch.get_num_threads() == 1
    assert info.device.type == "cpu" and "l6-stamp" in info._repr_html_()
    monkeypatch.setenv("LESSON6_THREADS", "many")
    with pytest.raises(ValueError, match="LESSON6_THREADS"):
        setup_page()
    with pytest.raises(ValueError, match="threads must be"):
        setup_page(threads=0)
