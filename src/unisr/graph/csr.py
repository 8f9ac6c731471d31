"""Compressed sparse rows (CSR) for one edge type, with per-edge attribute arrays.

Row ``r``'s neighbours are ``indices[indptr[r]:indptr[r + 1]]``; attribute ``a`` of those edges is
``attrs[a][indptr[r]:indptr[r + 1]]``. ``indices`` is int32 whenever the destination count fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

INT32_MAX = np.iinfo(np.int32).max


def index_dtype(n: int) -> np.dtype:
    """The smallest of int32 / int64 that holds node ids ``0..n-1`` (or edge offsets up to ``n``)."""
    return np.dtype(np.int32) if n <= INT32_MAX else np.dtype(np.int64)


@dataclass
class CSR:
    """One relation ``src -> dst`` as CSR.

    Shapes:
        indptr: [num_src + 1] int64, row offsets
        indices: [E] int32 (int64 when num_dst > 2**31 - 1), destination node per edge
        attrs: name -> [E] array, aligned with ``indices``
    """

    indptr: np.ndarray
    indices: np.ndarray
    num_dst: int
    attrs: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def num_src(self) -> int:
        return int(len(self.indptr) - 1)

    @property
    def num_edges(self) -> int:
        return int(len(self.indices))

    def degree(self, nodes: np.ndarray | None = None) -> np.ndarray:
        """Shapes: nodes [N] -> [N] int64 (all rows when ``nodes`` is None)."""
        deg = np.diff(self.indptr)
        return deg if nodes is None else deg[np.asarray(nodes, dtype=np.int64)]

    def neighbors(self, node: int) -> np.ndarray:
        """Neighbours of one row (for tests and inspection; samplers never loop over nodes)."""
        if node < 0 or node >= self.num_src:
            return self.indices[:0]
        return self.indices[self.indptr[node]:self.indptr[node + 1]]

    def nbytes(self) -> int:
        return int(self.indptr.nbytes + self.indices.nbytes + sum(a.nbytes for a in self.attrs.values()))

    def has_edges(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Whether each ``(src[k], dst[k])`` is an edge (vectorised via sorted row keys).

        Shapes: src [N], dst [N] -> [N] bool.
        """
        src = np.asarray(src, dtype=np.int64).ravel()
        dst = np.asarray(dst, dtype=np.int64).ravel()
        ok = (src >= 0) & (src < self.num_src)
        row = np.repeat(np.arange(self.num_src, dtype=np.int64), np.diff(self.indptr))
        keys = np.sort(row * (self.num_dst + 1) + self.indices.astype(np.int64))
        q = np.where(ok, src, 0) * (self.num_dst + 1) + dst
        pos = np.clip(np.searchsorted(keys, q), 0, max(len(keys) - 1, 0))
        return ok & (len(keys) > 0) & (keys[pos] == q) if len(keys) else np.zeros(len(src), bool)

    def transpose(self, sort_attr: str | None = None) -> tuple[CSR, np.ndarray]:
        """The reverse relation and, per reverse edge, the id of its forward edge.

        Rows of the result are ordered by ``sort_attr`` (e.g. ``ts``) within each destination when given.
        """
        row = np.repeat(np.arange(self.num_src, dtype=np.int64), np.diff(self.indptr))
        keys = [row] if sort_attr is None else [self.attrs[sort_attr], row]
        rev = from_coo(self.indices.astype(np.int64), row, self.num_dst, self.num_src,
                       {"eid": np.arange(self.num_edges, dtype=index_dtype(self.num_edges))},
                       sort_keys=keys)
        return rev, rev.attrs["eid"]


def from_coo(src: np.ndarray, dst: np.ndarray, num_src: int, num_dst: int,
             attrs: dict[str, np.ndarray] | None = None, sort_keys: list[np.ndarray] | None = None,
             dedupe: bool = False) -> CSR:
    """CSR from edge lists. Edges of a row are ordered by ``sort_keys`` (last key = least significant;
    default: by destination). ``dedupe`` keeps one edge per (src, dst) pair (the first in that order).

    Shapes: src [E], dst [E], attrs name -> [E], sort_keys list of [E] -> CSR with E' <= E edges.
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    attrs = dict(attrs or {})
    if len(src) and (src.min() < 0 or src.max() >= num_src or dst.min() < 0 or dst.max() >= num_dst):
        raise ValueError("from_coo: node id out of range")
    keys = list(sort_keys) if sort_keys is not None else [dst]
    order = np.lexsort(tuple(reversed([src, *keys]))) if len(src) else np.zeros(0, np.int64)
    src, dst = src[order], dst[order]
    attrs = {k: np.asarray(v)[order] for k, v in attrs.items()}
    if dedupe and len(src):
        o2 = np.lexsort((dst, src))  # stable: keeps the first edge of each pair in the chosen order
        s2, d2 = src[o2], dst[o2]
        first = np.ones(len(src), bool)
        first[1:] = (s2[1:] != s2[:-1]) | (d2[1:] != d2[:-1])
        keep = np.sort(o2[first])
        src, dst = src[keep], dst[keep]
        attrs = {k: v[keep] for k, v in attrs.items()}
    indptr = np.zeros(num_src + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=num_src), out=indptr[1:])
    return CSR(indptr=indptr, indices=dst.astype(index_dtype(num_dst)), num_dst=int(num_dst), attrs=attrs)


def empty_csr(num_src: int, num_dst: int) -> CSR:
    return CSR(np.zeros(num_src + 1, np.int64), np.zeros(0, index_dtype(num_dst)), int(num_dst))
