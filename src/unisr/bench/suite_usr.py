"""Suite ``usr``: USR (Liu et al., SIGIR'24) over six multi-scenario backbones on the simulated marketplace.

Search = ``search_text``, recommendation = ``feed_main`` (the loader keeps only these two scenarios; the
behaviour history mixes the clicks of every scenario). Re-tests table 1 (Base vs Base+USR, CTR and CTCVR AUC
in S and R), the ablation of fig. 2(b) on STAR, the embedding-size sweep of fig. 2(c) and the picture of
fig. 2(a). "Base" is the backbone on the same input network (shared embeddings + BST interest, ``[i_g, e_a,
e_s]``) with IE, FG and GLMT switched off, so that Δ measures USR's three layers.

Options through ``--set suite.<key>=...`` (removed before the runs): ``suite.preset`` = ``paper`` (the
paper's AdamW lr 1e-4, batch 1024, d 32; 20 epochs with early stopping) or ``quick`` (lr 1e-3, 8 epochs,
patience 2: for tiny data where 1e-4 does not move in a few hundred steps); ``suite.ablation`` (true);
``suite.dims`` ([16, 32, 64]); ``suite.tsne`` (true). Other ``--set`` values go to every run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console

from unisr.bench.report import Report, ReportTable, fmt, ttest_str
from unisr.bench.suites import (
    RunSpec,
    SuiteError,
    clearly_better,
    epoch_limit_note,
    has_model,
    run_matrix,
    suite,
    suite_options,
)
from unisr.evaluate.stats import mean_std

BACKBONES = ["shared_bottom", "mmoe", "ple", "star", "m2m", "apg"]
S, R = "search_text", "feed_main"
PRESETS = {
    "paper": [],  # the usr model defaults are the paper's (AdamW, lr 1e-4, batch 1024, d 32, λ, τ)
    "quick": ["train.lr=0.001", "train.epochs=8", "train.patience=2"],
}
# model selection on the mean of the click and click-and-buy validation AUCs: selecting on click AUC alone kept
# epochs whose CTCVR AUC was already falling (same rule for Base and Base+USR)
COMMON = [f"data.scenarios=[{S},{R}]", "train.progress=false", "train.monitor=auc+ctcvr_auc"]
BASE = ("model.use_ie=false", "model.use_fg=false", "model.use_glmt=false")
# paper table 1, Δ in AUC points (x100): (scenario, task) -> backbone -> Δ
PAPER_DELTA = {
    ("S", "ctcvr"): {"shared_bottom": 0.49, "mmoe": 0.25, "ple": 0.28, "star": 0.28, "m2m": 0.27, "apg": 0.16},
    ("S", "ctr"): {"shared_bottom": 0.41, "mmoe": 0.20, "ple": 0.14, "star": 0.15, "m2m": 0.35, "apg": 0.08},
    ("R", "ctcvr"): {"shared_bottom": 0.57, "mmoe": 0.51, "ple": 0.62, "star": 0.56, "m2m": 0.59, "apg": 0.62},
    ("R", "ctr"): {"shared_bottom": 0.40, "mmoe": 0.37, "ple": 0.09, "star": 0.17, "m2m": 0.44, "apg": 0.23},
}
METRICS = [("S", S, "ctcvr"), ("S", S, "ctr"), ("R", R, "ctcvr"), ("R", R, "ctr")]


def _options(sets: list[str]) -> tuple[dict, list[str]]:
    opts, rest = suite_options(sets, {"preset": "paper", "ablation": True, "dims": [16, 32, 64], "tsne": True})
    if opts["preset"] not in PRESETS:
        raise SuiteError(f"--set suite.preset={opts['preset']}: unknown; known: {', '.join(PRESETS)}")
    return opts, rest


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


def _metric(r: dict, scen: str, task: str) -> float:
    return float(r["scenarios"][scen][f"{task}_auc"])


def _tsne_figure(run_dir: Path, data: Path, path: Path, n: int = 1000) -> dict[str, float]:
    """Fig. 2(a): the S/R view representations of test samples in 2-D (t-SNE when scikit-learn is there, else
    PCA); returns the silhouette score of the view labels in the original space (>0: views separate)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from unisr.data.loader import DatasetContext, EventLoader
    from unisr.train.run import load_run

    cfg, encoder, net = load_run(run_dir)
    ctx = DatasetContext.open(data, encoder, history=cfg.data.history_len > 0, query_max_len=cfg.data.query_max_len)
    loader = EventLoader(ctx, "test", cfg.data.model_copy(update={"eval_batch_size": n}), train=False)
    batch = next(iter(loader.epoch(0)))
    with torch.no_grad():
        out = net(batch)
    try:
        from sklearn.manifold import TSNE
        from sklearn.metrics import silhouette_score

        def reduce(x: np.ndarray) -> np.ndarray:
            return TSNE(2, init="pca", perplexity=30, random_state=0).fit_transform(x)
        method = "t-SNE"
    except ImportError:  # pragma: no cover - scikit-learn is optional
        silhouette_score = None

        def reduce(x: np.ndarray) -> np.ndarray:
            xc = x - x.mean(0)
            return xc @ np.linalg.svd(xc, full_matrices=False)[2][:2].T
        method = "PCA"
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    sil = {}
    for ax, (title, a, b) in zip(axes, [("user interest i_s / i_r", "usr/i_s", "usr/i_r"),
                                        ("features f_s / f_r", "usr/f_s", "usr/f_r")], strict=True):
        if a not in out:
            ax.set_title(f"{title}: layer switched off")
            continue
        x = np.concatenate([out[a].numpy(), out[b].numpy()])
        lab = np.r_[np.zeros(len(out[a])), np.ones(len(out[b]))]
        z = reduce(x)
        ax.scatter(z[lab == 0, 0], z[lab == 0, 1], s=3, c="tab:blue", label="search view")
        ax.scatter(z[lab == 1, 0], z[lab == 1, 1], s=3, c="tab:orange", label="recommendation view")
        ax.set_title(f"{title} ({method})")
        ax.legend(markerscale=4)
        if silhouette_score is not None:
            sil[a[4]] = float(silhouette_score(x, lab))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return sil


def _holds(ok: bool) -> str:
    return "holds" if ok else "does not hold"


def _short(test: str) -> str:
    """``paired t-test t=.., p=..`` -> ``p=..`` (a claim line's compact form)."""
    return test.split(", ")[-1] if test.startswith("paired") else "margin only"


def table1_claim(backbone: str, base: list[list[float]], usr: list[list[float]]) -> str:
    """Table 1: Base+USR beats Base in each of the four AUCs (lists per metric of METRICS, paired by seed),
    each win by the margin + paired t-test rule (``suites.clearly_better``)."""
    wins, parts = [], []
    for b, u in zip(base, usr, strict=True):
        ok, test = clearly_better(u, b)
        wins.append(ok)
        parts.append(f"{(mean_std(u)[0] - mean_std(b)[0]) * 100:+.2f} ({_short(test)})")
    return (f"Base+USR beats Base for {backbone} in all four AUCs (S CTCVR, S CTR, R CTCVR, R CTR): "
            f"{_holds(all(wins))} (Δ pts: {', '.join(parts)}; {sum(wins)}/4 won by the margin + paired t-test rule)")


def ablation_claims(full: list[list[float]], variants: dict[str, list[list[float]]]) -> list[str]:
    """Fig. 2(b): each switched-off layer lowers the AUC. Per seed, the mean of the four AUCs (lists per metric,
    paired by seed) of the full model against the variant's, by ``suites.clearly_better``; then whether w/o
    GLMT brings the largest drop (largest mean drop, and that drop itself a significant one)."""
    def per_seed(v: list[list[float]]) -> list[float]:
        return [float(x) for x in np.mean(np.asarray(v, dtype=np.float64), axis=0)]

    f = per_seed(full)
    claims, drops, lowers = [], {}, {}
    for lab, v in variants.items():
        a = per_seed(v)
        ok, test = clearly_better(f, a)
        drops[lab], lowers[lab] = (mean_std(f)[0] - mean_std(a)[0]) * 100, ok
        claims.append(f"{lab} lowers AUC (STAR backbone): {_holds(ok)} (mean drop {drops[lab]:+.2f} pts over the "
                      f"four AUCs; {test})")
    if drops:
        worst = max(drops, key=drops.get)
        sig = "significant" if lowers[worst] else "not a significant drop"
        claims.append(f"w/o GLMT brings the largest drop: {_holds(worst == 'w/o GLMT' and lowers[worst])} "
                      f"(largest: {worst}, {drops[worst]:+.2f} pts, {sig})")
    return claims


def dims_claim(by_dim: dict[int, list[list[float]]]) -> str:
    """Fig. 2(c): d = 32 gives the best AUC in all four metrics: in each metric (lists per metric, paired by
    seed) d = 32 beats every other d by ``suites.clearly_better``."""
    if len(by_dim) < 2 or 32 not in by_dim:
        return "d = 32 gives the best AUC in all four metrics: n/a (only d = 32 was run)"
    best, wins = [], 0
    for k in range(4):
        best.append(max(by_dim, key=lambda d: mean_std(by_dim[d][k])[0]))
        wins += all(clearly_better(by_dim[32][k], by_dim[d][k])[0] for d in by_dim if d != 32)
    return (f"d = 32 gives the best AUC in all four metrics: {_holds(wins == 4)} (best d by mean per metric "
            f"S CTCVR/S CTR/R CTCVR/R CTR: {best}; d = 32 significantly ahead of every other d in {wins}/4)")


@suite("usr")
def usr_suite(out: Path, data: Path | None, seeds: int, sets: list[str], models: list[str] | None,
              console: Console) -> dict:
    """USR over six backbones: table 1, ablation fig. 2(b), embedding size fig. 2(c), views picture fig. 2(a)."""
    out = Path(out)
    if data is None or not (Path(data) / "dataset.yaml").exists():
        raise SuiteError("suite usr needs --data DIR: a simulated marketplace (unisr simulate --preset small --out DIR)")
    data = Path(data)
    from unisr.data.schema import DatasetSpec

    names = {s.name for s in DatasetSpec.load(data).scenarios}
    if not {S, R} <= names:
        raise SuiteError(f"suite usr needs scenarios {S!r} and {R!r} (the simulated marketplace); {data} has "
                         f"{sorted(names)}")
    opts, sets = _options(sets)
    backbones = models or BACKBONES
    unknown = set(backbones) - set(BACKBONES)
    if unknown:
        raise SuiteError(f"--models: unknown backbones {sorted(unknown)}; known: {', '.join(BACKBONES)}")
    rows = []
    for b in backbones:
        rows += [RunSpec(f"{b}-base", "usr", (f"model.backbone={b}", *BASE)), RunSpec(f"{b}-usr", "usr",
                                                                                        (f"model.backbone={b}",))]
    ablation = {"w/o S&R Views IE": "model.use_ie=false", "w/o S&R Views FG": "model.use_fg=false",
                "w/o GLMT": "model.use_glmt=false"}
    star = "star" in backbones
    if opts["ablation"] and star:
        rows += [RunSpec(f"star-usr-{s.split('.')[1].split('=')[0].replace('use_', 'no_')}", "usr",
                         ("model.backbone=star", s)) for s in ablation.values()]
    dims = [int(d) for d in opts["dims"] or []]
    rows += [RunSpec(f"star-usr-d{d}", "usr", ("model.backbone=star", f"model.dim={d}", f"data.embed_dim={d}"))
             for d in dims if d != 32 and star]
    common = [*COMMON, *PRESETS[opts["preset"]], *sets]
    runs = run_matrix(rows, data, out, seeds, common, console, train_missing=bool(opts["train"]),
                      record=opts["record"] or None, seeds_only=opts["seeds_only"],
                      rows_only=opts["rows_only"])
    by: dict[str, list[dict]] = {}
    for r in runs:
        by.setdefault(r["run_name"], []).append(r)
    oracle = ctcvr_oracle(data)

    def vals(name: str, scen: str, task: str, on: set[int] | None = None) -> list[float]:
        """A row's metric per seed, in seed order; ``on``: only those seeds (paired comparisons)."""
        rs = sorted(by.get(name, []), key=lambda r: r["run_seed"])
        return [_metric(r, scen, task) for r in rs if on is None or r["run_seed"] in on]

    def common(*names: str) -> set[int]:
        """The seeds every one of ``names`` finished: paired tests compare the same seeds, not list positions."""
        return set.intersection(*({r["run_seed"] for r in by.get(n, [])} for n in names))

    backbones = [b for b in backbones if f"{b}-base" in by and f"{b}-usr" in by]  # suite.train=false: finished
    if not backbones:
        raise SuiteError(f"no backbone has finished Base and Base+USR runs under {out / 'runs'}")

    claims: list[str] = []
    # ---------------------------------------------------------------- table 1
    t1 = []
    summary: dict = {"table1": {}, "ablation": {}, "dims": {}}
    for b in backbones:
        for sk, scen, task in METRICS:
            base, usr = vals(f"{b}-base", scen, task), vals(f"{b}-usr", scen, task)
            on = common(f"{b}-base", f"{b}-usr")
            d = (mean_std(usr)[0] - mean_std(base)[0]) * 100
            pos = by[f"{b}-usr"][0]["scenarios"][scen].get(f"{task}_positives", "?")
            t1.append([sk, b, task.upper(), fmt(base, n=seeds), fmt(usr, n=seeds), f"{d:+.2f}", f"{PAPER_DELTA[(sk, task)][b]:+.2f}",
                       ttest_str(vals(f"{b}-usr", scen, task, on), vals(f"{b}-base", scen, task, on)), f"{oracle[scen][task]:.4f}", str(pos)])
            summary["table1"].setdefault(b, {})[f"{sk}_{task}"] = {"base": base, "usr": usr, "delta_pts": d}
        on = common(f"{b}-base", f"{b}-usr")
        claims.append(table1_claim(b, [vals(f"{b}-base", sc, t, on) for _, sc, t in METRICS],
                                   [vals(f"{b}-usr", sc, t, on) for _, sc, t in METRICS]))
    tables = [ReportTable(
        f"Table 1: test AUC, Base vs Base+USR, mean ± std over {seeds} seeds (Δ in AUC points x100; paper Δ beside)",
        ["scenario", "backbone", "task", "Base", "Base+USR", "Δ", "paper Δ", "paired t-test", "oracle AUC",
         "test positives"], t1)]
    # ------------------------------------------------------------- ablation
    if opts["ablation"] and "star" in backbones:
        ab = []
        full = {m: mean_std(vals("star-usr", scen, task))[0] for m, scen, task in
                [(f"{sk}_{t}", sc, t) for sk, sc, t in METRICS]}
        variants = [("USR (full)", "star-usr")] + [
            (lab, f"star-usr-{s.split('.')[1].split('=')[0].replace('use_', 'no_')}") for lab, s in ablation.items()]
        for lab, name in variants:
            cells = [fmt(vals(name, scen, task)) for _, scen, task in METRICS]
            ab.append([lab, *cells])
            if name != "star-usr" and name in by:
                summary["ablation"][lab] = [full[f"{sk}_{t}"] - mean_std(vals(name, sc, t))[0]
                                            for sk, sc, t in METRICS]
        ab.append(["Base (all off)", *[fmt(vals("star-base", sc, t)) for _, sc, t in METRICS]])
        on = common(*(name for _, name in variants if name in by))
        claims += ablation_claims([vals("star-usr", sc, t, on) for _, sc, t in METRICS],
                                  {lab: [vals(name, sc, t, on) for _, sc, t in METRICS] for lab, name in variants
                                   if name != "star-usr" and name in by})
        tables.append(ReportTable("Fig. 2(b): ablation on STAR, test AUC",
                                  ["variant", "S CTCVR", "S CTR", "R CTCVR", "R CTR"], ab))
    # ----------------------------------------------------------------- dims
    if dims and "star" in backbones:
        dm = []
        means, by_dim = {}, {}
        dim_names = {d: "star-usr" if d == 32 else f"star-usr-d{d}" for d in sorted(set(dims) | {32})}
        for d, name in dim_names.items():
            by_dim[d] = [vals(name, sc, t) for _, sc, t in METRICS]
            dm.append([str(d), *[fmt(v) for v in by_dim[d]]])
            means[d] = [mean_std(v)[0] for v in by_dim[d]]
        summary["dims"] = means
        on = common(*(n for n in dim_names.values() if n in by))
        claims.append(dims_claim({d: [vals(n, sc, t, on) for _, sc, t in METRICS] for d, n in dim_names.items()
                                  if n in by}))
        tables.append(ReportTable("Fig. 2(c): embedding size d (STAR + USR), test AUC",
                                  ["d", "S CTCVR", "S CTR", "R CTCVR", "R CTR"], dm))
    claims.insert(0, epoch_limit_note(runs))
    # ------------------------------------------------------------------ fig
    figures = []
    if opts["tsne"] and "star" in backbones and has_model(out / "runs" / "star-usr" / "seed0"):
        png = out / "views.png"
        sil = _tsne_figure(out / "runs" / "star-usr" / "seed0", data, png)
        for k, v in sil.items():
            claims.append(f"contrastive learning separates the S and R views of {k} (silhouette of the view "
                          f"labels > 0 on 1000 test samples): {_holds(v > 0)} (silhouette {v:.3f})")
        summary["silhouette"] = sil
        figures.append(("Fig. 2(a): S/R view representations of test samples (STAR + USR, seed 0)", png))
    report = Report(
        "usr: Unified Search and Recommendation over six multi-scenario backbones",
        f"Data {data.name}; search = {S}, recommendation = {R}; preset {opts['preset']}; CTR = click, CTCVR = "
        "click and conversion; Base = the backbone on the same input network (shared embeddings + BST interest) "
        "with IE, FG and GLMT off. Oracle AUC: the simulator's true probabilities (p_click, p_click * "
        "p_conversion). Paper: Liu et al., SIGIR'24, table 1 and fig. 2.",
        tables, figures, claims)
    results = {"suite": "usr", "seeds": seeds, "preset": opts["preset"], "runs": runs, "summary": summary,
               "oracle": oracle, "claims": claims}
    report.write(out, results)
    for t in tables:
        console.print(t.markdown())
    for c in claims:
        console.print(f"- {c}")
    return results
