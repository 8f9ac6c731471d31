"""Embedding of sparse fields (one table with per-field offsets) and concatenation with dense fields."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.nn.content import SequenceTables, VectorProjections
from unisr.nn.match import MatchSpec, QueryItemMatch, match_spec

# The one automatic dense-vs-sparse threshold of every model (``sparse_gradients``). Measured by
# benchmarks/sparse_threshold.py (results: benchmarks/results/sparse_threshold.json; training step samples/s,
# Adam vs sparse gradients + SparseAdam, the small simulation's fields, batch 1024, 1 thread, 2-core box under
# load ~2.4): sparse overtakes dense at ~46k embedding rows for DNN (an MLP on the concatenated embeddings, as
# STAR, MMoE, PLE, USR) and ~104k for NFM (a light model on top of two tables per field); one threshold for
# both is their geometric mean, 70k (repeat runs: DNN 34k-51k, NFM 61k-104k). Off the crossover the choice
# matters: sparse is 0.7-0.85x dense at 10^4 rows, 2-2.8x at 2.3x10^5 (the small simulation), 10x at 10^6, 26x at
# 3x10^6 (the earlier measurement agrees: dense 14-20% faster at MovieLens' 13k rows, benchmarks/train_throughput.py).
SPARSE_AUTO_ROWS = 70_000
ID_FIELDS = ("user_id", "item_id")  # the fields ``id_dropout`` acts on
ID_DROPOUT = 0.0  # the default ``FeatureEmbedding(id_dropout=...)`` (benchmarks/cold_start.py measures it)


def embedding_rows(schema: FeatureSchema) -> int:
    """Rows of every embedding table a schema asks for (categorical fields and sequence tables; fields that share
    a table count once)."""
    tables: dict[str, int] = {}
    for f in schema.sequences:
        tables[f.table_key] = max(tables.get(f.table_key, 0), f.vocab_size)
    return sum(f.vocab_size for f in schema.sparse) + sum(tables.values())


def sparse_gradients(rows: int, override: bool | None = None) -> bool:
    """The one dense-vs-sparse embedding-gradient rule: ``override`` if given (``model.sparse_grad``), else
    sparse gradients from ``SPARSE_AUTO_ROWS`` embedding rows on."""
    return bool(override) if override is not None else rows >= SPARSE_AUTO_ROWS


class FeatureEmbedding(nn.Module):
    """All sparse fields in one ``nn.Embedding`` (one lookup per batch); ``sparse=True`` gives sparse gradients.

    Fields may declare their own dimension; fields are grouped into one table per distinct dimension.
    Sequence fields (item title tokens, category path, query tokens, the query's category, the trigger item's
    title and path) are mean-pooled over their non-padding ids, with one table per vocabulary
    (``nn.content.SequenceTables``: query and title terms share one); vector fields (item image, trigger image,
    visual query) are projected, one matrix per space (``nn.content.VectorProjections``). With ``match`` the
    query-item match features of ``nn.match.QueryItemMatch`` follow (the model's config ``match``).

    ``id_dropout`` (DropoutNet, Volkovs et al., NeurIPS'17): in training, each sample's ``user_id`` / ``item_id``
    index is replaced by the OOV row 0 with this probability, so row 0 learns "an id the model does not know"
    over ordinary ids (not only over the rare tail) and the layers above learn to score from the content fields
    alone: the situation of a new item or user at test time (``FeatureEncoder.fit(id_vocab="train")`` maps ids
    unseen in training to row 0). Evaluation never drops.

    Shapes:
        batch.sparse: [B, F] long; batch.dense: [B, D]; batch.sequences[name]: ([B, L] long, [B, L] bool)
        fields(batch): [B, F, d] (when all fields share d)
        forward(batch): [B, sum(d_f) + sum(d_seq) + D + sum(d_vec)]
    """

    def __init__(self, schema: FeatureSchema, *, sparse_grad: bool | None = True, include_dense: bool = True,
                 include_sequences: bool = True, include_vectors: bool = True, init_std: float = 1e-4,
                 id_dropout: float | None = None, match: bool | MatchSpec = False) -> None:
        super().__init__()
        self.id_dropout = ID_DROPOUT if id_dropout is None else id_dropout
        self.id_cols = [i for i, f in enumerate(schema.sparse) if f.name in ID_FIELDS]
        sparse_grad = sparse_gradients(embedding_rows(schema), sparse_grad)  # None = decide by table size
        self.sparse_grad = sparse_grad
        seqs = schema.sequences if include_sequences else []
        self.seq_names = [f.name for f in seqs]
        self.seq = SequenceTables(seqs, sparse=sparse_grad, init_std=init_std)
        self.vectors = VectorProjections(schema.vectors if include_vectors else [])
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
        self.field_names = [f.name for f in schema.sparse]
        self.seq_dim = sum(self.seq.dim(n) for n in self.seq_names)
        # query-item match features on the shared tables (nn/match.py), for models that take them (``match``)
        spec = match_spec(match)
        self.match = (QueryItemMatch(schema, self.seq, self.vectors, positions=spec.positions,
                                     raw_cosine=spec.raw_cosine) if spec is not None else None)
        self.match_dim = self.match.out_dim if self.match is not None else 0
        self.out_dim = sum(self.field_dims) + self.seq_dim + self.num_dense + self.vectors.out_dim + self.match_dim

    def drop_ids(self, sparse: Tensor) -> Tensor:
        """``sparse`` with each id field of each sample set to OOV with probability ``id_dropout`` (training)."""
        if not (self.training and self.id_dropout > 0 and self.id_cols):
            return sparse
        cols = torch.tensor(self.id_cols, device=sparse.device)
        drop = torch.rand(sparse.shape[0], len(self.id_cols), device=sparse.device) < self.id_dropout
        out = sparse.clone()
        out[:, cols] = sparse[:, cols].masked_fill(drop, 0)
        return out

    def fields(self, sparse: Tensor) -> list[Tensor]:
        """Per dimension group: [B, F_g, d_g]."""
        sparse = self.drop_ids(sparse)
        out = []
        for g, emb in enumerate(self.groups):
            idx = sparse[:, self.group_fields[g]] + getattr(self, f"offsets_{g}")
            out.append(emb(idx))
        return out

    def forward(self, batch: Batch) -> Tensor:
        parts = [e.flatten(1) for e in self.fields(batch.sparse)]
        parts += self.seq.pooled(batch, self.seq_names)
        if self.include_dense and self.num_dense:
            parts.append(batch.dense)
        parts += self.vectors(batch)
        if self.match is not None:
            parts.append(self.match(batch))
        return torch.cat(parts, dim=1)
