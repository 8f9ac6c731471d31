"""The multi-view social graph (TreeMS): ``friend`` (homophily), ``pay`` (few strong ties), ``share``.

Every contact (u -> v) carries a latent tie strength. Sharing choices are driven mostly by tie strength,
so the views differ in how well they predict sharing: ``friend`` is broad and mostly weak ties, ``pay``
is sparse but strong, and ``share`` (past share choices, built from the background window's share
events) reveals the tie strengths themselves.

Shapes:
    contacts as CSR over users [n + 1] with edge arrays [E]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unisr.simulate import numerics
from unisr.simulate.config import DAY, SimConfig
from unisr.simulate.sampling import F32, child_rng
from unisr.simulate.users import Users


@dataclass
class Contacts:
    """CSR of contacts by source user (union of friend and pay edges), sorted by key = src * n + dst."""

    n: int
    start: np.ndarray  # [n + 1]
    dst: np.ndarray
    key: np.ndarray
    tie: np.ndarray  # latent tie strength (float32)
    is_friend: np.ndarray  # bool
    is_pay: np.ndarray  # bool
    friend_edges: tuple[np.ndarray, np.ndarray, np.ndarray]  # src, dst, ts (directed, symmetric)
    pay_edges: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # src, dst, ts, weight
    interact: np.ndarray | None = None  # v2: interactions (messages, likes) per contact before the share window

    def friends_liking(self, users: Users, t: np.ndarray, cat2: np.ndarray, leaves_per_cat2: int) -> np.ndarray:
        """For each (user t[j], level-2 category cat2[j]): how many of t[j]'s friends have a leaf of ``cat2``
        in their taste mixture (they click that category, so the count shows in the logs through the
        friends' clicks)."""
        lo, hi = self.start[t], self.start[t + 1]
        deg = hi - lo
        idx = np.repeat(np.arange(len(t)), deg)
        pos = np.repeat(lo, deg) + (np.arange(int(deg.sum())) - np.repeat(np.cumsum(deg) - deg, deg))
        nbr = self.dst[pos]
        hit = self.is_friend[pos] & (users.taste_leaf[nbr] // leaves_per_cat2 == cat2[idx][:, None]).any(1)
        return np.bincount(idx, weights=hit, minlength=len(t))

    def lookup(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Position of (src, dst) in the contact arrays, -1 if not a contact."""
        k = src * self.n + dst
        pos = np.searchsorted(self.key, k)
        pos_c = np.minimum(pos, len(self.key) - 1)
        ok = (len(self.key) > 0) & (self.key[pos_c] == k) if len(self.key) else np.zeros(len(k), bool)
        return np.where(ok, pos_c, -1)


def _same_community(users: Users, u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    c = users.community[u]
    lo, hi = users.comm_start[c], users.comm_start[c + 1]
    return users.comm_order[lo + (rng.random(len(u)) * (hi - lo)).astype(np.int64)]


def build_contacts(cfg: SimConfig, users: Users, seed: int) -> Contacts:
    sc = cfg.social
    rng = child_rng(seed, 4)
    n = users.n
    t0 = cfg.start_ts

    # ---- friend: undirected pairs, homophilous (same community with prob. `homophily`)
    m = int(round(n * sc.friend_degree / 2))
    a = rng.integers(0, n, m)
    same = rng.random(m) < sc.homophily
    b = np.where(same, _same_community(users, a, rng), rng.integers(0, n, m))
    ok = a != b
    lo, hi = np.minimum(a[ok], b[ok]), np.maximum(a[ok], b[ok])
    pair = np.unique(lo * n + hi)
    lo, hi = pair // n, pair % n
    # tie strength: mostly weak; taste similarity raises it a little
    sim = (users.style0[lo] * users.style0[hi]).sum(1)
    tie = rng.normal(-0.3, 1.0, len(pair)).astype(F32) + 0.5 * sim
    f_ts = t0 - rng.integers(DAY, 2 * 365 * DAY, len(pair))
    f_src = np.concatenate([lo, hi])
    f_dst = np.concatenate([hi, lo])
    f_tie = np.concatenate([tie, tie + rng.normal(0, 0.2, len(tie)).astype(F32)])
    f_ts2 = np.concatenate([f_ts, f_ts])

    # ---- pay: few strong directed ties, part of them on existing friend edges
    mp = int(round(n * sc.pay_degree))
    from_f = rng.random(mp) < sc.pay_from_friends
    pick = rng.integers(0, max(len(f_src), 1), mp)
    ps = np.where(from_f & (len(f_src) > 0), f_src[pick % max(len(f_src), 1)], rng.integers(0, n, mp))
    pd = np.where(from_f & (len(f_src) > 0), f_dst[pick % max(len(f_src), 1)], 0)
    fam = ~(from_f & (len(f_src) > 0))
    pd[fam] = _same_community(users, ps[fam], rng)
    ok = ps != pd
    pkey = np.unique(ps[ok] * n + pd[ok])
    ps, pd = pkey // n, pkey % n
    p_tie_new = rng.normal(sc.pay_tie_boost, 0.6, len(pkey)).astype(F32)
    p_ts = t0 - rng.integers(0, 60 * DAY, len(pkey)) + int(sc.share_view_until_day * DAY) // 2

    # ---- union -> contacts CSR
    fkey = f_src * n + f_dst
    keys = np.concatenate([fkey, pkey])
    ties = np.concatenate([f_tie, p_tie_new])
    isf = np.concatenate([np.ones(len(fkey), bool), np.zeros(len(pkey), bool)])
    order = np.argsort(keys, kind="stable")
    keys, ties, isf = keys[order], ties[order], isf[order]
    uniq, first, counts = np.unique(keys, return_index=True, return_counts=True)
    is_friend = np.logical_or.reduceat(isf, first) if len(keys) else np.zeros(0, bool)
    both = counts > 1
    is_pay = (~is_friend) | both
    # a pay edge on a friend pair: the friend tie plus the pay boost
    tie = np.where(both, ties[first] + sc.pay_tie_boost, np.maximum.reduceat(ties, first) if len(keys) else ties)
    src = uniq // n
    lam = 0.5 * np.clip(p_tie_new, -3, 3)
    p_weight = (1 + rng.poisson(numerics.exp(lam) if cfg.exact else np.exp(lam))).astype(F32)
    tie_all = tie.astype(F32)
    interact = None
    if cfg.exact:  # v2: an observable proxy of the tie (own generator: the other draws do not depend on it)
        irng, step = child_rng(seed, 7), 1 << 22  # in slices: float64 temporaries of 54M contacts on large
        interact = np.empty(len(tie_all), np.uint16)
        for s in range(0, len(tie_all), step):  # one generator in order: the same draws as one call
            lam_i = numerics.exp(np.clip(0.9 * tie_all[s : s + step].astype(np.float64) - 0.2, -5, 4))
            interact[s : s + step] = np.minimum(irng.poisson(lam_i), 65_535)
    return Contacts(
        interact=interact,
        n=n,
        start=np.searchsorted(src, np.arange(n + 1)).astype(np.int64),
        dst=(uniq % n).astype(np.int64),
        key=uniq,
        tie=tie_all,
        is_friend=is_friend,
        is_pay=is_pay,
        friend_edges=(f_src, f_dst, f_ts2),
        pay_edges=(ps, pd, p_ts, p_weight),
    )
