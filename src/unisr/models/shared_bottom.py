"""SharedBottom: a shared bottom network and one tower per scenario (Caruana, 1997)."""

from __future__ import annotations

from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.backbone import BackboneInput
from unisr.models.registry import FieldRankerConfig, register_model
from unisr.nn.embedding import FeatureEmbedding
from unisr.nn.mlp import MLP
from unisr.nn.routing import ScenarioGroups
from unisr.nn.towers import ScenarioTowers


class SharedBottomConfig(FieldRankerConfig):
    bottom: list[int] = [128]  # Scenario-Wise Rec MovieLens setting
    tower: list[int] = [8]
    dropout: float = 0.0
    batch_norm: bool = False


@register_model("shared_bottom", config=SharedBottomConfig, paper="Caruana, Machine Learning 1997")
class SharedBottom(nn.Module):
    """Shared bottom MLP; each scenario's samples go through that scenario's tower only.

    Shapes:
        batch -> {"click": [B] logits}
    """

    def __init__(self, embedding: FeatureEmbedding | None, num_scenarios: int, bottom: list[int], tower: list[int], *,
                 dropout: float = 0.0, batch_norm: bool = False, in_dim: int | None = None) -> None:
        super().__init__()
        self.embedding = embedding  # None: a core on prepared inputs (``forward_input``, ``in_dim`` wide)
        d = embedding.out_dim if embedding is not None else in_dim
        self.bottom = MLP(d, bottom, dropout=dropout, batch_norm=batch_norm)
        self.towers = ScenarioTowers(num_scenarios, self.bottom.out_dim, tower, 1, dropout=dropout)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: SharedBottomConfig) -> SharedBottom:
        return cls(FeatureEmbedding(schema, sparse_grad=cfg.sparse_grad, match=cfg.match_spec(),
                                    id_dropout=cfg.id_dropout), schema.num_scenarios, cfg.bottom,
                   cfg.tower, dropout=cfg.dropout, batch_norm=cfg.batch_norm)

    @classmethod
    def as_backbone(cls, cfg: SharedBottomConfig, inp: BackboneInput) -> SharedBottom:
        return cls(None, inp.num_scenarios, cfg.bottom, cfg.tower, dropout=cfg.dropout, batch_norm=cfg.batch_norm,
                   in_dim=inp.in_dim)

    def forward_input(self, x: Tensor, scenario_id: Tensor) -> Tensor:
        """Logits [B] of a prepared input x [B, in_dim]."""
        return self.towers(self.bottom(x), ScenarioGroups(scenario_id)).squeeze(1)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        return {"click": self.forward_input(self.embedding(batch), batch.scenario_id)}
