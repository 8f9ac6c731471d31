"""BOMGraph's speed and cost benchmark (``benchmarks/bomgraph_speed.py``): the overlap measure on hand cases, and
one short run on the tiny simulation through the run's code paths (graph, objective step, corpus, index, search):
the recorded parts add up, and the page section fits its budget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synth import load_benchmark


def _bench():
    return load_benchmark("bomgraph_speed")


def test_overlap_counts_shared_rows_of_the_two_top_k():
    bench = _bench()
    exact = np.array([[1, 2, 3], [4, 5, -1], [-1, -1, -1]])
    approx = np.array([[3, 9, 1], [5, -1, -1], [7, 8, 9]])
    # row 0: {1, 3} of 3; row 1: {5} of the 2 exact results; row 2: exact found nothing -> 1
    assert bench.overlap(approx, exact, 3).tolist() == pytest.approx([2 / 3, 1 / 2, 1.0])
    assert bench.overlap(approx, exact, 1).tolist() == pytest.approx([0.0, 0.0, 1.0])
    assert bench.overlap(exact, exact, 3).tolist() == [1.0, 1.0, 1.0]


def test_a_short_run_on_the_tiny_simulation(sim_dir: Path, tmp_path: Path):
    from unisr.bench.page import FORMAT, section

    bench = _bench()
    out = tmp_path / "bomgraph-speed.json"
    res = bench.main(["--data", str(sim_dir), "--steps", "2", "--warmup", "1", "--query-batches", "2",
                      "--walk-queries", "20", "--rounds", "1", "--set", "model.dim=16", "--set", "model.id_dim=8",
                      "--set", "model.term_dim=8", "--set", "model.negatives=3", "--set", "model.query_buckets=512",
                      "--out", str(out)])
    assert out.is_file() and res["format"] == FORMAT
    raw = res["raw"]
    g = raw["graph"]
    assert g["edges"] == sum(r["edges"] for r in g["relations"].values()) > 0
    assert g["bytes"] >= sum(r["bytes"] for r in g["relations"].values())  # + the category indexes, if any
    assert set(g["metapath_relations"]) <= set(g["relations"])
    tr = raw["train"]
    assert tr["steps"] == 2 and 0 < tr["impressions"] <= 2 * tr["batch_size"]
    assert tr["calls"] > 0 and 0.0 < tr["sample_s"] < tr["step_s"] and 0.0 < tr["sampling_share"] < 1.0
    assert tr["pairs"] >= tr["augmented"] >= 0 and tr["pairs"] > 0
    assert set(raw["embed"]) == {"search_text", "search_visual", "search_similar"}
    for name, s in raw["search"]["scenarios"].items():
        assert raw["embed"][name]["items"] > 0
        assert 0 < s["queries_searched"] <= s["queries"]
        # every category of the tiny catalogue is below SUBSET_EXACT: searched exactly over the stored vectors
        assert s["category_items_max"] <= raw["search"]["subset_exact"]
        assert s["ann_recall@100"] == pytest.approx(1.0)
        assert 0.0 <= s["walk_recall@100"] <= 1.0 and s["walk_queries"] <= 20
    lines = section({"benchmark": out.stem, **res})
    assert len(lines) <= 32, "\n".join(lines)
