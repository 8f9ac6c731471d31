"""NFM (He & Chua, "Neural Factorization Machines for Sparse Predictive Analytics", SIGIR'17).

y(x) = w_0 + sum_i w_i x_i + h^T MLP(f_BI(V_x)) with the bi-interaction pooling
f_BI(V_x) = 1/2 [(sum_i v_i)^2 - sum_i v_i^2] (paper eq. 4) over the field embeddings of ``FieldStack``
(user, item, query = sum-pooled terms, scenario). A baseline of SRJGraph (WSDM'22, sec. 5.2).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.registry import FieldRankerConfig, register_model
from unisr.nn.embedding import embedding_rows, sparse_gradients
from unisr.nn.fields import FieldStack, FirstOrder, default_dim
from unisr.nn.mlp import MLP


class NFMConfig(FieldRankerConfig):
    dim: int | None = None  # None = the schema's embedding size (16 on the simulated data)
    hidden: list[int] = [64]  # the paper's best: one hidden layer
    dropout: float = 0.0  # dropout on the bi-interaction vector and hidden layers
    bi_batch_norm: bool = True  # paper sec. 3.3: batch norm on the bi-interaction output


def bi_interaction(v: Tensor) -> Tensor:
    """f_BI: sum over field pairs of v_i * v_j, in linear time (NFM eq. 4).

    Shapes:
        v: [B, F, d] -> [B, d]
    """
    s = v.sum(1)
    return 0.5 * (s * s - (v * v).sum(1))


@register_model("nfm", config=NFMConfig, paper="He & Chua, Neural Factorization Machines, SIGIR'17",
                needs=("sparse", "dense", "scenario", "query_tokens"))
class NFM(nn.Module):
    """Neural FM: bi-interaction pooling of the field embeddings, an MLP on top, plus the linear FM part.

    Shapes:
        batch -> {"click": [B] logits}
    """

    def __init__(self, fields: FieldStack, first_order: FirstOrder, hidden: list[int], *, dropout: float = 0.0,
                 bi_batch_norm: bool = True) -> None:
        super().__init__()
        self.fields, self.first_order = fields, first_order
        self.bi_norm = nn.BatchNorm1d(fields.dim) if bi_batch_norm else nn.Identity()
        self.bi_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.mlp = MLP(fields.dim + fields.match_dim, hidden, 1, dropout=dropout)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: NFMConfig) -> NFM:
        sparse = sparse_gradients(embedding_rows(schema), cfg.sparse_grad)
        fields = FieldStack(schema, cfg.dim or default_dim(schema), sparse_grad=sparse, match=cfg.match_spec(), id_dropout=cfg.id_dropout)
        return cls(fields, FirstOrder(schema, sparse_grad=sparse, id_dropout=cfg.id_dropout), cfg.hidden, dropout=cfg.dropout,
                   bi_batch_norm=cfg.bi_batch_norm)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        bi = self.bi_dropout(self.bi_norm(bi_interaction(self.fields(batch))))
        bi = torch.cat([bi, self.fields.match_features(batch)], 1)  # match features: only with ``match``
        return {"click": self.first_order(batch) + self.mlp(bi).squeeze(1)}
