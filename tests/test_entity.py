"""The entity-embedding model: sizes by the lesson's rule, shapes, registered parameters, range,
bad input, that it learns, embeddings as features, and what it imports."""

from __future__ import annotations

import ast
import inspect

import pytest
import torch
from torch import nn

from lesson6lib import entity, optim
from lesson6lib.batches import TensorBatches
from lesson6lib.entity import EntityEmbeddingModel, embed_codes, embedding_sizes
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


def test_embed_codes_looks_up_the_learned_rows():
    model = EntityEmbeddingModel([5, 3], n_cont=1, hidden=(4,), dropouts=(0.0,))
    codes = torch.tensor([[4, 0], [1, 2]])
    out = embed_codes(model, codes, [1, 0])
    w0, w1 = model.embeddings[0].weight, model.embeddings[1].weight
    assert torch.equal(out, torch.cat([w1[codes[:, 1]], w0[codes[:, 0]]], dim=1))
    with pytest.raises(ValueError, match="out of range"):
        embed_codes(model, codes, [2])
    with pytest.raises(ValueError, match="codes must be"):
        embed_codes(model, codes[:, :1], [0])


def test_the_model_imports_neither_the_training_loop_nor_collab():
    tree = ast.parse(inspect.getsource(entity))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "lesson6lib.layers" in imported
    assert not imported & {"lesson6lib.collab", "lesson6lib.learner"}
