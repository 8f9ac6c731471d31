"""Suite ``recbole-ml1m``: the real-data anchor of the matching path, RecBole-GNN's general-recommendation table
on MovieLens-1M (``RUCAIBox/RecBole-GNN``, ``results/general/ml-1m.md``) reproduced for BPR and LightGCN, with
YoutubeDNN and DSSM added under the same protocol (no published row for those two).

Declared here as data: the protocol (:data:`PROTOCOL`, the data provisioning :func:`ensure_recbole_ml1m`), the
rows (:data:`ROWS`), the published numbers (:data:`PUBLISHED`) and the claim (:data:`TOLERANCE`: every published
figure of BPR and LightGCN within 3% relative).

Shapes:
    (no tensors) MovieLens-1M -> report tables of test Recall/NDCG/Hit/MRR@10 per model beside the published ones
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from unisr.bench.matrix import Override, RunSpec, epoch_limit_note, run_matrix, suite_options
from unisr.bench.provision import DEFAULT_SHARED
from unisr.bench.registry import SuiteError, suite
from unisr.bench.report import Report, ReportTable, fmt
from unisr.bench.verdicts import verdict
from unisr.evaluate.stats import mean_std

SUITE = "recbole-ml1m"
# RecBole-GNN results/general/ml-1m.md: epochs 500, train_batch_size 4096, valid_metric MRR@10, full sort;
# RecBole's defaults: stopping_step 10, eval_step 1, Adam, weight_decay 0. RecBole's ``early_stopping`` stops when
# ``cur_step > stopping_step``, i.e. after 11 evaluations without a strict improvement; unisr's patience counts
# the non-improving epochs it stops at, so RecBole's 10 is patience 11. The models' own defaults carry the rest
# (models/bpr.py, models/lightgcn.py: lr, loss, one uniform negative per row, reg_weight).
RECBOLE_PATIENCE = 11
PROTOCOL = (
    Override("train.epochs", 500), Override("train.patience", RECBOLE_PATIENCE), Override("train.monitor", "mrr@10"),
    Override("train.progress", False),
)
# the two rows without a published number: a smaller batch (in-batch softmax costs B^2) and epoch budget
EXTRA = (Override("data.batch_size", 1024), Override("train.epochs", 100), Override("train.patience", 5))
ROWS = [
    RunSpec("bpr", "bpr"),
    RunSpec("lightgcn", "lightgcn_match"),
    RunSpec("youtubednn", "youtubednn", EXTRA),
    RunSpec("dssm", "dssm", (*EXTRA, Override("model.dim", 64), Override("model.scenario_embed_dim", 0))),
]
METRICS = ("recall@10", "mrr@10", "ndcg@10", "hr@10")  # RecBole's Hit@10 = our hr@10
# RecBole-GNN results/general/ml-1m.md (Precision@10 is published too; unisr reports no precision)
PUBLISHED = {
    "bpr": {"recall@10": 0.1776, "mrr@10": 0.4187, "ndcg@10": 0.2401, "hr@10": 0.7199},
    "lightgcn": {"recall@10": 0.1861, "mrr@10": 0.4388, "ndcg@10": 0.2538, "hr@10": 0.7330},
}
PUBLISHED_STATS = {"users": 6040, "items": 3629, "interactions": 836478}  # RecBole counts its padding id
TOLERANCE = 0.03  # relative
INTRO = (
    "MovieLens-1M (../shared/data/movielens-1m, RecBole atomic files), RecBole-GNN's protocol: ratings >= 3 kept "
    "(836,478 interactions, 6,039 users, 3,628 items), RecBole's per-user random 8:1:1 split (RS, group_by user, "
    "order RO; data/importers/movielens.py protocol='recbole'), full-sort evaluation over every item excluding the "
    "user's earlier-split interactions, embedding 64, Adam, batch 4096, up to 500 epochs with early stopping on "
    "validation MRR@10 (RecBole's stopping_step 10 = 11 epochs without improvement, best epoch restored). BPR: lr 0.001, one uniform negative per positive (the "
    "user's training items redrawn), no regulariser. LightGCN: PyG LGConv, 3 layers, lr 0.002, reg_weight 1e-4. "
    "YoutubeDNN and DSSM: in-batch sampled softmax with logQ, batch 1024, <= 100 epochs, patience 5 (no published "
    "row). Published: RecBole-GNN results/general/ml-1m.md."
)


def ensure_recbole_ml1m(data: Path | None, out: Path, console: Console) -> Path:
    """The RecBole-protocol MovieLens-1M dataset: ``data`` if it is a canonical dataset imported with
    ``protocol='recbole'``, else imported from ``data`` (or the shared folder) into ``out/data``."""
    from unisr.data.importers.movielens import import_movielens
    from unisr.data.schema import DatasetSpec

    if data is not None and (Path(data) / "dataset.yaml").exists():
        proto = str(DatasetSpec.load(Path(data)).source.get("protocol", ""))
        if not proto.startswith("RecBole"):
            raise SuiteError(f"--data {data}: not imported with the RecBole protocol (its protocol: {proto!r}); "
                             "pass the MovieLens source folder instead")
        return Path(data)
    src = Path(data) if data else DEFAULT_SHARED / "movielens-1m"
    if not src.exists():
        raise SuiteError(f"MovieLens-1M not found at {src}. Put the GroupLens ml-1m files (ratings.dat, users.dat, "
                         "movies.dat) or RecBole atomic files there, or pass --data DIR.")
    dest = Path(out) / "data"
    if not (dest / "dataset.yaml").exists():
        console.print(f"importing MovieLens-1M (RecBole protocol) from {src} -> {dest}")
        import_movielens(src, dest, protocol="recbole")
    return dest


def gap(ours: float, published: float) -> float:
    """Relative gap ours / published - 1."""
    return ours / published - 1.0


def summarise(runs: list[dict]) -> tuple[dict, list[list[str]], list[str]]:
    """(per-row summary, the table's rows, claim lines) of the finished runs."""
    by_row: dict[str, list[dict]] = {}
    for r in runs:
        by_row.setdefault(r["run_name"], []).append(r)
    summary, rows, claims = {}, [], []
    for name, rs in by_row.items():
        vals = {k: [float(r["overall"][k]) for r in rs] for k in METRICS}
        pub = PUBLISHED.get(name)
        cells = []
        for k in METRICS:
            m = mean_std(vals[k])[0]
            cells += [fmt(vals[k]), f"{pub[k]:.4f}" if pub else "-", f"{100 * gap(m, pub[k]):+.2f}%" if pub else "n/a"]
        epochs = [int(r.get("best_epoch", -1)) for r in rs]
        rows.append([name, str(len(rs)), *cells, ", ".join(map(str, epochs))])
        summary[name] = {"values": vals, "published": pub, "best_epochs": epochs}
        if pub:
            gaps = {k: gap(mean_std(vals[k])[0], pub[k]) for k in METRICS}
            ok = all(abs(g) <= TOLERANCE for g in gaps.values())
            summary[name]["gaps"] = gaps
            summary[name]["within_tolerance"] = ok
            claims.append(f"{name} within {100 * TOLERANCE:.0f}% relative of every published figure: {verdict(ok)} ("
                          + ", ".join(f"{k} {100 * g:+.2f}%" for k, g in gaps.items()) + f"; {len(rs)} seed(s))")
        else:
            claims.append(f"{name}: no published row in RecBole-GNN's table (ours only)")
    return summary, rows, claims


@suite(SUITE)
def recbole_ml1m(out: Path, data: Path | None, seeds: int, sets: list[str], models: list[str] | None,
                 console: Console) -> dict:
    """BPR, LightGCN (+ YoutubeDNN, DSSM) on MovieLens-1M against RecBole-GNN's general-recommendation table."""
    out = Path(out)
    opts, rest = suite_options(sets, {})
    data = ensure_recbole_ml1m(Path(data) if data else None, out, console)
    rows = [r for r in ROWS if models is None or r.name in models or r.model in models]
    if not rows:
        raise SuiteError(f"--models {models}: none of this suite's rows ({', '.join(r.name for r in ROWS)})")
    record = opts["record"] or None
    runs = run_matrix(rows, data, out, seeds, [*PROTOCOL, *rest], console, train_missing=bool(opts["train"]),
                      record=record, seeds_only=opts["seeds_only"], rows_only=opts["rows_only"])
    if not runs:
        raise SuiteError(f"{out}: no finished runs to report (suite.train=false?)")
    summary, table_rows, claims = summarise(runs)
    head = ["model", "seeds"]
    for k in METRICS:
        head += [k, f"published {k}", "gap"]
    table = ReportTable("MovieLens-1M, RecBole-GNN protocol, test split, mean ± std over seeds (best epochs "
                        "listed)", [*head, "best epoch"], table_rows)
    report = Report(f"{SUITE}: RecBole-GNN's general-recommendation table on MovieLens-1M", INTRO, [table], [],
                    [*claims, epoch_limit_note(runs)])
    results = {"suite": SUITE, "seeds": seeds, "runs": runs, "summary": summary, "published": PUBLISHED}
    report.write(out, results)
    console.print(table.markdown())
    for c in claims:
        console.print(c)
    return results
