"""M3oE: Multi-Domain Multi-Task Mixture-of-Experts (Zhang et al., SIGIR'24), as Scenario-Wise Rec and the
authors' code (Applied-Machine-Learning-Lab/M3oE, ``MDMTRec``) ship it; docs/models/m3oe.md.

Shapes:
    batch -> {task: [B] logits} (one logit per task the run trains: click, and conversion where it has one)
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.registry import FieldRankerConfig, register_model
from unisr.nn.embedding import FeatureEmbedding
from unisr.nn.experts import Experts, mix
from unisr.nn.mlp import MLP
from unisr.nn.routing import ScenarioGroups
from unisr.nn.star import StarLinear


class M3oEConfig(FieldRankerConfig):
    # Scenario-Wise Rec's MovieLens script: M3oE(dense + sparse fields, fcn_dims=[128, 64, 64, 32], expert_num=4,
    # exp_d=1, exp_t=1, bal_d=1, bal_t=1); fcn[0:2] = the STAR layer and its MLP, fcn[1:] = each expert's MLP;
    # every MLP layer is Linear-LayerNorm-ReLU
    fcn: list[int] = Field([128, 64, 64, 32], min_length=3)  # >= 3: the STAR layer, its MLP, >= 1 expert layer
    num_experts: int = 4
    # the fusion weights' starting logits (each weight is sigmoid(logit): Scenario-Wise Rec's softmax_type=3)
    exp_d: float = 1.0  # weight of the domain experts' mix beside the shared experts'
    exp_t: float = 1.0  # weight of the task experts' mix (only with several tasks)
    bal_d: float = 1.0  # share of the sample's own domain expert (the others share 1 - bal_d equally)
    bal_t: float = 1.0  # share of the task's own task expert
    # the outputs (one tower and gate per scenario and task); one task: no task experts, as Scenario-Wise Rec
    tasks: list[str] = ["click"]
    dense: bool = True  # the dense field (age): Scenario-Wise Rec's M3oE reads dense + sparse fields


def balance(experts: Tensor, own: int, weight: Tensor) -> Tensor:
    """``w · E_own + (1 - w) / (n - 1) · Σ_{j≠own} E_j`` of experts [B, n, d] -> [B, d] (n = 1: ``w · E_0``)."""
    n = experts.shape[1]
    mine = experts[:, own]
    if n == 1:
        return weight * mine
    return weight * mine + (1 - weight) / (n - 1) * (experts.sum(1) - mine)


@register_model("m3oe", config=M3oEConfig,
                paper="Zhang et al., M3oE: Multi-Domain Multi-Task Mixture-of-Experts Recommendation Framework, "
                      "SIGIR'24")
class M3oE(nn.Module):
    """STAR layer + skip -> shared, domain and task experts; per (scenario, task) a gate over the shared experts
    plus the weighted domain and task mixes; a tower per (scenario, task).

    The STAR layer, the gates and the towers run on their scenario's samples only; every domain expert reads every
    sample (a sample's domain mix weighs all domains' experts).

    Shapes:
        batch -> {task: [B] logits} for each of ``tasks``; represent(batch): [B, fcn[1]]
    """

    def __init__(self, embedding: FeatureEmbedding, num_scenarios: int, fcn: list[int], *, num_experts: int = 4,
                 exp_d: float = 1.0, exp_t: float = 1.0, bal_d: float = 1.0, bal_t: float = 1.0,
                 tasks: list[str] | None = None) -> None:
        super().__init__()
        if len(fcn) < 3:
            raise ValueError(f"model.fcn {fcn}: needs >= 3 sizes (the STAR layer, its MLP, >= 1 expert layer)")
        self.embedding = embedding
        self.tasks = list(tasks or ["click"])
        d, t_n = embedding.out_dim, len(self.tasks)
        self.star = StarLinear(num_scenarios, d, fcn[0])
        nn.init.xavier_uniform_(self.star.weight)  # Scenario-Wise Rec: xavier_uniform_ on shared and slot weights
        for s in range(num_scenarios):
            nn.init.xavier_uniform_(self.star.weight_s.data[s])
        self.star_mlp = MLP(fcn[0], [fcn[1]], layer_norm=True)
        self.skip = MLP(d, [fcn[1]], layer_norm=True)
        self.shared_experts = Experts(num_experts, fcn[1], fcn[2:], layer_norm=True)
        self.domain_experts = Experts(num_scenarios, fcn[1], fcn[2:], layer_norm=True)
        self.task_experts = Experts(t_n, fcn[1], fcn[2:], layer_norm=True) if t_n > 1 else None
        out = fcn[-1]
        self.gates = nn.ModuleList(nn.ModuleList(nn.Linear(fcn[1], num_experts) for _ in range(t_n))
                                   for _ in range(num_scenarios))
        self.towers = nn.ModuleList(nn.ModuleList(MLP(out, [out], 1, layer_norm=True) for _ in range(t_n))
                                    for _ in range(num_scenarios))
        self.w_exp_d = nn.Parameter(torch.tensor(float(exp_d)))
        self.w_bal_d = nn.Parameter(torch.tensor(float(bal_d)))
        self.w_exp_t = nn.Parameter(torch.tensor(float(exp_t))) if t_n > 1 else None
        self.w_bal_t = nn.Parameter(torch.tensor(float(bal_t))) if t_n > 1 else None

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: M3oEConfig) -> M3oE:
        return cls(FeatureEmbedding(schema, sparse_grad=cfg.sparse_grad, include_dense=cfg.dense,
                                    match=cfg.match_spec(), id_dropout=cfg.id_dropout), schema.num_scenarios,
                   cfg.fcn, num_experts=cfg.num_experts, exp_d=cfg.exp_d, exp_t=cfg.exp_t, bal_d=cfg.bal_d,
                   bal_t=cfg.bal_t, tasks=cfg.tasks)

    def fusion_weights(self) -> dict[str, Tensor]:
        """The searched fusion weights, each sigmoid(logit) in (0, 1)."""
        w = {"exp_d": self.w_exp_d, "bal_d": self.w_bal_d, "exp_t": self.w_exp_t, "bal_t": self.w_bal_t}
        return {k: torch.sigmoid(v) for k, v in w.items() if v is not None}

    def represent(self, e: Tensor, groups: ScenarioGroups) -> Tensor:
        """``STAR-MLP(e (W ⊙ W_s) + b + b_s) + skip(e)``: [B, fcn[1]] of the embedding e [B, D]."""
        h = groups.apply(e, lambda s, es: self.star(es, s))
        return self.star_mlp(h) + self.skip(e)

    def _scenario(self, s: int, parts: tuple[Tensor, ...]) -> Tensor:
        """Logits [B_s, T] of scenario s's samples: per task, gate mix + exp_d · domain mix (+ exp_t · task mix)."""
        h, shared, dom = parts[:3]
        w = self.fusion_weights()
        dmix = w["exp_d"] * balance(dom, s, w["bal_d"])
        logits = []
        for t in range(len(self.tasks)):
            f = mix(self.gates[s][t](h.detach()), shared) + dmix  # the gate reads a stop-gradient input
            if self.task_experts is not None:
                f = f + w["exp_t"] * balance(parts[3], t, w["bal_t"])
            logits.append(self.towers[s][t](f))
        return torch.cat(logits, 1)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        groups = ScenarioGroups(batch.scenario_id)
        h = self.represent(self.embedding(batch), groups)
        parts = (h, self.shared_experts(h), self.domain_experts(h))
        if self.task_experts is not None:
            parts = (*parts, self.task_experts(h))
        out = groups.apply(parts, self._scenario)
        return {task: out[:, t] for t, task in enumerate(self.tasks)}
