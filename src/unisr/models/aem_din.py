"""AEM+DIN: the behaviour-sequence baseline of SRJGraph (WSDM'22, sec. 5.2), combining
AEM (Ai et al., "A Zero Attention Model for Personalized Product Search", CIKM'19: the user is an attention
over her past items conditioned on the search query) and DIN (Zhou et al., "Deep Interest Network for
Click-Through Rate Prediction", KDD'18: a local activation unit between each past behaviour and the target item).
As the SRJGraph paper describes it: "We concatenate the representation of the search query and the target
item as the query of the attention operation".

- query e_q: sum of the query's term embeddings; recommendation samples carry the empty query (a reserved term,
  as SRJGraph eq. 3);
- behaviours h_j: the user's last ``data.history_len`` (paper: 25) clicks strictly before the impression, each an
  item-id embedding plus the embedding of the scenario it was clicked in (``data.history_scenarios`` restricts
  them: the single-scenario form uses its own scenario's clicks, the joint form both);
- attention query a = W_a [e_q || e_t] (e_t the target item's id embedding);
- DIN activation unit w_j = MLP([h_j, a, h_j * a, h_j - a]) (no softmax, as DIN; ``softmax=True`` normalises over
  the behaviours as AEM does); the interest vector u = sum_j w_j h_j over present behaviours;
- prediction: MLP over [every field embedding || e_t || u] (DIN's [200, 80]), point-wise BCE outside the model.
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


class AEMDINConfig(FieldRankerConfig):
    dim: int | None = None  # None = the schema's embedding size (16 on the simulated data)
    attention_hidden: list[int] = [80, 40]  # DIN's activation unit
    softmax: bool = False  # False = DIN (unnormalised weights); True = AEM (softmax over the behaviours)
    history_scenario: bool = True  # add the embedding of the behaviour's scenario to each behaviour
    mlp: list[int] = [200, 80]  # DIN's prediction MLP
    dropout: float = 0.0


class TargetAttention(nn.Module):
    """DIN's local activation unit over the behaviours, with an arbitrary attention query vector.

    Shapes:
        h: [B, L, d], mask: [B, L] bool, a: [B, d] -> (u [B, d], weights [B, L])
    """

    def __init__(self, dim: int, hidden: list[int], softmax: bool = False) -> None:
        super().__init__()
        self.unit = MLP(4 * dim, hidden, 1, activation="prelu")
        self.softmax = softmax

    def forward(self, h: Tensor, mask: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
        a = a.unsqueeze(1).expand_as(h)
        score = self.unit(torch.cat([h, a, h * a, h - a], -1)).squeeze(-1)  # [B, L]
        if self.softmax:
            w = torch.softmax(score.masked_fill(~mask, float("-inf")), 1)
            w = torch.nan_to_num(w, nan=0.0)  # a user without behaviours: every weight 0
        else:
            w = score * mask
        return (w.unsqueeze(2) * h).sum(1), w


@register_model("aem_din", config=AEMDINConfig,
                paper="Ai et al., A Zero Attention Model for Personalized Product Search (AEM), CIKM'19 + "
                      "Zhou et al., Deep Interest Network, KDD'18 (combined as in SRJGraph, WSDM'22)",
                needs=("sparse", "dense", "scenario", "query_tokens", "history"),
                defaults={"data": {"history_len": 25}})
class AEMDIN(nn.Module):
    """Target attention over the user's last clicks, the attention query being the search query + target item.

    Shapes:
        batch (with ``sequences["history"]``) -> {"click": [B] logits}
    """

    def __init__(self, fields: FieldStack, behaviours: BehaviourEmbedding, attention_hidden: list[int],
                 mlp: list[int], *, softmax: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        d = fields.dim
        self.fields, self.behaviours = fields, behaviours
        self.att_query = nn.Linear(2 * d, d)  # W_a on [e_q || e_t]
        self.attention = TargetAttention(d, attention_hidden, softmax)
        self.mlp = MLP(fields.num_fields * d + 2 * d + fields.match_dim, mlp, 1, activation="prelu", dropout=dropout)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: AEMDINConfig) -> AEMDIN:
        sparse = sparse_gradients(embedding_rows(schema) + schema.num_items + 1, cfg.sparse_grad)
        dim = cfg.dim or default_dim(schema)
        return cls(FieldStack(schema, dim, sparse_grad=sparse, match=cfg.match_spec(), id_dropout=cfg.id_dropout),
                   BehaviourEmbedding(schema.num_items, schema.num_scenarios, dim, sparse_grad=sparse,
                                      scenario=cfg.history_scenario),
                   cfg.attention_hidden, cfg.mlp, softmax=cfg.softmax, dropout=cfg.dropout)

    def interest(self, batch: Batch, e_q: Tensor, e_t: Tensor) -> tuple[Tensor, Tensor]:
        """(u [B, d], attention weights [B, L]) for the query e_q [B, d] and target item e_t [B, d]."""
        h, mask = self.behaviours.history(batch)
        return self.attention(h, mask, self.att_query(torch.cat([e_q, e_t], 1)))

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        x = self.fields(batch)
        e_q = self.fields.query_of(x, batch)
        e_t = self.behaviours.target(batch) + self.fields.item_content(x)  # the item: its id and its content
        u, _ = self.interest(batch, e_q, e_t)
        return {"click": self.mlp(torch.cat([x.flatten(1), e_t, u, self.fields.match_features(batch)], 1)).squeeze(1)}
