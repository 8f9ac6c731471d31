"""``unisr data ...``: validate, describe and import canonical datasets (exit 0 ok, 2 bad input, 1 internal).

``describe`` first checks that dataset.yaml and every table can be read (the data gate's checks), so a corrupt
table is named as such; ``import`` refuses an ``--out`` that is a file, under a file or a non-dataset folder, and
passes its output through the data gate (counts printed).

Shapes:
    (no tensors) DIR -> problems / summary / canonical dataset
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from unisr.cli.errors import BadInput

app = typer.Typer(help="Canonical datasets: validate, describe, import.", no_args_is_help=True)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@app.command("validate")
def validate(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Folder of a canonical dataset.")],
) -> None:
    """Check a canonical dataset; print every problem with file, column and row; exit 2 if any."""
    from unisr.data.validate import validate_dataset

    problems = validate_dataset(directory)
    console = _console()
    if problems:
        for p in problems:
            console.print(str(p), markup=False)
        raise BadInput(f"{len(problems)} problem(s) found in {directory}")
    console.print(f"[green]OK[/green] {directory}: valid canonical dataset")


@app.command("describe")
def describe(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Folder of a canonical dataset.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Rows, users, items, queries, per-scenario traffic, click rates and time range."""
    from unisr.data.describe import describe_dataset
    from unisr.data.gate import DataGateError, load_spec, schema_problems

    if not directory.is_dir():
        raise BadInput(f"{directory}: no such dataset folder")
    try:
        load_spec(directory)
        problems = schema_problems(directory)
        if problems:
            raise DataGateError(problems)
    except DataGateError as e:
        raise BadInput(f"{e} (run `unisr data validate {directory}`)") from None
    try:
        d = describe_dataset(directory)
    except FileNotFoundError as e:
        raise BadInput(f"{e} (run `unisr data validate {directory}`)") from None
    except ValidationError as e:
        raise BadInput(f"{directory}/dataset.yaml: {e} (run `unisr data validate {directory}`)") from None
    if as_json:
        typer.echo(json.dumps(d, indent=2))
        return
    console = _console()
    tr = d["time_range"]
    summary = (f"[bold]{d['name']}[/bold]: {d['rows']:,} events, {d['users']:,} users "
               f"({d['active_users']:,} active), {d['items']:,} items ({d['active_items']:,} active), "
               f"{d['queries']:,} queries; click rate {_pct(d['click_rate'])}")
    if "conversion_rate" in d:
        summary += f", conversion rate {_pct(d['conversion_rate'])}"
    console.print(summary)
    console.print(f"time range: {tr['start']} .. {tr['end']}")
    table = Table(title="per scenario")
    for col in ("id", "name", "kind", "events", "share", "users", "click rate"):
        if col in ("name", "kind"):
            table.add_column(col, justify="left", overflow="fold")
        else:
            table.add_column(col, justify="right", no_wrap=True)
    if "conversion_rate" in d:
        table.add_column("conversion rate", justify="right")
    for s in d["scenarios"]:
        row = [str(s["id"]), str(s["name"] or "?"), str(s["kind"] or "?"), f"{s['events']:,}",
               _pct(s["share"]), f"{s['users']:,}", _pct(s["click_rate"])]
        if "conversion_rate" in d:
            row.append(_pct(s.get("conversion_rate")))
        table.add_row(*row)
    console.print(table)
    if "splits" in d:
        console.print("splits: " + ", ".join(f"{k} {v:,}" for k, v in d["splits"].items()))


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


@app.command("import")
def import_(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help=(
        "Source format: movielens, kuaisar, aliccp, aliexpress, kuairand, douban, mind, taobao-ad, jdsearch, "
        "esci (docs/DATASETS.md)."))],
    src: Annotated[Path, typer.Option("--src", help="Folder holding the dataset's native files.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder of the canonical dataset.")],
    layout: Annotated[str | None, typer.Option(
        "--layout", help="Source layout where a folder holds several (aliccp: tianchi, rechub, aitm).")] = None,
) -> None:
    """Convert a public dataset's native files to a canonical dataset (formats: docs/DATASETS.md)."""
    from unisr.cli.paths import DATASET_MARKERS, check_out
    from unisr.data.importers import IMPORTERS, ImportSourceError

    if fmt not in IMPORTERS:
        raise BadInput(f"unknown format {fmt!r}; known formats: {', '.join(sorted(IMPORTERS))}")
    if not src.is_dir():
        raise BadInput(f"--src {src}: no such folder")
    check_out(out, kind="dataset folder", markers=DATASET_MARKERS, finished="")
    if layout is not None and "layout" not in inspect.signature(IMPORTERS[fmt]).parameters:
        raise BadInput(f"--layout: the {fmt} importer has a single layout")
    try:
        report = IMPORTERS[fmt](src, out) if layout is None else IMPORTERS[fmt](src, out, layout=layout)
    except ImportSourceError as e:
        raise BadInput(str(e)) from None
    console = _console()
    t = Table(title=f"{fmt}{f' ({report.variant})' if report.variant else ''} -> {out}")
    for col in ("source file", "table", "read", "written", "rejected"):
        t.add_column(col, justify="left" if col in ("source file", "table") else "right")
    for s, n in report.read.items():
        t.add_row(s, report.tables.get(s, "?"), f"{n:,}", f"{report.written.get(s, 0):,}",
                  f"{report.rejected.get(s, 0):,}")
    console.print(t)
    for reason, n in report.reasons.items():
        console.print(f"  rejected {n:,}: {reason}", markup=False)
    if "events" in report.extra and "scenario_events" in report.extra:
        per = ", ".join(f"{s}: {n:,}" for s, n in report.extra["scenario_events"].items())
        console.print(f"events written: {report.extra['events']:,} (per scenario id {per})", markup=False)
    if report.total_rejected:
        console.print(f"rejected rows with their reason: {out / 'rejected.parquet'}")
    if not report.balanced:  # pragma: no cover - an importer bug, not bad input
        raise RuntimeError(f"import counts do not add up: {report}")
    from unisr.data.gate import DataGateError, open_gate

    try:  # the importer's output passes the same gate as every dataset a command reads
        gate = open_gate(out)
    except DataGateError as e:  # pragma: no cover - an importer bug, not bad input
        raise RuntimeError(f"the imported dataset {out} is not usable: {e}") from e
    if gate.total_rejected:
        for line in gate.summary():
            console.print(line, markup=False)
    console.print(f"[green]OK[/green] wrote {out}")
