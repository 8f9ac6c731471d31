"""Sessions: a user, an intent item, and a chain of requests that moves along the funnel in <= 30 minutes.

A session starts in a scenario group drawn from the traffic shares; each next request either stays in
the same group (next page / feed refresh, prob. 1 - switch) or moves along the funnel (visual -> textual
-> similar-product search, feed -> search, search -> share, ...). The intent item is kept for the whole
session, so what a user does in one scenario tells about the next (information flows across scenarios).

Shapes:
    sessions [S] with scenario groups and times [S, max_requests]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unisr.simulate.config import DAY
from unisr.simulate.sampling import rows_from_cum, sample_in_ranges
from unisr.simulate.world import World


@dataclass
class Sessions:
    user: np.ndarray  # [S] internal user index
    intent: np.ndarray  # [S] internal item index
    group: np.ndarray  # [S, L] scenario group per step, -1 = no request
    ts: np.ndarray  # [S, L] request time
    share_leaf: np.ndarray  # [S] share leaf used by the session's share requests

    @property
    def n(self) -> int:
        return len(self.user)


def pick_intent(world: World, u: np.ndarray, ts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The item a user looks for: a leaf from the (drifting) taste mixture, then the best of 3 popular items."""
    cat, users = world.cat, world.users
    frac = (ts - world.t0) / (world.t_end - world.t0)
    w = users.weights_at(u, frac, world.cfg.users.drift)
    k = rows_from_cum(np.cumsum(w, axis=1), np.arange(len(u)), rng)
    leaf = users.taste_leaf[u, k]
    leaf3 = np.repeat(leaf, 3)
    cand = sample_in_ranges(cat.pop_cum, cat.leaf_start[leaf3], cat.leaf_start[leaf3 + 1], rng).reshape(-1, 3)
    style = users.style_at(u, frac)
    d = cat.parts["style"].shape[1]
    fit = np.sqrt(d) * (  # einsum: no BLAS, no SIMD dispatch (the same on every CPU, see clicks._dot)
        np.einsum("rkd,rd->rk", cat.parts["style"][cand], style)
        + np.einsum("rkd,rd->rk", cat.parts["collab"][cand], users.collab[u])
    )
    fit = fit + rng.gumbel(size=fit.shape) - 50.0 * (cat.created[cand] > ts[:, None])
    return cand[np.arange(len(u)), np.argmax(fit, axis=1)]


def make_sessions(
    world: World, chunk_users: np.ndarray, rng: np.random.Generator, forced: list[tuple[int, int]] | None = None
) -> Sessions:
    """Sessions of the users in ``chunk_users``; ``forced`` adds one-request sessions (group, share leaf)."""
    cfg, users, reg = world.cfg, world.users, world.reg
    sc = cfg.sessions
    lam = world.sessions_per_weight * users.activity[chunk_users] * world.active_days(chunk_users)
    counts = rng.poisson(lam)
    su = np.repeat(chunk_users, counts)
    if forced:
        fu = chunk_users[rng.integers(0, len(chunk_users), len(forced))]
        su = np.concatenate([su, fu])
    S, L = len(su), sc.max_requests
    lo = np.maximum(users.joined[su], world.t0)
    start = lo + (rng.random(S) * (world.t_end - DAY // 48 - lo)).astype(np.int64)

    g = np.full((S, L), -1, dtype=np.int64)
    g[:, 0] = rng.choice(reg.n_groups, size=S, p=reg.group_traffic)
    length = np.minimum(rng.geometric(1.0 / sc.mean_requests, S), L)
    t_cum = np.cumsum(world.transition, axis=1)
    for k in range(1, L):  # loop over steps (<= max_requests), vectorised over sessions
        moves = rng.random(S) < sc.switch
        nxt = rows_from_cum(t_cum, np.maximum(g[:, k - 1], 0), rng)
        g[:, k] = np.where(moves, nxt, g[:, k - 1])
    gaps = rng.exponential(sc.gap_mean_s, (S, L))
    gaps[:, 0] = 0
    offs = np.cumsum(gaps, axis=1).astype(np.int64)
    ts = start[:, None] + offs
    alive = (np.arange(L)[None, :] < length[:, None]) & (offs <= sc.max_session_s) & (ts < world.t_end)
    share_leaf = rng.choice(len(reg.share_ids), size=S, p=reg.share_traffic)
    if forced:
        nf = len(forced)
        g[S - nf :, 0] = [f[0] for f in forced]
        share_leaf[S - nf :] = [f[1] for f in forced]
        alive[S - nf :, 1:] = False
    g = np.where(alive, g, -1)
    return Sessions(user=su, intent=pick_intent(world, su, start, rng), group=g, ts=ts, share_leaf=share_leaf)
