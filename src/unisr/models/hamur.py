"""HAMUR: Hyper Adapter for Multi-Domain Recommendation (Li et al., CIKM'23), as Scenario-Wise Rec ships it
(``HamurSmall``: a 2-layer per-scenario MLP backbone with one adapter cell); docs/models/hamur.md.

Shapes:
    batch -> {"click": [B] logits}; the hyper-network's instance matrices Z [B, k, k]
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.registry import FieldRankerConfig, register_model
from unisr.nn.embedding import FeatureEmbedding
from unisr.nn.mlp import MLP
from unisr.nn.routing import ScenarioGroups
from unisr.nn.star import PartitionedNorm


class HAMURConfig(FieldRankerConfig):
    # Scenario-Wise Rec's MovieLens script: HamurSmall(dense + sparse fields, fcn_dims=[256, 128], hyper_dims=[64],
    # k=35); its backbone layers are Linear-BatchNorm-ReLU, its hyper-network's too (the last layer included)
    hidden: list[int] = [256, 128]
    hyper: list[int] = [64]
    k: int = 35  # the rank of the decomposition W = U Z V (Z: k x k, generated per sample)
    adapter_dim: int = 32  # the adapter's bottleneck (hard-coded 32 in Scenario-Wise Rec's HamurSmall)
    dense: bool = True  # the dense field (age): Scenario-Wise Rec's HAMUR reads dense + sparse fields
    # U and V of the adapter: "ones" = Scenario-Wise Rec's (and the authors' HAMUR repository's) init, under which
    # the bottleneck's units and the k columns of U stay identical in training (tested; docs/models/hamur.md);
    # "xavier" = xavier-uniform U and V (diagnostic, not the default)
    adapter_init: Literal["ones", "xavier"] = "ones"
    # diagnostic, not the default: Scenario-Wise Rec's computation, every scenario's backbone and adapter on the
    # whole batch, each sample keeping its own scenario's output (BatchNorm and domain-norm statistics of the
    # whole batch, not of the scenario's samples)
    whole_batch: bool = False


class HyperAdapter(nn.Module):
    """The adapter cell: down-projection, sigmoid, up-projection (weights ``U Z V`` with Z from the hyper-network),
    domain norm; the caller adds the short-cut.

    ``x (U0 Z V0)`` is computed as ``((x U0) Z) V0`` (the same product, never a [B, d, adapter_dim] weight).
    The domain norm normalises with the statistics of the scenario's samples (training) or that scenario's moving
    averages (evaluation), one shared scale and bias (``nn/star.py:PartitionedNorm(scenario_affine=False)``).

    Shapes:
        x [B_s, d], z [B_s, k, k], scenario s -> [B_s, d]
    """

    def __init__(self, num_scenarios: int, dim: int, k: int, adapter_dim: int,
                 init: Literal["ones", "xavier"] = "ones") -> None:
        super().__init__()
        # Scenario-Wise Rec: U, V start at ones, the biases at zero
        self.u_down = nn.Parameter(torch.ones(dim, k))
        self.v_down = nn.Parameter(torch.ones(k, adapter_dim))
        self.b_down = nn.Parameter(torch.zeros(adapter_dim))
        self.u_up = nn.Parameter(torch.ones(adapter_dim, k))
        self.v_up = nn.Parameter(torch.ones(k, dim))
        self.b_up = nn.Parameter(torch.zeros(dim))
        self.norm = PartitionedNorm(num_scenarios, dim, scenario_affine=False)
        if init == "xavier":
            for p in (self.u_down, self.v_down, self.u_up, self.v_up):
                nn.init.xavier_uniform_(p)

    @staticmethod
    def _project(x: Tensor, u: Tensor, z: Tensor, v: Tensor) -> Tensor:
        return torch.bmm((x @ u).unsqueeze(1), z).squeeze(1) @ v

    def forward(self, x: Tensor, z: Tensor, s: int) -> Tensor:
        a = torch.sigmoid(self._project(x, self.u_down, z, self.v_down) + self.b_down)
        return self.norm(self._project(a, self.u_up, z, self.v_up) + self.b_up, s)


@register_model("hamur", config=HAMURConfig,
                paper="Li et al., HAMUR: Hyper Adapter for Multi-Domain Recommendation, CIKM'23")
class HAMUR(nn.Module):
    """Per-scenario MLP backbones, each with an adapter cell whose weights a shared hyper-network generates per
    sample from its embedding (low-rank: ``W = U Z(e) V``).

    A sample of scenario s: ``h = MLP_s(e)``, ``h = h + Adapter(h; Z(e), s)``, logit ``= Linear_s(h)``; the
    backbones, adapters' statistics and heads run on their scenario's samples only, the hyper-network on all.

    Shapes:
        batch -> {"click": [B] logits}; hyper(e): [B, k, k]
    """

    def __init__(self, embedding: FeatureEmbedding, num_scenarios: int, hidden: list[int], hyper: list[int], *,
                 k: int = 35, adapter_dim: int = 32, adapter_init: Literal["ones", "xavier"] = "ones",
                 whole_batch: bool = False) -> None:
        super().__init__()
        self.embedding = embedding
        self.k, self.whole_batch = k, whole_batch
        d = embedding.out_dim
        self.backbones = nn.ModuleList(MLP(d, hidden, batch_norm=True) for _ in range(num_scenarios))
        self.heads = nn.ModuleList(nn.Linear(hidden[-1], 1) for _ in range(num_scenarios))
        self.hyper_net = MLP(d, [*hyper, k * k], batch_norm=True)
        self.adapter = HyperAdapter(num_scenarios, hidden[-1], k, adapter_dim, adapter_init)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: HAMURConfig) -> HAMUR:
        return cls(FeatureEmbedding(schema, sparse_grad=cfg.sparse_grad, include_dense=cfg.dense,
                                    match=cfg.match_spec(), id_dropout=cfg.id_dropout), schema.num_scenarios,
                   cfg.hidden, cfg.hyper, k=cfg.k, adapter_dim=cfg.adapter_dim, adapter_init=cfg.adapter_init,
                   whole_batch=cfg.whole_batch)

    def hyper(self, e: Tensor) -> Tensor:
        """The instance matrices Z [B, k, k] of the embedding e [B, D] (the shared hyper-network)."""
        return self.hyper_net(e).view(-1, self.k, self.k)

    def _scenario(self, s: int, ez: tuple[Tensor, Tensor]) -> Tensor:
        e, z = ez
        h = self.backbones[s](e)
        return self.heads[s](h + self.adapter(h, z, s))

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        e = self.embedding(batch)
        z = self.hyper(e)
        if self.whole_batch:  # diagnostic: Scenario-Wise Rec's every-scenario-then-torch.where
            out = None
            for s in range(len(self.backbones)):
                o = self._scenario(s, (e, z))
                out = o if out is None else torch.where((batch.scenario_id == s)[:, None], o, out)
            return {"click": out.squeeze(1)}
        return {"click": ScenarioGroups(batch.scenario_id).apply((e, z), self._scenario).squeeze(1)}
