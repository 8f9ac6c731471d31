"""The observable ceiling (``benchmarks/observable_ceiling.py``): its feature builders on hand-made rows, and the
script end to end on the tiny simulation."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

pytest.importorskip("lightgbm")

_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(_DIR))  # the script imports benchmarks/machine.py as its neighbour
_spec = importlib.util.spec_from_file_location("observable_ceiling", _DIR / "observable_ceiling.py")
oc = importlib.util.module_from_spec(_spec)
sys.modules["observable_ceiling"] = oc  # dataclasses look their module up by name
_spec.loader.exec_module(oc)


def _tables(title: list[list[int]], qtok: list[list[int]]) -> oc.Tables:
    z = np.zeros((len(title), 2), np.float32)
    return oc.Tables(title=np.array(title, np.int32), emb={"image_emb": z}, qtok=np.array(qtok, np.int32),
                     qemb=np.zeros((len(qtok), 2), np.float32), taste={}, social=pl.DataFrame(),
                     users=pl.DataFrame(),
                     parents=pl.DataFrame({"q_category": [20, 21], "q_l2": [10, 10], "q_l1": [1, 1]}))


def test_text_features_count_query_tokens_in_the_title_and_match_categories():
    # items: 0 = leaf 20 (l2 10, l1 1) title [2, 11, 21, 50, 51]; 1 = leaf 21 (l2 10); 2 = leaf 30 (l2 12, l1 2)
    tabs = _tables(title=[[2, 11, 21, 50, 51], [2, 11, 22, 50, 0], [3, 13, 31, 52, 0]],
                   qtok=[[21, 50, 51], [11, 51, -1], [99, -1, -1]])
    rows = pl.DataFrame({"query_row": [0, 1, 2], "item_row": [0, 1, 2], "q_category": [20, 20, 21],
                         "leaf": [20, 21, 30], "l2": [10, 10, 12], "l1": [1, 1, 2]})
    f = oc.text_features(rows, tabs)
    assert f["q_ntok"].to_list() == [3, 2, 1]
    assert f["q_hit"].to_list() == [3, 1, 0]  # row 1: 11 is in the title, 51 is not
    assert f["q_share"].to_list() == pytest.approx([1.0, 0.5, 0.0])
    assert f["q_word_hit"].to_list() == [1, 1, 0] and f["q_attr_hit"].to_list() == [2, 0, 0]
    assert f["q_attr_share"].to_list()[:2] == pytest.approx([1.0, 0.0]) and np.isnan(f["q_attr_share"][2])
    assert f["q_cat_leaf"].to_list() == [1, 0, 0]
    assert f["q_cat_l2"].to_list() == [1, 1, 0] and f["q_cat_l1"].to_list() == [1, 1, 0]


def test_similar_features_compare_the_trigger_item_with_the_candidate():
    tabs = _tables(title=[[2, 11, 21, 50], [2, 11, 22, 50], [3, 13, 31, 52]], qtok=[[-1]])
    tabs.emb = {k: np.eye(3, dtype=np.float32) for k in ("image_emb", "emb_search_similar", "emb_search_text")}
    cols = {c: [0, 0] for c in ("leaf", "l2", "l1", "brand", "shop", "price_level")}
    rows = pl.DataFrame({"t_item_row": [0, 0], "item_row": [1, 0], **cols, **{f"t_{c}": [0, 1] for c in cols}})
    f = oc.similar_features(rows, tabs)
    assert f["t_title_hit"].to_list() == [3, 4]  # the trigger's title [2, 11, 21, 50] vs [2, 11, 22, 50] / itself
    assert f["t_img_dot"].to_list() == [0.0, 1.0] and f["t_leaf"].to_list() == [1, 0]
    assert f["t_price_gap"].to_list() == [0, 1]


def test_history_counts_leave_out_the_train_rows_own_fold():
    ev = pl.DataFrame({"item_id": [7, 7, 7, 7, 7], "click": [1, 1, 0, 1, 0],
                       "split": [oc.BG, oc.TRAIN, oc.TRAIN, oc.TRAIN, oc.TEST], "fold": [-1, 0, 0, 1, -1]})
    counts = oc.count_tables(ev.with_columns(user_id=0, scenario_id=0, leaf=0, l2=0, l1=0, brand=0,
                                             query_id=pl.lit(None, pl.Int64)))
    f = oc.add_counts(ev, counts["item"], ["item_id"], "item")
    # background + train = 4 rows, 3 clicks; a train row sees them less its own fold (fold 0: 2 rows, 1 click)
    assert f["item_clk"].to_list() == [3, 2, 2, 2, 3] and f["item_imp"].to_list() == [4, 2, 2, 3, 4]
    assert "query" not in counts or counts["query"][0].is_empty()


def test_script_runs_end_to_end_on_the_tiny_simulation(sim_dir: Path, tmp_path: Path):
    from unisr.bench.page import FORMAT, section

    out = tmp_path / "observable-ceiling.json"
    data = oc.main(["--data", str(sim_dir), "--rounds", "60", "--scenarios", "search_text", "search_similar",
                    "feed_main", "share", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["format"] == FORMAT and saved["benchmark"] == "observable-ceiling"
    table = saved["tables"][0]  # one table: the page has a line budget (tests/bench/test_page.py)
    assert len(saved["tables"]) == 1 and "q_hit" in saved["features"]["search_text"]
    assert len(table["rows"]) == 4 and all(len(r) == len(table["header"]) for r in table["rows"])
    st = data["scenarios"]["search_text"]
    assert st["auc_no_position"] > 0.5 and st["auc_position"] > 0.5, st
    assert 0.5 < st["oracle_auc"] <= 1.0 and st["events"]["test"] > 0
    assert 0.0 <= st["single_feature_auc"]["q_hit"] <= 1.0
    assert "auc_position" in data["scenarios"]["feed_main"]["pooled_feeds"]
    again = oc.run(sim_dir, ["search_text"], seed=0, threads=1, rounds=60, folds=5)["search_text"]
    assert again["auc_no_position"] == st["auc_no_position"] and again["auc_position"] == st["auc_position"]
    assert section({"benchmark": "observable-ceiling", **saved})[0].startswith("## Observable ceiling")
