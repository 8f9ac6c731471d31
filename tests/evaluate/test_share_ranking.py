"""User -> user ranking metrics of sharing recommendation (TreeMS sec. 4.1.3) on hand-made scores: AUC, GAUC per
source user, and per request (a source user sharing in a scenario, with its shown candidate list) MRR, HR@5,
HR@10, overall and per scenario, as ``ScenarioMetrics`` writes them to metrics.json."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from unisr.evaluate.metrics import ScenarioMetrics

# (scenario, source user, request, score, label)
ROWS = (
    # scenario 0, request 1 of user 1: the click ranks 2nd
    [(0, 1, 1, s, y) for s, y in [(0.9, 0), (0.8, 1), (0.3, 0)]]
    # scenario 0, request 2 of user 2: the click ranks 3rd
    + [(0, 2, 2, s, y) for s, y in [(0.2, 1), (0.7, 0), (0.6, 0), (0.1, 0), (0.05, 0), (0.04, 0)]]
    # scenario 1, request 3 of user 1: 12 candidates, the click ranks 7th
    + [(1, 1, 3, s, int(s == 0.04)) for s in [0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.04, 0.03, 0.02, 0.01, 0.001, 1e-4]]
    # scenario 1, request 4 of user 3: no click (skipped by the list metrics, counted by AUC)
    + [(1, 3, 4, s, 0) for s in [0.6, 0.55]]
)


def metrics() -> dict:
    a = np.array(ROWS)
    m = ScenarioMetrics(["share/a", "share/b"])
    half = len(a) // 2  # two batches, as the evaluator streams them
    for part in (a[:half], a[half:]):
        m.update(scenario=part[:, 0].astype(np.int64), user=part[:, 1].astype(np.int64),
                 request=part[:, 2].astype(np.int64), prob=part[:, 3], label=part[:, 4])
    return m.compute()


def brute_auc(pos: list[float], neg: list[float]) -> float:
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_per_scenario_hand_computed():
    res = metrics()["scenarios"]
    a, b = res["share/a"], res["share/b"]
    # scenario a: positives 0.8, 0.2 against 7 negatives: 0.8 beats 6, 0.2 beats 3 -> 9 / 14
    assert a["auc"] == pytest.approx(9 / 14)
    # GAUC: user 1 (3 rows) 0.8 vs {0.9, 0.3} = 1/2; user 2 (6 rows) 0.2 vs 5 negatives = 3/5
    assert a["gauc"] == pytest.approx((3 * 0.5 + 6 * 0.6) / 9)
    assert a["mrr"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert a["hr@5"] == 1.0 and a["hr@10"] == 1.0 and a["requests"] == 2
    # scenario b: one request with a click at rank 7; user 3's request has none
    assert b["mrr"] == pytest.approx(1 / 7)
    assert b["hr@5"] == 0.0 and b["hr@10"] == 1.0 and b["requests"] == 1
    assert b["auc"] == pytest.approx(brute_auc([0.04], [s for s, y in
                                                         [(r[3], r[4]) for r in ROWS if r[0] == 1] if y == 0]))
    assert b["auc"] == pytest.approx(5 / 13)  # 0.04 beats 0.03 .. 1e-4 (5) of 13 negatives
    assert b["gauc"] == pytest.approx(5 / 11)  # user 3 has no positive; user 1 alone: 5 of 11


def test_overall_hand_computed():
    o = metrics()["overall"]
    assert o["n"] == len(ROWS) and o["positives"] == 3
    assert o["mrr"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 7) / 3)
    assert o["hr@5"] == pytest.approx(2 / 3) and o["hr@10"] == 1.0 and o["requests"] == 3
    pos = [r[3] for r in ROWS if r[4] == 1]
    neg = [r[3] for r in ROWS if r[4] == 0]
    assert o["auc"] == pytest.approx(brute_auc(pos, neg))
    # GAUC groups by source user across scenarios: user 1 (15 rows): 0.8 beats 12 of 13 negatives, 0.04 beats
    # 5 -> 17 / 26; user 2 (6 rows): 3/5; user 3: one class only, skipped
    assert o["gauc"] == pytest.approx((15 * 17 / 26 + 6 * 0.6) / 21)


def test_ties_are_pessimistic_for_the_clicked_user():
    m = ScenarioMetrics(["s"])
    m.update(scenario=np.zeros(3, np.int64), user=np.ones(3, np.int64), request=np.ones(3, np.int64),
             prob=np.array([0.5, 0.5, 0.5]), label=np.array([0, 1, 0]))
    r = m.compute()["overall"]
    assert r["mrr"] == pytest.approx(1 / 3) and r["auc"] == pytest.approx(0.5)
