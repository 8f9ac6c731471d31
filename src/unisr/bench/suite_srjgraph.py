"""Suite ``srjgraph``: SRJGraph's tables 3-7 (Zhang et al., WSDM'22, sections 5.4-5.6) re-tested on the
simulated marketplace, search = textual search, recommendation = the main feed.

Every run of a table is a :class:`RunSpec` row of one matrix (runs are reused when the suite is resumed):

- table 3: each baseline in its single-scenario form (one model for search, one for recommendation) and
  SRJGraph (joint by construction);
- table 4: each baseline in the JSR joint form (shared embeddings, trained on both; sequence models with
  the history of both; GNNs on the joint graph), RelaImpr vs its non-joint form and vs JSR-DNN;
- table 5: SRJGraph w/o query, w/o intention, w/o upstream;
- table 6: aggregation depth 1-4 (user widths [25, 1, 10, 1][:K], item [1, 25, 1, 10][:K]);
- table 7: widths (a, b) = user [a, 1, b], item [1, a, 1] for (10,4) (15,6) (20,8) (25,10).

Each claim of sections 5.4-5.6 is printed as a line with ``holds`` / ``does not hold`` and its numbers. A
pairwise claim (SRJGraph vs the runner-up, JSR vs non-joint, SRJGraph vs an ablation) needs a paired t-test
at p < 0.05 over the seeds both rows have when there are two or more (:func:`paired_test`); a comparison
without a t-test holds only by a visible margin (``suites.clearly_greater``).
Suite options (``--set suite.<key>=<value>``): ``preset`` (simulated marketplace when no ``--data``, default
small), ``tables`` (e.g. ``3,4``: only the runs those tables need), ``train`` (false: only report the runs
already finished, train nothing), ``record`` (a folder where finished runs are recorded and reused across
machines, ``suites.run_matrix``), ``seeds_only`` / ``rows_only`` (train only those seeds / rows, e.g.
``[srjgraph no-query]``, to spread a suite over jobs), ``step_parity`` (default true: under a step cap a joint row gets one cap
per task, :func:`joint_sets`). Joint rows keep the epoch with the best mean of the per-scenario validation
AUCs (:func:`joint_sets`).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from unisr.bench.report import Report, ReportTable, bar_plot, fmt, ttest_str
from unisr.bench.suites import (
    RunSpec,
    SuiteError,
    clearly_better,
    clearly_greater,
    ensure_simulated,
    epoch_limit_note,
    run_matrix,
    suite,
    suite_options,
)
from unisr.evaluate.stats import mean_std

SEARCH, REC = "search_text", "feed_main"
TASKS = {"search": SEARCH, "rec": REC}
JOINT = f"data.scenarios=[{SEARCH},{REC}]"
# a joint row's model selection: the mean of the two scenarios' validation AUCs (see joint_sets)
JOINT_MONITOR = f"train.monitor=scenarios.{SEARCH}.auc+scenarios.{REC}.auc"
BASELINES = ["dnn", "nfm", "xdeepfm", "tem", "aem_din", "gat", "hgt", "ngcf", "lightgcn"]
NON_GRAPH = ["dnn", "nfm", "xdeepfm", "tem", "aem_din"]
GNNS = ["gat", "hgt", "ngcf", "lightgcn"]
SEQUENCE = {"tem", "aem_din"}
# paper sec. 5.3.1: behaviour sequence of 25 for TEM and AEM+DIN (``_history``). The paper trains every model
# with Adagrad; here each model keeps its registered optimizer (SRJGraph: Adagrad; the baselines: Adam 1e-3,
# with which they train -- at the same step budget Adagrad left DNN at test AUC ~0.50, see BENCHMARKS.md)
COMMON = ["train.progress=false"]
DEPTHS = {1: ([25], [1]), 2: ([25, 1], [1, 25]), 4: ([25, 1, 10, 1], [1, 25, 1, 10])}
WIDTHS = {(10, 4): ([10, 1, 4], [1, 10, 1]), (15, 6): ([15, 1, 6], [1, 15, 1]), (20, 8): ([20, 1, 8], [1, 20, 1])}
# run-name suffix -> (paper's label, override)
ABLATIONS = {"no-query": ("w/o query", "model.query_on_edges=false"),
             "no-intention": ("w/o intention", "model.intention=false"),
             "no-upstream": ("w/o upstream", "model.upstream=false")}


def rela_impr(a: float, b: float) -> float:
    """Paper eq. 15: RelaImpr of AUC a over AUC b, in percent."""
    return ((a - 0.5) / (b - 0.5) - 1.0) * 100.0


def _widths(u: list[int], i: list[int]) -> tuple[str, ...]:
    return (f"model.user_widths=[{','.join(map(str, u))}]", f"model.item_widths=[{','.join(map(str, i))}]")


def _history(model: str, scenarios: list[str]) -> tuple[str, ...]:
    if model not in SEQUENCE:
        return ()
    return ("data.history_len=25", f"data.history_scenarios=[{','.join(scenarios)}]")


def joint_sets(sets: list[str], step_parity: bool = True) -> tuple[str, ...]:
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
    if not any(s.startswith("train.monitor=") for s in sets):
        out.append(JOINT_MONITOR)
    caps = [s.partition("=")[2] for s in sets if s.startswith("train.max_steps_per_epoch=")]
    if step_parity and caps and caps[-1] not in ("", "null", "None"):
        out.append(f"train.max_steps_per_epoch={len(TASKS) * int(caps[-1])}")
    return tuple(out)


def rows_for(models: list[str], tables: set[int] | None = None,
             joint: tuple[str, ...] = (JOINT, JOINT_MONITOR)) -> list[RunSpec]:
    """The matrix: names ``<model>/<search|rec>`` (single scenario), ``jsr-<model>`` (joint), ``srjgraph[...]``;
    ``tables`` (a subset of 3..7) keeps only the rows those tables need; ``joint``: the overrides of every
    joint row (:func:`joint_sets`)."""
    tables = tables or {3, 4, 5, 6, 7}
    rows: list[RunSpec] = []
    for m in (b for b in BASELINES if b in models):
        if tables & {3, 4}:
            for task, scen in TASKS.items():
                rows.append(RunSpec(f"{m}/{task}", m, (f"data.scenarios=[{scen}]", *_history(m, [scen]))))
        if 4 in tables:
            rows.append(RunSpec(f"jsr-{m}", m, (*joint, *_history(m, [SEARCH, REC]))))
    if "srjgraph" in models:
        rows.append(RunSpec("srjgraph", "srjgraph", joint))
        if 5 in tables:
            rows += [RunSpec(f"srjgraph {name}", "srjgraph", (*joint, s)) for name, (_, s) in ABLATIONS.items()]
        if 6 in tables:
            rows += [RunSpec(f"srjgraph depth {k}", "srjgraph", (*joint, *_widths(*w))) for k, w in DEPTHS.items()]
        if 7 in tables:
            rows += [RunSpec(f"srjgraph width {a},{b}", "srjgraph", (*joint, *_widths(*w)))
                     for (a, b), w in WIDTHS.items()]
    return rows


class Results:
    """Per run name and task: the test AUC of each seed (and the oracle AUC of the scenario)."""

    def __init__(self, runs: list[dict], seeds: int = 0) -> None:
        self.seeds = seeds  # rows with fewer finished seeds show their n
        self.auc: dict[tuple[str, str], dict[int, float]] = {}
        self.oracle: dict[str, list[float]] = {t: [] for t in TASKS}
        for r in runs:
            name = r["run_name"]
            seed = int(r.get("run_seed", r.get("seed", 0)))
            for task, scen in TASKS.items():
                m = r.get("scenarios", {}).get(scen)
                if m is None:
                    continue
                key = name.rsplit("/", 1)[0] if "/" in name else name
                if "/" in name and not name.endswith(f"/{task}"):
                    continue
                self.auc.setdefault((key, task), {})[seed] = m["auc"]
                if m.get("oracle_auc") is not None and key == "srjgraph":
                    self.oracle[task].append(m["oracle_auc"])

    def get(self, name: str, task: str) -> list[float]:
        """The AUCs of every finished seed, in seed order."""
        d = self.auc.get((name, task), {})
        return [d[s] for s in sorted(d)]

    def paired(self, a: str, b: str, task: str) -> tuple[list[float], list[float], list[int]]:
        """The AUCs of ``a`` and ``b`` on the seeds both finished (a paired test compares the same seeds)."""
        da, db = self.auc.get((a, task), {}), self.auc.get((b, task), {})
        seeds = sorted(da.keys() & db.keys())
        return [da[s] for s in seeds], [db[s] for s in seeds], seeds

    def mean(self, name: str, task: str) -> float:
        return mean_std(self.get(name, task))[0]

    def has(self, name: str) -> bool:
        return all(self.get(name, t) for t in TASKS)


def paired_test(res: Results, a: str, b: str, task: str, require_test: bool = False) -> tuple[bool, str]:
    """``suites.clearly_better`` of ``a`` over ``b`` on the seeds both finished; the text names those seeds
    when either row has others (SRJGraph's five seeds against a baseline's three: a test over seeds 0-2)."""
    x, y, seeds = res.paired(a, b, task)
    if len(seeds) < 2:
        ahead = clearly_greater(res.mean(a, task), res.mean(b, task))
        return ahead and not require_test, (f"no paired test ({len(res.get(a, task))} vs {len(res.get(b, task))} "
                                            f"seeds, {len(seeds)} in common): margin only")
    ok, test = clearly_better(x, y, require_test=require_test)
    if len(seeds) < max(len(res.get(a, task)), len(res.get(b, task))):
        test += f" over the {len(seeds)} seeds both have ({', '.join(map(str, seeds))})"
    return ok, test


def _p(res: Results, a: str, b: str, task: str) -> str:
    """The paired test of ``a`` against ``b`` in short, for a claim line listing many: ``p=0.012`` (with
    the common seeds when a row has others), or ``margin only`` where there is no test."""
    from unisr.evaluate.stats import paired_ttest

    x, y, seeds = res.paired(a, b, task)
    p = paired_ttest(x, y)[1] if len(seeds) >= 2 else float("nan")
    if p != p:
        return "margin only"
    every = len(seeds) == max(len(res.get(a, task)), len(res.get(b, task)))
    return f"p={p:.3g}" + ("" if every else f", seeds {','.join(map(str, seeds))}")


def _fmt(res: Results, vals: list[float]) -> str:
    """mean ± std, with the number of seeds when a row has fewer finished runs than the suite asked for."""
    return fmt(vals, n=res.seeds)


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


def _claim(lines: list[list[str]], text: str, ok: bool | None, numbers: str) -> None:
    lines.append([text, "n/a" if ok is None else ("holds" if ok else "does not hold"), numbers])


def _best_vs_runner_up(res: Results, name: str, others: list[str], task: str) -> tuple[bool | None, str]:
    present = [o for o in others if res.get(o, task)]
    if not res.get(name, task) or not present:
        return None, "missing runs"
    runner = max(present, key=lambda o: res.mean(o, task))
    # the paper claims significance: a margin without a paired test (< 2 common seeds) is not enough
    ok, test = paired_test(res, name, runner, task, require_test=True)
    return ok, f"{name} {res.mean(name, task):.4f} vs runner-up {runner} {res.mean(runner, task):.4f}, {test}"


def claims(res: Results) -> list[list[str]]:
    """Sections 5.4-5.6 of the paper, each as (claim, verdict, numbers)."""
    lines: list[list[str]] = []
    single = [m for m in BASELINES if res.has(m)]
    for task in TASKS:
        if "dnn" in single and len(single) > 1:
            worst = min(single, key=lambda m: res.mean(m, task))
            _claim(lines, f"5.4 DNN performs the worst of the single-scenario baselines ({task})", worst == "dnn",
                   f"worst = {worst} {res.mean(worst, task):.4f}; DNN {res.mean('dnn', task):.4f}")
        if res.has("aem_din") and res.has("tem"):
            ok = clearly_greater(res.mean("aem_din", task), res.mean("tem", task))
            _claim(lines, f"5.4 AEM+DIN outperforms TEM ({task})", ok,
                   f"AEM+DIN {res.mean('aem_din', task):.4f} vs TEM {res.mean('tem', task):.4f}")
        gnn = [g for g in GNNS if res.has(g)]
        seq = [m for m in NON_GRAPH if res.has(m)]
        if gnn and seq:
            best_seq = max(seq, key=lambda m: res.mean(m, task))
            ok = all(clearly_greater(res.mean(g, task), res.mean("dnn", task)) for g in gnn) if "dnn" in seq else None
            _claim(lines, f"5.4 the GNN baselines beat DNN ({task})", ok,
                   ", ".join(f"{g} {res.mean(g, task):.4f}" for g in gnn) +
                   f"; DNN {res.mean('dnn', task):.4f}; best non-graph {best_seq} {res.mean(best_seq, task):.4f}"
                   if "dnn" in seq else "no DNN run")
        ok, nums = _best_vs_runner_up(res, "srjgraph", single, task)
        _claim(lines, f"5.4 SRJGraph is the best model, significantly (p < 0.05) over the runner-up ({task})",
               ok, nums)
    for task in TASKS:
        joint = [m for m in BASELINES if res.has(m) and res.has(f"jsr-{m}")]
        if joint:
            # per baseline: JSR ahead by the margin and, on >= 2 common seeds, by a paired t-test (p < 0.05)
            tests = {m: paired_test(res, f"jsr-{m}", m, task) for m in joint}
            _claim(lines, f"5.5 joint learning (JSR) improves every baseline ({task})",
                   all(ok for ok, _ in tests.values()),
                   "; ".join(f"{m} {rela_impr(res.mean(f'jsr-{m}', task), res.mean(m, task)):+.2f}% "
                             f"({_p(res, f'jsr-{m}', m, task)})" for m in tests))
        jsr = [f"jsr-{m}" for m in BASELINES if res.has(f"jsr-{m}")]
        ok, nums = _best_vs_runner_up(res, "srjgraph", jsr, task)
        _claim(lines, f"5.5 SRJGraph beats every joint baseline, significantly ({task})", ok, nums)
    for name, (label, _) in ABLATIONS.items():
        variant = f"srjgraph {name}"
        if res.has(variant) and res.has("srjgraph"):
            d = {t: rela_impr(res.mean(variant, t), res.mean("srjgraph", t)) for t in TASKS}
            # worse on each task by the margin and, on >= 2 common seeds, by a paired t-test (p < 0.05)
            tests = {t: paired_test(res, "srjgraph", variant, t) for t in TASKS}
            _claim(lines, f"5.6.1 SRJGraph {label} is worse than SRJGraph on both tasks",
                   all(ok for ok, _ in tests.values()),
                   ", ".join(f"{t} {res.mean(variant, t):.4f} ({d[t]:+.2f}%; {_p(res, 'srjgraph', variant, t)})" for t in TASKS))
    depth = {k: f"srjgraph depth {k}" if k != 3 else "srjgraph" for k in (1, 2, 3, 4)}
    if all(res.has(n) for n in depth.values()):
        for task in TASKS:
            m = [res.mean(depth[k], task) for k in (1, 2, 3, 4)]
            _claim(lines, f"5.6.2 AUC rises from depth 1 to 3 ({task})", clearly_greater(m[1], m[0]) and clearly_greater(m[2], m[1]),
                   " / ".join(f"{x:.4f}" for x in m[:3]))
            _claim(lines, f"5.6.2 AUC drops at depth 4 ({task})", clearly_greater(m[2], m[3]), f"{m[2]:.4f} -> {m[3]:.4f}")
    width = [f"srjgraph width {a},{b}" for a, b in WIDTHS] + ["srjgraph"]
    if all(res.has(n) for n in width):
        for task in TASKS:
            m = [res.mean(n, task) for n in width]
            _claim(lines, f"5.6.2 AUC increases with the aggregation width ({task})",
                   all(clearly_greater(b, a) for a, b in zip(m, m[1:], strict=False)), " / ".join(f"{x:.4f}" for x in m))
    return lines


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
    try:
        raw = opts["tables"]
        tables = {int(t) for t in (raw if isinstance(raw, list) else str(raw).split(","))}
    except ValueError as e:
        raise SuiteError(f"suite.tables={opts['tables']!r}: expected a comma-separated subset of 3,4,5,6,7") from e
    if not tables <= {3, 4, 5, 6, 7}:
        raise SuiteError(f"suite.tables: {sorted(tables - {3, 4, 5, 6, 7})} are not tables of this suite (3-7)")
    joint = joint_sets(sets, bool(opts["step_parity"]))
    runs = run_matrix(rows_for(models, tables, joint), data, out, seeds, [*COMMON, *sets], console,
                      train_missing=bool(opts["train"]), record=opts["record"] or None,
                      seeds_only=opts["seeds_only"], rows_only=opts["rows_only"])
    if not runs:
        raise SuiteError(f"no finished runs under {out / 'runs'} for these tables and models")
    res = Results(runs, seeds)

    t3 = [(m, m) for m in BASELINES] + [("SRJGraph", "srjgraph")]
    t4 = [(f"JSR-{m}", f"jsr-{m}") for m in BASELINES] + [("SRJGraph", "srjgraph")]
    out_tables = [_table(res, f"Table 3: single-scenario baselines vs SRJGraph, test AUC mean ± std over {seeds} "
                              "seeds (RelaImpr vs DNN)", t3, "dnn")] if 3 in tables else []
    jrows = []
    for label, n in t4:
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
    if 4 in tables:
        out_tables.append(ReportTable(
            "Table 4: joint learning (JSR form), RelaImpr vs the non-joint form and vs JSR-DNN",
            ["model", "search AUC", "vs non-joint", "vs JSR-DNN", "rec AUC", "vs non-joint", "vs JSR-DNN"], jrows))
    wanted = {5: _table(res, "Table 5: ablations (RelaImpr vs SRJGraph)",
                         [("SRJGraph", "srjgraph")] + [(f"SRJGraph {lab}", f"srjgraph {a}") for a, (lab, _) in ABLATIONS.items()],
                         "srjgraph"),
              6: _table(res, "Table 6: aggregation depth (RelaImpr vs depth 1)",
                         [(str(k), f"srjgraph depth {k}" if k != 3 else "srjgraph") for k in (1, 2, 3, 4)],
                         "srjgraph depth 1"),
              7: _table(res, "Table 7: aggregation width (user [a,1,b], item [1,a,1]; RelaImpr vs (10,4))",
                         [(f"({a},{b})", f"srjgraph width {a},{b}") for a, b in WIDTHS] + [("(25,10)", "srjgraph")],
                         "srjgraph width 10,4")}
    out_tables += [t for k, t in wanted.items() if k in tables]
    tables = out_tables
    oracle = [[task, fmt(res.oracle[task]) if res.oracle[task] else "-"] for task in TASKS]
    tables.append(ReportTable("Oracle: AUC of the simulator's true click probability on the same test events",
                              ["task", "oracle AUC"], oracle))
    ranked = sorted({n for n, _ in res.auc}, key=lambda n: -res.mean(n, "search"))
    if "srjgraph" in ranked and len(ranked) > 1:
        pairs = [(task, o, *res.paired("srjgraph", o, task)) for task in TASKS for o in ranked if o != "srjgraph"]
        tt = [[task, "srjgraph", o, ttest_str(x, y), ", ".join(map(str, seeds))]
              for task, o, x, y, seeds in pairs if len(seeds) > 1]
        tables.append(ReportTable("Paired t-tests of SRJGraph against every other run (on the seeds both have)",
                                  ["task", "model", "vs", "paired t-test", "seeds"], tt))
    lines = claims(res)
    lines.insert(0, ["(training budget)", "n/a", epoch_limit_note(runs)])
    tables.append(ReportTable("The paper's claims (sections 5.4-5.6) on this data", ["claim", "verdict", "numbers"],
                              lines))
    # the figure: DNN, the best other non-graph and the best graph baseline (mean of the two AUCs), single and
    # joint, and SRJGraph; every row is in the tables
    def best(group: list[str]) -> list[str]:
        have = [m for m in group if res.has(m)]
        return [max(have, key=lambda m: res.mean(m, "search") + res.mean(m, "rec"))] if have else []

    picked = ["dnn", *best([m for m in NON_GRAPH if m != "dnn"]), *best(GNNS)]
    names = [n for n in [*picked, *(f"jsr-{m}" for m in picked), "srjgraph"] if res.has(n)]
    figs = []
    if names:
        fig = bar_plot(out / "auc.png", list(TASKS),
                       {n: [mean_std(res.get(n, t)) for t in TASKS] for n in names}, "test AUC",
                       "SRJGraph suite: search and recommendation AUC")
        figs.append((f"test AUC, search and recommendation, of {', '.join(names)} (DNN, the best other "
                     "non-graph and the best graph baseline by mean AUC, single and joint; every row is in the "
                     "tables; error bars: std over seeds)", fig))
    report = Report(
        "srjgraph: joint search + recommendation CTR (SRJGraph, WSDM'22, tables 3-7)",
        f"Data: {data}. Search = {SEARCH}, recommendation = {REC}; time split background / train / valid / test "
        "= 14 / 7 / 1 / 2 days (graph and behaviour sequences from background + train only; sampled "
        "neighbourhoods and histories hold only what happened before each event). Every model "
        f"trained point-wise with BCE with its registered optimizer (SRJGraph Adagrad, baselines Adam), early stopping on validation AUC (best epoch restored; a joint row on the mean of its two "
        f"scenarios' validation AUCs); "
        f"{seeds} seeds. Run-wide overrides: {' '.join(sets) or 'none'}.",
        tables, figs,
    )
    results = {"suite": "srjgraph", "seeds": seeds, "data": str(data), "runs": runs,
               "claims": [{"claim": c, "verdict": v, "numbers": n} for c, v, n in lines]}
    report.write(out, results)
    for t in tables:
        console.print(t.markdown())
    return results

