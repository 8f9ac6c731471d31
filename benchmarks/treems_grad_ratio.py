"""TreeMS: the squared gradient norm of the click BCE reaching the gate parameters (eq. 6's W_i) vs the expert
parameters, in total and per parameter, on a few small training batches (issue 33: c inside x, eq. 3).

    .venv/bin/python benchmarks/treems_grad_ratio.py RUN DATA [--trained] [--batches 2] [--size 256] [--seeds 0 1 2]

RUN gives the config and encoder; without --trained the model is freshly initialised (seed s) with c in x
(``context_in_x=True``, the paper) and without; with --trained RUN's own weights are measured. Used for
docs/models/treems.md, "Issue 33".
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from unisr.models.registry import build_model
from unisr.models.treems import gated_tower_logit
from unisr.pipeline.pipeline import Pipeline
from unisr.pipeline.run_folder import load_run


def measure(net: torch.nn.Module, batches: list) -> tuple[dict[str, float], int, int]:
    net.train()
    sq = {"gates": 0.0, "experts": 0.0}
    for b in batches:
        net.zero_grad()
        x, gates = net.expert_input(b)
        logit = gated_tower_logit(net.experts, net.mlp, net.predict, x, gates)
        F.binary_cross_entropy_with_logits(logit, b.labels["click"]).backward()
        sq["gates"] += sum(float(p.grad.norm() ** 2) for p in net.tree.gates.parameters())
        sq["experts"] += sum(float(p.grad.norm() ** 2) for p in net.experts.parameters())
    n_g = sum(p.numel() for p in net.tree.gates.parameters())
    n_e = sum(p.numel() for p in net.experts.parameters())
    return sq, n_g, n_e


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--trained", action="store_true")
    ap.add_argument("--batches", type=int, default=2)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg, enc, trained = load_run(a.run)
    pipe = Pipeline.open(cfg, a.data, enc)
    batches = []
    for i, b in enumerate(pipe.batches("train", 0, train=False, eval_batch_size=a.size)):
        if i >= a.batches:
            break
        batches.append(b)
    n = sum(len(b) for b in batches)
    if a.trained:
        sq, ng, ne = measure(trained, batches)
        print(f"trained {a.run} context_in_x={trained.context_in_x}: {n} samples; squared grad norm gates "
              f"{sq['gates']:.3e} experts {sq['experts']:.3e} ratio experts/gates {sq['experts'] / sq['gates']:.1f}; "
              f"per parameter gates {sq['gates'] / ng:.3e} experts {sq['experts'] / ne:.3e} "
              f"ratio {(sq['experts'] / ne) / (sq['gates'] / ng):.2f}")
        return
    for in_x in (True, False):
        for s in a.seeds:
            torch.manual_seed(s)
            net = build_model(cfg.model_name, {**cfg.model_params, "context_in_x": in_x}, enc.schema)
            sq, ng, ne = measure(net, batches)
            print(f"init seed {s} context_in_x={in_x}: {n} samples; squared grad norm gates {sq['gates']:.3e} "
                  f"experts {sq['experts']:.3e} ratio experts/gates {sq['experts'] / sq['gates']:.1f}; per parameter "
                  f"gates {sq['gates'] / ng:.3e} ({ng}) experts {sq['experts'] / ne:.3e} ({ne}) "
                  f"ratio {(sq['experts'] / ne) / (sq['gates'] / ng):.2f}")


if __name__ == "__main__":
    main()
