"""Uniform k-hop neighbour sampling with per-hop fanouts (GraphSAGE style), vectorised with numba."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from unisr.graph.samplers._kernels import fused_hop
from unisr.graph.samplers.blocks import EMPTY_BOOL, EMPTY_I64, Blocks, HopOut, as_index
from unisr.graph.store import EdgeType, HeteroGraph


class UniformSampler:
    """Samples ``fanouts[k]`` neighbours per node at hop k along ``path[k]`` (without replacement; all of
    them when the degree is smaller). ``path`` may repeat one relation (homogeneous) or chain types."""

    def __init__(self, graph: HeteroGraph, path: Sequence[EdgeType], fanouts: Sequence[int]) -> None:
        if len(path) != len(fanouts) or not path:
            raise ValueError("path and fanouts must have the same, non-zero length")
        if any(f < 1 for f in fanouts):
            raise ValueError(f"fanouts must be >= 1, got {list(fanouts)}")
        for a, b in zip(path[:-1], path[1:], strict=False):
            if a[2] != b[0]:
                raise ValueError(f"path breaks: {a} ends at {a[2]!r} but {b} starts at {b[0]!r}")
        self.graph = graph
        self.path = list(path)
        self.fanouts = list(fanouts)
        self.csrs = [graph.rel(et) for et in self.path]

    def sample(self, seeds: Tensor | np.ndarray, seed: int = 0) -> Blocks:
        """Shapes: seeds [B] node indices of ``path[0][0]`` -> Blocks with hop k of width prod(fanouts[:k])."""
        s = as_index(seeds)
        b = len(s)
        blocks = Blocks(seeds=torch.from_numpy(s.copy()), node_types=[et[2] for et in self.path],
                        edge_types=self.path, fanouts=self.fanouts)
        frontier, fmask, width = s, EMPTY_BOOL, 1
        for k, (csr, f) in enumerate(zip(self.csrs, self.fanouts, strict=True)):
            out = HopOut(b, width * f)
            nodes, mask, pre, eid = out.flat()
            # one fused kernel per hop: row lookup, sampling and all outputs, no intermediate arrays
            cnt = fused_hop(csr.indptr, csr.indices, frontier, fmask, width, f, seed, k, EMPTY_I64, EMPTY_I64,
                      EMPTY_I64, EMPTY_I64, EMPTY_I64, EMPTY_I64, EMPTY_I64, nodes, mask, pre, eid, EMPTY_I64,
                      EMPTY_I64)
            out.append_to(blocks, cnt)
            frontier, fmask, width = nodes, mask, width * f
        return blocks


def uniform_khop(graph: HeteroGraph, edge_type: EdgeType, seeds: Tensor | np.ndarray, fanouts: Sequence[int],
                 seed: int = 0) -> Blocks:
    """k-hop sample along one relation (its source and destination type must match beyond hop 1)."""
    return UniformSampler(graph, [edge_type] * len(fanouts), fanouts).sample(seeds, seed)
