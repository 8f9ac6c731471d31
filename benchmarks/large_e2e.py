"""The ``large`` preset end to end (issue 39, item 4): simulate (200M events, streamed), build the graph, train
STAR and SRJGraph for a bounded number of steps, evaluate the test window by streaming; wall time, CPU time and
peak RSS of every stage, each stage one subprocess of the real CLI.

    .venv/bin/python benchmarks/large_e2e.py --data /tmp/large_e2e/data --steps 200

Stages (each ``.venv/bin/unisr ...`` under ``/usr/bin/time -v``, one after the other):

1. ``simulate --preset P --seed 0 --set version=2 --workers W`` (skipped with ``--skip-simulate``: the data at
   ``--data`` is reused, and a measurement of it recorded by an earlier run of this script is carried over);
2. ``graph build``: the user/item/query/trigger graph of the training window into ``DATA/graph`` (the cache
   SRJGraph's sampler loads, ``graph/target_aware_hook.py``: the same ``GraphConfig`` defaults, so ``train``
   finds it built and does not rebuild it);
3. ``train --model M`` for STAR and SRJGraph: 1 epoch of ``--steps`` steps, 1 thread; the run fits the encoders,
   builds the history index / counters its inputs need, trains, evaluates the validation window (early-stopping
   decision) and the test window, all streamed;
4. ``evaluate --run RUN --split test``: the test window again, alone in a fresh process (what a re-evaluation of
   a trained run costs).

Peak RSS per process = ``/usr/bin/time``'s maximum resident set size: the largest of the stage's process and its
descendants (``getrusage(RUSAGE_CHILDREN)``; the simulator's forked workers included). The process tree's summed
RSS is sampled every 0.5 s with psutil (a lower bound of its peak). Without ``/usr/bin/time`` the stage runs under
a small Python wrapper that reads ``RUSAGE_CHILDREN`` itself (the same number).

Shapes:
    (no tensors) -> benchmarks/results/large-e2e.json (+ WORK/stages/<stage>.json, one per stage)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
GIB = 1024 ** 3
RSS_LIMIT_GIB = 6.0  # the bound on the peak RSS of any one process
TIME = "/usr/bin/time"
# a Python wrapper measuring its child (fallback without /usr/bin/time): ru_maxrss of RUSAGE_CHILDREN is the
# largest RSS of any waited-for descendant, in KiB on Linux
WRAPPER = ("import json, resource, subprocess, sys; rc = subprocess.call(sys.argv[2:]); "
           "r = resource.getrusage(resource.RUSAGE_CHILDREN); "
           "open(sys.argv[1], 'w').write(json.dumps({'maxrss_kib': r.ru_maxrss, 'user_s': r.ru_utime, "
           "'sys_s': r.ru_stime})); sys.exit(rc)")


def unisr() -> str:
    """The project's CLI beside this interpreter (``.venv/bin/unisr``), else ``python -m unisr.cli.main``."""
    exe = Path(sys.executable).with_name("unisr")
    return str(exe) if exe.exists() else ""


def cli(*args: str) -> list[str]:
    exe = unisr()
    return [exe, *args] if exe else [sys.executable, "-m", "unisr.cli.main", *args]


def parse_time_v(text: str) -> dict:
    """The numbers of GNU time's ``-v`` report: max RSS (KiB), user and system CPU seconds, exit status."""
    def num(label: str) -> float | None:
        m = re.search(rf"^\s*{re.escape(label)}: (.+)$", text, re.M)
        return float(m.group(1)) if m else None

    return {"maxrss_kib": num("Maximum resident set size (kbytes)"), "user_s": num("User time (seconds)"),
            "sys_s": num("System time (seconds)")}


def tree_rss(proc) -> tuple[int, int]:  # noqa: ANN001 - psutil.Process
    """(summed RSS, largest RSS of one process), bytes, of ``proc`` and its descendants now."""
    import psutil

    total = largest = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for p in procs:
        try:
            r = p.memory_info().rss
        except psutil.Error:
            continue
        total, largest = total + r, max(largest, r)
    return total, largest


def stop_below(proc) -> None:  # noqa: ANN001 - psutil.Process
    """Kill the descendants of ``proc`` (the measured command under ``/usr/bin/time``, which then reports)."""
    import psutil

    try:
        kids = proc.children(recursive=True)
    except psutil.Error:
        return
    for p in kids:
        try:
            p.kill()
        except psutil.Error:
            pass


def run_stage(name: str, cmd: list[str], work: Path, *, rss_cap_gib: float | None = None) -> dict:
    """Run ``cmd`` measured; its record (also written to ``WORK/stages/<name>.json``). Raises on a failed
    stage after writing the record (with its exit code and the last lines of stderr). A process of the stage
    above ``rss_cap_gib`` is killed (the machine is shared): the stage fails with ``killed_over_cap``."""
    import psutil

    stages = work / "stages"
    stages.mkdir(parents=True, exist_ok=True)
    log = stages / f"{name}.log"
    report = stages / f"{name}.rusage"
    if Path(TIME).exists():
        full = [TIME, "-v", "-o", str(report), *cmd]
    else:
        full = [sys.executable, "-c", WRAPPER, str(report), *cmd]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen(full, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        ps, peak_tree, killed = psutil.Process(proc.pid), 0, None
        timeline: list[list[float]] = []  # [seconds, largest process GiB] every 10 s: which phase peaks
        while proc.poll() is None:
            total, largest = tree_rss(ps)
            peak_tree = max(peak_tree, total)
            el = time.perf_counter() - t0
            if not timeline or el - timeline[-1][0] >= 10:
                timeline.append([round(el), round(largest / GIB, 2)])
                (stages / f"{name}.running.json").write_text(json.dumps(
                    {"stage": name, "running": True, "elapsed_s": round(el), "tree_rss_sampled_gib": round(
                        peak_tree / GIB, 3), "loadavg_start": load0, "rss_timeline": timeline}) + "\n")
            if rss_cap_gib and largest > rss_cap_gib * GIB and killed is None:
                killed = round(largest / GIB, 3)
                stop_below(ps)
            time.sleep(0.5)
    wall = time.perf_counter() - t0
    text = report.read_text() if report.exists() else ""
    use = parse_time_v(text) if Path(TIME).exists() else (json.loads(text) if text else {})
    rss = (use.get("maxrss_kib") or 0) * 1024
    rec = {"stage": name, "command": cmd, "rc": proc.returncode, "wall_s": round(wall, 1),
           "user_s": use.get("user_s"), "sys_s": use.get("sys_s"), "peak_rss_bytes": int(rss),
           "peak_rss_gib": round(rss / GIB, 3), "tree_rss_sampled_gib": round(peak_tree / GIB, 3),
           "loadavg_start": [round(x, 2) for x in load0], "loadavg_end": [round(x, 2) for x in os.getloadavg()],
           "log": str(log), "rss_timeline": timeline}
    (stages / f"{name}.running.json").unlink(missing_ok=True)
    if killed is not None:
        rec["killed_over_cap"] = {"cap_gib": rss_cap_gib, "rss_gib_at_kill": killed}
    if proc.returncode != 0:
        rec["error_tail"] = log.read_text(errors="replace").strip().splitlines()[-15:]
    (stages / f"{name}.json").write_text(json.dumps(rec, indent=1) + "\n")
    print(f"[large-e2e] {name}: rc {proc.returncode}, {wall:.1f} s, peak RSS {rss / GIB:.2f} GiB, "
          f"load {load0[0]:.2f}", file=sys.stderr, flush=True)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    return rec


def evaluate_output(log: Path) -> dict:
    """The metrics JSON ``unisr evaluate`` printed (stdout not a terminal) in a stage log, {} if none."""
    text = log.read_text(errors="replace")
    start = text.find("{") if text.startswith("{") else text.find("\n{") + 1
    if start <= 0 and not text.startswith("{"):
        return {}
    try:
        return json.JSONDecoder().raw_decode(text[start:])[0]
    except ValueError:
        return {}


def count_events(data: Path) -> dict:
    """Rows and row groups of ``DATA``'s events table (Parquet footers only), and its size on disk."""
    import pyarrow.parquet as pq

    from unisr.data.reader import table_files

    files = table_files(data, "events")
    rows = groups = 0
    for f in files:
        md = pq.ParquetFile(f).metadata
        rows, groups = rows + md.num_rows, groups + md.num_row_groups
    size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file() and "graph" not in p.parts)
    return {"events": rows, "row_groups": groups, "event_files": len(files), "data_gib": round(size / GIB, 2)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/tmp/large_e2e/data"), help="dataset folder (simulated "
                    "into, or reused with --skip-simulate)")
    ap.add_argument("--preset", default="large")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="simulator processes")
    ap.add_argument("--steps", type=int, default=200, help="training steps (1 epoch) per model")
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--models", nargs="+", default=["star", "srjgraph"])
    ap.add_argument("--skip-simulate", action="store_true", help="reuse the dataset at --data")
    ap.add_argument("--skip-evaluate", action="store_true", help="no separate `unisr evaluate` stage")
    ap.add_argument("--stages", nargs="+", default=None, help="run only these stages (simulate, graph, "
                    "train-<model>, evaluate-<model>); the others' records of an earlier run are reported")
    ap.add_argument("--eval-max-rows", nargs="*", default=[], metavar="MODEL=N", help="bound that model's "
                    "validation and test streams to their first N rows (data.eval_max_rows; the separate evaluate "
                    "stage reads the run's config, so it is bounded too); default: the whole windows")
    ap.add_argument("--model-sets", nargs="*", default=[], metavar="MODEL:KEY=VALUE", help="an extra --set for "
                    "one model's train run")
    ap.add_argument("--carry", nargs="*", default=[], metavar="STAGE", help="also report these stage records of "
                    "an earlier run (WORK/stages/STAGE.json), e.g. a copy of a failed attempt")
    ap.add_argument("--rss-cap-gib", type=float, default=9.0, help="kill a stage whose process passes this RSS "
                    "(a shared machine; the bound the run checks is 6 GiB)")
    ap.add_argument("--sets", nargs="*", default=[], help="extra --set key=value for every train run")
    ap.add_argument("--work", type=Path, default=None, help="run folders and stage logs (default: DATA/../e2e)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "large-e2e.json")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from machine import write_result

    data = args.data.resolve()
    work = (args.work or data.parent / "e2e").resolve()
    work.mkdir(parents=True, exist_ok=True)
    wanted = set(args.stages) if args.stages else None

    def want(name: str) -> bool:
        return wanted is None or name in wanted

    plan: list[tuple[str, list[str]]] = []
    if not args.skip_simulate:
        plan.append(("simulate", cli("simulate", "--preset", args.preset, "--seed", str(args.seed), "--set",
                                     "version=2", "--workers", str(args.workers), "--out", str(data), "--quiet")))
    if "srjgraph" in args.models or any(m in args.models for m in ("bomgraph", "ngcf_ctr")):
        plan.append(("graph", cli("graph", "build", "--data", str(data), "--out", str(data / "graph"))))
    sets = ["train.epochs=1", f"train.max_steps_per_epoch={args.steps}", "train.threads=1",
            "train.progress=false", "train.checkpoint_every=0", f"data.batch_size={args.batch}", *args.sets]
    bound = dict(x.split("=", 1) for x in args.eval_max_rows)
    for m in args.models:
        run = work / f"run-{m}"
        own = [*sets, *([f"data.eval_max_rows={int(bound[m])}"] if m in bound else []),
               *[x.split(":", 1)[1] for x in args.model_sets if x.split(":", 1)[0] == m]]
        plan.append((f"train-{m}", cli("train", "--model", m, "--data", str(data), "--out", str(run),
                                       "--overwrite", *[x for s in own for x in ("--set", s)])))
        if not args.skip_evaluate:
            plan.append((f"evaluate-{m}", cli("evaluate", "--run", str(run), "--data", str(data),
                                               "--split", "test")))

    records: dict[str, dict] = {}
    for name, cmd in plan:
        if not want(name):
            old = work / "stages" / f"{name}.json"
            if old.exists():
                records[name] = {**json.loads(old.read_text()), "carried_over": True}
            continue
        if name == "simulate" and data.exists():
            shutil.rmtree(data)
        try:
            records[name] = run_stage(name, cmd, work, rss_cap_gib=args.rss_cap_gib)
        except subprocess.CalledProcessError:
            records[name] = json.loads((work / "stages" / f"{name}.json").read_text())
            break
    if args.skip_simulate and "simulate" not in records and (work / "stages" / "simulate.json").exists():
        records = {"simulate": {**json.loads((work / "stages" / "simulate.json").read_text()),
                                "carried_over": True}, **records}

    for name in args.carry:
        old = work / "stages" / f"{name}.json"
        if old.exists() and name not in records:
            records[name] = {**json.loads(old.read_text()), "stage": name, "carried_over": True}
    events = count_events(data) if (data / "dataset.yaml").exists() else {}
    for name, rec in records.items():  # rows each stage handled, from the files it wrote
        if name == "simulate":
            rec["rows"] = events.get("events")
        elif name == "graph" and (data / "graph" / "manifest.json").exists():
            man = json.loads((data / "graph" / "manifest.json").read_text())
            rec["rows"] = man.get("num_edges")
            rec["graph_bytes"] = man.get("bytes")
            rec["build_seconds"] = man.get("meta", {}).get("build_seconds")
            rec["clicks"] = man.get("meta", {}).get("num_clicks")
        elif name.startswith(("train-", "evaluate-")):
            model = name.split("-")[1]
            mfile = work / f"run-{model}" / "metrics.json"
            if name.startswith("train-") and mfile.exists() and rec["rc"] == 0:
                met = json.loads(mfile.read_text())
                sps, sec = met.get("train_samples_per_second"), met.get("train_seconds")
                rec["train_rows"] = round(sps * sec) if sps and sec else None
                rec["train_samples_per_second"] = sps
                rec["train_seconds"] = sec
                rec["split_rows"] = {k: v.get("used") for k, v in met.get("rows", {}).items()}
                rec["test_auc"] = met.get("overall", {}).get("auc")
                rec["test_n"] = met.get("overall", {}).get("n")
                rec["rows"] = rec["test_n"]
            elif name.startswith("evaluate-") and rec["rc"] == 0:
                met = evaluate_output(Path(rec["log"]))  # `unisr evaluate` prints its metrics as JSON
                rec["test_auc"] = met.get("overall", {}).get("auc")
                rec["rows"] = rec["test_n"] = met.get("overall", {}).get("n")

    def fmt_rows(rec: dict) -> str:
        r = rec.get("rows")
        return f"{r:,}" if isinstance(r, int) else ""

    what = {"simulate": "events written", "graph": "edges"}
    def status(rec: dict) -> str:
        if rec.get("status_note"):  # a hand-written note on an attempt (e.g. stopped over the bound)
            return rec["status_note"]
        if rec.get("killed_over_cap"):
            return f"killed at {rec['killed_over_cap']['rss_gib_at_kill']:.1f} GiB (cap)"
        return "ok" if rec["rc"] == 0 else f"exit {rec['rc']}"

    def label(name: str, rec: dict) -> str:
        if not name.startswith(("train-", "evaluate-")):
            return name
        v2 = any("data.inputs.version=2" in str(x) for x in rec.get("command", []))
        return f"{name.split('-')[0]}-{name.split('-')[1]} (inputs v{2 if v2 else 3})"

    table = [[label(name, r), f"{r['wall_s']:.0f}", f"{(r['user_s'] or 0) + (r['sys_s'] or 0):.0f}", f"{r['peak_rss_gib']:.2f}",
              f"{r['tree_rss_sampled_gib']:.2f}", fmt_rows(r), what.get(name, "test rows scored"),
              f"{r['loadavg_start'][0]:.2f}", status(r)] for name, r in records.items()]
    ok = [r for r in records.values() if r["rc"] == 0]
    worst = max(ok, key=lambda r: r["peak_rss_bytes"]) if ok else None
    failed = [label(n, r) for n, r in records.items() if r["rc"] != 0]
    # only numbers the table shows (the page test checks that a figure's numbers are in its file's tables)
    figure = (f"{events.get('events', 0):,} events; completed stages: largest peak RSS of a process "
              f"{worst['peak_rss_gib']:.2f} GiB ({label(worst['stage'], worst)}; bound {RSS_LIMIT_GIB:.0f} GiB)"
              if worst else "no stage completed")
    figure += f"; over the bound or failed: {', '.join(failed)}" if failed else ""
    return write_result(
        args.out, benchmark="large-e2e", figure=figure, threads=1, script="benchmarks/large_e2e.py",
        argv=sys.argv[1:] if argv is None else argv,
        title=f"The {args.preset} preset end to end: simulate, graph, train STAR and SRJGraph, evaluate (time, RSS)",
        goal=f"issue 39 item 4: every stage streamed, peak RSS per process < {RSS_LIMIT_GIB:.0f} GiB",
        tables=[{"header": ["stage", "wall s", "CPU s", "peak RSS per process GiB", "process tree GiB (sampled)",
                            "rows", "rows are", "load avg at start", "status"], "rows": table}],
        notes=[f"data {data} (preset {args.preset}, seed {args.seed}, data version 2): "
               + (f"{events['events']:,} events in {events['row_groups']} row groups, {events['event_files']} "
                  f"files, {events['data_gib']} GiB on disk" if events else "missing"),
               f"train: 1 epoch of {args.steps} steps at batch {args.batch}, 1 thread (train.threads=1, "
               "OMP_NUM_THREADS=1), no checkpoints; the train stage includes fitting the encoders, the history "
               "index and counters of the inputs, the streamed validation pass and the streamed test pass",
               "peak RSS per process: /usr/bin/time -v maximum resident set size (the largest process of the "
               "stage, the simulator's forked workers included); process tree: the summed RSS sampled every 0.5 s",
               "the graph is built by `unisr graph build` into DATA/graph, the cache SRJGraph's sampler loads "
               "(so train-srjgraph does not rebuild it)",
               "a shared 2-core machine: wall times move with the other jobs' load (load average per stage)",
               *([f"validation and test streams bounded to their first rows (data.eval_max_rows): {bound}"]
                 if bound else ["validation and test: the whole windows, streamed"]),
               *([f"per-model overrides: {args.model_sets}"] if args.model_sets else [])],
        stages=records, data=events)


if __name__ == "__main__":
    main()
