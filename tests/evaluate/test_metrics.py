import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from unisr.evaluate.metrics import (
    ScenarioMetrics,
    auc,
    group_auc,
    list_metrics,
    logloss,
    rela_impr,
    retrieval_metrics,
)


def test_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    s = np.round(rng.random(2000) + 0.3 * y, 1)  # many ties
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_auc_one_class_is_nan():
    assert np.isnan(auc(np.ones(4), np.arange(4)))


def test_gauc_hand_computed():
    # user 0: labels 1,0,0 scores .9,.5,.7 -> AUC 1.0, 3 impressions
    # user 1: labels 0,1 scores .8,.2 -> AUC 0.0, 2 impressions
    # user 2: labels 1,1 -> one class, skipped
    # user 3: labels 1,0,1,0 scores .5,.5,.9,.1 -> pairs: (.5 vs .5)=.5,(.5 vs .1)=1,(.9 vs .5)=1,(.9 vs .1)=1 -> 3.5/4
    y = np.array([1, 0, 0, 0, 1, 1, 1, 1, 0, 1, 0])
    s = np.array([.9, .5, .7, .8, .2, .3, .4, .5, .5, .9, .1])
    g = np.array([0, 0, 0, 1, 1, 2, 2, 3, 3, 3, 3])
    expected = (3 * 1.0 + 2 * 0.0 + 4 * 0.875) / (3 + 2 + 4)
    val, used = group_auc(y, s, g)
    assert used == 3
    assert val == pytest.approx(expected)


def test_gauc_equals_mean_of_sklearn_per_group():
    rng = np.random.default_rng(1)
    g = rng.integers(0, 30, 3000)
    y = rng.integers(0, 2, 3000)
    s = np.round(rng.random(3000), 2)
    num = den = 0.0
    for k in np.unique(g):
        m = g == k
        if 0 < y[m].sum() < m.sum():
            num += roc_auc_score(y[m], s[m]) * m.sum()
            den += m.sum()
    assert group_auc(y, s, g)[0] == pytest.approx(num / den, abs=1e-12)


def test_logloss_matches_sklearn():
    y = np.array([1, 0, 1, 1, 0])
    p = np.array([.9, .2, .6, .4, .5])
    assert logloss(y, p) == pytest.approx(log_loss(y, p))


def test_rela_impr_hand_computed():
    # (0.75 - 0.5) / (0.70 - 0.5) - 1 = 0.25
    assert rela_impr(0.75, 0.70) == pytest.approx(25.0)
    assert rela_impr(0.70, 0.70) == pytest.approx(0.0)


def test_list_metrics_hand_computed():
    # request 1: clicked item ranked 2nd -> rr 1/2; request 2: clicked first -> 1; request 3: no click, skipped
    y = np.array([0, 1, 0, 1, 0, 0, 0])
    s = np.array([.9, .5, .1, .8, .3, .4, .2])
    r = np.array([1, 1, 1, 2, 2, 3, 3])
    m = list_metrics(y, s, r, ks=(1, 5))
    assert m["requests"] == 2
    assert m["mrr"] == pytest.approx(0.75)
    assert m["hr@1"] == pytest.approx(0.5)
    assert m["hr@5"] == pytest.approx(1.0)


def test_list_metrics_ties_pessimistic():
    m = list_metrics(np.array([1, 0]), np.array([.5, .5]), np.array([0, 0]), ks=(1,))
    assert m["mrr"] == pytest.approx(0.5)


def test_retrieval_metrics():
    ranked = np.array([[5, 3, 9], [1, 2, 3], [7, 8, 9]])
    target = np.array([3, 1, 4])
    m = retrieval_metrics(ranked, target, ks=(1, 3))
    assert m["hr@1"] == pytest.approx(1 / 3)
    assert m["hr@3"] == pytest.approx(2 / 3)
    assert m["mrr@3"] == pytest.approx((0.5 + 1) / 3)
    assert m["ndcg@3"] == pytest.approx((1 / np.log2(3) + 1) / 3)


def test_scenario_metrics_per_scenario_and_oracle():
    rng = np.random.default_rng(2)
    n = 4000
    sc = rng.integers(0, 2, n)
    p = rng.random(n)
    y = (rng.random(n) < p).astype(float)
    m = ScenarioMetrics(["a", "b"])
    half = n // 2
    for sl in (slice(0, half), slice(half, n)):
        m.update(scenario=sc[sl], label=y[sl], prob=p[sl] * 0.5, user=np.arange(n)[sl] % 50,
                 request=np.arange(n)[sl] // 10, p_true=p[sl])
    res = m.compute()
    assert res["overall"]["n"] == n
    assert res["scenarios"]["a"]["n"] + res["scenarios"]["b"]["n"] == n
    assert res["overall"]["oracle_auc"] == pytest.approx(roc_auc_score(y, p))
    assert res["scenarios"]["b"]["auc"] == pytest.approx(roc_auc_score(y[sc == 1], p[sc == 1]))
    assert "mrr" in res["overall"] and "hr@5" in res["overall"]


def test_oracle_auc_no_position_is_the_auc_of_the_position_free_truth():
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from unisr.evaluate.metrics import ScenarioMetrics

    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(np.float32)
    p = rng.random(400).astype(np.float32)
    pos = rng.integers(0, 10, 400)
    logit = np.log(p / (1 - p))
    p_nopos = 1 / (1 + np.exp(-(logit + 0.8 * np.log2(1 + pos))))  # the position term removed by hand
    p_nopos[:5] = np.nan  # unknown rows are left out
    m = ScenarioMetrics(["a"])
    m.update(scenario=np.zeros(400, np.int64), label=y, prob=p, user=np.arange(400), p_true=p,
             p_true_no_position=p_nopos.astype(np.float32))
    out = m.compute()["scenarios"]["a"]
    assert abs(out["oracle_auc_no_position"] - roc_auc_score(y[5:], p_nopos[5:])) < 1e-9
    assert abs(out["oracle_auc"] - roc_auc_score(y, p)) < 1e-9
