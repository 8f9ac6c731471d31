"""Embedding of sparse fields (one table with per-field offsets) and concatenation with dense fields."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema


class FeatureEmbedding(nn.Module):
    """All sparse fields in one ``nn.Embedding`` (one lookup per batch); ``sparse=True`` gives sparse gradients.

    Fields may declare their own dimension; fields are grouped into one table per distinct dimension.

    Shapes:
        batch.sparse: [B, F] long; batch.dense: [B, D]
        fields(batch): [B, F, d] (when all fields share d)
        forward(batch): [B, sum(d_f) + D]
    """

    def __init__(self, schema: FeatureSchema, *, sparse_grad: bool = True, include_dense: bool = True,
                 init_std: float = 1e-4) -> None:
        super().__init__()
        dims = sorted({f.embed_dim for f in schema.sparse})
        self.groups = nn.ModuleList()
        self.group_fields: list[list[int]] = []
        offsets: list[Tensor] = []
        for d in dims:
            idx = [i for i, f in enumerate(schema.sparse) if f.embed_dim == d]
            sizes = torch.tensor([schema.sparse[i].vocab_size for i in idx])
            off = torch.cat([torch.zeros(1, dtype=torch.long), sizes.cumsum(0)[:-1]])
            emb = nn.Embedding(int(sizes.sum()), d, sparse=sparse_grad)
            nn.init.normal_(emb.weight, std=init_std)
            self.groups.append(emb)
            self.group_fields.append(idx)
            offsets.append(off)
        for g, off in enumerate(offsets):
            self.register_buffer(f"offsets_{g}", off, persistent=False)
        self.include_dense = include_dense
        self.num_dense = len(schema.dense) if include_dense else 0
        self.field_dims = [f.embed_dim for f in schema.sparse]
        self.out_dim = sum(self.field_dims) + self.num_dense

    def fields(self, sparse: Tensor) -> list[Tensor]:
        """Per dimension group: [B, F_g, d_g]."""
        out = []
        for g, emb in enumerate(self.groups):
            idx = sparse[:, self.group_fields[g]] + getattr(self, f"offsets_{g}")
            out.append(emb(idx))
        return out

    def forward(self, batch: Batch) -> Tensor:
        parts = [e.flatten(1) for e in self.fields(batch.sparse)]
        if self.include_dense and self.num_dense:
            parts.append(batch.dense)
        return torch.cat(parts, dim=1)
