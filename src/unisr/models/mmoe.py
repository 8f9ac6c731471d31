"""MMoE with scenarios as tasks (Ma et al., KDD'18): shared experts, a gate and a tower per scenario."""

from __future__ import annotations

from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.backbone import BackboneInput
from unisr.models.registry import FieldRankerConfig, register_model
from unisr.nn.embedding import FeatureEmbedding
from unisr.nn.experts import Experts, mix
from unisr.nn.routing import ScenarioGroups
from unisr.nn.towers import ScenarioTowers


class MMoEConfig(FieldRankerConfig):
    num_experts: int = 3  # Scenario-Wise Rec MovieLens: n_expert = number of scenarios (3)
    expert: list[int] = [16]
    tower: list[int] = [8]
    dropout: float = 0.0


@register_model("mmoe", config=MMoEConfig, paper="Ma et al., Multi-gate Mixture-of-Experts, KDD'18")
class MMoE(nn.Module):
    """Shared experts; each scenario has its own softmax gate and tower, run on that scenario's samples only.

    Shapes:
        batch -> {"click": [B] logits}
    """

    def __init__(self, embedding: FeatureEmbedding | None, num_scenarios: int, num_experts: int, expert: list[int],
                 tower: list[int], *, dropout: float = 0.0, in_dim: int | None = None) -> None:
        super().__init__()
        self.embedding = embedding  # None: a core on prepared inputs (``forward_input``, ``in_dim`` wide)
        d = embedding.out_dim if embedding is not None else in_dim
        self.experts = Experts(num_experts, d, expert, dropout)
        self.gates = nn.ModuleList(nn.Linear(d, num_experts) for _ in range(num_scenarios))
        self.towers = ScenarioTowers(num_scenarios, self.experts.out_dim, tower, 1, dropout=dropout)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: MMoEConfig) -> MMoE:
        return cls(FeatureEmbedding(schema, sparse_grad=cfg.sparse_grad, match=cfg.match_spec(),
                                    id_dropout=cfg.id_dropout), schema.num_scenarios,
                   cfg.num_experts, cfg.expert, cfg.tower, dropout=cfg.dropout)

    @classmethod
    def as_backbone(cls, cfg: MMoEConfig, inp: BackboneInput) -> MMoE:
        return cls(None, inp.num_scenarios, cfg.num_experts, cfg.expert, cfg.tower, dropout=cfg.dropout,
                   in_dim=inp.in_dim)

    def forward_input(self, x: Tensor, scenario_id: Tensor) -> Tensor:
        """Logits [B] of a prepared input x [B, in_dim]."""
        e = self.experts(x)
        groups = ScenarioGroups(scenario_id)
        h = groups.apply((x, e), lambda s, xe: mix(self.gates[s](xe[0]), xe[1]))
        return self.towers(h, groups).squeeze(1)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        return {"click": self.forward_input(self.embedding(batch), batch.scenario_id)}
