"""TreeMS gates on a controlled toy (``unisr.bench.treems_gate_toy``): two subtrees whose click labels are
opposite functions of x, or the same function; c = h_H^s kept out of x or put into it (TreeMS's eq. 3); with
and without the inconsistency loss; gates learned or frozen at uniform. Prints one markdown row per case,
means over the seeds: test AUC (pooled, per subtree), oracle AUC, the total-variation distance between the two
subtrees' mean gates per expert layer, and the largest deviation of any leaf's gate from 1/n.

    .venv/bin/python benchmarks/treems_gate_toy.py [--seeds 0 1 2] [--steps 600]

Used for docs/models/treems.md, "Can the gates specialise?".
"""

from __future__ import annotations

import argparse
import time

import torch

from unisr.bench.treems_gate_toy import gate_toy_table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=600)
    a = ap.parse_args()
    torch.set_num_threads(1)
    t = time.perf_counter()
    rows = gate_toy_table(a.seeds, a.steps)
    print(f"seeds {a.seeds}, {a.steps} Adagrad steps of 256, lr 0.1; {time.perf_counter() - t:.0f} s\n")
    print("| case | AUC | AUC r/a | AUC r/b | oracle | gate distance r/a vs r/b, layers 1-3 | max |g - 1/n| |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        dist = " ".join(f"{d:.3f}" for d in r["subtree_distance"])
        print(f"| {r['case']} | {r['auc']:.4f} | {r['auc_a']:.4f} | {r['auc_b']:.4f} | {r['oracle_auc']:.4f} "
              f"| {dist} | {r['max_from_uniform']:.3f} |")


if __name__ == "__main__":
    main()
