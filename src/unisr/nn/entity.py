"""Entity embeddings of sampled graph nodes: an entity's categorical fields concatenated (SRJGraph eqs. 1-2),
for items also their title terms (with the query-term table), and a query as the sum of its term embeddings
(eq. 3), plus the content of a trigger item or a visual query where the sample has one.

Shapes:
    FieldEmbedding: idx [..., F] long -> [..., sum(dims)]
    NodeEmbedding: idx [..., F + L] long (L trailing title-term ids for items) -> [..., sum(dims) + d_term]
    QueryEmbedding: tokens [..., L] long (0 = padding; all-zero = the empty query) -> [..., d]
    QueryEncoder: batch -> [B, d] (the target query: terms + trigger title terms + projected visual query)
    entity_fields: schema -> {"user": (vocab sizes, dims), "item": (vocab sizes, dims)}
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.nn.content import mean_terms


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
    """e_q = sum of the query's term embeddings (eq. 3, sum-pooling). The empty query of recommendation has a
    learned vector of its own (the paper's reserved term). ``table``: an existing term table to share (the
    item title terms' table when queries and titles share a vocabulary); else a table of its own.

    Shapes:
        tokens: [..., L] long (0 = padding; all-zero = the empty query) -> [..., d]
    """

    def __init__(self, vocab_size: int, dim: int, sparse: bool, table: nn.Embedding | None = None) -> None:
        super().__init__()
        if table is None:
            table = nn.Embedding(vocab_size, dim, padding_idx=0, sparse=sparse)
            nn.init.normal_(table.weight, std=1e-4)
            with torch.no_grad():
                table.weight[0].zero_()
            self.table = table
        else:  # shared: held by its owner (not registered twice, so the state dict has it once)
            self._shared = [table]
        self.dim = self.terms.embedding_dim
        self.empty = nn.Parameter(torch.randn(self.dim) * 1e-4)

    @property
    def terms(self) -> nn.Embedding:
        return self._shared[0] if hasattr(self, "_shared") else self.table

    def forward(self, tokens: Tensor) -> Tensor:
        t = self.terms
        empty = (tokens == 0).all(-1, keepdim=True)
        out = t(tokens.clamp(max=t.num_embeddings - 1)).sum(-2)
        return torch.where(empty, self.empty.expand_as(out), out)


class NodeEmbedding(nn.Module):
    """A graph node's embedding: its categorical fields (``FieldEmbedding``) and, for item nodes of a schema
    with ``item_node_terms() > 0``, the mean of its title terms' vectors in the query-term table (SRJGraph
    eqs. 1-3: an item's attributes include its title terms; with one table a title term and the same query term
    are one vector). The node rows carry the title ids after the fields (``SRJGraphHook``).

    ``id_dropout`` (DropoutNet, as ``nn/embedding.py:FeatureEmbedding``'s): in training, each node occurrence's
    id (its first field: ``user_id`` / ``item_id``, ``entity_fields``) is replaced by the OOV row 0 with this
    probability, so the layers above also learn to score a node from its attributes, title and neighbours.

    Shapes:
        idx: [..., F + L] long -> [..., out_dim]
    """

    def __init__(self, fields: FieldEmbedding, n_fields: int, terms: nn.Embedding | None = None,
                 n_terms: int = 0, id_dropout: float = 0.0) -> None:
        super().__init__()
        self.fields, self.n_fields, self.n_terms = fields, n_fields, n_terms if terms is not None else 0
        self.id_dropout = id_dropout
        self._terms = [terms] if terms is not None and n_terms else []  # held by the QueryEmbedding
        self.out_dim = fields.out_dim + (terms.embedding_dim if self._terms else 0)

    def drop_ids(self, idx: Tensor) -> Tensor:
        """``idx`` with each row's id (column 0) set to OOV with probability ``id_dropout`` (training only)."""
        if not (self.training and self.id_dropout > 0):
            return idx
        drop = torch.rand(idx.shape[:-1], device=idx.device) < self.id_dropout
        return torch.cat([idx[..., :1].masked_fill(drop.unsqueeze(-1), 0), idx[..., 1:]], -1)

    def forward(self, idx: Tensor) -> Tensor:
        e = self.fields(self.drop_ids(idx[..., : self.n_fields]))
        if not self._terms:
            return e
        return torch.cat([e, mean_terms(self._terms[0], idx[..., self.n_fields:])], -1)


class QueryEncoder(nn.Module):
    """The target query of a sample: e_q = sum of its terms (eq. 3), plus, where the sample has them, the mean of
    its trigger item's title terms (similar-product search: the trigger item is the query) and its visual
    embedding through a linear map (a visual query). The paper's queries are text only; the two additions give
    the other search scenarios' queries content instead of the empty query (issue 31).

    Shapes:
        batch -> [B, d]; terms(tokens [..., L]) -> [..., d] (the edge queries of a sampled graph)
    """

    def __init__(self, query_emb: QueryEmbedding, visual_dim: int = 0) -> None:
        super().__init__()
        self.query_emb = query_emb
        self.dim = query_emb.dim
        self.visual = nn.Linear(visual_dim, self.dim, bias=False) if visual_dim else None

    def terms(self, tokens: Tensor) -> Tensor:
        """e_q of term ids alone (eq. 3): the edge queries of a sampled graph."""
        return self.query_emb(tokens)

    def forward(self, batch: Batch) -> Tensor:
        qt = batch.sequences.get("query_tokens")
        tokens = qt[0] if qt is not None else batch.sparse.new_zeros((len(batch), 1))
        e_q = self.query_emb(tokens)
        trig = batch.sequences.get("trigger.title_tokens")
        if trig is not None:
            e_q = e_q + mean_terms(self.query_emb.terms, trig[0])
        emb = batch.vectors.get("query.emb")
        if self.visual is not None and emb is not None:
            e_q = e_q + self.visual(emb)
        return e_q


def entity_encoders(schema: FeatureSchema, sparse: bool,
                    id_dropout: float = 0.0) -> tuple[NodeEmbedding, NodeEmbedding, QueryEncoder]:
    """The user and item node embeddings and the query encoder of the graph models (SRJGraph, its GNN
    baselines), on the node rows ``SRJGraphHook`` gives; item title terms and queries share one term table.
    ``id_dropout``: the node embeddings' (``NodeEmbedding``).

    Shapes:
        schema -> (user NodeEmbedding, item NodeEmbedding, QueryEncoder)
    """
    fields = entity_fields(schema)
    qf = schema.sequence("query_tokens")
    query = QueryEmbedding(qf.vocab_size if qf else 2, qf.embed_dim if qf else fields["user"][1][0], sparse)
    if qf is not None and schema.item_node_terms():
        title = schema.sequence("item.title_tokens")
        if title is not None and title.vocab_size > query.terms.num_embeddings:
            raise ValueError(f"item.title_tokens has {title.vocab_size} ids, the shared term table "
                             f"{query.terms.num_embeddings}")
    for table, name in (("users", "user_id"), ("items", "item_id")):
        if id_dropout and [f.name for f in schema.sparse if f.table == table][:1] != [name]:
            raise ValueError(f"id_dropout needs {name} as the first field of {table}")
    users = NodeEmbedding(FieldEmbedding(*fields["user"], sparse), len(fields["user"][0]), id_dropout=id_dropout)
    items = NodeEmbedding(FieldEmbedding(*fields["item"], sparse), len(fields["item"][0]), query.terms,
                          schema.item_node_terms(), id_dropout=id_dropout)
    visual = next((v.dim for v in schema.vectors if v.name == "query.emb"), 0)
    return users, items, QueryEncoder(query, visual)
