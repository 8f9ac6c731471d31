"""Every input feature as one field vector of a common size, for the field-interaction and behaviour-sequence
baselines (NFM, xDeepFM, TEM, AEM+DIN).

Fields, in this order: the categorical fields of the schema (users, items, event-level ids), each list
feature (mean-pooled: category path, title tokens, the query's category, the trigger item's path and title;
one table per vocabulary, so a query term and a title term are one vector), the search query (sum of its term
embeddings; a recommendation sample carries the empty query, embedded as a reserved term exactly as in
SRJGraph eq. 3), each vector feature (item image, trigger image, visual query: projected, one matrix per
space), each dense feature (its value times a learned vector, as in factorisation machines) and the scenario.

Shapes:
    FieldStack: batch -> [B, F, dim]
    FirstOrder: batch -> [B]
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.nn.content import SequenceTables, VectorProjections
from unisr.nn.embedding import FeatureEmbedding
from unisr.nn.entity import QueryEmbedding
from unisr.nn.match import MatchSpec, QueryItemMatch, match_spec

QUERY = "query_tokens"
CONTENT = ("item.title_tokens", "item.category_path")  # the item content fields ``item_content`` averages


def default_dim(schema: FeatureSchema) -> int:
    """The schema's most common embedding size (16 when it has no fields)."""
    dims = [f.embed_dim for f in schema.sparse] + [f.embed_dim for f in schema.sequences]
    return max(set(dims), key=dims.count) if dims else 16


class FieldStack(nn.Module):
    """All features of a sample as ``num_fields`` vectors of size ``dim``.

    Every field is embedded with ``dim`` columns whatever size the schema declares (FM-style interactions
    need one size; ``default_dim`` picks the schema's most common one). ``names[f]`` names field f.

    Shapes:
        batch -> [B, F, dim]; query(batch) -> [B, dim] (the query field alone; zeros without a query field)
    """

    def __init__(self, schema: FeatureSchema, dim: int, *, sparse_grad: bool, scenario_field: bool = True,
                 init_std: float = 1e-4, match: bool | MatchSpec = False, id_dropout: float | None = None) -> None:
        super().__init__()
        self.dim = dim
        uniform = replace(schema, sparse=[replace(f, embed_dim=dim) for f in schema.sparse])
        self.embedding = FeatureEmbedding(uniform, sparse_grad=sparse_grad, include_dense=False,
                                          include_sequences=False, init_std=init_std, id_dropout=id_dropout)
        names: list[str] = []
        for idx in self.embedding.group_fields:
            names.extend(schema.sparse[i].name for i in idx)
        self.seq_names = [f.name for f in schema.sequences if f.name != QUERY]
        # one table per vocabulary, at the common width: query terms and title terms share one
        self.seq = SequenceTables(schema.sequences, dim=dim, sparse=sparse_grad, init_std=init_std)
        names.extend(self.seq_names)
        qf = schema.sequence(QUERY)
        self.query_emb = (QueryEmbedding(qf.vocab_size, dim, sparse_grad, table=self.seq.table(QUERY))
                          if qf is not None else None)
        if self.query_emb is not None:
            names.append(QUERY)
        self.vectors = VectorProjections(schema.vectors, dim=dim)
        names.extend(self.vectors.names)
        self.num_dense = len(schema.dense)
        self.dense_vec = nn.Parameter(torch.randn(self.num_dense, dim) * 0.01) if self.num_dense else None
        names.extend(schema.dense)
        self.scenario_emb = nn.Embedding(schema.num_scenarios, dim) if scenario_field else None
        if self.scenario_emb is not None:
            nn.init.normal_(self.scenario_emb.weight, std=init_std)
            names.append("scenario")
        self.names = names
        self.num_fields = len(names)
        # query-item match features on the shared tables (nn/match.py), for models configured with ``match``
        spec = match_spec(match)
        self.match = (QueryItemMatch(schema, self.seq, self.vectors, positions=spec.positions,
                                     raw_cosine=spec.raw_cosine) if spec is not None else None)
        self.match_dim = self.match.out_dim if self.match is not None else 0
        self.content_fields = [names.index(n) for n in CONTENT if n in names]

    def match_features(self, batch: Batch) -> Tensor:
        """[B, match_dim] (nn/match.py; [B, 0] without ``match``)."""
        if self.match is None:
            return batch.dense.new_zeros((len(batch), 0))
        return self.match(batch)

    def item_content(self, x: Tensor) -> Tensor:
        """The mean of the item's content fields (title, category path) of a ``forward`` output x [B, F, dim]
        -> [B, dim] (zeros without them): the item in the query's term space (the tables are shared)."""
        if not self.content_fields:
            return x.new_zeros((x.shape[0], self.dim))
        return x[:, self.content_fields].mean(1)

    def query(self, batch: Batch) -> Tensor:
        """e_q: the sum-pooled query terms; the empty query (recommendation, or no tokens) -> the reserved term."""
        if self.query_emb is None:
            return batch.dense.new_zeros((len(batch), self.dim))
        qt = batch.sequences.get(QUERY)
        tokens = qt[0] if qt is not None else batch.sparse.new_zeros((len(batch), 1))
        return self.query_emb(tokens)

    def query_of(self, x: Tensor, batch: Batch) -> Tensor:
        """The query field of an already computed ``forward`` output x [B, F, dim] (zeros without one)."""
        if self.query_emb is None:
            return batch.dense.new_zeros((len(batch), self.dim))
        return x[:, self.names.index(QUERY)]

    def forward(self, batch: Batch) -> Tensor:
        parts = list(self.embedding.fields(batch.sparse))
        pooled = self.seq.pooled(batch, self.seq_names)
        if self.query_emb is not None:
            pooled.append(self.query(batch))
        pooled += self.vectors(batch)
        if pooled:
            parts.append(torch.stack(pooled, 1))
        if self.dense_vec is not None:
            parts.append(batch.dense.unsqueeze(2) * self.dense_vec)
        if self.scenario_emb is not None:
            parts.append(self.scenario_emb(batch.scenario_id).unsqueeze(1))
        return torch.cat(parts, 1)


class FirstOrder(nn.Module):
    """The linear part of a factorisation machine: w_0 + sum over fields of a learned weight per feature value
    (a ``FieldStack`` of size 1, so every field, query and sequence included, has its first-order term).

    Shapes:
        batch -> [B]
    """

    def __init__(self, schema: FeatureSchema, *, sparse_grad: bool, id_dropout: float | None = None) -> None:
        """``id_dropout``: as ``FieldStack``'s (the two layers draw their masks independently)."""
        super().__init__()
        self.weights = FieldStack(schema, 1, sparse_grad=sparse_grad, id_dropout=id_dropout)
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, batch: Batch) -> Tensor:
        return self.weights(batch).sum((1, 2)) + self.bias
