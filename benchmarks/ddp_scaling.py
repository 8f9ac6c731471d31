"""Data-parallel scaling (issue 39, item 5): training samples/s of ``unisr train --nproc W`` (torchrun, gloo,
one thread per rank) for W = 1 and 2 on the same global batch, the cost of ``train.ddp_find_unused``, and an
estimate for 8 and 64 ranks from the measured step time and each model's all-reduce volume per step.

    .venv/bin/python benchmarks/ddp_scaling.py --data /tmp/sim_small --steps 150

The estimate: a step on W ranks takes t_compute(B / W) + t_allreduce(W); t_compute is the measured 1-rank step
time scaled by the rows per rank; t_allreduce is a ring all-reduce, 2 (W - 1) / W * bytes / bandwidth +
2 (W - 1) * latency, over the dense parameters (float32) plus the sparse gradient rows of a step (each row's
values and its int64 index, as gloo's sparse all-gather sends them), with bandwidth and latency given as options
(default 10 Gbit/s and 50 us: a commodity data-centre network between hosts).

Shapes:
    (no tensors) -> benchmarks/results/ddp-scaling.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# the test AUC of a bounded run beside the simulator's ceilings (CONTRACT.md: oracle, position-free oracle)
CEILINGS = ("auc", "oracle_auc", "oracle_auc_no_position")


def train(data: Path, out: Path, model: str, world: int, batch: int, steps: int, extra: list[str]) -> dict:
    """One bounded run: 1 epoch of ``steps`` steps at global batch ``batch``; its metrics.json."""
    cmd = [sys.executable, "-m", "unisr.cli.main", "train", "--model", model, "--data", str(data), "--out", str(out),
           "--overwrite", "--set", "train.epochs=1", "--set", f"train.max_steps_per_epoch={steps}",
           "--set", f"data.batch_size={batch // world}", "--set", "train.progress=false", *extra]
    if world > 1:
        cmd += ["--nproc", str(world)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    m = json.loads((out / "metrics.json").read_text())
    keep = ("world_size", "train_samples_per_second", "train_seconds", "train_wall_seconds", "overall")
    return {**{k: m[k] for k in keep if k in m}, "wall": time.perf_counter() - t0}


def volume(run: Path, batch: int) -> tuple[int, int]:
    """(dense parameter bytes, sparse gradient bytes of one step at ``batch`` rows) of a run's model: the sparse
    bytes count one embedding row per sparse field and row of the batch (values + int64 index), an upper bound
    (rows repeated within a batch are coalesced)."""
    from unisr.pipeline.run_folder import load_run
    from unisr.train.optim import split_parameters

    _, _, net = load_run(run)
    dense, sparse = split_parameters(net)
    dense_bytes = sum(p.numel() for p in dense) * 4
    sparse_bytes = sum(batch * (p.shape[1] * 4 + 8) for p in sparse)
    return dense_bytes, sparse_bytes


def estimate(step_1: float, world: int, dense: int, sparse: int, gbit: float, latency: float) -> float:
    """Seconds per global step on ``world`` ranks (see the module docstring)."""
    bw = gbit * 1e9 / 8
    ring = 2 * (world - 1) / world * dense / bw + 2 * (world - 1) * latency
    gather = (world - 1) * sparse / world / bw  # sparse grads are all-gathered: every rank receives the others'
    return step_1 / world + ring + gather


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--models", nargs="+", default=["dnn", "star"])
    ap.add_argument("--batch", type=int, default=4096, help="global batch")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--gbit", type=float, default=10.0)
    ap.add_argument("--latency-us", type=float, default=50.0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/unisr-ddp-scaling"))
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "ddp-scaling.json")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from machine import write_result

    rows, est_rows, res = [], [], {}
    for model in args.models:
        runs = {}
        for world, extra in ((1, []), (2, []), (2, ["--set", "train.ddp_find_unused=false"])):
            key = f"{world}" + ("" if not extra else "-nofind")
            try:
                runs[key] = train(args.data, args.work / f"{model}-{key}", model, world, args.batch, args.steps, extra)
            except subprocess.CalledProcessError as e:  # e.g. find_unused=false on a scenario-routed model
                last = (e.stderr or b"").decode(errors="replace").strip().splitlines()
                runs[key] = {"error": next((ln for ln in reversed(last) if "Error" in ln), "failed")[:200]}
        base = runs["1"]["train_samples_per_second"]
        for key, m in runs.items():
            sps = m.get("train_samples_per_second")
            o = m.get("overall", {})
            rows.append([model, key.replace("-nofind", " (find_unused off)"),
                         f"{sps:,.0f}" if sps else m.get("error", ""), f"{sps / base:.2f}x" if sps else "",
                         *[f"{o[k]:.4f}" if sps and k in o else "" for k in CEILINGS]])
        dense, sparse = volume(args.work / f"{model}-1", args.batch)
        step_1 = args.batch / base
        est = {w: estimate(step_1, w, dense, sparse, args.gbit, args.latency_us * 1e-6) for w in (1, 2, 8, 64)}
        est_rows.append([model, f"{dense / 1e6:.2f}", f"{sparse / 1e6:.2f}",
                         *[f"{args.batch / est[w]:,.0f} ({est[1] / est[w]:.1f}x)" for w in (8, 64)]])
        res[model] = {"runs": runs, "dense_bytes": dense, "sparse_bytes_per_step": sparse,
                      "estimate_step_seconds": est}
    figure = "; ".join(f"{r[0]} 2 ranks {r[3]}" for r in rows if r[1] == "2")
    return write_result(
        args.out, benchmark="ddp-scaling", figure=f"{figure} of 1 rank (same global batch)", threads=1,
        script="benchmarks/ddp_scaling.py", argv=sys.argv[1:] if argv is None else argv,
        title="Data-parallel training: samples/s of 1 and 2 torchrun ranks, and an estimate for 8 and 64",
        goal="issue 39: scaling figures (1 vs 2 ranks) and a simulated estimate for 8 and 64 ranks",
        tables=[{"header": ["model", "ranks", "train samples/s", "vs 1 rank", "test AUC", "oracle AUC",
                             "position-free oracle AUC"], "rows": rows},
                {"header": ["model", "dense MB / step", "sparse MB / step (bound)", "8 ranks samples/s (vs 1)",
                            "64 ranks samples/s (vs 1)"], "rows": est_rows}],
        notes=[f"data {args.data}, global batch {args.batch}, {args.steps} steps of 1 epoch per run, gloo on CPU, "
               "1 thread per rank (OMP_NUM_THREADS=1), --nproc W = torchrun --standalone; samples/s = rows trained "
               "/ the slowest rank's training seconds (evaluation not included)",
               f"estimate: ring all-reduce at {args.gbit} Gbit/s, {args.latency_us} us per hop, over the dense "
               "parameters plus the sparse gradient rows of a step (an upper bound); compute scales as 1 / W",
               "on this machine 2 ranks share its 2 cores with nothing else only if the machine is otherwise idle "
               "(loadavg in the machine block)",
               "the test AUC is a sanity check of a 150-step run (not a model result); the observable-ceiling GBDT "
               "on small is in benchmarks/results/observable-ceiling.json"],
        results=res)


if __name__ == "__main__":
    main()
