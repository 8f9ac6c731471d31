"""Content inputs shared by every model's input layer: one embedding table per vocabulary (fields that share a
vocabulary share the table, ``SequenceField.table_key``) and one projection per vector space
(``VectorField.space``: an item's ``image_emb``, the trigger item's and a visual query's embedding).

Shapes:
    mean_terms(table, ids [..., L]) -> [..., d] (mean over the non-padding ids; empty -> zeros)
    SequenceTables.pool(name, ids [B, L]) -> [B, d] (mean or sum over the non-padding ids; empty -> zeros)
    SequenceTables.tokens(name, ids [B, L]) -> [B, L, d] (padding rows zero)
    VectorProjections(batch) -> list of [B, d_v] per vector field (zeros where the batch lacks the field)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import SequenceField, VectorField


def mean_terms(table: nn.Embedding, ids: Tensor) -> Tensor:
    """The mean of the non-padding ids' vectors over the last axis (any leading shape; all padding -> zeros).

    Shapes:
        ids [..., L] long -> [..., d]
    """
    ids = ids.clamp(max=table.num_embeddings - 1)
    return table(ids).sum(-2) / (ids > 0).sum(-1, keepdim=True).clamp(min=1)


def _key(name: str) -> str:
    return name.replace(".", "__")


class SequenceTables(nn.Module):
    """One ``nn.Embedding`` (padding row 0 kept at zero) per table key of ``fields``; a field is pooled with
    its key's table, so a query term and the same title term get the same vector.

    ``dim``: every table this width (field-interaction models); None: each table its fields' ``embed_dim``.

    Shapes:
        pool(name, ids [B, L]) -> [B, d]; tokens(name, ids [B, L]) -> [B, L, d]
    """

    def __init__(self, fields: list[SequenceField], *, dim: int | None = None, sparse: bool,
                 init_std: float = 1e-4) -> None:
        super().__init__()
        self.sparse = sparse
        self.key = {f.name: f.table_key for f in fields}
        self.tables = nn.ModuleDict()
        for f in fields:
            k = _key(f.table_key)
            if k in self.tables:
                continue
            size = max(g.vocab_size for g in fields if g.table_key == f.table_key)
            table = nn.Embedding(size, dim or f.embed_dim, padding_idx=0, sparse=sparse)
            nn.init.normal_(table.weight, std=init_std)
            with torch.no_grad():
                table.weight[0].zero_()
            self.tables[k] = table

    def table(self, name: str) -> nn.Embedding:
        return self.tables[_key(self.key[name])]

    def dim(self, name: str) -> int:
        return self.table(name).embedding_dim

    def pool(self, name: str, ids: Tensor, mode: str = "mean") -> Tensor:
        t = self.table(name)
        return F.embedding_bag(ids.clamp(max=t.num_embeddings - 1), t.weight, mode=mode, padding_idx=0,
                               sparse=self.sparse)

    def tokens(self, name: str, ids: Tensor) -> Tensor:
        t = self.table(name)
        return t(ids.clamp(max=t.num_embeddings - 1))

    def pooled(self, batch: Batch, names: list[str], mode: str = "mean") -> list[Tensor]:
        """Each named field of ``batch`` pooled ([B, d]); a field the batch lacks pools to zeros."""
        out = []
        for name in names:
            if name in batch.sequences:
                out.append(self.pool(name, batch.sequences[name][0], mode))
            else:  # e.g. recommendation data without queries
                out.append(batch.dense.new_zeros((len(batch), self.dim(name))))
        return out


class VectorProjections(nn.Module):
    """One bias-free linear map per vector space: ``item.image_emb``, ``trigger.image_emb`` and ``query.emb``
    (a visual query's image) are projected by the same matrix, so their products compare like with like;
    a sample without the vector (zeros) projects to zeros.

    Shapes:
        batch -> list of [B, d_v] in ``fields`` order
    """

    def __init__(self, fields: list[VectorField], *, dim: int | None = None) -> None:
        super().__init__()
        self.names = [v.name for v in fields]
        self.space = {v.name: v.space for v in fields}
        self.dims = [dim or v.embed_dim for v in fields]
        self.proj = nn.ModuleDict()
        for v in fields:
            if _key(v.space) not in self.proj:
                self.proj[_key(v.space)] = nn.Linear(v.dim, dim or v.embed_dim, bias=False)
        self.out_dim = sum(self.dims)

    def project(self, name: str, x: Tensor) -> Tensor:
        return self.proj[_key(self.space[name])](x)

    def forward(self, batch: Batch) -> list[Tensor]:
        out = []
        for name, d in zip(self.names, self.dims, strict=True):
            x = batch.vectors.get(name)
            out.append(self.project(name, x) if x is not None else batch.dense.new_zeros((len(batch), d)))
        return out
