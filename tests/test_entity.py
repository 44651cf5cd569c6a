"""The entity-embedding model: sizes by the lesson's rule, shapes, registered parameters, range,
bad input, and that it learns."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lesson6lib import optim
from lesson6lib.batches import TensorBatches
from lesson6lib.entity import EntityEmbeddingModel, embedding_sizes
from lesson6lib.learner import Learner


def test_embedding_sizes_rule():
    assert embedding_sizes([1116, 8, 3]) == [(1116, 50), (8, 4), (3, 2)]
    with pytest.raises(ValueError, match="positive"):
        embedding_sizes([0])


def test_shapes_range_and_every_layer_registered():
    model = EntityEmbeddingModel(
        [10, 5], n_cont=3, hidden=(16, 8), dropouts=(0.0, 0.0), y_range=(0.0, 2.0)
    )
    x_cat, x_cont = torch.randint(0, 5, (7, 2)), torch.randn(7, 3)
    y = model(x_cat, x_cont)
    assert y.shape == (7,) and ((y > 0) & (y < 2)).all()
    names = {n.split(".")[0] for n, _ in model.named_parameters()}
    assert {"embeddings", "layers", "out", "bn_cont"} <= names
    assert sum(p.numel() for p in model.embeddings.parameters()) == 10 * 5 + 5 * 3


def test_bad_input():
    model = EntityEmbeddingModel([10, 5], n_cont=3, hidden=(8,), dropouts=(0.0,))
    with pytest.raises(ValueError, match=r"x_cat must be \(batch, 2\)"):
        model(torch.zeros(4, 3, dtype=torch.long), torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"x_cont must be \(batch, 3\)"):
        model(torch.zeros(4, 2, dtype=torch.long), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="dropouts"):
        EntityEmbeddingModel([10], 1, hidden=(8, 4), dropouts=(0.1,))
    with pytest.raises(ValueError, match="emb_sizes"):
        EntityEmbeddingModel([10], 1, emb_sizes=[3, 4])


def test_it_learns_an_effect_per_category():
    torch.manual_seed(0)
    cat = torch.randint(1, 8, (2048, 1))
    cont = torch.randn(2048, 1)
    y = torch.linspace(-1, 1, 8)[cat[:, 0]] + 0.5 * cont[:, 0]
    model = EntityEmbeddingModel([8], n_cont=1, hidden=(32,), dropouts=(0.0,), emb_dropout=0.0)
    learn = Learner(
        model,
        TensorBatches(cat, cont, y, batch_size=128, shuffle=True),
        nn.functional.mse_loss,
        optim.Adam(model.parameters(), lr=1e-2),
        progress=False,
    )
    learn.fit(10)
    assert learn.evaluate(TensorBatches(cat, cont, y, batch_size=512))["loss"] < 0.02
