"""The v2 mechanisms: each knob at 0 removes its effect, at its default it acts (tiny preset).

Shapes:
    (no tensors) tiny v2 worlds and simulations -> probabilities [R, K], shares, AUC gains
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import polars as pl
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
    # the mechanism's own trigger: the session's last page of the other kind
    assert shares[1]["search_clicks_on_last_feed_page"] > shares[0]["search_clicks_on_last_feed_page"] + 0.05
    assert shares[1]["feed_clicks_on_last_search_page"] > shares[0]["feed_clicks_on_last_search_page"] + 0.05
    for s in (0, 1):  # the last page is one of the earlier pages: its share cannot exceed "anywhere earlier"
        assert shares[s]["search_clicks_on_last_feed_page"] <= shares[s]["search_clicks_seen_in_feed"]
        assert shares[s]["feed_clicks_on_last_search_page"] <= shares[s]["feed_clicks_seen_in_search"]
        for part in ("search", "feed", "search_old_design", "feed_old_design"):
            assert np.isfinite(shares[s][part]["gain"]) and shares[s][part]["gain_se"] > 0, (s, part)


def _hand_events() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Four items (A, B, C, D; leaves 100, 100, 101, 200) and four sessions whose flags are known:

    session 1: feed r1 (A, B; B clicked) -> feed r2 (C) -> search r3 (A clicked, C, D) -> share r4 (A) ->
    search r5 (C, A) -> feed r7 (C, A); session 2: feed r6 (D), earlier; session 3: feed r8 and search r9 at
    the same ts (the request id orders them); session 9: a feed click of user 1 on C on day 5 (background)."""
    cols = ["ts", "user_id", "session_id", "request_id", "scenario_id", "item_id", "click", "position", "query_id"]
    A, B, C, D = 0, 1, 2, 3
    d = 20 * 86_400
    rows = [
        (d + 10, 1, 1, 1, 10, A, 0, 0, -1), (d + 10, 1, 1, 1, 10, B, 1, 1, -1),
        (d + 20, 1, 1, 2, 11, C, 0, 0, -1),
        (d + 30, 1, 1, 3, 0, A, 1, 0, 7), (d + 30, 1, 1, 3, 0, C, 0, 1, 7), (d + 30, 1, 1, 3, 0, D, 0, 2, 7),
        (d + 40, 1, 1, 4, 100, A, 0, 0, -1),
        (d + 50, 1, 1, 5, 0, C, 0, 0, 7), (d + 50, 1, 1, 5, 0, A, 0, 1, 7),
        (d + 60, 1, 1, 7, 10, C, 0, 0, -1), (d + 60, 1, 1, 7, 10, A, 0, 1, -1),
        (d + 5, 2, 2, 6, 10, D, 0, 0, -1),
        (d + 100, 3, 3, 8, 12, B, 0, 0, -1), (d + 100, 3, 3, 9, 1, B, 0, 0, -1), (d + 100, 3, 3, 9, 1, A, 0, 1, -1),
        (5 * 86_400, 1, 9, 10, 10, C, 1, 0, -1),
    ]
    ev = pl.DataFrame(rows, schema=cols, orient="row").with_columns(day=pl.col("ts") // 86_400)
    items = pl.DataFrame({"item_id": [A, B, C, D], "category_path": [[1, 10, 100], [1, 10, 100], [1, 10, 101], [2, 20, 200]],
                          "title_tokens": [[5, 6], [5], [6], [7]]})
    queries = pl.DataFrame({"query_id": [7], "tokens": [[99, 5, 8]], "category": [100]})  # leaf 100, attrs 5, 8
    return ev, items, queries


def test_cross_overlap_frame_hand_case():
    """The trigger ``last_page`` is the session's most recent other-kind page only (not an earlier one, not
    another session's, a share request in between changes nothing, same-ts requests by request id); the old
    ``seen`` flag is any earlier page; the base features (query match, session own-kind leaf clicks,
    background popularity and user leaf affinity) take the values worked out by hand."""
    ev, items, queries = _hand_events()
    fr = measure.cross_overlap_frame(ev, items, queries)
    assert fr.filter(pl.col("kind") == 2).height == 0 and fr.height == ev.height - 1  # the share row is dropped
    got = {(r["request_id"], r["item_id"]): r for r in fr.iter_rows(named=True)}
    A, B, C, D = 0, 1, 2, 3
    last = {(3, A): 0, (3, C): 1, (3, D): 0,  # r3's last feed page is r2 = {C}; A was on r1 only
            (5, C): 1, (5, A): 0,  # the share request r4 does not replace r2
            (7, C): 1, (7, A): 1,  # r7's last search page is r5 = {C, A}
            (1, A): 0, (1, B): 0, (2, C): 0, (6, D): 0, (10, C): 0,  # no earlier page of the other kind
            (9, B): 1, (9, A): 0, (8, B): 0}  # same ts: r8 (feed) comes before r9 (search)
    seen = last | {(3, A): 1, (5, A): 1, (8, B): 1}  # the old flag: any earlier page, same ts included
    for key, v in last.items():
        assert got[key]["last_page"] == v, ("last_page", key)
        assert got[key]["seen"] == seen[key], ("seen", key)
    assert got[(7, A)]["seen_click"] == 1 and got[(3, C)]["seen_click"] == 0  # A was clicked in search r3
    ln2 = float(np.log(2))
    # own-kind clicks on the item's leaf earlier in the session: r5's A (leaf 100) <- r3's click on A; r7's A <- r1's
    # click on B (leaf 100); r3's A itself: the click is in the same request, not earlier
    assert got[(5, A)]["sess_leaf"] == pytest.approx(ln2) and got[(7, A)]["sess_leaf"] == pytest.approx(ln2)
    assert got[(3, A)]["sess_leaf"] == 0 and got[(5, C)]["sess_leaf"] == 0 and got[(9, B)]["sess_leaf"] == 0
    # background (day < 14): user 1 clicked C (leaf 101) on day 5
    assert got[(3, C)]["logpop"] == pytest.approx(ln2) and got[(3, A)]["logpop"] == 0
    assert got[(3, C)]["user_leaf"] == pytest.approx(ln2) and got[(9, B)]["user_leaf"] == 0
    # query 7 = leaf 100 with attribute words 5, 8: A (leaf 100, title 5 6), C (leaf 101, same level 2), D (other)
    assert (got[(3, A)]["leaf_match"], got[(3, A)]["l2_match"], got[(3, A)]["attr_frac"]) == (1, 1, 0.5)
    assert (got[(3, C)]["leaf_match"], got[(3, C)]["l2_match"], got[(3, C)]["attr_frac"]) == (0, 1, 0)
    assert (got[(3, D)]["leaf_match"], got[(3, D)]["l2_match"], got[(3, D)]["attr_frac"]) == (0, 0, 0)
    assert got[(7, A)]["leaf_match"] == 0 and got[(7, A)]["attr_frac"] == 0  # feed rows: no query


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
            # off, each view's own factors add nothing beyond the common conversion function's proxies: the
            # gain is within two bootstrap standard errors of 0 (tiny has ~15 feed / ~60 search test positives)
            assert abs(res[0][view]["gain"]) < 2 * res[0][view]["gain_se"], view
    else:
        assert res[1]["gain"] > 0.01 and abs(res[0]["gain"]) < 0.005
