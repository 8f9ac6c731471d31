"""A training-only position-bias component: the "shallow tower" industrial rankers add to the click logit.

Logged clicks depend on where an item was shown (higher slots get more clicks, whatever the item), but a
ranker scores items before they have a position. The usual remedy (the shallow tower of YouTube's multitask
ranker, Zhao et al. RecSys'19; PAL, Guo et al. RecSys'19) learns the position effect in a separate small
network whose logit is added to the model's during training only:

    logit_train = model_logit(x) + bias(position, scenario)

and evaluation and serving use ``model_logit(x)`` alone, so the model does not have to explain the clicks
that the slot caused. ``PositionBias`` is that network; ``unisr.train.objective.Objective`` owns it (the
model never sees a position).

The bias is anchored at the top slot: ``bias(0, s) = 0`` for every scenario ``s``, so the position-free score
is the model's logit for an item shown first (the same reference as the simulator's position term
``-beta_s log2(1 + k)``, which is 0 at ``k = 0``), and a constant offset cannot drift between the model and
the bias. Events without a position (``Batch.position`` -1) get no bias.

Shapes:
    PositionBias(position [B] long, scenario_id [B] long) -> [B] float logit offsets
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class PositionBias(nn.Module):
    """Shallow tower on (clipped position, scenario) giving one additive click logit per sample.

    ``max_position``: positions above it share its bucket; ``dim``: width of the position and scenario
    embeddings; ``hidden``: width of the tower's one hidden layer. The output layer starts at zero, so the
    first training step sees no bias.

    Shapes:
        position: [B] long (0 = top slot; < 0 = no position), scenario_id: [B] long -> [B] float
    """

    def __init__(self, num_scenarios: int, max_position: int = 31, dim: int = 8, hidden: int = 16) -> None:
        super().__init__()
        if num_scenarios < 1 or max_position < 1:
            raise ValueError(f"PositionBias needs num_scenarios >= 1 and max_position >= 1, got "
                             f"{num_scenarios}, {max_position}")
        self.max_position = max_position
        self.position = nn.Embedding(max_position + 1, dim)
        self.scenario = nn.Embedding(num_scenarios, dim)
        self.tower = nn.Sequential(nn.Linear(2 * dim, hidden), nn.ReLU(), nn.Linear(hidden, 1, bias=False))
        nn.init.zeros_(self.tower[-1].weight)  # (an output bias would cancel in the anchoring difference)

    def _tower(self, position: Tensor, scen: Tensor) -> Tensor:
        return self.tower(torch.cat([self.position(position), scen], 1)).squeeze(1)

    def forward(self, position: Tensor, scenario_id: Tensor) -> Tensor:
        known = position >= 0
        p = position.clamp(0, self.max_position)
        scen = self.scenario(scenario_id)
        bias = self._tower(p, scen) - self._tower(torch.zeros_like(p), scen)
        return torch.where(known, bias, torch.zeros_like(bias))
