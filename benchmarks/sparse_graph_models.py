"""Dense vs sparse embedding gradients for the graph models on the recorded simulation, through the real pipeline.

    .venv/bin/python benchmarks/sparse_graph_models.py --data /tmp/sim_small [--models srjgraph ngcf ...]

``benchmarks/sparse_threshold.py`` chooses the one automatic threshold (``SPARSE_AUTO_ROWS``) on the field models
(DNN, NFM), whose step is little more than the embedding lookups and the optimizer. A graph model's step is
dominated by its aggregation and touches the rows of its sampled neighbourhood, so the table size alone does not
say which mode is faster for it. This script measures it for each graph model on the data the suites use: the
run's resolved config (the model's defaults, the srjgraph suite's joint scenarios and batch size), batches with
their sampled subgraphs made once by ``unisr.pipeline.Pipeline`` and reused, then the training step ``unisr
train`` runs (``Objective`` forward + backward + ``OptimizerSet.step`` with the model's optimizer: Adagrad for
SRJGraph, Adam for the GNN baselines; the sparse case gets the sparse optimizer ``OptimizerSet`` gives). Rounds
alternate the two modes; the report gives medians over rounds. Writes benchmarks/results/sparse_graph_models.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from machine import machine
from unisr.data.features import FeatureEncoder
from unisr.data.schema import DatasetSpec
from unisr.models.registry import build_model
from unisr.nn.embedding import SPARSE_AUTO_ROWS, embedding_rows, sparse_gradients
from unisr.pipeline.pipeline import Pipeline
from unisr.train.objective import Objective
from unisr.train.optim import OptimizerSet
from unisr.train.run import run_config


def case(model: str, cfg, schema, sparse: bool):
    torch.manual_seed(0)
    net = build_model(model, {**cfg.model_params, "sparse_grad": sparse}, schema)
    net.train()
    return net, Objective(net, cfg.train.losses), OptimizerSet(net, cfg.train)


def step(objective, opts, batch) -> None:  # the body of unisr.train.trainer.Trainer.train_epoch
    opts.zero_grad()
    loss, _ = objective(batch)
    loss.backward()
    opts.step()
    float(loss.detach())


def measure(model: str, data: Path, graph_dir: Path, args) -> dict:
    cfg = run_config(model, data, sets=[f"data.batch_size={args.batch_size}", f"data.graph_dir={graph_dir}",
                                        "data.scenarios=[search_text,feed_main]"])
    enc = FeatureEncoder.fit(data, DatasetSpec.load(data), embed_dim=cfg.data.embed_dim,
                             embed_dims=cfg.data.embed_dims)
    pipe = Pipeline.open(cfg, data, enc)
    it = pipe.batches("train", 0, train=True)
    batches = [next(it) for _ in range(args.batches)]
    cases = {m: case(model, cfg, enc.schema, m == "sparse") for m in ("dense", "sparse")}
    for _, obj, opts in cases.values():
        for b in batches[: args.warmup]:
            step(obj, opts, b)
    rounds: dict[str, list[float]] = {"dense": [], "sparse": []}
    for r in range(args.reps):
        for mode in (("dense", "sparse") if r % 2 == 0 else ("sparse", "dense")):
            _, obj, opts = cases[mode]
            t0 = time.perf_counter()
            for i in range(args.steps):
                step(obj, opts, batches[i % len(batches)])
            rounds[mode].append(args.steps * args.batch_size / (time.perf_counter() - t0))
    med = {m: statistics.median(v) for m, v in rounds.items()}
    rows = embedding_rows(enc.schema)
    return {"model": model, "schema_rows": rows, "rule_gives": "sparse" if sparse_gradients(rows) else "dense",
            "optimizer": cfg.train.optimizer, "dense_samples_per_s": med["dense"],
            "sparse_samples_per_s": med["sparse"], "sparse_over_dense": med["sparse"] / med["dense"],
            "rounds": rounds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--models", nargs="+", default=["srjgraph", "ngcf", "gat", "hgt", "lightgcn"])
    ap.add_argument("--graph-dir", type=Path, default=Path("runs/sparse_graph_models/graph"))
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "results" / "sparse_graph_models.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t_start, load_start = time.time(), os.getloadavg()
    out = []
    for model in args.models:
        row = measure(model, args.data, args.graph_dir, args)
        out.append(row)
        print(f"{model:9s} {row['schema_rows']:,d} rows ({row['optimizer']}): dense {row['dense_samples_per_s']:7,.0f}"
              f"  sparse {row['sparse_samples_per_s']:7,.0f} samples/s  sparse/dense {row['sparse_over_dense']:.2f}"
              f"  (the rule gives {row['rule_gives']}; load {os.getloadavg()[0]:.1f})", file=sys.stderr)
    result = {"benchmark": "sparse_graph_models", "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
              "command": ".venv/bin/python benchmarks/sparse_graph_models.py " + " ".join(sys.argv[1:]),
              "machine": machine(torch.get_num_threads(), loadavg_start=load_start),
              "settings": {k: getattr(args, k) for k in ("batch_size", "batches", "reps", "steps", "warmup")},
              "sparse_auto_rows": SPARSE_AUTO_ROWS, "cases": out, "wall_seconds": time.time() - t_start}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out} ({time.time() - t_start:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
