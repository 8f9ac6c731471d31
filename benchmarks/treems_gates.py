"""TreeMS gate diagnosis of a trained run: per expert layer i, how different the n experts' outputs are
(a gate's gradient is g_k (f_k - z) · ∂L/∂z, zero when the experts agree), how much the gates differ across
leaves, and the squared gradient norm reaching the gate parameters vs the expert parameters (BCE, 5 test
batches). The forward pass repeats ``TreeMS.forward`` step by step to keep the expert outputs.

    .venv/bin/python benchmarks/treems_gates.py RUN_DIR DATA_DIR [--batches 5]

Used for docs/models/treems.md, "Why the gates stay uniform".
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from unisr.pipeline.pipeline import Pipeline
from unisr.pipeline.run_folder import load_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--batches", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg, enc, net = load_run(a.run)
    pipe = Pipeline.open(cfg, a.data, enc)
    depth = len(net.experts.dims)
    cos: list[list[float]] = [[] for _ in range(depth)]
    spread: list[list[float]] = [[] for _ in range(depth)]
    sq = {"gates": 0.0, "experts": 0.0}
    gates_s = None
    for i, b in enumerate(pipe.batches("test")):
        if i >= a.batches:
            break
        net.zero_grad()
        x, gates = net.expert_input(b)  # eq. 3's x (with or without c, ``context_in_x``) and eq. 6's gates
        f = net.experts(x)
        z = [torch.einsum("bn,bnd->bd", gates[:, k], fk) for k, fk in enumerate(f)]
        logit = net.predict(net.mlp(torch.cat(z, 1))).squeeze(1)
        F.binary_cross_entropy_with_logits(logit, b.labels["click"]).backward()
        sq["gates"] += sum(float(p.grad.norm() ** 2) for p in net.tree.gates.parameters())
        sq["experts"] += sum(float(p.grad.norm() ** 2) for p in net.experts.parameters())
        gates_s = net.tree(torch.unique(b.scenario_id))[0]  # [leaves of this batch, H, n]
        with torch.no_grad():
            for k, fk in enumerate(f):
                fn = F.normalize(fk, dim=2)
                n = fk.shape[1]
                sim = torch.einsum("bnd,bmd->bnm", fn, fn)[:, ~torch.eye(n, dtype=torch.bool)]
                cos[k].append(float(sim.mean()))
                mean = fk.mean(1, keepdim=True)
                spread[k].append(float((fk - mean).norm(dim=2).mean() / mean.norm(dim=2).mean()))
    print(f"run {a.run}")
    for k in range(depth):
        print(f"layer {k}: mean pairwise cosine of expert outputs {np.mean(cos[k]):.3f}; "
              f"expert spread |f_k - mean_k f| / |mean f| {np.mean(spread[k]):.3f}")
    g = gates_s.detach()  # [leaves of the last batch, H, n]
    print(f"gates over the last batch's {g.shape[0]} leaves: min {g.min():.4f} max {g.max():.4f}; "
          f"std across leaves per (layer, expert), mean {g.std(0).mean():.4f}")
    print(f"squared grad norm over {a.batches} test batches: gates {sq['gates']:.3e}, experts {sq['experts']:.3e}")


if __name__ == "__main__":
    main()
