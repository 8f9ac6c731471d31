"""Users: demographics, latent community, a taste that drifts slowly, activity, registration time.

Shapes:
    users [n] with taste parts [n, d] and mixtures [n, m]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unisr.simulate import numerics
from unisr.simulate.config import DAY, SimConfig
from unisr.simulate.items import Catalog
from unisr.simulate.sampling import F32, child_rng, noisy_units, rows_from_cum, unit_rows, zipf_weights


@dataclass
class Users:
    n: int
    ext_id: np.ndarray
    gender: np.ndarray  # int8 0/1
    age: np.ndarray  # int8 1..7
    power: np.ndarray  # int8 purchasing power 0..4
    community: np.ndarray  # latent, never written to users.parquet
    comm_order: np.ndarray  # user indices sorted by community
    comm_start: np.ndarray  # [K + 1] ranges in comm_order
    joined: np.ndarray  # registration ts
    activity: np.ndarray  # expected relative number of sessions
    taste_leaf: np.ndarray  # [n, m] leaf categories of the taste mixture
    w0: np.ndarray  # [n, m] mixture weights at the start
    w1: np.ndarray  # [n, m] mixture weights the user drifts towards
    style0: np.ndarray  # [n, d]
    style_drift: np.ndarray  # [n, d]
    texture: np.ndarray
    attr: np.ndarray
    collab: np.ndarray
    price_pref: np.ndarray  # float, in price-level units
    hot_items: np.ndarray  # [K, H] community's favourite items (internal ids)

    def weights_at(self, u: np.ndarray, frac: np.ndarray, drift: float) -> np.ndarray:
        lam = (drift * frac)[:, None].astype(F32)
        return (1 - lam) * self.w0[u] + lam * self.w1[u]

    def style_at(self, u: np.ndarray, frac: np.ndarray) -> np.ndarray:
        return unit_rows(self.style0[u] + frac[:, None].astype(F32) * self.style_drift[u])


def build_users(cfg: SimConfig, cat: Catalog, seed: int) -> Users:
    uc = cfg.users
    rng = child_rng(seed, 3)
    n, K, d, m = uc.n_users, uc.n_communities, cfg.catalog.part_dim, uc.taste_leaves
    t0, t_end = cfg.start_ts, cfg.start_ts + cfg.n_days * DAY

    community = rng.choice(K, size=n, p=zipf_weights(K, uc.community_zipf, cfg.exact))
    comm_order = np.argsort(community, kind="stable")
    comm_start = np.searchsorted(community[comm_order], np.arange(K + 1))
    gender = (rng.random(n) < 0.55).astype(np.int8)
    age = rng.choice(np.arange(1, 8), size=n, p=[0.08, 0.22, 0.25, 0.2, 0.13, 0.08, 0.04]).astype(np.int8)

    # ---- community profiles: favourite level-1 categories, part centres, price level, collaborative centre
    l1_cum = np.cumsum(rng.dirichlet(np.full(cat.n1, 0.35), K), axis=1)
    centres = {p: unit_rows(rng.standard_normal((K, d), dtype=F32)) for p in ("style", "texture", "attr", "collab")}
    comm_price = rng.uniform(0.5, 3.5, K)

    # ---- taste mixture over leaves (via the community's level-1 preferences)
    leaves_per_l1 = cat.n_leaf // cat.n1
    l1 = rows_from_cum(l1_cum, np.repeat(community, m), rng).reshape(n, m)
    taste_leaf = l1 * leaves_per_l1 + rng.integers(0, leaves_per_l1, (n, m))
    w0 = rng.dirichlet(np.full(m, uc.taste_alpha), n).astype(F32)
    w1 = rng.dirichlet(np.full(m, uc.taste_alpha), n).astype(F32)

    pull = uc.community_pull
    g_dir = unit_rows(rng.standard_normal((1, d), dtype=F32))
    a_dir = unit_rows(rng.standard_normal((1, d), dtype=F32))
    demo = 0.35 * (2 * gender[:, None] - 1) * g_dir + 0.2 * ((age[:, None] - 4) / 3) * a_dir
    style0 = noisy_units(pull * centres["style"][community] + demo.astype(F32), 1 - pull, rng)
    style_drift = uc.drift * unit_rows(rng.standard_normal((n, d), dtype=F32))
    texture = noisy_units(pull * centres["texture"][community], 1 - pull, rng)
    attr = noisy_units(pull * centres["attr"][community], 1 - pull, rng)
    collab = noisy_units(pull * centres["collab"][community], 1 - pull, rng)
    price_pref = comm_price[community] + rng.normal(0, 0.8, n)
    power = np.clip(np.rint(price_pref + rng.normal(0, 0.5, n)), 0, 4).astype(np.int8)

    joined = t0 - rng.integers(DAY, 3 * 365 * DAY, n)
    is_new = rng.random(n) < uc.new_user_frac
    joined[is_new] = rng.integers(int(t0 + cfg.catalog.new_from_day * DAY), t_end - DAY // 2, int(is_new.sum()))
    activity = rng.lognormal(0.0, uc.activity_sigma, n)

    # ---- each community's favourite items: collaborative affinity x popularity (feeds' CF retrieval)
    H = min(200, cat.n)
    hot = np.empty((K, H), dtype=np.int64)
    logpop = (numerics.log(cat.pop) if cfg.exact else np.log(cat.pop)).astype(F32)
    for k in range(K):  # K is small (communities), not per event
        aff = (numerics.matmul(cat.parts["collab"], centres["collab"][k], F32) if cfg.exact
               else cat.parts["collab"] @ centres["collab"][k])
        s = 3.0 * aff + 0.5 * logpop + rng.gumbel(size=cat.n).astype(F32)
        top = np.argpartition(-s, H - 1)[:H]  # the order inside the partition depends on numpy's SIMD sort
        hot[k] = np.sort(top) if cfg.exact else top

    return Users(
        n=n,
        ext_id=rng.permutation(n).astype(np.int64),
        gender=gender,
        age=age,
        power=power,
        community=community.astype(np.int64),
        comm_order=comm_order.astype(np.int64),
        comm_start=comm_start.astype(np.int64),
        joined=joined.astype(np.int64),
        activity=activity,
        taste_leaf=taste_leaf.astype(np.int64),
        w0=w0,
        w1=w1,
        style0=style0,
        style_drift=style_drift.astype(F32),
        texture=texture,
        attr=attr,
        collab=collab,
        price_pref=price_pref.astype(F32),
        hot_items=hot,
    )
