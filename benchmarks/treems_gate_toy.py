"""A controlled case for TreeMS's tree-guided gates: can they specialise when the labels need it?

On the simulated marketplace the gates stay within ±0.01 of uniform (docs/models/treems.md, "Why the gates stay
uniform"). This toy separates "nothing to learn" from "cannot learn". A tree of two subtrees (``r/a``, ``r/b``)
with ``leaves`` leaves each; x ~ N(0, I); the true click logit is ``sign · scale · w·x`` with sign = +1 under
``r/a`` and, when ``flip``, -1 under ``r/b``. The model is TreeMS's scenario side and expert head, the real
modules (``TreeContext``, ``TowerExperts``, ``gated_tower_logit``, ``inconsistency_loss``), without users or
graph. With ``context_in_x=False`` the scenario reaches the prediction only through the gates, so a flip can be
fitted only if the two subtrees' gates move apart. With ``context_in_x=True`` x also carries c = h_H^s, as in
TreeMS's eq. 3, and the experts can fit the flip from c themselves.

Prints one markdown row per case, means over the seeds: test AUC (pooled, per subtree), oracle AUC, the
total-variation distance between the two subtrees' mean gates per expert layer, and the largest deviation of any
leaf's gate from 1/n. Used for docs/models/treems.md, "Can the gates specialise?":

    .venv/bin/python benchmarks/treems_gate_toy.py [--seeds 0 1 2] [--steps 600]

Shapes:
    gate_toy(...) -> GateToyResult (AUCs on a fresh test draw, gates of every leaf [S, H, n])
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unisr.evaluate.metrics import auc
from unisr.models.treems import TowerExperts, TreeContext, expert_tower, gated_tower_logit, inconsistency_loss
from unisr.nn.init import he_init_
from unisr.nn.mlp import MLP


def toy_tree(leaves: int) -> tuple[list[str], list[list[int]], Tensor]:
    """Node names, each leaf's path root -> leaf, and each leaf's subtree (0 = ``r/a``, 1 = ``r/b``)."""
    names = ["<pad>", "r", "r/a", "r/b"] + [f"r/{s}/{i}" for s in "ab" for i in range(leaves)]
    paths = [[1, 2 + s, 4 + s * leaves + i] for s in range(2) for i in range(leaves)]
    subtree = torch.arange(2).repeat_interleave(leaves)
    return names, paths, subtree


@dataclass
class GateToyResult:
    auc: float  # pooled over every leaf
    auc_subtree: tuple[float, float]  # r/a, r/b
    oracle_auc: float  # the true click probability as the score
    gates: Tensor  # [S, H, n] of every leaf after training
    subtree: Tensor  # [S]

    def subtree_distance(self) -> list[float]:
        """Per layer, the total-variation distance between the two subtrees' mean gates (0 = same, 1 = disjoint)."""
        a = self.gates[self.subtree == 0].mean(0)
        b = self.gates[self.subtree == 1].mean(0)
        return (0.5 * (a - b).abs().sum(-1)).tolist()

    def max_from_uniform(self) -> float:
        return float((self.gates - 1.0 / self.gates.shape[-1]).abs().max())


class GateToyModel(nn.Module):
    """TreeMS without users: tree context -> gates; x (optionally concat c) -> tower experts -> eq. 5 -> eq. 7.

    Shapes:
        forward(x [B, dim], scenario [B]) -> (logits [B], gates [B, H, n])
    """

    def __init__(self, names: list[str], paths: list[list[int]], dim: int, *, num_experts: int = 8,
                 expert_dim: int = 32, hidden: tuple[int, ...] = (32, 16), node_dim: int = 16, lstm_dim: int = 32,
                 context_in_x: bool = False) -> None:
        super().__init__()
        self.tree = TreeContext(names, paths, num_experts, node_dim, lstm_dim)
        self.context_in_x = context_in_x
        in_dim = dim + (self.tree.out_dim if context_in_x else 0)
        dims = expert_tower(expert_dim, self.tree.depth)
        self.experts = TowerExperts(num_experts, in_dim, dims)
        self.mlp = MLP(sum(dims), list(hidden))
        self.predict = nn.Linear(self.mlp.out_dim, 1)
        for part in (self.experts, self.mlp, self.predict):
            he_init_(part)

    def forward(self, x: Tensor, scenario: Tensor) -> tuple[Tensor, Tensor]:
        uniq, inv = torch.unique(scenario, return_inverse=True)  # the path LSTM once per leaf, as in TreeMS
        gates_s, c_s = self.tree(uniq)
        gates, c = gates_s[inv], c_s[inv]
        if self.context_in_x:
            x = torch.cat([x, c], 1)
        return gated_tower_logit(self.experts, self.mlp, self.predict, x, gates), gates


def _draw(n: int, w: Tensor, subtree: Tensor, scale: float, flip: bool, g: torch.Generator):
    s = torch.randint(len(subtree), (n,), generator=g)
    x = torch.randn(n, len(w), generator=g)
    sign = 1.0 - 2.0 * subtree[s].float() if flip else torch.ones(n)
    p = torch.sigmoid(sign * scale * (x @ w))
    y = torch.bernoulli(p, generator=g)
    return x, s, y, p


def gate_toy(*, flip: bool = True, context_in_x: bool = False, gamma: float = 0.0, freeze_gates: bool = False,
             steps: int = 600, batch_size: int = 256, dim: int = 16, leaves: int = 4, scale: float = 3.0,
             lr: float = 0.1, test_size: int = 20_000, seed: int = 0) -> GateToyResult:
    """Train the toy with Adagrad (TreeMS's optimizer and default lr) and evaluate on a fresh draw."""
    names, paths, subtree = toy_tree(leaves)
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(dim, generator=g) / dim ** 0.5
    torch.manual_seed(seed)
    model = GateToyModel(names, paths, dim, context_in_x=context_in_x)
    if freeze_gates:  # the gates stay at their zero init, i.e. uniform
        for p in model.tree.gates.parameters():
            p.requires_grad_(False)
    opt = torch.optim.Adagrad([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    for _ in range(steps):
        x, s, y, _ = _draw(batch_size, w, subtree, scale, flip, g)
        logit, gates = model(x, s)
        loss = F.binary_cross_entropy_with_logits(logit, y)
        if gamma > 0:
            loss = loss + gamma * inconsistency_loss(gates)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x, s, y, p = _draw(test_size, w, subtree, scale, flip, g)
    with torch.no_grad():
        score = model(x, s)[0].numpy()
        leaf_gates = model.tree(torch.arange(len(paths)))[0]
    yn, pn, sub = y.numpy(), p.numpy(), subtree[s].numpy()
    per = tuple(auc(yn[sub == k], score[sub == k]) for k in range(2))
    return GateToyResult(auc=auc(yn, score), auc_subtree=per, oracle_auc=auc(yn, pn), gates=leaf_gates,
                         subtree=subtree)


def gate_toy_table(seeds: list[int], steps: int = 600) -> list[dict]:
    """The grid of docs/models/treems.md: labels flip or not, c in x or not, L_aux or not, gates frozen or not."""
    cases = [
        ("flip, c not in x", dict(flip=True, context_in_x=False)),
        ("flip, c not in x, gates frozen uniform", dict(flip=True, context_in_x=False, freeze_gates=True)),
        ("flip, c not in x, γ = 0.1", dict(flip=True, context_in_x=False, gamma=0.1)),
        ("flip, c in x (TreeMS eq. 3)", dict(flip=True, context_in_x=True)),
        ("flip, c in x, gates frozen uniform", dict(flip=True, context_in_x=True, freeze_gates=True)),
        ("no flip, c not in x", dict(flip=False, context_in_x=False)),
        ("no flip, c in x", dict(flip=False, context_in_x=True)),
    ]
    rows = []
    for name, kw in cases:
        res = [gate_toy(seed=s, steps=steps, **kw) for s in seeds]
        dist = np.array([r.subtree_distance() for r in res])  # [seeds, H]
        rows.append({
            "case": name,
            "auc": float(np.mean([r.auc for r in res])),
            "auc_a": float(np.mean([r.auc_subtree[0] for r in res])),
            "auc_b": float(np.mean([r.auc_subtree[1] for r in res])),
            "oracle_auc": float(np.mean([r.oracle_auc for r in res])),
            "subtree_distance": dist.mean(0).tolist(),
            "max_from_uniform": float(np.mean([r.max_from_uniform() for r in res])),
        })
    return rows


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
