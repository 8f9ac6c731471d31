"""How many of a training impression's sampled hop-1 neighbours (SRJGraph's target-aware sampler, joint
search_text + feed_main click graph) were clicked *after* the impression, without and with the time bound.

    .venv/bin/python benchmarks/srjgraph_future_neighbours.py --data /tmp/sim_small --batches 40
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
    ap.add_argument("--batches", type=int, default=40)
    a = ap.parse_args()
    enc = FeatureEncoder.fit(a.data, DatasetSpec.load(a.data))
    ctx = DatasetContext.open(a.data, enc)
    graph, _ = build_or_load(a.data, a.data / "graph" / ("clicks-" + "+".join(SCEN)), GraphConfig(click_scenarios=SCEN))
    smp = TargetAwareSampler(graph, [25], [25])
    base = int(graph.meta["ts_base"])
    for split in ("train", "valid"):
        loader = EventLoader(ctx, split, LoaderConfig(scenarios=list(SCEN), eval_batch_size=2048), train=False)
        tot = {s: np.zeros(3) for s in SCEN}  # impressions, user nbrs, of which after the impression
        bounded = {s: 0 for s in SCEN}
        for k, b in enumerate(loader.epoch(0)):
            if k >= a.batches:
                break
            t_rel = b.ts.numpy() - base
            scen = np.asarray(enc.schema.scenarios)[b.scenario_id.numpy()]
            for ts, acc in ((None, tot), (b.ts, None)):
                ub, _ = smp.sample(b.user_index, b.item_index, seed=0, ts=ts)
                m, ets = ub.mask[0].numpy(), ub.extra["ts"][0].numpy()
                late = ((ets >= t_rel[:, None]) & m).sum(1)
                for s in SCEN:
                    w = scen == s
                    if acc is None:
                        bounded[s] += int(late[w].sum())
                    else:
                        acc[s] += [w.sum(), m[w].sum(), late[w].sum()]
        for s in SCEN:
            n, nb, late = tot[s]
            print(f"{split} {s}: {int(n)} impressions, {int(nb)} hop-1 user neighbours, "
                  f"{late / max(nb, 1):.1%} clicked after the impression; with the time bound: {bounded[s]}")


if __name__ == "__main__":
    main()
