"""Serving latency (issue 37, build item 6): ``/v1/rank`` with 200 candidates and ``/v1/retrieve`` k=100 over
the corpus, 1 / 8 / 32 concurrent clients on loopback, against a real ``unisr serve`` (one uvicorn worker, one
torch thread) per model: p50 / p99 latency and requests per second.

    .venv/bin/python benchmarks/serve_latency.py            # simulates, trains tiny runs, serves each, measures
    .venv/bin/python benchmarks/serve_latency.py --models dnn star --stages   # two rankers, + in-process stages

Each model is trained for a few steps on the simulated ``tiny`` marketplace (serving cost does not depend on
how well a model is trained); the load generator is one asyncio process (aiohttp) with C clients, each sending
its requests back to back; requests draw users, scenarios and candidates at random (seeded). Beside the
latencies each row records the server process's CPU per request (``/proc/PID/stat``: what bounds throughput on
a machine shared with other jobs, which delay the server but do not add to its CPU time) and the load average;
``--stages`` adds each ranker's in-process CPU per stage of ``/v1/rank`` (validation, encoding, forward, answer;
one request at a time and 32 in one batch).

Shapes:
    (no tensors) models x endpoints x concurrency -> p50 / p99 ms, requests/s -> benchmarks/results/serve-latency.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
UNISR = [sys.executable, "-m", "unisr.cli.main"]
RANKERS = ["dnn", "star", "srjgraph", "treems"]
MATCHERS = ["dssm", "sass"]
FAST = ["train.epochs=1", "train.max_steps_per_epoch=5", "train.progress=false", "train.threads=1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(run: Path, log: Path, extra: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([*UNISR, "serve", "--run", str(run), "--port", str(port), "--log-level", "warning",
                             *extra], stdout=open(log, "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"unisr serve exited {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"unisr serve did not start: {log.read_text()[-2000:]}")


def bodies(kind: str, n: int, seed: int, users: np.ndarray, items: np.ndarray, scenarios: list[str],
           share: list[str]) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        if kind == "treems":  # a share scenario: rank 200 candidate receivers of one shared item
            out.append({"scenario": str(rng.choice(share)), "user_id": int(rng.choice(users)),
                        "item_ids": [int(rng.choice(items))],
                        "target_user_ids": rng.choice(users, 200).tolist()})
        elif kind == "rank":
            out.append({"scenario": str(rng.choice(scenarios)), "user_id": int(rng.choice(users)),
                        "query": {"tokens": rng.integers(1, 500, 3).tolist()}, "item_ids": rng.choice(items, 200).tolist()})
        else:
            out.append({"scenario": str(rng.choice(scenarios)), "user_id": int(rng.choice(users)), "k": 100})
    return out


async def load(url: str, path: str, reqs: list[dict], clients: int,
               warm: list[dict] | None = None) -> tuple[list[float], float, int]:
    """Send ``reqs`` from ``clients`` concurrent clients, after ``warm`` (not measured: opens every client's
    connection); (latencies s, wall s, failures)."""
    import aiohttp

    lat: list[float] = []
    fails = 0
    queue = list(reversed(reqs))

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal fails
        while queue:
            body = queue.pop()
            t0 = time.perf_counter()
            async with session.post(url + path, json=body) as r:
                await r.read()
                if r.status != 200:
                    fails += 1
            lat.append(time.perf_counter() - t0)

    conn = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=conn) as s:
        if warm:
            queue[:] = list(reversed(warm))
            await asyncio.gather(*[client(s) for _ in range(clients)])
            lat.clear()
            fails = 0
            queue[:] = list(reversed(reqs))
        t0 = time.perf_counter()
        await asyncio.gather(*[client(s) for _ in range(clients)])
        wall = time.perf_counter() - t0
    return lat, wall, fails


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (``/proc/PID/stat``): the server's own work, which other jobs on
    the machine delay but do not add to."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stages(run: Path, n: int = 200, seed: int = 0) -> dict:
    """CPU milliseconds (this thread's) of each stage of ``/v1/rank`` in process, one 200-candidate request at a
    time and 32 requests in one batch: body validation (pydantic, from the JSON bytes), encoding through the
    run's pipeline (``Runtime.rows``), the model's forward, the JSON answer."""
    import torch

    from unisr.serve import schemas as S
    from unisr.serve.runtime import Part, Request, open_runtime

    torch.set_num_threads(1)
    rt = open_runtime(run)
    rng = np.random.default_rng(seed)
    items, users = np.asarray(rt.encoder.item_ids), np.asarray(rt.encoder.user_ids)
    raw = [json.dumps({"scenario": rt.scenarios[int(rng.integers(0, 3))], "user_id": int(rng.choice(users)),
                       "query": {"tokens": rng.integers(1, 500, 3).tolist()},
                       "item_ids": rng.choice(items, 200).tolist()}).encode() for _ in range(n)]
    clock = time.thread_time
    t = {"validate": 0.0, "encode": 0.0, "forward": 0.0, "answer": 0.0}
    parts = []
    for b in raw:
        t0 = clock()
        req = S.RankRequest.model_validate_json(b)
        q = req.query
        part = Part(Request(scenario=rt.scenario_index(req.scenario), user_id=req.user_id,
                            tokens=tuple(q.tokens) if q and q.tokens else None), np.asarray(req.item_ids, np.int64))
        t1 = clock()
        batch = rt.rows([part])
        t2 = clock()
        with torch.inference_mode():
            out = torch.sigmoid(rt.net(batch)["click"]).numpy()
        t3 = clock()
        json.dumps({"scores": out.tolist()})
        t4 = clock()
        for k, a, z in zip(t, (t0, t1, t2, t3), (t1, t2, t3, t4), strict=True):
            t[k] += (z - a) / n * 1e3
        parts.append(part)
    batched = {"encode": 0.0, "forward": 0.0}
    groups = [parts[k:k + 32] for k in range(0, n - 31, 32)]
    for g in groups:
        t0 = clock()
        batch = rt.rows(g)
        t1 = clock()
        with torch.inference_mode():
            rt.net(batch)["click"].numpy()
        t2 = clock()
        batched["encode"] += (t1 - t0) / (32 * len(groups)) * 1e3
        batched["forward"] += (t2 - t1) / (32 * len(groups)) * 1e3
    return {"one_request_cpu_ms": t, "batched_32_cpu_ms_per_request": batched}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/unisr-serve-latency"))
    ap.add_argument("--models", nargs="*", default=[*RANKERS, *MATCHERS])
    ap.add_argument("--concurrency", type=int, nargs="*", default=[1, 8, 32])
    ap.add_argument("--requests", type=int, default=400, help="requests per (model, concurrency)")
    ap.add_argument("--serve-args", default="", help="extra `unisr serve` options (e.g. --no-batching)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "serve-latency.json")
    ap.add_argument("--stages", action="store_true", help="also time each stage of /v1/rank in process (rankers)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import yaml

    from machine import write_result

    data = args.work / "data"
    if not (data / "dataset.yaml").exists():
        subprocess.run([*UNISR, "simulate", "--preset", "tiny", "--set", "version=1", "--out", str(data)],
                       check=True)  # data version 1: the one its results were made on
    spec = yaml.safe_load((data / "dataset.yaml").read_text())
    scen = [s["name"] for s in spec["scenarios"] if s["kind"] != "share"]
    share = [s["name"] for s in spec["scenarios"] if s["kind"] == "share"]
    import pyarrow.parquet as pq

    users = pq.read_table(data / "users.parquet", columns=["user_id"])["user_id"].to_numpy()
    items = pq.read_table(data / "items.parquet", columns=["item_id"])["item_id"].to_numpy()
    rows, res = [], {}
    for model in args.models:
        run = args.work / f"run_{model}"
        if not (run / "model.safetensors").exists():
            sets = [x for s in FAST for x in ("--set", s)]
            subprocess.run([*UNISR, "train", "--model", model, "--data", str(data), "--out", str(run), *sets],
                           check=True, stdout=subprocess.DEVNULL)
        path = "/v1/retrieve" if model in MATCHERS else "/v1/rank"
        names = scen
        if model in MATCHERS:  # the scenarios the run saved an index for (SASS: those it trained on)
            saved = json.loads((run / "item_index" / "manifest.json").read_text())["scenarios"]
            names = [s for s in scen if s in {x["name"] for x in saved}]
        kind = "retrieve" if model in MATCHERS else "treems" if model == "treems" else "rank"
        proc, url = start(run, args.work / f"serve_{model}.log", args.serve_args.split())
        try:
            for c in args.concurrency:
                warm = bodies(kind, max(50, 2 * c), 99, users, items, names, share)
                reqs = bodies(kind, args.requests, c, users, items, names, share)
                cpu0, load0 = cpu_seconds(proc.pid), os.getloadavg()[0]
                lat, wall, fails = asyncio.run(load(url, path, reqs, c, warm))
                cpu = (cpu_seconds(proc.pid) - cpu0) * 1e3 / (len(lat) + len(warm))  # warm-up requests included
                ms = np.asarray(lat) * 1e3
                r = {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
                     "rps": len(lat) / wall, "failures": fails, "requests": len(lat),
                     "server_cpu_ms_per_request": cpu, "loadavg_1m": [load0, os.getloadavg()[0]]}
                res[f"{model} {path} c={c}"] = r
                label = f"{path} 200 candidates" if path == "/v1/rank" else f"{path} k=100"
                rows.append([model, label, str(c), f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}", f"{r['rps']:.0f}",
                             f"{cpu:.2f}", f"{r['loadavg_1m'][0]:.1f}", str(fails)])
                print(json.dumps({"model": model, "clients": c, **r}), flush=True)
        finally:
            proc.terminate()
            proc.wait(30)
        if args.stages and model not in MATCHERS and model not in ("srjgraph", "treems"):
            res[f"{model} stages"] = stages(run)
            print(json.dumps({"model": model, "stages": res[f"{model} stages"]}), flush=True)
    dnn32 = res.get("dnn /v1/rank c=32")
    figure = (f"DNN /v1/rank (200 candidates) at 32 concurrent clients: p99 {dnn32['p99_ms']:.1f} ms, "
              f"{dnn32['rps']:.0f} requests/s" if dnn32 else "serving latency per model")
    return write_result(
        args.out, benchmark="serve-latency", figure=figure, threads=1, script="benchmarks/serve_latency.py",
        argv=sys.argv[1:] if argv is None else argv,
        title="Serving latency: /v1/rank (200 candidates) and /v1/retrieve (k=100), 1 / 8 / 32 concurrent clients",
        goal="issue 37: /v1/rank p99 <= 25 ms at 32 concurrent clients for the non-graph rankers",
        tables=[{"header": ["model", "endpoint", "clients", "p50 ms", "p99 ms", "requests/s",
                            "server CPU ms / request", "load avg", "failures"], "rows": rows}],
        notes=[f"data: `unisr simulate --preset tiny --set version=1` ({len(users):,} users, {len(items):,} items); runs trained "
               f"for 5 steps (serving cost does not depend on training); one `unisr serve --run` process "
               f"(1 uvicorn worker, 1 torch thread{', ' + args.serve_args if args.serve_args else ''}) and the "
               "aiohttp load generator share the machine's cores; "
               f"{args.requests} requests per row, measured after max(50, 2 x clients) warm-up requests on the same "
               "connections; server CPU ms / request: the server process's user + system CPU over the row and its "
               "warm-up (/proc/PID/stat) divided by their requests; load avg: the 1-minute load average when the "
               "row started (other jobs on the same cores)"],
        results=res)


if __name__ == "__main__":
    main()
