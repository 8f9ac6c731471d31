"""Suite ``usr``: USR (Liu et al., SIGIR'24) over six multi-scenario backbones on the simulated marketplace.

Search = ``search_text``, recommendation = ``feed_main`` (the loader keeps only these two scenarios; the
behaviour history mixes the clicks of every scenario). Re-tests table 1 (Base vs Base+USR, CTR and CTCVR AUC
in S and R), the ablation of fig. 2(b) on STAR, the embedding-size sweep of fig. 2(c) and the picture of
fig. 2(a). "Base" is the backbone on the same input network (shared embeddings + BST interest, ``[i_g, e_a,
e_s ⊕ e_q]``) with IE, FG and GLMT switched off, so that Δ measures USR's three layers. Declared as data: the rows
(:func:`rows`), the paper's table-1 deltas (:data:`PAPER_DELTA`) and the claims (:data:`CLAIMS`).

Base reads the query representation ``e_q`` that USR's trigger carries (``model.query_input=on``), so both
read the same batch fields (issue 33).

Options through ``--set suite.<key>=...`` (removed before the runs): ``suite.preset`` = ``paper`` (default: the
paper's AdamW lr 1e-4, batch 1024, d 32; validation every 100 steps, early stopping with patience 4, cap 30
such epochs, chosen from a probe, docs/models/usr.md "Budget") or ``quick`` (lr 1e-3, 8 full epochs, patience
2: the budget of the records made before issue 33); ``suite.base_query`` (true; false = the Base rows of those
records, without the query); ``suite.ablation`` (true); ``suite.dims`` ([16, 32, 64]); ``suite.tsne`` (true).
Other ``--set`` values go to every run. Records are keyed by their overrides and budget, so the new protocol
and the new Base rows get new keys; the old records stay readable with ``suite.preset=quick
suite.base_query=false``.

Shapes:
    (no tensors) the simulated marketplace -> table 1 / fig. 2 test AUCs and the claim lines
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console

from unisr.bench.ceiling import ceiling_tables
from unisr.bench.matrix import Override, RunSpec, epoch_limit_note, invocation, run_matrix, suite_options
from unisr.bench.provision import require_scenarios
from unisr.bench.records import has_model
from unisr.bench.registry import SuiteError, suite
from unisr.bench.report import Report, ReportTable, fmt
from unisr.bench.verdicts import compare, verdict
from unisr.evaluate.stats import mean_std

BACKBONES = ["shared_bottom", "mmoe", "ple", "star", "m2m", "apg"]
S, R = "search_text", "feed_main"
PRESETS = {
    # the usr model defaults are the paper's (AdamW, lr 1e-4, batch 1024, d 32, λ, τ); an "epoch" of 100 steps
    # (102,400 samples, then validation), early stopping with patience 4 under a cap of 30 (3,000 steps) that
    # the probe's best epochs (USR 4, Base 6 on small v2: docs/models/usr.md "Issue 33") stay far below
    "paper": (Override("train.max_steps_per_epoch", 100), Override("train.epochs", 30),
              Override("train.patience", 4)),
    # the records of 2026-12-03 (benchmarks/records/usr): lr 1e-3, full epochs, best epoch 0-1
    "quick": (Override("train.lr", 0.001), Override("train.epochs", 8), Override("train.patience", 2)),
}
# model selection on the mean of the click and click-and-buy validation AUCs: selecting on click AUC alone kept
# epochs whose CTCVR AUC was already falling (same rule for Base and Base+USR)
COMMON = (Override("data.scenarios", (S, R)), Override("train.progress", False),
          Override("train.monitor", "auc+ctcvr_auc"))
BASE = (Override("model.use_ie", False), Override("model.use_fg", False), Override("model.use_glmt", False))
# issue 33: the Base reads the query representation e_q that USR's trigger carries (t_s = e_v^s + e_q), through
# the same input network, so Base and Base+USR read the same batch fields and Δ measures USR's layers only.
# ``suite.base_query=false`` gives the Base rows of the records made before (no query tokens; their keys)
BASE_QUERY = Override("model.query_input", "on")
# fig. 2(b): label -> the layer switched off (row name star-usr-no_<layer>)
ABLATION = {"w/o S&R Views IE": "use_ie", "w/o S&R Views FG": "use_fg", "w/o GLMT": "use_glmt"}
# paper table 1, Δ in AUC points (x100): (scenario, task) -> backbone -> Δ
PAPER_DELTA = {
    ("S", "ctcvr"): {"shared_bottom": 0.49, "mmoe": 0.25, "ple": 0.28, "star": 0.28, "m2m": 0.27, "apg": 0.16},
    ("S", "ctr"): {"shared_bottom": 0.41, "mmoe": 0.20, "ple": 0.14, "star": 0.15, "m2m": 0.35, "apg": 0.08},
    ("R", "ctcvr"): {"shared_bottom": 0.57, "mmoe": 0.51, "ple": 0.62, "star": 0.56, "m2m": 0.59, "apg": 0.62},
    ("R", "ctr"): {"shared_bottom": 0.40, "mmoe": 0.37, "ple": 0.09, "star": 0.17, "m2m": 0.44, "apg": 0.23},
}
METRICS = [("S", S, "ctcvr"), ("S", S, "ctr"), ("R", R, "ctcvr"), ("R", R, "ctr")]
CLAIMS = {
    "table1": "Base+USR beats Base for {backbone} in all four AUCs (S CTCVR, S CTR, R CTCVR, R CTR)",
    "ablation": "{label} lowers AUC (STAR backbone)",
    "glmt_largest": "w/o GLMT brings the largest drop",
    "dims": "d = 32 gives the best AUC in all four metrics",
    "views": "contrastive learning separates the S and R views of {view} (silhouette of the view labels > 0 on "
             "1000 test samples)",
}


PAGE = {"goal": "re-test table 1 (Base+USR beats Base in all four AUCs) and fig. 2 (ablation, embedding size)",
        "history": "docs/benchmarks/usr/HISTORY.md"}


def _options(sets: list[str]) -> tuple[dict, list[Override]]:
    opts, rest = suite_options(sets, {"preset": "paper", "ablation": True, "dims": [16, 32, 64], "tsne": True,
                                      "base_query": True})
    if opts["preset"] not in PRESETS:
        raise SuiteError(f"--set suite.preset={opts['preset']}: unknown; known: {', '.join(PRESETS)}")
    return opts, rest


def ablation_name(layer: str) -> str:
    return f"star-usr-{layer.replace('use_', 'no_')}"


def rows(backbones: list[str], ablation: bool, dims: list[int], base_query: bool = True) -> list[RunSpec]:
    """Base and Base+USR per backbone; with STAR, the fig. 2(b) switches and the fig. 2(c) sizes.
    ``base_query``: the Base reads the query (:data:`BASE_QUERY`); false = the Base rows made before issue 33."""
    base = (*BASE, BASE_QUERY) if base_query else BASE
    out = []
    for b in backbones:
        out += [RunSpec(f"{b}-base", "usr", (Override("model.backbone", b), *base)),
                RunSpec(f"{b}-usr", "usr", (Override("model.backbone", b),))]
    star = "star" in backbones
    if ablation and star:
        out += [RunSpec(ablation_name(layer), "usr", (Override("model.backbone", "star"),
                                                      Override(f"model.{layer}", False)))
                for layer in ABLATION.values()]
    out += [RunSpec(f"star-usr-d{d}", "usr", (Override("model.backbone", "star"), Override("model.dim", d),
                                              Override("data.embed_dim", d)))
            for d in dims if d != 32 and star]
    return out


def ctcvr_oracle(data: Path) -> dict[str, dict[str, float]]:
    """AUC of the true probabilities on the test split: CTR from p_click, CTCVR from p_click * p_conversion."""
    import polars as pl

    from unisr.data.schema import DatasetSpec
    from unisr.data.split import SPLIT_CODES, SplitAssigner
    from unisr.evaluate.metrics import auc

    spec = DatasetSpec.load(data)
    ids = {s.name: s.id for s in spec.scenarios}
    ev = pl.read_parquet(data / "events.parquet", columns=["event_id", "ts", "scenario_id", "click", "conversion"])
    ev = ev.filter(pl.col("scenario_id").is_in([ids[S], ids[R]]))
    code = SplitAssigner.for_dataset(data, spec.split).assign(ev["event_id"].to_numpy(), ev["ts"].to_numpy())
    ev = ev.filter(pl.Series(code == SPLIT_CODES["test"]))
    tr = pl.read_parquet(data / "truth.parquet")
    ev = ev.join(tr, on="event_id")
    out = {}
    for name in (S, R):
        p = ev.filter(pl.col("scenario_id") == ids[name])
        cv = (p["click"] * p["conversion"]).to_numpy()
        pc = p["p_click"].to_numpy()
        pcv = pc * p["p_conversion"].to_numpy() if "p_conversion" in p.columns else pc
        out[name] = {"ctr": auc(p["click"].to_numpy(), pc), "ctcvr": auc(cv, pcv)}
    return out


def view_outputs(run_dir: Path, data: Path, n: int = 1000) -> dict[str, np.ndarray]:
    """The model's outputs (S/R view representations included) on the first ``n`` test samples."""
    import torch

    from unisr.pipeline.pipeline import Pipeline
    from unisr.pipeline.run_folder import load_run

    cfg, encoder, net = load_run(run_dir)
    batch = next(iter(Pipeline.open(cfg, data, encoder).batches("test", eval_batch_size=n)))
    with torch.no_grad():
        out = net(batch)
    return {k: v.numpy() for k, v in out.items() if k.startswith("usr/")}


def table1_claim(backbone: str, base: list[list[float]], usr: list[list[float]]) -> str:
    """Table 1: Base+USR beats Base in each of the four AUCs (lists per metric of METRICS, paired by seed),
    each win by the margin + paired t-test rule (``verdicts.compare``)."""
    wins, parts = [], []
    for b, u in zip(base, usr, strict=True):
        c = compare(u, b)
        wins.append(c.ok)
        parts.append(f"{(mean_std(u)[0] - mean_std(b)[0]) * 100:+.2f} ({c.short})")
    return (f"{CLAIMS['table1'].format(backbone=backbone)}: {verdict(all(wins))} (Δ pts: {', '.join(parts)}; "
            f"{sum(wins)}/4 won by the margin + paired t-test rule)")


def ablation_claims(full: list[list[float]], variants: dict[str, list[list[float]]]) -> list[str]:
    """Fig. 2(b): each switched-off layer lowers the AUC. Per seed, the mean of the four AUCs (lists per metric,
    paired by seed) of the full model against the variant's, by ``verdicts.compare``; then whether w/o
    GLMT brings the largest drop (largest mean drop, and that drop itself a significant one)."""
    def per_seed(v: list[list[float]]) -> list[float]:
        return [float(x) for x in np.mean(np.asarray(v, dtype=np.float64), axis=0)]

    f = per_seed(full)
    lines, drops, lowers = [], {}, {}
    for lab, v in variants.items():
        a = per_seed(v)
        ok, test = compare(f, a)
        drops[lab], lowers[lab] = (mean_std(f)[0] - mean_std(a)[0]) * 100, ok
        lines.append(f"{CLAIMS['ablation'].format(label=lab)}: {verdict(ok)} (mean drop {drops[lab]:+.2f} pts "
                     f"over the four AUCs; {test})")
    if drops:
        worst = max(drops, key=drops.get)
        sig = "significant" if lowers[worst] else "not a significant drop"
        lines.append(f"{CLAIMS['glmt_largest']}: {verdict(worst == 'w/o GLMT' and lowers[worst])} "
                     f"(largest: {worst}, {drops[worst]:+.2f} pts, {sig})")
    return lines


def dims_claim(by_dim: dict[int, list[list[float]]]) -> str:
    """Fig. 2(c): d = 32 gives the best AUC in all four metrics: in each metric (lists per metric, paired by
    seed) d = 32 beats every other d by ``verdicts.compare``."""
    if len(by_dim) < 2 or 32 not in by_dim:
        return f"{CLAIMS['dims']}: n/a (only d = 32 was run)"
    best, wins = [], 0
    for k in range(4):
        best.append(max(by_dim, key=lambda d: mean_std(by_dim[d][k])[0]))
        wins += all(compare(by_dim[32][k], by_dim[d][k]).ok for d in by_dim if d != 32)
    return (f"{CLAIMS['dims']}: {verdict(wins == 4)} (best d by mean per metric "
            f"S CTCVR/S CTR/R CTCVR/R CTR: {best}; d = 32 significantly ahead of every other d in {wins}/4)")


class Rows:
    """The finished runs by row name: a row's metric per seed, and the seeds rows have in common."""

    def __init__(self, by: dict[str, list[dict]]) -> None:
        self.by = by

    def vals(self, name: str, scen: str, task: str, on: set[int] | None = None) -> list[float]:
        """A row's metric per seed, in seed order; ``on``: only those seeds (paired comparisons)."""
        rs = sorted(self.by.get(name, []), key=lambda r: r["run_seed"])
        return [float(r["scenarios"][scen][f"{task}_auc"]) for r in rs if on is None or r["run_seed"] in on]

    def per_metric(self, name: str, on: set[int] | None = None) -> list[list[float]]:
        return [self.vals(name, sc, t, on) for _, sc, t in METRICS]

    def common(self, *names: str) -> set[int]:
        """The seeds every one of ``names`` finished: paired tests compare the same seeds, not list positions."""
        return set.intersection(*({r["run_seed"] for r in self.by.get(n, [])} for n in names))


def table1(rs: Rows, backbones: list[str], seeds: int, oracle: dict, summary: dict,
           claims: list[str]) -> ReportTable:
    """Table 1 (Base vs Base+USR per backbone) and its claim lines."""
    t1 = []
    for b in backbones:
        base_n, usr_n = f"{b}-base", f"{b}-usr"
        on = rs.common(base_n, usr_n)
        for sk, scen, task in METRICS:
            base, usr = rs.vals(base_n, scen, task), rs.vals(usr_n, scen, task)
            d = (mean_std(usr)[0] - mean_std(base)[0]) * 100
            pos = rs.by[usr_n][0]["scenarios"][scen].get(f"{task}_positives", "?")
            test = compare(rs.vals(usr_n, scen, task, on), rs.vals(base_n, scen, task, on)).ttest
            t1.append([sk, b, task.upper(), fmt(base, n=seeds), fmt(usr, n=seeds), f"{d:+.2f}",
                       f"{PAPER_DELTA[(sk, task)][b]:+.2f}", test, f"{oracle[scen][task]:.4f}", str(pos)])
            summary["table1"].setdefault(b, {})[f"{sk}_{task}"] = {"base": base, "usr": usr, "delta_pts": d}
        claims.append(table1_claim(b, rs.per_metric(base_n, on), rs.per_metric(usr_n, on)))
    return ReportTable(
        f"Table 1: test AUC, Base vs Base+USR, mean ± std over {seeds} seeds (Δ in AUC points x100; paper Δ beside)",
        ["scenario", "backbone", "task", "Base", "Base+USR", "Δ", "paper Δ", "paired t-test", "oracle AUC",
         "test positives"], t1)


def ablation_table(rs: Rows, summary: dict, claims: list[str]) -> ReportTable:
    """Fig. 2(b) on STAR and its claim lines."""
    ab = []
    full = {f"{sk}_{t}": mean_std(rs.vals("star-usr", sc, t))[0] for sk, sc, t in METRICS}
    variants = [("USR (full)", "star-usr")] + [(lab, ablation_name(layer)) for lab, layer in ABLATION.items()]
    for lab, name in variants:
        ab.append([lab, *[fmt(v) for v in rs.per_metric(name)]])
        if name != "star-usr" and name in rs.by:
            summary["ablation"][lab] = [full[f"{sk}_{t}"] - mean_std(rs.vals(name, sc, t))[0]
                                        for sk, sc, t in METRICS]
    ab.append(["Base (all off)", *[fmt(v) for v in rs.per_metric("star-base")]])
    on = rs.common(*(name for _, name in variants if name in rs.by))
    claims += ablation_claims(rs.per_metric("star-usr", on), {lab: rs.per_metric(name, on) for lab, name in variants
                                                               if name != "star-usr" and name in rs.by})
    return ReportTable("Fig. 2(b): ablation on STAR, test AUC", ["variant", "S CTCVR", "S CTR", "R CTCVR", "R CTR"], ab)


def dims_table(rs: Rows, dims: list[int], summary: dict, claims: list[str]) -> ReportTable:
    """Fig. 2(c): the embedding size on STAR + USR, and its claim line."""
    dm, means, by_dim = [], {}, {}
    dim_names = {d: "star-usr" if d == 32 else f"star-usr-d{d}" for d in sorted(set(dims) | {32})}
    for d, name in dim_names.items():
        by_dim[d] = rs.per_metric(name)
        dm.append([str(d), *[fmt(v) for v in by_dim[d]]])
        means[d] = [mean_std(v)[0] for v in by_dim[d]]
    summary["dims"] = means
    on = rs.common(*(n for n in dim_names.values() if n in rs.by))
    claims.append(dims_claim({d: rs.per_metric(n, on) for d, n in dim_names.items() if n in rs.by}))
    return ReportTable("Fig. 2(c): embedding size d (STAR + USR), test AUC", ["d", "S CTCVR", "S CTR", "R CTCVR",
                                                                             "R CTR"], dm)


def _views_claims(out: Path, data: Path, summary: dict) -> tuple[list[str], list[tuple[str, Path]]]:
    """Fig. 2(a) from STAR + USR seed 0 (needs its trained weights)."""
    from unisr.bench.plots import views_figure

    png = out / "views.png"
    sil = views_figure(png, view_outputs(out / "runs" / "star-usr" / "seed0", data),
                       [("user interest i_s / i_r", "usr/i_s", "usr/i_r"), ("features f_s / f_r", "usr/f_s", "usr/f_r")])
    lines = [f"{CLAIMS['views'].format(view=k)}: {verdict(v > 0)} (silhouette {v:.3f})" for k, v in sil.items()]
    summary["silhouette"] = sil
    return lines, [("Fig. 2(a): S/R view representations of test samples (STAR + USR, seed 0)", png)]


@suite("usr")
def usr_suite(out: Path, data: Path | None, seeds: int, sets: list[str], models: list[str] | None,
              console: Console) -> dict:
    """USR over six backbones: table 1, ablation fig. 2(b), embedding size fig. 2(c), views picture fig. 2(a)."""
    out = Path(out)
    data = require_scenarios(data, (S, R), "usr")
    opts, sets = _options(sets)
    backbones = models or BACKBONES
    unknown = set(backbones) - set(BACKBONES)
    if unknown:
        raise SuiteError(f"--models: unknown backbones {sorted(unknown)}; known: {', '.join(BACKBONES)}")
    dims = [int(d) for d in opts["dims"] or []]
    runs = run_matrix(rows(backbones, bool(opts["ablation"]), dims, bool(opts["base_query"])), data, out, seeds,
                      [*COMMON, *PRESETS[opts["preset"]], *sets], console, train_missing=bool(opts["train"]),
                      record=opts["record"] or None, seeds_only=opts["seeds_only"], rows_only=opts["rows_only"])
    by: dict[str, list[dict]] = {}
    for r in runs:
        by.setdefault(r["run_name"], []).append(r)
    backbones = [b for b in backbones if f"{b}-base" in by and f"{b}-usr" in by]  # suite.train=false: finished
    if not backbones:
        raise SuiteError(f"no backbone has finished Base and Base+USR runs under {out / 'runs'}")
    oracle = ctcvr_oracle(data)
    summary: dict = {"table1": {}, "ablation": {}, "dims": {}}
    claims: list[str] = []
    rs = Rows(by)
    tables = [table1(rs, backbones, seeds, oracle, summary, claims)]
    tables += ceiling_tables(data, ["search_text", "feed_main"])  # CTR only: no CTCVR ceiling yet
    if opts["ablation"] and "star" in backbones:
        tables.append(ablation_table(rs, summary, claims))
    if dims and "star" in backbones:
        tables.append(dims_table(rs, dims, summary, claims))
    claims.insert(0, epoch_limit_note(runs))
    figures = []
    if opts["tsne"] and "star" in backbones and has_model(out / "runs" / "star-usr" / "seed0"):
        lines, figures = _views_claims(out, data, summary)
        claims += lines
    report = Report(
        "usr: Unified Search and Recommendation over six multi-scenario backbones",
        f"Data {data.name}; search = {S}, recommendation = {R}; preset {opts['preset']}; CTR = click, CTCVR = "
        "click and conversion; Base = the backbone on the same input network (shared embeddings + BST interest"
        f"{', the query e_q included' if opts['base_query'] else ''}) with IE, FG and GLMT off. Oracle AUC: the simulator's true probabilities (p_click, p_click * "
        "p_conversion). Paper: Liu et al., SIGIR'24, table 1 and fig. 2.",
        tables, figures, claims)
    results = {"suite": "usr", "seeds": seeds, "preset": opts["preset"], "runs": runs, "summary": summary,
               "oracle": oracle, "claims": claims}
    report.write(out, results)
    if opts["publish"]:
        from unisr.bench.page import publish

        wins = sum(": holds (" in c for c in claims if c.startswith("Base+USR beats Base"))
        held = sum(": holds" in c for c in claims)
        count = f"{held} of {sum(': holds' in c or ': does not hold' in c for c in claims)} claims hold"
        figure = f"Base+USR beats Base in all four AUCs for {wins} of {len(backbones)} backbones; {count}"
        publish(Path(opts["publish"]), report.title, figure, tables[:1], [*claims, f"table 1: {figure}"],
                {**PAGE, "command": invocation()}, out / "report.md")
    for t in tables:
        console.print(t.markdown())
    for c in claims:
        console.print(f"- {c}")
    return results
