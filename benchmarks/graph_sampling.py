"""Graph engine benchmark: build time / bytes per edge of a >= 50M-edge graph, and sampler throughput of
ours vs PyG's ``NeighborLoader`` and a plain vectorised torch sampler, in one run on the same graph.

    benchmarks/.env-graph/bin/python benchmarks/graph_sampling.py            # with the PyG peer
    .venv/bin/python benchmarks/graph_sampling.py                            # ours + torch reference only
        [--data DIR] [--users 1000000] [--items 2000000] [--edges 50000000] [--batch 8192] [--seconds 2]
        [--rounds 3] [--threads 1] [--cache DIR] [--no-peer] [--out benchmarks/out/graph_sampling.json]
        [--md benchmarks/out/graph_sampling.md]

(``bash benchmarks/setup_graph_peer_env.sh`` creates ``benchmarks/.env-graph``: torch-scatter and
torch-sparse built from source, which PyG's CPU ``NeighborLoader`` needs.)

The graph is a synthetic power-law user-item click graph in exactly the layout ``build_graph`` writes
(forward CSR rows sorted by (item category, ts) with ``query``/``ts`` int32 attributes; reverse CSR rows
sorted by ts with an int32 ``eid`` link): user activity is Pareto-distributed, item popularity Zipf within a
category, and each user clicks mostly (80 %) in 3 preferred categories. It is generated vectorised.
``--data`` additionally times ``build_graph`` on a canonical dataset.

Throughput is seeds/s and neighbours/s, where a neighbour is one sampled edge (a filled slot of our padded
blocks; a sampled edge of PyG's output). Cases run interleaved, ``--rounds`` times for ``--seconds`` each, and
the median rate is reported; the load average before and after is recorded (the machine may be shared).
Semantics differ slightly, and the table says so: ours draws without replacement per (seed, slot) tree
(no de-duplication, padded blocks with precursors and edge ids); PyG de-duplicates the frontier (hop 2 starts
only from distinct new items) and relabels; the torch reference draws with replacement where the degree
exceeds the fanout and returns flat neighbour lists (optionally de-duplicating the frontier).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
import torch

from unisr.graph.build import ITEM_CLICKED_BY, USER_CLICK
from unisr.graph.csr import CSR
from unisr.graph.samplers import MetapathSampler, TargetAwareSampler, UniformSampler
from unisr.graph.store import HeteroGraph

TS_BITS = 20


# ------------------------------------------------------------------------------------------- the graph
def synthetic(n_users: int, n_items: int, n_edges: int, n_cats: int = 200, seed: int = 0) -> HeteroGraph:
    """A power-law user-item click graph with its reverse, in ``build_graph``'s layout (user/item 0 unused).

    Shapes: -> HeteroGraph with USER_CLICK [n_users + 1 -> n_items + 1] of exactly ``n_edges`` edges
    (attrs query, ts int32) and ITEM_CLICKED_BY (attr eid int32); item_category [n_items + 1].
    """
    rng = np.random.default_rng(seed)
    w = np.minimum(rng.pareto(1.5, n_users) + 1.0, 500.0)  # user activity, heavy-tailed (capped)
    deg = rng.multinomial(n_edges, w / w.sum()).astype(np.int64)
    indptr = np.zeros(n_users + 2, np.int64)
    np.cumsum(deg, out=indptr[2:])
    row = np.repeat(np.arange(1, n_users + 1, dtype=np.int64), deg)
    pref = rng.integers(0, n_cats, (n_users + 1, 3))
    cat = pref[row, rng.integers(0, 3, n_edges)]
    explore = rng.random(n_edges) < 0.2
    cat[explore] = rng.integers(0, n_cats, int(explore.sum()))
    del explore
    per_cat = n_items // n_cats
    rank = (np.floor(np.power(float(per_cat), rng.random(n_edges))) - 1).astype(np.int64)  # Zipf(1)-like
    items = 1 + rank * n_cats + cat  # item i has category (i - 1) % n_cats
    del rank
    ts = rng.integers(0, 1 << TS_BITS, n_edges)
    order = np.argsort(((row * n_cats + cat) << TS_BITS) | ts)  # rows by (category, ts), like build_graph
    del cat
    items = items[order].astype(np.int32)
    ts = ts[order].astype(np.int32)
    del order
    item_cat = np.full(n_items + 1, -1, np.int32)
    item_cat[1:] = np.arange(n_items, dtype=np.int32) % n_cats
    fwd = CSR(indptr, items, n_items + 1, {"query": rng.integers(0, 1000, n_edges, dtype=np.int32), "ts": ts})
    rorder = np.argsort((items.astype(np.int64) << TS_BITS) | ts).astype(np.int32)  # by item, then ts
    rptr = np.zeros(n_items + 2, np.int64)
    np.cumsum(np.bincount(items, minlength=n_items + 1), out=rptr[1:])
    rev = CSR(rptr, row[rorder].astype(np.int32), n_users + 1, {"eid": rorder})
    del row
    return HeteroGraph({"user": n_users + 1, "item": n_items + 1}, {USER_CLICK: fwd, ITEM_CLICKED_BY: rev},
                       item_cat, item_cat[:, None], np.zeros(0, np.int64), np.zeros(0, np.int64),
                       np.zeros(0, np.int64), {}, {"synthetic": True})


# ----------------------------------------------------------------------------------- torch reference
class TorchTwoHop:
    """Plain vectorised torch 2-hop sampler (user -> item -> user): gather row bounds, draw offsets with
    ``torch.rand`` (with replacement where degree > fanout, all neighbours otherwise), gather neighbours."""

    def __init__(self, g: HeteroGraph, fanouts: list[int], dedup: bool) -> None:
        f, r = g.rel(USER_CLICK), g.rel(ITEM_CLICKED_BY)
        self.csrs = [(torch.from_numpy(f.indptr), torch.from_numpy(f.indices)),
                     (torch.from_numpy(r.indptr), torch.from_numpy(r.indices))]
        self.fanouts, self.dedup = fanouts, dedup

    def sample(self, seeds: torch.Tensor, seed: int) -> int:
        gen = torch.Generator().manual_seed(seed)
        nodes, total = seeds, 0
        for (indptr, indices), k in zip(self.csrs, self.fanouts, strict=True):
            start = indptr[nodes]
            deg = indptr[nodes + 1] - start
            ar = torch.arange(k)
            off = (torch.rand(len(nodes), k, generator=gen) * deg[:, None]).long()
            off = torch.where(deg[:, None] > k, off, ar)
            mask = ar < deg[:, None]
            nb = indices[torch.where(mask, start[:, None] + off, 0)]
            nodes = nb[mask].long()
            total += len(nodes)
            if self.dedup:
                nodes = torch.unique(nodes)
        return total


# ---------------------------------------------------------------------------------------- PyG peer
def pyg_status() -> str | None:
    """None when PyG can sample on CPU here, else why not."""
    try:
        import torch_geometric.typing as t
    except ImportError as e:
        return f"torch_geometric missing: {e}"
    if not (t.WITH_PYG_LIB or t.WITH_TORCH_SPARSE):
        return "neither pyg-lib nor torch-sparse importable (NeighborLoader raises ImportError)"
    return None


class PygPeer:
    """PyG ``NeighborSampler`` (the engine of ``NeighborLoader``) and ``NeighborLoader`` on the same CSR.

    Edge types point towards the node being expanded (PyG samples incoming edges): ('item','to','user')
    holds each user's clicked items in the forward CSR's order, ('user','to','item') each item's users.
    ``is_sorted=True`` lets PyG take the CSC without re-sorting 2 x 50M edges.
    """

    def __init__(self, g: HeteroGraph) -> None:
        from torch_geometric.data import HeteroData

        f, r = g.rel(USER_CLICK), g.rel(ITEM_CLICKED_BY)
        self.e_iu, self.e_ui = ("item", "to", "user"), ("user", "to", "item")
        data = HeteroData()
        data["user"].num_nodes = g.num_nodes["user"]
        data["item"].num_nodes = g.num_nodes["item"]
        users = torch.repeat_interleave(torch.arange(f.num_src), torch.from_numpy(np.diff(f.indptr)))
        data[self.e_iu].edge_index = torch.stack([torch.from_numpy(f.indices).long(), users])
        del users
        items = torch.repeat_interleave(torch.arange(r.num_src), torch.from_numpy(np.diff(r.indptr)))
        data[self.e_ui].edge_index = torch.stack([torch.from_numpy(r.indices).long(), items])
        del items
        self.data = data

    def sampler(self, fanouts: list[int]):
        from torch_geometric.sampler import NeighborSampler

        return NeighborSampler(self.data, num_neighbors={self.e_iu: [fanouts[0], 0], self.e_ui: [0, fanouts[1]]},
                               is_sorted=True)

    @staticmethod
    def sample(sampler, seeds: torch.Tensor) -> int:
        from torch_geometric.sampler import NodeSamplerInput

        out = sampler.sample_from_nodes(NodeSamplerInput(input_id=None, node=seeds, input_type="user"))
        return int(sum(v.numel() for v in out.row.values()))

    def loader(self, sampler, seeds: torch.Tensor, batch: int):
        from torch_geometric.loader import NeighborLoader

        return NeighborLoader(self.data, num_neighbors=sampler.num_neighbors, input_nodes=("user", seeds),
                              batch_size=batch, neighbor_sampler=sampler, is_sorted=True)


# ------------------------------------------------------------------------------------------ measuring
def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_cases(cases: dict[str, tuple[Callable[[int], int], int]], seconds: float, rounds: int) -> dict:
    """Interleaved rounds; per case the median seeds/s and neighbours/s over rounds, by wall clock and by
    CPU time of this process (all its threads; less sensitive to other jobs on a shared machine)."""
    for name, (fn, _) in cases.items():  # warm-up (numba compile / caches / first-touch)
        fn(0)
        print(f"  warmed {name}", flush=True)
    rates: dict[str, list[tuple[float, float, float, float]]] = {n: [] for n in cases}
    calls = 1
    for rd in range(rounds):
        for name, (fn, n_seeds) in cases.items():
            t0, p0, c, nb = time.perf_counter(), time.process_time(), 0, 0
            while time.perf_counter() - t0 < seconds or c == 0:
                nb += fn(calls)
                calls += 1
                c += 1
            dt, dp = time.perf_counter() - t0, max(time.process_time() - p0, 1e-9)
            rates[name].append((c * n_seeds / dt, nb / dt, c * n_seeds / dp, nb / dp))
            print(f"  round {rd + 1} {name}: {c * n_seeds / dt:,.0f} seeds/s, {nb / dt / 1e6:.2f}M nbrs/s"
                  f" (per CPU-s: {c * n_seeds / dp:,.0f}, {nb / dp / 1e6:.2f}M)", flush=True)
    keys = ("seeds_per_s", "neighbours_per_s", "seeds_per_cpu_s", "neighbours_per_cpu_s")
    return {n: {**{k: round(statistics.median(x[i] for x in v)) for i, k in enumerate(keys)},
                "rounds": [[round(y) for y in x] for x in v]} for n, v in rates.items()}


def md_table(res: dict) -> str:
    lines = ["| case | seeds/s | neighbours/s | seeds/CPU-s | neighbours/CPU-s | vs PyG sampler (seeds/s; per CPU-s) |",
             "|---|---|---|---|---|---|"]
    for name, r in res["cases"].items():
        ratio, rc = r.get("ratio_vs_pyg"), r.get("ratio_vs_pyg_cpu")
        lines.append(f"| {name} | {r['seeds_per_s']:,} | {r['neighbours_per_s'] / 1e6:.2f}M | "
                     f"{r['seeds_per_cpu_s']:,} | {r['neighbours_per_cpu_s'] / 1e6:.2f}M | "
                     f"{'-' if ratio is None else f'{ratio:.2f}x; {rc:.2f}x'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None, help="canonical dataset to also time build_graph on")
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--items", type=int, default=2_000_000)
    ap.add_argument("--edges", type=int, default=50_000_000)
    ap.add_argument("--batch", type=int, default=8192)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cache", default=None, help="save the synthetic graph here once, load it on later runs")
    ap.add_argument("--threads", type=int, default=1, help="numba and torch threads (PyG's sampler uses 1)")
    ap.add_argument("--no-peer", action="store_true", help="skip PyG even when it is importable")
    ap.add_argument("--out", default="benchmarks/out/graph_sampling.json")
    ap.add_argument("--md", default="benchmarks/out/graph_sampling.md")
    a = ap.parse_args()
    numba.set_num_threads(a.threads)
    torch.set_num_threads(a.threads)
    exe = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else sys.executable
    res: dict = {"command": " ".join([exe, *sys.argv]),
                 "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "machine": {
                     "cpus": os.cpu_count(), "platform": platform.platform(), "numba_threads": numba.get_num_threads(),
                     "torch_threads": torch.get_num_threads(), "torch": torch.__version__},
                 "load_before": load()}
    print("load average before:", res["load_before"], flush=True)
    if a.data:
        from unisr.graph.build import build_graph

        t0 = time.perf_counter()
        g = build_graph(a.data)
        res["build_data"] = {"data": a.data, "seconds": round(time.perf_counter() - t0, 2), "edges": g.num_edges,
                             "bytes_per_edge": round(g.bytes_per_edge(), 2)}
        print(json.dumps(res["build_data"]), flush=True)
        del g
    t0 = time.perf_counter()
    cache = Path(a.cache) / f"synthetic_{a.users}_{a.items}_{a.edges}" if a.cache else None
    loaded = cache is not None and (cache / "manifest.json").exists()
    g = HeteroGraph.load(cache) if loaded else synthetic(a.users, a.items, a.edges)
    build_s = round(time.perf_counter() - t0, 1)
    if cache is not None and not loaded:
        g.save(cache)
    fwd = g.rel(USER_CLICK)
    res["graph"] = {"users": a.users, "items": a.items, "click_edges": fwd.num_edges, "edges_all": g.num_edges,
                    "loaded_from_cache" if loaded else "build_seconds": build_s, "bytes": g.nbytes(),
                    "bytes_per_edge": round(g.bytes_per_edge(), 2),
                    "bytes_per_click_edge": round(g.nbytes() / fwd.num_edges, 2),
                    "max_user_degree": int(np.diff(fwd.indptr).max()),
                    "max_item_degree": int(np.diff(g.rel(ITEM_CLICKED_BY).indptr).max())}
    print(json.dumps(res["graph"]), flush=True)

    rng = np.random.default_rng(1)
    nb_ = 8
    batches = [rng.integers(1, a.users + 1, a.batch) for _ in range(nb_)]
    tbatches = [torch.from_numpy(b) for b in batches]
    eids = [rng.integers(0, fwd.num_edges, a.batch) for _ in range(nb_)]  # targets = real click edges
    t_users = [np.searchsorted(fwd.indptr, e, side="right") - 1 for e in eids]
    t_items = [fwd.indices[e].astype(np.int64) for e in eids]

    why = "--no-peer" if a.no_peer else pyg_status()
    res["peer"] = {"available": why is None, "why_not": why}
    peer = None
    if why is None:
        import torch_geometric

        t0 = time.perf_counter()
        peer = PygPeer(g)
        res["peer"].update({"torch_geometric": torch_geometric.__version__,
                            "setup_seconds": round(time.perf_counter() - t0, 1)})
        try:
            import torch_sparse

            res["peer"]["torch_sparse"] = torch_sparse.__version__
        except ImportError:
            pass
    print("peer:", res["peer"], flush=True)

    cases: dict[str, tuple[Callable[[int], int], int]] = {}
    pyg_of: dict[str, str] = {}
    for fan in ([10, 10], [25, 10]):
        tag = f"[{fan[0]},{fan[1]}]"
        s = UniformSampler(g, [USER_CLICK, ITEM_CLICKED_BY], fan)
        cases[f"ours uniform 2-hop {tag}"] = (lambda i, s=s: s.sample(batches[i % nb_], i).num_sampled, a.batch)
        ref, refd = TorchTwoHop(g, fan, False), TorchTwoHop(g, fan, True)
        cases[f"torch reference {tag}"] = (lambda i, r=ref: r.sample(tbatches[i % nb_], i), a.batch)
        cases[f"torch reference, dedup frontier {tag}"] = (lambda i, r=refd: r.sample(tbatches[i % nb_], i), a.batch)
        if peer is not None:
            smp = peer.sampler(fan)
            cases[f"PyG NeighborSampler {tag}"] = (lambda i, smp=smp: PygPeer.sample(smp, tbatches[i % nb_]), a.batch)
            loader = peer.loader(smp, torch.cat(tbatches), a.batch)
            state = {"it": iter(loader)}

            def from_loader(i: int, loader=loader, state=state) -> int:
                try:
                    b = next(state["it"])
                except StopIteration:
                    state["it"] = iter(loader)
                    b = next(state["it"])
                return int(sum(b[et].edge_index.size(1) for et in b.edge_types))

            cases[f"PyG NeighborLoader {tag}"] = (from_loader, a.batch)
            for k in (f"ours uniform 2-hop {tag}", f"torch reference {tag}", f"torch reference, dedup frontier {tag}",
                      f"PyG NeighborLoader {tag}"):
                pyg_of[k] = f"PyG NeighborSampler {tag}"
            pyg_of[f"PyG NeighborSampler {tag}"] = f"PyG NeighborSampler {tag}"
    ta = TargetAwareSampler(g)

    def run_ta(i: int) -> int:
        ub, ib = ta.sample(t_users[i % nb_], t_items[i % nb_], i)
        return ub.num_sampled + ib.num_sampled

    cases["ours target-aware [25,1,10]+[1,25,1]"] = (run_ta, a.batch)
    mp = MetapathSampler(g, {"u-i-u": [USER_CLICK, ITEM_CLICKED_BY]}, one_hop=3, two_hop=3)
    pos = [{"item": np.stack([t_users[j], t_items[j]], 1)} for j in range(nb_)]
    cases["ours metapath u-i-u (3+3, positive re-draw)"] = (
        lambda i: mp.sample_path("u-i-u", t_users[i % nb_], pos[i % nb_], i).num_sampled, a.batch)
    res["cases"] = run_cases(cases, a.seconds, a.rounds)

    for name, peer_name in pyg_of.items():
        p = res["cases"][peer_name]["seeds_per_s"]
        res["cases"][name]["ratio_vs_pyg"] = round(res["cases"][name]["seeds_per_s"] / p, 2) if p else None
        pc = res["cases"][peer_name]["seeds_per_cpu_s"]
        res["cases"][name]["ratio_vs_pyg_cpu"] = round(res["cases"][name]["seeds_per_cpu_s"] / pc, 2) if pc else None
    res["load_after"] = load()
    print("load average after:", res["load_after"], flush=True)

    c = res["cases"]
    g10 = c["ours uniform 2-hop [10,10]"]["neighbours_per_s"]
    g25 = c["ours uniform 2-hop [25,10]"]["neighbours_per_s"]
    res["goals"] = {
        "uniform 2-hop >= 30M neighbours/s": [g10, g25, min(g10, g25) >= 30e6],
        "target-aware >= 5M neighbours/s": c["ours target-aware [25,1,10]+[1,25,1]"]["neighbours_per_s"] >= 5e6,
        "metapath >= 5M neighbours/s": c["ours metapath u-i-u (3+3, positive re-draw)"]["neighbours_per_s"] >= 5e6,
        ">= 3x peer (seeds/s, wall; per CPU-s)": None if peer is None else [all(
            c[f"ours uniform 2-hop {t}"][k] >= 3 for t in ("[10,10]", "[25,10]"))
            for k in ("ratio_vs_pyg", "ratio_vs_pyg_cpu")],
        "<= 24 bytes per edge": res["graph"]["bytes_per_edge"] <= 24,
    }
    print(json.dumps(res["goals"]), flush=True)
    md = (f"Graph sampling benchmark, {res['date_utc']} UTC, `{res['command']}`\n\n"
          f"graph: {json.dumps(res['graph'])}\n\npeer: {json.dumps(res['peer'])}\n\n"
          f"load average before {res['load_before']}, after {res['load_after']}\n\n" + md_table(res)
          + f"\ngoals: {json.dumps(res['goals'])}\n")
    print(md)
    for path, text in ((a.out, json.dumps(res, indent=1)), (a.md, md)):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text)


if __name__ == "__main__":
    main()
