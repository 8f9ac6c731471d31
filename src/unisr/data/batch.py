"""The ``Batch``: what flows from the loaders into every model, as first-class tensors."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import torch
from torch import Tensor


@dataclass
class Batch:
    """A mini-batch of B impressions.

    Shapes:
        scenario_id: [B] long, the dataset's scenario index (0..S-1, dense, see ``FeatureSchema.scenarios``)
        sparse: [B, F] long, per-field vocabulary indices (0 = out of vocabulary)
        dense: [B, D] float
        labels: name -> [B] float (``click``, ``conversion``)
        user_index: [B] long, entity index of the user (for GAUC and graph lookups)
        item_index: [B] long, entity index of the item
        event_id: [B] long
        request_id: [B] long or None (impressions shown together)
        p_click: [B] float or None (the simulator's true click probability)
        p_click_no_position: [B] float or None (the same with the position term removed, where the truth has it)
        sequences: name -> (ids [B, L] long, mask [B, L] bool), e.g. ``history``, ``query_tokens``
        trigger_index: [B] long or None (similar-product search trigger item)
        query_index: [B] long or None (the row's query in the dataset's query table, ``QueryTable`` row; 0 = none)
        target_user_index: [B] long or None (share scenarios: the candidate user)
        ts: [B] long or None (the event time, in the events' unit; graph samplers keep only earlier edges)
        subgraph: a typed sampled subgraph filled by a graph hook (``unisr.graph.subgraph``), or None
        position: [B] long or None (the slot the item was shown at, 0 = top; -1 where the event has none);
            None when the dataset has no ``events.position`` values. Read by training-only components
            (``unisr.nn.position.PositionBias`` in ``train/objective.py``), never by a model, so a model's
            score is position-free and serving needs no position.
        vectors: name -> [B, k] float, the schema's vector fields (``item.image_emb``, ``trigger.image_emb``,
            ``query.emb`` ...; zeros where a sample has none)
    """

    scenario_id: Tensor
    sparse: Tensor
    dense: Tensor
    labels: dict[str, Tensor]
    user_index: Tensor
    item_index: Tensor
    event_id: Tensor
    request_id: Tensor | None = None
    p_click: Tensor | None = None
    p_click_no_position: Tensor | None = None
    sequences: dict[str, tuple[Tensor, Tensor]] = field(default_factory=dict)
    trigger_index: Tensor | None = None
    query_index: Tensor | None = None
    target_user_index: Tensor | None = None
    ts: Tensor | None = None
    subgraph: object | None = None  # a typed sampled subgraph (unisr.graph.subgraph) or None
    position: Tensor | None = None
    vectors: dict[str, Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.scenario_id.shape[0])

    def label(self, task: str) -> Tensor:
        """The label of a task: the batch label of the same name; ``ctcvr`` = click x conversion."""
        if task in self.labels:
            return self.labels[task]
        if task == "ctcvr" and "click" in self.labels and "conversion" in self.labels:
            return self.labels["click"] * self.labels["conversion"]
        raise KeyError(f"no label for task {task!r}; batch has {sorted(self.labels)}")

    def _map(self, fn) -> Batch:
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Tensor):
                out[f.name] = fn(v)
            elif hasattr(v, "map_tensors"):  # a typed sampled subgraph (unisr.graph.subgraph)
                out[f.name] = v.map_tensors(fn)
            elif isinstance(v, dict):
                out[f.name] = {
                    k: (tuple(fn(t) for t in x) if isinstance(x, tuple) else fn(x)) for k, x in v.items()
                }
            else:
                out[f.name] = v
        return replace(self, **out)

    def to(self, device: torch.device | str) -> Batch:
        return self._map(lambda t: t.to(device, non_blocking=True))

    def select(self, index: Tensor) -> Batch:
        """Rows ``index`` of every per-sample tensor."""
        return self._map(lambda t: t[index])
