"""STAR: Star Topology Adaptive Recommender (Sheng et al., CIKM'21)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.backbone import BackboneInput
from unisr.models.registry import FieldRankerConfig, register_model
from unisr.nn.embedding import FeatureEmbedding
from unisr.nn.mlp import MLP
from unisr.nn.routing import ScenarioGroups
from unisr.nn.star import PartitionedNorm, StarLinear


class STARConfig(FieldRankerConfig):
    fcn: list[int] = [128, 64, 32]  # Scenario-Wise Rec MovieLens: fcn_dims [128, 64, 32], aux_dims [32]
    aux: list[int] = [32]
    scenario_embed_dim: int = 16
    partitioned_norm: bool = True
    auxiliary: bool = True


@register_model("star", config=STARConfig, paper="Sheng et al., One Model to Serve All (STAR), CIKM'21")
class STAR(nn.Module):
    """Partitioned normalisation -> star-topology FCN (shared ⊙ scenario weights) + auxiliary network.

    The logit of a sample of scenario s is ``FCN_s(PN_s(e)) + aux([e_scenario, e])``; each scenario's layers
    run only on that scenario's samples.

    Shapes:
        batch -> {"click": [B] logits}
    """

    def __init__(self, embedding: FeatureEmbedding | None, num_scenarios: int, fcn: list[int], aux: list[int], *,
                 scenario_embed_dim: int = 16, partitioned_norm: bool = True, auxiliary: bool = True,
                 in_dim: int | None = None) -> None:
        super().__init__()
        self.embedding = embedding  # None: a core on prepared inputs (``forward_input``, ``in_dim`` wide)
        d = embedding.out_dim if embedding is not None else in_dim
        self.pn = PartitionedNorm(num_scenarios, d) if partitioned_norm else None
        dims = [d, *fcn, 1]
        self.layers = nn.ModuleList(StarLinear(num_scenarios, a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.act = nn.ReLU()
        self.scenario_emb = nn.Embedding(num_scenarios, scenario_embed_dim) if auxiliary else None
        self.aux = MLP(d + scenario_embed_dim, aux, 1) if auxiliary else None

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: STARConfig) -> STAR:
        return cls(FeatureEmbedding(schema, sparse_grad=cfg.sparse_grad, match=cfg.match_spec(),
                                    id_dropout=cfg.id_dropout), schema.num_scenarios, cfg.fcn, cfg.aux,
                   scenario_embed_dim=cfg.scenario_embed_dim, partitioned_norm=cfg.partitioned_norm,
                   auxiliary=cfg.auxiliary)

    @classmethod
    def as_backbone(cls, cfg: STARConfig, inp: BackboneInput) -> STAR:
        return cls(None, inp.num_scenarios, cfg.fcn, cfg.aux, scenario_embed_dim=cfg.scenario_embed_dim,
                   partitioned_norm=cfg.partitioned_norm, auxiliary=cfg.auxiliary, in_dim=inp.in_dim)

    def _fcn(self, s: int, x: Tensor) -> Tensor:
        if self.pn is not None:
            x = self.pn(x, s)
        for i, layer in enumerate(self.layers):
            x = layer(x, s)
            if i < len(self.layers) - 1:
                x = self.act(x)
        return x

    def forward_input(self, e: Tensor, scenario_id: Tensor) -> Tensor:
        """Logits [B] of a prepared input e [B, in_dim]."""
        logit = ScenarioGroups(scenario_id).apply(e, self._fcn).squeeze(1)
        if self.aux is not None:
            logit = logit + self.aux(torch.cat([e, self.scenario_emb(scenario_id)], 1)).squeeze(1)
        return logit

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        return {"click": self.forward_input(self.embedding(batch), batch.scenario_id)}
