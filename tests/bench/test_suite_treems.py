"""Suite ``treems``: the pieces that pick leaves and summarise figures (the suite itself runs in benchmarks)."""

import numpy as np
import pytest

from synth import make_dataset
from unisr.bench.suite_treems import (
    NO_EARLY_STOP,
    TABLE2_ROWS,
    head_tail,
    norm_entropy,
    pca2,
    silhouette,
    train_traffic,
)
from unisr.bench.suites import SUITES, SuiteError, clearly_greater, load_builtin_suites


def test_head_and_long_tail_by_train_traffic():
    traffic = {f"s{i}": c for i, c in enumerate([500, 300, 100, 50, 20, 10, 8, 6, 4, 2])}
    leaves = list(traffic)
    head, tail, head5, tail5 = head_tail(traffic, leaves, test_ok=set(leaves) - {"s9"})
    assert head == ["s0", "s1", "s2", "s3", "s4"]
    # the first 80% of 1000 impressions are s0 + s1 (800): the tail starts after them, never in the head
    assert tail == ["s5", "s6", "s7", "s8", "s9"]
    assert head5 == head and tail5 == ["s8", "s7", "s6", "s5"]  # quietest first, s9 has no usable test split


def test_train_traffic_counts_the_train_split_only(tmp_path):
    root = make_dataset(tmp_path / "d", n_events=2000, split={"kind": "random", "ratios": [0.5, 0.25, 0.25],
                                                              "seed": 3})
    counts = train_traffic(root)
    assert set(counts) <= {"scen0", "scen1", "scen2"}
    assert 800 < sum(counts.values()) < 1200  # half of 2000


def test_figure_summaries():
    assert np.allclose(norm_entropy(np.full((3, 8), 1 / 8)), 1.0)
    assert norm_entropy(np.eye(4)[:2]).max() < 1e-6
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 0.1, (6, 5)), rng.normal(3, 0.1, (6, 5))])
    labels = ["a"] * 6 + ["b"] * 6
    assert silhouette(x, labels) > 0.9
    assert silhouette(x, ["a", "b"] * 6) < 0.1
    assert np.isnan(silhouette(x, ["a"] * 12))
    assert pca2(x).shape == (12, 2)


def test_suite_is_registered_and_checks_its_rows(tmp_path):
    load_builtin_suites()
    assert "treems" in SUITES
    assert {r.model for r in TABLE2_ROWS} >= {"share_dnn", "cune", "diffnet", "pinsage", "social_gat",
                                               "multi_scenario", "share_mmoe", "scenario_meta", "treems"}
    root = make_dataset(tmp_path / "d", n_events=200)
    with pytest.raises(SuiteError, match="no share scenarios"):
        SUITES["treems"](out=tmp_path / "o", data=root, seeds=1, sets=[], models=None, console=None)


def test_one_seed_claims_need_a_visible_margin_and_runs_use_the_whole_budget():
    # TreeMS with / without L_aux differed by 4e-5 AUC (0.7275 vs 0.7275): that is no evidence either way
    assert not clearly_greater(0.72753, 0.72749)
    assert not clearly_greater(1.0, 1.0)
    assert clearly_greater(0.7300, 0.7275)
    assert not clearly_greater(0.7275, 0.7300)
    assert NO_EARLY_STOP.startswith("train.patience=") and int(NO_EARLY_STOP.split("=")[1]) >= 100
