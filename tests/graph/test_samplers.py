"""Uniform, target-aware (SRJGraph), metapath (BOMGraph) and multi-view social (TreeMS) samplers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from unisr.graph.build import ITEM_CLICKED_BY, USER_CLICK, social_type
from unisr.graph.csr import from_coo
from unisr.graph.samplers import MetapathSampler, MultiViewSocialSampler, TargetAwareSampler, UniformSampler
from unisr.graph.store import HeteroGraph

from .conftest import edge_rows


def _check_true_edges(graph: HeteroGraph, blk) -> None:
    for k, et in enumerate(blk.edge_types):
        m = blk.mask[k].numpy()
        pre, nodes, eid = blk.pre[k].numpy()[m], blk.nodes[k].numpy()[m], blk.edge[k].numpy()[m]
        csr = graph.rel(et)
        assert csr.has_edges(pre, nodes).all(), et
        np.testing.assert_array_equal(csr.indices[eid], nodes)
        np.testing.assert_array_equal(edge_rows(csr, eid), pre)
        assert (blk.nodes[k][~blk.mask[k]] == 0).all()


# ------------------------------------------------------------------------------------------- uniform
def test_uniform_two_hop_true_neighbours_and_determinism(graph: HeteroGraph) -> None:
    s = UniformSampler(graph, [USER_CLICK, ITEM_CLICKED_BY], [10, 5])
    seeds = torch.arange(graph.num_nodes["user"])
    a, b, c = s.sample(seeds, seed=1), s.sample(seeds, seed=1), s.sample(seeds, seed=2)
    assert a.nodes[0].shape == (len(seeds), 10) and a.nodes[1].shape == (len(seeds), 50)
    _check_true_edges(graph, a)
    for x, y in zip(a.nodes + a.mask, b.nodes + b.mask, strict=True):
        assert torch.equal(x, y)
    assert not all(torch.equal(x, y) for x, y in zip(a.nodes, c.nodes, strict=True))
    deg = graph.rel(USER_CLICK).degree(seeds.numpy())
    np.testing.assert_array_equal(a.mask[0].sum(1).numpy(), np.minimum(deg, 10))
    sub = a.to_subgraph("u")
    assert sub["u.hop2.nodes"].shape == (len(seeds), 50)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), m=st.integers(0, 120), fan=st.lists(st.integers(1, 6), min_size=1, max_size=3),
       seed=st.integers(0, 2**31 - 1), data=st.data())
def test_uniform_property_random_graphs(n: int, m: int, fan: list[int], seed: int, data) -> None:
    src = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
    dst = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
    csr = from_coo(src, dst, n, n, dedupe=True)
    g = HeteroGraph({"v": n}, {("v", "e", "v"): csr}, np.zeros(0, np.int32), np.zeros((0, 1), np.int32),
                    np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    seeds = np.array(data.draw(st.lists(st.integers(-2, n + 3), min_size=1, max_size=20)))  # unseen too
    s = UniformSampler(g, [("v", "e", "v")] * len(fan), fan)
    blk = s.sample(seeds, seed)
    _check_true_edges(g, blk)
    # no repeated edge under one precursor; all neighbours taken when degree <= fanout
    deg0 = np.where((seeds >= 0) & (seeds < n), csr.degree(np.clip(seeds, 0, n - 1)), 0)
    np.testing.assert_array_equal(blk.mask[0].sum(1).numpy(), np.minimum(deg0, fan[0]))
    e = blk.edge[0].numpy()
    for row in e:
        v = row[row >= 0]
        assert len(set(v.tolist())) == len(v)
    again = s.sample(seeds, seed)
    assert all(torch.equal(x, y) for x, y in zip(blk.nodes, again.nodes, strict=True))


def test_uniform_bad_args(graph: HeteroGraph) -> None:
    with pytest.raises(ValueError):
        UniformSampler(graph, [USER_CLICK, USER_CLICK], [3, 3])  # item -> ? breaks the path
    with pytest.raises(ValueError):
        UniformSampler(graph, [USER_CLICK], [0])


# -------------------------------------------------------------------------------------- target-aware
def _targets(graph: HeteroGraph, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    c = graph.rel(USER_CLICK)
    rng = np.random.default_rng(0)
    eid = rng.choice(c.num_edges, n)
    users = edge_rows(c, eid)
    items = c.indices[eid].astype(np.int64)
    # mix in unknown / isolated targets
    return np.concatenate([users, [0, graph.num_nodes["user"] + 5]]), np.concatenate([items, [0, 1]])


def test_target_aware_category_precursor_query_and_time(graph: HeteroGraph) -> None:
    users, items = _targets(graph)
    s = TargetAwareSampler(graph)
    ub, ib = s.sample(users, items, seed=3)
    assert [x.shape[1] for x in ub.nodes] == [25, 25, 250] and [x.shape[1] for x in ib.nodes] == [1, 25, 25]
    fwd = graph.rel(USER_CLICK)
    target_cat = graph.item_category[items]
    for blk in (ub, ib):
        for k, t in enumerate(blk.node_types):
            m = blk.mask[k].numpy()
            pre, nodes = blk.pre[k].numpy(), blk.nodes[k].numpy()
            fe = blk.edge[k].numpy() if t == "item" else graph.rel(ITEM_CLICKED_BY).attrs["eid"][
                np.maximum(blk.edge[k].numpy(), 0)]
            u_of = pre if t == "item" else nodes
            i_of = nodes if t == "item" else pre
            assert (edge_rows(fwd, fe[m]) == u_of[m]).all() and (fwd.indices[fe[m]] == i_of[m]).all()
            assert (blk.extra["query"][k].numpy()[m] == fwd.attrs["query"][fe[m]]).all()
            assert (blk.extra["ts"][k].numpy()[m] == fwd.attrs["ts"][fe[m]]).all()
            if t == "item":  # category filtering
                assert (graph.item_category[nodes] == target_cat[:, None])[m].all()
            # neighbours of one precursor are ordered by click time
            w = blk.fanouts[k]
            ts = blk.extra["ts"][k].numpy().reshape(len(users), -1, w).astype(np.int64)
            mm = m.reshape(len(users), -1, w)
            ok = mm[..., 1:] & mm[..., :-1]
            assert (np.diff(ts, axis=-1)[ok] >= 0).all()
    assert ub.mask[0].any() and ib.mask[1].any()
    # precursor of hop k slot j is hop k-1 slot j // width
    pre2 = ub.pre[1].numpy()
    want = np.repeat(ub.nodes[0].numpy(), 1, axis=1)
    assert (pre2[ub.mask[1].numpy()] == want[ub.mask[1].numpy()]).all()
    ub2, _ = s.sample(users, items, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(ub.nodes, ub2.nodes, strict=True))
    sub = s.subgraph(users, items)
    assert "srj_user.hop1.query" in sub and sub["srj_item.hop2.nodes"].shape == (len(users), 25)


# ------------------------------------------------------------------------------------------ metapath
def test_metapath_walks_follow_declared_types(graph: HeteroGraph) -> None:
    s = MetapathSampler(graph)
    assert {"M_t^S", "M_i^S", "M_q^K", "M_i^K", "M_i^V", "M^{S-K-V}", "M^{K-V-S}", "M^{V-S-K}"} <= set(s.paths)
    starts = {t: np.arange(graph.num_nodes[t] + 3) for t in ("item", "query", "trigger")}
    out = s.sample(starts, seed=5)
    for name, blk in out.items():
        assert blk.nodes[0].shape[1] == 3 and blk.nodes[1].shape[1] == 3
        assert blk.mask[0].any(), name
        _check_true_edges(graph, blk)
        # each two-hop node extends a sampled one-hop node
        m2 = blk.mask[1].numpy()
        slot = blk.extra["pre_slot"][1].numpy()
        n1 = np.take_along_axis(blk.nodes[0].numpy(), np.maximum(slot, 0), 1)
        assert (n1[m2] == blk.pre[1].numpy()[m2]).all()
    again = s.sample(starts, seed=5)
    assert all(torch.equal(out[n].nodes[1], again[n].nodes[1]) for n in out)


def test_metapath_resamples_positive_pairs(graph: HeteroGraph) -> None:
    s = MetapathSampler(graph)
    q = np.arange(1, graph.num_nodes["query"])
    free = s.sample_path("M_q^K", q, seed=1)
    m = free.mask[0].numpy()
    pairs = np.stack([np.repeat(q, 3)[m.ravel()], free.nodes[0].numpy().ravel()[m.ravel()]], 1)
    blk = s.sample_path("M_q^K", q, positives={"item": pairs}, seed=1)
    got = set(zip(np.repeat(q, 3)[blk.mask[0].numpy().ravel()].tolist(),
                  blk.nodes[0].numpy().ravel()[blk.mask[0].numpy().ravel()].tolist(), strict=True))
    assert not got & set(map(tuple, pairs.tolist()))
    _check_true_edges(graph, blk)
    # rows with more neighbours than the excluded ones still get samples
    deg = graph.rel(("query", "ce", "item")).degree(q)
    assert blk.mask[0].numpy()[deg > 6].any(axis=1).all()


# -------------------------------------------------------------------------------------------- social
def test_multiview_social(graph: HeteroGraph) -> None:
    s = MultiViewSocialSampler(graph, fanouts=(5, 2))
    # every view the data writes: data version 2 (the default, sim_dir) adds ``interact`` (interaction counts
    # between two users) to v1's friend, pay and share
    assert s.views == ["friend", "interact", "pay", "share"] == graph.meta["social_views"]
    src = np.arange(graph.num_nodes["user"])
    dst = src[::-1].copy()
    out = s.sample(src, seed=2)
    for v, blk in out.items():
        assert blk.edge_types == [social_type(v)] * 2
        _check_true_edges(graph, blk)
    sub = s.subgraph(src, dst, seed=2)
    assert sub["social.pay.dst.hop1.nodes"].shape == (len(src), 5)
    assert sub["social.friend.src.hop2.nodes"].shape == (len(src), 10)
    assert torch.equal(sub["social.friend.src.hop1.nodes"], s.subgraph(src, dst, seed=2)["social.friend.src.hop1.nodes"])
    with pytest.raises(ValueError):
        MultiViewSocialSampler(graph, views=["enemy"])


# ------------------------------------------------------------------------------- label leakage (SRJGraph)
def _target_pair_hits(ub, ib, users: np.ndarray, items: np.ndarray) -> int:
    """How many sampled edges are a target's own click (u, p) or its reverse (p, u), in any hop."""
    hits = 0
    for blk, (a, b) in ((ub, (users, items)), (ib, (users, items))):
        for k, t in enumerate(blk.node_types):
            m = blk.mask[k].numpy()
            pre, nodes = blk.pre[k].numpy(), blk.nodes[k].numpy()
            if t == "item":  # user -> item edge
                hits += int((m & (pre == a[:, None]) & (nodes == b[:, None])).sum())
            else:  # item -> user edge (the reverse)
                hits += int((m & (pre == b[:, None]) & (nodes == a[:, None])).sum())
    return hits


def test_target_aware_never_samples_the_targets_own_click(graph: HeteroGraph) -> None:
    users, items = _targets(graph, 400)
    leaky = TargetAwareSampler(graph, exclude_target_edge=False).sample(users, items, seed=4)
    assert _target_pair_hits(*leaky, users, items) > 0  # the target's click is in the graph
    ub, ib = TargetAwareSampler(graph).sample(users, items, seed=4)
    assert _target_pair_hits(ub, ib, users, items) == 0
    _check_true_edges(graph, ib)
    # other edges of the target user / item are still sampled
    assert ub.mask[0].any() and ib.mask[0].any()


# ----------------------------------------------------------------------- property tests: random graphs
def _bipartite(n_users: int, n_items: int, m: int, n_cats: int, data) -> HeteroGraph:
    ints = st.lists(st.integers(0, 10**6), min_size=m, max_size=m)
    u = np.array(data.draw(st.lists(st.integers(1, n_users - 1), min_size=m, max_size=m)), dtype=np.int64) \
        if n_users > 1 else np.zeros(0, np.int64)
    i = np.array(data.draw(st.lists(st.integers(1, n_items - 1), min_size=len(u), max_size=len(u))),
                 dtype=np.int64) if n_items > 1 else np.zeros(0, np.int64)
    u = u[:len(i)]
    ts = np.array(data.draw(ints), dtype=np.int32)[:len(u)]
    q = np.array(data.draw(st.lists(st.integers(0, 4), min_size=m, max_size=m)), dtype=np.int32)[:len(u)]
    cat = np.array(data.draw(st.lists(st.integers(-1, n_cats - 1), min_size=n_items, max_size=n_items)),
                   dtype=np.int32)
    cat[0] = -1
    fwd = from_coo(u, i, n_users, n_items, {"query": q, "ts": ts}, sort_keys=[cat[i], ts.astype(np.int64)])
    rev = fwd.transpose(sort_attr="ts")[0]
    return HeteroGraph({"user": n_users, "item": n_items}, {USER_CLICK: fwd, ITEM_CLICKED_BY: rev}, cat,
                       cat[:, None], np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))


def _check_masks(blk) -> None:
    """Masked slots hold node 0, precursor 0 and edge -1; a masked precursor has no sampled children."""
    for k in range(len(blk.nodes)):
        m = blk.mask[k]
        assert (blk.nodes[k][~m] == 0).all() and (blk.pre[k][~m] == 0).all() and (blk.edge[k][~m] == -1).all()
        for name in blk.extra:
            if name in ("query", "ts"):
                assert (blk.extra[name][k][~m] == 0).all()
        if k:
            w = blk.fanouts[k]
            parent = blk.mask[k - 1].repeat_interleave(w, dim=1)
            assert not (m & ~parent).any()
            np.testing.assert_array_equal(blk.pre[k].numpy()[m.numpy()],
                                          blk.nodes[k - 1].repeat_interleave(w, dim=1).numpy()[m.numpy()])


def _check_edge_attrs(blk, fwd, rev) -> None:
    """The query / ts of every sampled slot are those of its forward click edge."""
    for k, t in enumerate(blk.node_types):
        mk = blk.mask[k].numpy()
        e = blk.edge[k].numpy()
        fe = e[mk] if t == "item" else rev.attrs["eid"][e[mk]]
        np.testing.assert_array_equal(blk.extra["query"][k].numpy()[mk], fwd.attrs["query"][fe])
        np.testing.assert_array_equal(blk.extra["ts"][k].numpy()[mk], fwd.attrs["ts"][fe])


@settings(max_examples=30, deadline=None)
@given(n_users=st.integers(1, 8), n_items=st.integers(1, 10), m=st.integers(0, 60), n_cats=st.integers(1, 3),
       uw=st.lists(st.integers(1, 4), min_size=1, max_size=3), iw=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       seed=st.integers(0, 2**31 - 1), data=st.data())
def test_target_aware_property_random_graphs(n_users: int, n_items: int, m: int, n_cats: int, uw: list[int],
                                             iw: list[int], seed: int, data) -> None:
    g = _bipartite(n_users, n_items, m, n_cats, data)
    fwd, rev = g.rel(USER_CLICK), g.rel(ITEM_CLICKED_BY)
    nt = data.draw(st.integers(1, 8))
    users = np.array(data.draw(st.lists(st.integers(-1, n_users + 2), min_size=nt, max_size=nt)))  # unseen too
    items = np.array(data.draw(st.lists(st.integers(-1, n_items + 2), min_size=nt, max_size=nt)))
    if fwd.num_edges:  # some targets are real clicks (their own edge must not be sampled)
        e = np.array(data.draw(st.lists(st.integers(0, fwd.num_edges - 1), min_size=nt, max_size=nt)))
        real = np.array(data.draw(st.lists(st.booleans(), min_size=nt, max_size=nt)))
        users = np.where(real, edge_rows(fwd, e), users)
        items = np.where(real, fwd.indices[e], items)
    s = TargetAwareSampler(g, uw, iw)
    ub, ib = s.sample(users, items, seed)
    assert _target_pair_hits(ub, ib, users, items) == 0
    ok_item = (items >= 0) & (items < n_items)
    tcat = np.where(ok_item, g.item_category[np.clip(items, 0, n_items - 1)], -2)
    for blk in (ub, ib):
        _check_true_edges(g, blk)
        _check_masks(blk)
        _check_edge_attrs(blk, fwd, rev)
        for k, t in enumerate(blk.node_types):
            if t == "item":
                assert (g.item_category[blk.nodes[k].numpy()] == tcat[:, None])[blk.mask[k].numpy()].all()
    # hop 1 of the user side takes min(width, #eligible) edges: the target's category, not the target item
    ok_user = (users >= 0) & (users < n_users)
    for r in range(len(users)):
        nb = fwd.neighbors(int(users[r])) if ok_user[r] else fwd.indices[:0]
        elig = int(((g.item_category[nb] == tcat[r]) & (nb != items[r])).sum())
        assert int(ub.mask[0][r].sum()) == min(uw[0], elig)
    ub2, ib2 = s.sample(users, items, seed)
    for x, y in zip(ub.nodes + ub.edge + ib.nodes + ib.edge, ub2.nodes + ub2.edge + ib2.nodes + ib2.edge,
                    strict=True):
        assert torch.equal(x, y)


@settings(max_examples=30, deadline=None)
@given(na=st.integers(1, 8), nb=st.integers(1, 8), nc=st.integers(1, 8), m1=st.integers(0, 40),
       m2=st.integers(0, 40), k1=st.integers(1, 4), k2=st.integers(1, 5), seed=st.integers(0, 2**31 - 1),
       data=st.data())
def test_metapath_property_random_graphs(na: int, nb: int, nc: int, m1: int, m2: int, k1: int, k2: int,
                                         seed: int, data) -> None:
    def rel(ns: int, nd: int, m: int):
        a = np.array(data.draw(st.lists(st.integers(0, ns - 1), min_size=m, max_size=m)), dtype=np.int64)
        b = np.array(data.draw(st.lists(st.integers(0, nd - 1), min_size=m, max_size=m)), dtype=np.int64)
        return from_coo(a, b, ns, nd, dedupe=True)

    r1, r2 = ("a", "r1", "b"), ("b", "r2", "c")
    g = HeteroGraph({"a": na, "b": nb, "c": nc}, {r1: rel(na, nb, m1), r2: rel(nb, nc, m2)},
                    np.zeros(0, np.int32), np.zeros((0, 1), np.int32), np.zeros(0, np.int64),
                    np.zeros(0, np.int64), np.zeros(0, np.int64))
    starts = np.array(data.draw(st.lists(st.integers(-1, na + 2), min_size=1, max_size=10)))
    npos = data.draw(st.integers(0, 10))
    pos = {"b": np.array(data.draw(st.lists(st.tuples(st.integers(0, na - 1), st.integers(0, nb - 1)),
                                            min_size=npos, max_size=npos)), dtype=np.int64).reshape(-1, 2),
           "c": np.array(data.draw(st.lists(st.tuples(st.integers(0, na - 1), st.integers(0, nc - 1)),
                                            min_size=npos, max_size=npos)), dtype=np.int64).reshape(-1, 2)}
    s = MetapathSampler(g, {"p": [r1, r2]}, one_hop=k1, two_hop=k2)
    blk = s.sample_path("p", starts, positives=pos, seed=seed)
    _check_true_edges(g, blk)
    assert blk.nodes[0].shape == (len(starts), k1) and blk.nodes[1].shape == (len(starts), k2)
    for k, t in enumerate(("b", "c")):
        mk = blk.mask[k].numpy()
        assert (blk.nodes[k][~blk.mask[k]] == 0).all() and (blk.edge[k][~blk.mask[k]] == -1).all()
        got = set(zip(np.broadcast_to(starts[:, None], mk.shape)[mk].tolist(), blk.nodes[k].numpy()[mk].tolist(),
                      strict=True))
        assert not got & set(map(tuple, pos[t].tolist()))  # positive pairs are never sampled
    m1_, m2_ = blk.mask[0].numpy(), blk.mask[1].numpy()
    assert (blk.pre[0].numpy()[m1_] == np.broadcast_to(starts[:, None], m1_.shape)[m1_]).all()
    slot = blk.extra["pre_slot"][1].numpy()
    assert ((slot >= 0) == m2_).all()
    n1 = np.take_along_axis(blk.nodes[0].numpy(), np.maximum(slot, 0), 1)
    assert (n1[m2_] == blk.pre[1].numpy()[m2_]).all()
    assert (np.take_along_axis(m1_, np.maximum(slot, 0), 1)[m2_]).all()
    # without positives, hop 1 takes min(k1, degree) neighbours
    free = s.sample_path("p", starts, seed=seed)
    ok = (starts >= 0) & (starts < na)
    deg = np.where(ok, g.rel(r1).degree(np.clip(starts, 0, na - 1)), 0)
    np.testing.assert_array_equal(free.mask[0].numpy().sum(1), np.minimum(deg, k1))
    again = s.sample_path("p", starts, positives=pos, seed=seed)
    for x, y in zip(blk.nodes + blk.edge, again.nodes + again.edge, strict=True):
        assert torch.equal(x, y)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 12), m=st.integers(0, 40), fan=st.lists(st.integers(1, 4), min_size=1, max_size=2),
       seed=st.integers(0, 2**31 - 1), data=st.data())
def test_social_property_random_graphs(n: int, m: int, fan: list[int], seed: int, data) -> None:
    rels = {}
    for v in ("friend", "pay"):
        a = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
        b = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
        keep = a != b
        a, b = a[keep], b[keep]
        rels[social_type(v)] = from_coo(np.concatenate([a, b]), np.concatenate([b, a]), n, n, dedupe=True)
    g = HeteroGraph({"user": n}, rels, np.zeros(0, np.int32), np.zeros((0, 1), np.int32), np.zeros(0, np.int64),
                    np.zeros(0, np.int64), np.zeros(0, np.int64), meta={"social_views": ["friend", "pay"]})
    src = np.array(data.draw(st.lists(st.integers(-1, n + 2), min_size=1, max_size=10)))
    dst = np.array(data.draw(st.lists(st.integers(-1, n + 2), min_size=len(src), max_size=len(src))))
    s = MultiViewSocialSampler(g, fanouts=fan)
    out = s.sample(src, seed)
    assert set(out) == {"friend", "pay"}
    for v, blk in out.items():
        assert blk.edge_types == [social_type(v)] * len(fan)
        _check_true_edges(g, blk)
        _check_masks(blk)
        csr = g.rel(social_type(v))
        deg = np.where((src >= 0) & (src < n), csr.degree(np.clip(src, 0, n - 1)), 0)
        np.testing.assert_array_equal(blk.mask[0].numpy().sum(1), np.minimum(deg, fan[0]))
    sub, sub2 = s.subgraph(src, dst, seed), s.subgraph(src, dst, seed)
    assert sub.keys() == sub2.keys() and all(torch.equal(sub[k], sub2[k]) for k in sub)


@settings(max_examples=30, deadline=None)
@given(n_users=st.integers(1, 8), n_items=st.integers(1, 10), m=st.integers(0, 60), n_cats=st.integers(1, 3),
       uw=st.lists(st.integers(1, 4), min_size=1, max_size=3), iw=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       cat_filter=st.booleans(), seed=st.integers(0, 2**31 - 1), data=st.data())
def test_target_aware_time_bound_random_graphs(n_users: int, n_items: int, m: int, n_cats: int, uw: list[int],
                                               iw: list[int], cat_filter: bool, seed: int, data) -> None:
    """With the targets' times, every sampled click at every hop is strictly older than its target (with and
    without the category filter), hop 1 takes min(width, #eligible older edges), attributes stay aligned."""
    g = _bipartite(n_users, n_items, m, n_cats, data)
    fwd, rev = g.rel(USER_CLICK), g.rel(ITEM_CLICKED_BY)
    nt = data.draw(st.integers(1, 8))
    users = np.array(data.draw(st.lists(st.integers(0, n_users - 1), min_size=nt, max_size=nt)))
    items = np.array(data.draw(st.lists(st.integers(0, n_items - 1), min_size=nt, max_size=nt)))
    t = np.array(data.draw(st.lists(st.integers(0, 10**6 + 1), min_size=nt, max_size=nt)))
    s = TargetAwareSampler(g, uw, iw, category_filter=cat_filter)
    ub, ib = s.sample(users, items, seed, ts=t)
    assert _target_pair_hits(ub, ib, users, items) == 0
    tcat = g.item_category[items]
    for blk in (ub, ib):
        _check_true_edges(g, blk)
        _check_masks(blk)
        _check_edge_attrs(blk, fwd, rev)
        for k in range(len(blk.nodes)):  # the graph as of each target's time, at every hop
            assert (blk.extra["ts"][k].numpy() < t[:, None])[blk.mask[k].numpy()].all()
    for r in range(nt):
        lo, hi = fwd.indptr[users[r]], fwd.indptr[users[r] + 1]
        nb, ets = fwd.indices[lo:hi], fwd.attrs["ts"][lo:hi]
        ok = (nb != items[r]) & (ets < t[r]) & ((g.item_category[nb] == tcat[r]) if cat_filter else True)
        assert int(ub.mask[0][r].sum()) == min(uw[0], int(ok.sum()))
    # times after every edge: as many hop-1 neighbours as without a time bound, and (category filter on: the
    # rows are already time-sorted within a category) the very same draw at every hop; with the filter off the
    # time-sorted rows draw other hop-1 nodes, so deeper hops may differ in size
    ub0, _ = s.sample(users, items, seed)
    ub1, _ = s.sample(users, items, seed, ts=np.full(nt, 10**7))
    assert torch.equal(ub0.mask[0], ub1.mask[0])
    if cat_filter:
        for x, y in zip(ub0.nodes + ub0.edge, ub1.nodes + ub1.edge, strict=True):
            assert torch.equal(x, y)


# ------------------------------------------------------------------------------------------- threads
_THREADS_SCRIPT = """
import numpy as np, torch
torch.set_num_threads(1)
import numba
from unisr.graph.csr import from_coo
from unisr.graph.samplers._kernels import fused_hop, match_torch_threads
csr = from_coo(np.array([0, 0, 1, 2, 2, 2]), np.array([1, 2, 0, 0, 1, 3]), 4, 4)
prev = np.arange(4, dtype=np.int64)
n = len(prev) * 2
out = [np.zeros(n, np.int64), np.zeros(n, bool), np.zeros(n, np.int64), np.full(n, -1, np.int64)]
e = np.zeros(0, np.int64)
fused_hop(csr.indptr, csr.indices, prev, np.ones(4, bool), 1, 2, 0, 0, np.zeros(0, np.int32),
          np.zeros(0, np.int32), e, e, e, e, e, out[0], out[1], out[2], out[3], e, e)
x = torch.randn(64, 64)
x @ x
print(torch.get_num_threads(), numba.get_num_threads())
torch.set_num_threads(2)
print(match_torch_threads())
"""


@pytest.mark.skipif((__import__("os").cpu_count() or 1) < 2, reason="needs 2 cores to tell 1 thread from all")
def test_kernels_keep_torch_thread_count() -> None:
    """numba's OpenMP pool launch must not undo torch.set_num_threads (it shares torch's runtime), and the
    kernels follow torch's count; a fresh interpreter, since this process may have launched the pool."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", _THREADS_SCRIPT], capture_output=True, text=True, check=True)
    assert r.stdout.split() == ["1", "1", "2"], r.stdout + r.stderr
