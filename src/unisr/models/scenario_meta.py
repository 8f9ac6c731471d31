"""ScenarioMeta baseline of TreeMS's table 2 (after Du et al., "Sequential Scenario-Specific Meta Learner for
Online Recommendation", KDD'19): a meta network turns the scenario representation into the parameters of a
scenario-specific layer.

Simplified (docs/models/baselines_treems.md): s^2Meta meta-learns an initialisation, per-scenario update rules and
early stopping, and fine-tunes on each scenario's support set. Here one hyper-network generates, from the learned
scenario embedding, a low-rank scenario-specific layer W_s = U_s V_s (+ b_s) applied on top of a shared MLP;
everything is trained end to end with the click loss, no inner loop.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.graph_configs import SHARE_DEFAULTS, SHARE_NEEDS, ShareConfig
from unisr.models.registry import register_model
from unisr.nn.mlp import MLP
from unisr.nn.routing import ScenarioGroups
from unisr.nn.social import ShareInput, SocialSampling, init_relu_stacks


class ScenarioMetaConfig(ShareConfig):
    rank: int = 8  # rank of the generated layer
    meta_hidden: list[int] = [64]


@register_model("scenario_meta", config=ScenarioMetaConfig, needs=SHARE_NEEDS,
                defaults=SHARE_DEFAULTS,
                paper="Du et al., Sequential Scenario-Specific Meta Learner, KDD'19 (TreeMS's ScenarioMeta baseline)")
class ScenarioMeta(SocialSampling, nn.Module):
    """Sharing recommendation: shared MLP, then a layer whose parameters a meta network generates per scenario.

    Shapes:
        batch (with a ``SocialSubgraph``, ``graph:social``) -> {"click": [B] logits}
        scenario_params(s): U [d, r], V [r, d], b [d]
    """

    def __init__(self, inp: ShareInput, hidden: list[int], rank: int, meta_hidden: list[int],
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.input = inp
        self.mlp = MLP(inp.x_dim, hidden, dropout=dropout)
        d = self.d = self.mlp.out_dim
        self.rank = rank
        self.meta = MLP(inp.scenario_emb.embedding_dim, meta_hidden, 2 * d * rank + d)
        self.predict = nn.Linear(d, 1)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: ScenarioMetaConfig) -> ScenarioMeta:
        model = cls(ShareInput.from_config(schema, cfg), cfg.hidden, cfg.rank, cfg.meta_hidden, cfg.dropout)
        return init_relu_stacks(model, cfg.init)

    def scenario_params(self, s: int) -> tuple[Tensor, Tensor, Tensor]:
        p = self.meta(self.input.scenario_emb.weight[s])
        d, r = self.d, self.rank
        return p[: d * r].view(d, r), p[d * r: 2 * d * r].view(r, d), p[2 * d * r:]

    def _layer(self, s: int, h: Tensor) -> Tensor:
        u, v, b = self.scenario_params(s)
        return torch.relu(h + (h @ u) @ v / self.rank ** 0.5 + b)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        h = self.mlp(self.input(batch, type(self).__name__).x())
        h = ScenarioGroups(batch.scenario_id).apply(h, self._layer)
        return {"click": self.predict(h).squeeze(1)}
