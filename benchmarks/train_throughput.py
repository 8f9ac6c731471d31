"""Training throughput of our MMoE/PLE against torch-rechub's MMOE/PLE, plus achieved GFLOP/s vs a matmul roofline.

    bash benchmarks/setup_peers.sh                       # once: benchmarks/.env with torch-rechub + unisr
    benchmarks/.env/bin/python benchmarks/train_throughput.py [--reps 7] [--batch-sizes 4096 1024]

Both sides get identical synthetic tensors with the MovieLens-1M vocabulary sizes of the Scenario-Wise Rec
protocol (user_id 6041, movie_id 3884, gender 3, occupation 22, zip 3440, first genre 19; embedding dim 16;
one dense field, age; 3 scenarios = age groups with the MovieLens-1M event proportions) and run with
``torch.set_num_threads(2)``. Only the training step is timed: forward + loss + backward + optimizer step,
after warm-up. Every case is measured once per round and the rounds interleave all cases (the order rotates
each round), so that load from other jobs hits every case alike; the report gives medians over rounds and
the median of the per-round ratios ours/peer. The "(1-step)" column is samples/s of the median single step
over all rounds: less sensitive to a step stalled by other jobs (2 OpenMP threads on 2 busy cores).

Cases per batch size:
  ours-sparse  our model as trained by ``unisr train``: ``OptimizerSet`` = Adam on dense parameters and
               SparseAdam on the embedding table (sparse gradients), BCE-with-logits via ``Objective``.
  ours-dense   our model with ``sparse_grad=False``: one dense Adam (lr 1e-3, weight decay 1e-5) on all
               parameters, the torch-rechub trainer's default optimizer.
  rechub       torch-rechub's multi-task ``MMOE`` / ``PLE`` with ``task_types=["classification"] * 3``
               (one task per scenario; torch-rechub has no multi-domain MMOE/PLE), the sample's scenario
               column picked from the [B, 3] output, ``BCELoss`` on the probability and dense Adam
               (lr 1e-3, weight decay 1e-5), as torch-rechub's ``CTRTrainer``/``MTLTrainer`` step does
               (``model.zero_grad``, loss + ``RegularizationLoss()``, backward, ``optimizer.step``, ``loss.item``).

Roofline: a plain fp32 ``torch.matmul`` of two N x N matrices (default 4096) in every round. Achieved GFLOP/s
count the FLOPs of the dense layers only: 2 * rows * in * out for every ``nn.Linear`` call in one forward
(rows = samples that actually pass through it, so our per-scenario routing counts what it runs), times 3
for forward + backward. "dense part" runs our model with the embedding lookup replaced by a fixed input
tensor (experts, gates, routing, towers, loss, backward, dense Adam) at a large batch.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from machine import cpu_model
from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema, SparseField
from unisr.models.registry import build_model
from unisr.pipeline.config import TrainConfig
from unisr.train.objective import Objective
from unisr.train.optim import OptimizerSet

# Scenario-Wise Rec MovieLens-1M features: (name, table, vocabulary size incl. OOV/padding)
FIELDS = [("user_id", "users", 6041), ("movie_id", "items", 3884), ("gender", "users", 3),
          ("occupation", "users", 22), ("zip", "users", 3440), ("genre", "items", 19)]
EMBED_DIM = 16
# MovieLens-1M events per scenario: age {1,18}, {25}, {35,45,50,56}
SCENARIO_SHARE = [0.211, 0.395, 0.394]
LR, WEIGHT_DECAY = 1e-3, 1e-5


def schema() -> FeatureSchema:
    return FeatureSchema(
        sparse=[SparseField(n, t, v, EMBED_DIM) for n, t, v in FIELDS], dense=["user.age"], sequences=[],
        scenarios=["age_1_18", "age_25", "age_35_plus"], scenario_kinds=["recommend"] * 3,
        num_users=6040, num_items=3883)


@dataclass
class Data:
    """One synthetic batch, as our ``Batch`` and as torch-rechub's ``(x_dict, scenario, y)``."""

    batch: Batch
    x: dict[str, Tensor]
    scenario: Tensor
    y: Tensor


def make_data(batch_size: int, n: int, seed: int) -> list[Data]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        sparse = torch.stack([torch.randint(0, v, (batch_size,), generator=g) for _, _, v in FIELDS], dim=1)
        age = torch.rand(batch_size, 1, generator=g)
        scen = torch.multinomial(torch.tensor(SCENARIO_SHARE), batch_size, replacement=True, generator=g)
        y = torch.randint(0, 2, (batch_size,), generator=g).float()
        ar = torch.arange(batch_size)
        b = Batch(scenario_id=scen, sparse=sparse, dense=age, labels={"click": y}, user_index=sparse[:, 0],
                  item_index=sparse[:, 1], event_id=ar)
        x = {name: sparse[:, i].contiguous() for i, (name, _, _) in enumerate(FIELDS)}
        x["age"] = age[:, 0].contiguous()
        out.append(Data(b, x, scen, y))
    return out


# ------------------------------------------------------------------------------------------------- cases
@dataclass
class Case:
    name: str
    group: str  # "train" | "dense_part" | "matmul"
    step: Callable[[int], None]  # step(i): one timed unit of work on the i-th data item
    steps: int
    samples_per_step: int
    flops_per_step: float  # dense-layer training FLOPs (3 x forward Linear FLOPs), or matmul FLOPs
    meta: dict = field(default_factory=dict)
    times: list[float] = field(default_factory=list)  # mean seconds per step, one entry per round
    step_times: list[float] = field(default_factory=list)  # every timed step

    def run(self, start: int = 0) -> float:
        t0 = time.perf_counter()
        t = t0
        for i in range(self.steps):
            self.step(start + i)
            t1 = time.perf_counter()
            self.step_times.append(t1 - t)
            t = t1
        return (t - t0) / self.steps


def linear_forward_flops(model: nn.Module, forward: Callable[[], object]) -> float:
    """2 * rows * in * out summed over every ``nn.Linear`` call of one forward pass."""
    total = [0.0]

    def hook(mod: nn.Linear, inp: tuple[Tensor, ...], _out: Tensor) -> None:
        total[0] += 2.0 * inp[0].numel() * mod.out_features  # numel = rows * in

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Linear)]
    try:
        with torch.no_grad():
            forward()
    finally:
        for h in handles:
            h.remove()
    return total[0]


def ours_case(model_name: str, sparse_grad: bool, data: list[Data], steps: int) -> Case:
    torch.manual_seed(0)
    model = build_model(model_name, {"sparse_grad": sparse_grad}, schema())
    model.train()
    objective = Objective(model, {"click": 1.0})
    opts = OptimizerSet(model, TrainConfig(optimizer="adam", lr=LR, weight_decay=WEIGHT_DECAY))

    def step(i: int) -> None:  # the body of unisr.train.trainer.Trainer.train_epoch
        b = data[i % len(data)].batch
        opts.zero_grad()
        loss, _parts = objective(b)
        loss.backward()
        opts.step()
        float(loss.detach())

    bs = len(data[0].batch)
    flops = 3 * linear_forward_flops(model, lambda: model(data[0].batch))
    kind = "sparse" if sparse_grad else "dense"
    return Case(f"ours-{kind} {model_name} b{bs}", "train", step, steps, bs, flops,
                {"side": "ours", "model": model_name, "optimizer": kind, "batch": bs,
                 "params": sum(p.numel() for p in model.parameters()),
                 "optimizers": {k: type(o).__name__ for k, o in opts.optimizers.items()}})


def rechub_case(model_name: str, data: list[Data], steps: int) -> Case:
    from torch_rechub.basic.features import DenseFeature, SparseFeature
    from torch_rechub.basic.loss_func import RegularizationLoss
    from torch_rechub.models.multi_task import MMOE, PLE

    torch.manual_seed(0)
    # fresh Feature objects per model: a SparseFeature caches its nn.Embedding
    features = [SparseFeature(n, vocab_size=v, embed_dim=EMBED_DIM) for n, _, v in FIELDS] + [DenseFeature("age")]
    n_scen = len(SCENARIO_SHARE)
    tasks = ["classification"] * n_scen
    towers = [{"dims": [8]} for _ in range(n_scen)]
    if model_name == "mmoe":
        model = MMOE(features, tasks, n_expert=3, expert_params={"dims": [16]}, tower_params_list=towers)
    else:
        model = PLE(features, tasks, n_level=1, n_expert_specific=2, n_expert_shared=1,
                    expert_params={"dims": [16]}, tower_params_list=towers)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)  # trainer default
    criterion = nn.BCELoss()
    reg = RegularizationLoss()

    def step(i: int) -> None:  # torch-rechub trainer step; multi-domain: each sample's scenario column
        d = data[i % len(data)]
        prob = model(d.x).gather(1, d.scenario[:, None]).squeeze(1)
        loss = criterion(prob, d.y) + reg(model)
        model.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()

    bs = len(data[0].batch)
    flops = 3 * linear_forward_flops(model, lambda: model(data[0].x))
    return Case(f"rechub {model_name} b{bs}", "train", step, steps, bs, flops,
                {"side": "rechub", "model": model_name, "optimizer": "dense", "batch": bs,
                 "params": sum(p.numel() for p in model.parameters()), "optimizers": {"all": "Adam"}})


class FixedInput(nn.Module):
    """Stands in for the embedding: returns ``batch.dense`` (the precomputed [B, 97] input)."""

    def __init__(self, out_dim: int) -> None:
        super().__init__()
        self.out_dim = out_dim

    def forward(self, batch: Batch) -> Tensor:
        return batch.dense


def dense_part_case(model_name: str, batch_size: int, steps: int) -> Case:
    torch.manual_seed(0)
    model = build_model(model_name, {"sparse_grad": True}, schema())
    d_in = model.embedding.out_dim
    model.embedding = FixedInput(d_in)
    model.train()
    objective = Objective(model, {"click": 1.0})
    opts = OptimizerSet(model, TrainConfig(optimizer="adam", lr=LR, weight_decay=WEIGHT_DECAY))
    src = make_data(batch_size, 1, seed=123)[0].batch
    x = torch.randn(batch_size, d_in, requires_grad=True)  # as if from the embedding: its grad is computed
    b = copy.copy(src)
    b.dense = x

    def step(_i: int) -> None:
        opts.zero_grad()
        x.grad = None
        loss, _ = objective(b)
        loss.backward()
        opts.step()
        float(loss.detach())

    flops = 3 * linear_forward_flops(model, lambda: model(b))
    return Case(f"ours dense part {model_name} b{batch_size}", "dense_part", step, steps, batch_size, flops,
                {"side": "ours", "model": model_name, "batch": batch_size, "input_dim": d_in})


def matmul_case(m: int, k: int, n: int, steps: int, label: str) -> Case:
    a, b = torch.randn(m, k), torch.randn(k, n)
    out = torch.empty(m, n)

    def step(_i: int) -> None:
        torch.matmul(a, b, out=out)

    return Case(f"matmul {m}x{k} @ {k}x{n}", "matmul", step, steps, 0, 2.0 * m * k * n,
                {"shape": [m, k, n], "role": label})


# ----------------------------------------------------------------------------------------------- driver
def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[4096, 1024])
    ap.add_argument("--reps", type=int, default=9, help="rounds; every case runs once per round")
    ap.add_argument("--samples-per-rep", type=int, default=16384, help="timed samples per case and round")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps per case before the rounds")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--roofline-n", type=int, default=4096)
    ap.add_argument("--dense-part-batch", type=int, default=65536)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "train_throughput.json")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    t_start = time.time()
    load_start = os.getloadavg()

    peer_version, peer_error = None, None
    try:
        import torch_rechub
        from torch_rechub.models.multi_task import MMOE, PLE  # noqa: F401

        peer_version = torch_rechub.__version__
    except Exception as e:  # noqa: BLE001 - report whatever keeps the peer from importing
        peer_error = f"{type(e).__name__}: {e}"
        print(f"torch-rechub unavailable, measuring our side only ({peer_error}); "
              "run `bash benchmarks/setup_peers.sh` and use benchmarks/.env/bin/python", file=sys.stderr)

    cases: list[Case] = []
    for bs in args.batch_sizes:
        data = make_data(bs, 8, seed=bs)
        steps = max(4, args.samples_per_rep // bs)
        for model_name in ("mmoe", "ple"):
            cases.append(ours_case(model_name, True, data, steps))
            cases.append(ours_case(model_name, False, data, steps))
            if peer_error is None:
                cases.append(rechub_case(model_name, data, steps))
    for model_name in ("mmoe", "ple"):
        cases.append(dense_part_case(model_name, args.dense_part_batch, 2))
    n = args.roofline_n
    cases.append(matmul_case(n, n, n, 1, "roofline"))
    # the shape of our expert layer (3 experts fused: 97 -> 48) at the dense-part batch: its own ceiling
    cases.append(matmul_case(args.dense_part_batch, 97, 48, 4, "expert-shaped"))

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, torch-rechub "
          f"{peer_version or 'missing'}; {len(cases)} cases x {args.reps} rounds", file=sys.stderr)
    for c in cases:  # warm-up (also allocates optimizer state)
        for i in range(args.warmup if c.group != "matmul" else 1):
            c.step(i)
    loads: list[float] = []
    for r in range(args.reps):
        k = r % len(cases)
        for c in cases[k:] + cases[:k]:
            c.times.append(c.run(start=r * c.steps))
        loads.append(os.getloadavg()[0])
        print(f"round {r + 1}/{args.reps} done ({time.time() - t_start:.0f} s, load {loads[-1]:.1f})",
              file=sys.stderr)

    # ------------------------------------------------------------------------------------ results
    roof = next(c for c in cases if c.meta.get("role") == "roofline")
    roof_rounds = [roof.flops_per_step / t / 1e9 for t in roof.times]
    roof_gflops = median(roof_rounds)
    rows = []
    for c in cases:
        sps = [c.samples_per_step / t for t in c.times] if c.samples_per_step else []
        gf = [c.flops_per_step / t / 1e9 for t in c.times]
        row = {"case": c.name, "group": c.group, **c.meta, "steps_per_round": c.steps,
               "median_step_ms": median(c.times) * 1e3,
               "median_samples_per_s": median(sps) if sps else None, "samples_per_s_rounds": sps,
               "median_single_step_ms": median(c.step_times) * 1e3,
               "samples_per_s_of_median_single_step": c.samples_per_step / median(c.step_times)
               if c.samples_per_step else None,
               "dense_flops_per_step": c.flops_per_step,
               "dense_flops_per_sample": c.flops_per_step / c.samples_per_step if c.samples_per_step else None,
               "median_gflops": median(gf),
               "pct_of_roofline": 100 * median([g / rf for g, rf in zip(gf, roof_rounds, strict=True)])}
        rows.append(row)
    by_name = {r["case"]: r for r in rows}
    by_case = {c.name: c for c in cases}
    ratios = []
    for bs in args.batch_sizes:
        for model_name in ("mmoe", "ple"):
            peer = by_case.get(f"rechub {model_name} b{bs}")
            for kind in ("sparse", "dense"):
                ours = by_case[f"ours-{kind} {model_name} b{bs}"]
                if peer is None:
                    continue
                paired = [tp / to for to, tp in zip(ours.times, peer.times, strict=True)]
                ratios.append({"model": model_name, "batch": bs, "ours": f"ours-{kind}",
                               "ratio_median_of_rounds": median(paired),
                               "ratio_of_medians": by_name[ours.name]["median_samples_per_s"]
                               / by_name[peer.name]["median_samples_per_s"],
                               "ratio_rounds": paired})

    print()
    print(f"roofline: fp32 matmul {n}x{n}, {roof_gflops:.1f} GFLOP/s "
          f"(rounds: {', '.join(f'{g:.0f}' for g in roof_rounds)})")
    print()
    hdr = (f"{'case':34s} {'step ms':>9s} {'samples/s':>11s} {'(1-step)':>10s} {'kFLOP/sample':>13s} "
           f"{'GFLOP/s':>8s} {'% roof':>7s}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        sps = f"{r['median_samples_per_s']:,.0f}" if r["median_samples_per_s"] else "-"
        fps = f"{r['dense_flops_per_sample'] / 1e3:.1f}" if r["dense_flops_per_sample"] else "-"
        one = f"{r['samples_per_s_of_median_single_step']:,.0f}" if r["median_samples_per_s"] else "-"
        print(f"{r['case']:34s} {r['median_step_ms']:9.2f} {sps:>11s} {one:>10s} {fps:>13s} {r['median_gflops']:8.2f} "
              f"{r['pct_of_roofline']:6.1f}%")
    if ratios:
        print()
        print(f"{'ratio ours / torch-rechub':34s} {'median of rounds':>17s} {'of medians':>11s}")
        for q in ratios:
            print(f"{q['ours'] + ' ' + q['model'] + ' b' + str(q['batch']):34s} "
                  f"{q['ratio_median_of_rounds']:16.2f}x {q['ratio_of_medians']:10.2f}x")
    else:
        print(f"\nno ratios: torch-rechub missing ({peer_error})")

    result = {
        "benchmark": "train_throughput", "date": time.strftime("%Y-%m-%d"),
        "command": "benchmarks/.env/bin/python benchmarks/train_throughput.py " + " ".join(sys.argv[1:]),
        "machine": {"cpu": cpu_model(), "nproc": os.cpu_count(), "threads": torch.get_num_threads(),
                    "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
                    "loadavg_1min_after_each_round": loads, "python": platform.python_version()},
        "torch": torch.__version__, "torch_rechub": peer_version, "torch_rechub_error": peer_error,
        "settings": {"reps": args.reps, "samples_per_rep": args.samples_per_rep, "warmup": args.warmup,
                     "fields": FIELDS, "embed_dim": EMBED_DIM, "scenario_share": SCENARIO_SHARE,
                     "lr": LR, "weight_decay": WEIGHT_DECAY},
        "roofline": {"n": n, "median_gflops": roof_gflops, "rounds_gflops": roof_rounds},
        "cases": rows, "ratios": ratios, "wall_seconds": time.time() - t_start,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out} ({time.time() - t_start:.0f} s, load average {load_start[0]:.1f} -> "
          f"{os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
