"""``make demo``: from nothing to a per-scenario results table in one command.

With the simulator available: simulate the small marketplace, train the multi-scenario models on it,
evaluate every scenario and write ``runs/demo/report.html`` + ``runs/demo/results.json``; then train a DSSM
matching run, serve it with the best ranking run (``unisr serve`` on 127.0.0.1, a free port) and answer one
``/v1/rank`` and one ``/v1/retrieve`` request (``--no-serve`` skips this). Without the simulator, run the
MovieLens-1M suite on ``../shared/data`` (one seed).

Shapes:
    (no tensors) nothing -> runs/demo/report.html, results.json
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from rich.console import Console

from unisr.bench.matrix import Override, run_matrix
from unisr.bench.plots import bar_plot
from unisr.bench.registry import SUITES, SuiteError, load_builtin_suites
from unisr.bench.report import Report, ReportTable

# the demo's matrix: five multi-scenario baselines, one seed, a short budget
DEMO_MODELS = ["dnn", "shared_bottom", "mmoe", "ple", "star"]
DEMO_SETS = (Override("train.progress", False), Override("train.epochs", 8), Override("train.patience", 2),
             Override("data.batch_size", 4096))


def simulator_available() -> bool:
    return importlib.util.find_spec("unisr.simulate.api") is not None


def demo_simulated(out: Path, console: Console, preset: str = "small") -> dict:
    from unisr.simulate.api import simulate

    data = out / f"sim-{preset}"
    if not (data / "dataset.yaml").exists():
        console.print(f"simulating the [bold]{preset}[/bold] marketplace (data version 1) -> {data}")
        simulate(preset, data, seed=0, overrides={"version": 1})  # benchmarks/results/demo.json was made on v1
    runs = run_matrix(DEMO_MODELS, data, out, 1, DEMO_SETS, console)
    models = [r["model"] for r in runs]
    first = runs[0]

    def cell(m: dict, key: str = "auc") -> str:
        v = m.get(key)
        return "-" if v is None or v != v else f"{v:.4f}"

    def pooled(r: dict, names: list[str], key: str = "auc") -> str:
        """Impression-weighted mean of per-leaf values (leaves with both classes)."""
        pairs = [(r["scenarios"][n].get(key), r["scenarios"][n]["n"]) for n in names]
        pairs = [(v, n) for v, n in pairs if v is not None and v == v]
        return f"{sum(v * n for v, n in pairs) / sum(n for _, n in pairs):.4f}" if pairs else "-"

    scen = list(first["scenarios"])
    share = [s for s in scen if s.startswith("share/")]
    main = [s for s in scen if s not in share]
    header = ["scenario", "test events", *models, "oracle"]
    rows = [["overall", f"{first['overall']['n']:,}", *[cell(r["overall"]) for r in runs],
             cell(first["overall"], "oracle_auc")]]
    rows += [[s, f"{first['scenarios'][s]['n']:,}", *[cell(r["scenarios"][s]) for r in runs],
              cell(first["scenarios"][s], "oracle_auc")] for s in main]
    if share:
        rows.append([f"share: {len(share)} leaves (weighted mean AUC)",
                     f"{sum(first['scenarios'][s]['n'] for s in share):,}",
                     *[pooled(r, share) for r in runs], pooled(first, share, "oracle_auc")])
    table = ReportTable(f"test AUC on the simulated {preset} marketplace (oracle = AUC of the true p_click)",
                        header, rows)
    leaves = ReportTable("every share leaf", ["leaf", "test events", *models, "oracle"],
                         [[s, f"{first['scenarios'][s]['n']:,}", *[cell(r["scenarios"][s]) for r in runs],
                           cell(first["scenarios"][s], "oracle_auc")] for s in share])
    fig = bar_plot(out / "auc.png", ["overall", *main],
                   {**{r["model"]: [(r["overall"]["auc"], 0.0)] + [(r["scenarios"][s]["auc"], 0.0) for s in main]
                       for r in runs},
                    "oracle": [(first["overall"].get("oracle_auc", float("nan")), 0.0)]
                    + [(first["scenarios"][s].get("oracle_auc", float("nan")), 0.0) for s in main]},
                   "test AUC", "per-scenario AUC", ylim=(0.45, 1.0))
    report = Report("unisr demo", f"Models trained on the simulated {preset} marketplace (time split: 14 days "
                    "background, 7 train, 1 valid, 2 test); the oracle is the AUC of the simulator's true click "
                    "probabilities, the ceiling.", [table, leaves], [("AUC per scenario", fig)])
    results = {"demo": "simulated", "preset": preset, "runs": runs, "table": {"header": header, "rows": rows}}
    report.write(out, results)
    console.print(table.markdown())
    return results


def serve_demo(out: Path, data: Path, results: dict, console: Console) -> dict:
    """Train a DSSM matching run, serve it beside the demo's best ranking run, and answer one rank and one
    retrieve request over HTTP; the requests and answers go to ``results['serving']``."""
    import json
    import socket
    import subprocess
    import time
    import urllib.request

    import polars as pl

    from unisr.train.run import train_run

    best = max(results["runs"], key=lambda r: r["overall"]["auc"])
    rank_run = out / "runs" / best["model"] / "seed0"
    match_run = out / "runs" / "dssm" / "seed0"
    if not (match_run / "metrics.json").exists():
        console.print("training a [bold]dssm[/bold] matching run for /v1/retrieve")
        train_run("dssm", data, match_run, sets=[s.key + "=" + str(s.value) for s in DEMO_SETS])
    from unisr.data.reader import table_files

    ev = pl.read_parquet(table_files(data, "events")[0], columns=["user_id", "item_id"], n_rows=50_000)
    names = list(results["runs"][0]["scenarios"])
    feed = "feed_main" if "feed_main" in names else names[0]
    user = int(ev["user_id"][0])
    items = [int(i) for i in ev["item_id"].unique(maintain_order=True)[:5]]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "unisr.cli.main", "serve", "--run", str(rank_run), "--run", str(match_run),
           "--port", str(port), "--log-level", "warning"]
    console.print(f"serving {best['model']} + dssm: {' '.join(cmd[2:])}")
    server = subprocess.Popen(cmd)
    base = f"http://127.0.0.1:{port}"

    def post(path: str, body: dict) -> dict:
        req = urllib.request.Request(base + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                    health = json.loads(r.read())
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(f"unisr serve exited with {server.returncode}") from None
                time.sleep(0.5)
        else:
            raise RuntimeError("unisr serve did not answer /healthz within 300 s")
        rank_req = {"scenario": feed, "user_id": user, "query": None, "item_ids": items}
        retr_req = {"scenario": feed, "user_id": user, "query": None, "trigger_item_id": None, "k": 5}
        rank, retr = post("/v1/rank", rank_req), post("/v1/retrieve", retr_req)
    finally:
        server.terminate()
        server.wait(timeout=30)
    console.print(f"POST /v1/rank {json.dumps(rank_req)}\n  -> {json.dumps(rank)}")
    console.print(f"POST /v1/retrieve {json.dumps(retr_req)}\n  -> {json.dumps(retr)}")
    return {"healthz": health, "rank": {"request": rank_req, "response": rank},
            "retrieve": {"request": retr_req, "response": retr}}


def publish(results: dict, path: Path, argv: list[str], seconds: float) -> None:
    """The demo's per-scenario table as a ``unisr-benchmark/1`` result file (``bench/page.py`` renders it)."""
    import json
    import os
    import platform
    from datetime import UTC, datetime

    import torch

    runs = results["runs"]
    best = max(runs, key=lambda r: r["overall"]["auc"])
    oracle = runs[0]["overall"].get("oracle_auc", float("nan"))
    out = {"format": "unisr-benchmark/1", "benchmark": "demo",
           "title": f"demo: multi-scenario baselines on the simulated {results['preset']} marketplace",
           "figure": f"{best['model']} {best['overall']['auc']:.4f} overall test AUC (oracle {oracle:.4f})",
           "goal": "one command from nothing to a per-scenario table (`make demo`)",
           "command": " ".join([".venv/bin/python -m unisr.bench.demo", *argv]),
           "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": {"cpu": platform.processor() or platform.machine(), "nproc": os.cpu_count(),
                       "threads": torch.get_num_threads(), "loadavg": os.getloadavg(),
                       "torch": torch.__version__, "wall_seconds": round(seconds)},
           "tables": [results["table"]],
           "notes": ["each model with its registered defaults and the demo's overrides "
                     f"({', '.join(f'{o.key}={o.value}' for o in DEMO_SETS)}), seed 0, the dataset's default inputs "
                     "(version 3 since issue 31: shared vocabularies, query category, trigger content, item vectors, "
                     "item age, history counters, position bias auto); no model.match"],
           "history": "docs/benchmarks/demo/HISTORY.md"}
    path.write_text(json.dumps(out, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("runs/demo"))
    ap.add_argument("--shared", type=Path, default=Path("../shared/data"))
    ap.add_argument("--preset", default="small")
    ap.add_argument("--publish", type=Path, help="also write the table as a benchmark result file "
                    "(benchmarks/results/demo.json)")
    ap.add_argument("--no-serve", action="store_true", help="skip the serving step")
    args = ap.parse_args(argv)
    console = Console()
    if simulator_available():
        import time

        t0 = time.perf_counter()
        results = demo_simulated(args.out, console, args.preset)
        if not args.no_serve:
            import json

            results["serving"] = serve_demo(args.out, args.out / f"sim-{args.preset}", results, console)
            (args.out / "results.json").write_text(json.dumps(results, indent=1, default=float))
        if args.publish is not None:
            publish(results, args.publish, sys.argv[1:] if argv is None else list(argv), time.perf_counter() - t0)
        return 0
    src = args.shared / "movielens-1m"
    if not src.exists():
        console.print(
            f"[red]The demo needs MovieLens-1M at {src}[/red] (the simulator is not part of this build yet).\n"
            "Download ml-1m from GroupLens, unzip it, and run `make demo SHARED=/path/to/folder/with/movielens-1m`."
        )
        return 2
    load_builtin_suites()
    try:
        SUITES["swr-movielens"](out=args.out, data=src, seeds=1, sets=[], models=None, console=console)
    except SuiteError as e:
        console.print(f"[red]{e}[/red]")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
