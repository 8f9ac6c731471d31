"""PLE with scenarios as tasks (Tang et al., RecSys'20): shared + scenario-specific experts, progressive levels."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.backbone import BackboneInput
from unisr.models.registry import FieldRankerConfig, register_model
from unisr.nn.embedding import FeatureEmbedding
from unisr.nn.experts import Experts, mix
from unisr.nn.routing import ScenarioGroups
from unisr.nn.towers import ScenarioTowers


class PLEConfig(FieldRankerConfig):
    num_levels: int = 1  # Scenario-Wise Rec MovieLens: n_level=1, 2 specific + 1 shared expert, dims [16], tower [8]
    num_specific: int = 2
    num_shared: int = 1
    expert: list[int] = [16]
    tower: list[int] = [8]
    dropout: float = 0.0


class CGCLevel(nn.Module):
    """One Customized Gate Control level.

    A sample of scenario s mixes its scenario's specific experts and the shared experts with gate g_s (on the
    specific branch). The shared branch (needed only below the last level) mixes the shared experts with the
    sample's own scenario's specific experts: every sample belongs to exactly one scenario, so mixing the
    specific experts of other scenarios, as multi-task PLE does, would require computing every scenario for
    every sample.

    Shapes:
        h_spec, h_shared: [B, in_dim] -> ([B, out_dim], [B, out_dim] or None)
    """

    def __init__(self, num_scenarios: int, in_dim: int, num_specific: int, num_shared: int, expert: list[int],
                 dropout: float, last: bool) -> None:
        super().__init__()
        self.specific = nn.ModuleList(Experts(num_specific, in_dim, expert, dropout) for _ in range(num_scenarios))
        self.shared = Experts(num_shared, in_dim, expert, dropout)
        self.gates = nn.ModuleList(nn.Linear(in_dim, num_specific + num_shared) for _ in range(num_scenarios))
        self.shared_gate = None if last else nn.Linear(in_dim, num_specific + num_shared)
        self.out_dim = expert[-1]

    def forward(self, h_spec: Tensor, h_shared: Tensor, groups: ScenarioGroups) -> tuple[Tensor, Tensor | None]:
        shared_out = self.shared(h_shared)  # [B, n_shared, d]

        def spec_fn(s: int, xs: tuple[Tensor, Tensor, Tensor]) -> Tensor:
            hs, hsh, sh = xs
            own = self.specific[s](hs)  # [b, n_specific, d]
            allx = torch.cat([own, sh], dim=1)
            out = mix(self.gates[s](hs), allx)
            if self.shared_gate is None:
                return out
            return torch.cat([out, mix(self.shared_gate(hsh), allx)], dim=1)

        res = groups.apply((h_spec, h_shared, shared_out), spec_fn)
        if self.shared_gate is None:
            return res, None
        return res[:, : self.out_dim], res[:, self.out_dim:]


@register_model("ple", config=PLEConfig, paper="Tang et al., Progressive Layered Extraction, RecSys'20")
class PLE(nn.Module):
    """Stacked CGC levels; a tower per scenario on the last level's scenario-specific output.

    Shapes:
        batch -> {"click": [B] logits}
    """

    def __init__(self, embedding: FeatureEmbedding | None, num_scenarios: int, num_levels: int, num_specific: int,
                 num_shared: int, expert: list[int], tower: list[int], *, dropout: float = 0.0,
                 in_dim: int | None = None) -> None:
        super().__init__()
        self.embedding = embedding  # None: a core on prepared inputs (``forward_input``, ``in_dim`` wide)
        d = embedding.out_dim if embedding is not None else in_dim
        self.levels = nn.ModuleList()
        for lvl in range(num_levels):
            self.levels.append(CGCLevel(num_scenarios, d, num_specific, num_shared, expert, dropout,
                                        last=lvl == num_levels - 1))
            d = expert[-1]
        self.towers = ScenarioTowers(num_scenarios, d, tower, 1, dropout=dropout)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: PLEConfig) -> PLE:
        return cls(FeatureEmbedding(schema, sparse_grad=cfg.sparse_grad, match=cfg.match_spec(),
                                    id_dropout=cfg.id_dropout), schema.num_scenarios, cfg.num_levels,
                   cfg.num_specific, cfg.num_shared, cfg.expert, cfg.tower, dropout=cfg.dropout)

    @classmethod
    def as_backbone(cls, cfg: PLEConfig, inp: BackboneInput) -> PLE:
        return cls(None, inp.num_scenarios, cfg.num_levels, cfg.num_specific, cfg.num_shared, cfg.expert,
                   cfg.tower, dropout=cfg.dropout, in_dim=inp.in_dim)

    def forward_input(self, x: Tensor, scenario_id: Tensor) -> Tensor:
        """Logits [B] of a prepared input x [B, in_dim]."""
        groups = ScenarioGroups(scenario_id)
        h_spec, h_shared = x, x
        for level in self.levels:
            h_spec, h_shared = level(h_spec, h_shared, groups)
        return self.towers(h_spec, groups).squeeze(1)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        return {"click": self.forward_input(self.embedding(batch), batch.scenario_id)}
