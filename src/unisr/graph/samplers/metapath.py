"""BOMGraph's metapath-guided sub-graph sampling (paper eqs. 1-3).

Intra-scenario metapaths (S = similar-product search, K = textual search, V = visual search):
    M_t^S = t -CE-> i -CE-> t'      M_i^S = i -CE-> t -CE-> i'
    M_q^K = q -CE-> i -CE-> q'      M_i^K = i -CE-> q -CE-> i'
    M_i^V = i -OE_V-> i' -SE_V-> i''
Inter-scenario metapaths (content similarity across scenarios):
    M^{S-K-V} = i -SE_K-> i' -SE_V-> i''   M^{K-V-S} = i -SE_V-> i' -SE_S-> i''   M^{V-S-K} = i -SE_S-> i' -SE_K-> i''
From each start node, ``one_hop`` nodes are drawn among its one-hop neighbours and ``two_hop`` nodes among the
two-hop neighbours (each two-hop node extends one of the sampled one-hop nodes). A neighbour that forms a
positive pair with the start node in the mini-batch is discarded and re-drawn.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor

from unisr.graph.build import ITEM_CE_QUERY, ITEM_CE_TRIGGER, QUERY_CE, TRIGGER_CE, oe_type, se_type
from unisr.graph.samplers._metapath_kernels import metapath_hops
from unisr.graph.samplers.blocks import Blocks, HopOut, as_index
from unisr.graph.store import EdgeType, HeteroGraph


def metapaths(graph: HeteroGraph) -> dict[str, list[EdgeType]]:
    """The eight metapaths of the paper whose relations exist in ``graph``."""
    names, kinds = graph.meta.get("scenarios", []), graph.meta.get("scenario_kinds", [])
    first = {}
    for n, k in zip(names, kinds, strict=False):
        first.setdefault(k, n)
    s, k_, v = first.get("search_similar"), first.get("search_text"), first.get("search_visual")
    cand: dict[str, list[EdgeType]] = {
        "M_t^S": [TRIGGER_CE, ITEM_CE_TRIGGER],
        "M_i^S": [ITEM_CE_TRIGGER, TRIGGER_CE],
        "M_q^K": [QUERY_CE, ITEM_CE_QUERY],
        "M_i^K": [ITEM_CE_QUERY, QUERY_CE],
    }
    if v:
        cand["M_i^V"] = [oe_type(v), se_type(v)]
    if s and k_ and v:
        cand["M^{S-K-V}"] = [se_type(k_), se_type(v)]
        cand["M^{K-V-S}"] = [se_type(v), se_type(s)]
        cand["M^{V-S-K}"] = [se_type(s), se_type(k_)]
    return {n: p for n, p in cand.items() if all(et in graph.relations for et in p)}


def _pair_keys(pairs: np.ndarray | Tensor | None, base: int) -> np.ndarray:
    if pairs is None:
        return np.zeros(0, np.int64)
    a = pairs.detach().cpu().numpy() if isinstance(pairs, Tensor) else np.asarray(pairs)
    a = a.reshape(-1, 2).astype(np.int64)
    return np.unique(a[:, 0] * base + a[:, 1])


class MetapathSampler:
    """Samples ``one_hop`` + ``two_hop`` nodes along each metapath from its start nodes."""

    def __init__(self, graph: HeteroGraph, paths: Mapping[str, list[EdgeType]] | None = None,
                 one_hop: int = 3, two_hop: int = 3, max_tries: int = 8) -> None:
        if one_hop < 1 or two_hop < 1:
            raise ValueError("one_hop and two_hop must be >= 1")
        self.graph = graph
        self.paths = dict(paths if paths is not None else metapaths(graph))
        for name, p in self.paths.items():
            if len(p) != 2 or p[0][2] != p[1][0]:
                raise ValueError(f"metapath {name}: need two chained relations, got {p}")
            for et in p:
                graph.rel(et)
        self.one_hop, self.two_hop, self.max_tries = one_hop, two_hop, max_tries
        self.base = max(graph.num_nodes.values()) + 1

    def sample_path(self, name: str, starts: Tensor | np.ndarray,
                    positives: Mapping[str, np.ndarray | Tensor] | None = None, seed: int = 0,
                    by_node: bool = False) -> Blocks:
        """Shapes: starts [B] nodes of the path's start type; ``positives[node_type]``: [P, 2] pairs
        (start node, node of that type) that are positive in the mini-batch -> Blocks with hop 1 [B, one_hop]
        and hop 2 [B, two_hop]; ``extra['pre_slot']`` is the hop-1 slot a hop-2 node extends. ``by_node``: draws
        keyed by the start node, not its row (a node's sample is the same in any batch)."""
        path = self.paths[name]
        s = as_index(starts)
        b = len(s)
        positives = positives or {}
        salt = sum(ord(c) for c in name) * 131
        blk = Blocks(seeds=torch.from_numpy(s.copy()), node_types=[path[0][2], path[1][2]], edge_types=path,
                     fanouts=[self.one_hop, self.two_hop], extra={"pre_slot": []})
        c1, c2 = self.graph.rel(path[0]), self.graph.rel(path[1])
        h1, h2 = HopOut(b, self.one_hop), HopOut(b, self.two_hop, extras=1)
        n1, m1, p1, e1 = h1.flat()
        n2, m2, p2, e2, slot2 = h2.flat()
        # both hops in one kernel: hop-2 slot j extends the (j mod #valid)-th sampled one-hop node
        cnt1, cnt2 = metapath_hops(c1.indptr, c1.indices, c2.indptr, c2.indices, s, self.one_hop, self.two_hop, seed, salt,
                      _pair_keys(positives.get(path[0][2]), self.base),
                      _pair_keys(positives.get(path[1][2]), self.base), self.base, self.max_tries,
                      n1, m1, p1, e1, n2, m2, p2, e2, slot2, by_node)
        h1.append_to(blk, cnt1)
        h2.append_to(blk, cnt2)
        blk.extra["pre_slot"] = [torch.zeros(b, self.one_hop, dtype=torch.long), h2.extras[0]]
        return blk

    def sample(self, starts: Mapping[str, Tensor | np.ndarray],
               positives: Mapping[str, np.ndarray | Tensor] | None = None, seed: int = 0) -> dict[str, Blocks]:
        """Every metapath whose start type is in ``starts`` (node type -> [B] nodes) -> name -> Blocks."""
        return {n: self.sample_path(n, starts[p[0][0]], positives, seed) for n, p in self.paths.items()
                if p[0][0] in starts}

    def subgraph(self, starts: Mapping[str, Tensor | np.ndarray],
                 positives: Mapping[str, np.ndarray | Tensor] | None = None, seed: int = 0) -> dict[str, Tensor]:
        """``Batch.subgraph`` entries ``mp.<metapath>.*``."""
        out: dict[str, Tensor] = {}
        for n, blk in self.sample(starts, positives, seed).items():
            out.update(blk.to_subgraph(f"mp.{n}"))
        return out
