"""TEM: the transformer-based behaviour-sequence baseline of SRJGraph (WSDM'22, sec. 5.2, reference [4]:
Bi, Ai & Croft, "A Transformer-based Embedding Model for Personalized Product Search", SIGIR'20).

The SRJGraph paper: "This model utilizes a transformer-based layer and takes the representations of search
queries and items in the user behavior history as the inputs, to mine the user's preferences and search
intents." TEM encodes the sequence [query, h_1, ..., h_L] with a transformer encoder; the output at the query
position is the personalised query representation M_qu, which TEM scores against the item by a dot product.

Here (a CTR model trained point-wise with BCE, as every baseline of the SRJGraph paper):
- query e_q: sum of the term embeddings; recommendation samples carry the empty query (a reserved term);
- behaviours h_j: the user's last ``data.history_len`` (paper: 25) clicks strictly before the impression, each an
  item-id embedding plus its click scenario's embedding (``data.history_scenarios`` restricts them);
- a learned position embedding per slot (the query slot first), key padding for absent behaviours;
- the item e_t: its id embedding plus the mean of its content fields (title terms, category path) from the
  shared tables (inputs version 2), so TEM's query-item product compares the query with the item's content;
- prediction: MLP over [every field embedding || e_t || M_qu || M_qu * e_t] (the last term is TEM's dot-product
  score kept as a feature vector), with ``model.match`` also the match features of nn/match.py.

Not to be confused with the Tree-enhanced Embedding Model (Wang et al., WWW'18), which also abbreviates to TEM:
the SRJGraph paper cites and describes the transformer model (see docs/models/baselines_srjgraph.md).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.registry import FieldRankerConfig, register_model
from unisr.nn.behaviour import BehaviourEmbedding
from unisr.nn.embedding import embedding_rows, sparse_gradients
from unisr.nn.fields import FieldStack, default_dim
from unisr.nn.mlp import MLP


class TEMConfig(FieldRankerConfig):
    dim: int | None = None  # None = the schema's embedding size (16 on the simulated data)
    layers: int = 1  # TEM's best setting in Bi et al. is a single layer
    heads: int = 2
    ffn_dim: int = 64
    max_len: int = 64  # position embeddings for up to max_len - 1 behaviours
    history_scenario: bool = True
    mlp: list[int] = [200, 80]
    dropout: float = 0.0


@register_model("tem", config=TEMConfig,
                paper="Bi, Ai & Croft, A Transformer-based Embedding Model for Personalized Product Search, "
                      "SIGIR'20 (as adapted to CTR in SRJGraph, WSDM'22)",
                needs=("sparse", "dense", "scenario", "query_tokens", "history"),
                defaults={"data": {"history_len": 25}})
class TEM(nn.Module):
    """Transformer encoder over [query, past clicks]; the query slot's output personalises the query.

    Shapes:
        batch (with ``sequences["history"]``) -> {"click": [B] logits}
    """

    def __init__(self, fields: FieldStack, behaviours: BehaviourEmbedding, mlp: list[int], *, layers: int = 1,
                 heads: int = 2, ffn_dim: int = 64, max_len: int = 64, dropout: float = 0.0) -> None:
        super().__init__()
        d = fields.dim
        self.fields, self.behaviours = fields, behaviours
        self.pos = nn.Parameter(torch.randn(max_len, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, heads, ffn_dim, dropout=dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.mlp = MLP(fields.num_fields * d + 3 * d + fields.match_dim, mlp, 1, dropout=dropout)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: TEMConfig) -> TEM:
        sparse = sparse_gradients(embedding_rows(schema) + schema.num_items + 1, cfg.sparse_grad)
        dim = cfg.dim or default_dim(schema)
        return cls(FieldStack(schema, dim, sparse_grad=sparse, match=cfg.match_spec(), id_dropout=cfg.id_dropout),
                   BehaviourEmbedding(schema.num_items, schema.num_scenarios, dim, sparse_grad=sparse,
                                      scenario=cfg.history_scenario),
                   cfg.mlp, layers=cfg.layers, heads=cfg.heads, ffn_dim=cfg.ffn_dim, max_len=cfg.max_len,
                   dropout=cfg.dropout)

    def personalised_query(self, batch: Batch, e_q: Tensor) -> Tensor:
        """M_qu: the encoder's output at the query slot of [e_q, h_1..h_L]. Shapes: e_q [B, d] -> [B, d]."""
        h, mask = self.behaviours.history(batch)
        if h.shape[1] + 1 > self.pos.shape[0]:
            raise ValueError(f"history of {h.shape[1]} clicks exceeds model.max_len - 1 = {self.pos.shape[0] - 1}")
        seq = torch.cat([e_q.unsqueeze(1), h], 1) + self.pos[: h.shape[1] + 1]
        present = torch.cat([torch.ones_like(mask[:, :1]), mask], 1)
        return self.encoder(seq, src_key_padding_mask=~present)[:, 0]

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        x = self.fields(batch)
        e_t = self.behaviours.target(batch) + self.fields.item_content(x)  # the item: its id and its content
        m_qu = self.personalised_query(batch, self.fields.query_of(x, batch))
        z = torch.cat([x.flatten(1), e_t, m_qu, m_qu * e_t, self.fields.match_features(batch)], 1)
        return {"click": self.mlp(z).squeeze(1)}
