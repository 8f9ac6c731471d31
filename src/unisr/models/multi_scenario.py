"""Multi-Scenario baseline of TreeMS's table 2 (Niu et al., WSDM'21, sec. 4.1.2): the DNN baseline with one
fully connected scenario-dependent layer before the shared prediction layer."""

from __future__ import annotations

from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.graph_configs import SHARE_DEFAULTS, SHARE_NEEDS, ShareConfig
from unisr.models.registry import register_model
from unisr.nn.mlp import MLP
from unisr.nn.routing import ScenarioGroups
from unisr.nn.social import ShareInput, SocialSampling, init_relu_stacks


@register_model("multi_scenario", config=ShareConfig, needs=SHARE_NEEDS,
                defaults=SHARE_DEFAULTS,
                paper="Multi-Scenario baseline of Niu et al., TreeMS, WSDM'21 (DNN + a scenario-dependent layer)")
class MultiScenario(SocialSampling, nn.Module):
    """Sharing recommendation: shared MLP, then a per-scenario FC layer (routed), then a shared prediction layer.

    Shapes:
        batch (with a ``SocialSubgraph``, ``graph:social``) -> {"click": [B] logits}
    """

    def __init__(self, inp: ShareInput, num_scenarios: int, hidden: list[int], dropout: float = 0.0) -> None:
        super().__init__()
        self.input = inp
        self.mlp = MLP(inp.x_dim, hidden, dropout=dropout)
        d = self.mlp.out_dim
        self.scenario_layers = nn.ModuleList(nn.Linear(d, d) for _ in range(num_scenarios))
        self.act = nn.ReLU()
        self.predict = nn.Linear(d, 1)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: ShareConfig) -> MultiScenario:
        model = cls(ShareInput.from_config(schema, cfg), schema.num_scenarios, cfg.hidden, cfg.dropout)
        return init_relu_stacks(model, cfg.init)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        h = self.mlp(self.input(batch, type(self).__name__).x())
        h = ScenarioGroups(batch.scenario_id).apply(h, lambda s, hs: self.act(self.scenario_layers[s](hs)))
        return {"click": self.predict(h).squeeze(1)}
