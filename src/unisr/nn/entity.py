"""Entity embeddings of sampled graph nodes: an entity's categorical fields concatenated (SRJGraph eqs. 1-2)
and a query as the sum of its term embeddings (eq. 3).

Shapes:
    FieldEmbedding: idx [..., F] long -> [..., sum(dims)]
    QueryEmbedding: tokens [..., L] long (0 = padding; all-zero = the empty query) -> [..., d]
    entity_fields: schema -> {"user": (vocab sizes, dims), "item": (vocab sizes, dims)}
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.features import FeatureSchema


def entity_fields(schema: FeatureSchema) -> dict[str, tuple[list[int], list[int]]]:
    """Vocabulary and embedding sizes of the per-node fields ``SRJGraphHook`` gives: the entity's categorical
    fields, and for items also the leaf category (paper table 2) when the dataset has ``item.category_path``.

    Shapes:
        schema -> {"user": (vocab sizes, dims), "item": (vocab sizes, dims)}
    """
    uf = [f for f in schema.sparse if f.table == "users"]
    itf = [f for f in schema.sparse if f.table == "items"]
    out = {"user": ([f.vocab_size for f in uf], [f.embed_dim for f in uf]),
           "item": ([f.vocab_size for f in itf], [f.embed_dim for f in itf])}
    cat = schema.sequence("item.category_path")
    if cat is not None:
        out["item"][0].append(cat.vocab_size)
        out["item"][1].append(cat.embed_dim)
    return out


class FieldEmbedding(nn.Module):
    """Concatenated embeddings of an entity's categorical fields (eqs. 1-2): one table per distinct embedding
    size, with per-field offsets. The output lists the fields grouped by size (a fixed permutation).

    Shapes:
        idx: [..., F] long -> [..., sum(dims)]
    """

    def __init__(self, vocab_sizes: list[int], dims: int | list[int], sparse: bool) -> None:
        super().__init__()
        dims = [dims] * len(vocab_sizes) if isinstance(dims, int) else list(dims)
        groups: dict[int, list[int]] = {}
        for i, d in enumerate(dims):
            groups.setdefault(d, []).append(i)
        self.tables = nn.ModuleList()
        self.n_groups = len(groups)
        for g, (d, cols) in enumerate(groups.items()):
            sizes = torch.tensor([vocab_sizes[i] for i in cols])
            self.register_buffer(f"cols{g}", torch.tensor(cols), persistent=False)
            self.register_buffer(f"offsets{g}", torch.cat([torch.zeros(1, dtype=torch.long), sizes.cumsum(0)[:-1]]),
                                 persistent=False)
            table = nn.Embedding(int(sizes.sum()), d, sparse=sparse)
            nn.init.normal_(table.weight, std=1e-4)
            self.tables.append(table)
        self.out_dim = sum(dims)

    def forward(self, idx: Tensor) -> Tensor:
        outs = [t(idx[..., getattr(self, f"cols{g}")] + getattr(self, f"offsets{g}")).flatten(-2)
                for g, t in enumerate(self.tables)]
        return outs[0] if len(outs) == 1 else torch.cat(outs, -1)


class QueryEmbedding(nn.Module):
    """e_q = sum of the query's term embeddings (eq. 3, sum-pooling). The empty query of recommendation is
    padded to the full length with a reserved term id that no real query uses.

    Shapes:
        tokens: [..., L] long (0 = padding; all-zero = the empty query) -> [..., d]
    """

    def __init__(self, vocab_size: int, dim: int, sparse: bool) -> None:
        super().__init__()
        self.empty_id = vocab_size  # reserved term
        self.table = nn.Embedding(vocab_size + 1, dim, padding_idx=0, sparse=sparse)
        nn.init.normal_(self.table.weight, std=1e-4)
        with torch.no_grad():
            self.table.weight[0].zero_()

    def forward(self, tokens: Tensor) -> Tensor:
        empty = (tokens == 0).all(-1, keepdim=True)
        tokens = torch.where(empty, torch.full_like(tokens, self.empty_id), tokens.clamp(max=self.empty_id - 1))
        return self.table(tokens).sum(-2)
