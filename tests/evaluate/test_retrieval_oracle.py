"""The retrieval oracle (evaluate/retrieval_oracle.py): hand cases for the group-mean ranking, the in-category
filter and the exclusions, and on the tiny simulation (through benchmarks/retrieval_oracle.py's pipeline set-up,
the protocol of a matching run) the oracle against the popularity baseline under the same protocol."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from unisr.evaluate.retrieval import Interactions, Queries
from unisr.evaluate.retrieval_oracle import evaluate_oracle, oracle_rankings, select_queries
from unisr.pipeline.config import MatchingConfig

_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


def _bench():
    sys.path.insert(0, str(_DIR))  # the script imports benchmarks/machine.py as its neighbour
    spec = importlib.util.spec_from_file_location("retrieval_oracle_bench", _DIR / "retrieval_oracle.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["retrieval_oracle_bench"] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


def _scores(table: dict[int, list[float]]):
    """event_scores from a hand table: event id -> probabilities of item entities 1..N."""
    return lambda ids: np.array([table[int(e)] for e in ids], np.float64)


def _queries(groups: list[list[int]], targets: list[list[int]], user=None, scenario=None, category=None) -> Queries:
    q = len(groups)
    return Queries(user=np.array(user if user is not None else range(q)), scenario=np.array(scenario or [0] * q),
                   vectors=np.zeros((q, 1), np.float32),
                   t_off=np.concatenate([[0], np.cumsum([len(t) for t in targets])]),
                   t_items=np.array([i for t in targets for i in t]),
                   category=None if category is None else np.array(category),
                   events=np.array([e for g in groups for e in g]),
                   e_off=np.concatenate([[0], np.cumsum([len(g) for g in groups])]))


def test_a_group_ranks_by_the_mean_probability_over_its_events():
    # event 10 alone ranks item 1 first; event 11 item 2; their mean (0.45, 0.40, 0.50) ranks item 3 first
    table = {10: [0.9, 0.0, 0.5], 11: [0.0, 0.8, 0.5], 12: [0.1, 0.2, 0.3]}
    q = _queries([[10, 11], [10], [12]], [[3], [3], [1]])
    ranked = oracle_rankings(q, _scores(table), Interactions.empty(), 3, 1, "none", 3)
    assert ranked.tolist() == [[3, 1, 2], [1, 3, 2], [3, 2, 1]]
    res = evaluate_oracle(q, _scores(table), Interactions.empty(), ["s0"], MatchingConfig(ks=[1, 2]), 3)
    assert res["overall"]["hr@1"] == pytest.approx(1 / 3) and res["overall"]["n"] == 3
    assert res["scenarios"]["s0"]["hr@2"] == pytest.approx(2 / 3)


def test_in_category_never_ranks_another_categorys_item():
    item_category = np.array([-1, 0, 1, 0, 1, 1])  # entity 0 = OOV
    table = {1: [0.9, 0.1, 0.8, 0.3, 0.2], 2: [0.9, 0.1, 0.8, 0.3, 0.2]}
    q = _queries([[1], [2]], [[1], [3]], category=[1, 7])  # category 7 has no items
    ranked = oracle_rankings(q, _scores(table), Interactions.empty(), 5, 1, "none", 4, item_category)
    assert ranked[0].tolist() == [4, 5, 2, -1]  # items 1 and 3 score highest but are of category 0
    assert ranked[1].tolist() == [-1] * 4
    res = evaluate_oracle(q, _scores(table), Interactions.empty(), ["s0"], MatchingConfig(ks=[4]), 5, item_category)
    assert res["overall"]["hr@4"] == 0.0  # both targets lie outside their query's category
    whole = evaluate_oracle(q, _scores(table), Interactions.empty(), ["s0"], MatchingConfig(ks=[4]), 5)
    assert whole["overall"]["hr@4"] == 1.0


@pytest.mark.parametrize("scope, first", [("user_scenario", [2, 3]), ("user", [2, 3]), ("none", [1, 2])])
def test_the_query_users_excluded_items_are_not_ranked(scope: str, first: list[int]):
    table = {5: [0.9, 0.8, 0.7, 0.1]}
    q = _queries([[5]], [[3]], user=[1], scenario=[0])
    excluded = Interactions(np.array([1, 2]), np.array([0, 0]), np.array([1, 2]))  # user 2's click is not user 1's
    ranked = oracle_rankings(q, _scores(table), excluded, 4, 1, scope, 2)
    assert ranked[0].tolist() == first


def test_select_queries_reoffsets_targets_and_events():
    q = _queries([[10, 11], [12], [13, 14, 15]], [[1, 2], [3], [4, 5]], category=[0, 1, 2])
    sub = select_queries(q, np.array([True, False, True]))
    assert sub.user.tolist() == [0, 2] and sub.category.tolist() == [0, 2]
    assert sub.t_off.tolist() == [0, 2, 4] and sub.t_items.tolist() == [1, 2, 4, 5]
    assert sub.e_off.tolist() == [0, 2, 5] and sub.events.tolist() == [10, 11, 13, 14, 15]


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory: pytest.TempPathFactory):
    from unisr.simulate import simulate

    out = tmp_path_factory.mktemp("oracle") / "tiny"
    simulate("tiny", out, seed=0)
    bench = _bench()
    return bench, bench.prepare(out)


def test_queries_carry_their_clicked_events(tiny_setup):
    _, st = tiny_setup
    q, ev = st.queries, st.truth.ev
    assert q.e_off[-1] == len(q.events) and (np.diff(q.e_off) >= 1).all()
    rows = np.searchsorted(ev["event_id"], q.events)
    assert (ev["event_id"][rows] == q.events).all()
    qi = np.repeat(np.arange(len(q.user)), np.diff(q.e_off))
    entity = np.searchsorted(st.item_ids, ev["item_id"][rows]) + 1
    for k in np.unique(qi)[:200]:  # each event's item is one of its query's targets
        assert set(entity[qi == k]) <= set(q.t_items[q.t_off[k]:q.t_off[k + 1]])


def test_oracles_beat_popularity_on_tiny(tiny_setup):
    bench, st = tiny_setup
    for in_cat in (False, True):
        res = bench.measure(st, in_cat)
        o, p = res["oracle"]["overall"], res["popularity"]["overall"]
        assert o["n"] == p["n"] == res["queries"] > 50
        assert set(res["oracle"]["scenarios"]) == set(res["popularity"]["scenarios"])
        for k in (10, 50):
            assert o[f"hr@{k}"] >= p[f"hr@{k}"], (in_cat, k, o[f"hr@{k}"], p[f"hr@{k}"])
        assert o["hr@10"] > p["hr@10"] + 0.1  # far above: the oracle knows the true click model
        e = res["oracle_exposure"]["overall"]  # expected clicks: exposure x click, the ceiling proper
        assert e["n"] == o["n"]
        for k in (10, 50, 100):
            assert e[f"hr@{k}"] >= p[f"hr@{k}"] and e[f"mrr@{k}"] >= p[f"mrr@{k}"], (in_cat, k)
        assert e["hr@100"] >= o["hr@100"]  # knowing what the platform shows beats click-given-shown alone


def test_benchmark_script_writes_a_page_file(tiny_setup, tmp_path: Path):
    from unisr.bench.page import load

    bench, st = tiny_setup
    out = tmp_path / "results" / "retrieval_oracle.json"
    out.parent.mkdir()
    assert bench.main(["--data", str(st.truth.root), "--results", str(out), "--draws", "16"]) == 0
    (b,) = load(out.parent)
    assert b["format"] == "unisr-benchmark/1" and b["benchmark"] == "retrieval_oracle"
    # the page: one table per protocol; the file's results: every metric at every K
    assert len(b["tables"]) == 2 and b["tables"][0]["header"] == ["scenario", "queries", "hr@10", "hr@100", "mrr@100",
                                                                   "ndcg@100"]
    assert {f"{m}@{k}" for m in ("hr", "recall", "ndcg", "mrr") for k in (10, 50, 100, 200)} <= set(
        b["results"]["whole_corpus"]["oracle"]["overall"])
    assert max(v["max_abs_p_click"] for v in b["exactness"].values()) <= 2e-7
    assert "feed_main" in b["results"]["whole_corpus"]["oracle"]["scenarios"]
    assert set(b["results"]["in_category"]["oracle"]["scenarios"]) <= {"search_text", "search_visual",
                                                                       "search_similar"}
