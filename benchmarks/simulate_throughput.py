"""Simulator throughput: events/s and peak memory of ``unisr simulate`` for a preset.

    .venv/bin/python benchmarks/simulate_throughput.py --preset small [--out DIR] [--seed 0] [--workers N]

Runs the simulation in a child process and reports (1) the peak RSS of any single process of it, from
getrusage(RUSAGE_CHILDREN), and (2) the peak memory of the whole process tree (the child and its forked
chunk workers), sampled every 0.2 s from /proc as the sum of PSS (proportional set size: pages shared
copy-on-write between the workers are split between them, so the sum is the real footprint).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _tree_pss_kib(pid: int) -> int:
    """Sum of Pss over ``pid`` and its descendants (Linux /proc/<pid>/smaps_rollup)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        stack.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def _results(path: Path, r: dict) -> None:
    """The run as a row of the page's simulator table (``unisr.bench.page.update_result``)."""
    from unisr.bench.page import update_result

    header = ["preset", "events", "seconds", "events/s", "peak RSS, one process", "process tree",
              "output on disk", "processes"]
    row = [r["preset"], f"{r['events']:,}", f"{r['seconds_in_simulate']:.1f}", f"{r['events_per_second']:,}",
           f"{r['peak_rss_child_gib']:.2f} GiB", f"{r['peak_pss_process_tree_gib']:.2f} GiB (PSS)",
           f"{r['output_gib']:.2f} GiB", "-"]
    data = update_result(path, {"command": "python " + " ".join(sys.argv), "date": time.strftime("%Y-%m-%d"),
                                "machine": f"{r['cpu']}, {r['cores']} cores"}, header, [row])
    data["figure"] = ", ".join(f"{x[3]} events/s ({x[0]})" for x in data["tables"][0]["rows"])
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small", choices=["tiny", "small", "medium", "large"])
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: a temporary one, removed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--results", type=Path, default=None,
                    help="also put this run into a benchmark output file (benchmarks/results/simulator.json)")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix=f"sim-{args.preset}-"))
    code = (
        "import json, sys; from unisr.simulate import simulate; "
        f"s = simulate({args.preset!r}, {str(out)!r}, {args.seed}, workers={args.workers or None}); "
        "print(json.dumps({'events': s.n_events, 'requests': s.n_requests, 'sessions': s.n_sessions, "
        "'seconds': s.seconds}))"
    )
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    peak_tree = 0
    while proc.poll() is None:
        peak_tree = max(peak_tree, _tree_pss_kib(proc.pid))
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    stdout = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"simulation failed (exit {proc.returncode})")
    summary = json.loads(stdout.strip().splitlines()[-1])
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    result = {
        "preset": args.preset,
        "events": summary["events"],
        "seconds_in_simulate": round(summary["seconds"], 2),
        "wall_seconds_with_startup": round(wall, 2),
        "events_per_second": round(summary["events"] / summary["seconds"]),
        "peak_rss_child_gib": round(ru.ru_maxrss / 2**20, 3),
        "peak_pss_process_tree_gib": round(peak_tree / 2**20, 3),
        "output_gib": round(size / 2**30, 3),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    if args.results is not None:
        _results(args.results, result)
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
