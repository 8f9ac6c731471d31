"""Route samples to their scenario's parameters: group the batch by scenario, run each group, scatter back.

Scenario-specific parts never compute every scenario for every sample; cost is one sort per batch.

Export only (``dense_routing``, used by ``serve/onnx_export.py``): every scenario's part runs on the whole batch
and each row keeps its own scenario's output (``torch.where`` on a mask), so the graph has no data-dependent
control flow and ONNX keeps a dynamic batch; per row it equals the grouped forward for row-wise parts (eval mode).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

import torch
from torch import Tensor


class ScenarioGroups:
    """The samples of a batch grouped by scenario id.

    Shapes:
        scenario_id: [B] long
        groups: list of (scenario s, index [B_s] long)
    """

    def __init__(self, scenario_id: Tensor) -> None:
        self.dense: int | None = getattr(_DENSE, "scenarios", None)
        if self.dense is not None:  # export only: no grouping (``dense_routing``)
            self.scenario_id, self.size = scenario_id, scenario_id.shape[0]
            return
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
        if self.dense is not None:
            return self._apply_dense(x, fn)
        outs, idxs = [], []
        for s, idx in self.groups:
            xs = tuple(t[idx] for t in x) if isinstance(x, tuple) else x[idx]
            outs.append(fn(s, xs))
            idxs.append(idx)
        cat = torch.cat(outs, 0)
        out = cat.new_empty((self.size,) + cat.shape[1:])
        out[torch.cat(idxs)] = cat
        return out

    def _apply_dense(self, x: Tensor | tuple[Tensor, ...], fn: Callable[[int, Tensor], Tensor]) -> Tensor:
        """``fn(s, x)`` on every row for s = 0..S-1; row i keeps scenario ``scenario_id[i]``'s output."""
        out = None
        for s in range(self.dense):
            o = fn(s, x)
            if out is None:
                out = o
            else:
                mask = (self.scenario_id == s).reshape(-1, *([1] * (o.dim() - 1)))
                out = torch.where(mask, o, out)
        return out


_DENSE = threading.local()  # .scenarios: set by ``dense_routing`` in the exporting thread only


@contextlib.contextmanager
def dense_routing(num_scenarios: int | None) -> Iterator[None]:
    """Within the block, ``ScenarioGroups`` computes all ``num_scenarios`` scenarios' parts for every row and
    selects by mask (export only: S times the scenario-specific compute; never used in training); None = the
    grouped forward."""
    prev = getattr(_DENSE, "scenarios", None)
    _DENSE.scenarios = num_scenarios
    try:
        yield
    finally:
        _DENSE.scenarios = prev
