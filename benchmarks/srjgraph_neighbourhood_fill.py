"""How full SRJGraph's sampled neighbourhoods are on a dataset, and how many sampled edges carry a search query
(the input the "w/o query" ablation removes), per split, target scenario, side and hop. Target-aware sampler on
the joint search_text + feed_main click graph, paper widths, neighbourhoods as of each event's time.

    .venv/bin/python benchmarks/srjgraph_neighbourhood_fill.py --data /tmp/sim_small --batches 10 [--no-category-filter]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from unisr.data.features import FeatureEncoder
from unisr.data.loader import DatasetContext, EventLoader, LoaderConfig
from unisr.data.schema import DatasetSpec
from unisr.graph.build import GraphConfig, build_or_load
from unisr.graph.samplers.target_aware import TargetAwareSampler

SCEN = ("feed_main", "search_text")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--batches", type=int, default=10, help="batches of 2,048 events per split")
    ap.add_argument("--no-category-filter", action="store_true")
    a = ap.parse_args()
    enc = FeatureEncoder.fit(a.data, DatasetSpec.load(a.data))
    ctx = DatasetContext.open(a.data, enc)
    graph, _ = build_or_load(a.data, a.data / "graph" / ("clicks-" + "+".join(SCEN)), GraphConfig(click_scenarios=SCEN))
    smp = TargetAwareSampler(graph, [25, 1, 10], [1, 25, 1], category_filter=not a.no_category_filter)
    print(f"category filter: {not a.no_category_filter}; widths user [25, 1, 10], item [1, 25, 1]")
    print("| split | target | side | hop | slots | filled | mean neighbours | edges with a query |")
    print("|---|---|---|---|---|---|---|---|")
    for split in ("train", "test"):
        loader = EventLoader(ctx, split, LoaderConfig(scenarios=list(SCEN), eval_batch_size=2048), train=False)
        acc: dict[tuple, np.ndarray] = {}
        for k, b in enumerate(loader.epoch(0)):
            if k >= a.batches:
                break
            scen = np.asarray(enc.schema.scenarios)[b.scenario_id.numpy()]
            ub, ib = smp.sample(b.user_index, b.item_index, seed=0, ts=b.ts)
            for side, blocks in (("user", ub), ("item", ib)):
                for h, (mask, query) in enumerate(zip(blocks.mask, blocks.extra["query"], strict=True)):
                    m, q = mask.numpy(), query.numpy()
                    for s in SCEN:
                        w = scen == s
                        acc.setdefault((s, side, h + 1), np.zeros(4))[:] += [w.sum(), m.shape[1],
                                                                            m[w].sum(), (m[w] & (q[w] > 0)).sum()]
        for (s, side, h), (n, slots, filled, with_q) in sorted(acc.items()):
            slots = slots / a.batches if a.batches else slots
            print(f"| {split} | {s} | {side} | {h} | {slots:.0f} | {filled / (n * slots):.1%} | "
                  f"{filled / n:.2f} | {with_q / max(filled, 1):.1%} |")


if __name__ == "__main__":
    main()
