"""The entity-embedding model: sizes by the lesson's and fastai 1.x's rules, shapes, registered
parameters, range, batch norm after or before the ReLU, bad input, that it learns, embeddings
as features, and what it imports."""

from __future__ import annotations

import ast
import inspect

import pytest
import torch
from torch import nn

from lesson6lib import entity, optim
from lesson6lib.batches import TensorBatches
from lesson6lib.entity import (
    EntityEmbeddingModel,
    embed_codes,
    embedding_sizes,
    fastai1_embedding_sizes,
)
from lesson6lib.learner import Learner


def test_embedding_sizes_rule():
    assert embedding_sizes([1116, 8, 3]) == [(1116, 50), (8, 4), (3, 2)]
    with pytest.raises(ValueError, match="positive"):
        embedding_sizes([0])


def test_fastai1_embedding_sizes_rule():
    cards = [1116, 53, 32, 8, 4, 2, 10**6]
    # the oracle: fastai 1.x's emb_sz_rule, min(600, round(1.6 * n_cat**0.56))
    assert fastai1_embedding_sizes(cards) == [(c, min(600, round(1.6 * c**0.56))) for c in cards]
    assert fastai1_embedding_sizes([1116, 53, 32, 8]) == [(1116, 81), (53, 15), (32, 11), (8, 5)]
    assert fastai1_embedding_sizes([10**6]) == [(10**6, 600)]
    assert fastai1_embedding_sizes([1116], max_size=50) == [(1116, 50)]
    with pytest.raises(ValueError, match="positive"):
        fastai1_embedding_sizes([3, 0])
    with pytest.raises(ValueError, match="max_size"):
        fastai1_embedding_sizes([3], max_size=0)


def test_batch_norm_after_or_before_the_relu():
    kwargs = {"hidden": (6,), "dropouts": (0.0,), "emb_dropout": 0.0}
    x_cat, x_cont = torch.randint(0, 5, (9, 1)), torch.randn(9, 2)
    torch.manual_seed(0)
    after = EntityEmbeddingModel([5], 2, **kwargs, batchnorm=True).train()
    torch.manual_seed(0)
    before = EntityEmbeddingModel([5], 2, **kwargs, batchnorm=True, bn_before_relu=True).train()
    torch.manual_seed(0)
    plain = EntityEmbeddingModel([5], 2, **kwargs).train()
    assert before.state_dict().keys() == after.state_dict().keys()
    h0 = torch.cat([after.embeddings[0](x_cat[:, 0]), after.bn_cont(x_cont)], dim=1)
    linear = after.layers[0](h0)
    norm = nn.functional.batch_norm(linear, None, None, training=True, eps=1e-5)
    relu_norm = nn.functional.batch_norm(torch.relu(linear), None, None, training=True, eps=1e-5)
    with torch.no_grad():
        assert torch.allclose(after(x_cat, x_cont), after.out(relu_norm).squeeze(1), atol=1e-6)
        assert torch.allclose(before(x_cat, x_cont), before.out(torch.relu(norm)).squeeze(1))
        assert torch.allclose(plain(x_cat, x_cont), plain.out(torch.relu(linear)).squeeze(1))
    with pytest.raises(ValueError, match="bn_before_relu=True needs batchnorm=True"):
        EntityEmbeddingModel([5], 2, **kwargs, bn_before_relu=True)


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
