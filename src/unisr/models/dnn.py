"""DNN: one MLP for all scenarios, the scenario id as an input feature."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.registry import FieldRankerConfig, register_model
from unisr.nn.embedding import FeatureEmbedding
from unisr.nn.mlp import MLP


class DNNConfig(FieldRankerConfig):
    hidden: list[int] = [256, 128, 64]
    dropout: float = 0.0
    batch_norm: bool = False
    scenario_embed_dim: int = 16  # 0 = no scenario feature


@register_model("dnn", config=DNNConfig, paper="Covington et al., RecSys'16 (the plain deep CTR baseline)")
class DNN(nn.Module):
    """Embedding + MLP shared by every scenario; the scenario id is one more embedded feature.

    Shapes:
        batch -> {"click": [B] logits}
    """

    def __init__(self, embedding: FeatureEmbedding, num_scenarios: int, hidden: list[int], *,
                 dropout: float = 0.0, batch_norm: bool = False, scenario_embed_dim: int = 16) -> None:
        super().__init__()
        self.embedding = embedding
        self.scenario_emb = nn.Embedding(num_scenarios, scenario_embed_dim) if scenario_embed_dim else None
        self.mlp = MLP(embedding.out_dim + scenario_embed_dim, hidden, 1, dropout=dropout, batch_norm=batch_norm)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: DNNConfig) -> DNN:
        return cls(FeatureEmbedding(schema, sparse_grad=cfg.sparse_grad, match=cfg.match_spec(),
                                    id_dropout=cfg.id_dropout), schema.num_scenarios, cfg.hidden,
                   dropout=cfg.dropout, batch_norm=cfg.batch_norm, scenario_embed_dim=cfg.scenario_embed_dim)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        x = self.embedding(batch)
        if self.scenario_emb is not None:
            x = torch.cat([x, self.scenario_emb(batch.scenario_id)], dim=1)
        return {"click": self.mlp(x).squeeze(1)}
