"""EPNet: the Embedding Personalized Network of PEPNet (Chang et al., KDD'23), as Scenario-Wise Rec ships it."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.registry import FieldRankerConfig, register_model
from unisr.nn.embedding import FeatureEmbedding
from unisr.nn.gate_nu import GateNU
from unisr.nn.mlp import MLP


class EPNetConfig(FieldRankerConfig):
    # Scenario-Wise Rec's MovieLens script: fcn_dims [128, 64, 32], the scenario embedding 16 as the domain-side
    # input, the other fields + age as the general input; its MLP has BatchNorm after every linear layer
    hidden: list[int] = [128, 64, 32]
    scenario_embed_dim: int = 16
    gamma: float = 2.0  # the Gate NU's scale (PEPNet eq. 2; Scenario-Wise Rec GateNU's gemma)
    batch_norm: bool = True
    dropout: float = 0.0


@register_model("epnet", config=EPNetConfig,
                paper="Chang et al., PEPNet: Parameter and Embedding Personalized Network, KDD'23 (EPNet part)")
class EPNet(nn.Module):
    """The general embedding scaled by a gate of the scenario embedding and the (stop-gradient) general embedding.

    ``δ = GateNU([e_s ‖ ⊘(E)])``, ``O = δ ⊙ E``, logit ``= MLP(O)`` (PEPNet eq. 3-4): the scenario changes the
    prediction only through its embedding in the gate (no per-scenario weights to route).

    Shapes:
        batch -> {"click": [B] logits}; gate(batch): [B, embedding.out_dim] in (0, gamma)
    """

    def __init__(self, embedding: FeatureEmbedding, num_scenarios: int, hidden: list[int], *,
                 scenario_embed_dim: int = 16, gamma: float = 2.0, batch_norm: bool = True,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding = embedding
        self.scenario_emb = nn.Embedding(num_scenarios, scenario_embed_dim)
        nn.init.normal_(self.scenario_emb.weight, std=1e-4)  # Scenario-Wise Rec's RandomNormal(0, 1e-4)
        d = embedding.out_dim
        self.gate_nu = GateNU(scenario_embed_dim + d, d, gamma=gamma)
        self.mlp = MLP(d, hidden, 1, batch_norm=batch_norm, dropout=dropout)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: EPNetConfig) -> EPNet:
        return cls(FeatureEmbedding(schema, sparse_grad=cfg.sparse_grad, match=cfg.match_spec(),
                                    id_dropout=cfg.id_dropout), schema.num_scenarios, cfg.hidden,
                   scenario_embed_dim=cfg.scenario_embed_dim, gamma=cfg.gamma, batch_norm=cfg.batch_norm,
                   dropout=cfg.dropout)

    def gate(self, e: Tensor, scenario_id: Tensor) -> Tensor:
        """δ [B, D] of the general embedding e [B, D]; the gradient reaches e only through the product."""
        return self.gate_nu(torch.cat([self.scenario_emb(scenario_id), e.detach()], 1))

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        e = self.embedding(batch)
        return {"click": self.mlp(e * self.gate(e, batch.scenario_id)).squeeze(1)}
