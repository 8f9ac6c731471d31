"""Data version 2 against version 1: simulator events/s in interleaved pairs (issue 32: ">= the v1 events/s").

    .venv/bin/python benchmarks/simulate_versions.py [--preset small] [--rounds 6] [--base-src /path/to/old/src]
        [--out benchmarks/results/simulate_versions.json]

Each round simulates the preset (seed 0) as v2 and as v1 with this checkout's code, and, with ``--base-src``
(the ``src`` folder of another checkout, e.g. ``git worktree add /tmp/base <commit>``), as v2 and v1 with
that code too; every run is its own child process, and the runs of a round follow each other, so a busy
neighbour slows the runs of a round alike and the per-round ratios are what to read (their median), not the
absolute events/s. The output files are removed after each run.

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
CHILD = ("import json, sys; from unisr.simulate import simulate; "
         "r = simulate(sys.argv[1], sys.argv[2], seed=0, overrides={'version': int(sys.argv[3])}); "
         "print(json.dumps({'events': r.n_events, 'seconds': r.seconds}))")


def run_once(src: Path, preset: str, version: int) -> dict:
    """One simulation in a child process with ``src`` first on its path: events and seconds in simulate."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(src)}
        out = subprocess.run([sys.executable, "-c", CHILD, preset, str(Path(tmp) / "d"), str(version)], env=env,
                             check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r | {"events_per_s": r["events"] / r["seconds"], "load": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--base-src", type=Path, default=None, help="another checkout's src/ (the 'before' code)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/simulate_versions.json"))
    a = ap.parse_args()
    codes = {"this": HERE_SRC} | ({"base": a.base_src.resolve()} if a.base_src else {})
    runs: dict[str, list[float]] = {f"{c} v{v}": [] for c in codes for v in (2, 1)}
    loads = []
    for r in range(a.rounds):
        for v in (2, 1):
            for c, src in codes.items():
                res = run_once(src, a.preset, v)
                runs[f"{c} v{v}"].append(res["events_per_s"])
                loads.append(res["load"])
                print(f"round {r}: {c} v{v} {res['events_per_s']:,.0f} events/s (load {res['load']:.1f})", flush=True)

    def ratio(x: str, y: str) -> dict:
        q = [p / b for p, b in zip(runs[x], runs[y], strict=True)]
        return {"median": statistics.median(q), "min": min(q), "max": max(q), "per_round": q}

    ratios = {"this v2 / this v1": ratio("this v2", "this v1")}
    if a.base_src:
        ratios |= {"this v2 / base v1": ratio("this v2", "base v1"), "this v2 / base v2": ratio("this v2", "base v2"),
                   "this v1 / base v1": ratio("this v1", "base v1")}
    def commit(src: Path) -> str:
        r = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no", "."],
                               capture_output=True, text=True).stdout.strip()
        return (r.stdout.strip() or "?") + (" + uncommitted changes" if dirty else "")

    machine = {"cpu": cpu_model(), "nproc": os.cpu_count(), "load_min": round(min(loads), 1),
               "load_max": round(max(loads), 1)}
    med = {k: statistics.median(v) for k, v in runs.items()}
    head = ratios.get("this v2 / base v1", ratios["this v2 / this v1"])
    result = {  # the page format (unisr.bench.page), with the raw runs beside
        "format": "unisr-benchmark/1", "benchmark": a.out.stem,
        "title": "Simulator: data version 2 against version 1, events/s in interleaved rounds (issue 32)",
        "figure": "; ".join(f"{k} {v['median']:.2f}" for k, v in ratios.items()) + " (median per-round ratios)",
        "goal": "issue 32: v2 at >= the v1 events/s" + ("" if a.base_src else " (no --base-src: same-code ratio only)"),
        "command": "python benchmarks/simulate_versions.py " + " ".join(sys.argv[1:]), "preset": a.preset,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine,
        "tables": [{"header": ["ratio", "median", "min", "max", "per round"],
                    "rows": [[k, f"{v['median']:.3f}", f"{v['min']:.3f}", f"{v['max']:.3f}",
                              " ".join(f"{q:.2f}" for q in v["per_round"])] for k, v in ratios.items()]},
                   {"header": ["code, version", "median events/s", "runs"],
                    "rows": [[k, f"{med[k]:,.0f}", " ".join(f"{x / 1000:,.0f}k" for x in v)] for k, v in runs.items()]}],
        "notes": [f"{a.preset} seed 0, {a.rounds} rounds; each round runs v2 then v1, each with this checkout's "
                  "code and (with --base-src) the base checkout's, one child process per run; load average "
                  f"{machine['load_min']}-{machine['load_max']} during the runs: the ratios within a round are "
                  "the figure, the events/s are lower bounds",
                  f"headline: {'this v2 / base v1' if a.base_src else 'this v2 / this v1'} = {head['median']:.3f}",
                  "code: " + ", ".join(f"{c} = {commit(src)}" for c, src in codes.items())],
        "code": {c: commit(src) for c, src in codes.items()},
        "raw": {"events_per_s": runs, "ratios": ratios}}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    for k, v in ratios.items():
        print(f"{k}: median {v['median']:.3f} (min {v['min']:.3f}, max {v['max']:.3f}) over {a.rounds} rounds")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
