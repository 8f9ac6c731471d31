"""What the suites that set our runs beside a published table share (``swr-movielens``, ``swr-aliccp``,
``swr-kuairand``, ``mtreclib-aliexpress``): a suite declared as data (:class:`TableSuite`), the row selection, the
cell of one or several seeds, the summary rows against the published values, a dataset imported from a user's
download, and the subset of a canonical dataset's scenarios a protocol keeps.

Shapes:
    (no tensors) finished runs -> table rows; canonical dataset -> canonical dataset with fewer scenarios
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from unisr.bench.matrix import Override, RunSpec, run_matrix, suite_options
from unisr.bench.plots import bar_plot
from unisr.bench.registry import SuiteError
from unisr.bench.report import Report, ReportTable, fmt
from unisr.bench.verdicts import compare
from unisr.evaluate.stats import mean_std


@dataclass(frozen=True)
class TableSuite:
    """A suite as data: the protocol, the rows, the published numbers, how its data is made.

    ``published``: row (or model) -> ``{"auc": overall, "logloss": ..., "scenarios": [per-scenario AUC]}`` (the
    last two optional); ``published_as``: diagnostic row -> the published row it is compared with;
    ``unpublished``: rows the source ships without a published number -> the note that says so;
    ``provision(data, out, console)`` -> the canonical dataset the runs read."""

    name: str
    title: str
    dataset: str  # the table title's dataset name
    intro: str
    protocol: tuple[Override, ...]
    rows: list[RunSpec]
    default: list[str]
    published: dict[str, dict]
    provision: Callable[[Path | None, Path, Console], Path]
    published_as: dict[str, str] = field(default_factory=dict)
    unpublished: dict[str, str] = field(default_factory=dict)
    ylim: tuple[float, float] | None = None
    source: str = "Scenario-Wise Rec"


def select_rows(rows: list[RunSpec], default: list[str], models: list[str] | None,
                rows_only: list[str] | None) -> list[RunSpec]:
    """The rows a call runs: ``--models`` (row or model names) or the default rows; with ``suite.rows_only`` every
    row (``run_matrix`` keeps the named ones; a diagnostic row, not in the default list, is run by naming it)."""
    picked = [r for r in rows if (r.name in (models or default) or (models and r.model in models))]
    if not picked:
        raise SuiteError(f"--models {models}: none of this suite's rows ({', '.join(r.name for r in rows)})")
    return rows if rows_only is not None else picked


def cell(values: list[float]) -> str:
    """mean ± std over seeds; one run: its value (a ``± 0.0000`` of one run is no std)."""
    return fmt(values) if len(values) > 1 else f"{values[0]:.4f}"


def row_label(name: str, runs: list[dict]) -> str:
    return name if len(runs) > 1 else f"{name} (1 seed: {runs[0].get('run_seed', 0)})"


def by_row(runs: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in runs:
        out.setdefault(r["run_name"], []).append(r)
    return out


def summarise(runs: list[dict], published: dict[str, dict], published_as: dict[str, str] | None = None,
              unpublished: dict[str, str] | None = None) -> tuple[list[str], dict, list[list[str]]]:
    """(scenario names, per-row summary, the table's rows) of the finished runs against ``published``."""
    published_as, unpublished = published_as or {}, unpublished or {}
    scen = list(runs[0]["scenarios"].keys())
    rows, summary = [], {}
    for model, rs in by_row(runs).items():
        auc = [r["overall"]["auc"] for r in rs]
        ll = [r["overall"]["logloss"] for r in rs]
        per = [[r["scenarios"][s]["auc"] for r in rs] for s in scen]
        pub = published.get(published_as.get(model, model))
        delta = f"{mean_std(auc)[0] - pub['auc']:+.4f}" if pub else "n/a"
        none = "none published" if model in unpublished else "-"  # shipped by the source without a number
        pub_scen = pub.get("scenarios") if pub else None
        rows.append([row_label(model, rs), cell(auc), cell(ll), *[cell(p) for p in per],
                     f"{pub['auc']:.4f}" if pub else none, delta,
                     " / ".join(f"{x:.4f}" for x in pub_scen) if pub_scen else "-"])
        summary[model] = {"auc": auc, "logloss": ll, "scenario_auc": dict(zip(scen, per, strict=True)),
                          "published": pub, "seeds": [r.get("run_seed") for r in rs],
                          "best_epochs": [r.get("best_epoch") for r in rs],
                          "train_seconds": [r.get("train_seconds") for r in rs]}
    return scen, summary, rows


def run_table_suite(spec: TableSuite, out: Path, data: Path | None, seeds: int, sets: list[str],
                    models: list[str] | None, console: Console,
                    publish: Callable[[Path, ReportTable, dict, int, Path], None] | None = None) -> dict:
    """Run (or collect) ``spec``'s rows and write the report: the table against the published numbers, the paired
    t-tests of the best row against the others, a bar plot. ``publish(path, table, summary, seeds, out)``: the
    suite's ``suite.publish`` file (none: the option is an error)."""
    out = Path(out)
    opts, rest = suite_options(sets, {})
    if opts["publish"] and publish is None:
        raise SuiteError(f"--set suite.publish: suite {spec.name} writes no published file")
    data = spec.provision(Path(data) if data else None, out, console)
    rows = select_rows(spec.rows, spec.default, models, opts["rows_only"])
    runs = run_matrix(rows, data, out, seeds, [*spec.protocol, Override("train.progress", False), *rest], console,
                      train_missing=bool(opts["train"]), record=opts["record"] or None,
                      seeds_only=opts["seeds_only"], rows_only=opts["rows_only"])
    if not runs:
        raise SuiteError(f"{out}: no finished runs to report (suite.train=false?)")
    scen, summary, table_rows = summarise(runs, spec.published, spec.published_as, spec.unpublished)
    best = max(summary, key=lambda m: mean_std(summary[m]["auc"])[0])
    others = sorted((m for m in summary if m != best), key=lambda m: -mean_std(summary[m]["auc"])[0])
    ttests = [[best, o, compare(summary[best]["auc"], summary[o]["auc"]).ttest] for o in others
              if len(summary[o]["auc"]) == len(summary[best]["auc"]) > 1]
    table = ReportTable(
        f"{spec.dataset}, {spec.source} protocol, test split, mean ± std over {seeds} seeds",
        ["model", "AUC", "logloss", *[f"AUC {s}" for s in scen], "published AUC", "Δ vs published",
         "published AUC per scenario"],
        table_rows,
    )
    fig = bar_plot(out / "auc.png", ["overall", *scen],
                   {m: [mean_std(summary[m]["auc"]), *[mean_std(summary[m]["scenario_auc"][s]) for s in scen]]
                    for m in summary}, "test AUC", f"{spec.dataset} multi-scenario AUC", ylim=spec.ylim)
    report = Report(
        spec.title, spec.intro,
        [table, ReportTable("Paired t-test of the best model against each other (overall AUC)",
                            ["best", "vs", "paired t-test"], ttests)],
        [("test AUC per model, overall and per scenario (error bars: std over seeds)", fig)],
    )
    results = {"suite": spec.name, "seeds": seeds, "runs": runs, "summary": summary}
    report.write(out, results)
    if opts["publish"]:
        publish(Path(opts["publish"]), table, summary, seeds, out)
    console.print(table.markdown())
    return results


def imported(fmt: str, data: Path | None, out: Path, console: Console, *, what: str) -> Path:
    """A canonical dataset: ``data`` if it is one, else ``unisr data import fmt --src data --out out/data``
    (kept for the next call). ``what`` names the download a missing ``--data`` asks for."""
    from unisr.data.importers import run_import

    if data is not None and (data / "dataset.yaml").exists():
        return data
    if data is None or not data.exists():
        raise SuiteError(f"--data {data}: pass the folder of {what} (or a canonical dataset imported from it "
                         f"with `unisr data import {fmt}`)")
    dest = out / "data"
    if not (dest / "dataset.yaml").exists():
        console.print(f"importing {fmt} from {data} -> {dest}")
        run_import(fmt, data, dest)
    return dest


def subset_scenarios(src: Path, keep: Callable[[str], bool], dest: Path) -> Path:
    """``dest``: the canonical dataset ``src`` with only the events of the scenarios whose name ``keep`` accepts
    (events streamed one row group at a time; the other tables copied; ``dataset.yaml`` lists the kept
    scenarios). Made once: a ``dest`` with a ``dataset.yaml`` is returned as it is."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from unisr.data.schema import DatasetSpec, table_path

    if (dest / "dataset.yaml").exists():
        return dest
    spec = DatasetSpec.load(src)
    kept = [s for s in spec.scenarios if keep(s.name)]
    if not kept:
        raise SuiteError(f"{src}: none of its scenarios ({', '.join(spec.scenario_names.values())}) is one this "
                         f"protocol keeps")
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    events = table_path(src, "events")
    if events is None or not events.is_file():
        raise SuiteError(f"{src}: no events.parquet file")
    f = pq.ParquetFile(events)
    ids = [s.id for s in kept]
    with pq.ParquetWriter(tmp / "events.parquet", f.schema_arrow) as w:
        for rg in range(f.num_row_groups):
            t = f.read_row_group(rg)
            t = t.filter(pc.is_in(t["scenario_id"], value_set=pa.array(ids, t.schema.field("scenario_id").type)))
            if t.num_rows:
                w.write_table(t)
    for p in src.iterdir():
        if p.name not in ("events.parquet", "dataset.yaml"):
            (shutil.copytree if p.is_dir() else shutil.copy2)(p, tmp / p.name)
    spec.model_copy(update={"scenarios": kept}).save(tmp)
    tmp.rename(dest)
    return dest
