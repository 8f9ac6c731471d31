"""BOMGraph speed and cost (issue 36, item 4) on a simulated dataset, through the run's own code paths: the
Pipeline and encoders of ``unisr train --model bomgraph``, the model's graph (``graph/build.py:build_graph`` of
``BOMGraph.graph_config()``), the real model, its objective (``train/bomgraph.py:BOMGraphObjective``: forward,
backward, optimizer step as ``train/trainer.py`` does them), the corpus embedding of ``train/matching.py:
embed_scenarios`` and the run's item index (``train.matching.index``, built by ``index/faiss_index.py``).

    nice -n 10 .venv/bin/python benchmarks/bomgraph_speed.py --data /tmp/sim_medium_v2 \\
        [--steps 20] [--warmup 3] [--query-batches 40] [--walk-queries 200] [--rounds 3] [--set KEY=VALUE ...]

Measured, in one process at 1 torch / FAISS thread (the load average is recorded before and after):
1. the graph's build time and bytes per edge, per edge type and in total;
2. the share of a training step (BOMGraphObjective forward + backward + optimizer step, the model's defaults:
   batch 2048 impressions, shared in-category negatives) spent in ``MetapathSampler.sample_path``;
3. training impressions/s and positive pairs/s over ``--steps`` steps after ``--warmup`` steps (the peer: the
   rest of the step, and the batch assembly by the Pipeline, timed apart);
4. the corpus embedding time of every item in each search scenario and each scenario's index build time;
5. in-category search: the test split's queries (``collect_queries`` with the model's query groups and
   categories, the first ``--query-batches`` batches) searched at depth max(train.matching.ks) within their
   category, as ``evaluate/retrieval.py:evaluate_retrieval`` groups them, through the run's index and through an
   exact ``IndexFlatIP`` (the peer): QPS and recall@100 (overlap of the two top-100s). A third row searches the
   same index through FAISS' ID selector (``SUBSET_EXACT`` set to 0 for it), the path a category larger than
   ``index/faiss_index.py:SUBSET_EXACT`` items takes, on the first ``--walk-queries`` queries of each scenario
   (in the first round only: at the medium preset it runs at a few queries/s).

The model is trained for the measured steps only (``--steps``), so its vectors are those of an early model; the
search speed does not depend on the weights, the recall of an approximate walk may. Nothing is written into
``--data`` (the graph is built in memory, never cached). Writes ``--out`` (``unisr-benchmark/1``, default
``benchmarks/results/bomgraph-speed.json``; the full measurement under ``raw``).

Shapes:
    (no tensors) a simulated dataset -> timings, per-edge-type bytes, per-scenario QPS / recall -> JSON
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from itertools import islice
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent
RECALL_K = 100


def setup(data: Path, sets: list[str]) -> dict:
    """Config, gate, encoders, Pipeline and model exactly as ``train/run.py:train_run`` makes them."""
    from unisr.data.features import FeatureEncoder
    from unisr.data.gate import load_spec, open_gate
    from unisr.models.registry import build_model
    from unisr.pipeline.pipeline import Pipeline
    from unisr.train.run import run_config
    from unisr.train.trainer import seed_everything

    t = {}
    t0 = time.perf_counter()
    spec = load_spec(data)
    cfg = run_config("bomgraph", data, sets=sets, spec=spec)
    gate = open_gate(data, spec)
    gate.enforce(cfg.data.on_bad_rows)
    encoder = FeatureEncoder.fit(data, spec, embed_dim=cfg.data.embed_dim, embed_dims=cfg.data.embed_dims,
                                 inputs=cfg.data.inputs.effective())
    t["encoder_fit_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pipe = Pipeline.open(cfg, data, encoder)
    t["pipeline_open_s"] = time.perf_counter() - t0
    seed_everything(cfg.train.seed)
    net = build_model(cfg.model_name, cfg.model_params, encoder.schema)
    return {"cfg": cfg, "encoder": encoder, "pipe": pipe, "net": net, "times": t}


def graph_cost(data: Path, net, pipe) -> tuple[dict, object]:  # noqa: ANN001
    """Build the model's graph (what ``build_or_load`` does on a cache miss, without the save) and attach it."""
    from unisr.graph.build import build_graph
    from unisr.graph.store import edge_key

    t0 = time.perf_counter()
    graph = build_graph(data, net.graph_config())
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    net.attach_items(pipe.encoder)
    net.attach_graph(graph, pipe.ctx.queries)  # as pipeline/model_graph.py:attach_model_graph
    attach_s = time.perf_counter() - t0
    rels = {edge_key(et): {"edges": int(r.num_edges), "bytes": int(r.nbytes()),
                           "bytes_per_edge": r.nbytes() / max(r.num_edges, 1)}
            for et, r in sorted(graph.relations.items())}
    walked = sorted({edge_key(et) for p in net.sampler.paths.values() for et in p})
    return {"build_s": build_s, "attach_s": attach_s, "edges": int(graph.num_edges), "bytes": int(graph.nbytes()),
            "bytes_per_edge": graph.bytes_per_edge(), "relations": rels, "metapath_relations": walked,
            "num_nodes": {k: int(v) for k, v in graph.num_nodes.items()},
            "metapaths": sorted(net.sampler.paths)}, graph


class _Timed:
    """Wraps a method (``sampler.sample_path``, ``net.encode_items``, ``net.query_vectors``): accumulated seconds,
    calls and rows (the length of the first argument)."""

    def __init__(self, fn) -> None:  # noqa: ANN001
        self.fn, self.seconds, self.calls, self.rows = fn, 0.0, 0, 0

    def __call__(self, *a, **k):  # noqa: ANN002, ANN003, ANN204
        t0 = time.perf_counter()
        try:
            return self.fn(*a, **k)
        finally:
            self.seconds += time.perf_counter() - t0
            self.calls += 1
            self.rows += len(a[0]) if a else 0

    def state(self) -> tuple[float, int, int]:
        return self.seconds, self.calls, self.rows


def train_cost(st: dict, steps: int, warmup: int) -> tuple[dict, object]:
    """``warmup`` + ``steps`` training steps of the model's objective on the training split's batches (epoch 0)."""
    from unisr.evaluate.retrieval import Interactions
    from unisr.train.matching import build_objective, model_stages
    from unisr.train.optim import OptimizerSet

    cfg, pipe, net = st["cfg"], st["pipe"], st["net"]
    n_items = st["encoder"].schema.num_items
    t0 = time.perf_counter()
    train_x = Interactions.from_batches(pipe.batches("train"))  # train/matching.py:train_matching does the same
    scan_s = time.perf_counter() - t0
    freq = np.bincount(train_x.item, minlength=n_items + 1)
    stage = model_stages(net)[-1]
    t0 = time.perf_counter()
    objective = build_objective(stage["objective"], net, cfg.train.matching, freq, cfg.train.seed)
    objective.attach_interactions(train_x)
    attach_s = time.perf_counter() - t0
    opt = OptimizerSet(objective, cfg.train)
    # instance attributes: BOMGraph._tree calls self.sampler.sample_path, the objective net.encode_items / query_vectors
    timer = _Timed(net.sampler.sample_path)
    net.sampler.sample_path = timer
    enc, qry = _Timed(net.encode_items), _Timed(net.query_vectors)
    net.encode_items, net.query_vectors = enc, qry
    net.train()
    it = pipe.batches("train", 0, train=True)
    keys = ("load_s", "step_s", "forward_s", "backward_s", "optimizer_s", "sample_s", "calls", "encode_items_s",
            "items_encoded", "query_vectors_s", "impressions", "pairs", "augmented", "steps")
    rec: dict = dict.fromkeys(keys, 0)
    step_ms = []
    try:
        for i in range(warmup + steps):
            t0 = time.perf_counter()
            batch = next(it, None)
            if batch is None:
                break
            t1 = time.perf_counter()
            (s0, c0, _), (e0, _, r0), (q0, _, _) = timer.state(), enc.state(), qry.state()
            opt.zero_grad()
            loss, parts = objective(batch)
            tf = time.perf_counter()
            loss.backward()
            tb = time.perf_counter()
            if cfg.train.clip_norm:
                torch.nn.utils.clip_grad_norm_(opt.dense_params(), cfg.train.clip_norm)
            opt.step()
            t2 = time.perf_counter()
            if i >= warmup:
                for k, v in (("load_s", t1 - t0), ("step_s", t2 - t1), ("forward_s", tf - t1),
                             ("backward_s", tb - tf), ("optimizer_s", t2 - tb), ("sample_s", timer.seconds - s0),
                             ("calls", timer.calls - c0), ("encode_items_s", enc.seconds - e0),
                             ("items_encoded", enc.rows - r0), ("query_vectors_s", qry.seconds - q0),
                             ("impressions", len(batch)), ("pairs", parts.get("positives", 0.0)),
                             ("augmented", parts.get("augmented", 0.0)), ("steps", 1)):
                    rec[k] += v
                step_ms.append(1e3 * (t2 - t1))
    finally:
        del net.sampler.sample_path, net.encode_items, net.query_vectors
    n = max(rec["steps"], 1)
    step = max(rec["step_s"], 1e-12)
    out = {**rec, "train_clicks_scan_s": scan_s, "objective_attach_s": attach_s, "train_clicks": len(train_x),
           "batch_size": cfg.data.batch_size, "shared_negatives": net.cfg.shared_negatives,
           "negatives": net.cfg.negatives, "optimizer": cfg.train.optimizer,
           "sampling_share": rec["sample_s"] / step, "rest_of_step_s": rec["step_s"] - rec["sample_s"],
           "step_ms_median": statistics.median(step_ms) if step_ms else float("nan"),
           "load_ms_per_batch": 1e3 * rec["load_s"] / n, "sample_ms_per_step": 1e3 * rec["sample_s"] / n,
           "impressions_per_s": rec["impressions"] / step,
           "impressions_per_s_with_loading": rec["impressions"] / max(step + rec["load_s"], 1e-12),
           "pairs_per_s": rec["pairs"] / step, "clicked_pairs_per_s": (rec["pairs"] - rec["augmented"]) / step}
    return out, train_x


def embed_cost(st: dict, embed_items: int | None) -> tuple[dict, dict]:
    """Per search scenario: every item's vector (``embed_scenarios``, eval mode) and the run's index over it."""
    from unisr.index.faiss_index import build_index, effective_params
    from unisr.train.matching import embed_scenarios

    net, schema = st["net"], st["encoder"].schema
    icfg = st["cfg"].train.matching.index
    n_items = schema.num_items if embed_items is None else min(embed_items, schema.num_items)
    net.eval()
    out, indexes = {}, {}
    for name in net.search:
        s = schema.scenarios.index(name)
        t0 = time.perf_counter()
        corpus = embed_scenarios(net, n_items, schema.num_scenarios, [s])[s]
        emb_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        index = build_index(corpus, icfg)
        build_s = time.perf_counter() - t0
        out[name] = {"items": int(n_items), "embed_s": emb_s, "items_per_s": n_items / max(emb_s, 1e-12),
                     "index_build_s": build_s, "index": effective_params(icfg, n_items, corpus.shape[1])}
        indexes[s] = (index, corpus)
    return out, indexes


def overlap(approx: np.ndarray, exact: np.ndarray, k: int) -> np.ndarray:
    """Per query |approx top-k ∩ exact top-k| / |exact top-k| (rows of -1 = no result; 1 where exact is empty)."""
    e, a = exact[:, :k], approx[:, :k]
    big = int(max(e.max(initial=0), a.max(initial=0))) + 2
    off = np.arange(len(e))[:, None] * big
    hit = np.isin(off + a + 1, (off + e + 1)[e >= 0]) & (a >= 0)
    denom = (e >= 0).sum(1)
    return np.where(denom > 0, hit.sum(1) / np.maximum(denom, 1), 1.0)


def in_category(index, vectors: np.ndarray, groups: list, k: int, batch: int) -> tuple[np.ndarray, float]:  # noqa: ANN001
    """The queries searched per category group (``evaluate_retrieval``'s loop): rows [Q, k], seconds."""
    from unisr.index.faiss_index import search

    rows = np.full((len(vectors), k), -1, np.int64)
    t0 = time.perf_counter()
    for grows, allowed in groups:
        _, r = search(index, vectors[grows], k, batch=batch, allowed=allowed)
        rows[grows, :r.shape[1]] = r
    return rows, time.perf_counter() - t0


def search_cost(st: dict, indexes: dict, query_batches: int, walk_queries: int, rounds: int) -> dict:
    """In-category search of the test queries: the run's index vs exact (``IndexFlatIP``), and the ID-selector
    walk of the same index."""
    from unisr.evaluate.retrieval import Interactions, collect_queries
    from unisr.index import faiss_index
    from unisr.index.faiss_index import build_index
    from unisr.pipeline.config import IndexConfig

    net, pipe, mcfg = st["net"], st["pipe"], st["cfg"].train.matching
    schema = st["encoder"].schema
    net.eval()
    t0 = time.perf_counter()
    batches = pipe.batches("test") if query_batches <= 0 else islice(pipe.batches("test"), query_batches)
    q = collect_queries(net.user_vectors, batches, schema.num_scenarios, Interactions.empty(), schema.num_items,
                        "none", group=net.query_group, category=net.query_category)
    queries_s = time.perf_counter() - t0
    k = min(max(mcfg.ks), schema.num_items)
    cat = net.retrieval_category  # [N + 1] per item entity
    out = {"collect_queries_s": queries_s, "k": k, "scenarios": {}, "subset_exact": faiss_index.SUBSET_EXACT}
    for s, (index, corpus) in indexes.items():
        rows = np.flatnonzero(q.scenario == s)
        n = len(corpus)
        item_cat = cat[1:n + 1]
        groups = []
        for c in np.unique(q.category[rows]):
            allowed = np.flatnonzero(item_cat == c)
            if c >= 0 and len(allowed):
                groups.append((np.flatnonzero(q.category[rows] == c), allowed))
        searched = np.concatenate([g for g, _ in groups]) if groups else np.zeros(0, np.int64)
        vec = q.vectors[rows]
        exact = build_index(corpus, IndexConfig(kind="exact"))
        wq = min(walk_queries, len(searched))
        walk_set = np.sort(searched)[:wq]
        walk_pos = np.full(len(rows), -1, np.int64)  # query row -> its row among the walk's queries
        walk_pos[walk_set] = np.arange(wq)
        walk_groups = [(p[p >= 0], a) for p, a in ((walk_pos[g], a) for g, a in groups)]
        walk_groups = [(g, a) for g, a in walk_groups if len(g)]
        times = {"exact": [], "ann": [], "walk": []}
        res = {}
        for rnd in range(rounds):  # interleaved rounds, medians (the slow walk in the first round only)
            res["exact"], t = in_category(exact, vec, groups, k, mcfg.eval_users_per_batch)
            times["exact"].append(t)
            res["ann"], t = in_category(index, vec, groups, k, mcfg.eval_users_per_batch)
            times["ann"].append(t)
            if wq and rnd == 0:
                saved = faiss_index.SUBSET_EXACT
                faiss_index.SUBSET_EXACT = 0  # every allowed set through the FAISS ID selector
                try:
                    res["walk"], t = in_category(index, vec[walk_set], walk_groups, k, mcfg.eval_users_per_batch)
                finally:
                    faiss_index.SUBSET_EXACT = saved
                times["walk"].append(t)
        nq = len(searched)
        med = {kk: statistics.median(v) for kk, v in times.items() if v}
        name = schema.scenarios[s]
        sizes = [len(a) for _, a in groups]
        r = {"queries": int(len(rows)), "queries_searched": int(nq), "categories": len(groups),
             "category_items_median": float(np.median(sizes)) if sizes else 0.0,
             "category_items_max": int(max(sizes, default=0)),
             "exact_qps": nq / max(med["exact"], 1e-12), "ann_qps": nq / max(med["ann"], 1e-12),
             "ann_recall@100": float(overlap(res["ann"][searched], res["exact"][searched], RECALL_K).mean())
             if nq else float("nan"),
             "seconds": med}
        r["ann_over_exact_qps"] = r["ann_qps"] / max(r["exact_qps"], 1e-12)
        if wq:
            r["walk_queries"] = int(wq)
            r["walk_qps"] = wq / max(med["walk"], 1e-12)
            r["walk_recall@100"] = float(overlap(res["walk"], res["exact"][walk_set], RECALL_K).mean())
        out["scenarios"][name] = r
    return out


def page(res: dict, args: argparse.Namespace) -> dict:
    """The page's tables, notes and figure from the measurement."""
    g, tr, emb, se = res["graph"], res["train"], res["embed"], res["search"]
    kind = next(iter(emb.values()))["index"]["kind"] if emb else "-"
    fam: dict[str, list[int]] = {}
    for key, r in g["relations"].items():
        rel = key.split("__")[1] if "__" in key else key
        base = rel.split(":")[0]
        f = fam.setdefault(base, [0, 0])
        f[0] += r["edges"]
        f[1] += r["bytes"]
    per_type = ", ".join(f"{k} {b / max(e, 1):.1f}" for k, (e, b) in sorted(fam.items()) if e)
    n = max(tr["steps"], 1)

    def ms(key: str) -> str:
        return f"{1e3 * tr[key] / n:,.0f} ms"

    cost = [
        ["graph build (build_graph of graph_config())", f"{g['build_s']:.1f} s",
         f"{g['edges']:,} edges, {g['bytes'] / 2**20:,.1f} MiB, {g['bytes_per_edge']:.2f} B/edge"],
        [f"training step (forward + backward + {tr['optimizer']})", f"{ms('step_s')} (mean)",
         f"median {tr['step_ms_median']:,.0f} ms; forward {ms('forward_s')} (query tower {ms('query_vectors_s')}, "
         f"item tower {ms('encode_items_s')} for {tr['items_encoded'] / n:,.0f} items: {tr['pairs'] / n:,.0f} "
         f"pairs ({tr['augmented'] / n:,.0f} augmented) + shared negatives), backward {ms('backward_s')}, "
         f"optimizer {ms('optimizer_s')}; batch {tr['batch_size']} impressions, {tr['negatives']} negatives"],
        ["metapath sampling (sample_path) in the step", f"{100 * tr['sampling_share']:.1f} %",
         f"{tr['sample_ms_per_step']:,.0f} ms / step in {tr['calls'] / n:,.0f} calls; the peer, the rest of the "
         f"step: {1e3 * tr['rest_of_step_s'] / n:,.0f} ms"],
        ["training throughput", f"{tr['impressions_per_s']:,.0f} impressions/s",
         f"{tr['pairs_per_s']:,.0f} positive pairs/s ({tr['clicked_pairs_per_s']:,.0f} clicked); with the "
         f"Pipeline's batch assembly ({tr['load_ms_per_batch']:,.0f} ms / batch) {tr['impressions_per_s_with_loading']:,.0f} impressions/s"],
    ]
    scen = []
    for name, e in emb.items():
        s = se["scenarios"].get(name, {})
        walk = (f"{s['walk_qps']:,.0f} / {s['walk_recall@100']:.3f} ({s['walk_queries']})" if "walk_qps" in s else "-")
        scen.append([name, f"{e['items']:,}", f"{e['embed_s']:.1f} ({e['items_per_s']:,.0f}/s)",
                     f"{e['index_build_s']:.1f}", f"{s.get('queries_searched', 0):,}", f"{s.get('exact_qps', 0):,.0f}",
                     f"{s.get('ann_qps', 0):,.0f} ({s.get('ann_over_exact_qps', 0):.2f}x)",
                     f"{s.get('ann_recall@100', float('nan')):.3f}", walk])
    tables = [
        {"title": f"Cost at {res['dataset']} ({tr['steps']} measured steps after {args.warmup} warm-up, 1 thread)",
         "header": ["what", "figure", "detail"], "rows": cost},
        {"title": f"Per search scenario: corpus embedding, {kind} index build, in-category search at depth {se['k']}",
         "header": ["scenario", "items", "embed s", "index build s", "queries", "exact QPS", f"{kind} QPS (/ exact)",
                    "recall@100", "ID-selector walk QPS / recall@100 (queries)"], "rows": scen}]
    la0, la1 = res["loadavg_before"], res["loadavg_after"]
    notes = [
        f"bytes per edge by relation family (CSR indptr + indices + attributes): {per_type}; the metapaths walk "
        f"{len(g['metapath_relations'])} of the {len(g['relations'])} relations",
        f"caps: {tr['steps']} training steps (the training split has {tr['train_clicks']:,} search clicks), test queries from "
        f"the first {args.query_batches if args.query_batches > 0 else 'all'} test batches, the walk on the first "
        f"{args.walk_queries} queries of a scenario (one round); the model is the one after these steps (not trained to the end)",
        f"in-category search of a category of <= {se['subset_exact']:,} items is exact over the index's stored vectors "
        f"(index/faiss_index.py:search), so its recall is 1 by construction where the index stores exact vectors "
        f"(HNSW, IVF-Flat); the walk column is the same index searched through FAISS' ID selector",
        f"1 thread (torch and FAISS), nice 10; load average {la0[0]:.2f} before, {la1[0]:.2f} after (shared 2-core "
        f"machine); setup: encoders {res['setup']['encoder_fit_s']:.0f} s, training clicks scan "
        f"{tr['train_clicks_scan_s']:.0f} s, objective attach {tr['objective_attach_s']:.1f} s",
    ]
    first = next(iter(se["scenarios"].values()), {})
    e0 = next(iter(emb.values()), {})
    figure = (f"{res['dataset']}: graph build {g['build_s']:.1f} s, {g['bytes_per_edge']:.2f} B/edge; training "
              f"{tr['impressions_per_s']:,.0f} impressions/s, sampling {100 * tr['sampling_share']:.1f} % of a step; "
              f"{kind} build {e0.get('index_build_s', 0):.1f} s, in-category {first.get('ann_qps', 0):,.0f} QPS "
              f"(exact {first.get('exact_qps', 0):,.0f}) on {next(iter(se['scenarios']), '-')}")
    return {"tables": tables, "notes": notes, "figure": figure}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=20, help="measured training steps (after --warmup)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--query-batches", type=int, default=40, help="test batches to take queries from (0 = all)")
    ap.add_argument("--walk-queries", type=int, default=200, help="queries per scenario for the ID-selector walk")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved search rounds (medians)")
    ap.add_argument("--embed-items", type=int, default=None, help="embed and index only the first N items")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="config KEY=VALUE (as unisr train)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "bomgraph-speed.json")
    args = ap.parse_args(argv)
    import faiss

    sys.path.insert(0, str(ROOT))
    from machine import write_result

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    res: dict = {"loadavg_before": os.getloadavg(), "data": str(args.data)}
    t0 = time.perf_counter()
    st = setup(args.data, [*args.sets, f"train.threads={args.threads}"])
    res["dataset"] = st["cfg"].dataset
    res["setup"] = st["times"]
    res["graph"], _ = graph_cost(args.data, st["net"], st["pipe"])
    print(f"graph: {res['graph']['build_s']:.1f} s, {res['graph']['bytes_per_edge']:.2f} B/edge", flush=True)
    res["train"], _ = train_cost(st, args.steps, args.warmup)
    print(f"train: {res['train']['impressions_per_s']:.0f} impressions/s, sampling "
          f"{res['train']['sampling_share']:.3f}", flush=True)
    res["embed"], indexes = embed_cost(st, args.embed_items)
    print("embed:", {k: round(v["embed_s"], 1) for k, v in res["embed"].items()}, flush=True)
    res["search"] = search_cost(st, indexes, args.query_batches, args.walk_queries, args.rounds)
    res["loadavg_after"] = os.getloadavg()
    res["wall_s"] = time.perf_counter() - t0
    p = page(res, args)
    argv_out = list(argv if argv is not None else sys.argv[1:])
    out = write_result(args.out, benchmark=args.out.stem, title="BOMGraph speed and cost (issue 36)",
                       figure=p["figure"], goal="the cost of each part of a BOMGraph run at the medium preset: graph, "
                       "sampling share of a step, training, corpus embedding, index build, in-category search vs exact",
                       script="benchmarks/bomgraph_speed.py", argv=argv_out, threads=args.threads,
                       tables=p["tables"], notes=p["notes"], raw=res)
    print(p["figure"])
    return out


if __name__ == "__main__":
    main()
