"""Retrieval slices (evaluate/retrieval_slices.py): HR@K on all and long-tail targets per query-popularity bin on
a hand case, the bin edges, the wiring into ``evaluate_retrieval`` (against a per-query loop), and a tiny
``unisr train --model dssm`` writing ``scenarios.<name>.slices`` that ``unisr evaluate`` reproduces."""

import json

import numpy as np
import pytest

from synth import make_dataset
from unisr.evaluate.retrieval import Interactions, Queries, build_indexes, evaluate_retrieval
from unisr.evaluate.retrieval_slices import TrainingClicks, popularity_bins, retrieval_slices
from unisr.pipeline.config import IndexConfig, MatchingConfig

# training clicks per (scenario, item entity 0..6): s0: item 1 x10, 2 x5, 3 x2, 4 x0, 5 x1, 6 x3 (tail: 3, 4, 5);
# s1: item 1 never clicked (tail there), every other item x9
ITEM_CLICKS = np.array([[0, 10, 5, 2, 0, 1, 3], [0, 0, 9, 9, 9, 9, 9]])


def hand_case():
    ranked = np.array([[1, 2], [1, 3], [2, 4], [6, 2], [-1, -1], [1, -1]])
    targets = [[1], [1, 3], [4], [5, 6], [2], [1]]
    t_off = np.concatenate([[0], np.cumsum([len(t) for t in targets])])
    t_items = np.concatenate(targets)
    scenario = np.array([0, 0, 0, 0, 0, 1])
    popularity = np.array([0, 1, 3, 15, 15, 4])  # log1p: 0, ln 2, ln 4, ln 16, ln 16 (s0); one value in s1
    return ranked, t_off, t_items, scenario, popularity


def test_hand_case_all_and_long_tail_per_bin():
    ranked, t_off, t_items, scen, pop = hand_case()
    got = retrieval_slices(ranked, t_off, t_items, scen, ITEM_CLICKS, pop, [1, 2], ["s0", "s1"])
    s0 = got["s0"]
    assert s0["tail_clicks"] == 3 and s0["binning"] == "equal_width_log1p"
    # equal width on log(1 + popularity) from ln 1 to ln 16: edges 16^(i/5) - 1 clicks
    assert s0["bin_edges"] == pytest.approx([16 ** (i / 5) - 1 for i in range(6)], abs=1e-6)
    # all: q0 hit@1, q1 hit@1, q2 hit@2, q3 hit@1 (item 6), q4 nothing ranked
    assert s0["all"]["n"] == 5 and s0["all"]["hr@1"] == pytest.approx(0.6) and s0["all"]["hr@2"] == pytest.approx(0.8)
    # bins: q0 -> 0, q1 (ln 2 = 1.25 widths) -> 1, q2 (2.5 widths) -> 2, none in 3, q3 and q4 (the maximum) -> 4
    assert [b["n"] for b in s0["all"]["bins"]] == [1, 1, 1, 0, 2]
    assert [b["hr@1"] for b in s0["all"]["bins"]] == [1.0, 1.0, 0.0, None, 0.5]
    assert [b["hr@2"] for b in s0["all"]["bins"]] == [1.0, 1.0, 1.0, None, 0.5]
    # long tail: q0 and q4 have popular targets only (items 1, 2) and are not in the cell; q1 (item 3 at rank 2),
    # q2 (item 4 at rank 2), q3 (item 5 not ranked; its popular item 6 at rank 1 does not count)
    tail = s0["long_tail"]
    assert tail["n"] == 3 and tail["targets"] == 3
    assert tail["hr@1"] == 0.0 and tail["hr@2"] == pytest.approx(2 / 3)
    assert [b["n"] for b in tail["bins"]] == [0, 1, 1, 0, 1]
    assert [b["hr@2"] for b in tail["bins"]] == [None, 1.0, 1.0, None, 0.0]
    # s1: item 1 has no training click there (10 in s0): a long-tail hit at rank 1; one popularity -> bin 0
    s1 = got["s1"]
    assert s1["long_tail"]["n"] == 1 and s1["long_tail"]["hr@1"] == 1.0
    assert [b["n"] for b in s1["all"]["bins"]] == [1, 0, 0, 0, 0] and s1["bin_edges"] == [4.0] * 6


def test_bin_edges_are_half_open_and_the_last_closed():
    b, edges = popularity_bins(np.array([0, 3, 15, 1]), bins=2)  # log1p edges 0, ln 4, ln 16
    assert edges.tolist() == pytest.approx([0.0, 3.0, 15.0])
    assert b.tolist() == [0, 1, 1, 0]  # 3 clicks sits on the inner edge: the upper bin; 15 (the maximum): the last
    b, edges = popularity_bins(np.array([2, 2, 2]))
    assert b.tolist() == [0, 0, 0] and edges.tolist() == pytest.approx([2.0] * 6)


def test_training_clicks_query_popularity():
    clicks = TrainingClicks.build(np.array([7, 7, 7, 3, 7]), np.array([0, 0, 1, 0, 0]), ITEM_CLICKS)
    # group 7 clicked 3 times in s0 and once in s1; group 3 once in s0; group 5 never
    assert clicks.query_popularity(np.array([7, 7, 3, 3, 5]), np.array([0, 1, 0, 1, 0])).tolist() == [3, 1, 1, 0, 0]
    assert TrainingClicks.build(np.zeros(0), np.zeros(0), ITEM_CLICKS).query_popularity(
        np.array([1]), np.array([0])).tolist() == [0]


def brute_force(ranked, targets, scen, item_clicks, k):
    """Long-tail HR@k by a per-query loop (the reference for the vectorised cell)."""
    hits, n = 0, 0
    for row, t, s in zip(ranked, targets, scen, strict=True):
        tail = [i for i in t if item_clicks[s, i] < 3]
        if tail:
            n += 1
            hits += bool(set(row[:k].tolist()) & set(tail))
    return hits / n, n


def test_evaluate_retrieval_slices_match_a_loop_and_leave_the_rest_unchanged():
    g = np.random.default_rng(0)
    n_items, q, d = 60, 200, 8
    corpus = g.normal(size=(2, n_items, d)).astype(np.float32)
    targets = [np.unique(g.integers(1, n_items + 1, g.integers(1, 4))) for _ in range(q)]
    scen = g.integers(0, 2, q)
    queries = Queries(user=np.arange(q) % 50, scenario=scen, vectors=g.normal(size=(q, d)).astype(np.float32),
                      t_off=np.concatenate([[0], np.cumsum([len(t) for t in targets])]),
                      t_items=np.concatenate(targets))
    train = Interactions(g.integers(0, 50, 250), g.integers(0, 2, 250), g.integers(1, n_items + 1, 250))
    cfg = MatchingConfig(ks=[5, 10, 20], exclude="none")
    clicks = TrainingClicks.build(train.user, train.scenario, train.item_counts(n_items, 2))
    assert (clicks.item[:, 1:] < 3).any() and (clicks.item[:, 1:] >= 3).any()  # both kinds of target occur
    ann = IndexConfig(kind="hnsw")
    indexes = build_indexes(corpus, ann)  # one ANN index for both calls
    plain = evaluate_retrieval(queries, corpus, train, ["a", "b"], cfg, ann=ann, indexes=indexes)
    cut = evaluate_retrieval(queries, corpus, train, ["a", "b"], cfg, ann=ann, indexes=indexes, slices=clicks)
    for side in (cut, cut["ann"]):
        for s, name in enumerate(["a", "b"]):
            block = side["scenarios"][name]
            sl = block.pop("slices")
            for k in cfg.ks:
                assert sl["all"][f"hr@{k}"] == pytest.approx(block[f"hr@{k}"])
            assert sum(b["n"] for b in sl["all"]["bins"]) == block["n"]
            assert sum(b["n"] for b in sl["long_tail"]["bins"]) == sl["long_tail"]["n"]
            # the long-tail cell against a loop over the same ranked lists (exact search, scores by hand)
            if side is cut:
                m = np.flatnonzero(scen == s)
                scores = queries.vectors[m] @ corpus[s].T
                ranked = np.argsort(-scores, axis=1)[:, :20] + 1
                hr, n = brute_force(ranked, [targets[i] for i in m], scen[m], clicks.item, 10)
                assert 0 < n < len(m)  # some queries with long-tail targets, some without
                assert sl["long_tail"]["n"] == n and sl["long_tail"]["hr@10"] == pytest.approx(hr)
    assert cut == plain  # without the slices keys, the output is what it was



def test_matching_run_writes_slices(tmp_path, unisr):
    data = make_dataset(tmp_path / "data", n_events=3000)
    out = tmp_path / "run"
    unisr("train", "--model", "dssm", "--data", data, "--out", out, "--set", "train.epochs=1",
        "--set", "data.batch_size=256", "--set", "train.progress=false", "--set", "model.hidden=[16]",
        "--set", "model.dim=8", "--set", "train.matching.index.kind=hnsw")
    m = json.loads((out / "metrics.json").read_text())
    assert m["scenarios"]
    for side in (m, m["ann"], m["baselines"]["popularity"]):
        for block in side["scenarios"].values():
            sl = block["slices"]
            assert sl["all"]["hr@100"] == pytest.approx(block["hr@100"]) and sl["all"]["n"] == block["n"]
            assert len(sl["bin_edges"]) == 6 and sl["bin_edges"] == sorted(sl["bin_edges"])
            assert sum(b["n"] for b in sl["all"]["bins"]) == block["n"]
            assert 0 <= sl["long_tail"]["n"] <= block["n"]
    assert "slices" not in m["overall"]
    # `unisr evaluate --run` reproduces them (the same training clicks, the same ranked lists)
    ev = json.loads(unisr("evaluate", "--run", out).stdout)
    for name, block in m["scenarios"].items():
        want, got = flat(block["slices"]), flat(ev["scenarios"][name]["slices"])
        assert got.keys() == want.keys()
        assert all(got[k] == want[k] or got[k] == pytest.approx(want[k], abs=1e-9) for k in want), name


def flat(d, prefix=""):
    """{"a.b.0.c": value} of nested dicts and lists."""
    items = d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, list) else None
    if items is None:
        return {prefix: d}
    out = {}
    for k, v in items:
        out.update(flat(v, f"{prefix}{k}."))
    return out
