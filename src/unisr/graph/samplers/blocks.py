"""Sampled neighbourhoods as padded per-hop blocks with masks (ready for ``Batch.subgraph``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor


@dataclass
class Blocks:
    """Hops 1..K of a sample around B seeds.

    Hop k holds ``W_k = fanout_1 * ... * fanout_k`` slots per seed; slot ``j`` of hop k hangs below slot
    ``j // fanout_k`` of hop k-1 (its precursor; hop 0 is the seed itself).

    Shapes (per hop k):
        nodes[k]: [B, W_k] long, node index of ``node_types[k]`` (0 where masked)
        mask[k]: [B, W_k] bool, slot holds a sampled neighbour
        pre[k]: [B, W_k] long, the precursor node (hop k-1 node, or the seed)
        edge[k]: [B, W_k] long, the edge id in ``edge_types[k]`` (-1 where masked)
        extra[name][k]: [B, W_k] long, per-edge attributes (e.g. ``query``, ``ts``)
    """

    seeds: Tensor
    node_types: list[str]
    edge_types: list[tuple[str, str, str]]
    fanouts: list[int]
    nodes: list[Tensor] = field(default_factory=list)
    mask: list[Tensor] = field(default_factory=list)
    pre: list[Tensor] = field(default_factory=list)
    edge: list[Tensor] = field(default_factory=list)
    extra: dict[str, list[Tensor]] = field(default_factory=dict)
    counts: list[int] = field(default_factory=list)  # sampled slots per hop, as the kernels counted them

    @property
    def num_sampled(self) -> int:
        if len(self.counts) == len(self.mask):
            return int(sum(self.counts))
        return int(sum(np.count_nonzero(m.numpy()) for m in self.mask))

    def to_subgraph(self, prefix: str) -> dict[str, Tensor]:
        """Flat ``name -> [B, ...]`` tensors: ``{prefix}.hop{k}.{nodes,mask,pre,edge,<extra>}``."""
        out: dict[str, Tensor] = {f"{prefix}.seeds": self.seeds}
        for k in range(len(self.nodes)):
            h = f"{prefix}.hop{k + 1}"
            out[f"{h}.nodes"], out[f"{h}.mask"] = self.nodes[k], self.mask[k]
            out[f"{h}.pre"], out[f"{h}.edge"] = self.pre[k], self.edge[k]
            for name, vals in self.extra.items():
                out[f"{h}.{name}"] = vals[k]
        return out


def as_index(x: Tensor | np.ndarray | list[int]) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(x, dtype=np.int64).ravel())


EMPTY_I64 = np.zeros(0, np.int64)
EMPTY_BOOL = np.zeros(0, np.bool_)


class HopOut:
    """Preallocated outputs of one hop: torch tensors [B, W] and flat numpy views of them for the kernels."""

    def __init__(self, batch: int, width: int, extras: int = 0) -> None:
        self.nodes = torch.empty((batch, width), dtype=torch.long)
        self.mask = torch.empty((batch, width), dtype=torch.bool)
        self.pre = torch.empty((batch, width), dtype=torch.long)
        self.edge = torch.empty((batch, width), dtype=torch.long)
        self.extras = [torch.empty((batch, width), dtype=torch.long) for _ in range(extras)]

    def flat(self) -> tuple[np.ndarray, ...]:
        return tuple(t.numpy().reshape(-1) for t in (self.nodes, self.mask, self.pre, self.edge, *self.extras))

    def append_to(self, blocks: Blocks, count: int) -> None:
        blocks.counts.append(int(count))
        blocks.nodes.append(self.nodes)
        blocks.mask.append(self.mask)
        blocks.pre.append(self.pre)
        blocks.edge.append(self.edge)
