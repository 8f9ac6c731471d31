"""Numba kernels of the metapath sampler (``metapath.py``): two hops along a metapath with rejection of the
positive pairs, on the counter-based random numbers of ``_kernels.py`` (deterministic under any thread count).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from unisr.graph.samplers._kernels import _below, _choose_sorted, _row_key, match_torch_threads


@nb.njit(inline="always", cache=True)
def _sample_excluding(indices: np.ndarray, s: np.int64, e: np.int64, k: np.int64, key: np.uint64,
                      okey: np.int64, excluded: np.ndarray, max_tries: np.int64, buf: np.ndarray, o: np.int64
                      ) -> np.int64:
    """Up to ``k`` distinct edges of ``[s, e)`` into ``buf[o:]`` (ascending edge ids); a neighbour ``w``
    with ``okey + w`` in the sorted ``excluded`` keys is discarded and re-drawn (``max_tries * k`` draws)."""
    deg = e - s
    nx = excluded.shape[0]
    c = 0
    if deg <= 0:
        return c
    if deg <= k:
        for j in range(s, e):
            if nx > 0:
                w = okey + np.int64(indices[j])
                p = np.searchsorted(excluded, w)
                if p < nx and excluded[p] == w:
                    continue
            buf[o + c] = j
            c += 1
        return c
    if nx == 0:
        _choose_sorted(key, deg, k, buf, o)
        for j in range(k):
            buf[o + j] += s
        return k
    draw = 0
    limit = max_tries * k
    while c < k and draw < limit:
        t = s + _below(key, draw, deg)
        draw += 1
        dup = False
        for m in range(c):
            if buf[o + m] == t:
                dup = True
                break
        if dup:
            continue
        w = okey + np.int64(indices[t])
        p = np.searchsorted(excluded, w)
        if p < nx and excluded[p] == w:
            continue
        buf[o + c] = t
        c += 1
    for a in range(1, c):
        v = buf[o + a]
        b = a - 1
        while b >= 0 and buf[o + b] > v:
            buf[o + b + 1] = buf[o + b]
            b -= 1
        buf[o + b + 1] = v
    return c


def metapath_hops(*args) -> tuple[int, int]:
    """``_metapath_hops`` on torch's thread count (``match_torch_threads``); same arguments."""
    match_torch_threads()
    return _metapath_hops(*args)


@nb.njit(parallel=True, cache=True)
def _metapath_hops(indptr1: np.ndarray, indices1: np.ndarray, indptr2: np.ndarray, indices2: np.ndarray,
                  starts: np.ndarray, k1: int, k2: int, seed: int, salt: int, ex1: np.ndarray, ex2: np.ndarray,
                  base: int, max_tries: int, n1: np.ndarray, m1: np.ndarray, p1: np.ndarray, e1: np.ndarray,
                  n2: np.ndarray, m2: np.ndarray, p2: np.ndarray, e2: np.ndarray, slot2: np.ndarray,
                  by_node: bool = False) -> tuple[int, int]:
    """Both hops of a metapath, into preallocated flat outputs ([B * k1] and [B * k2]).

    Hop 1: up to ``k1`` distinct neighbours of each start (positive pairs ``start * base + node`` in the
    sorted ``ex1`` re-drawn). Hop 2: slot ``j`` extends the ``(j mod #hop-1)``-th hop-1 node by one
    neighbour (``ex2`` likewise); ``slot2`` records that hop-1 slot (-1 where masked). Returns the number of
    sampled slots per hop. ``by_node``: the random draws are keyed by the start node instead of its row, so a
    node's sample does not depend on the batch it is in (a corpus embedded in any chunking gives one vector).

    Four passes over rows (row bounds, hop 1, hop-2 row bounds, hop 2): short loop bodies whose loads are
    independent across rows let their cache misses overlap (as in ``fused_hop``).
    """
    b = starts.shape[0]
    nr1 = indptr1.shape[0] - 1
    nr2 = indptr2.shape[0] - 1
    # pass 1: row bounds of the starts, and each start's window of positive-pair keys
    # [u * base, (u + 1) * base) in the sorted exclusion lists (rows without any take the rejection-free path)
    bnd = np.zeros((b, 6), np.int64)
    for r in nb.prange(b):
        u = starts[r]
        if u >= 0 and u < nr1:
            bnd[r, 0] = indptr1[u]
            bnd[r, 1] = indptr1[u + 1]
        bnd[r, 2] = np.searchsorted(ex1, u * base)
        bnd[r, 3] = np.searchsorted(ex1, (u + 1) * base)
        bnd[r, 4] = np.searchsorted(ex2, u * base)
        bnd[r, 5] = np.searchsorted(ex2, (u + 1) * base)
    # pass 2: hop 1
    cnt1 = np.zeros(b, np.int64)
    tot1 = 0
    for r in nb.prange(b):
        u = starts[r]
        o = r * k1
        c = 0
        if bnd[r, 1] > bnd[r, 0]:
            c = _sample_excluding(indices1, bnd[r, 0], bnd[r, 1], k1, _row_key(seed, salt, u if by_node else r), u * base,
                                  ex1[bnd[r, 2]:bnd[r, 3]], max_tries, e1, o)
        cnt1[r] = c
        tot1 += c
        for j in range(c):
            n1[o + j] = indices1[e1[o + j]]
            m1[o + j] = True
            p1[o + j] = u
        for j in range(c, k1):
            n1[o + j] = 0
            m1[o + j] = False
            p1[o + j] = 0
            e1[o + j] = -1
    # pass 3: row bounds of the hop-1 nodes each hop-2 slot extends
    nt = b * k2
    bnd2 = np.zeros((nt, 2), np.int64)
    for t in nb.prange(nt):
        r = t // k2
        c = cnt1[r]
        if c > 0:
            v = n1[r * k1 + (t - r * k2) % c]
            if v >= 0 and v < nr2:
                bnd2[t, 0] = indptr2[v]
                bnd2[t, 1] = indptr2[v + 1]
    # pass 4: hop 2, one neighbour per slot
    tot2 = 0
    for t in nb.prange(nt):
        r = t // k2
        c = cnt1[r]
        got = 0
        v = np.int64(0)
        sl = 0
        if c > 0:
            sl = (t - r * k2) % c
            v = n1[r * k1 + sl]
            if bnd2[t, 1] > bnd2[t, 0]:
                kt = starts[r] * k2 + (t - r * k2) if by_node else t
                got = _sample_excluding(indices2, bnd2[t, 0], bnd2[t, 1], 1, _row_key(seed, salt + 1, kt),
                                        starts[r] * base, ex2[bnd[r, 4]:bnd[r, 5]], max_tries, e2, t)
        if got:
            tot2 += 1
            n2[t] = indices2[e2[t]]
            m2[t] = True
            p2[t] = v
            slot2[t] = sl
        else:
            n2[t] = 0
            m2[t] = False
            p2[t] = 0
            e2[t] = -1
            slot2[t] = -1
    return tot1, tot2
