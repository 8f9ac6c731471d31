"""Cold start on one recommendation scenario (default ``feed_new``, the simulator's new-arrivals feed): why a
model's test AUC there sits below 0.5, as one command (issue 31, Build item 4).

    .venv/bin/python benchmarks/cold_start.py --data /tmp/sim_small                 # the data diagnosis (~30 s)
    .venv/bin/python benchmarks/cold_start.py --data /tmp/sim_small --train dnn     # + DNN with each encoder

Data part (numpy only, test split unless said): rows, clicks and CTR per scenario; how many rows' items are
absent from the training split / under the encoder's ``id_min_count``; the CTR of seen and unseen items; the
oracle AUC (``truth.parquet`` p_click) and its soft AUC (expected AUC over Bernoulli(p_click) labels, far less
noisy than 40 clicks); the AUC of simple observable signals (item age, position, training-window item clicks /
impressions / CTR, leaf and brand CTR, price level, the user's past clicks in the leaf); CTR by item age on the
training split. Model part (``--train``): per encoder variant (``id_vocab`` entities|train x ``item_age``
off|on) a short run through the real pipeline (``train_run``) and, on the scenario's test rows, AUC, soft AUC,
Spearman(score, p_click), Spearman(score, log item age), the mean score of items seen / unseen in training,
and the item-id embedding norms of trained and untrained rows. Writes ``benchmarks/out/cold_start.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402
from unisr.data.features import FeatureEncoder  # noqa: E402
from unisr.data.schema import DatasetSpec  # noqa: E402
from unisr.data.split import SplitAssigner  # noqa: E402
from unisr.evaluate.metrics import auc  # noqa: E402

DAY = 86_400
# encoder / embedding variants: FeatureEncoder.fit(id_vocab, id_min_count, item_age) and FeatureEmbedding's
# id_dropout (set through nn/embedding.py:ID_DROPOUT for the run, as models build their embedding themselves)
VARIANTS: dict[str, dict] = {
    "before": {"id_vocab": "entities", "id_min_count": 1, "item_age": False, "id_dropout": 0.0},
    "age": {"id_vocab": "entities", "id_min_count": 1, "item_age": True, "id_dropout": 0.0},
    "rare_oov": {"id_vocab": "train", "id_min_count": 2, "item_age": False, "id_dropout": 0.0},
    "rare_oov_age": {"id_vocab": "train", "id_min_count": 2, "item_age": True, "id_dropout": 0.0},
    "unseen_oov_age": {"id_vocab": "train", "id_min_count": 1, "item_age": True, "id_dropout": 0.0},
    "unseen_oov_age_drop": {"id_vocab": "train", "id_min_count": 1, "item_age": True, "id_dropout": 0.1},
}


def soft_auc(score: np.ndarray, p: np.ndarray) -> float:
    """Expected AUC when each label is Bernoulli(p): sum_{i != j} p_i (1 - p_j) ([s_i > s_j] + [s_i = s_j] / 2)
    / sum_{i != j} p_i (1 - p_j).

    Shapes:
        score [N], p [N] -> float
    """
    _, g = np.unique(score, return_inverse=True)
    p = p.astype(np.float64)
    q = 1.0 - p
    q_g = np.bincount(g, q)
    below = np.concatenate([[0.0], np.cumsum(q_g)[:-1]])[g]  # q of strictly lower scores
    same = q_g[g] - q  # q of the other samples with the same score
    return float((p * (below + 0.5 * same)).sum() / (p.sum() * q.sum() - (p * q).sum()))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


class Events:
    """The events with their split code, truth and the item columns the diagnosis reads, joined by item."""

    def __init__(self, root: Path) -> None:
        self.spec = DatasetSpec.load(root)
        t = pq.read_table(root / "events.parquet", columns=["event_id", "ts", "user_id", "scenario_id",
                                                            "item_id", "click", "position"])
        self.e = {c: t[c].to_numpy() for c in t.column_names}
        self.e["p"] = pq.read_table(root / "truth.parquet", columns=["p_click"])["p_click"].to_numpy()
        items = pq.read_table(root / "items.parquet", columns=["item_id", "created_ts", "brand", "price_level",
                                                               "category_path"])
        iid = items["item_id"].to_numpy()
        o = np.argsort(iid)
        ix = np.searchsorted(iid[o], self.e["item_id"])
        self.ix = ix
        self.leaf = np.array([c[-1] for c in items["category_path"].to_pylist()])[o]
        self.brand = items["brand"].to_numpy()[o]
        self.price = items["price_level"].to_numpy()[o]
        self.created = items["created_ts"].to_numpy()[o]
        self.n_items = len(iid)
        assigner = SplitAssigner.for_dataset(root, self.spec.split)
        self.windows = assigner.boundaries()
        self.split = assigner.assign(self.e["event_id"], self.e["ts"])
        self.age = (self.e["ts"] - self.created[ix]) / DAY
        self.scen = {s.name: s.id for s in self.spec.scenarios}

    def rate(self, keys: np.ndarray, n: int, mask: np.ndarray, prior: float = 20.0) -> tuple[np.ndarray, ...]:
        """Smoothed CTR, clicks and impressions per key over the events of ``mask``."""
        c = np.bincount(keys[mask], self.e["click"][mask], n)
        m = np.bincount(keys[mask], None, n)
        g = self.e["click"][mask].mean()
        return (c + prior * g) / (m + prior), c, m


def _signals(ev: Events, m: np.ndarray, hist: np.ndarray) -> dict[str, np.ndarray]:
    """Observable signals of the rows ``m``, item / leaf / brand statistics from the events of ``hist``."""
    e, i = ev.e, ev.ix[m]
    ictr, iclk, iimp = ev.rate(ev.ix, ev.n_items, hist)
    lctr, _, _ = ev.rate(ev.leaf[ev.ix], int(ev.leaf.max()) + 1, hist)
    bctr, _, _ = ev.rate(ev.brand[ev.ix], int(ev.brand.max()) + 1, hist)
    key = e["user_id"].astype(np.int64) * 1_000_003 + ev.leaf[ev.ix]
    uk, uc = np.unique(key[hist & (e["click"] == 1)], return_counts=True)
    pos = np.minimum(np.searchsorted(uk, key[m]), max(len(uk) - 1, 0))
    return {"-item_age": -ev.age[m], "-position": -e["position"][m].astype(float),
            "item_clicks_window": iclk[i], "item_impressions_window": iimp[i], "item_ctr_window": ictr[i],
            "leaf_ctr_window": lctr[ev.leaf[i]], "brand_ctr_window": bctr[ev.brand[i]],
            "-price_level": -ev.price[i].astype(float),
            "user_leaf_past_clicks": np.where(uk[pos] == key[m], uc[pos], 0) if len(uk) else np.zeros(m.sum())}


def diagnose(ev: Events, scenarios: list[str], min_count: int) -> dict:
    """The data part: per scenario, test rows, unseen items, oracle and observable-signal AUCs."""
    e, sp = ev.e, ev.split
    t0 = e["ts"].min()
    train_items, counts = np.unique(e["item_id"][sp == 1], return_counts=True)
    train_users = np.unique(e["user_id"][sp == 1])
    hist = sp <= 1  # background + train: what a feature-engineered model may count
    out: dict = {"windows_days": {n: [round((a - t0) / DAY, 2), round((b - t0) / DAY, 2)] for n, a, b in ev.windows},
                 "items_created_in": {n: int(((ev.created >= a) & (ev.created < b)).sum()) for n, a, b in ev.windows},
                 "item_vocab": {"entities": ev.n_items, "train": int((counts >= min_count).sum())},
                 "scenarios": {}}
    for name in scenarios:
        m = (sp == 3) & (e["scenario_id"] == ev.scen[name])
        y = e["click"][m]
        seen = np.isin(e["item_id"][m], train_items)
        rare = ~np.isin(e["item_id"][m], train_items[counts >= min_count])
        signals = _signals(ev, m, hist)
        sig = {k: auc(y, v) for k, v in signals.items()}
        sig["item_seen_in_train"] = auc(y, seen.astype(float))
        out["scenarios"][name] = {
            "test_rows": int(m.sum()), "test_clicks": int(y.sum()), "ctr": float(y.mean()),
            "share_item_not_in_train_split": float((~seen).mean()),
            "share_user_not_in_train_split": float((~np.isin(e["user_id"][m], train_users)).mean()), f"share_item_under_{min_count}_train_events":
            float(rare.mean()), "ctr_item_seen": float(y[seen].mean()), "ctr_item_unseen": float(y[~seen].mean()),
            "oracle_auc": auc(y, e["p"][m]), "oracle_soft_auc": soft_auc(e["p"][m], e["p"][m]),
            "oracle_auc_bootstrap95": _bootstrap(y, e["p"][m]), "signal_auc": sig,
            "signal_soft_auc": {k: soft_auc(signals[k], e["p"][m])
                                for k in ("-item_age", "item_impressions_window")}}
    out["train_ctr_by_item_age_days"] = _age_table(ev, scenarios)
    return out


def _bootstrap(y: np.ndarray, s: np.ndarray, n: int = 300) -> list[float]:
    rng = np.random.default_rng(0)
    vals = [auc(y[k], s[k]) for k in (rng.integers(0, len(y), len(y)) for _ in range(n)) if 0 < y[k].sum() < len(k)]
    return [float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))]


def _age_table(ev: Events, scenarios: list[str]) -> dict:
    bins = [0, 1, 3, 7, 30, np.inf]
    groups = {name: [ev.scen[name]] for name in scenarios}
    groups["all_other"] = [s for s in ev.scen.values() if s not in {ev.scen[n] for n in scenarios}]
    out = {}
    for name, ids in groups.items():
        m = (ev.split == 1) & np.isin(ev.e["scenario_id"], ids)
        out[name] = {f"[{a:g},{b:g})": {"rows": int(g.sum()), "ctr": float(ev.e["click"][g].mean()) if g.any()
                                         else None}
                     for a, b in zip(bins[:-1], bins[1:], strict=True) for g in [m & (ev.age >= a) & (ev.age < b)]}
    return out


def score_run(run, data: Path, scenario: str, seen_items: np.ndarray) -> dict:
    """The model part on one trained run: the scenario's test rows scored by the position-free model."""
    import torch

    from unisr.pipeline.pipeline import Pipeline
    from unisr.pipeline.run_folder import load_run

    cfg, enc, net = load_run(run)
    pipe = Pipeline.open(cfg, data, enc)
    sid = enc.schema.scenarios.index(scenario)
    items = pq.read_table(data / "items.parquet", columns=["item_id", "created_ts"])
    created = np.zeros(enc.schema.num_items + 1)
    created[enc.item_index(items["item_id"].to_numpy())] = items["created_ts"].to_numpy()
    rows: dict[str, list] = {k: [] for k in ("s", "y", "p", "i", "ts")}
    with torch.no_grad():
        for b in pipe.batches("test"):
            m = (b.scenario_id == sid).numpy()
            if m.any():
                for k, v in (("s", net(b)["click"]), ("y", b.labels["click"]), ("p", b.p_click),
                             ("i", b.item_index), ("ts", b.ts)):
                    rows[k].append(v.numpy()[m])
    r = {k: np.concatenate(v) for k, v in rows.items()}
    seen = np.isin(r["i"], enc.item_index(seen_items))
    age = np.log1p(np.maximum(r["ts"] - created[r["i"]], 0) / DAY)
    return {"auc": auc(r["y"], r["s"]), "soft_auc": soft_auc(r["s"], r["p"]),
            "spearman_score_p_click": spearman(r["s"], r["p"]), "spearman_score_log_age": spearman(r["s"], age),
            "spearman_p_click_log_age": spearman(r["p"], age), "mean_score_item_seen": float(r["s"][seen].mean()),
            "mean_score_item_unseen": float(r["s"][~seen].mean()), **_id_norms(net, enc, seen_items)}


def _id_norms(net, enc: FeatureEncoder, seen_items: np.ndarray) -> dict:
    """Median norm of the item-id embedding rows of items trained on (seen in the training split) and not."""
    emb = getattr(net, "embedding", None)
    if emb is None or not hasattr(emb, "group_fields"):
        return {}
    f = enc.schema.field_index("item_id")
    col = [k for k, s in enumerate(enc.schema.sparse) if s.table == "items"].index(f)
    trained = np.zeros(enc.schema.sparse[f].vocab_size, bool)
    trained[enc.item_cat[enc.item_index(seen_items), col]] = True
    for g, fields in enumerate(emb.group_fields):
        if f in fields:
            off = int(getattr(emb, f"offsets_{g}")[fields.index(f)])
            w = emb.groups[g].weight.detach()[off:off + len(trained)].norm(dim=1).numpy()
            return {"item_id_rows": len(trained), "item_id_norm_trained_median": float(np.median(w[trained])),
                    "item_id_norm_untrained_median": float(np.median(w[~trained])) if (~trained).any() else None,
                    "item_id_norm_oov_row": float(w[0])}
    return {}


def train_variants(args, ev: Events) -> dict:
    from unisr.nn import embedding
    from unisr.train.run import train_run

    seen = np.unique(ev.e["item_id"][ev.split == 1])
    out: dict = {}
    for model in args.train:
        for variant in args.variants:
            v = VARIANTS[variant]
            enc = FeatureEncoder.fit(args.data, ev.spec, id_vocab=v["id_vocab"], item_age=v["item_age"],
                                     id_min_count=v["id_min_count"])
            run = Path(args.runs) / f"{model}-{variant}-seed{args.seed}"
            t = time.perf_counter()
            default, embedding.ID_DROPOUT = embedding.ID_DROPOUT, v["id_dropout"]
            try:
                tr = train_run(model, args.data, run, sets=list(args.set), seed=args.seed, encoder=enc)
            finally:
                embedding.ID_DROPOUT = default
            res = {**v, "run": str(run),
                   "train_wall_seconds": time.perf_counter() - t, "position_bias": tr.metrics.get("position_bias"),
                   "test_auc": {s: v["auc"] for s, v in tr.metrics["scenarios"].items() if s in args.report},
                   args.scenario: score_run(run, args.data, args.scenario, seen)}
            out[f"{model}/{variant}"] = res
            print(json.dumps({f"{model}/{variant}": res}, default=float), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--scenario", default="feed_new")
    ap.add_argument("--contrast", nargs="*", default=["feed_main"], help="scenarios diagnosed beside it")
    ap.add_argument("--id-min-count", type=int, default=2)
    ap.add_argument("--train", nargs="*", default=[], help="models to train per encoder variant (e.g. dnn star)")
    ap.add_argument("--variants", nargs="*", default=["before", "age"], choices=list(VARIANTS),
                    help="encoder variants to train (VARIANTS; 'age' is the default encoder since issue 31)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", nargs="*", default=["train.threads=1", "train.epochs=4", "train.max_steps_per_epoch=200",
                                                 "train.progress=false"])
    ap.add_argument("--runs", default="runs/cold_start")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/cold_start.json"))
    args = ap.parse_args()
    t = time.perf_counter()
    ev = Events(args.data)
    args.report = [s.name for s in ev.spec.scenarios if not s.name.startswith("share")]
    res = {"benchmark": "cold_start", "data": str(args.data), "scenario": args.scenario,
           "command": " ".join(sys.argv), "machine": machine(1),
           "diagnosis": diagnose(ev, [args.scenario, *args.contrast], args.id_min_count)}
    print(json.dumps(res["diagnosis"], indent=1, default=float), flush=True)
    if args.train:
        res["models"] = train_variants(args, ev)
    res["wall_seconds"] = time.perf_counter() - t
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1, default=float))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
