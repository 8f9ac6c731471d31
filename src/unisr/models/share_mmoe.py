"""MMoE baseline of TreeMS's table 2 (Ma et al., KDD'18, as used by Niu et al., WSDM'21): shared experts on the
eq. 3 input, every sharing scenario a task with its own softmax gate and tower."""

from __future__ import annotations

from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.graph_configs import SHARE_DEFAULTS, SHARE_NEEDS, ShareConfig
from unisr.models.registry import register_model
from unisr.nn.experts import Experts, mix
from unisr.nn.routing import ScenarioGroups
from unisr.nn.social import ShareInput, SocialSampling, init_relu_stacks
from unisr.nn.towers import ScenarioTowers


class ShareMMoEConfig(ShareConfig):
    num_experts: int = 8  # as TreeMS (sec. 4.4.1)
    expert: list[int] = [256, 128]
    tower: list[int] = [64]


@register_model("share_mmoe", config=ShareMMoEConfig, needs=SHARE_NEEDS,
                defaults=SHARE_DEFAULTS,
                paper="Ma et al., Multi-gate Mixture-of-Experts, KDD'18 (TreeMS's MMoE baseline, scenario = task)")
class ShareMMoE(SocialSampling, nn.Module):
    """Sharing recommendation: shared experts, a gate and a tower per scenario, routed to its samples only.

    Shapes:
        batch (with a ``SocialSubgraph``, ``graph:social``) -> {"click": [B] logits}
        scenario_representations() -> [S, scenario_dim] (the learned scenario context c, fig. 9a)
    """

    def __init__(self, inp: ShareInput, num_scenarios: int, num_experts: int, expert: list[int], tower: list[int],
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.input = inp
        d = inp.x_dim
        self.experts = Experts(num_experts, d, expert, dropout)
        self.gates = nn.ModuleList(nn.Linear(d, num_experts) for _ in range(num_scenarios))
        self.towers = ScenarioTowers(num_scenarios, self.experts.out_dim, tower, 1, dropout=dropout)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: ShareMMoEConfig) -> ShareMMoE:
        model = cls(ShareInput.from_config(schema, cfg), schema.num_scenarios, cfg.num_experts, cfg.expert,
                    cfg.tower, cfg.dropout)
        return init_relu_stacks(model, cfg.init)

    def scenario_representations(self) -> Tensor:
        return self.input.scenario_emb.weight.detach()

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        x = self.input(batch, type(self).__name__).x()
        e = self.experts(x)
        groups = ScenarioGroups(batch.scenario_id)
        h = groups.apply((x, e), lambda s, xe: mix(self.gates[s](xe[0]), xe[1]))
        return {"click": self.towers(h, groups).squeeze(1)}
