"""SAR-Net: a Scenario-Aware Ranking Network (Shen et al., CIKM'21), as Scenario-Wise Rec ships it."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.registry import FieldRankerConfig, register_model
from unisr.nn.embedding import FeatureEmbedding
from unisr.nn.mlp import MLP
from unisr.nn.routing import ScenarioGroups


class SARNetConfig(FieldRankerConfig):
    # Scenario-Wise Rec's MovieLens script: the sparse fields only (no age, no scenario embedding), 8 shared and
    # 2 scenario-specific experts of BatchNorm -> Linear(D, 16), a softmax gate Linear(D, 10), output MLP [32, 32]
    # with BatchNorm after every linear layer
    shared_experts: int = 8
    specific_experts: int = 2
    expert_dim: int = 16
    output: list[int] = [32, 32]
    dense: bool = False  # the dense field (age): Scenario-Wise Rec's SAR-Net reads the sparse fields only
    # diagnostic, not the default: Scenario-Wise Rec's computation, every scenario's transfer and specific experts
    # on the whole batch, each sample keeping its own scenario's (their BatchNorm statistics are then those of the
    # whole batch transferred by that scenario, not of that scenario's samples)
    whole_batch: bool = False


class DebiasExpert(nn.Module):
    """Scenario-Wise Rec's ``DebiasExpertNet``: BatchNorm -> Linear (no activation).

    Shapes:
        [B, in_dim] -> [B, out_dim]
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.BatchNorm1d(in_dim), nn.Linear(in_dim, out_dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


@register_model("sarnet", config=SARNetConfig,
                paper="Shen et al., SAR-Net: A Scenario-Aware Ranking Network for Personalized Fair "
                      "Recommendation in Hundreds of Travel Scenarios, CIKM'21")
class SARNet(nn.Module):
    """Scenario transfer ``x = e ⊙ w_s + b_s``, then a gate-weighted mix of shared and scenario-specific experts.

    The per-scenario transfer and the scenario-specific experts run on their scenario's samples only; the shared
    experts and the gate read every sample's transferred input.

    Shapes:
        batch -> {"click": [B] logits}; transfer(e, scenario_id): [B, D]; experts(x, groups): [B, n_sh + n_sp, k]
    """

    def __init__(self, embedding: FeatureEmbedding, num_scenarios: int, *, shared_experts: int = 8,
                 specific_experts: int = 2, expert_dim: int = 16, output: list[int] | None = None,
                 whole_batch: bool = False) -> None:
        super().__init__()
        self.whole_batch = whole_batch
        self.embedding = embedding
        d = embedding.out_dim
        self.scenario_w = nn.Parameter(torch.empty(num_scenarios, d))
        self.scenario_b = nn.Parameter(torch.empty(num_scenarios, d))
        for s in range(num_scenarios):  # Scenario-Wise Rec: xavier_uniform_ on [1, D], uniform_(0, 1)
            nn.init.xavier_uniform_(self.scenario_w.data[s:s + 1])
        nn.init.uniform_(self.scenario_b, 0.0, 1.0)
        self.shared = nn.ModuleList(DebiasExpert(d, expert_dim) for _ in range(shared_experts))
        self.specific = nn.ModuleList(nn.ModuleList(DebiasExpert(d, expert_dim) for _ in range(specific_experts))
                                      for _ in range(num_scenarios))
        self.gate = nn.Linear(d, shared_experts + specific_experts)
        self.output = MLP(expert_dim, output if output is not None else [32, 32], 1, batch_norm=True)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: SARNetConfig) -> SARNet:
        return cls(FeatureEmbedding(schema, sparse_grad=cfg.sparse_grad, include_dense=cfg.dense,
                                    match=cfg.match_spec(), id_dropout=cfg.id_dropout), schema.num_scenarios,
                   shared_experts=cfg.shared_experts, specific_experts=cfg.specific_experts,
                   expert_dim=cfg.expert_dim, output=cfg.output, whole_batch=cfg.whole_batch)

    def experts(self, x: Tensor, groups: ScenarioGroups) -> Tensor:
        """[shared experts ‖ the sample's scenario's specific experts]: [B, n_sh + n_sp, k]."""
        shared = torch.stack([e(x) for e in self.shared], 1)
        specific = groups.apply(x, lambda s, xs: torch.stack([e(xs) for e in self.specific[s]], 1))
        return torch.cat([shared, specific], 1)

    def _whole_batch_specific(self, e: Tensor, scenario_id: Tensor) -> Tensor:
        """Scenario-Wise Rec's specific experts: every scenario's on the whole batch, then torch.where. [B, n_sp, k]"""
        out = None
        for s, experts in enumerate(self.specific):
            xs = e * self.scenario_w[s] + self.scenario_b[s]
            h = torch.stack([ex(xs) for ex in experts], 1)
            out = h if out is None else torch.where((scenario_id == s)[:, None, None], h, out)
        return out

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        e = self.embedding(batch)
        if self.whole_batch:
            x = e * self.scenario_w[batch.scenario_id] + self.scenario_b[batch.scenario_id]
            experts = torch.cat([torch.stack([ex(x) for ex in self.shared], 1),
                                 self._whole_batch_specific(e, batch.scenario_id)], 1)
            h = torch.einsum("bn,bnk->bk", torch.softmax(self.gate(x), 1), experts)
            return {"click": self.output(h).squeeze(1)}
        groups = ScenarioGroups(batch.scenario_id)
        x = e * self.scenario_w[batch.scenario_id] + self.scenario_b[batch.scenario_id]  # scenario transfer
        gate = torch.softmax(self.gate(x), 1)  # [B, n]
        h = torch.einsum("bn,bnk->bk", gate, self.experts(x, groups))
        return {"click": self.output(h).squeeze(1)}
