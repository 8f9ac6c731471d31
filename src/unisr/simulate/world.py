"""Everything that is fixed before the first event: catalogue, users, contacts, scenarios, query pool.

Shapes:
    (no tensors) the fixed world: catalogue, users, contacts, scenarios, query pool
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unisr.simulate.config import DAY, SimConfig
from unisr.simulate.items import Catalog, build_catalog
from unisr.simulate.queries import TextPool, build_text_pool
from unisr.simulate.scenarios import Registry, build_registry, transition_matrix
from unisr.simulate.social import Contacts, build_contacts
from unisr.simulate.users import Users, build_users


@dataclass
class World:
    cfg: SimConfig
    seed: int
    cat: Catalog
    users: Users
    contacts: Contacts
    reg: Registry
    pool: TextPool
    transition: np.ndarray
    sessions_per_weight: float  # expected sessions = this * activity * active days

    @property
    def t0(self) -> int:
        return self.cfg.start_ts

    @property
    def t_end(self) -> int:
        return self.cfg.start_ts + self.cfg.n_days * DAY

    def active_days(self, u: np.ndarray) -> np.ndarray:
        return (self.t_end - np.maximum(self.users.joined[u], self.t0)) / DAY


def expected_requests_per_session(cfg: SimConfig) -> float:
    s = cfg.sessions
    # 1 + geometric, truncated at max_requests and by the 30-minute window (approximate, documented)
    p = 1.0 / s.mean_requests
    k = np.arange(1, s.max_requests + 1)
    pk = p * ((1 - p) ** (k - 1) if not cfg.exact else np.cumprod(np.r_[1.0, np.full(len(k) - 1, 1 - p)]))
    pk[-1] += 1 - pk.sum()
    return float((k * pk).sum())


def build_world(cfg: SimConfig, seed: int) -> World:
    cat = build_catalog(cfg, seed)
    users = build_users(cfg, cat, seed)
    contacts = build_contacts(cfg, users, seed)
    reg = build_registry(cfg, seed)
    pool = build_text_pool(cat, cfg.catalog.queries_per_leaf, seed, cfg.exact)
    share_frac = reg.group_traffic[reg.share_group]
    per_request = cfg.scenarios.page_size * (1 - share_frac) + cfg.scenarios.share.panel_size * share_frac
    n_sessions = cfg.n_events / (per_request * expected_requests_per_session(cfg))
    all_u = np.arange(users.n)
    w = users.activity * ((cfg.start_ts + cfg.n_days * DAY - np.maximum(users.joined, cfg.start_ts)) / DAY)
    return World(
        cfg=cfg,
        seed=seed,
        cat=cat,
        users=users,
        contacts=contacts,
        reg=reg,
        pool=pool,
        transition=transition_matrix(reg),
        sessions_per_weight=float(n_sessions / w[all_u].sum()),
    )
