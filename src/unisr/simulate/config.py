"""The simulator's parameters: one Pydantic model, written to ``dataset.yaml`` under ``simulator:``.

Every number here is fixed from a realism argument (see docs/SIMULATOR.md), never tuned for a model.
``apply_overrides`` applies ``--set key=value`` (dotted keys, YAML-parsed values) with validation.

Shapes:
    (no tensors) nested Pydantic config
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DAY = 86_400


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CatalogConfig(_Strict):
    n_items: int = Field(60_000, ge=10)
    branching: tuple[int, int, int] = (10, 6, 8)  # level-1 categories, level-2 per level-1, leaves per level-2
    brands_per_l2: int = Field(12, ge=1)
    n_shops: int = Field(4_000, ge=1)
    part_dim: int = Field(8, ge=2)  # dimension of each named latent part
    n_styles: int = Field(24, ge=2)
    n_textures: int = Field(16, ge=2)
    attrs_per_leaf: int = Field(12, ge=3, le=30)  # attribute vocabulary of one leaf category (bitmask <= 30)
    attr_vocab: int = Field(1_500, ge=30)  # global attribute words (shared between categories)
    attrs_per_item: int = Field(3, ge=1)
    pop_exponent: float = Field(1.0, gt=0)  # Zipf exponent of item popularity (rank^-a)
    new_item_frac: float = Field(0.08, ge=0, le=0.5)  # items created during the last days
    new_from_day: float = 17.0  # new items / users appear uniformly in [new_from_day, n_days)
    part_noise: float = 0.45  # within-cluster spread of style / texture / attribute parts
    image_noise: float = 0.25  # noise of the 64-d image embedding (relative to unit signal per dim)
    exposed_noise: float = 0.15  # noise of the written per-scenario exposed-content embeddings
    queries_per_leaf: int = Field(24, ge=1)  # text-query pool per leaf category


class UserConfig(_Strict):
    n_users: int = Field(50_000, ge=10)
    n_communities: int = Field(40, ge=1)
    community_zipf: float = 0.8
    taste_leaves: int = Field(4, ge=1)  # size of a user's category mixture
    taste_alpha: float = 0.7  # Dirichlet concentration of the mixture weights
    community_pull: float = 0.65  # weight of the community centre in each taste part
    drift: float = 0.5  # norm of the style/category drift over the whole time range
    new_user_frac: float = Field(0.06, ge=0, le=0.5)
    activity_sigma: float = 1.0  # log-normal spread of user activity


class SocialConfig(_Strict):
    friend_degree: float = 8.0  # mean friend edges created per user (symmetrised)
    homophily: float = 0.75  # share of friend edges inside the community
    pay_degree: float = 1.2  # mean pay edges per user
    pay_from_friends: float = 0.6  # share of pay edges that are also friend edges
    pay_tie_boost: float = 1.5  # pay ties are strong ties
    share_view_until_day: float = 14.0  # share view = share choices before this day (background window)


class FeedConfig(_Strict):
    name: str
    traffic: float = Field(gt=0)
    weights: dict[str, float]  # over features cat, style, texture, attr, collab, price, pop, fresh, intent
    position_bias: float = 0.35
    base: float = -3.3


class ShareConfig(_Strict):
    branching: list[int] = Field(default_factory=lambda: [3, 3, 3, 2])  # children per level below the root
    traffic: float = 0.07
    zipf: float = 1.1  # Zipf exponent of leaf traffic
    panel_size: int = Field(6, ge=2)
    level_noise: list[float] = Field(default_factory=lambda: [0.35, 0.25, 0.18, 0.12, 0.1])
    base: float = -2.3
    position_bias: float = 0.25
    weights: dict[str, float] = Field(
        default_factory=lambda: {"friend": 0.3, "pay": 0.5, "tie": 0.9, "interest": 0.45, "community": 0.25}
    )


class SearchConfig(_Strict):
    traffic: float = Field(gt=0)
    base: float
    position_bias: float
    weights: dict[str, float]


def _default_searches() -> dict[str, SearchConfig]:
    return {
        "search_text": SearchConfig(
            traffic=0.30,
            base=-2.9,
            position_bias=0.45,
            weights={"rel": 0.55, "intent": 0.45, "cat": 0.15, "style": 0.12, "collab": 0.1, "price": 0.25, "pop": 0.2},
        ),
        "search_visual": SearchConfig(
            traffic=0.05,
            base=-2.7,
            position_bias=0.4,
            weights={"rel": 0.6, "intent": 0.4, "style": 0.2, "collab": 0.08, "price": 0.2, "pop": 0.15},
        ),
        "search_similar": SearchConfig(
            traffic=0.07,
            base=-2.9,
            position_bias=0.4,
            weights={"rel": 0.55, "intent": 0.35, "texture": 0.12, "collab": 0.1, "price": 0.25, "pop": 0.15},
        ),
    }


def _default_feeds() -> list[FeedConfig]:
    return [
        FeedConfig(
            name="feed_main",
            traffic=0.33,
            weights={"cat": 0.35, "style": 0.3, "collab": 0.35, "price": 0.2, "pop": 0.3, "intent": 0.2},
            position_bias=0.3,
            base=-3.5,
        ),
        FeedConfig(
            name="feed_guess",
            traffic=0.08,
            weights={"cat": 0.25, "style": 0.2, "texture": 0.25, "collab": 0.45, "pop": 0.2, "intent": 0.3},
            position_bias=0.35,
            base=-3.4,
        ),
        FeedConfig(
            name="feed_deals",
            traffic=0.05,
            weights={"cat": 0.3, "price": 0.6, "collab": 0.2, "pop": 0.35},
            position_bias=0.4,
            base=-3.3,
        ),
        FeedConfig(
            name="feed_new",
            traffic=0.02,
            weights={"style": 0.55, "attr": 0.3, "cat": 0.3, "fresh": 0.6, "collab": 0.2},
            position_bias=0.25,
            base=-3.4,
        ),
        FeedConfig(
            name="feed_niche",
            traffic=0.0025,
            weights={"texture": 0.4, "attr": 0.4, "cat": 0.3, "collab": 0.3, "pop": -0.1},
            position_bias=0.5,
            base=-3.2,
        ),
    ]


class ScenarioConfig(_Strict):
    search: dict[str, SearchConfig] = Field(default_factory=_default_searches)
    feeds: list[FeedConfig] = Field(default_factory=_default_feeds)
    share: ShareConfig = Field(default_factory=ShareConfig)
    page_size: int = Field(10, ge=2)  # items shown per search page / feed refresh
    candidates: int = Field(30, ge=2)  # retrieval candidates per request before the engine's ranking
    min_requests: int = Field(3, ge=0)  # every scenario gets at least this many requests


class SessionConfig(_Strict):
    mean_requests: float = Field(3.0, ge=1)  # mean requests per session (1 + geometric)
    max_requests: int = Field(8, ge=1)
    gap_mean_s: float = 100.0  # mean gap between requests of one session
    max_session_s: int = 1_800  # 30-minute sessions
    switch: float = 0.55  # probability that the next request moves along the funnel instead of paging


class ClickConfig(_Strict):
    scale: float = Field(1.0, gt=0)  # global multiplier of every feature weight (the logistic model's scale)
    query_noise: float = 0.55  # visual query = intent image + N(0, query_noise^2) per dimension
    similar_texture_weight: float = 0.7  # similar-product relevance: texture vs style
    conv_base: float = -2.6
    conv_power: float = 0.45  # conversion rises with purchasing power - price level
    conv_intent: float = 0.35
    conv_recommend: float = -0.5  # recommendation clicks convert less than search clicks


class Mechanism(_Strict):
    """One named, switchable part of data version 2 (docs/SIMULATOR.md, "Mechanisms of v2"): ``strength``
    multiplies its effect; 0 removes it, 1 is the documented default (frozen before any model was trained)."""

    strength: float = Field(1.0, ge=0, le=5)


class ViewConversion(Mechanism):
    """Conversion after a search click rises with the query's match to the item (``rel``: category and
    attribute words of the query found in the item); after a feed click with cheapness and popularity."""

    search_rel: float = 0.55  # per unit of the text/visual/similar relevance feature (unit spread)
    feed_cheap: float = 0.6  # [price_level <= 1] (impulse purchases of cheap items)
    feed_pop: float = 0.35  # per unit of standardised log popularity (social proof)


class CrossOverlap(Mechanism):
    """Search candidates include items the user was shown in the session's last feed page, and feed
    candidates items of its last search page (see-then-search, re-targeting)."""

    slots: int = Field(4, ge=0, le=10)  # candidate slots (of 30) taken from the other kind's last page at strength 1
    refind: float = 0.6  # click-logit bonus of an item met on that page (re-finding), times the strength


class SocialDiffusion(Mechanism):
    """Share choice rises with the number of the candidate's friends who like the item's level-2 category."""

    weight: float = 0.8  # per unit of log(1 + friends whose taste holds a leaf of the item's level-2 category)


class LeafSpecificity(Mechanism):
    """Share leaves weigh observable relations differently (friend, pay out, pay in, interaction count),
    drawn down the tree (siblings closer than cousins); the latent tie's weight shrinks by ``tie_shrink``."""

    level_noise: list[float] = Field(default_factory=lambda: [0.7, 0.45, 0.25, 0.12, 0.1])
    tie_shrink: float = Field(0.6, ge=0, le=1)


class MechanismsConfig(_Strict):
    """The v2 mechanisms (ignored by version 1, whose data they would change), and v2's other parameters."""

    view_conversion: ViewConversion = Field(default_factory=ViewConversion)
    cross_overlap: CrossOverlap = Field(default_factory=CrossOverlap)
    social_diffusion: SocialDiffusion = Field(default_factory=SocialDiffusion)
    leaf_specificity: LeafSpecificity = Field(default_factory=LeafSpecificity)
    conv_base: float = -2.2  # v2 conversion intercept (v1: clicks.conv_base = -2.6); docs/SIMULATOR.md


class SimConfig(_Strict):
    name: str = "sim"
    # data version: 2 (the default since issue 32) = CPU-independent arithmetic and the named mechanisms;
    # 1 = the data every benchmark record was made on (`--set version=1`; fingerprint b475b4b1ebd2cc80 for
    # small seed 0 with the CPU switches of `make sim-recorded`). A dataset.yaml without `version` is v1
    # (``written_config``).
    version: Literal[1, 2] = 2
    n_events: int = Field(2_000_000, ge=100)  # target number of impressions
    n_days: int = Field(24, ge=2)
    start_ts: int = 1_767_225_600  # 2026-01-01 00:00:00 UTC
    chunk_users: int = Field(0, ge=0)  # users per streamed chunk; 0 = one chunk (single Parquet files)
    catalog: CatalogConfig = Field(default_factory=CatalogConfig)
    users: UserConfig = Field(default_factory=UserConfig)
    social: SocialConfig = Field(default_factory=SocialConfig)
    scenarios: ScenarioConfig = Field(default_factory=ScenarioConfig)
    sessions: SessionConfig = Field(default_factory=SessionConfig)
    clicks: ClickConfig = Field(default_factory=ClickConfig)
    mechanisms: MechanismsConfig = Field(default_factory=MechanismsConfig)

    @model_validator(mode="after")
    def _mechanisms_need_v2(self) -> SimConfig:
        if self.version == 1 and self.mechanisms != MechanismsConfig():
            raise ValueError("mechanisms.*: the mechanisms exist in data version 2 only (set version=2)")
        return self

    @property
    def exact(self) -> bool:
        """CPU-independent arithmetic (``unisr.simulate.numerics``): data version 2 on."""
        return self.version >= 2

    def strength(self, name: str) -> float:
        """A mechanism's strength; 0 for every mechanism in version 1."""
        return getattr(self.mechanisms, name).strength if self.version >= 2 else 0.0


def written_config(simulator: dict[str, Any]) -> SimConfig:
    """The config of a written dataset, from its ``dataset.yaml``'s ``simulator:`` block. Version 1 writes no
    ``version`` (its files are the ones recorded before versions existed), so a block without it is v1, not
    today's default."""
    config = dict(simulator["config"])
    config.setdefault("version", simulator.get("version", 1))
    return SimConfig.model_validate(config)


class OverrideError(ValueError):
    """A ``--set key=value`` that names no parameter or gives it a bad value (the message names the key)."""


def apply_overrides(cfg: SimConfig, overrides: dict[str, Any] | list[str] | None) -> SimConfig:
    """Return a copy of ``cfg`` with dotted-key overrides applied (``"catalog.n_items=500"`` or a dict)."""
    if not overrides:
        return cfg
    items: list[tuple[str, Any]] = []
    if isinstance(overrides, dict):
        items = list(overrides.items())
    else:
        for s in overrides:
            if "=" not in s:
                raise OverrideError(f"--set {s!r}: expected key=value")
            k, v = s.split("=", 1)
            try:
                items.append((k.strip(), yaml.safe_load(v)))
            except yaml.YAMLError as e:
                raise OverrideError(f"--set {k}: value {v!r} is not valid YAML ({e})") from e
    data = cfg.model_dump(mode="python")
    for key, value in items:
        parts = key.split(".")
        node: Any = data
        for i, p in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not p.isdigit() or int(p) >= len(node):
                    raise OverrideError(f"--set {key}: no element {p!r} in list {'.'.join(parts[:i])}")
                if last:
                    node[int(p)] = value
                else:
                    node = node[int(p)]
            elif isinstance(node, dict):
                if p not in node:
                    raise OverrideError(f"--set {key}: unknown key {p!r} (known: {sorted(node)})")
                if last:
                    node[p] = value
                else:
                    node = node[p]
            else:
                raise OverrideError(f"--set {key}: {'.'.join(parts[:i])} is not a section")
    try:
        return SimConfig.model_validate(data)
    except ValidationError as e:
        locs = "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors())
        raise OverrideError(f"--set {', '.join(k for k, _ in items)}: {locs}") from e
