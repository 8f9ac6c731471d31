"""Suite ``treems``: TreeMS (Niu et al., WSDM'21) against its table-2 baselines on the simulated marketplace's
sharing scenarios (``../shared/papers/003_7262faa8dd51c9b6.txt``, sec. 4).

Re-tests table 2 (every baseline, TreeMS and its switches: no tree, no graph, no inconsistency loss, each view
off), the head-vs-long-tail comparison of figs. 5-6, the expert utilisation of figs. 7-8 and the scenario
representations of fig. 9, and prints every claim as holds / does not hold with its numbers, the oracle AUC
(the simulator's true click probabilities) beside.

Protocol: every model with its registered defaults, which are TreeMS's for all of them (share scenarios only,
Adagrad lr 0.1 (chosen on validation; the paper does not give it), weight decay 1e-6, batch 1024; the whole
epoch budget with the best validation-AUC epoch kept, no early stop: ``NO_EARLY_STOP``); the social graph is
built from the weeks before training (the dataset's background window), train on one period, test on the next.

Head / long tail: share leaves ranked by their TRAIN impressions; the head = the 5 busiest leaves, the long tail
= the leaves after the first 80% of the train traffic. Figs. 5-6 show the head leaves and the 5 quietest
long-tail leaves whose test split has both a click and a non-click; "head (pooled)" and "long tail (pooled)"
re-evaluate every run on the test events of all head / all long-tail leaves together.

Options through ``--set suite.<key>=...`` (removed before the runs): ``suite.switches`` (true: TreeMS's
switches as extra rows), ``suite.figures`` (true: figs. 7-9 from the trained runs). Other ``--set`` values go
to every run (e.g. ``train.epochs=4`` for a quick look). ``--data`` defaults to the simulator's ``small``
preset, simulated into ``OUT/data``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from rich.console import Console

from unisr.bench.report import Report, ReportTable, bar_plot, fmt
from unisr.bench.suites import (
    RunSpec,
    SuiteError,
    clearly_better,
    clearly_greater,
    epoch_limit_note,
    has_model,
    run_matrix,
    suite,
    suite_options,
)
from unisr.evaluate.stats import mean_std

METRICS = ["auc", "gauc", "mrr", "hr@5", "hr@10"]
# table 2 of the paper (Taobao sharing logs, July 2020), for reference beside ours
PAPER_TABLE2 = {
    "DNN": (0.7347, 0.6946, 0.6741, 0.6396, 0.8325),
    "CUNE": (0.7429, 0.6963, 0.6669, 0.6401, 0.8232),
    "DiffNet": (0.7530, 0.6974, 0.6683, 0.6416, 0.8256),
    "PinSage_A": (0.7548, 0.7001, 0.6679, 0.6450, 0.8350),
    "PinSage_M": (0.7536, 0.6982, 0.6645, 0.6427, 0.8314),
    "PinSage_L": (0.7552, 0.7017, 0.6691, 0.6483, 0.8342),
    "GAT": (0.7513, 0.6978, 0.6628, 0.6413, 0.8306),
    "Multi-Scenario": (0.7385, 0.6949, 0.6752, 0.6411, 0.8323),
    "MMoE": (0.7579, 0.7009, 0.6657, 0.6467, 0.8349),
    "ScenarioMeta": (0.7557, 0.6948, 0.6637, 0.6417, 0.8278),
    "TreeMS": (0.7737, 0.7097, 0.6848, 0.6544, 0.8460),
}
# (row name = run folder, registered model, sets, paper name)
TABLE2_ROWS = [
    RunSpec("DNN", "share_dnn"),
    RunSpec("CUNE", "cune"),
    RunSpec("DiffNet", "diffnet"),
    RunSpec("PinSage_A", "pinsage", ("model.aggregator=mean",)),
    RunSpec("PinSage_M", "pinsage", ("model.aggregator=max",)),
    RunSpec("PinSage_L", "pinsage", ("model.aggregator=lstm",)),
    RunSpec("GAT", "social_gat"),
    RunSpec("Multi-Scenario", "multi_scenario"),
    RunSpec("MMoE", "share_mmoe"),
    RunSpec("ScenarioMeta", "scenario_meta"),
    RunSpec("TreeMS", "treems"),
]
SWITCH_ROWS = [
    RunSpec("TreeMS-no-tree", "treems", ("model.use_tree=false",)),
    RunSpec("TreeMS-no-graph", "treems", ("model.use_graph=false",)),
    RunSpec("TreeMS-no-Laux", "treems", ("model.use_inconsistency=false",)),
    RunSpec("TreeMS-no-friend", "treems", ("model.views=[pay,share]",)),
    RunSpec("TreeMS-no-pay", "treems", ("model.views=[friend,share]",)),
    RunSpec("TreeMS-no-share", "treems", ("model.views=[friend,pay]",)),
]
BASELINES = [r.name for r in TABLE2_ROWS if r.name != "TreeMS"]
SOCIAL = ["DNN", "CUNE"]
GRAPH = ["DiffNet", "PinSage_A", "PinSage_M", "PinSage_L", "GAT"]
FIG56 = ["TreeMS", "MMoE", "PinSage_A", "DNN"]  # the models of figs. 5-6
# every model gets the whole epoch budget and keeps its best validation epoch: TreeMS and its no-tree switch sit
# on the base-rate plateau (click loss ~0.50, near-constant logits) for several epochs at Adagrad lr 0.1, and
# patience 4 stopped TreeMS at epoch 5 with its best at epoch 1 (2026-12-02); every baseline ran all 20 epochs
# anyway, so this changes none of their results
NO_EARLY_STOP = "train.patience=1000"


def _options(sets: list[str]) -> tuple[dict, list[str]]:
    opts, rest = suite_options(sets, {"switches": True, "figures": True})
    return opts, rest


def ensure_share_data(data: Path | None, out: Path, console: Console) -> Path:
    """``data`` if it is a canonical dataset with share scenarios, else the simulated ``small`` marketplace."""
    from unisr.data.schema import DatasetSpec

    if data is None:
        data = out / "data"
        if not (data / "dataset.yaml").exists():
            from unisr.simulate.api import simulate

            console.print(f"simulating the small marketplace into {data}")
            simulate("small", data, 0)
    if not (data / "dataset.yaml").exists():
        raise SuiteError(f"{data}: no dataset.yaml; pass --data with a canonical dataset (e.g. unisr simulate)")
    spec = DatasetSpec.load(data)
    if not any(str(s.kind).endswith("share") for s in spec.scenarios):
        raise SuiteError(f"{data}: no share scenarios; TreeMS needs a dataset with kind 'share' scenarios")
    if not (Path(data) / "social.parquet").exists():
        raise SuiteError(f"{data}: no social.parquet; TreeMS's graph needs the users' social views")
    return Path(data)


def share_leaves(data: Path) -> list[tuple[str, list[str]]]:
    """(name, tree_path) of every share scenario, in scenario-id order."""
    from unisr.data.schema import DatasetSpec

    spec = DatasetSpec.load(data)
    return [(s.name, list(s.tree_path or [s.name])) for s in sorted(spec.scenarios, key=lambda s: s.id)
            if str(s.kind).endswith("share")]


def train_traffic(data: Path) -> dict[str, int]:
    """Impressions per scenario name in the TRAIN split (the split rule of the dataset)."""
    from unisr.data.reader import iter_row_groups
    from unisr.data.schema import DatasetSpec
    from unisr.data.split import SPLIT_CODES, SplitAssigner

    spec = DatasetSpec.load(data)
    assigner = SplitAssigner.for_dataset(data, spec.split)
    names = {s.id: s.name for s in spec.scenarios}
    counts: dict[int, int] = {}
    cols = ["event_id", "ts", "scenario_id"] + ([assigner.key_column] if assigner.key_column else [])
    for _, _, t in iter_row_groups(data, "events", cols):
        split_col = None
        if "split" in t.column_names:
            split_col = t["split"].to_numpy(zero_copy_only=False)
        codes = assigner.assign(t["event_id"].to_numpy(), t["ts"].to_numpy(), split_col,
                                t[assigner.key_column].to_numpy() if assigner.key_column else None)
        scen = t["scenario_id"].to_numpy()[codes == SPLIT_CODES["train"]]
        ids, n = np.unique(scen, return_counts=True)
        for i, c in zip(ids.tolist(), n.tolist(), strict=True):
            counts[i] = counts.get(i, 0) + c
    return {names[i]: c for i, c in counts.items() if i in names}


def pooled_metrics(run: Path, data: Path, scenarios: list[str]) -> dict:
    """Re-evaluate a run on the test events of ``scenarios`` pooled together (overall block)."""
    from unisr.data.loader import DatasetContext, EventLoader
    from unisr.evaluate.evaluator import evaluate_model
    from unisr.train.run import load_run, make_hook, with_hook

    cfg, encoder, net = load_run(run)
    cfg.data.scenarios = list(scenarios)
    ctx = DatasetContext.open(data, encoder, history=cfg.data.history_len > 0, query_max_len=cfg.data.query_max_len)
    loader = EventLoader(ctx, "test", cfg.data, train=False)
    hook = make_hook(cfg, data, encoder, ctx)
    res = evaluate_model(net, with_hook(loader.epoch, hook, -2)(0), encoder.schema.scenarios)
    return res["click"]["overall"]


def head_tail(traffic: dict[str, int], leaves: list[str], test_ok: set[str], k: int = 5, tail_from: float = 0.8
              ) -> tuple[list[str], list[str], list[str], list[str]]:
    """Leaves ranked by train traffic: (head = the k busiest, long tail = the leaves after the first ``tail_from``
    of the train traffic (never the head), the k head leaves with a usable test split, the k quietest long-tail
    leaves with a usable test split)."""
    ranked = sorted(leaves, key=lambda s: (-traffic.get(s, 0), s))
    total = sum(traffic.get(s, 0) for s in ranked) or 1
    head = ranked[:k]
    tail, cum = [], 0
    for s in ranked:
        if cum >= tail_from * total and s not in head:
            tail.append(s)
        cum += traffic.get(s, 0)
    if not tail:
        tail = ranked[k:]
    head5 = [s for s in head if s in test_ok]
    tail5 = [s for s in reversed(tail) if s in test_ok][:k]
    return head, tail, head5, tail5


# ------------------------------------------------------------------------------------------ figures 7-9
def gate_utilisation(run: Path, leaves: list[str], weights: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """TreeMS gate weights (eq. 6) of a trained run: (of the busiest leaf [H, n], traffic-weighted mean over the
    share leaves [H, n]). Gates depend only on the scenario, so these are exact, not sampled."""
    import torch

    from unisr.train.run import load_run

    _, encoder, net = load_run(run)
    idx = torch.tensor([encoder.schema.scenarios.index(s) for s in leaves])
    with torch.no_grad():
        g = net.tree(idx)[0].numpy()  # [S, H, n]
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1 / len(w))
    return g[int(np.argmax(w))], np.einsum("s,shn->hn", w, g)


def norm_entropy(g: np.ndarray) -> np.ndarray:
    """Per layer entropy of the gate distribution / log n (1 = every expert used equally). [H, n] -> [H]."""
    p = np.clip(g, 1e-12, 1)
    return -(p * np.log(p)).sum(-1) / math.log(g.shape[-1])


def scenario_representations(run: Path, leaves: list[str]) -> np.ndarray:
    """The model's learned scenario representation of each leaf ([S, d]): ``scenario_representations()``."""
    from unisr.train.run import load_run

    _, encoder, net = load_run(run)
    reps = net.scenario_representations().cpu().numpy()
    return reps[[encoder.schema.scenarios.index(s) for s in leaves]]


def untrained_representations(run: Path, leaves: list[str]) -> np.ndarray:
    """The same model as ``run``, freshly initialised (seed 0): what the representations are before training."""
    import torch

    from unisr.models.registry import build_model
    from unisr.train.run import load_run

    cfg, encoder, _ = load_run(run)
    torch.manual_seed(0)
    net = build_model(cfg.model_name, cfg.model_params, encoder.schema).eval()
    reps = net.scenario_representations().cpu().numpy()
    return reps[[encoder.schema.scenarios.index(s) for s in leaves]]


def pca2(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:2].T if vt.shape[0] >= 2 else np.hstack([x @ vt[:1].T, np.zeros((len(x), 1))])


def silhouette(x: np.ndarray, labels: list[str]) -> float:
    """Mean silhouette of the labels in x (Euclidean); NaN with fewer than 2 groups."""
    lab = np.asarray(labels)
    groups = np.unique(lab)
    if len(groups) < 2 or len(x) < 3:
        return float("nan")
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    s = []
    for i in range(len(x)):
        same = (lab == lab[i]) & (np.arange(len(x)) != i)
        if not same.any():
            continue
        a = d[i, same].mean()
        b = min(d[i, lab == g].mean() for g in groups if g != lab[i])
        s.append((b - a) / max(a, b, 1e-12))
    return float(np.mean(s)) if s else float("nan")


def heatmaps(path: Path, mats: dict[str, np.ndarray], title: str) -> Path:
    import matplotlib.pyplot as plt  # after unisr.bench.report chose the Agg backend

    fig, axes = plt.subplots(1, len(mats), figsize=(4.2 * len(mats), 3.2), squeeze=False)
    vmax = max(float(m.max()) for m in mats.values())
    for ax, (name, m) in zip(axes[0], mats.items(), strict=True):
        im = ax.imshow(m, vmin=0, vmax=vmax, cmap="viridis", aspect="auto")
        ax.set_xlabel("expert")
        ax.set_ylabel("layer")
        ax.set_xticks(range(m.shape[1]))
        ax.set_yticks(range(m.shape[0]), [str(i + 1) for i in range(m.shape[0])])
        ax.set_title(name, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def scatter2d(path: Path, panels: dict[str, np.ndarray], labels: list[str], title: str) -> Path:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    groups = sorted(set(labels))
    cmap = plt.get_cmap("tab10")
    for ax, (name, xy) in zip(axes[0], panels.items(), strict=True):
        for gi, g in enumerate(groups):
            m = np.asarray([lab == g for lab in labels])
            ax.scatter(xy[m, 0], xy[m, 1], s=30, color=cmap(gi % 10), label=g)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------- the suite
def _mean(runs: list[dict], key: str, scenario: str | None = None) -> float:
    vals = [(r["overall"] if scenario is None else r["scenarios"].get(scenario, {})).get(key, float("nan"))
            for r in runs]
    return mean_std(vals)[0]


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("holds" if ok else "does not hold")


@suite("treems")
def treems_suite(out: Path, data: Path | None, seeds: int, sets: list[str], models: list[str] | None,
                 console: Console) -> dict:
    """TreeMS vs its table-2 baselines on the simulated sharing scenarios (table 2, figs. 5-9)."""
    out = Path(out)
    opts, sets = _options(sets)
    data = ensure_share_data(Path(data) if data else None, out, console)
    rows = TABLE2_ROWS + (SWITCH_ROWS if opts["switches"] else [])
    if models:
        known = {r.name for r in rows} | {r.model for r in rows}
        unknown = [m for m in models if m not in known]
        if unknown:
            raise SuiteError(f"--models: unknown {unknown}; known rows: {', '.join(r.name for r in rows)}")
        rows = [r for r in rows if r.name in models or r.model in models]
    common = [f"data.graph_dir={out / 'graph'}", "train.progress=false", NO_EARLY_STOP, *sets]
    runs = run_matrix(rows, data, out, seeds, common, console, train_missing=bool(opts["train"]),
                      record=opts["record"] or None, seeds_only=opts["seeds_only"],
                      rows_only=opts["rows_only"])
    if not runs:
        raise SuiteError(f"no finished runs under {out / 'runs'}")
    by: dict[str, list[dict]] = {}
    for r in runs:
        by.setdefault(r["run_name"], []).append(r)
    names = list(by)
    leaves_tp = share_leaves(data)
    leaves = [n for n, _ in leaves_tp]
    traffic = train_traffic(data)
    claims: list[str] = []
    tables: list[ReportTable] = []
    figures: list[tuple[str, Path]] = []
    summary: dict = {"rows": {}, "traffic": {s: traffic.get(s, 0) for s in leaves}}

    # ---- table 2
    oracle = _mean(next(iter(by.values())), "oracle_auc")
    t2 = []
    for n in names:
        rs = by[n]
        summary["rows"][n] = {m: [r["overall"].get(m, float("nan")) for r in rs] for m in METRICS}
        pub = PAPER_TABLE2.get(n)
        t2.append([n, *[fmt(summary["rows"][n][m], n=seeds) for m in METRICS], f"{oracle:.4f}",
                   " / ".join(f"{x:.4f}" for x in pub) if pub else "-"])
    tables.append(ReportTable(
        f"Table 2: share scenarios, test split, mean ± std over {seeds} seed(s)",
        ["model", "AUC", "GAUC", "MRR", "HR@5", "HR@10", "oracle AUC", "paper AUC / GAUC / MRR / HR@5 / HR@10"],
        t2, "oracle AUC = AUC of the simulator's true click probabilities on the same test events (the ceiling); "
            "the paper's numbers are on Taobao's logs, for reference only."))
    base = [b for b in BASELINES if b in by]
    if "TreeMS" in by and base:
        for m in METRICS:
            best = max(base, key=lambda b: _mean(by[b], m))
            tv, bv = _mean(by["TreeMS"], m), _mean(by[best], m)
            ok, tt = clearly_better(summary["rows"]["TreeMS"][m], summary["rows"][best][m])
            claims.append(f"[table 2] TreeMS beats the best baseline on {m.upper()} (p < 0.05 where seeds allow): "
                          f"{_verdict(ok)} (TreeMS {tv:.4f} vs {best} {bv:.4f}, "
                          f"{100 * (tv - bv) / bv:+.2f}%; {tt}; oracle AUC {oracle:.4f})")
    soc, gr = [b for b in SOCIAL if b in by], [b for b in GRAPH if b in by]
    if soc and gr:
        bs = max(soc, key=lambda b: _mean(by[b], "auc"))
        bg = max(gr, key=lambda b: _mean(by[b], "auc"))
        ok, tt = clearly_better(summary["rows"][bg]["auc"], summary["rows"][bs]["auc"])
        claims.append(f"[4.2] graph-based methods beat the social-recommendation ones (best AUC): "
                      f"{_verdict(ok)} ({bg} {_mean(by[bg], 'auc'):.4f} vs {bs} {_mean(by[bs], 'auc'):.4f}; {tt})")
    if "MMoE" in by and "Multi-Scenario" in by:
        a, b = _mean(by["MMoE"], "auc"), _mean(by["Multi-Scenario"], "auc")
        ok, tt = clearly_better(summary["rows"]["MMoE"]["auc"], summary["rows"]["Multi-Scenario"]["auc"])
        claims.append(f"[4.2] mixture of experts beats a simple scenario-aware layer (MMoE vs Multi-Scenario "
                      f"AUC): {_verdict(ok)} ({a:.4f} vs {b:.4f}; {tt})")
    for sw, what in (("TreeMS-no-tree", "the scenario tree"), ("TreeMS-no-graph", "the multi-view graph"),
                     ("TreeMS-no-Laux", "the inconsistency loss"), ("TreeMS-no-friend", "the friend view"),
                     ("TreeMS-no-pay", "the pay view"), ("TreeMS-no-share", "the share view")):
        if sw in by and "TreeMS" in by:
            a, b = _mean(by["TreeMS"], "auc"), _mean(by[sw], "auc")
            ok, tt = clearly_better(summary["rows"]["TreeMS"]["auc"], summary["rows"][sw]["auc"])
            claims.append(f"[switch] {what} helps TreeMS (AUC with vs without, p < 0.05 where seeds allow): "
                          f"{_verdict(ok)} ({a:.4f} vs {b:.4f}; {tt})")

    # ---- figs. 5-6: head vs long tail
    any_runs = next(iter(by.values()))
    test_ok = {s for s in leaves if all(math.isfinite(r["scenarios"].get(s, {}).get("auc", float("nan")))
                                        for r in any_runs)}
    head, tail, head5, tail5 = head_tail(traffic, leaves, test_ok)
    summary["head"], summary["tail"], summary["head5"], summary["tail5"] = head, tail, head5, tail5
    fig_models = [m for m in FIG56 if m in by] or names[:4]
    pooled: dict[str, dict[str, list[dict]]] = {"head": {}, "long tail": {}}
    for n in fig_models:
        for grp, scen in (("head", head), ("long tail", tail)):
            if scen:
                pooled[grp][n] = [{**pooled_metrics(Path(r["run_dir"]), data, scen), "seed": r["run_seed"]}
                                  for r in by[n] if has_model(r["run_dir"])]  # a recorded run has no weights
    summary["pooled"] = pooled
    ht_rows = []
    for n in fig_models:
        for grp in ("head", "long tail"):
            ps = pooled[grp].get(n, [])
            ht_rows.append([n, f"{grp} (pooled)", *[fmt([p.get(m, float("nan")) for p in ps]) for m in
                                                    ("auc", "mrr", "hr@5")],
                            fmt([p.get("oracle_auc", float("nan")) for p in ps]), str(ps[0]["n"] if ps else 0)])
        for s in head5 + tail5:
            rs = by[n]
            ht_rows.append([n, ("H: " if s in head5 else "T: ") + s,
                            *[fmt([r["scenarios"][s].get(m, float("nan")) for r in rs]) for m in ("auc", "mrr", "hr@5")],
                            fmt([r["scenarios"][s].get("oracle_auc", float("nan")) for r in rs]),
                            str(rs[0]["scenarios"][s]["n"])])
    tables.append(ReportTable(
        "Figs. 5-6: head vs long-tail leaves (test split)", ["model", "leaves", "AUC", "MRR", "HR@5", "oracle AUC",
                                                             "test n"], ht_rows,
        f"head = the {len(head)} busiest leaves by train impressions, long tail = the {len(tail)} leaves after the "
        f"first 80% of the train traffic; H: head leaves with both classes in test, T: the 5 quietest long-tail "
        f"leaves with both classes in test. Train "
        f"impressions: " + ", ".join(f"{s} {traffic.get(s, 0)}" for s in head5 + tail5)))
    sel = head5 + tail5
    if sel:
        groups = [f"H{i + 1}" for i in range(len(head5))] + [f"T{i + 1}" for i in range(len(tail5))]
        for metric in ("auc", "mrr", "hr@5"):
            series = {n: [mean_std([r["scenarios"][s].get(metric, float("nan")) for r in by[n]]) for s in sel]
                      for n in fig_models}
            path = bar_plot(out / f"fig5_6_{metric.replace('@', '')}.png", groups, series, f"test {metric.upper()}",
                            f"head (H) and long-tail (T) leaves: {metric.upper()}")
            figures.append((f"Figs. 5-6: {metric.upper()} in the 5 head (H1-H5) and 5 long-tail (T1-T5) leaves; "
                            + ", ".join(f"{g} = {s}" for g, s in zip(groups, sel, strict=True)), path))
    if "TreeMS" in pooled["long tail"] and len(fig_models) > 1:
        others = [n for n in fig_models if n != "TreeMS"]

        def pooled_auc(grp: str, n: str, seeds: list[int] | None = None) -> list[float]:
            return [p["auc"] for p in pooled[grp][n] if seeds is None or p["seed"] in seeds]

        def common(grp: str, a: str, b: str) -> list[int]:
            """The seeds both runs have weights for: a paired test pairs by seed, not by list position."""
            return sorted({p["seed"] for p in pooled[grp][a]} & {p["seed"] for p in pooled[grp][b]})

        def best_other(grp: str) -> str:
            return max(others, key=lambda o: mean_std(pooled_auc(grp, o))[0])

        for grp in ("head", "long tail"):
            if pooled[grp]:
                best = best_other(grp)
                both = common(grp, "TreeMS", best)
                ok, tt = clearly_better(pooled_auc(grp, "TreeMS", both), pooled_auc(grp, best, both))
                mg = mean_std(pooled_auc(grp, "TreeMS"))[0] - mean_std(pooled_auc(grp, best))[0]
                claims.append(f"[figs. 5-6] TreeMS beats {', '.join(others)} on the pooled {grp} leaves (AUC): "
                              f"{_verdict(ok)} (margin over {best} {mg:+.4f}; {tt})")
        if pooled["head"]:
            # per-seed margins over the long tail's best other model, in both groups (paired by seed)
            best = best_other("long tail")
            both = sorted(set(common("head", "TreeMS", best)) & set(common("long tail", "TreeMS", best)))
            mh, mt = ([t - o for t, o in zip(pooled_auc(g, "TreeMS", both), pooled_auc(g, best, both), strict=True)]
                      for g in ("head", "long tail"))
            ok, tt = clearly_better(mt, mh)
            claims.append(f"[figs. 5-6] TreeMS's margin over {best} is larger on the long tail than on the head "
                          f"(AUC): {_verdict(ok)} (long tail {mean_std(mt)[0]:+.4f} vs head "
                          f"{mean_std(mh)[0]:+.4f}; {tt})")
        for n5, grp in ((head5, "head"), (tail5, "long-tail")):
            wins = sum(_mean(by["TreeMS"], "auc", s) > max(_mean(by[o], "auc", s) for o in others) for s in n5)
            if n5:
                claims.append(f"[figs. 5-6] TreeMS best of {', '.join(fig_models)} in each of the {len(n5)} "
                              f"{grp} leaves (AUC): {_verdict(wins == len(n5))} ({wins}/{len(n5)} leaves)")

    # ---- figs. 7-8: expert utilisation with / without the inconsistency loss
    seed0 = {n: out / "runs" / n / "seed0" for n in ("TreeMS", "TreeMS-no-Laux", "MMoE")}
    figs_ok = opts["figures"] and all(n in by and has_model(seed0[n]) for n in ("TreeMS", "TreeMS-no-Laux"))
    if figs_ok:
        w = [traffic.get(s, 0) for s in leaves]
        one_with, avg_with = gate_utilisation(out / "runs" / "TreeMS" / "seed0", leaves, w)
        one_wo, avg_wo = gate_utilisation(out / "runs" / "TreeMS-no-Laux" / "seed0", leaves, w)
        busiest = leaves[int(np.argmax(w))]
        figures.append((f"Figs. 7-8: gate weights per layer (rows) and expert (columns), seed 0, leaf {busiest} "
                        "and the traffic-weighted mean over leaves",
                        heatmaps(out / "fig7_8_experts.png",
                                 {f"w/o L_aux, {busiest}": one_wo, "w/o L_aux, mean": avg_wo,
                                  f"with L_aux, {busiest}": one_with, "with L_aux, mean": avg_with},
                                 "expert utilisation (eq. 6 gates)")))
        e_wo, e_with = norm_entropy(one_wo), norm_entropy(one_with)
        summary["experts"] = {"without": one_wo.tolist(), "with": one_with.tolist(),
                              "entropy_without": e_wo.tolist(), "entropy_with": e_with.tolist()}
        tables.append(ReportTable(
            f"Figs. 7-8: expert utilisation of leaf {busiest} (seed 0)",
            ["layer", "entropy / log n w/o L_aux", "max gate w/o L_aux", "entropy / log n with L_aux",
             "max gate with L_aux"],
            [[str(i + 1), f"{e_wo[i]:.3f}", f"{one_wo[i].max():.3f}", f"{e_with[i]:.3f}", f"{one_with[i].max():.3f}"]
             for i in range(len(e_wo))], "1.000 = every expert used equally; 1/n max gate = uniform."))
        claims.append(f"[figs. 7-8] the inconsistency loss balances the experts (mean normalised gate entropy "
                      f"over layers higher with it, max gate lower): "
                      f"{_verdict(clearly_greater(e_with.mean(), e_wo.mean()) and clearly_greater(one_wo.max(), one_with.max()))} "
                      f"(entropy {e_with.mean():.3f} vs {e_wo.mean():.3f}; max gate {one_with.max():.3f} vs "
                      f"{one_wo.max():.3f})")
    # ---- fig. 9: scenario representations
    if opts["figures"] and all(n in by and has_model(seed0[n]) for n in ("TreeMS", "MMoE")):
        subtree = [tp[1] if len(tp) > 1 else tp[0] for _, tp in leaves_tp]
        reps = {"MMoE (scenario embedding c)": scenario_representations(out / "runs" / "MMoE" / "seed0", leaves),
                "TreeMS (path LSTM state h_H)": scenario_representations(out / "runs" / "TreeMS" / "seed0", leaves)}
        xy = {k: pca2(v) for k, v in reps.items()}
        sil = {k: silhouette(v, subtree) for k, v in reps.items()}
        sil_init = silhouette(untrained_representations(out / "runs" / "TreeMS" / "seed0", leaves), subtree)
        summary["silhouette_untrained_treems"] = sil_init
        summary["silhouette"] = sil
        figures.append(("Fig. 9: learned scenario representations of the share leaves, PCA to 2-D, coloured by "
                        "second-level subtree (seed 0)",
                        scatter2d(out / "fig9_scenarios.png", xy, subtree, "scenario representations")))
        a, b = sil["TreeMS (path LSTM state h_H)"], sil["MMoE (scenario embedding c)"]
        claims.append(f"[fig. 9] TreeMS's scenario representations cluster by subtree, MMoE's do not (silhouette "
                      f"of the subtree labels): {_verdict(a > b and a > 0) if math.isfinite(a + b) else 'n/a'} "
                      f"(TreeMS {a:.3f} vs MMoE {b:.3f}; an untrained TreeMS already has {sil_init:.3f}: leaves "
                      f"sharing a path prefix share LSTM inputs by construction)")

    claims.insert(0, epoch_limit_note(runs))
    if seeds < 2:
        claims.insert(0, "1 seed: every verdict below is one comparison, without a significance test")
    report = Report(
        "treems: TreeMS and its baselines on the simulated sharing scenarios",
        f"Data {data} ({len(leaves)} share leaves). Every model trained with TreeMS's protocol (share "
        "scenarios only, Adagrad, batch 1024, the best validation-AUC epoch of the budget), the same features "
        "(eq. 3: source, destination, their pair indicators from the social sample, the shared item, the "
        "scenario) and the same multi-view social sample (graph:social). Paper: Niu et al., WSDM'21.",
        tables, figures, claims)
    results = {"suite": "treems", "seeds": seeds, "runs": runs, "summary": summary, "claims": claims}
    report.write(out, results)
    for t in tables[:1]:
        console.print(t.markdown(), markup=False)
    for c in claims:
        console.print(f"- {c}", markup=False)
    return results
