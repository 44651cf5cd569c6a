"""The entity-embedding model for tabular data (Guo & Berkhahn, arXiv:1604.06737), in the form
of fastai 0.7's ``MixedInputModel``.

Forward pass, for categorical codes x_cat (batch, n_cat) and continuous inputs x_cont
(batch, n_cont)::

    e   = dropout(concat_j E_j[x_cat[:, j]])        one embedding matrix per categorical column
    c   = batchnorm(x_cont)
    h_0 = concat(e, c)
    h_k = dropout_k(relu(W_k h_{k-1} + b_k))        for each hidden layer
    y   = low + (high - low) sigmoid(w . h_K + b)   or w . h_K + b without a y_range

With ``batchnorm=True`` each hidden layer normalises its ReLU's output,
dropout_k(bn_k(relu(W_k h + b_k))); with ``bn_before_relu=True`` too, the linear map's,
dropout_k(relu(bn_k(W_k h + b_k))).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from lesson6lib.checks import check_int
from lesson6lib.layers import sigmoid_range

__all__ = ["EntityEmbeddingModel", "embed_codes", "embedding_sizes", "fastai1_embedding_sizes"]


def embedding_sizes(cardinalities: Sequence[int], max_size: int = 50) -> list[tuple[int, int]]:
    """The lesson's rule: a column with c codes gets min(max_size, (c + 1) // 2) dimensions."""
    if any(c < 1 for c in cardinalities):
        raise ValueError(f"cardinalities must be positive, got {list(cardinalities)}")
    return [(c, min(max_size, (c + 1) // 2)) for c in cardinalities]


def fastai1_embedding_sizes(
    cardinalities: Sequence[int], max_size: int = 600
) -> list[tuple[int, int]]:
    """fastai 1.x's rule (``emb_sz_rule``): a column with c codes gets
    min(max_size, round(1.6 c^0.56)) dimensions; more than the lesson's rule for small columns,
    fewer for mid-sized ones, and no cap at 50."""
    if any(c < 1 for c in cardinalities):
        raise ValueError(f"cardinalities must be positive, got {list(cardinalities)}")
    check_int("max_size", max_size)
    return [(c, min(max_size, round(1.6 * c**0.56))) for c in cardinalities]


class EntityEmbeddingModel(nn.Module):
    """Embeddings for the categorical columns, batch-normalised continuous columns, dense layers.

    ``cardinalities`` gives the number of codes per categorical column (see
    :class:`lesson6lib.tabular.CategoryEncoder`); ``emb_sizes`` overrides the embedding widths
    (for example with :func:`fastai1_embedding_sizes`). ``batchnorm`` adds batch norm to every
    hidden layer, after its ReLU, or before it with ``bn_before_relu`` (see the module's
    docstring).
    The sub-layers sit in ``nn.ModuleList`` containers so that PyTorch registers them: kept in a
    plain list, they would be invisible to ``parameters()`` and never trained.
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        n_cont: int,
        hidden: Sequence[int] = (1000, 500),
        dropouts: Sequence[float] = (0.001, 0.01),
        emb_dropout: float = 0.04,
        emb_sizes: Sequence[int] | None = None,
        y_range: tuple[float, float] | None = None,
        batchnorm: bool = False,
        bn_before_relu: bool = False,
    ) -> None:
        super().__init__()
        if bn_before_relu and not batchnorm:
            raise ValueError("bn_before_relu=True needs batchnorm=True")
        if len(dropouts) != len(hidden):
            raise ValueError(f"got {len(hidden)} hidden layers but {len(dropouts)} dropouts")
        sizes = embedding_sizes(cardinalities)
        if emb_sizes is not None:
            if len(emb_sizes) != len(sizes):
                raise ValueError(f"emb_sizes has {len(emb_sizes)} widths for {len(sizes)} columns")
            sizes = [(c, w) for (c, _), w in zip(sizes, emb_sizes, strict=True)]
        self.embeddings = nn.ModuleList(nn.Embedding(c, w) for c, w in sizes)
        for emb in self.embeddings:
            nn.init.uniform_(emb.weight, -0.05, 0.05)
        self.emb_drop = nn.Dropout(emb_dropout)
        self.n_cont = n_cont
        self.bn_cont = nn.BatchNorm1d(n_cont) if n_cont else None
        widths = [sum(w for _, w in sizes) + n_cont, *hidden]
        self.layers = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(widths, widths[1:], strict=False)
        )
        for layer in self.layers:
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        self.norms = nn.ModuleList(nn.BatchNorm1d(w) for w in hidden) if batchnorm else None
        self.bn_before_relu = bn_before_relu
        self.drops = nn.ModuleList(nn.Dropout(p) for p in dropouts)
        self.out = nn.Linear(widths[-1], 1)
        self.y_range = y_range

    def forward(self, x_cat: Tensor, x_cont: Tensor) -> Tensor:
        if x_cat.dim() != 2 or x_cat.shape[1] != len(self.embeddings):
            raise ValueError(
                f"x_cat must be (batch, {len(self.embeddings)}) codes, got {tuple(x_cat.shape)}"
            )
        if x_cont.dim() != 2 or x_cont.shape[1] != self.n_cont:
            raise ValueError(f"x_cont must be (batch, {self.n_cont}), got {tuple(x_cont.shape)}")
        parts = [emb(x_cat[:, j]) for j, emb in enumerate(self.embeddings)]
        x = self.emb_drop(torch.cat(parts, dim=1))
        if self.bn_cont is not None:
            x = torch.cat([x, self.bn_cont(x_cont)], dim=1)
        for k, (layer, drop) in enumerate(zip(self.layers, self.drops, strict=True)):
            x = layer(x)
            if self.norms is not None and self.bn_before_relu:
                x = self.norms[k](x)
            x = torch.relu(x)
            if self.norms is not None and not self.bn_before_relu:
                x = self.norms[k](x)
            x = drop(x)
        y = self.out(x).squeeze(1)
        return y if self.y_range is None else sigmoid_range(y, *self.y_range)


@torch.no_grad()
def embed_codes(model: EntityEmbeddingModel, codes: Tensor, columns: Sequence[int]) -> Tensor:
    """The learned vectors that replace categorical codes as inputs of another model (the
    paper's "embeddings reused"): for each column index j in ``columns``, the rows
    E_j[codes[:, j]], concatenated in that order into a (rows, sum of widths) float tensor."""
    if codes.dim() != 2 or codes.shape[1] != len(model.embeddings):
        raise ValueError(f"codes must be (rows, {len(model.embeddings)}), got {tuple(codes.shape)}")
    bad = [j for j in columns if not 0 <= j < len(model.embeddings)]
    if bad:
        raise ValueError(f"column indices {bad} are out of range 0..{len(model.embeddings) - 1}")
    weights = [model.embeddings[j].weight.detach().cpu() for j in columns]
    return torch.cat([w[codes[:, j]] for j, w in zip(columns, weights, strict=True)], dim=1)
