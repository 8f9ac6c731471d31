"""What the observable ceiling's GBDT owes to each feature group (issue 31: what the deep models lack): the GBDT of
``observable_ceiling.py`` refitted without a group, and with the encoder's history counters (``event.count.*`` of
inputs version 3, ``unisr.data.counters``) in place of its own count and user-history features.

    .venv/bin/python benchmarks/ceiling_ablation.py --data /tmp/sim_small --scenarios search_text search_similar feed_main

Shapes:
    (no tensors) dataset folder -> per scenario and variant a test AUC -> benchmarks/results/ceiling-ablation.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import observable_ceiling as oc  # noqa: E402

ITEM_COUNTS = {"item_clk", "item_imp", "item_ctr", "item_scn_clk", "item_scn_ctr", "query_imp", "query_item_clk",
               "query_item_imp", "query_item_ctr"}
USER_HISTORY = {"user_clk", "user_imp", "user_ctr", "user_leaf_clk", "user_l2_clk", "user_l1_clk", "user_brand_clk",
                "user_leaf_share", "user_l1_share", "user_item_imp", "user_item_clk", "taste_image", "taste_text",
                "taste_similar"}
QUERY_ITEM = {"query_item_clk", "query_item_imp", "query_item_ctr"}
WORD_SPLIT = {"q_word_hit", "q_attr_hit", "q_attr_share"}
QUERY_CATEGORY = {"q_cat_leaf", "q_cat_l2", "q_cat_l1"}


def variants(feats: list[str], counters: list[str]) -> dict[str, list[str]]:
    """Variant name -> its feature list (``feats``: the scenario kind's features; ``counters``: ours)."""
    ours = [f for f in feats if f not in ITEM_COUNTS | USER_HISTORY] + counters
    out = {"all (the published ceiling)": feats,
           "- item counts": [f for f in feats if f not in ITEM_COUNTS],
           "- user history": [f for f in feats if f not in USER_HISTORY],
           "- item counts - user history": [f for f in feats if f not in ITEM_COUNTS | USER_HISTORY],
           "- query x item counts": [f for f in feats if f not in QUERY_ITEM],
           "history -> the encoder's counters (event.count.*)": ours}
    if WORD_SPLIT <= set(feats):
        out["counters, - first-word / attribute split"] = [f for f in ours if f not in WORD_SPLIT]
        out["counters, - word split - query category"] = [f for f in ours if f not in WORD_SPLIT | QUERY_CATEGORY]
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--scenarios", nargs="+", default=["search_text", "search_similar", "feed_main"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "ceiling-ablation.json")
    args = ap.parse_args(argv)
    from machine import machine
    from unisr.bench.fingerprint import data_fingerprint
    from unisr.data.features import FeatureEncoder
    from unisr.data.inputs import InputsConfig
    from unisr.evaluate.metrics import auc

    root = args.data
    spec, ev, tabs, counts, prior = oc.load_all(root, args.folds)
    enc = FeatureEncoder.fit(root, spec, inputs=InputsConfig().effective())
    names = enc.counters.names
    results: dict[str, dict[str, float]] = {}
    for name in args.scenarios:
        rows, kind = oc.scenario_rows(ev, spec, name)
        rows = oc.build_features(rows, kind, tabs, counts, prior)
        m = enc.counters.features(enc.user_index(rows["user_id"].to_numpy()), enc.item_index(rows["item_id"].to_numpy()),
                                  enc.scenario_index(rows["scenario_id"].to_numpy().astype(np.int64)),
                                  rows["ts"].to_numpy())
        rows = rows.with_columns([pl.Series(n, m[:, j]) for j, n in enumerate(names)])
        y = rows.filter(pl.col("split") == oc.TEST)["click"].to_numpy()
        results[name] = {}
        for label, feats in variants(list(oc.KIND_FEATURES[kind]), names).items():
            p, _ = oc.fit_predict(rows, feats, args.seed, args.threads, args.rounds)
            results[name][label] = auc(y, p)
            print(f"{name} {label}: {results[name][label]:.4f}", flush=True)
    labels = list(dict.fromkeys(k for r in results.values() for k in r))
    rows_out = [[lab, *(f"{results[s][lab]:.4f}" if lab in results[s] else "-" for s in args.scenarios)]
                for lab in labels]
    first = args.scenarios[0]
    ours = results[first].get("history -> the encoder's counters (event.count.*)", float("nan"))
    command = shlex.join([".venv/bin/python", "benchmarks/ceiling_ablation.py", *(sys.argv[1:] if argv is None else argv)])
    out = {"format": "unisr-benchmark/1", "benchmark": "ceiling-ablation",
           "title": "The observable-ceiling GBDT without each feature group (test AUC, no position)",
           "figure": f"{first}: all {results[first]['all (the published ceiling)']:.4f}, with the encoder's counters "
                     f"{ours:.4f}, without item counts {results[first]['- item counts']:.4f}",
           "goal": "name the inputs the deep models lack (issue 31)", "command": command,
           "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(args.threads),
           "tables": [{"header": ["GBDT features", *args.scenarios], "rows": rows_out}],
           "notes": ["the feature groups are observable_ceiling.py's (its COMMON / TEXT / SIMILAR tables); the "
                     "encoder's counters are the 14-day windows of inputs version 3, the deep models' dense input; "
                     "LightGBM with observable_ceiling.py's parameters, early-stopped on valid, one seed"],
           "data": {"fingerprint": data_fingerprint(root)}, "scenarios": results}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    main()
