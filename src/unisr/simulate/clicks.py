"""The click and conversion model (docs/SIMULATOR.md, "Exposure -> click -> conversion").

For an item ``i`` shown to user ``u`` at position ``k`` in scenario ``s`` at time ``t``:

    logit = b_s + scale * sum_f w_{s,f} x_f(u, i, t, q) - beta_s * log2(1 + k)
    p_click = sigmoid(logit)
    p_conv  = sigmoid(c0 + c_pow * (power_u - price_i) + c_int * x_intent + c_rec * [s is a feed])

with features ``x_f`` of unit spread (dot products of unit ``d``-vectors are scaled by sqrt(d)):
``rel`` query relevance (scenario-specific), ``intent`` similarity to the session's intent item in the
scenario's exposed content (common + attribute / style / texture part), ``cat`` the user's taste weight on
the item's category, ``style``/``texture``/``attr`` taste dot products (style drifts in time), ``collab``
the latent community dot product (only learnable from co-clicks), ``price`` fit to the user's price level,
``pop`` standardised log popularity, ``fresh`` item recency.

Shapes:
    features [R, M] per request R and candidate M; probabilities [R, K] for the K shown items
"""

from __future__ import annotations

import numpy as np

from unisr.simulate import numerics
from unisr.simulate.config import DAY
from unisr.simulate.items import EXPOSED
from unisr.simulate.sampling import F32, sigmoid
from unisr.simulate.world import World


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot of [R, M, d] with [R, d] (or [R, M, d]). ``np.einsum`` without ``optimize`` never calls
    BLAS and is compiled for numpy's baseline only (no run-time SIMD dispatch), so v2 uses it as it is.
    A candidate list shared by every row (``a`` [1, M, d], ``b`` [R, d]: the retrieval oracle scoring a whole
    corpus, ``simulate/truth_scores.py``; the simulator itself never passes one) is one matrix product [R, M]."""
    if a.shape[0] == 1 and b.ndim == 2 and b.shape[0] != 1:
        return b @ a[0].T
    if b.ndim == 2:
        return np.einsum("rmd,rd->rm", a, b)
    return np.einsum("rmd,rmd->rm", a, b)


def item_features(
    world: World,
    kind: str,
    needed: set[str],
    user: np.ndarray,
    ts: np.ndarray,
    intent: np.ndarray,
    cand: np.ndarray,
    query: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Features [R, M] of candidate items ``cand`` [R, M] for requests of scenario kind ``kind``; ``cand``
    [1, M] is one list shared by every row (features broadcast to [R, M], or [1, M] where a feature does not
    depend on the row)."""
    cat, users = world.cat, world.users
    ex = world.cfg.exact
    d = cat.parts["style"].shape[1]
    sd = np.float32(np.sqrt(d))
    frac = ((ts - world.t0) / (world.t_end - world.t0)).astype(F32)
    x: dict[str, np.ndarray] = {}
    if "rel" in needed:
        if kind == "search_text":
            q_leaf, q_attrs = query["leaf"], query["attrs"]  # [R], [R, 2]
            it = cat.attr_tok[cand]  # [R, M, a]
            hit = ((q_attrs[:, None, :, None] == it[:, :, None, :]).any(-1) & (q_attrs[:, None, :] >= 0)).sum(-1)
            nq = np.maximum((q_attrs >= 0).sum(1), 1)[:, None]
            b3 = cat.n_leaf // cat.n2
            x["rel"] = (
                1.2 * (cat.leaf[cand] == q_leaf[:, None])
                + 0.5 * (cat.l2[cand] == (q_leaf // b3)[:, None])
                + 1.5 * hit / nq
                - 1.5
            ).astype(F32)
        elif kind == "search_visual":
            x["rel"] = (5.0 * (_dot(cat.image[cand], query["emb"]) - 0.35)).astype(F32)
        else:  # search_similar: texture weighs more than style
            trig = query["trigger"]
            wt = world.cfg.clicks.similar_texture_weight
            x["rel"] = (
                sd
                * (
                    wt * _dot(cat.parts["texture"][cand], cat.parts["texture"][trig])
                    + (1 - wt) * _dot(cat.parts["style"][cand], cat.parts["style"][trig])
                )
                + 0.5 * (cat.leaf[cand] == cat.leaf[trig][:, None])
                - 1.0
            ).astype(F32)
    if "intent" in needed:
        part = EXPOSED.get(kind, "style")
        x["intent"] = (
            np.float32(np.sqrt(2 * d) / 2)
            * (
                _dot(cat.parts["common"][cand], cat.parts["common"][intent])
                + _dot(cat.parts[part][cand], cat.parts[part][intent])
            )
            - 1.0
        ).astype(F32)
    if "cat" in needed:
        w = users.weights_at(user, frac, world.cfg.users.drift)  # [R, m]
        tl = users.taste_leaf[user]  # [R, m]
        leaf_hit = (cat.leaf[cand][:, :, None] == tl[:, None, :]) * w[:, None, :]
        l1_hit = (cat.l1[cand][:, :, None] == (tl // (cat.n_leaf // cat.n1))[:, None, :]) * w[:, None, :]
        x["cat"] = (2.0 * leaf_hit.sum(-1) + 0.7 * l1_hit.sum(-1) - 0.6).astype(F32)
    if "style" in needed:
        x["style"] = (sd * _dot(cat.parts["style"][cand], users.style_at(user, frac))).astype(F32)
    for p in ("texture", "attr", "collab"):
        if p in needed:
            x[p] = (sd * _dot(cat.parts[p][cand], getattr(users, p)[user])).astype(F32)
    if "price" in needed:
        x["price"] = (1.0 - np.abs(cat.price[cand] - users.price_pref[user][:, None])).astype(F32)
    if "pop" in needed:
        x["pop"] = cat.pop_z[cand]
    if "fresh" in needed:
        age = np.maximum(ts[:, None] - cat.created[cand], 0) / (3.0 * DAY)
        x["fresh"] = (2.0 * (numerics.exp(-age) if ex else np.exp(-age)) - 0.3).astype(F32)
    return x


def linear_score(x: dict[str, np.ndarray], weights: dict[str, float], scale: float) -> np.ndarray:
    out: np.ndarray | None = None
    for f, w in weights.items():
        term = np.float32(scale * w) * x[f]
        out = term if out is None else out + term
    assert out is not None
    return out


def click_prob(
    base: float, score: np.ndarray, position: np.ndarray, position_bias: float, exact: bool = False
) -> np.ndarray:
    """sigmoid(base + score - beta log2(1 + k)): float32 (v1), or float64 from exact arithmetic (v2)."""
    if exact:
        term = numerics.log2(1.0 + np.arange(int(position.max(initial=0)) + 1))[position]  # per position once
        return numerics.sigmoid(base + score.astype(np.float64) - position_bias * term)
    return sigmoid(base + score - position_bias * np.log2(1.0 + position).astype(F32))


def conversion_prob(
    world: World, user: np.ndarray, item: np.ndarray, intent_x: np.ndarray, is_feed: bool,
    rel: np.ndarray | None = None,
) -> np.ndarray:
    """P(conversion | click) [R, K]; ``rel`` [R, K] = the search relevance of the shown items (v2 only)."""
    c = world.cfg.clicks
    if world.cfg.exact:
        return _conversion_prob_v2(world, user, item, intent_x, is_feed, rel)
    z = (
        c.conv_base
        + c.conv_power * (world.users.power[user].astype(F32) - world.cat.price[item].astype(F32))
        + c.conv_intent * intent_x
        + (c.conv_recommend if is_feed else 0.0)
    )
    return sigmoid(z)


# rough means over clicked items, set on small v2 seed 0 so that the strength changes which clicks convert more
# than how many (conversion per click at strength 1 / 0: search_text 17.3% / 16.2%, feed_main 9.0% / 7.5%)
CONV_CENTRE = {"rel": 1.0, "cheap": 0.5, "pop": 5.0}


def _conversion_prob_v2(
    world: World, user: np.ndarray, item: np.ndarray, intent_x: np.ndarray, is_feed: bool, rel: np.ndarray | None
) -> np.ndarray:
    """Data version 2 (float64, exact arithmetic): v1's function with v2's intercept, plus the
    ``view_conversion`` mechanism: search conversion rises with the query-item relevance ``rel``, feed
    conversion with cheapness (price level <= 1) and popularity -- different observable factors per view."""
    c, m = world.cfg.clicks, world.cfg.mechanisms
    gap = world.users.power[user].astype(np.float64) - world.cat.price[item].astype(np.float64)
    z = m.conv_base + c.conv_power * gap + c.conv_intent * intent_x.astype(np.float64) + (c.conv_recommend if is_feed else 0.0)
    s, vc = world.cfg.strength("view_conversion"), m.view_conversion
    if s > 0 and is_feed:
        cheap = (world.cat.price[item] <= 1).astype(np.float64)
        pop = world.cat.pop_z[item].astype(np.float64)
        z = z + s * (vc.feed_cheap * (cheap - CONV_CENTRE["cheap"]) + vc.feed_pop * (pop - CONV_CENTRE["pop"]))
    elif s > 0 and rel is not None:
        z = z + s * vc.search_rel * (rel.astype(np.float64) - CONV_CENTRE["rel"])
    return numerics.sigmoid(z)
