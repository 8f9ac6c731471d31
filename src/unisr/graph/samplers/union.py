"""Uniform k-hop neighbour sampling over the union of several relations (GraphSAGE's sampler on a typed graph),
with the batch's positive pairs removed: the neighbourhood samplers of BOMGraph's single-scenario baselines
(GraphSAGE, AdaptiveGCN: Fan et al., CIKM'23, table 2).

The node types of the relations share one id space (``global = offset[type] + local``) and their edges form
one merged CSR (a node's neighbours = the set union of its relations' neighbours, duplicates kept once), so a
hop is one homogeneous draw whatever the types. A draw is uniform without replacement (all neighbours when
the degree is at most the fanout). An edge ``(u, w)`` of the batch's positives (given in either direction) is
discarded and re-drawn wherever it would enter the sample (sec. 3.2's re-sampling rule: the click being learnt
is no neighbour of its own endpoints, at any hop). ``by_node``: the draws below a seed are keyed by the seed
node and slot, not by its row, so a node's sample is the same in any batch (eval mode).

``scenario_relations`` names a search scenario's relations per node type (graph/build.py):
    search_text:    item -> rev_ce -> query, item -> OE_o -> item, item -> SE_o -> item; query -> CE -> item
    search_similar: item -> rev_ce -> trigger, OE_o, SE_o;                                trigger -> CE -> item
    search_visual:  item -> OE_o, SE_o (a visual query is no node: sec. 3.1)

Shapes:
    UnionSampler.sample(seeds [B] global ids, pairs [P, 2] global | None) -> UnionSample with
        nodes[k] [B, W_k] long global ids (0 where masked), mask[k] [B, W_k] bool, W_k = fanouts[0] * .. * [k]
    UnionSample.flat() -> (nodes [B, n], mask [B, n]), n = 1 + W_1 + .. + W_K (slot 0 = the seed);
    tree_parent(fanouts) -> [n] long, each slot's parent slot (-1 for the seed)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numba as nb
import numpy as np
import torch
from torch import Tensor

from unisr.graph.build import ITEM_CE_QUERY, ITEM_CE_TRIGGER, QUERY_CE, TRIGGER_CE, oe_type, se_type
from unisr.graph.csr import from_coo
from unisr.graph.samplers._kernels import _row_key, match_torch_threads
from unisr.graph.samplers._metapath_kernels import _sample_excluding
from unisr.graph.samplers.blocks import as_index
from unisr.graph.store import EdgeType, HeteroGraph

# the node type a scenario's query tower starts from (a visual query is no node)
QUERY_TYPE = {"search_text": "query", "search_similar": "trigger"}


def scenario_relations(graph: HeteroGraph, name: str, kind: str) -> dict[str, list[EdgeType]]:
    """Node type -> the relations of search scenario ``name`` (of ``kind``) that exist in ``graph``."""
    item = [oe_type(name), se_type(name)]
    rels: dict[str, list[EdgeType]] = {"item": item}
    if kind == "search_text":
        rels = {"item": [ITEM_CE_QUERY, *item], "query": [QUERY_CE]}
    elif kind == "search_similar":
        rels = {"item": [ITEM_CE_TRIGGER, *item], "trigger": [TRIGGER_CE]}
    elif kind != "search_visual":
        raise ValueError(f"scenario {name!r}: no search-graph relations for kind {kind!r}")
    out = {t: [et for et in ets if et in graph.relations] for t, ets in rels.items()}
    return {t: ets for t, ets in out.items() if ets}


def tree_parent(fanouts: Sequence[int]) -> Tensor:
    """[n] the parent slot of each slot of a flattened k-hop tree (slot 0 = the seed, parent -1); slot j of hop
    k hangs below slot j // fanouts[k-1] of hop k-1."""
    parent, start, width = [-1], 0, 1
    for f in fanouts:
        nxt = start + width
        parent.extend(start + j // f for j in range(width * f))
        start, width = nxt, width * f
    return torch.tensor(parent, dtype=torch.long)


@dataclass
class UnionSample:
    """A k-hop sample around B seeds in the merged id space.

    Shapes:
        seeds [B]; nodes[k], mask[k] [B, W_k]; flat() -> ([B, n], [B, n])
    """

    seeds: Tensor
    nodes: list[Tensor]
    mask: list[Tensor]
    fanouts: list[int]

    def flat(self) -> tuple[Tensor, Tensor]:
        b = len(self.seeds)
        nodes = torch.cat([self.seeds.view(b, 1), *self.nodes], 1)
        mask = torch.cat([torch.ones(b, 1, dtype=torch.bool), *self.mask], 1)
        return nodes, mask


@nb.njit(parallel=True, cache=True)
def _union_hop(indptr: np.ndarray, indices: np.ndarray, frontier: np.ndarray, fmask: np.ndarray,
               seeds: np.ndarray, width: int, k: int, seed: int, salt: int, excluded: np.ndarray, base: int,
               max_tries: int, by_node: bool, nodes: np.ndarray, mask: np.ndarray, eid: np.ndarray) -> int:
    """One hop: up to ``k`` distinct neighbours of each frontier slot (``[B * width]``) into ``[B * width * k]``
    outputs; an edge (u, w) whose key ``u * base + w`` is in the sorted ``excluded`` is re-drawn."""
    nt = frontier.shape[0]
    nr = indptr.shape[0] - 1
    tot = 0
    for t in nb.prange(nt):
        o = t * k
        c = 0
        u = frontier[t]
        if (fmask.shape[0] == 0 or fmask[t]) and u >= 0 and u < nr and indptr[u + 1] > indptr[u]:
            r = t // width
            kt = seeds[r] * width + (t - r * width) if by_node else t
            c = _sample_excluding(indices, indptr[u], indptr[u + 1], k, _row_key(seed, salt, kt), u * base,
                                  excluded, max_tries, eid, o)
        tot += c
        for j in range(c):
            nodes[o + j] = indices[eid[o + j]]
            mask[o + j] = True
        for j in range(c, k):
            nodes[o + j] = 0
            mask[o + j] = False
            eid[o + j] = -1
    return tot


class UnionSampler:
    """Uniform ``fanouts``-hop sampling over the union of ``relations`` (node type -> its relations).

    Shapes:
        sample(seeds [B], pairs [P, 2] | None) -> UnionSample; to_global(type, local [n]) -> [n];
        node_type(global [...]) -> [...] type index into ``types``
    """

    def __init__(self, graph: HeteroGraph, relations: Mapping[str, Sequence[EdgeType]], fanouts: Sequence[int],
                 max_tries: int = 8) -> None:
        if not fanouts or any(f < 1 for f in fanouts):
            raise ValueError(f"fanouts must be a non-empty list of values >= 1, got {list(fanouts)}")
        types: list[str] = []
        for src, ets in relations.items():
            for et in ets:
                if et[0] != src:
                    raise ValueError(f"relation {et} starts at {et[0]!r}, listed under node type {src!r}")
                graph.rel(et)  # names the missing relation
                for t in (et[0], et[2]):
                    if t not in types:
                        types.append(t)
        if not types:
            raise ValueError("UnionSampler: no relations given")
        self.graph = graph
        self.relations = {t: list(ets) for t, ets in relations.items()}
        self.fanouts = [int(f) for f in fanouts]
        self.max_tries = max_tries
        self.types = types
        sizes = [graph.num_nodes[t] for t in types]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.offset = {t: int(self.offsets[i]) for i, t in enumerate(types)}
        self.base = int(self.offsets[-1])
        src, dst = [], []
        for ets in self.relations.values():
            for et in ets:
                csr = graph.rel(et)
                src.append(np.repeat(np.arange(csr.num_src, dtype=np.int64), np.diff(csr.indptr)) + self.offset[et[0]])
                dst.append(csr.indices.astype(np.int64) + self.offset[et[2]])
        merged = from_coo(np.concatenate(src), np.concatenate(dst), self.base, self.base, dedupe=True)
        self.indptr, self.indices = merged.indptr, merged.indices.astype(np.int64)

    def to_global(self, node_type: str, local: Tensor | np.ndarray) -> Tensor:
        if node_type not in self.offset:
            raise KeyError(f"node type {node_type!r} is not in this sampler's relations (types {self.types})")
        return torch.as_tensor(as_index(local)) + self.offset[node_type]

    def node_type(self, nodes: Tensor) -> Tensor:
        """Index into ``types`` of each global id."""
        return torch.bucketize(nodes, torch.as_tensor(self.offsets[1:]), right=True)

    def degree(self, nodes: Tensor | np.ndarray) -> np.ndarray:
        n = as_index(nodes)
        return self.indptr[n + 1] - self.indptr[n]

    def _keys(self, pairs: Tensor | np.ndarray | None) -> np.ndarray:
        if pairs is None:
            return np.zeros(0, np.int64)
        a = as_index(pairs).reshape(-1, 2)
        return np.unique(np.concatenate([a[:, 0] * self.base + a[:, 1], a[:, 1] * self.base + a[:, 0]]))

    def sample(self, seeds: Tensor | np.ndarray, pairs: Tensor | np.ndarray | None = None, seed: int = 0,
               by_node: bool = False) -> UnionSample:
        """``seeds`` [B] global ids; ``pairs`` [P, 2] global (u, w): edges left out of the sample."""
        match_torch_threads()
        s = as_index(seeds)
        b = len(s)
        ex = self._keys(pairs)
        frontier, fmask, width = s, np.zeros(0, np.bool_), 1
        nodes_out, mask_out = [], []
        for hop, f in enumerate(self.fanouts):
            nodes = torch.empty(b * width * f, dtype=torch.long)
            mask = torch.empty(b * width * f, dtype=torch.bool)
            eid = np.empty(b * width * f, np.int64)
            _union_hop(self.indptr, self.indices, frontier, fmask, s, width, f, seed, 7919 * (hop + 1), ex,
                       self.base, self.max_tries, by_node, nodes.numpy(), mask.numpy(), eid)
            nodes_out.append(nodes.view(b, width * f))
            mask_out.append(mask.view(b, width * f))
            frontier, fmask, width = nodes.numpy(), mask.numpy(), width * f
        return UnionSample(torch.from_numpy(s.copy()), nodes_out, mask_out, list(self.fanouts))


class ScenarioSamplers:
    """One ``UnionSampler`` per search scenario of a model (``scenario_relations``); ``graph`` is the shared
    graph (the training objective reads it).

    Shapes:
        self[name] -> UnionSampler
    """

    def __init__(self, graph: HeteroGraph, scenarios: Mapping[str, str], fanouts: Sequence[int]) -> None:
        self.graph = graph
        self.by_scenario = {}
        for name, kind in scenarios.items():
            rels = scenario_relations(graph, name, kind)
            if not rels:
                raise ValueError(f"search scenario {name!r} ({kind}) has no relation in the graph")
            self.by_scenario[name] = UnionSampler(graph, rels, fanouts)

    def __getitem__(self, name: str) -> UnionSampler:
        return self.by_scenario[name]
