"""Is the deep models' gap to the observable ceiling in their inputs or in their function class (issue 31)? The
hand-made features of ``observable_ceiling.py`` given to three learners on the same rows: its LightGBM, a logistic
regression and a small MLP (PyTorch, Adam, early-stopped on valid AUC). If a linear model on those features reaches
the GBDT, what the deep models miss is a representation of the columns, not capacity.

    .venv/bin/python benchmarks/ceiling_learners.py --data /tmp/sim_small [--scenarios search_text search_similar feed_main]

Features are transformed for the two neural / linear learners only: ``log1p`` of every non-negative column whose
training maximum exceeds 20 (counts), then standardised with the training split's mean and deviation (``prepare``);
missing values are 0. Test AUC without position, one seed.

Shapes:
    (no tensors) dataset folder -> per scenario [rows, features] -> {learner: test AUC} -> benchmarks/results/ceiling-learners.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import observable_ceiling as oc  # noqa: E402

HEAVY = 20.0  # a non-negative column whose training maximum exceeds this is a count: log1p before scaling
MLP_HIDDEN = (256, 128, 64)  # the DNN's tower (models/dnn.py defaults)
MLP_EPOCHS, MLP_BATCH, MLP_LR = 30, 1024, 1e-3


def prepare(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """log1p of the count columns, then standardise on ``train``; NaN -> 0 first. Returns [train, *others].

    Shapes:
        train [N, F], others [M, F] -> same shapes, float32"""
    mats = [np.nan_to_num(m.astype(np.float64)) for m in (train, *others)]
    heavy = (mats[0].min(0) >= 0) & (mats[0].max(0) > HEAVY)
    mats = [np.where(heavy, np.log1p(np.clip(m, 0, None)), m) for m in mats]
    mu, sd = mats[0].mean(0), mats[0].std(0) + 1e-6
    return [((m - mu) / sd).astype(np.float32) for m in mats]


def fit_logreg(x: list[np.ndarray], y: list[np.ndarray]) -> np.ndarray:
    """scikit-learn's logistic regression (L2, C = 1) on train; test scores."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=3000).fit(x[0], y[0]).decision_function(x[2])


def fit_mlp(x: list[np.ndarray], y: list[np.ndarray], seed: int) -> tuple[np.ndarray, int]:
    """An MLP (``MLP_HIDDEN``, ReLU) with BCE and Adam; the epoch of the best valid AUC is kept. Test scores and
    that epoch."""
    import torch

    from unisr.evaluate.metrics import auc

    torch.manual_seed(seed)
    layers, d = [], x[0].shape[1]
    for h in MLP_HIDDEN:
        layers += [torch.nn.Linear(d, h), torch.nn.ReLU()]
        d = h
    net = torch.nn.Sequential(*layers, torch.nn.Linear(d, 1))
    opt = torch.optim.Adam(net.parameters(), MLP_LR)
    xt = [torch.from_numpy(m) for m in x]
    ytr = torch.from_numpy(y[0].astype(np.float32))
    best = (-1.0, None, -1)
    for epoch in range(MLP_EPOCHS):
        net.train()
        perm = torch.randperm(len(ytr))
        for k in range(0, len(perm), MLP_BATCH):
            i = perm[k:k + MLP_BATCH]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xt[0][i]).squeeze(1), ytr[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            va = auc(y[1], net(xt[1]).squeeze(1).numpy())
            if va > best[0]:
                best = (va, net(xt[2]).squeeze(1).numpy(), epoch)
    return best[1], best[2]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--scenarios", nargs="+", default=["search_text", "search_similar", "feed_main"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "ceiling-learners.json")
    args = ap.parse_args(argv)
    import torch

    from machine import machine
    from unisr.bench.fingerprint import data_fingerprint
    from unisr.evaluate.metrics import auc

    torch.set_num_threads(args.threads)
    root = args.data
    spec, ev, tabs, counts, prior = oc.load_all(root, args.folds)
    results: dict[str, dict] = {}
    for name in args.scenarios:
        rows, kind = oc.scenario_rows(ev, spec, name)
        rows = oc.build_features(rows, kind, tabs, counts, prior)
        feats = list(oc.KIND_FEATURES[kind])
        parts = [rows.filter(pl.col("split") == c) for c in (oc.TRAIN, oc.VALID, oc.TEST)]
        y = [p["click"].to_numpy() for p in parts]
        x = prepare(*(p.select(feats).cast(pl.Float64).to_numpy() for p in parts))
        gbdt, fit = oc.fit_predict(rows, feats, args.seed, args.threads, args.rounds)
        mlp, epoch = fit_mlp(x, y, args.seed)
        results[name] = {"gbdt": auc(y[2], gbdt), "logistic_regression": auc(y[2], fit_logreg(x, y)),
                         "mlp": auc(y[2], mlp), "mlp_best_epoch": epoch, "gbdt_trees": fit["trees"],
                         "features": len(feats), "rows": {"train": len(y[0]), "valid": len(y[1]), "test": len(y[2])}}
        r = results[name]
        print(f"{name}: gbdt {r['gbdt']:.4f} logreg {r['logistic_regression']:.4f} mlp {r['mlp']:.4f}", flush=True)
    first = results[args.scenarios[0]]
    command = shlex.join([".venv/bin/python", "benchmarks/ceiling_learners.py", *(sys.argv[1:] if argv is None else argv)])
    out = {"format": "unisr-benchmark/1", "benchmark": "ceiling-learners",
           "title": "The observable ceiling's features with three learners (test AUC, no position)",
           "figure": f"{args.scenarios[0]}: GBDT {first['gbdt']:.4f}, logistic regression "
                     f"{first['logistic_regression']:.4f}, MLP {first['mlp']:.4f}",
           "goal": "issue 31: is the deep models' gap to the GBDT in their inputs or in their function class",
           "command": command, "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": machine(args.threads),
           "tables": [{"header": ["learner", *args.scenarios],
                       "rows": [[lab, *(f"{results[s][key]:.4f}" for s in args.scenarios)] for lab, key in
                                (("GBDT (LightGBM, the published ceiling)", "gbdt"),
                                 ("logistic regression", "logistic_regression"),
                                 (f"MLP {'-'.join(map(str, MLP_HIDDEN))}", "mlp"))]}],
           "notes": ["the same hand-made features (observable_ceiling.py's COMMON / TEXT / SIMILAR tables) and rows; "
                     "for the logistic regression and the MLP counts are log1p'd and every column standardised on "
                     "train (prepare); the MLP is the DNN's tower, Adam 1e-3, batch 1,024, the best of 30 epochs by "
                     "valid AUC; one seed"],
           "data": {"fingerprint": data_fingerprint(root)}, "scenarios": results}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    main()
