"""ANN retrieval speed (issue 35, build item 6): recall@100 of HNSW and IVF indexes (``unisr.index``, the ones
matching runs save in ``RUN/item_index/``) against exact inner-product search, and queries per second at batch 1
and 256, on a clustered corpus of unit vectors (item embeddings are clustered, not uniform on the sphere).

    .venv/bin/python benchmarks/index_speed.py --n 1000000 --dim 64

Shapes:
    corpus [n, dim] float32, queries [q, dim] -> per index: recall@K, QPS -> benchmarks/results/index-speed.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent
K = 100


def corpus(n: int, d: int, q: int, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around ``clusters`` random centres (spread 0.5 of a centre's norm); queries alike."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d)).astype(np.float32)

    def draw(m: int) -> np.ndarray:
        x = centres[rng.integers(0, clusters, m)] + 0.5 * rng.standard_normal((m, d)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    return draw(n), draw(q)


def qps(index: faiss.Index, queries: np.ndarray, batch: int, seconds: float = 5.0) -> float:
    """Queries per second searching ``batch`` queries per call, for about ``seconds``."""
    from unisr.index.faiss_index import search

    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds and done < len(queries):
        search(index, queries[done:done + batch], K, batch=batch)
        done += batch
    return done / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--queries", type=int, default=2_000)
    ap.add_argument("--clusters", type=int, default=1_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "index-speed.json")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from machine import write_result
    from unisr.index.faiss_index import build_index, search
    from unisr.pipeline.config import IndexConfig

    faiss.omp_set_num_threads(args.threads)
    x, q = corpus(args.n, args.dim, args.queries, args.clusters, args.seed)
    kinds = {"exact": IndexConfig(kind="exact"),
             "HNSW (M 32, efConstruction 128, efSearch 128)": IndexConfig(kind="hnsw"),
             "IVF-Flat (nlist 1024, nprobe 16)": IndexConfig(kind="ivf"),
             "IVF-PQ (nlist 1024, nprobe 16, 8 x 8 bits)": IndexConfig(kind="ivfpq")}
    res, truth, base = {}, None, {}
    for label, cfg in kinds.items():
        t0 = time.perf_counter()
        index = build_index(x, cfg)
        build = time.perf_counter() - t0
        _, rows = search(index, q, K, batch=256)
        if truth is None:
            truth = rows
        recall = float(np.mean([len(np.intersect1d(a, b)) / K for a, b in zip(rows, truth, strict=True)]))
        r = {"build_seconds": build, "recall@100": recall, "qps_batch1": qps(index, q, 1),
             "qps_batch256": qps(index, q, 256)}
        if label == "exact":
            base = r
        r["speedup_batch1"] = r["qps_batch1"] / base["qps_batch1"]
        r["speedup_batch256"] = r["qps_batch256"] / base["qps_batch256"]
        res[label] = r
        print(label, {k: round(v, 4) for k, v in r.items()}, flush=True)
        del index
    rows_out = [[label, f"{r['recall@100']:.4f}", f"{r['qps_batch1']:,.0f}", f"{r['speedup_batch1']:.1f}x",
                 f"{r['qps_batch256']:,.0f}", f"{r['speedup_batch256']:.1f}x", f"{r['build_seconds']:.1f}"]
                for label, r in res.items()]
    hnsw, ivf = (res[k] for k in list(kinds)[1:3])
    figure = (f"{args.n:,} x {args.dim}: HNSW recall@100 {hnsw['recall@100']:.3f} at {hnsw['speedup_batch256']:.0f}x "
              f"exact QPS (batch 256), IVF {ivf['recall@100']:.3f} at {ivf['speedup_batch256']:.0f}x")
    return write_result(
        args.out, benchmark="index-speed", figure=figure, threads=args.threads, script="benchmarks/index_speed.py",
        argv=sys.argv[1:] if argv is None else argv,
        title="ANN retrieval: recall@100 and QPS of the item indexes against exact search",
        goal="issue 35: recall@100 >= 0.97 at >= 50x exact QPS", tables=[{"header": [
            "index", "recall@100 vs exact", "QPS batch 1", "vs exact", "QPS batch 256", "vs exact", "build s"],
            "rows": rows_out}],
        notes=[f"corpus: {args.n:,} unit vectors of dimension {args.dim} around {args.clusters:,} random centres "
               f"(seed {args.seed}); {args.queries:,} queries from the same mixture; top-{K} by inner product; "
               f"FAISS {faiss.__version__}, {args.threads} OpenMP threads; the indexes are "
               "unisr.index.faiss_index.build_index with IndexConfig's defaults (what matching runs save)"],
        results=res)


if __name__ == "__main__":
    main()
