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
"""

from __future__ import annotations

import numpy as np

from unisr.simulate.config import DAY
from unisr.simulate.items import EXPOSED
from unisr.simulate.sampling import F32, sigmoid
from unisr.simulate.world import World


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot of [R, M, d] with [R, d] (or [R, M, d])."""
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
    """Features [R, M] of candidate items ``cand`` for requests of scenario kind ``kind``."""
    cat, users = world.cat, world.users
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
        x["fresh"] = (2.0 * np.exp(-age) - 0.3).astype(F32)
    return x


def linear_score(x: dict[str, np.ndarray], weights: dict[str, float], scale: float) -> np.ndarray:
    out: np.ndarray | None = None
    for f, w in weights.items():
        term = np.float32(scale * w) * x[f]
        out = term if out is None else out + term
    assert out is not None
    return out


def click_prob(base: float, score: np.ndarray, position: np.ndarray, position_bias: float) -> np.ndarray:
    return sigmoid(base + score - position_bias * np.log2(1.0 + position).astype(F32))


def conversion_prob(world: World, user: np.ndarray, item: np.ndarray, intent_x: np.ndarray, is_feed: bool) -> np.ndarray:
    c = world.cfg.clicks
    z = (
        c.conv_base
        + c.conv_power * (world.users.power[user].astype(F32) - world.cat.price[item].astype(F32))
        + c.conv_intent * intent_x
        + (c.conv_recommend if is_feed else 0.0)
    )
    return sigmoid(z)
