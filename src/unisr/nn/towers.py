"""Per-scenario towers shared by the multi-scenario rankers (SharedBottom, MMoE, PLE, TreeMS's MMoE baseline).

Shapes:
    ScenarioTowers: x [B, in_dim], groups over B -> [B, out_dim]
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from unisr.nn.mlp import MLP
from unisr.nn.routing import ScenarioGroups


class ScenarioTowers(nn.Module):
    """One MLP tower per scenario, each applied only to its scenario's samples.

    Shapes:
        x: [B, in_dim], groups over B -> [B, out_dim]
    """

    def __init__(self, num_scenarios: int, in_dim: int, hidden: Sequence[int], out_dim: int = 1, *,
                 dropout: float = 0.0, batch_norm: bool = False) -> None:
        super().__init__()
        self.towers = nn.ModuleList(
            MLP(in_dim, hidden, out_dim, dropout=dropout, batch_norm=batch_norm) for _ in range(num_scenarios)
        )

    def forward(self, x: Tensor, groups: ScenarioGroups) -> Tensor:
        return groups.apply(x, lambda s, xs: self.towers[s](xs))
