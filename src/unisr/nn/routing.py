"""Route samples to their scenario's parameters: group the batch by scenario, run each group, scatter back.

Scenario-specific parts never compute every scenario for every sample; cost is one sort per batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


class ScenarioGroups:
    """The samples of a batch grouped by scenario id.

    Shapes:
        scenario_id: [B] long
        groups: list of (scenario s, index [B_s] long)
    """

    def __init__(self, scenario_id: Tensor) -> None:
        order = torch.argsort(scenario_id, stable=True)
        sorted_s = scenario_id[order]
        uniq, counts = torch.unique_consecutive(sorted_s, return_counts=True)
        self.order = order
        self.groups: list[tuple[int, Tensor]] = []
        start = 0
        for s, c in zip(uniq.tolist(), counts.tolist(), strict=True):
            self.groups.append((s, order[start:start + c]))
            start += c
        self.size = scenario_id.shape[0]

    def apply(self, x: Tensor | tuple[Tensor, ...], fn: Callable[[int, Tensor], Tensor]) -> Tensor:
        """``out[idx_s] = fn(s, x[idx_s])`` for each scenario s present. ``x`` may be a tuple of tensors."""
        outs, idxs = [], []
        for s, idx in self.groups:
            xs = tuple(t[idx] for t in x) if isinstance(x, tuple) else x[idx]
            outs.append(fn(s, xs))
            idxs.append(idx)
        cat = torch.cat(outs, 0)
        out = cat.new_empty((self.size,) + cat.shape[1:])
        out[torch.cat(idxs)] = cat
        return out
