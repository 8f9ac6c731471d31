"""Suite ``srjgraph``: SRJGraph's tables 3-7 (Zhang et al., WSDM'22, sections 5.4-5.6) re-tested on the
simulated marketplace, search = textual search, recommendation = the main feed.

Declared as data: the rows of every table (:func:`rows_for` from :data:`BASELINES`, :data:`ABLATIONS`,
:data:`DEPTHS`, :data:`WIDTHS`), the paper's claims (:data:`CLAIMS`) and its tables' layout (:data:`TABLES`).

- table 3: each baseline in its single-scenario form (one model for search, one for recommendation) and
  SRJGraph (joint by construction);
- table 4: each baseline in the JSR joint form (shared embeddings, trained on both; sequence models with
  the history of both; GNNs on the joint graph), RelaImpr vs its non-joint form and vs JSR-DNN;
- table 5: SRJGraph w/o query, w/o intention, w/o upstream;
- table 6: aggregation depth 1-4 (user widths [25, 1, 10, 1][:K], item [1, 25, 1, 10][:K]);
- table 7: widths (a, b) = user [a, 1, b], item [1, a, 1] for (10,4) (15,6) (20,8) (25,10).

Each claim of sections 5.4-5.6 is printed as a line with ``holds`` / ``does not hold`` and its numbers. A
pairwise claim (SRJGraph vs the runner-up, JSR vs non-joint, SRJGraph vs an ablation) needs a paired t-test
at p < 0.05 over the seeds both rows have when there are two or more (``verdicts.compare``); a comparison
without a t-test holds only by a visible margin (``verdicts.clearly_greater``).
Suite options (``--set suite.<key>=<value>``): ``preset`` (simulated marketplace when no ``--data``, default
small), ``tables`` (e.g. ``3,4``: only the runs those tables need), ``train`` (false: only report the runs
already finished, train nothing), ``record`` (the suite's record folder, ``matrix.run_matrix``),
``seeds_only`` / ``rows_only`` (train only those seeds / rows, e.g. ``[srjgraph no-query]``, to spread a suite
over jobs), ``step_parity`` (default true: under a step cap a joint row gets one cap per task,
:func:`joint_sets`). Joint rows keep the epoch with the best mean of the per-scenario validation AUCs.

Shapes:
    (no tensors) the simulated marketplace -> tables 3-7 of test AUC and the claim lines
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from unisr.bench.ceiling import ceiling_tables
from unisr.bench.matrix import Override, RunSpec, epoch_limit_note, invocation, run_matrix, suite_options
from unisr.bench.plots import bar_plot
from unisr.bench.provision import ensure_simulated
from unisr.bench.registry import SuiteError, suite
from unisr.bench.report import Report, ReportTable, claim_report, fmt
from unisr.bench.task_results import TaskResults
from unisr.bench.verdicts import claim_count, clearly_greater, compare, verdict
from unisr.evaluate.stats import mean_std

SEARCH, REC = "search_text", "feed_main"
TASKS = {"search": SEARCH, "rec": REC}
JOINT = Override("data.scenarios", (SEARCH, REC))
# a joint row's model selection: the mean of the two scenarios' validation AUCs (see joint_sets)
JOINT_MONITOR = Override("train.monitor", f"scenarios.{SEARCH}.auc+scenarios.{REC}.auc")
BASELINES = ["dnn", "nfm", "xdeepfm", "tem", "aem_din", "gat", "hgt", "ngcf", "lightgcn"]
NON_GRAPH = ["dnn", "nfm", "xdeepfm", "tem", "aem_din"]
GNNS = ["gat", "hgt", "ngcf", "lightgcn"]
SEQUENCE = {"tem", "aem_din"}
# paper sec. 5.3.1: behaviour sequence of 25 for TEM and AEM+DIN (``_history``). The paper trains every model
# with Adagrad; here each model keeps its registered optimizer (SRJGraph: Adagrad; the baselines: Adam 1e-3,
# with which they train -- at the same step budget Adagrad left DNN at test AUC ~0.50, see BENCHMARKS.md)
COMMON = (Override("train.progress", False),)
DEPTHS = {1: ([25], [1]), 2: ([25, 1], [1, 25]), 4: ([25, 1, 10, 1], [1, 25, 1, 10])}
WIDTHS = {(10, 4): ([10, 1, 4], [1, 10, 1]), (15, 6): ([15, 1, 6], [1, 15, 1]), (20, 8): ([20, 1, 8], [1, 20, 1])}
# run-name suffix -> (paper's label, override)
ABLATIONS = {"no-query": ("w/o query", Override("model.query_on_edges", False)),
             "no-intention": ("w/o intention", Override("model.intention", False)),
             "no-upstream": ("w/o upstream", Override("model.upstream", False))}
# the paper's claims (sections 5.4-5.6), each line's text; {task} / {label} filled per line
CLAIMS = {
    "dnn_worst": "5.4 DNN performs the worst of the single-scenario baselines ({task})",
    "aem_over_tem": "5.4 AEM+DIN outperforms TEM ({task})",
    "gnn_over_dnn": "5.4 the GNN baselines beat DNN ({task})",
    "best_single": "5.4 SRJGraph is the best model, significantly (p < 0.05) over the runner-up ({task})",
    "jsr_helps": "5.5 joint learning (JSR) improves every baseline ({task})",
    "best_joint": "5.5 SRJGraph beats every joint baseline, significantly ({task})",
    "ablation": "5.6.1 SRJGraph {label} is worse than SRJGraph on both tasks",
    "depth_rises": "5.6.2 AUC rises from depth 1 to 3 ({task})",
    "depth_drops": "5.6.2 AUC drops at depth 4 ({task})",
    "width_rises": "5.6.2 AUC increases with the aggregation width ({task})",
}


def rela_impr(a: float, b: float) -> float:
    """Paper eq. 15: RelaImpr of AUC a over AUC b, in percent."""
    return ((a - 0.5) / (b - 0.5) - 1.0) * 100.0


def _widths(u: list[int], i: list[int]) -> tuple[Override, ...]:
    return Override("model.user_widths", tuple(u)), Override("model.item_widths", tuple(i))


def _history(model: str, scenarios: list[str]) -> tuple[Override, ...]:
    if model not in SEQUENCE:
        return ()
    return Override("data.history_len", 25), Override("data.history_scenarios", tuple(scenarios))


def joint_sets(sets: Sequence[Override], step_parity: bool = True) -> tuple[Override, ...]:
    """The overrides of a joint row (both tasks in one model).

    Model selection: a joint row keeps the epoch with the best *mean of the per-scenario validation AUCs*
    (:data:`JOINT_MONITOR`), unless ``sets`` name a ``train.monitor``. The AUC pooled over search and
    recommendation events (``train.monitor=auc``, used before 2026-12-03 evening) also rewards ranking one
    scenario's events above the other's: SRJGraph at 4 epochs kept epoch 1 on it (pooled 0.6250) while both
    per-scenario validation AUCs kept rising to the last epoch (search 0.5838 -> 0.5908, rec 0.6516 -> 0.6877).

    Steps: with a step cap ``train.max_steps_per_epoch=N`` in ``sets`` and ``step_parity``, a joint row gets
    ``len(TASKS) * N`` steps per epoch: its batches alternate between the tasks, so each task gets N steps, as
    many as its single-scenario model (without the cap both see every training row once per epoch anyway).
    With a cap of N for every row, a joint model saw half the search and half the recommendation samples of a
    single model (found 2026-12-02; every row before that date was run so)."""
    out = [JOINT]
    if not any(o.key == "train.monitor" for o in sets):
        out.append(JOINT_MONITOR)
    caps = [o.value for o in sets if o.key == "train.max_steps_per_epoch"]
    if step_parity and caps and caps[-1] not in ("", "null", "None", None):
        out.append(Override("train.max_steps_per_epoch", len(TASKS) * int(caps[-1])))
    return tuple(out)


def rows_for(models: list[str], tables: set[int] | None = None,
             joint: tuple[Override, ...] = (JOINT, JOINT_MONITOR)) -> list[RunSpec]:
    """The matrix: names ``<model>/<search|rec>`` (single scenario), ``jsr-<model>`` (joint), ``srjgraph[...]``;
    ``tables`` (a subset of 3..7) keeps only the rows those tables need; ``joint``: the overrides of every
    joint row (:func:`joint_sets`)."""
    tables = tables or {3, 4, 5, 6, 7}
    rows: list[RunSpec] = []
    for m in (b for b in BASELINES if b in models):
        if tables & {3, 4}:
            for task, scen in TASKS.items():
                rows.append(RunSpec(f"{m}/{task}", m, (Override("data.scenarios", (scen,)), *_history(m, [scen]))))
        if 4 in tables:
            rows.append(RunSpec(f"jsr-{m}", m, (*joint, *_history(m, [SEARCH, REC]))))
    if "srjgraph" in models:
        rows.append(RunSpec("srjgraph", "srjgraph", joint))
        if 5 in tables:
            rows += [RunSpec(f"srjgraph {name}", "srjgraph", (*joint, o)) for name, (_, o) in ABLATIONS.items()]
        if 6 in tables:
            rows += [RunSpec(f"srjgraph depth {k}", "srjgraph", (*joint, *_widths(*w))) for k, w in DEPTHS.items()]
        if 7 in tables:
            rows += [RunSpec(f"srjgraph width {a},{b}", "srjgraph", (*joint, *_widths(*w)))
                     for (a, b), w in WIDTHS.items()]
    return rows


class Results(TaskResults):
    """Per run name and task (search, rec): the test AUC of each seed, and SRJGraph's oracle AUC."""

    def __init__(self, runs: list[dict], seeds: int = 0) -> None:
        super().__init__(runs, TASKS, seeds, oracle_row="srjgraph")


def _fmt(res: Results, vals: list[float]) -> str:
    """mean ± std, with the number of seeds when a row has fewer finished runs than the suite asked for."""
    return fmt(vals, n=res.seeds)


def _claim(lines: list[list[str]], claim: str, ok: bool | None, numbers: str, **fill: str) -> None:
    lines.append([CLAIMS[claim].format(**fill), verdict(ok), numbers])


def _best_vs_runner_up(res: Results, name: str, others: list[str], task: str) -> tuple[bool | None, str]:
    present = [o for o in others if res.get(o, task)]
    if not res.get(name, task) or not present:
        return None, "missing runs"
    runner = max(present, key=lambda o: res.mean(o, task))
    # the paper claims significance: a margin without a paired test (< 2 common seeds) is not enough
    ok, test = res.vs(name, runner, task, require_test=True)
    return ok, f"{name} {res.mean(name, task):.4f} vs runner-up {runner} {res.mean(runner, task):.4f}, {test}"


def _single_claims(res: Results, lines: list[list[str]], task: str) -> None:
    """Section 5.4 on one task."""
    single = [m for m in BASELINES if res.has(m)]
    if "dnn" in single and len(single) > 1:
        worst = min(single, key=lambda m: res.mean(m, task))
        _claim(lines, "dnn_worst", worst == "dnn",
               f"worst = {worst} {res.mean(worst, task):.4f}; DNN {res.mean('dnn', task):.4f}", task=task)
    if res.has("aem_din") and res.has("tem"):
        ok = clearly_greater(res.mean("aem_din", task), res.mean("tem", task))
        _claim(lines, "aem_over_tem", ok,
               f"AEM+DIN {res.mean('aem_din', task):.4f} vs TEM {res.mean('tem', task):.4f}", task=task)
    gnn = [g for g in GNNS if res.has(g)]
    seq = [m for m in NON_GRAPH if res.has(m)]
    if gnn and seq:
        best_seq = max(seq, key=lambda m: res.mean(m, task))
        ok = all(clearly_greater(res.mean(g, task), res.mean("dnn", task)) for g in gnn) if "dnn" in seq else None
        _claim(lines, "gnn_over_dnn", ok,
               ", ".join(f"{g} {res.mean(g, task):.4f}" for g in gnn) +
               f"; DNN {res.mean('dnn', task):.4f}; best non-graph {best_seq} {res.mean(best_seq, task):.4f}"
               if "dnn" in seq else "no DNN run", task=task)
    ok, nums = _best_vs_runner_up(res, "srjgraph", single, task)
    _claim(lines, "best_single", ok, nums, task=task)


def _joint_claims(res: Results, lines: list[list[str]], task: str) -> None:
    """Section 5.5 on one task."""
    joint = [m for m in BASELINES if res.has(m) and res.has(f"jsr-{m}")]
    if joint:
        # per baseline: JSR ahead by the margin and, on >= 2 common seeds, by a paired t-test (p < 0.05)
        tests = {m: res.vs(f"jsr-{m}", m, task) for m in joint}
        _claim(lines, "jsr_helps", all(c.ok for c in tests.values()),
               "; ".join(f"{m} {rela_impr(res.mean(f'jsr-{m}', task), res.mean(m, task)):+.2f}% "
                         f"({c.short})" for m, c in tests.items()), task=task)
    jsr = [f"jsr-{m}" for m in BASELINES if res.has(f"jsr-{m}")]
    ok, nums = _best_vs_runner_up(res, "srjgraph", jsr, task)
    _claim(lines, "best_joint", ok, nums, task=task)


def _structure_claims(res: Results, lines: list[list[str]]) -> None:
    """Section 5.6: the ablations, the depth and the width."""
    for name, (label, _) in ABLATIONS.items():
        variant = f"srjgraph {name}"
        if res.has(variant) and res.has("srjgraph"):
            d = {t: rela_impr(res.mean(variant, t), res.mean("srjgraph", t)) for t in TASKS}
            # worse on each task by the margin and, on >= 2 common seeds, by a paired t-test (p < 0.05)
            tests = {t: res.vs("srjgraph", variant, t) for t in TASKS}
            _claim(lines, "ablation", all(c.ok for c in tests.values()),
                   ", ".join(f"{t} {res.mean(variant, t):.4f} ({d[t]:+.2f}%; {tests[t].short})" for t in TASKS),
                   label=label)
    depth = {k: f"srjgraph depth {k}" if k != 3 else "srjgraph" for k in (1, 2, 3, 4)}
    if all(res.has(n) for n in depth.values()):
        for task in TASKS:
            m = [res.mean(depth[k], task) for k in (1, 2, 3, 4)]
            _claim(lines, "depth_rises", clearly_greater(m[1], m[0]) and clearly_greater(m[2], m[1]),
                   " / ".join(f"{x:.4f}" for x in m[:3]), task=task)
            _claim(lines, "depth_drops", clearly_greater(m[2], m[3]), f"{m[2]:.4f} -> {m[3]:.4f}", task=task)
    width = [f"srjgraph width {a},{b}" for a, b in WIDTHS] + ["srjgraph"]
    if all(res.has(n) for n in width):
        for task in TASKS:
            m = [res.mean(n, task) for n in width]
            _claim(lines, "width_rises", all(clearly_greater(b, a) for a, b in zip(m, m[1:], strict=False)),
                   " / ".join(f"{x:.4f}" for x in m), task=task)


def claims(res: Results) -> list[list[str]]:
    """Sections 5.4-5.6 of the paper, each as (claim, verdict, numbers)."""
    lines: list[list[str]] = []
    for task in TASKS:
        _single_claims(res, lines, task)
    for task in TASKS:
        _joint_claims(res, lines, task)
    _structure_claims(res, lines)
    return lines


# the page's section (``unisr.bench.page``): what the suite's figure is measured against
PAGE = {"goal": "re-test each claim of the paper's sections 5.4-5.6 (holds / does not hold, paired t-tests)",
        "history": "docs/benchmarks/srjgraph/HISTORY.md"}
# tables 5-7 as data: title, (label, row name) pairs, the RelaImpr base row
TABLES = {
    5: ("Table 5: ablations (RelaImpr vs SRJGraph)",
        [("SRJGraph", "srjgraph")] + [(f"SRJGraph {lab}", f"srjgraph {a}") for a, (lab, _) in ABLATIONS.items()],
        "srjgraph"),
    6: ("Table 6: aggregation depth (RelaImpr vs depth 1)",
        [(str(k), f"srjgraph depth {k}" if k != 3 else "srjgraph") for k in (1, 2, 3, 4)], "srjgraph depth 1"),
    7: ("Table 7: aggregation width (user [a,1,b], item [1,a,1]; RelaImpr vs (10,4))",
        [(f"({a},{b})", f"srjgraph width {a},{b}") for a, b in WIDTHS] + [("(25,10)", "srjgraph")],
        "srjgraph width 10,4"),
}


def _cell(res: Results, name: str, task: str, base: str | None) -> list[str]:
    vals = res.get(name, task)
    if not vals:
        return ["-", "-"]
    if base is None or not res.get(base, task):
        return [_fmt(res, vals), "-"]
    return [_fmt(res, vals), f"{rela_impr(res.mean(name, task), res.mean(base, task)):+.2f}%"]


def _table(res: Results, title: str, names: list[tuple[str, str]], base: str | None) -> ReportTable:
    rows = [[label, *_cell(res, n, "search", base if n != base else None),
             *_cell(res, n, "rec", base if n != base else None)] for label, n in names if res.has(n)]
    return ReportTable(title, ["model", "search AUC", "RelaImpr", "rec AUC", "RelaImpr"], rows)


def _table4(res: Results) -> ReportTable:
    jrows = []
    for label, n in [(f"JSR-{m}", f"jsr-{m}") for m in BASELINES] + [("SRJGraph", "srjgraph")]:
        if not res.has(n):
            continue
        row = [label]
        for task in TASKS:
            base = n[4:] if n.startswith("jsr-") else None
            row += [_fmt(res, res.get(n, task)),
                    f"{rela_impr(res.mean(n, task), res.mean(base, task)):+.2f}%" if base and res.get(base, task)
                    else "-",
                    f"{rela_impr(res.mean(n, task), res.mean('jsr-dnn', task)):+.2f}%"
                    if n != "jsr-dnn" and res.get("jsr-dnn", task) else "-"]
        jrows.append(row)
    return ReportTable("Table 4: joint learning (JSR form), RelaImpr vs the non-joint form and vs JSR-DNN",
                       ["model", "search AUC", "vs non-joint", "vs JSR-DNN", "rec AUC", "vs non-joint", "vs JSR-DNN"],
                       jrows)


def report_tables(res: Results, tables: set[int], seeds: int) -> list[ReportTable]:
    """Tables 3-7 (those asked for), the oracle and SRJGraph's paired t-tests against every other row."""
    t3 = [(m, m) for m in BASELINES] + [("SRJGraph", "srjgraph")]
    out = [_table(res, f"Table 3: single-scenario baselines vs SRJGraph, test AUC mean ± std over {seeds} "
                       "seeds (RelaImpr vs DNN)", t3, "dnn")] if 3 in tables else []
    if 4 in tables:
        out.append(_table4(res))
    out += [_table(res, *TABLES[k]) for k in TABLES if k in tables]
    oracle = [[task, fmt(res.oracle[task]) if res.oracle[task] else "-"] for task in TASKS]
    out.append(ReportTable("Oracle: AUC of the simulator's true click probability on the same test events",
                           ["task", "oracle AUC"], oracle))
    ranked = sorted({n for n, _ in res.auc}, key=lambda n: -res.mean(n, "search"))
    if "srjgraph" in ranked and len(ranked) > 1:
        pairs = [(task, o, *res.paired("srjgraph", o, task)) for task in TASKS for o in ranked if o != "srjgraph"]
        tt = [[task, "srjgraph", o, compare(x, y).ttest, ", ".join(map(str, seeds))]
              for task, o, x, y, seeds in pairs if len(seeds) > 1]
        out.append(ReportTable("Paired t-tests of SRJGraph against every other run (on the seeds both have)",
                               ["task", "model", "vs", "paired t-test", "seeds"], tt))
    return out


def _figure(res: Results, out: Path) -> list[tuple[str, Path]]:
    """DNN, the best other non-graph and the best graph baseline (mean of the two AUCs), single and joint, and
    SRJGraph; every row is in the tables."""
    def best(group: list[str]) -> list[str]:
        have = [m for m in group if res.has(m)]
        return [max(have, key=lambda m: res.mean(m, "search") + res.mean(m, "rec"))] if have else []

    picked = ["dnn", *best([m for m in NON_GRAPH if m != "dnn"]), *best(GNNS)]
    names = [n for n in [*picked, *(f"jsr-{m}" for m in picked), "srjgraph"] if res.has(n)]
    if not names:
        return []
    fig = bar_plot(out / "auc.png", list(TASKS), {n: [mean_std(res.get(n, t)) for t in TASKS] for n in names},
                   "test AUC", "SRJGraph suite: search and recommendation AUC")
    return [(f"test AUC, search and recommendation, of {', '.join(names)} (DNN, the best other "
             "non-graph and the best graph baseline by mean AUC, single and joint; every row is in the "
             "tables; error bars: std over seeds)", fig)]


def _tables_option(raw) -> set[int]:
    try:
        tables = {int(t) for t in (raw if isinstance(raw, list) else str(raw).split(","))}
    except ValueError as e:
        raise SuiteError(f"suite.tables={raw!r}: expected a comma-separated subset of 3,4,5,6,7") from e
    if not tables <= {3, 4, 5, 6, 7}:
        raise SuiteError(f"suite.tables: {sorted(tables - {3, 4, 5, 6, 7})} are not tables of this suite (3-7)")
    return tables


@suite("srjgraph")
def srjgraph_suite(out: Path, data: Path | None, seeds: int, sets: list[str], models: list[str] | None,
                   console: Console) -> dict:
    """SRJGraph's tables 3-7 and the claims of its sections 5.4-5.6 on the simulated marketplace."""
    out = Path(out)
    opts, sets = suite_options(sets, {"preset": "small", "tables": "3,4,5,6,7", "step_parity": True})
    data = ensure_simulated(data, out, str(opts["preset"]), console)
    models = models or [*BASELINES, "srjgraph"]
    unknown = sorted(set(models) - {*BASELINES, "srjgraph"})
    if unknown:
        raise SuiteError(f"--models: {unknown} are not in this suite ({', '.join([*BASELINES, 'srjgraph'])})")
    tables = _tables_option(opts["tables"])
    joint = joint_sets(sets, bool(opts["step_parity"]))
    runs = run_matrix(rows_for(models, tables, joint), data, out, seeds, [*COMMON, *sets], console,
                      train_missing=bool(opts["train"]), record=opts["record"] or None,
                      seeds_only=opts["seeds_only"], rows_only=opts["rows_only"])
    if not runs:
        raise SuiteError(f"no finished runs under {out / 'runs'} for these tables and models")
    res = Results(runs, seeds)
    out_tables = report_tables(res, tables, seeds)
    out_tables += ceiling_tables(data, [SEARCH, REC])
    lines = claims(res)
    report = Report(
        "srjgraph: joint search + recommendation CTR (SRJGraph, WSDM'22, tables 3-7)",
        f"Data: {data}. Search = {SEARCH}, recommendation = {REC}; time split background / train / valid / test "
        "= 14 / 7 / 1 / 2 days (graph and behaviour sequences from background + train only; sampled "
        "neighbourhoods and histories hold only what happened before each event). Every model "
        "trained point-wise with BCE with its registered optimizer (SRJGraph Adagrad, baselines Adam), early "
        "stopping on validation AUC (best epoch restored; a joint row on the mean of its two "
        f"scenarios' validation AUCs); {seeds} seeds. Run-wide overrides: "
        f"{' '.join(o.text() for o in sets) or 'none'}.",
        out_tables, _figure(res, out),
    )
    results = claim_report(out, "srjgraph", seeds, data, runs, lines, epoch_limit_note(runs), report,
                           "The paper's claims (sections 5.4-5.6) on this data", console)
    if opts["publish"]:
        _publish(Path(opts["publish"]), report, res, lines, out)
    return results


def _publish(path: Path, report: Report, res: Results, lines: list[list[str]], out: Path) -> None:
    """The page's srjgraph section: tables 3 and 5 and every claim line (the full report beside it)."""
    from unisr.bench.page import publish

    count = claim_count(lines)
    figure = f"SRJGraph test AUC search {res.mean('srjgraph', 'search'):.4f}, rec {res.mean('srjgraph', 'rec'):.4f}; {count}"
    tables = [t for t in report.tables if t.title.startswith(("Table 3", "Table 5"))]
    notes = [f"{c}: {v} ({n})" for c, v, n in lines[1:]] + [lines[0][2], f"claims: {count}"]
    publish(path, report.title, figure, tables, notes, {**PAGE, "command": invocation()}, out / "report.md")
