"""Share panels (TreeMS): a user shares an item and chooses among candidate users shown in a panel.

Candidates: contacts of the sharer (friend or pay edges) and a few same-community non-contacts ("people
you may know"). The platform ranks them by a noisy view of closeness; the click (= chose that user) has

    logit = b_leaf + scale * (w_friend friend + w_pay pay + w_tie tie + w_interest interest
                              + w_community same_community) - beta * log2(1 + position)

where ``tie`` is the contact's latent tie strength (-1.5 for non-contacts), ``interest`` the target's
taste for the item, and (w, b) the leaf's weights drawn down the scenario tree.

Shapes:
    share panels [R, P] (P candidate users per panel)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unisr.simulate import numerics
from unisr.simulate.sampling import F32, dedupe_rows
from unisr.simulate.world import World

NON_CONTACT_TIE = -1.5
# mean of log(1 + friends liking the item's level-2 category) over shown candidates (small, v2, seed 0): the
# social_diffusion term is centred there, so its strength moves who is chosen more than how often
DIFFUSION_CENTRE = 0.86


@dataclass
class SharePanel:
    target: np.ndarray  # [R, P] internal user ids
    valid: np.ndarray  # [R, P]
    position: np.ndarray  # [R, P]
    p_click: np.ndarray  # [R, P]
    p_click_no_position: np.ndarray  # [R, P] the same logit without the position term


def share_panels(
    world: World, user: np.ndarray, ts: np.ndarray, item: np.ndarray, leaf_idx: np.ndarray, rng: np.random.Generator
) -> SharePanel:
    cfg, users, con, cat = world.cfg, world.users, world.contacts, world.cat
    P = cfg.scenarios.share.panel_size
    R = len(user)
    n_contact, n_comm = P + 1, 2
    lo, hi = con.start[user], con.start[user + 1]
    deg = hi - lo
    pos = lo[:, None] + (rng.random((R, n_contact)) * deg[:, None]).astype(np.int64)
    c_dst = np.where(deg[:, None] > 0, con.dst[np.minimum(pos, max(len(con.dst) - 1, 0))], -1)
    comm = users.community[user]
    clo, chi = users.comm_start[comm], users.comm_start[comm + 1]
    cpos = clo[:, None] + (rng.random((R, n_comm + n_contact)) * (chi - clo)[:, None]).astype(np.int64)
    comm_dst = users.comm_order[cpos]
    # users without contacts get community members in every slot
    tgt = np.concatenate([np.where(c_dst >= 0, c_dst, comm_dst[:, :n_contact]), comm_dst[:, n_contact:]], axis=1)
    valid = dedupe_rows(tgt) & (tgt != user[:, None]) & (users.joined[tgt] <= ts[:, None])

    src_rep = np.broadcast_to(user[:, None], tgt.shape)
    ci = con.lookup(src_rep.reshape(-1), tgt.reshape(-1)).reshape(tgt.shape)
    is_c = ci >= 0
    cic = np.maximum(ci, 0)
    friend = (is_c & con.is_friend[cic]).astype(F32)
    pay = (is_c & con.is_pay[cic]).astype(F32)
    tie = np.where(is_c, con.tie[cic], NON_CONTACT_TIE).astype(F32)
    d = cat.parts["style"].shape[1]
    style_t = users.style0[tgt]  # the target's (undrifted) style
    ex = cfg.exact
    interest = np.sqrt(d) * np.einsum("rpd,rd->rp", style_t, cat.parts["style"][item])  # einsum: see clicks._dot
    tl = users.taste_leaf[tgt]
    interest = interest + 2.0 * (tl == cat.leaf[item][:, None, None]).any(-1) - 0.5
    same = (users.community[tgt] == comm[:, None]).astype(F32)
    x = np.stack([friend, pay, tie, interest.astype(F32), same], axis=-1)  # [R, C, 5]

    # the platform's ranking: a noisy view of closeness
    eng = 0.8 * friend + 1.0 * pay + 0.6 * (tie + rng.normal(0, 1.0, tie.shape)) + rng.gumbel(size=tie.shape)
    eng = np.where(valid, eng, -np.inf)
    order = np.argsort(-eng, axis=1, kind="stable")[:, :P]
    tgt = np.take_along_axis(tgt, order, axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    x = np.take_along_axis(x, order[:, :, None], axis=1)
    w = world.reg.share_w[leaf_idx].astype(F32)  # [R, 5]
    position = np.broadcast_to(np.arange(P), (R, P))
    if ex:
        w = w.astype(np.float64)
        w[:, 2] *= 1.0 - cfg.mechanisms.leaf_specificity.tie_shrink * min(cfg.strength("leaf_specificity"), 1.0)
        score = cfg.clicks.scale * (numerics.rowdot(x, w[:, None, :]) + _v2_terms(world, user, tgt, item, leaf_idx))
        logit0 = world.reg.share_base[leaf_idx][:, None] + score
        p0 = numerics.sigmoid(logit0)
        p = numerics.sigmoid(logit0 - cfg.scenarios.share.position_bias * numerics.log2(1.0 + position))
        return SharePanel(target=tgt, valid=valid, position=position, p_click=p, p_click_no_position=p0)
    score = cfg.clicks.scale * np.einsum("rpf,rf->rp", x, w)
    logit0 = world.reg.share_base[leaf_idx][:, None] + score
    logit = logit0 - cfg.scenarios.share.position_bias * np.log2(1 + position)
    p = (1.0 / (1.0 + np.exp(-logit))).astype(F32)
    p0 = (1.0 / (1.0 + np.exp(-logit0))).astype(F32)
    return SharePanel(target=tgt, valid=valid, position=position, p_click=p, p_click_no_position=p0)


def _v2_terms(world: World, user: np.ndarray, tgt: np.ndarray, item: np.ndarray, leaf_idx: np.ndarray) -> np.ndarray:
    """[R, P] float64: the v2 share mechanisms' logit terms for the shown candidates ``tgt``.

    ``leaf_specificity``: the leaf's weights (drawn down the tree) over observable relations -- friend, pay
    sharer -> candidate, pay candidate -> sharer, log(1 + interaction count) (``social.parquet`` view
    ``interact``). ``social_diffusion``: weight * log(1 + friends of the candidate who like the item's level-2 category)."""
    cfg, con = world.cfg, world.contacts
    R, P = tgt.shape
    out = np.zeros((R, P))
    s_l, s_d = cfg.strength("leaf_specificity"), cfg.strength("social_diffusion")
    flat_t, flat_u = tgt.reshape(-1), np.repeat(user, P)
    if s_l > 0 and world.reg.share_wo is not None and con.interact is not None:
        ci = con.lookup(flat_u, flat_t)
        cj = con.lookup(flat_t, flat_u)
        is_c = ci >= 0
        cic = np.maximum(ci, 0)
        xo = np.stack([
            is_c & con.is_friend[cic],
            is_c & con.is_pay[cic],
            (cj >= 0) & con.is_pay[np.maximum(cj, 0)],
        ], axis=-1).astype(np.float64)
        inter = np.where(is_c, numerics.log(1.0 + con.interact[cic]), 0.0)
        xo = np.concatenate([xo, inter[:, None]], axis=1).reshape(R, P, -1)
        out += s_l * numerics.rowdot(xo, world.reg.share_wo[leaf_idx][:, None, :])
    if s_d > 0:
        b3 = world.cat.n_leaf // world.cat.n2
        n = con.friends_liking(world.users, flat_t, np.repeat(world.cat.l2[item], P), b3).reshape(R, P)
        out += s_d * cfg.mechanisms.social_diffusion.weight * (numerics.log(1.0 + n) - DIFFUSION_CENTRE)
    return out
