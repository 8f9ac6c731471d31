"""The dense optimizer's implementation (issue 40, item 1): torch's fused kernel against its per-parameter loop,
timed as a whole training step (forward, backward, optimizer) on each model's real parameters and batch.

    .venv/bin/python benchmarks/optimizer_impl.py --data /tmp/sim_small [--models mmoe ple star dnn] [--steps 20]
        [--rounds 4] [--out benchmarks/results/optimizer-impl.json]

Per model: a short ``unisr train`` run (``--steps`` steps) gives the model, its config and encoders; then, in
this process (one torch thread), a real training batch from the run's pipeline (``Pipeline.open``) and the
run's objective (``train.objective.Objective``: the model's losses) and a whole training step -- zero_grad,
forward, loss, backward, the optimizer's ``step()`` -- timed in CPU time of this thread (``time.thread_time``:
other jobs on the cores delay it but add little to it), 10 steps per implementation, the two implementations
interleaved for ``--rounds`` rounds after a warm-up round; the figure is the median per-round ratio of the
step's CPU ms, loop / fused, and the optimizer's share of the step. The same model starts both
implementations from the same weights each round (the weights are restored), so the steps do the same work.

Shapes:
    (no tensors) models -> CPU ms per training step and per optimizer step, per implementation -> json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_model  # noqa: E402

IMPLS = ("for_loop", "auto")


def train(data: Path, out: Path, model: str, steps: int, optimizer: str) -> None:
    """A bounded run whose model, config and encoders the step timing reuses."""
    cmd = [sys.executable, "-m", "unisr.cli.main", "train", "--model", model, "--data", str(data), "--out", str(out),
           "--overwrite", "--set", "train.epochs=1", "--set", f"train.max_steps_per_epoch={steps}",
           "--set", "train.progress=false", "--set", "train.threads=1", "--set", f"train.optimizer={optimizer}"]
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def step_times(run: Path, data: Path, optimizer: str, rounds: int, steps: int = 10) -> dict:
    """CPU ms of a whole training step and of its optimizer step, per implementation and round."""
    import torch

    from unisr.pipeline.config import TrainConfig
    from unisr.pipeline.pipeline import Pipeline
    from unisr.pipeline.run_folder import load_run
    from unisr.train.objective import Objective
    from unisr.train.optim import OptimizerSet, split_parameters

    torch.set_num_threads(1)
    cfg, encoder, net = load_run(run)
    batch = next(iter(Pipeline.open(cfg, data, encoder).batches("train", train=True)))
    objective = Objective(net, cfg.train.losses)
    dense, _ = split_parameters(net)
    start = {k: v.clone() for k, v in net.state_dict().items()}
    out = {"tensors": len(dense), "weights": sum(p.numel() for p in dense), "rows": int(batch.scenario_id.shape[0]),
           **{impl: {"step_ms": [], "dense_ms": [], "sparse_ms": []} for impl in IMPLS}}
    for r in range(rounds + 1):  # round 0 warms up
        for impl in IMPLS:
            net.load_state_dict(start)
            opt = OptimizerSet(net, TrainConfig(optimizer=optimizer, optimizer_impl=impl))
            t = {"step": 0.0, "dense": 0.0, "sparse": 0.0}
            for _ in range(steps):
                t0 = time.thread_time()
                opt.zero_grad()
                loss, _ = objective(batch)
                loss.backward()
                for kind, o in opt.optimizers.items():  # OptimizerSet.step, each optimizer timed
                    t1 = time.thread_time()
                    o.step()
                    t[kind] += time.thread_time() - t1
                t["step"] += time.thread_time() - t0
            if r:
                for k, v in t.items():
                    out[impl][f"{k}_ms"].append(v / steps * 1e3)
    ratios = [a / b for a, b in zip(out["for_loop"]["step_ms"], out["auto"]["step_ms"], strict=True)]
    return out | {"speedup_median": statistics.median(ratios), "speedups": ratios}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--models", nargs="+", default=["mmoe", "ple", "star", "dnn"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--optimizer", default="adam")
    ap.add_argument("--work", type=Path, default=Path("/tmp/optimizer_impl"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/optimizer-impl.json"))
    a = ap.parse_args()
    loads, res = [os.getloadavg()[0]], {}
    for m in a.models:
        train(a.data, a.work / m, m, a.steps, a.optimizer)
        res[m] = step_times(a.work / m, a.data, a.optimizer, a.rounds)
        loads.append(os.getloadavg()[0])
        print(json.dumps({m: res[m]}), flush=True)
    med = statistics.median
    rows = [[m, f"{r['tensors']} / {r['weights']:,}", str(r["rows"]),
             f"{med(r['for_loop']['step_ms']):.1f} ({med(r['for_loop']['dense_ms']):.1f})",
             f"{med(r['auto']['step_ms']):.1f} ({med(r['auto']['dense_ms']):.1f})", f"{med(r['auto']['sparse_ms']):.1f}",
             f"{r['speedup_median']:.2f}x",
             " ".join(f"{q:.2f}" for q in r["speedups"])] for m, r in res.items()]
    result = {
        "format": "unisr-benchmark/1", "benchmark": a.out.stem,
        "title": "Fused vs per-parameter optimizer (issue 40, item 1): CPU ms of a whole training step",
        "figure": "; ".join(f"{m} {r['speedup_median']:.2f}x" for m, r in res.items())
                  + " (training step, per-parameter loop / fused, median per round)",
        "goal": "issue 40: fewer ops per step (fused or foreach optimizers on CPU), measured",
        "command": "python benchmarks/optimizer_impl.py " + " ".join(sys.argv[1:]),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpu": cpu_model(), "nproc": os.cpu_count(), "threads": 1,
                    "load_min": round(min(loads), 1), "load_max": round(max(loads), 1)},
        "tables": [{"header": ["model", "dense tensors / weights", "batch rows",
                               f"step ms (dense {a.optimizer} ms), per-parameter loop", "fused",
                               "sparse optimizer ms (both)", "step speed-up (median)", "per round"], "rows": rows}],
        "notes": [f"CPU time of this thread per training step (zero_grad, forward, loss, backward, optimizer step) on "
                  f"one real training batch of {a.data}, 10 steps per implementation and round, {a.rounds} rounds "
                  f"after a warm-up one, one torch thread; load average {min(loads):.1f}-{max(loads):.1f}; the sparse optimizer "
                  "(SparseAdam on the embedding tables with sparse gradients, train/optim.py) has no fused kernel and "
                  "is the same in both columns"],
        "raw": res}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
