"""SRJGraph speed and cost: training samples/s and the share of a step spent sampling, inference latency
(p50 / p99) of one request scoring 100 candidates, and the memory of the graph and of the model; DNN on the
same batches in the same run for scale (the paper's official code is TF1 without data, so no peer runs here).

    .venv/bin/python benchmarks/srjgraph_speed.py [--data DIR | --preset small] [--batch 1024] [--steps 20]
        [--requests 200] [--threads 1] [--models srjgraph,dnn] [--out benchmarks/out/srjgraph_speed.json]

Without ``--data`` the simulated ``--preset`` marketplace is generated into ``benchmarks/out/sim-<preset>``
(once). The graph is the joint search_text + feed_main click graph of the training window, as in the suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch


def load(data: Path, model: str, batch: int):
    from unisr.data.features import FeatureEncoder
    from unisr.data.loader import DatasetContext
    from unisr.data.schema import DatasetSpec
    from unisr.models.registry import build_model
    from unisr.pipeline.config import resolve_config
    from unisr.pipeline.pipeline import Pipeline, make_sampler
    from unisr.train.objective import Objective
    from unisr.train.optim import OptimizerSet
    from unisr.train.run import dataset_defaults

    spec = DatasetSpec.load(data)
    cfg = resolve_config(model, dataset_defaults=dataset_defaults(spec),
                         sets=[f"data.batch_size={batch}", "data.scenarios=[search_text,feed_main]"])
    enc = FeatureEncoder.fit(data, spec, embed_dim=cfg.data.embed_dim, embed_dims=cfg.data.embed_dims)
    ctx = DatasetContext.open(data, enc, query_max_len=cfg.data.query_max_len)
    t0 = time.perf_counter()
    hook = make_sampler(cfg, data, enc, ctx)
    hook_s = time.perf_counter() - t0
    loader = Pipeline(cfg, ctx, hook).loader("train", train=True)  # the training loader (seed = cfg.train.seed = 0)
    torch.manual_seed(0)
    net = build_model(model, cfg.model_params, enc.schema)
    objective = Objective(net, cfg.train.losses)
    opt = OptimizerSet(net, cfg.train)
    return cfg, enc, ctx, loader, hook, hook_s, net, objective, opt


def train_speed(loader, hook, net, objective, opt, steps: int) -> dict:
    it = loader.epoch(0)
    t_hook = t_step = 0.0
    n = 0
    net.train()
    for i in range(steps + 2):
        b = next(it)
        t0 = time.perf_counter()
        if hook is not None:
            b = hook(b)
        t1 = time.perf_counter()
        opt.zero_grad()
        loss, _ = objective(b)
        loss.backward()
        opt.step()
        t2 = time.perf_counter()
        if i >= 2:  # warm-up
            t_hook += t1 - t0
            t_step += t2 - t1
            n += len(b)
    return {"samples_per_s": n / (t_hook + t_step), "sampling_share": t_hook / (t_hook + t_step),
            "hook_ms_per_batch": 1e3 * t_hook / steps, "samples": n, "seconds": t_hook + t_step}


def latency(loader, hook, net, requests: int, candidates: int = 100) -> dict:
    """One request = one user and query with ``candidates`` items: hook (sampling) + forward, batch of 100."""
    it = loader.epoch(1)
    b = next(it)
    n = len(b)
    rng = np.random.default_rng(0)
    times = []
    net.eval()
    with torch.inference_mode():
        for r in range(requests + 5):
            j = int(rng.integers(n))
            cand = torch.from_numpy(rng.integers(0, n, candidates))
            rows = torch.full((candidates,), j, dtype=torch.long)
            req = b.select(cand)
            req.user_index = b.user_index[rows]
            req.scenario_id = b.scenario_id[rows]
            if "query_tokens" in req.sequences:
                tok, m = b.sequences["query_tokens"]
                req.sequences["query_tokens"] = (tok[rows], m[rows])
            req.subgraph = {}
            t0 = time.perf_counter()
            if hook is not None:
                req = hook(req)
            net(req)
            if r >= 5:
                times.append(time.perf_counter() - t0)
    ms = sorted(1e3 * t for t in times)
    return {"p50_ms": statistics.median(ms), "p99_ms": ms[min(len(ms) - 1, int(0.99 * len(ms)))],
            "requests": len(ms), "candidates": candidates}


def main() -> None:
    from unisr.graph.build import USER_CLICK


    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--models", default="srjgraph,dnn",
                    help="comma-separated; the GNN baselines (ngcf, lightgcn, gat, hgt) read the same batches")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/srjgraph_speed.json"))
    ap.add_argument("--results", type=Path, default=None,
                    help="also write the page's output file (benchmarks/results/srjgraph-speed.json)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    data = a.data
    if data is None:
        from unisr.simulate.api import simulate

        data = Path(f"benchmarks/out/sim-{a.preset}")
        if not (data / "dataset.yaml").exists():
            simulate(a.preset, data, seed=0, overrides={"version": 1})  # the data version its results were made on
    load_before = os.getloadavg()
    res: dict = {"machine": f"{platform.machine()} {os.cpu_count()} cores", "threads": a.threads,
                 "date": time.strftime("%Y-%m-%d"), "data": str(data), "batch": a.batch,
                 "loadavg_before": load_before}
    for model in a.models.split(","):
        cfg, enc, ctx, loader, hook, hook_s, net, objective, opt = load(data, model, a.batch)
        r = train_speed(loader, hook, net, objective, opt, a.steps)
        r.update(latency(loader, hook, net, a.requests))
        r["model_bytes"] = sum(p.numel() * p.element_size() for p in net.parameters())
        if hook is not None:
            g = hook.sampler.graph
            r["graph_bytes"] = g.nbytes()
            r["graph_edges"] = g.num_edges
            r["graph_click_edges"] = g.rel(USER_CLICK).num_edges
            r["graph_ready_s"] = hook_s
        res[model] = r
        print(model, json.dumps(r, default=float))
    res["loadavg_after"] = os.getloadavg()
    if "dnn" in res and "srjgraph" in res:
        res["ratio_dnn_over_srjgraph_train"] = res["dnn"]["samples_per_s"] / res["srjgraph"]["samples_per_s"]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=2, default=float))
    print(json.dumps(res, indent=2, default=float))
    if a.results is not None:
        _results(a.results, res, [m for m in a.models.split(",")])


def _results(path: Path, res: dict, models: list[str]) -> None:
    """The run as the page's SRJGraph speed table (``unisr.bench.page.update_result``)."""
    from unisr.bench.page import update_result

    header = ["model", "train samples/s", "inference p50 / p99 ms"]
    rows = [[m, f"{res[m]['samples_per_s']:,.0f}", f"{res[m]['p50_ms']:.1f} / {res[m]['p99_ms']:.1f}"] for m in models]
    meta = {"command": "python " + " ".join(sys.argv), "date": res["date"], "machine": res["machine"]}
    if "srjgraph" in res:
        meta["figure"] = (f"SRJGraph {rows[models.index('srjgraph')][1]} training samples/s, inference p50 / p99 "
                          f"{rows[models.index('srjgraph')][2]} ms")
    update_result(path, meta, header, rows)


if __name__ == "__main__":
    main()
