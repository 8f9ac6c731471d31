"""Suite ``speed``: the throughput benchmarks docs/BENCHMARKS.md quotes, at a size that finishes in minutes.

Runs three scripts of ``benchmarks/`` (a clone's folder; the suite says so when it is absent), each in its own
process with a small budget, and gathers their JSON into ``results.json`` / ``report.md`` / ``report.html``:

- ``training``: ``train_throughput.py`` (our MMoE / PLE training samples/s, sparse and dense optimiser, against
  torch-rechub's MMOE / PLE when ``benchmarks/.env`` has it: ``bash benchmarks/setup_peers.sh``);
- ``sampling``: ``graph_sampling.py`` on a synthetic power-law graph (our uniform, target-aware and metapath
  samplers against a plain torch sampler, and PyG's when ``benchmarks/.env-graph`` has it);
- ``simulator``: ``simulate_throughput.py`` (events/s and peak memory of ``unisr simulate``).

A peer that is not installed is skipped with the reason the script gives; a benchmark whose script fails is
reported as failed with its last output lines, and the suite goes on. ``--models training,simulator`` picks a
subset; ``--set speed.scale=N`` multiplies the work of every benchmark (default 1: about 2 minutes on 2 cores);
``--set speed.preset=tiny`` simulates the tiny preset instead of small. ``--seeds`` is ignored (one run each).

Shapes:
    (no tensors) benchmark scripts -> {benchmark: {status, reason, command, seconds, result}}
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from unisr.bench.registry import SuiteError, suite
from unisr.bench.report import Report, ReportTable

BENCHMARKS = ("training", "sampling", "simulator")
SCRIPTS_DIR = Path(__file__).resolve().parents[3] / "benchmarks"


def _options(sets: list[str]) -> dict:
    opts = {"scale": 1.0, "preset": "small", "timeout": 900}
    for s in sets:
        key, _, value = s.partition("=")
        if not key.startswith("speed."):
            raise SuiteError(f"--set {s}: the speed suite takes speed.scale, speed.preset, speed.timeout")
        name = key[len("speed."):]
        if name not in opts:
            raise SuiteError(f"--set {s}: unknown key; known: speed.scale, speed.preset, speed.timeout")
        try:
            opts[name] = type(opts[name])(value)
        except ValueError:
            raise SuiteError(f"--set {s}: expected a {type(opts[name]).__name__}") from None
    if opts["scale"] <= 0:
        raise SuiteError(f"--set speed.scale={opts['scale']}: must be > 0")
    if opts["preset"] not in ("tiny", "small", "medium", "large"):
        raise SuiteError(f"--set speed.preset={opts['preset']}: expected tiny, small, medium or large")
    return opts


def _python(env: str) -> tuple[str, str | None]:
    """The interpreter of a peer environment if it exists, else ours with the reason the peer is absent."""
    exe = SCRIPTS_DIR / env / "bin" / "python"
    if exe.exists():
        return str(exe), None
    return sys.executable, f"benchmarks/{env} not set up"


def commands(out: Path, opts: dict) -> dict[str, tuple[list[str], Path | None, str | None]]:
    """benchmark -> (argv, JSON file it writes (None: JSON on stdout), why its peer is absent)."""
    k = opts["scale"]
    train_py, train_why = _python(".env")
    graph_py, graph_why = _python(".env-graph")
    return {
        "training": ([train_py, str(SCRIPTS_DIR / "train_throughput.py"), "--batch-sizes", "1024",
                      "--reps", str(max(2, round(5 * k))), "--samples-per-rep", str(round(16384 * k)),
                      "--warmup", "2", "--threads", "2", "--roofline-n", "1024", "--dense-part-batch", "8192",
                      "--out", str(out / "train_throughput.json")], out / "train_throughput.json", train_why),
        "sampling": ([graph_py, str(SCRIPTS_DIR / "graph_sampling.py"), "--users", str(round(100_000 * k)),
                      "--items", str(round(200_000 * k)), "--edges", str(round(2_000_000 * k)), "--batch", "4096",
                      "--seconds", str(round(1.0 * k, 2)), "--rounds", "3", "--out", str(out / "graph_sampling.json"),
                      "--md", str(out / "graph_sampling.md")], out / "graph_sampling.json", graph_why),
        "simulator": ([sys.executable, str(SCRIPTS_DIR / "simulate_throughput.py"), "--preset", opts["preset"]],
                      None, None),
    }


def run_one(argv: list[str], json_file: Path | None, timeout: float, cwd: Path) -> dict:
    """Run one benchmark script; {status: ok | failed, seconds, result (its JSON) or reason}."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "reason": f"timed out after {timeout:.0f} s", "seconds": timeout}
    secs = round(time.perf_counter() - t0, 1)
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-5:]
        return {"status": "failed", "reason": f"exit {p.returncode}: " + " | ".join(tail), "seconds": secs}
    try:
        if json_file is not None:
            result = json.loads(json_file.read_text())
        else:  # the script prints one JSON object last
            text = p.stdout
            result = json.loads(text[text.index("{"):])
    except (OSError, ValueError) as e:
        return {"status": "failed", "reason": f"no JSON result ({e})", "seconds": secs}
    return {"status": "ok", "seconds": secs, "result": result}


# ------------------------------------------------------------------------------------------- tables
def training_table(r: dict) -> ReportTable:
    res = r["result"]
    ratios = {(q["ours"], q["model"], q["batch"]): q["ratio_median_of_rounds"] for q in res.get("ratios", [])}
    rows = []
    for c in res["cases"]:
        if not c.get("median_samples_per_s") or c["group"] == "matmul":
            continue
        parts = c["case"].split()
        key = (parts[0], parts[1], int(parts[2][1:])) if len(parts) == 3 and parts[2].startswith("b") else None
        ratio = ratios.get(key) if key else None
        rows.append([c["case"], f"{c['median_samples_per_s']:,.0f}", f"{c['median_step_ms']:.2f}",
                     "-" if ratio is None else f"{ratio:.2f}x"])
    peer = res.get("torch_rechub") or f"skipped: {res.get('torch_rechub_error') or 'not installed'}"
    return ReportTable("training throughput (samples/s, median of rounds)",
                       ["case", "samples/s", "step ms", "ours / torch-rechub"], rows,
                       f"torch-rechub: {peer}")


def sampling_table(r: dict) -> ReportTable:
    res = r["result"]
    rows = [[name, f"{c['seeds_per_s']:,}", f"{c['neighbours_per_s'] / 1e6:.2f}M",
             "-" if c.get("ratio_vs_pyg") is None else f"{c['ratio_vs_pyg']:.2f}x"]
            for name, c in res["cases"].items()]
    peer = res.get("peer", {})
    note = ("PyG: " + (peer.get("torch_geometric", "available") if peer.get("available")
                       else f"skipped: {peer.get('why_not')}") + f"; graph {json.dumps(res.get('graph', {}))}")
    return ReportTable("graph sampling throughput", ["case", "seeds/s", "neighbours/s", "vs PyG"], rows, note)


def simulator_table(r: dict) -> ReportTable:
    res = r["result"]
    return ReportTable(f"simulator throughput ({res['preset']} preset)",
                       ["events", "events/s", "seconds", "peak RSS GiB", "peak PSS (tree) GiB"],
                       [[f"{res['events']:,}", f"{res['events_per_second']:,}", str(res["seconds_in_simulate"]),
                         str(res["peak_rss_child_gib"]), str(res["peak_pss_process_tree_gib"])]])


TABLES: dict[str, Callable[[dict], ReportTable]] = {
    "training": training_table, "sampling": sampling_table, "simulator": simulator_table}


@suite("speed")
def speed(out: Path, data: Path | None, seeds: int, sets: list[str], models: list[str] | None,
          console: Console, runner: Callable[..., dict] = run_one) -> dict:
    """The training, sampling and simulator throughput benchmarks, minutes-size, with peers where installed."""
    out = Path(out)
    opts = _options(sets)
    chosen = models or list(BENCHMARKS)
    bad = [m for m in chosen if m not in BENCHMARKS]
    if bad:
        raise SuiteError(f"--models {','.join(bad)}: the speed suite runs {', '.join(BENCHMARKS)}")
    if not SCRIPTS_DIR.is_dir():
        raise SuiteError(f"{SCRIPTS_DIR}: missing; the speed suite runs the scripts of a clone's benchmarks/ folder")
    out.mkdir(parents=True, exist_ok=True)
    cmds = commands(out, opts)
    results: dict = {"suite": "speed", "options": opts, "benchmarks": {}}
    tables: list[ReportTable] = []
    for name in chosen:
        argv, json_file, peer_why = cmds[name]
        console.print(f"speed: {name}: {' '.join(argv)}")
        r = runner(argv, json_file, opts["timeout"], SCRIPTS_DIR.parent)
        r["command"] = " ".join(argv)
        if peer_why:
            r["peer_skipped"] = peer_why
        results["benchmarks"][name] = r
        if r["status"] == "ok":
            try:
                tables.append(TABLES[name](r))
            except (KeyError, TypeError, ValueError) as e:
                r["status"], r["reason"] = "failed", f"unexpected result format ({type(e).__name__}: {e})"
        console.print(f"speed: {name}: {r['status']} in {r['seconds']} s"
                      + (f" ({r['reason']})" if r.get("reason") else ""))
    status = ReportTable("benchmarks", ["benchmark", "status", "seconds", "note"],
                         [[n, r["status"], str(r["seconds"]), r.get("reason") or r.get("peer_skipped") or ""]
                          for n, r in results["benchmarks"].items()])
    Report("speed: throughput benchmarks (minutes-size)",
           "The benchmarks of docs/BENCHMARKS.md at a small size; the full-size figures come from the scripts "
           "in benchmarks/ (README there). Ratios against a peer appear where the peer is installed.",
           [status, *tables]).write(out, results)
    for t in [status, *tables]:
        console.print(t.markdown())
    return results
