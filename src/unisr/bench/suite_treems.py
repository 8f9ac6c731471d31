"""Suite ``treems``: TreeMS (Niu et al., WSDM'21) against its table-2 baselines on the simulated marketplace's
sharing scenarios (``../shared/papers/003_7262faa8dd51c9b6.txt``, sec. 4).

Re-tests table 2 (every baseline, TreeMS and its switches: no tree, no graph, no inconsistency loss, each view's
neighbours off), the head-vs-long-tail comparison of figs. 5-6, the expert utilisation of figs. 7-8 and the scenario
representations of fig. 9, and prints every claim as holds / does not hold with its numbers, the oracle AUC
(the simulator's true click probabilities) beside.

Protocol: every model with its registered defaults, which are TreeMS's for all of them (share scenarios only,
Adagrad lr 0.1 (chosen on validation; the paper does not give it), weight decay 1e-6, batch 1024; the whole
epoch budget with the best validation-AUC epoch kept, no early stop: ``NO_EARLY_STOP``); the social graph is
built from the weeks before training (the dataset's background window), train on one period, test on the next.
Every model's t (eq. 3) has the pair's directed, weighted history (``model.pair_mode=directed``, issue 33); a view
switch (``model.views``) removes that view's sampled neighbours only, not the pair's history of that view
(``model.pair_views``), so it ablates one thing. ``--set model.pair_mode=symmetric`` gives the features of the
v1 records (symmetric flags of the sampled views, which a view switch also dropped).

Head / long tail: share leaves ranked by their TRAIN impressions; the head = the 5 busiest leaves, the long tail
= the leaves after the first 80% of the train traffic. Figs. 5-6 show the head leaves and the 5 quietest
long-tail leaves whose test split has both a click and a non-click; "head (pooled)" and "long tail (pooled)"
re-evaluate every run on the test events of all head / all long-tail leaves together.

Options through ``--set suite.<key>=...`` (removed before the runs): ``suite.switches`` (true: TreeMS's
switches as extra rows), ``suite.figures`` (true: figs. 7-9 from the trained runs), ``suite.dose_response`` (true:
the claims of :data:`DOSE_CLAIMS` also on the data with their mechanism at strength 0, ``bench/dose_response.py``;
``suite.dose_claims=[tree]`` a subset, ``suite.dose_publish=FILE`` its page file, ``suite.ceilings=[...]`` the
observable-ceiling files, default the page's and ``<suite.record>/ceilings/``). Version-2 data trains with
:data:`V2_BUDGET` (early stopping), version 1 with :data:`NO_EARLY_STOP`. Other ``--set`` values go
to every run (e.g. ``train.epochs=4`` for a quick look). ``--data`` defaults to the simulator's ``small``
preset, simulated into ``OUT/data``. Declared as data: the rows (:data:`TABLE2_ROWS`, :data:`SWITCH_ROWS`),
the paper's table 2 (:data:`PAPER_TABLE2`) and the claims (:data:`CLAIMS`). Figures: ``bench/plots.py``, the
trained models' gates and scenario representations: ``bench/probes.py``.

Shapes:
    (no tensors) the simulated sharing scenarios -> table 2, figs. 5-9 summaries and the claim lines
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from rich.console import Console

from unisr.bench.ceiling import CEILING_FILE, ceiling_tables
from unisr.bench.dose_response import DoseClaim, data_version, run_dose_response
from unisr.bench.matrix import Override, RunSpec, epoch_limit_note, invocation, run_matrix, suite_options
from unisr.bench.plots import bar_plot, heatmaps, norm_entropy, pca2, scatter2d, silhouette
from unisr.bench.probes import gate_utilisation, scenario_representations, untrained_representations
from unisr.bench.provision import ensure_share_data
from unisr.bench.records import has_model
from unisr.bench.registry import SuiteError, suite
from unisr.bench.report import Report, ReportTable, fmt
from unisr.bench.share_data import head_tail, share_leaves, train_traffic
from unisr.bench.verdicts import clearly_greater, compare, verdict
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
    RunSpec("PinSage_A", "pinsage", (Override("model.aggregator", "mean"),)),
    RunSpec("PinSage_M", "pinsage", (Override("model.aggregator", "max"),)),
    RunSpec("PinSage_L", "pinsage", (Override("model.aggregator", "lstm"),)),
    RunSpec("GAT", "social_gat"),
    RunSpec("Multi-Scenario", "multi_scenario"),
    RunSpec("MMoE", "share_mmoe"),
    RunSpec("ScenarioMeta", "scenario_meta"),
    RunSpec("TreeMS", "treems"),
]
SWITCH_ROWS = [
    RunSpec("TreeMS-no-tree", "treems", (Override("model.use_tree", False),)),
    RunSpec("TreeMS-no-graph", "treems", (Override("model.use_graph", False),)),
    RunSpec("TreeMS-no-Laux", "treems", (Override("model.use_inconsistency", False),)),
    RunSpec("TreeMS-no-friend", "treems", (Override("model.views", ("pay", "share")),)),
    RunSpec("TreeMS-no-pay", "treems", (Override("model.views", ("friend", "share")),)),
    RunSpec("TreeMS-no-share", "treems", (Override("model.views", ("friend", "pay")),)),
]
BASELINES = [r.name for r in TABLE2_ROWS if r.name != "TreeMS"]
SOCIAL = ["DNN", "CUNE"]
GRAPH = ["DiffNet", "PinSage_A", "PinSage_M", "PinSage_L", "GAT"]
FIG56 = ["TreeMS", "MMoE", "PinSage_A", "DNN"]  # the models of figs. 5-6
# every model gets the whole epoch budget and keeps its best validation epoch: TreeMS and its no-tree switch sit
# on the base-rate plateau (click loss ~0.50, near-constant logits) for several epochs at Adagrad lr 0.1, and
# patience 4 stopped TreeMS at epoch 5 with its best at epoch 1 (2026-12-02); every baseline ran all 20 epochs
# anyway, so this changes none of their results
NO_EARLY_STOP = Override("train.patience", 1000)
# data version 2 (issue 33, build item 2): early stopping on validation AUC with patience 10 and a cap of 100 epochs.
# Probe (docs/models/treems.md, "Dose-response on data version 2"): TreeMS on small v2, seed 0, cap 60, patience 10:
# best epoch 45 (valid AUC 0.7877; stopped after epoch 55); patience 5 would have stopped after epoch 42 with the
# best at 37 (0.7866), 20 epochs end at 0.7807, still rising. The report counts the runs whose best epoch is
# the last one allowed (goal 0). Version-1 data keeps NO_EARLY_STOP and the 20-epoch default (its records).
V2_BUDGET = (Override("train.epochs", 100), Override("train.patience", 10))


# the paper's claims (table 2, sec. 4.2, figs. 5-9), each line's text; {...} filled per line
CLAIMS = {
    "beats_best": "[table 2] TreeMS beats the best baseline on {metric} (p < 0.05 where seeds allow)",
    "graph_over_social": "[4.2] graph-based methods beat the social-recommendation ones (best AUC)",
    "moe_over_scenario": "[4.2] mixture of experts beats a simple scenario-aware layer (MMoE vs Multi-Scenario AUC)",
    "switch": "[switch] {what} helps TreeMS (AUC with vs without, p < 0.05 where seeds allow)",
    "pooled": "[figs. 5-6] TreeMS beats {others} on the pooled {group} leaves (AUC)",
    "tail_margin": "[figs. 5-6] TreeMS's margin over {best} is larger on the long tail than on the head (AUC)",
    "each_leaf": "[figs. 5-6] TreeMS best of {models} in each of the {n} {group} leaves (AUC)",
    "balance": "[figs. 7-8] the inconsistency loss balances the experts (mean normalised gate entropy over layers "
               "higher with it, max gate lower)",
    "clusters": "[fig. 9] TreeMS's scenario representations cluster by subtree, MMoE's do not (silhouette of the "
                "subtree labels)",
}
PAGE = {"goal": "re-test table 2 (TreeMS beats every baseline) and the claims of figs. 5-9",
        "history": "docs/benchmarks/treems/HISTORY.md"}
# issue 33, build item 4: the switch claims tied to a data-version-2 mechanism (docs/SIMULATOR.md, "Mechanisms"),
# each tested with its mechanism on and at strength 0 (``suite.dose_response=true``, bench/dose_response.py)
DOSE_CLAIMS = [
    DoseClaim("tree", "the scenario tree helps TreeMS", "leaf_specificity", "TreeMS", "TreeMS-no-tree"),
    DoseClaim("graph", "the multi-view graph helps TreeMS", "social_diffusion", "TreeMS", "TreeMS-no-graph"),
]
DOSE_PAGE = {"goal": "TreeMS gains from the tree / the graph where the data carries leaf_specificity / "
                     "social_diffusion and not where that mechanism is at strength 0 (issue 33)",
             "history": "docs/benchmarks/treems/HISTORY.md"}
SWITCHES = (("TreeMS-no-tree", "the scenario tree"), ("TreeMS-no-graph", "the multi-view graph"),
            ("TreeMS-no-Laux", "the inconsistency loss"), ("TreeMS-no-friend", "the friend view's neighbours"),
            ("TreeMS-no-pay", "the pay view's neighbours"), ("TreeMS-no-share", "the share view's neighbours"))


def _options(sets: list[str]) -> tuple[dict, list[Override]]:
    opts, rest = suite_options(sets, {"switches": True, "figures": True, "dose_response": False,
                                      "dose_claims": None, "dose_publish": "", "ceilings": None})
    return opts, rest


def run_sets(data: Path, sets: list[Override]) -> list[Override]:
    """The overrides of every run on ``data`` but its graph folder: no progress bar, the budget of its data
    version (:data:`V2_BUDGET` from version 2 on, else :data:`NO_EARLY_STOP`), then the ``--set`` values."""
    budget = V2_BUDGET if data_version(data) >= 2 else (NO_EARLY_STOP,)
    return [Override("train.progress", False), *budget, *sets]


def graph_sets(out: Path) -> list[Override]:
    """The graph cache of the runs in the out folder ``out`` (a record key reads it as ``<out>/graph``)."""
    return [Override("data.graph_dir", str(Path(out) / "graph"))]


def dose_claims(opts: dict) -> list[DoseClaim]:
    """The claims ``suite.dose_claims`` names (default: every one of :data:`DOSE_CLAIMS`)."""
    names = opts["dose_claims"]
    if names is None:
        return list(DOSE_CLAIMS)
    names = names if isinstance(names, list) else [names]
    unknown = [n for n in names if n not in {c.name for c in DOSE_CLAIMS}]
    if unknown:
        raise SuiteError(f"suite.dose_claims: unknown {unknown}; known: {', '.join(c.name for c in DOSE_CLAIMS)}")
    return [c for c in DOSE_CLAIMS if c.name in names]


def ceiling_paths(opts: dict) -> list[Path]:
    """Where the dose-response looks for observable-ceiling files: ``suite.ceilings`` (files or folders), else
    the page's file and ``<suite.record>/ceilings/``."""
    if opts["ceilings"] is not None:
        c = opts["ceilings"]
        return [Path(x) for x in (c if isinstance(c, list) else [c])]
    return [CEILING_FILE] + ([Path(opts["record"]) / "ceilings"] if opts["record"] else [])


def pooled_metrics(run: Path, data: Path, scenarios: list[str]) -> dict:
    """Re-evaluate a run on the test events of ``scenarios`` pooled together (overall block)."""
    from unisr.evaluate.evaluator import evaluate_model
    from unisr.pipeline.pipeline import Pipeline
    from unisr.pipeline.run_folder import load_run

    cfg, encoder, net = load_run(run)
    cfg.data.scenarios = list(scenarios)
    pipe = Pipeline.open(cfg, data, encoder)
    res = evaluate_model(net, pipe.batches("test"), pipe.scenario_names)
    return res["click"]["overall"]


# ---------------------------------------------------------------------------------------------- the suite
def _mean(runs: list[dict], key: str, scenario: str | None = None) -> float:
    vals = [(r["overall"] if scenario is None else r["scenarios"].get(scenario, {})).get(key, float("nan"))
            for r in runs]
    return mean_std(vals)[0]


def table2(by: dict[str, list[dict]], seeds: int, summary: dict, claims: list[str]) -> ReportTable:
    """Table 2 (every row, the oracle, the paper's numbers) and its claim lines (table 2, sec. 4.2, switches)."""
    oracle = _mean(next(iter(by.values())), "oracle_auc")
    rows = summary["rows"]
    t2 = []
    for n, rs in by.items():
        rows[n] = {m: [r["overall"].get(m, float("nan")) for r in rs] for m in METRICS}
        pub = PAPER_TABLE2.get(n)
        t2.append([n, *[fmt(rows[n][m], n=seeds) for m in METRICS], f"{oracle:.4f}",
                   " / ".join(f"{x:.4f}" for x in pub) if pub else "-"])
    base = [b for b in BASELINES if b in by]
    if "TreeMS" in by and base:
        for m in METRICS:
            best = max(base, key=lambda b: _mean(by[b], m))
            tv, bv = _mean(by["TreeMS"], m), _mean(by[best], m)
            ok, tt = compare(rows["TreeMS"][m], rows[best][m])
            claims.append(f"{CLAIMS['beats_best'].format(metric=m.upper())}: {verdict(ok)} (TreeMS {tv:.4f} vs "
                          f"{best} {bv:.4f}, {100 * (tv - bv) / bv:+.2f}%; {tt}; oracle AUC {oracle:.4f})")
    soc, gr = [b for b in SOCIAL if b in by], [b for b in GRAPH if b in by]
    if soc and gr:
        bs = max(soc, key=lambda b: _mean(by[b], "auc"))
        bg = max(gr, key=lambda b: _mean(by[b], "auc"))
        ok, tt = compare(rows[bg]["auc"], rows[bs]["auc"])
        claims.append(f"{CLAIMS['graph_over_social']}: {verdict(ok)} ({bg} {_mean(by[bg], 'auc'):.4f} vs {bs} "
                      f"{_mean(by[bs], 'auc'):.4f}; {tt})")
    pairs = [("moe_over_scenario", "MMoE", "Multi-Scenario", {})]
    pairs += [("switch", "TreeMS", sw, {"what": what}) for sw, what in SWITCHES]
    for claim, a_n, b_n, fill in pairs:
        if a_n in by and b_n in by:
            a, b = _mean(by[a_n], "auc"), _mean(by[b_n], "auc")
            ok, tt = compare(rows[a_n]["auc"], rows[b_n]["auc"])
            claims.append(f"{CLAIMS[claim].format(**fill)}: {verdict(ok)} ({a:.4f} vs {b:.4f}; {tt})")
    return ReportTable(
        f"Table 2: share scenarios, test split, mean ± std over {seeds} seed(s)",
        ["model", "AUC", "GAUC", "MRR", "HR@5", "HR@10", "oracle AUC", "paper AUC / GAUC / MRR / HR@5 / HR@10"],
        t2, "oracle AUC = AUC of the simulator's true click probabilities on the same test events (the ceiling); "
            "the paper's numbers are on Taobao's logs, for reference only.")


def _pooled_claims(pooled: dict, fig_models: list[str], claims: list[str]) -> None:
    """Figs. 5-6 on the pooled head / long-tail leaves: TreeMS against the best other model, paired by seed."""
    others = [n for n in fig_models if n != "TreeMS"]

    def auc(grp: str, n: str, seeds: list[int] | None = None) -> list[float]:
        return [p["auc"] for p in pooled[grp][n] if seeds is None or p["seed"] in seeds]

    def common(grp: str, a: str, b: str) -> list[int]:
        """The seeds both runs have weights for: a paired test pairs by seed, not by list position."""
        return sorted({p["seed"] for p in pooled[grp][a]} & {p["seed"] for p in pooled[grp][b]})

    def best_other(grp: str) -> str:
        return max(others, key=lambda o: mean_std(auc(grp, o))[0])

    for grp in ("head", "long tail"):
        if pooled[grp]:
            best = best_other(grp)
            both = common(grp, "TreeMS", best)
            ok, tt = compare(auc(grp, "TreeMS", both), auc(grp, best, both))
            mg = mean_std(auc(grp, "TreeMS"))[0] - mean_std(auc(grp, best))[0]
            claims.append(f"{CLAIMS['pooled'].format(others=', '.join(others), group=grp)}: {verdict(ok)} "
                          f"(margin over {best} {mg:+.4f}; {tt})")
    if pooled["head"]:
        # per-seed margins over the long tail's best other model, in both groups (paired by seed)
        best = best_other("long tail")
        both = sorted(set(common("head", "TreeMS", best)) & set(common("long tail", "TreeMS", best)))
        mh, mt = ([t - o for t, o in zip(auc(g, "TreeMS", both), auc(g, best, both), strict=True)]
                  for g in ("head", "long tail"))
        ok, tt = compare(mt, mh)
        claims.append(f"{CLAIMS['tail_margin'].format(best=best)}: {verdict(ok)} (long tail {mean_std(mt)[0]:+.4f} "
                      f"vs head {mean_std(mh)[0]:+.4f}; {tt})")


def _leaf_row(n: str, label: str, ms: list[dict], size: int) -> list[str]:
    return [n, label, *[fmt([m.get(k, float("nan")) for m in ms]) for k in ("auc", "mrr", "hr@5")],
            fmt([m.get("oracle_auc", float("nan")) for m in ms]), str(size)]


def head_tail_section(by: dict[str, list[dict]], data: Path, out: Path, leaves: list[str], traffic: dict,
                      summary: dict, claims: list[str]) -> tuple[ReportTable, list[tuple[str, Path]]]:
    """Figs. 5-6: the head vs long-tail leaves (per leaf from the records; pooled from runs with weights)."""
    any_runs = next(iter(by.values()))
    test_ok = {s for s in leaves if all(math.isfinite(r["scenarios"].get(s, {}).get("auc", float("nan")))
                                        for r in any_runs)}
    head, tail, head5, tail5 = head_tail(traffic, leaves, test_ok)
    summary["head"], summary["tail"], summary["head5"], summary["tail5"] = head, tail, head5, tail5
    fig_models = [m for m in FIG56 if m in by] or list(by)[:4]
    pooled: dict[str, dict[str, list[dict]]] = {"head": {}, "long tail": {}}
    for n in fig_models:
        for grp, scen in (("head", head), ("long tail", tail)):
            if scen:
                pooled[grp][n] = [{**pooled_metrics(Path(r["run_dir"]), data, scen), "seed": r["run_seed"]}
                                  for r in by[n] if has_model(r["run_dir"])]  # a recorded run has no weights
    summary["pooled"] = pooled
    rows = []
    for n in fig_models:
        for grp in ("head", "long tail"):
            ps = pooled[grp].get(n, [])
            rows.append(_leaf_row(n, f"{grp} (pooled)", ps, ps[0]["n"] if ps else 0))
        rows += [_leaf_row(n, ("H: " if s in head5 else "T: ") + s, [r["scenarios"][s] for r in by[n]],
                           by[n][0]["scenarios"][s]["n"]) for s in head5 + tail5]
    table = ReportTable(
        "Figs. 5-6: head vs long-tail leaves (test split)", ["model", "leaves", "AUC", "MRR", "HR@5", "oracle AUC",
                                                             "test n"], rows,
        f"head = the {len(head)} busiest leaves by train impressions, long tail = the {len(tail)} leaves after the "
        f"first 80% of the train traffic; H: head leaves with both classes in test, T: the 5 quietest long-tail "
        f"leaves with both classes in test. Train "
        f"impressions: " + ", ".join(f"{s} {traffic.get(s, 0)}" for s in head5 + tail5))
    figures = []
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
        _pooled_claims(pooled, fig_models, claims)
        others = [n for n in fig_models if n != "TreeMS"]
        for n5, grp in ((head5, "head"), (tail5, "long-tail")):
            wins = sum(_mean(by["TreeMS"], "auc", s) > max(_mean(by[o], "auc", s) for o in others) for s in n5)
            if n5:
                claims.append(f"{CLAIMS['each_leaf'].format(models=', '.join(fig_models), n=len(n5), group=grp)}: "
                              f"{verdict(wins == len(n5))} ({wins}/{len(n5)} leaves)")
    return table, figures


def experts_section(out: Path, leaves: list[str], traffic: dict, summary: dict, claims: list[str]
                    ) -> tuple[ReportTable, tuple[str, Path]]:
    """Figs. 7-8: expert utilisation with / without the inconsistency loss (seed 0 runs with weights)."""
    w = [traffic.get(s, 0) for s in leaves]
    one_with, avg_with = gate_utilisation(out / "runs" / "TreeMS" / "seed0", leaves, w)
    one_wo, avg_wo = gate_utilisation(out / "runs" / "TreeMS-no-Laux" / "seed0", leaves, w)
    busiest = leaves[int(np.argmax(w))]
    figure = (f"Figs. 7-8: gate weights per layer (rows) and expert (columns), seed 0, leaf {busiest} "
              "and the traffic-weighted mean over leaves",
              heatmaps(out / "fig7_8_experts.png",
                       {f"w/o L_aux, {busiest}": one_wo, "w/o L_aux, mean": avg_wo,
                        f"with L_aux, {busiest}": one_with, "with L_aux, mean": avg_with},
                       "expert utilisation (eq. 6 gates)"))
    e_wo, e_with = norm_entropy(one_wo), norm_entropy(one_with)
    summary["experts"] = {"without": one_wo.tolist(), "with": one_with.tolist(),
                          "entropy_without": e_wo.tolist(), "entropy_with": e_with.tolist()}
    table = ReportTable(
        f"Figs. 7-8: expert utilisation of leaf {busiest} (seed 0)",
        ["layer", "entropy / log n w/o L_aux", "max gate w/o L_aux", "entropy / log n with L_aux",
         "max gate with L_aux"],
        [[str(i + 1), f"{e_wo[i]:.3f}", f"{one_wo[i].max():.3f}", f"{e_with[i]:.3f}", f"{one_with[i].max():.3f}"]
         for i in range(len(e_wo))], "1.000 = every expert used equally; 1/n max gate = uniform.")
    ok = clearly_greater(e_with.mean(), e_wo.mean()) and clearly_greater(one_wo.max(), one_with.max())
    claims.append(f"{CLAIMS['balance']}: {verdict(ok)} (entropy {e_with.mean():.3f} vs {e_wo.mean():.3f}; max gate "
                  f"{one_with.max():.3f} vs {one_wo.max():.3f})")
    return table, figure


def scenarios_section(out: Path, leaves_tp: list[tuple[str, list[str]]], summary: dict,
                      claims: list[str]) -> tuple[str, Path]:
    """Fig. 9: the learned scenario representations of TreeMS and MMoE (seed 0 runs with weights)."""
    leaves = [n for n, _ in leaves_tp]
    subtree = [tp[1] if len(tp) > 1 else tp[0] for _, tp in leaves_tp]
    reps = {"MMoE (scenario embedding c)": scenario_representations(out / "runs" / "MMoE" / "seed0", leaves),
            "TreeMS (path LSTM state h_H)": scenario_representations(out / "runs" / "TreeMS" / "seed0", leaves)}
    xy = {k: pca2(v) for k, v in reps.items()}
    sil = {k: silhouette(v, subtree) for k, v in reps.items()}
    sil_init = silhouette(untrained_representations(out / "runs" / "TreeMS" / "seed0", leaves), subtree)
    summary["silhouette_untrained_treems"] = sil_init
    summary["silhouette"] = sil
    a, b = sil["TreeMS (path LSTM state h_H)"], sil["MMoE (scenario embedding c)"]
    claims.append(f"{CLAIMS['clusters']}: {verdict(a > b and a > 0) if math.isfinite(a + b) else 'n/a'} "
                  f"(TreeMS {a:.3f} vs MMoE {b:.3f}; an untrained TreeMS already has {sil_init:.3f}: leaves "
                  f"sharing a path prefix share LSTM inputs by construction)")
    return ("Fig. 9: learned scenario representations of the share leaves, PCA to 2-D, coloured by "
            "second-level subtree (seed 0)", scatter2d(out / "fig9_scenarios.png", xy, subtree,
                                                       "scenario representations"))


def _rows(opts: dict, models: list[str] | None) -> list[RunSpec]:
    rows = TABLE2_ROWS + (SWITCH_ROWS if opts["switches"] else [])
    if models:
        known = {r.name for r in rows} | {r.model for r in rows}
        unknown = [m for m in models if m not in known]
        if unknown:
            raise SuiteError(f"--models: unknown {unknown}; known rows: {', '.join(r.name for r in rows)}")
        rows = [r for r in rows if r.name in models or r.model in models]
    return rows


@suite("treems")
def treems_suite(out: Path, data: Path | None, seeds: int, sets: list[str], models: list[str] | None,
                 console: Console) -> dict:
    """TreeMS vs its table-2 baselines on the simulated sharing scenarios (table 2, figs. 5-9)."""
    out = Path(out)
    opts, sets = _options(sets)
    data = ensure_share_data(Path(data) if data else None, out, console)
    common = [*graph_sets(out), *run_sets(data, sets)]
    runs = run_matrix(_rows(opts, models), data, out, seeds, common, console, train_missing=bool(opts["train"]),
                      record=opts["record"] or None, seeds_only=opts["seeds_only"], rows_only=opts["rows_only"])
    if not runs:
        raise SuiteError(f"no finished runs under {out / 'runs'}")
    by: dict[str, list[dict]] = {}
    for r in runs:
        by.setdefault(r["run_name"], []).append(r)
    leaves_tp = share_leaves(data)
    leaves = [n for n, _ in leaves_tp]
    traffic = train_traffic(data)
    claims: list[str] = []
    summary: dict = {"rows": {}, "traffic": {s: traffic.get(s, 0) for s in leaves}}
    tables = [table2(by, seeds, summary, claims)]
    tables += ceiling_tables(data, ["share"])  # the share leaves pooled, as in table 2
    table, figures = head_tail_section(by, data, out, leaves, traffic, summary, claims)
    tables.append(table)
    seed0 = {n: out / "runs" / n / "seed0" for n in ("TreeMS", "TreeMS-no-Laux", "MMoE")}
    if opts["figures"] and all(n in by and has_model(seed0[n]) for n in ("TreeMS", "TreeMS-no-Laux")):
        table, fig = experts_section(out, leaves, traffic, summary, claims)
        tables.append(table)
        figures.append(fig)
    if opts["figures"] and all(n in by and has_model(seed0[n]) for n in ("TreeMS", "MMoE")):
        figures.append(scenarios_section(out, leaves_tp, summary, claims))
    dose = None
    if opts["dose_response"]:
        dose = run_dose_response(
            dose_claims(opts), [*TABLE2_ROWS, *SWITCH_ROWS], data, out, seeds, run_sets(data, sets), console,
            per_data_sets=graph_sets, record=opts["record"] or None, train_missing=bool(opts["train"]),
            seeds_only=opts["seeds_only"], ceilings=ceiling_paths(opts), ceiling_scenario="share")
        tables += dose.tables
        claims += dose.lines
        summary["dose_response"] = dose.summary()
    claims.insert(0, epoch_limit_note(runs))
    if seeds < 2:
        claims.insert(0, "1 seed: every verdict below is one comparison, without a significance test")
    report = Report(
        "treems: TreeMS and its baselines on the simulated sharing scenarios",
        f"Data {data} ({len(leaves)} share leaves). Every model trained with TreeMS's protocol (share "
        "scenarios only, Adagrad, batch 1024, the best validation-AUC epoch of the budget), the same features "
        "(eq. 3: source, destination, their pair history from the social table (model.pair_mode), the shared "
        "item, the scenario) and the same multi-view social sample (graph:social). Paper: Niu et al., WSDM'21.",
        tables, figures, claims)
    results = {"suite": "treems", "seeds": seeds, "runs": runs, "summary": summary, "claims": claims}
    report.write(out, results)
    if opts["publish"]:
        from unisr.bench.page import publish

        rows = summary["rows"]
        best = max((b for b in BASELINES if b in rows), key=lambda b: mean_std(rows[b]["auc"])[0], default=None)
        figure = (f"TreeMS test AUC {mean_std(rows['TreeMS']['auc'])[0]:.4f} vs best baseline {best} "
                  f"{mean_std(rows[best]['auc'])[0]:.4f}; " if "TreeMS" in rows and best else "")
        count = (f"{sum(': holds (' in c for c in claims)} of "
                 f"{sum(': holds (' in c or ': does not hold (' in c for c in claims)} claims hold")
        publish(Path(opts["publish"]), report.title, figure + count, tables[:1], [*claims, f"claims: {count}"],
                {**PAGE, "command": invocation()}, out / "report.md")
    if dose is not None and opts["dose_publish"]:
        from unisr.bench.page import publish

        figure = "; ".join(f"{r.claim.text} ({r.claim.mechanism}): gain on {r.on.gain:+.4f} ({r.on.comparison.short}), "
                           f"off {r.off.gain:+.4f} ({r.off.comparison.short}): {r.verdict}" for r in dose.rows)
        publish(Path(opts["dose_publish"]), "treems on data version 2: dose-response of the tree and graph claims",
                figure, dose.tables, dose.lines, {**DOSE_PAGE, "command": invocation()}, out / "report.md")
    for t in tables[:1] + (dose.tables if dose is not None else []):
        console.print(t.markdown(), markup=False)
    for c in claims:
        console.print(f"- {c}", markup=False)
    return results
