"""graph/samplers/union.py on the tiny dataset's graph: each sampled edge is an edge of one of the scenario's
relations of its parent's type (independently checked with ``CSR.has_edges``), draws are without replacement and
take every neighbour of a small degree, the batch's positive pairs never enter the sample (either direction, any
hop), and ``by_node`` draws do not depend on the batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unisr.graph.build import ITEM_CE_QUERY, QUERY_CE, TRIGGER_CE, oe_type, se_type
from unisr.graph.samplers.union import ScenarioSamplers, UnionSampler, scenario_relations, tree_parent
from unisr.graph.store import HeteroGraph


def _search(graph: HeteroGraph) -> dict[str, str]:
    return {n: k for n, k in zip(graph.meta["scenarios"], graph.meta["scenario_kinds"], strict=False)
            if k.startswith("search_")}


def _edges(smp: UnionSampler, sample) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """(parent, child) global ids of every valid sampled edge."""
    nodes, mask = sample.flat()
    par = tree_parent(sample.fanouts)
    b, c = np.nonzero(mask[:, 1:].numpy())
    c = c + 1
    return nodes.numpy()[b, par.numpy()[c]], nodes.numpy()[b, c]


def _is_relation_edge(graph: HeteroGraph, smp: UnionSampler, u: np.ndarray, w: np.ndarray) -> np.ndarray:
    tu, tw = smp.node_type(torch.as_tensor(u)).numpy(), smp.node_type(torch.as_tensor(w)).numpy()
    ok = np.zeros(len(u), bool)
    for src, ets in smp.relations.items():
        for et in ets:
            sel = (tu == smp.types.index(src)) & (tw == smp.types.index(et[2]))
            if sel.any():
                ok[sel] |= graph.rel(et).has_edges(u[sel] - smp.offset[src], w[sel] - smp.offset[et[2]])
    return ok


def test_scenario_relations_per_kind(graph: HeteroGraph) -> None:
    s = _search(graph)
    by_kind = {k: n for n, k in s.items()}
    text, sim, vis = by_kind["search_text"], by_kind["search_similar"], by_kind["search_visual"]
    assert scenario_relations(graph, text, "search_text") == {
        "item": [ITEM_CE_QUERY, oe_type(text), se_type(text)], "query": [QUERY_CE]}
    r = scenario_relations(graph, sim, "search_similar")
    assert r["trigger"] == [TRIGGER_CE] and oe_type(sim) in r["item"] and "query" not in r
    assert scenario_relations(graph, vis, "search_visual") == {"item": [oe_type(vis), se_type(vis)]}
    with pytest.raises(ValueError, match="kind"):
        scenario_relations(graph, text, "recommend")


def test_tree_parent() -> None:
    assert tree_parent([2, 3]).tolist() == [-1, 0, 0, 1, 1, 1, 2, 2, 2]


def test_samples_follow_the_scenarios_relations_without_replacement(graph: HeteroGraph) -> None:
    samplers = ScenarioSamplers(graph, _search(graph), [4, 3])
    for name, smp in samplers.by_scenario.items():
        items = np.flatnonzero(smp.degree(np.arange(smp.offset["item"] + 1, smp.offset["item"] +
                                                    graph.num_nodes["item"])) > 0)[:300] + 1
        seeds = smp.to_global("item", items)
        sample = smp.sample(seeds, seed=3)
        u, w = _edges(smp, sample)
        assert len(u) > len(seeds), name
        assert _is_relation_edge(graph, smp, u, w).all(), name
        # only this scenario's node types: a text item never reaches a trigger, a visual one only items
        kinds = {smp.types[t] for t in smp.node_type(torch.as_tensor(w)).tolist()}
        kind = _search(graph)[name]
        assert kinds == {"search_text": {"item", "query"}, "search_similar": {"item", "trigger"},
                         "search_visual": {"item"}}[kind], (name, kinds)
        # hop 1: distinct neighbours, and min(degree, fanout) of them
        h1, m1 = sample.nodes[0].numpy(), sample.mask[0].numpy()
        deg = smp.degree(seeds)
        assert (m1.sum(1) == np.minimum(deg, 4)).all()
        for r in range(0, len(seeds), 37):
            got = h1[r][m1[r]]
            assert len(set(got.tolist())) == len(got)


def test_positive_pairs_never_enter_the_sample(graph: HeteroGraph) -> None:
    name = next(n for n, k in _search(graph).items() if k == "search_text")
    smp = UnionSampler(graph, scenario_relations(graph, name, "search_text"), [5, 4])
    ce = graph.rel(QUERY_CE)
    one = np.nonzero(np.diff(ce.indptr) == 1)[0][:20]  # queries with exactly one clicked item ...
    alone = smp.degree(smp.to_global("query", one)) == 1  # ... and no other neighbour in the union
    q = smp.to_global("query", one[alone])
    item = smp.to_global("item", ce.indices[ce.indptr[one[alone]]].astype(np.int64))
    assert len(q) > 3
    free = smp.sample(q, seed=1)
    assert (free.nodes[0][:, 0] == item).all() and free.mask[0][:, 0].all()
    held = smp.sample(q, torch.stack([q, item], 1), seed=1)
    assert not held.mask[0].any()  # the only neighbour was the positive: discarded, none to redraw
    # many seeds, every second of their sampled hop-1 edges as the batch's positives (given item -> query,
    # reversed too). Half, not all: these queries have <= 5 neighbours (all of them on data version 2), so
    # with every hop-1 edge held out nothing is left to sample; with half, the kept items' hop-2 draws reach
    # back to the held-out pairs' queries, so the check covers both hops
    qs = smp.to_global("query", np.flatnonzero(np.diff(ce.indptr) > 0)[:200])
    first = smp.sample(qs, seed=5)
    rows, cols = torch.nonzero(first.mask[0], as_tuple=True)
    rows, cols = rows[::2], cols[::2]
    pairs = torch.stack([first.nodes[0][rows, cols], qs[rows]], 1)
    again = smp.sample(qs, pairs, seed=5)
    u, w = _edges(smp, again)
    keys = set((pairs[:, 0] * smp.base + pairs[:, 1]).tolist()) | set((pairs[:, 1] * smp.base + pairs[:, 0]).tolist())
    assert len(u) > 100 and not (set((u * smp.base + w).tolist()) & keys)
    # without the pairs the same draw does contain them, at hop 1 and at hop 2 (the test could fail)
    u0, w0 = _edges(smp, first)
    hop2 = np.nonzero(first.flat()[1][:, 1:].numpy())[1] + 1 > first.fanouts[0]  # slots 1..5: hop 1
    assert set((u0[~hop2] * smp.base + w0[~hop2]).tolist()) & keys
    assert set((u0[hop2] * smp.base + w0[hop2]).tolist()) & keys


def test_by_node_draws_do_not_depend_on_the_batch(graph: HeteroGraph) -> None:
    name = next(n for n, k in _search(graph).items() if k == "search_similar")
    smp = UnionSampler(graph, scenario_relations(graph, name, "search_similar"), [3, 2])
    seeds = smp.to_global("item", np.arange(1, 81))
    a = smp.sample(seeds, seed=9, by_node=True).flat()
    b = smp.sample(seeds[40:], seed=9, by_node=True).flat()
    assert torch.equal(a[0][40:], b[0]) and torch.equal(a[1][40:], b[1])
    c = smp.sample(seeds[40:], seed=9).flat()  # keyed by row: the draws move with the batch
    assert not torch.equal(a[0][40:], c[0])
