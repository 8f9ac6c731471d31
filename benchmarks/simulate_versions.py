"""Data version 2 against version 1: simulator events/s in interleaved pairs (issue 32: ">= the v1 events/s").

    .venv/bin/python benchmarks/simulate_versions.py [--preset small] [--rounds 6] [--base-src /path/to/old/src]
        [--out benchmarks/results/simulate_versions.json]

Each round simulates the preset (seed 0) as v2 and as v1 with this checkout's code, and, with ``--base-src``
(the ``src`` folder of another checkout, e.g. ``git worktree add /tmp/base <commit>``), as v2 and v1 with
that code too; every run is its own child process, and the runs of a round follow each other, so a busy
neighbour slows the runs of a round alike and the per-round ratios are what to read (their median), not the
absolute events/s; they are taken of events per CPU second (the child's user + system time in ``simulate``,
less sensitive to other jobs than wall time) and of events per wall second. The output files are removed
after each run.

Shapes:
    (no tensors) preset -> per-run events/s -> median per-round ratios (json + stdout)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_model  # noqa: E402

HERE_SRC = Path(__file__).resolve().parents[1] / "src"
CHILD = ("import json, sys, time; from unisr.simulate import simulate; c = time.process_time(); "
         "r = simulate(sys.argv[1], sys.argv[2], seed=0, overrides={'version': int(sys.argv[3])}); "
         "print(json.dumps({'events': r.n_events, 'seconds': r.seconds, 'cpu_seconds': time.process_time() - c}))")


def run_once(src: Path, preset: str, version: int) -> dict:
    """One simulation in a child process with ``src`` first on its path: events and seconds in simulate."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(src)}
        out = subprocess.run([sys.executable, "-c", CHILD, preset, str(Path(tmp) / "d"), str(version)], env=env,
                             check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r | {"events_per_s": r["events"] / r["seconds"], "events_per_cpu_s": r["events"] / r["cpu_seconds"],
                "load": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--base-src", type=Path, default=None, help="another checkout's src/ (the 'before' code)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/simulate_versions.json"))
    a = ap.parse_args()
    codes = {"this": HERE_SRC} | ({"base": a.base_src.resolve()} if a.base_src else {})
    keys = [f"{c} v{v}" for c in codes for v in (2, 1)]
    runs: dict[str, dict[str, list[float]]] = {m: {k: [] for k in keys} for m in ("wall", "cpu")}
    loads = []
    for r in range(a.rounds):
        for v in (2, 1):
            for c, src in codes.items():
                res = run_once(src, a.preset, v)
                runs["wall"][f"{c} v{v}"].append(res["events_per_s"])
                runs["cpu"][f"{c} v{v}"].append(res["events_per_cpu_s"])
                loads.append(res["load"])
                print(f"round {r}: {c} v{v} {res['events_per_s']:,.0f} events/s, {res['events_per_cpu_s']:,.0f} "
                      f"events per CPU second (load {res['load']:.1f})", flush=True)

    def ratio(m: str, x: str, y: str) -> dict:
        q = [p / b for p, b in zip(runs[m][x], runs[m][y], strict=True)]
        return {"median": statistics.median(q), "min": min(q), "max": max(q), "per_round": q}

    pairs = [("this v2", "this v1")]
    if a.base_src:
        pairs += [("this v2", "base v1"), ("this v2", "base v2"), ("this v1", "base v1")]
    ratios = {m: {f"{x} / {y}": ratio(m, x, y) for x, y in pairs} for m in ("cpu", "wall")}

    def commit(src: Path) -> str:
        r = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no", "."],
                               capture_output=True, text=True).stdout.strip()
        return (r.stdout.strip() or "?") + (" + uncommitted changes" if dirty else "")

    machine = {"cpu": cpu_model(), "nproc": os.cpu_count(), "load_min": round(min(loads), 1),
               "load_max": round(max(loads), 1)}
    label = {"cpu": "events per CPU second", "wall": "events per wall second"}
    result = {  # the page format (unisr.bench.page), with the raw runs beside
        "format": "unisr-benchmark/1", "benchmark": a.out.stem,
        "title": "Simulator: data version 2 against version 1, events/s in interleaved rounds (issue 32)",
        "figure": "; ".join(f"{k} {v['median']:.3f}" for k, v in ratios["cpu"].items())
                  + " (median per-round ratios of events per CPU second)",
        "goal": "issue 32: v2 at >= the v1 events/s" + ("" if a.base_src else " (no --base-src: same-code ratio only)"),
        "command": "python benchmarks/simulate_versions.py " + " ".join(sys.argv[1:]), "preset": a.preset,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine,
        "tables": [{"header": ["ratio", "of", "median", "min", "max", "per round"],
                    "rows": [[k, label[m], f"{v['median']:.3f}", f"{v['min']:.3f}", f"{v['max']:.3f}",
                              " ".join(f"{q:.2f}" for q in v["per_round"])]
                             for m in ("cpu", "wall") for k, v in ratios[m].items()]},
                   {"header": ["code, version", "median events per CPU second", "median events/s (wall)"],
                    "rows": [[k, f"{statistics.median(runs['cpu'][k]):,.0f}", f"{statistics.median(runs['wall'][k]):,.0f}"]
                             for k in keys]}],
        "notes": [f"{a.preset} seed 0, {a.rounds} rounds; each round runs v2 then v1, each with this checkout's "
                  "code and (with --base-src) the base checkout's, one child process per run; load average "
                  f"{machine['load_min']}-{machine['load_max']} during the runs. The figure is the CPU-time ratio "
                  "(the child's user + system seconds in simulate: less sensitive to other jobs on the cores than "
                  "wall time); wall events/s are lower bounds on a shared box",
                  "code: " + ", ".join(f"{c} = {commit(src)}" for c, src in codes.items())],
        "code": {c: commit(src) for c, src in codes.items()},
        "raw": {"runs": runs, "ratios": ratios}}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    for m in ("cpu", "wall"):
        for k, v in ratios[m].items():
            print(f"{k} ({label[m]}): median {v['median']:.3f} (min {v['min']:.3f}, max {v['max']:.3f}) "
                  f"over {a.rounds} rounds")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
