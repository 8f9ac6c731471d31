"""The v2 mechanisms: each knob at 0 removes its effect, at its default it acts (tiny preset).

Shapes:
    (no tensors) tiny v2 worlds and simulations -> probabilities [R, K], shares, AUC gains
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from unisr.simulate import measure, resolve_config, simulate
from unisr.simulate.clicks import conversion_prob
from unisr.simulate.share import _v2_terms
from unisr.simulate.world import World, build_world


@pytest.fixture(scope="module")
def world2() -> World:
    return build_world(resolve_config("tiny", {"version": 2}), 0)


def _with(world: World, **strengths: float) -> World:
    sets = {f"mechanisms.{k}.strength": v for k, v in strengths.items()}
    return dataclasses.replace(world, cfg=resolve_config("tiny", {"version": 2, **sets}))


def _panel(world: World, n: int = 400):
    rng = np.random.default_rng(1)
    user = rng.integers(0, world.users.n, n)
    start, deg = world.contacts.start, np.diff(world.contacts.start)
    user = user[deg[user] > 0]
    tgt = world.contacts.dst[start[user][:, None] + rng.integers(0, 10**6, (len(user), 6)) % deg[user][:, None]]
    item = rng.integers(0, world.cat.n, len(user))
    leaf_idx = rng.integers(0, len(world.reg.share_ids), len(user))
    return user, tgt, item, leaf_idx


def test_view_conversion_off_is_one_function_for_both_views(world2: World):
    """At 0, conversion ignores the search relevance and the feed's cheapness/popularity (the v1 form with
    v2's intercept); at 1 search conversion rises with relevance and feed conversion with popularity."""
    rng = np.random.default_rng(0)
    user = rng.integers(0, world2.users.n, (300, 1))
    item = rng.integers(0, world2.cat.n, (300, 10))
    ix = rng.standard_normal((300, 10)).astype(np.float32)
    rel = rng.standard_normal((300, 10)).astype(np.float32)
    off, on = _with(world2, view_conversion=0), _with(world2, view_conversion=1)
    assert np.array_equal(conversion_prob(off, user, item, ix, False, rel), conversion_prob(off, user, item, ix, False, rel + 1))
    c, m = off.cfg.clicks, off.cfg.mechanisms
    gap = off.users.power[user].astype(float) - off.cat.price[item].astype(float)
    z = m.conv_base + c.conv_power * gap + c.conv_intent * ix.astype(float) + c.conv_recommend
    assert np.allclose(conversion_prob(off, user, item, ix, True), 1 / (1 + np.exp(-z)), rtol=1e-12)
    assert (conversion_prob(on, user, item, ix, False, rel + 1) > conversion_prob(on, user, item, ix, False, rel)).all()
    pop = on.cat.pop_z[item]
    d = np.log(conversion_prob(on, user, item, ix, True)) - np.log(conversion_prob(off, user, item, ix, True))
    assert np.corrcoef(d.ravel(), pop.ravel())[0, 1] > 0.5


def test_share_mechanisms_off_add_nothing(world2: World):
    """Both share mechanisms at 0: no v2 term; diffusion alone: a term that grows with the candidate's friends
    liking the item's level-2 category; leaf specificity alone: a term that differs between leaves."""
    user, tgt, item, leaf_idx = _panel(world2)
    off = _with(world2, social_diffusion=0, leaf_specificity=0)
    assert not _v2_terms(off, user, tgt, item, leaf_idx).any()
    diff = _v2_terms(_with(world2, leaf_specificity=0), user, tgt, item, leaf_idx)
    b3 = world2.cat.n_leaf // world2.cat.n2
    n = world2.contacts.friends_liking(world2.users, tgt.reshape(-1), np.repeat(world2.cat.l2[item], 6), b3)
    assert diff.std() > 0 and np.corrcoef(diff.ravel(), n)[0, 1] > 0.9
    spec = _v2_terms(_with(world2, social_diffusion=0), user, tgt, item, leaf_idx)
    other = _v2_terms(_with(world2, social_diffusion=0), user, tgt, item, (leaf_idx + 1) % len(world2.reg.share_ids))
    assert spec.std() > 0 and not np.allclose(spec, other)


def test_share_leaf_weights_siblings_closer_than_cousins(world2: World):
    """The observable-relation weights are drawn down the tree: leaves under the same parent are closer than
    leaves under another level-1 subtree (mean squared distance)."""
    paths = [s.tree_path for s in world2.reg.scenarios if s.kind == "share"]
    w = world2.reg.share_wo
    sib, cous = [], []
    for i in range(len(paths)):
        for j in range(i + 1, len(paths)):
            d = float(((w[i] - w[j]) ** 2).sum())
            (sib if paths[i][-2] == paths[j][-2] else cous if paths[i][1] != paths[j][1] else []).append(d)
    assert np.mean(sib) < np.mean(cous)


def test_cross_overlap_knob(tmp_path: Path):
    """Search clicks on items met in a feed earlier in the session (and feed clicks on items met in search):
    the session's persistent intent already gives some (small v2, seed 0: 11% / 5% at 0); the mechanism adds
    more (23% / 15% at 1)."""
    shares = {}
    for s in (1, 0):
        out = tmp_path / f"s{s}"
        simulate("tiny", out, seed=0, overrides={"version": 2, "mechanisms.cross_overlap.strength": s})
        shares[s] = measure.check_cross_overlap(out)
    assert shares[1]["search_clicks_seen_in_feed"] > shares[0]["search_clicks_seen_in_feed"] + 0.05
    assert shares[1]["feed_clicks_seen_in_search"] > shares[0]["feed_clicks_seen_in_search"] + 0.05


@pytest.mark.parametrize("name", ["view_conversion", "leaf_specificity"])
def test_learnable_when_on_not_when_off(tmp_path: Path, name: str):
    """The logistic-regression gain from the mechanism's observable feature (unisr.simulate.measure) is there
    with the mechanism on and gone with it off (tiny, 200k events; the full table on small is in
    docs/SIMULATOR.md). ``cross_overlap`` and ``social_diffusion`` are too weak for tiny's test window and are
    checked on small only (benchmarks/mechanisms.py)."""
    check = {"view_conversion": measure.check_view_conversion, "leaf_specificity": measure.check_leaf_specificity}[name]
    res = {}
    for s in (1, 0):
        out = tmp_path / f"s{s}"
        simulate("tiny", out, seed=0, overrides={"version": 2, "n_events": 200_000, f"mechanisms.{name}.strength": s})
        res[s] = check(out)
    if name == "view_conversion":
        for view in ("search", "feed"):
            assert res[1][view]["gain"] > 0.02 and res[1][view]["gain"] > res[0][view]["gain"] + 0.02, view
        assert abs(res[0]["feed"]["gain"]) < 0.02  # the feed factors do nothing when off
    else:
        assert res[1]["gain"] > 0.01 and abs(res[0]["gain"]) < 0.005
