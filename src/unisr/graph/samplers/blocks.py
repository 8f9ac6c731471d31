"""Sampled neighbourhoods as padded per-hop blocks with masks (ready for ``Batch.subgraph``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from unisr.graph.csr import CSR
from unisr.graph.samplers._kernels import sample_segments


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

    @property
    def num_sampled(self) -> int:
        return int(sum(int(m.sum()) for m in self.mask))

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


def row_segments(csr: CSR, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) of each node's row; empty for node < 0 or node >= num_src (unseen nodes).

    Shapes: nodes [N] int64 -> (start [N], end [N]) int64.
    """
    ok = (nodes >= 0) & (nodes < csr.num_src)
    safe = np.where(ok, nodes, 0)
    indptr = np.asarray(csr.indptr)
    start = np.where(ok, indptr[safe], 0)
    end = np.where(ok, indptr[safe + 1], 0)
    return start, end


def hop(csr: CSR, frontier: np.ndarray, k: int, seed: int, salt: int,
        start_end: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sample up to k neighbours of each frontier node (all rows of ``frontier``, flattened).

    Shapes: frontier [N] int64 -> (nbr [N, k], eid [N, k]) int64, -1 padded.
    """
    start, end = start_end if start_end is not None else row_segments(csr, frontier)
    return sample_segments(start, end, csr.indices, k, seed, salt)


def finish_hop(blocks: Blocks, nbr: np.ndarray, eid: np.ndarray, prev: np.ndarray, batch: int) -> np.ndarray:
    """Append one hop (flattened [N, k] results) to ``blocks``; return the next frontier ([N * k], -1 = none)."""
    mask = nbr >= 0
    pre = np.broadcast_to(prev[:, None], nbr.shape)
    blocks.nodes.append(torch.from_numpy(np.where(mask, nbr, 0).reshape(batch, -1)))
    blocks.mask.append(torch.from_numpy(mask.reshape(batch, -1)))
    blocks.pre.append(torch.from_numpy(np.where(mask, pre, 0).reshape(batch, -1)))
    blocks.edge.append(torch.from_numpy(eid.reshape(batch, -1)))
    return nbr.reshape(-1)
