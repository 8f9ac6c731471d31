"""BOMGraph's cross-scenario augmentation rule (graph/augment.py) on a hand-made graph, and on the tiny data."""

from __future__ import annotations

import numpy as np

from unisr.graph.augment import augment_pairs, augmentation_table
from unisr.graph.build import se_type
from unisr.graph.csr import from_coo
from unisr.graph.store import HeteroGraph

NAMES = ["S", "K", "V"]


def _graph() -> HeteroGraph:
    n = 10  # item entities 1..9
    def se(pairs):
        a, b, w = (np.array(x) for x in zip(*pairs, strict=True))
        return from_coo(a, b, n, n, {"sim": w.astype(np.float16)})
    rels = {
        # item 1's neighbours: by K similarity 2 (0.99), 3 (0.9), 4 (0.88); by V 5 (0.95), 2 (0.86), 6 (0.87),
        # 7 (0.86), 8 (0.85); by S (its own scenario when augmenting S) 9 (1.0)
        se_type("K"): se([(1, 2, 0.99), (1, 3, 0.9), (1, 4, 0.88), (2, 1, 0.99)]),
        se_type("V"): se([(1, 5, 0.95), (1, 2, 0.86), (1, 6, 0.87), (1, 7, 0.86), (1, 8, 0.85)]),
        se_type("S"): se([(1, 9, 1.0), (2, 9, 0.9)]),
    }
    return HeteroGraph({"item": n}, rels, np.zeros(n, np.int32), np.zeros((n, 1), np.int32),
                       np.zeros(0, np.int64), np.arange(1, n, dtype=np.int64), np.zeros(0, np.int64))


def test_long_tail_item_gets_top5_from_other_scenarios_only() -> None:
    clicks = np.zeros((3, 10), np.int64)
    clicks[0, 1] = 2  # item 1 has 2 clicks in S (< 3): augmented in S
    clicks[1, 1] = 3  # and 3 clicks in K: not augmented in K
    clicks[0, 2] = 5  # item 2 has enough clicks in S
    t = augmentation_table(_graph(), clicks, NAMES)
    # S: from K and V, best first, each substitute once at its best similarity (2: 0.99 via K), never S's own 9
    assert t[0, 1].tolist() == [2, 5, 3, 4, 6]
    assert t[1, 1].tolist() == [-1] * 5  # >= 3 clicks: none
    assert t[0, 2].tolist() == [-1] * 5  # >= 3 clicks: none
    # item 2 in V (0 clicks there): K's edge 2->1 and S's edge 2->9
    assert t[2, 2].tolist() == [1, 9, -1, -1, -1]
    assert (t[:, 0] == -1).all()  # the OOV row never


def test_scenarios_outside_search_are_neither_augmented_nor_used() -> None:
    clicks = np.zeros((3, 10), np.int64)
    t = augmentation_table(_graph(), clicks, NAMES, search=["S", "K"])
    assert t[0, 1].tolist() == [2, 3, 4, -1, -1]  # only K's edges
    assert (t[2] == -1).all()


def test_augment_pairs_expands_rows() -> None:
    table = np.full((2, 4, 3), -1, np.int64)
    table[0, 1] = [3, 2, -1]
    rows, items = augment_pairs(np.array([10, 11, 12]), np.array([0, 1, 0]), np.array([1, 1, 2]), table)
    assert rows.tolist() == [10, 10] and items.tolist() == [3, 2]


def test_tiny_data_rule(graph: HeteroGraph) -> None:
    names = graph.meta["scenarios"]
    search = [n for n, k in zip(names, graph.meta["scenario_kinds"], strict=True) if k.startswith("search")]
    rng = np.random.default_rng(0)
    clicks = rng.integers(0, 6, size=(len(names), graph.num_nodes["item"]))
    t = augmentation_table(graph, clicks, names, search=search)
    assert ((t >= 0).any(2) <= (clicks < 3)).all()  # only items under 3 clicks get substitutes
    assert t.max() < graph.num_nodes["item"]
    assert (t >= 0).any()
