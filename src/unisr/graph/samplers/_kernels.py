"""Numba kernels shared by the samplers: counter-based random numbers and per-row segment sampling.

Random numbers are a SplitMix64 hash of (seed, salt, row, draw), so a sample depends only on the seed and
the input, never on thread scheduling: the kernels run rows in parallel and stay deterministic.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_GOLD = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@nb.njit(inline="always", cache=True)
def _mix(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@nb.njit(inline="always", cache=True)
def _below(key: np.uint64, draw: np.int64, n: np.int64) -> np.int64:
    """Uniform integer in [0, n) for the ``draw``-th number of stream ``key``."""
    r = _mix(key + np.uint64(draw + 1) * _GOLD)
    return np.int64(r % np.uint64(n))


@nb.njit(inline="always", cache=True)
def _row_key(seed: np.int64, salt: np.int64, row: np.int64) -> np.uint64:
    return _mix(_mix(np.uint64(seed) * _GOLD + np.uint64(salt)) ^ (np.uint64(row) * _M2))


@nb.njit(parallel=True, cache=True)
def sample_segments(start: np.ndarray, end: np.ndarray, indices: np.ndarray, k: int, seed: int,
                    salt: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``k`` distinct edges of each segment ``[start[r], end[r])``, uniformly, in edge order.

    Shapes: start [N] int64, end [N] int64, indices [E] -> (nbr [N, k] int64, eid [N, k] int64), -1 padded.
    """
    n = start.shape[0]
    nbr = np.full((n, k), -1, np.int64)
    eid = np.full((n, k), -1, np.int64)
    for r in nb.prange(n):
        s = start[r]
        deg = end[r] - s
        if deg <= 0:
            continue
        if deg <= k:
            for j in range(deg):
                eid[r, j] = s + j
                nbr[r, j] = indices[s + j]
            continue
        key = _row_key(seed, salt, r)
        # Floyd's algorithm: k distinct offsets out of deg, written straight into eid[r] (no allocation),
        # then insertion-sorted (keeps the edge order, e.g. click time)
        for j in range(deg - k, deg):
            c = j - (deg - k)
            t = _below(key, j, j + 1)
            dup = False
            for m in range(c):
                if eid[r, m] == t:
                    dup = True
                    break
            eid[r, c] = j if dup else t
        for a in range(1, k):
            v = eid[r, a]
            b = a - 1
            while b >= 0 and eid[r, b] > v:
                eid[r, b + 1] = eid[r, b]
                b -= 1
            eid[r, b + 1] = v
        for j in range(k):
            eid[r, j] += s
            nbr[r, j] = indices[eid[r, j]]
    return nbr, eid


@nb.njit(parallel=True, cache=True)
def sample_segments_excluding(start: np.ndarray, end: np.ndarray, indices: np.ndarray, k: int, seed: int,
                              salt: int, owner: np.ndarray, excluded: np.ndarray, base: int,
                              max_tries: int) -> tuple[np.ndarray, np.ndarray]:
    """Like ``sample_segments`` but a neighbour ``w`` of row ``r`` with ``owner[r] * base + w`` in the
    sorted ``excluded`` keys is discarded and re-drawn (up to ``max_tries`` draws per slot).

    Shapes: start/end/owner [N] int64, excluded [X] int64 sorted -> (nbr [N, k], eid [N, k]), -1 padded.
    """
    n = start.shape[0]
    nbr = np.full((n, k), -1, np.int64)
    eid = np.full((n, k), -1, np.int64)
    nx = excluded.shape[0]
    for r in nb.prange(n):
        s = start[r]
        deg = end[r] - s
        if deg <= 0:
            continue
        okey = owner[r] * base
        key = _row_key(seed, salt, r)
        c = 0  # chosen offsets are kept in eid[r, :c] (no allocation per row)
        if deg <= k:
            for j in range(deg):
                w = np.int64(indices[s + j])
                if nx > 0:
                    p = np.searchsorted(excluded, okey + w)
                    if p < nx and excluded[p] == okey + w:
                        continue
                eid[r, c] = j
                c += 1
        else:
            draw = 0
            limit = max_tries * k
            while c < k and draw < limit:
                t = _below(key, draw, deg)
                draw += 1
                dup = False
                for m in range(c):
                    if eid[r, m] == t:
                        dup = True
                        break
                if dup:
                    continue
                w = np.int64(indices[s + t])
                if nx > 0:
                    p = np.searchsorted(excluded, okey + w)
                    if p < nx and excluded[p] == okey + w:
                        continue
                eid[r, c] = t
                c += 1
        for a in range(1, c):
            v = eid[r, a]
            b = a - 1
            while b >= 0 and eid[r, b] > v:
                eid[r, b + 1] = eid[r, b]
                b -= 1
            eid[r, b + 1] = v
        for j in range(c):
            eid[r, j] += s
            nbr[r, j] = indices[eid[r, j]]
    return nbr, eid


@nb.njit(parallel=True, cache=True)
def category_segments(cat_ptr: np.ndarray, cat_cat: np.ndarray, cat_start: np.ndarray, nodes: np.ndarray,
                      cats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edge segment of each ``(nodes[r], cats[r])`` in a category index (empty when absent).

    Shapes: nodes [N] int64 (negative or out of range = none), cats [N] int64 -> (start [N], end [N]) int64.
    """
    n = nodes.shape[0]
    nrows = cat_ptr.shape[0] - 1
    start = np.zeros(n, np.int64)
    end = np.zeros(n, np.int64)
    for r in nb.prange(n):
        u = nodes[r]
        if u < 0 or u >= nrows:
            continue
        lo = cat_ptr[u]
        hi = cat_ptr[u + 1]
        c = cats[r]
        while lo < hi:  # binary search for c among this row's sorted categories
            mid = (lo + hi) // 2
            if cat_cat[mid] < c:
                lo = mid + 1
            else:
                hi = mid
        if lo < cat_ptr[u + 1] and cat_cat[lo] == c:
            start[r] = cat_start[lo]
            end[r] = cat_start[lo + 1]
    return start, end
