"""Full-sort retrieval evaluation (evaluate/retrieval.py): metrics on hand cases, and the exclusion of the
user's earlier-split interactions (a hand case where the excluded item would be top-1)."""

import numpy as np
import pytest

from unisr.evaluate.retrieval import Interactions, Queries, evaluate_retrieval, exclude_top, ranking_metrics
from unisr.pipeline.config import IndexConfig, MatchingConfig


def test_ranking_metrics_hand_case():
    ranked = np.array([[5, 3, 9, 1], [2, 4, 6, -1]])
    t_off = np.array([0, 2, 3])
    t_items = np.array([3, 1, 7])  # query 0: targets {3, 1} at ranks 2 and 4; query 1: target 7 not retrieved
    m = ranking_metrics(ranked, t_off, t_items, [1, 2, 4])
    assert m["hr@1"].tolist() == [0, 0] and m["hr@2"].tolist() == [1, 0]
    assert m["recall@2"].tolist() == [0.5, 0] and m["recall@4"].tolist() == [1.0, 0]
    assert m["mrr@4"].tolist() == [0.5, 0]
    idcg = 1 + 1 / np.log2(3)
    assert m["ndcg@4"][0] == pytest.approx((1 / np.log2(3) + 1 / np.log2(5)) / idcg)
    assert m["ndcg@2"][0] == pytest.approx((1 / np.log2(3)) / idcg)


def test_exclude_top_keeps_order_and_pads():
    items = np.array([[4, 2, 7, 1], [3, -1, 5, 6]])
    excl = np.sort(np.array([0 * 12 + 4 + 1, 1 * 12 + 5 + 1]))  # pair_keys(group, item, n_items=10)
    out = exclude_top(items, np.array([0, 1]), excl, 10, 3)
    assert out.tolist() == [[2, 7, 1], [3, 6, -1]]


def one_user(exclude: str):
    """Corpus of 4 items in 1-d: item 4 scores highest; user 1 clicked item 4 in training and item 3 in test."""
    corpus = np.array([[[1.0], [2.0], [3.0], [4.0]]], np.float32)  # [S=1, N=4, d=1]
    q = Queries(user=np.array([1]), scenario=np.array([0]), vectors=np.array([[1.0]], np.float32),
                t_off=np.array([0, 1]), t_items=np.array([3]))
    train = Interactions(np.array([1, 2]), np.array([0, 0]), np.array([4, 2]))  # user 2's click is not user 1's
    cfg = MatchingConfig(ks=[1, 2], exclude=exclude)
    return evaluate_retrieval(q, corpus, train, ["s0"], cfg, ann=IndexConfig(kind="hnsw"))


def test_training_interactions_are_excluded():
    got = one_user("user_scenario")
    assert got["scenarios"]["s0"]["hr@1"] == 1.0 and got["scenarios"]["s0"]["mrr@2"] == 1.0
    assert got["ann"]["scenarios"]["s0"]["hr@1"] == 1.0  # the ANN side excludes the same items
    assert got["overall"]["n"] == 1
    none = one_user("none")  # without the exclusion the trained item 4 takes rank 1
    assert none["overall"]["hr@1"] == 0.0 and none["overall"]["hr@2"] == 1.0
    assert none["overall"]["mrr@2"] == 0.5


def test_interactions_counts():
    x = Interactions(np.array([1, 1, 2]), np.array([0, 1, 1]), np.array([3, 3, 2]))
    c = x.item_counts(4, 2)
    assert c.shape == (2, 5) and c[0, 3] == 1 and c[1, 3] == 1 and c[1, 2] == 1 and c.sum() == 3


def test_repeats_of_excluded_clicks_are_no_targets():
    import torch

    from unisr.data.batch import Batch
    from unisr.evaluate.retrieval import collect_queries

    # user 1 clicks items 2 and 3 in the evaluated split (scenario 0); item 2 was clicked in training
    b = Batch(scenario_id=torch.tensor([0, 0, 0]), sparse=torch.zeros(3, 0, dtype=torch.long),
              dense=torch.zeros(3, 0), labels={"click": torch.tensor([1.0, 1.0, 0.0])},
              user_index=torch.tensor([1, 1, 1]), item_index=torch.tensor([2, 3, 4]), event_id=torch.arange(3))
    train = Interactions(np.array([1]), np.array([0]), np.array([2]))
    q = collect_queries(lambda x: torch.ones(len(x), 2), [b], 1, train, 5, "user_scenario")
    assert q.t_items.tolist() == [3] and q.t_off.tolist() == [0, 1] and q.user.tolist() == [1]
    q = collect_queries(lambda x: torch.ones(len(x), 2), [b], 1, train, 5, "none")
    assert q.t_items.tolist() == [2, 3]
