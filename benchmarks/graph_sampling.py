"""Graph engine benchmark: build time / bytes per edge, and sampler throughput on a large synthetic CSR.

    .venv/bin/python benchmarks/graph_sampling.py [--data DIR] [--users 1000000] [--items 2000000]
        [--edges 50000000] [--batch 8192] [--seconds 3]

Throughput is seeds/s and sampled (raw, unmasked slots that hold a neighbour) neighbours/s. The peer is a
plain per-seed Python/numpy sampler (PyG's NeighborLoader needs pyg-lib or torch-sparse, not installable
here as wheels, so it is not measured). Target-aware and metapath targets are drawn from real click edges
(random (user, item) pairs rarely share a category); the target's own click is excluded from the sample.
The synthetic click rows are sorted by (category, ts) like the built graph, with no separate category index.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np

from unisr.graph.build import ITEM_CLICKED_BY, USER_CLICK, build_graph
from unisr.graph.csr import CSR
from unisr.graph.samplers import MetapathSampler, TargetAwareSampler, UniformSampler
from unisr.graph.store import HeteroGraph


def synthetic(n_users: int, n_items: int, n_edges: int, n_cats: int = 200, seed: int = 0) -> HeteroGraph:
    """A user-item click CSR (rows sorted by category, then time) with its reverse (int32 edge links)."""
    rng = np.random.default_rng(seed)
    deg = rng.poisson(n_edges / n_users, n_users).astype(np.int64)
    deg[-1] += n_edges - deg.sum() if deg.sum() < n_edges else 0
    deg = np.minimum(deg, np.maximum(n_edges - np.concatenate([[0], np.cumsum(deg)[:-1]]), 0))
    indptr = np.zeros(n_users + 2, np.int64)
    np.cumsum(deg, out=indptr[2:])
    e = int(indptr[-1])
    items = rng.integers(1, n_items + 1, e, dtype=np.int32)
    item_cat = (np.arange(n_items + 1) % n_cats).astype(np.int32)
    row = np.repeat(np.arange(n_users + 1, dtype=np.int64), np.diff(indptr))
    order = np.argsort(row * n_cats + item_cat[items], kind="stable")
    items = items[order]
    del order
    ts = np.sort(rng.integers(0, 10**6, e).astype(np.int32))  # any order; per-row order not needed here
    fwd = CSR(indptr, items, n_items + 1, {"query": rng.integers(0, 1000, e, dtype=np.int32), "ts": ts})
    rorder = np.argsort(items, kind="stable").astype(np.int32)
    rptr = np.zeros(n_items + 2, np.int64)
    np.cumsum(np.bincount(items, minlength=n_items + 1), out=rptr[1:])
    rev = CSR(rptr, row[rorder].astype(np.int32), n_users + 1, {"eid": rorder})
    del row
    return HeteroGraph({"user": n_users + 1, "item": n_items + 1}, {USER_CLICK: fwd, ITEM_CLICKED_BY: rev},
                       item_cat, item_cat[:, None], np.zeros(0, np.int64), np.zeros(0, np.int64),
                       np.zeros(0, np.int64), {}, {})


def reference_two_hop(g: HeteroGraph, seeds: np.ndarray, fanouts: list[int], seed: int) -> int:
    """The peer: a per-seed Python loop with numpy (what one writes without a sampler library)."""
    rng = np.random.default_rng(seed)
    f, r = g.rel(USER_CLICK), g.rel(ITEM_CLICKED_BY)
    n = 0
    for s in seeds:
        nb = f.indices[f.indptr[s]:f.indptr[s + 1]]
        if len(nb) > fanouts[0]:
            nb = rng.choice(nb, fanouts[0], replace=False)
        n += len(nb)
        for i in nb:
            nb2 = r.indices[r.indptr[i]:r.indptr[i + 1]]
            if len(nb2) > fanouts[1]:
                nb2 = rng.choice(nb2, fanouts[1], replace=False)
            n += len(nb2)
    return n


def measure(fn: Callable[[int], int], n_seeds: int, seconds: float) -> dict:
    fn(0)  # warm-up (numba compile / caches)
    t0, calls, nbrs = time.perf_counter(), 0, 0
    while time.perf_counter() - t0 < seconds:
        nbrs += fn(calls + 1)
        calls += 1
    dt = time.perf_counter() - t0
    return {"seeds_per_s": round(calls * n_seeds / dt), "neighbours_per_s": round(nbrs / dt), "calls": calls}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None, help="canonical dataset to time the graph build on")
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--items", type=int, default=2_000_000)
    ap.add_argument("--edges", type=int, default=50_000_000)
    ap.add_argument("--batch", type=int, default=8192)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    a = ap.parse_args()
    res: dict = {}
    if a.data:
        t0 = time.perf_counter()
        g = build_graph(a.data)
        res["build"] = {"data": a.data, "seconds": round(time.perf_counter() - t0, 2), "edges": g.num_edges,
                        "clicks": g.meta["num_clicks"], "bytes_per_edge": round(g.bytes_per_edge(), 2)}
        print(json.dumps(res["build"]), flush=True)
    t0 = time.perf_counter()
    g = synthetic(a.users, a.items, a.edges)
    res["synthetic"] = {"users": a.users, "items": a.items, "edges": g.rel(USER_CLICK).num_edges,
                        "build_seconds": round(time.perf_counter() - t0, 1),
                        "bytes_per_click_edge": round(g.nbytes() / g.rel(USER_CLICK).num_edges, 2)}
    print(json.dumps(res["synthetic"]), flush=True)
    rng = np.random.default_rng(1)
    batches = [rng.integers(1, a.users + 1, a.batch) for _ in range(8)]
    fwd = g.rel(USER_CLICK)
    eids = [rng.integers(0, fwd.num_edges, a.batch) for _ in range(8)]  # targets = real click edges
    t_users = [np.searchsorted(fwd.indptr, e, side="right") - 1 for e in eids]
    t_items = [fwd.indices[e].astype(np.int64) for e in eids]
    for fan in ([10, 10], [25, 10]):
        s = UniformSampler(g, [USER_CLICK, ITEM_CLICKED_BY], fan)
        res[f"uniform{fan}"] = measure(lambda i, s=s: s.sample(batches[i % 8], i).num_sampled, a.batch, a.seconds)
        print(f"uniform {fan}", res[f"uniform{fan}"], flush=True)
        res[f"reference{fan}"] = measure(lambda i, fan=fan: reference_two_hop(g, batches[i % 8][:200], fan, i),
                                         200, a.seconds)
        print(f"reference {fan}", res[f"reference{fan}"], flush=True)
    ta = TargetAwareSampler(g)

    def run_ta(i: int) -> int:
        ub, ib = ta.sample(t_users[i % 8], t_items[i % 8], i)
        return ub.num_sampled + ib.num_sampled

    res["target_aware[25,1,10]+[1,25,1]"] = measure(run_ta, a.batch, a.seconds)
    print("target-aware", res["target_aware[25,1,10]+[1,25,1]"], flush=True)
    mp = MetapathSampler(g, {"u-i-u": [USER_CLICK, ITEM_CLICKED_BY]}, one_hop=3, two_hop=3)
    pos = {"item": np.stack([t_users[0], t_items[0]], 1)}
    res["metapath(3,3)"] = measure(lambda i: mp.sample_path("u-i-u", t_users[i % 8], pos, i).num_sampled,
                                   a.batch, a.seconds)
    print("metapath", res["metapath(3,3)"], flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
