"""The retrieval stage: candidate items per request from category, relevance and popularity sources.

Each request gets ``candidates`` items in slots taken from sources (fixed slot shares per scenario):
``leaf`` (the query's / trigger's / intent's leaf, popularity-weighted), ``l2`` (its level-2 category),
``taste`` (a leaf of the user's mixture), ``hot`` (the user's community's favourite items: collaborative
retrieval), ``fresh`` (items created in the last 7 days), ``global`` (popular items). Items not yet
created at request time and duplicates are masked out.

Shapes:
    requests [R] -> candidates and validity [R, M]
"""

from __future__ import annotations

import numpy as np

from unisr.simulate.config import DAY
from unisr.simulate.sampling import dedupe_rows, rows_from_cum, sample_in_ranges
from unisr.simulate.world import World

SOURCES: dict[str, dict[str, float]] = {
    "search_text": {"leaf": 0.7, "l2": 0.2, "global": 0.1},
    "search_visual": {"leaf": 0.65, "l2": 0.25, "global": 0.1},
    "search_similar": {"leaf": 0.7, "l2": 0.2, "hot": 0.1},
    "feed": {"taste": 0.55, "hot": 0.3, "global": 0.15},
    "feed_new": {"fresh": 0.5, "taste": 0.35, "hot": 0.15},
}


def _slots(shares: dict[str, float], m: int) -> list[tuple[str, int]]:
    names = list(shares)
    counts = [max(1, int(round(shares[s] * m))) for s in names]
    counts[0] += m - sum(counts)
    return list(zip(names, counts, strict=True))


def candidates(
    world: World,
    source_key: str,
    user: np.ndarray,
    ts: np.ndarray,
    leaf: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(cand [R, M] internal item ids, valid [R, M]) for requests of one scenario."""
    cat, users = world.cat, world.users
    R, M = len(user), world.cfg.scenarios.candidates
    b3 = cat.n_leaf // cat.n2
    cols: list[np.ndarray] = []
    for src, k in _slots(SOURCES[source_key], M):
        if src in ("leaf", "l2"):
            lf = np.repeat(leaf, k)
            if src == "leaf":
                lo, hi = cat.leaf_start[lf], cat.leaf_start[lf + 1]
            else:
                l2 = lf // b3
                lo, hi = cat.leaf_start[l2 * b3], cat.leaf_start[(l2 + 1) * b3]
            c = sample_in_ranges(cat.pop_cum, lo, hi, rng)
        elif src == "taste":
            uu = np.repeat(user, k)
            frac = (np.repeat(ts, k) - world.t0) / (world.t_end - world.t0)
            w = users.weights_at(uu, frac, world.cfg.users.drift)
            j = rows_from_cum(np.cumsum(w, axis=1), np.arange(len(uu)), rng)
            lf = users.taste_leaf[uu, j]
            c = sample_in_ranges(cat.pop_cum, cat.leaf_start[lf], cat.leaf_start[lf + 1], rng)
        elif src == "hot":
            comm = np.repeat(users.community[user], k)
            c = users.hot_items[comm, rng.integers(0, users.hot_items.shape[1], len(comm))]
        elif src == "fresh":
            tt = np.repeat(ts, k)
            lo = np.searchsorted(cat.created_sorted, tt - 7 * DAY)
            hi = np.searchsorted(cat.created_sorted, tt, side="right")
            pos = lo + (rng.random(len(tt)) * (hi - lo)).astype(np.int64)
            fresh = cat.created_order[np.minimum(pos, cat.n - 1)]
            glob = sample_in_ranges(cat.pop_cum, np.zeros(len(tt), np.int64), np.full(len(tt), cat.n), rng)
            c = np.where(hi > lo, fresh, glob)
        else:  # global popularity
            c = sample_in_ranges(cat.pop_cum, np.zeros(R * k, np.int64), np.full(R * k, cat.n), rng)
        cols.append(c.reshape(R, k))
    cand = np.concatenate(cols, axis=1)
    valid = dedupe_rows(cand) & (cat.created[cand] <= ts[:, None])
    return cand, valid
