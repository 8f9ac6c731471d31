"""Numba kernels shared by the samplers: counter-based random numbers and per-row segment sampling (the
metapath sampler's kernels, which build on these, are in ``_metapath_kernels.py``).

Random numbers are a SplitMix64 hash of (seed, salt, row, draw), so a sample depends only on the seed and
the input, never on thread scheduling: the kernels run rows in parallel and stay deterministic.

Threads: numba's ``omp`` layer shares torch's OpenMP runtime, and launching numba's pool calls
``omp_set_num_threads(<cores>)``, which silently undid ``torch.set_num_threads(train.threads)``: a
``train.threads=1`` run of SRJGraph then ran torch on every core, and two such jobs on a 2-core box took
8.0 s per step instead of 2.8 s. So the pool is launched here, at import, and torch's count restored; each
kernel call then runs on torch's thread count (``match_torch_threads``). Measured in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import torch

EMPTY_CAT = np.zeros(0, np.int32)
EMPTY_TS = np.zeros(0, np.int64)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _launch_pool_keeping_torch_threads() -> None:
    n = torch.get_num_threads()
    from numba.np.ufunc.parallel import _launch_threads

    _launch_threads()
    torch.set_num_threads(n)


_launch_pool_keeping_torch_threads()


def match_torch_threads() -> int:
    """Run this thread's numba kernels on ``torch.get_num_threads()`` threads (at most numba's pool size).

    numba's thread count is thread-local, so a server's worker threads each set their own. Returns it.
    """
    n = max(1, min(torch.get_num_threads(), nb.config.NUMBA_NUM_THREADS))
    if nb.get_num_threads() != n:
        nb.set_num_threads(n)
    return n


@nb.njit(inline="always", cache=True)
def _mix(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@nb.njit(inline="always", cache=True)
def _below(key: np.uint64, draw: np.int64, n: np.int64) -> np.int64:
    """Uniform integer in [0, n) (n < 2**32) for the ``draw``-th number of stream ``key`` (multiply-shift
    of the top 32 bits instead of a 64-bit modulo)."""
    r = _mix(key + np.uint64(draw + 1) * _GOLD)
    return np.int64(((r >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))


@nb.njit(inline="always", cache=True)
def _row_key(seed: np.int64, salt: np.int64, row: np.int64) -> np.uint64:
    return _mix(_mix(np.uint64(seed) * _GOLD + np.uint64(salt)) ^ (np.uint64(row) * _M2))


@nb.njit(inline="always", cache=True)
def _choose_sorted(key: np.uint64, n: np.int64, k: np.int64, buf: np.ndarray, o: np.int64) -> None:
    """``k`` distinct ranks of ``[0, n)`` (n > k) into ``buf[o:o + k]``, ascending (Floyd's algorithm)."""
    for j in range(n - k, n):
        c = j - (n - k)
        t = _below(key, j, j + 1)
        dup = False
        for m in range(c):
            if buf[o + m] == t:
                dup = True
                break
        buf[o + c] = j if dup else t
    for a in range(1, k):
        v = buf[o + a]
        b = a - 1
        while b >= 0 and buf[o + b] > v:
            buf[o + b + 1] = buf[o + b]
            b -= 1
        buf[o + b + 1] = v


@nb.njit(inline="always", cache=True)
def _category_range(indices: np.ndarray, item_cat: np.ndarray, s: np.int64, e: np.int64, c: np.int64
                    ) -> tuple[np.int64, np.int64]:
    """The edges of ``[s, e)`` whose destination has category ``c`` (the row is sorted by category)."""
    lo, hi = s, e
    while lo < hi:
        mid = (lo + hi) // 2
        if np.int64(item_cat[indices[mid]]) < c:
            lo = mid + 1
        else:
            hi = mid
    a = lo
    hi = e
    while lo < hi:
        mid = (lo + hi) // 2
        if np.int64(item_cat[indices[mid]]) <= c:
            lo = mid + 1
        else:
            hi = mid
    return a, lo


@nb.njit(inline="always", cache=True)
def _first_geq(a: np.ndarray, lo: np.int64, hi: np.int64, v: np.int64) -> np.int64:
    """The first j in [lo, hi) with a[j] >= v ([lo, hi) sorted ascending), else hi."""
    while lo < hi:
        mid = (lo + hi) // 2
        if np.int64(a[mid]) < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


@nb.njit(inline="always", cache=True)
def _edge_category_range(edge_cat: np.ndarray, s: np.int64, e: np.int64, c: np.int64) -> tuple[np.int64, np.int64]:
    """As ``_category_range`` with the destination categories already aligned with the edges
    (``edge_cat[j] == item_cat[indices[j]]``): one array, a row's categories in one or two cache lines."""
    a = _first_geq(edge_cat, s, e, c)
    return a, _first_geq(edge_cat, a, e, c + 1)


def fused_hop(indptr: np.ndarray, indices: np.ndarray, prev: np.ndarray, prev_mask: np.ndarray, width: int,
              k: int, seed: int, salt: int, item_cat: np.ndarray, seed_cat: np.ndarray, excl_src: np.ndarray,
              excl_dst: np.ndarray, attr_map: np.ndarray, attr_a: np.ndarray, attr_b: np.ndarray,
              nodes: np.ndarray, mask: np.ndarray, pre: np.ndarray, eid: np.ndarray, out_a: np.ndarray,
              out_b: np.ndarray, edge_cat: np.ndarray | None = None, edge_ts: np.ndarray | None = None,
              seed_ts: np.ndarray | None = None) -> int:
    """One sampling hop, written straight into preallocated flat outputs of ``len(prev) * k`` slots.

    Row ``r`` (frontier node ``prev[r]``, skipped when ``prev_mask[r]`` is False or the node is out of range)
    gets up to ``k`` distinct edges of its CSR row uniformly, in edge order; slot ``r * k + j``. Row ``r``
    belongs to seed ``r // width``. Optional parts (an empty array switches one off):

    * ``item_cat`` [num_dst] + ``seed_cat`` [B]: only edges whose destination has the seed's category
      (the row must be sorted by destination category). ``edge_cat`` [E] (optional, same result):
      ``item_cat[indices]`` precomputed, searched instead of ``item_cat`` (fewer dependent cache misses).
    * ``excl_src``/``excl_dst`` [B]: a row whose node is ``excl_src[seed]`` never samples ``excl_dst[seed]``.
    * ``edge_ts`` [E] + ``seed_ts`` [B]: only edges with ``edge_ts < seed_ts[seed]`` (the graph as of the
      seed's time); the candidate range of a row (after the category filter) must be sorted by ``edge_ts``.
    * ``attr_map`` [E]: edge ``e``'s attributes are at ``attr_map[e]`` (reverse -> forward edge id).
    * ``attr_a``/``attr_b``: per-edge attributes gathered into ``out_a``/``out_b`` (0 where masked; an
      empty ``out_a``/``out_b`` switches the gather off).

    Outputs: nodes/pre int64 (0 where masked), mask bool, eid int64 (-1 where masked), out_a/out_b int64.
    Returns the number of sampled slots.
    """
    # Three kernels, each over all rows: segments, offsets, gather. One pass per row chains two cache misses
    # (indptr -> indices) and ran ~3x slower than passes whose loads are independent across rows.
    match_torch_threads()
    ecat = EMPTY_CAT if edge_cat is None or item_cat.shape[0] == 0 else edge_cat
    if edge_ts is None or seed_ts is None:
        edge_ts = seed_ts = EMPTY_TS
    seg = _hop_segments(indptr, indices, prev, prev_mask, width, item_cat, seed_cat, excl_src, excl_dst, ecat,
                        edge_ts, seed_ts)
    _hop_offsets(seg, indices, width, k, seed, salt, excl_dst, eid)
    _hop_gather(indices, prev, k, eid, attr_map, attr_a, attr_b, nodes, mask, pre, out_a, out_b)
    return int(np.count_nonzero(mask))


@nb.njit(parallel=True, cache=True)
def _hop_segments(indptr: np.ndarray, indices: np.ndarray, prev: np.ndarray, prev_mask: np.ndarray, width: int,
                  item_cat: np.ndarray, seed_cat: np.ndarray, excl_src: np.ndarray, excl_dst: np.ndarray,
                  edge_cat: np.ndarray, edge_ts: np.ndarray, seed_ts: np.ndarray) -> np.ndarray:
    """[N, 3] (start, end, #excluded edges) of each frontier row's candidate edges."""
    n = prev.shape[0]
    nrows = indptr.shape[0] - 1
    has_pm = prev_mask.shape[0] > 0
    has_cat = item_cat.shape[0] > 0
    has_ecat = edge_cat.shape[0] > 0
    has_ex = excl_src.shape[0] > 0
    has_ts = seed_ts.shape[0] > 0
    seg = np.zeros((n, 3), np.int64)
    for r in nb.prange(n):
        u = prev[r]
        if (not has_pm or prev_mask[r]) and u >= 0 and u < nrows:
            s = indptr[u]
            e = indptr[u + 1]
            si = r // width
            if has_ecat:
                s, e = _edge_category_range(edge_cat, s, e, np.int64(seed_cat[si]))
            elif has_cat:
                s, e = _category_range(indices, item_cat, s, e, np.int64(seed_cat[si]))
            if has_ts:  # [s, e) is sorted by time: keep the edges strictly before the seed's time
                e = _first_geq(edge_ts, s, e, np.int64(seed_ts[si]))
            nex = 0
            if has_ex and u == excl_src[si]:
                x = excl_dst[si]
                for j in range(s, e):
                    if indices[j] == x:
                        nex += 1
            seg[r, 0] = s
            seg[r, 1] = e
            seg[r, 2] = nex
    return seg


@nb.njit(parallel=True, cache=True)
def _hop_offsets(seg: np.ndarray, indices: np.ndarray, width: int, k: int, seed: int, salt: int,
                 excl_dst: np.ndarray, eid: np.ndarray) -> None:
    """Up to ``k`` distinct edge ids per row into ``eid[r * k:(r + 1) * k]`` (ascending, -1 padded)."""
    n = seg.shape[0]
    for r in nb.prange(n):
        o = r * k
        s = seg[r, 0]
        e = seg[r, 1]
        nex = seg[r, 2]
        x = np.int64(excl_dst[r // width]) if nex > 0 else np.int64(-1)
        m = e - s - nex
        if m <= k:
            c = 0
            for j in range(s, e):
                if nex == 0 or indices[j] != x:
                    eid[o + c] = j
                    c += 1
            for j in range(c, k):
                eid[o + j] = -1
        else:
            _choose_sorted(_row_key(seed, salt, r), m, k, eid, o)
            if nex == 0:
                for j in range(k):
                    eid[o + j] += s
            else:  # rank among the kept edges -> edge id
                q = 0
                rk = 0
                for j in range(s, e):
                    if indices[j] == x:
                        continue
                    if q < k and eid[o + q] == rk:
                        eid[o + q] = j
                        q += 1
                    rk += 1


@nb.njit(parallel=True, cache=True)
def _hop_gather(indices: np.ndarray, prev: np.ndarray, k: int, eid: np.ndarray, attr_map: np.ndarray,
                attr_a: np.ndarray, attr_b: np.ndarray, nodes: np.ndarray, mask: np.ndarray, pre: np.ndarray,
                out_a: np.ndarray, out_b: np.ndarray) -> None:
    """Nodes, masks, precursors and attributes of the sampled edge ids."""
    n = prev.shape[0]
    has_map = attr_map.shape[0] > 0
    has_a = out_a.shape[0] > 0  # by the outputs: a graph without edges has empty attribute arrays
    has_b = out_b.shape[0] > 0
    for r in nb.prange(n):
        u = prev[r]
        for j in range(r * k, r * k + k):
            ej = eid[j]
            if ej >= 0:
                nodes[j] = indices[ej]
                mask[j] = True
                pre[j] = u
                ea = attr_map[ej] if has_map else ej
                if has_a:
                    out_a[j] = attr_a[ea]
                if has_b:
                    out_b[j] = attr_b[ea]
            else:
                nodes[j] = 0
                mask[j] = False
                pre[j] = 0
                if has_a:
                    out_a[j] = 0
                if has_b:
                    out_b[j] = 0
