"""``unisr benchmark``: run a suite (models x datasets x seeds) and write its report; ``--page`` writes
docs/BENCHMARKS.md from the benchmark output files (``unisr.bench.page``). A suite's runs read their data through
the data gate; a dataset it cannot use, or a bad override, exits 2 naming the file or key.

Shapes:
    (no tensors) --suite NAME --out DIR -> results.json, report.md, report.html
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from unisr.cli.errors import BadInput

console = Console()


def register(app: typer.Typer) -> None:
    @app.command("benchmark")
    def benchmark_cmd(
        suite: Annotated[str | None, typer.Option(help="suite name, e.g. swr-movielens")] = None,
        out: Annotated[Path | None, typer.Option(help="output folder")] = None,
        data: Annotated[Path | None, typer.Option(help="dataset or source folder the suite needs")] = None,
        seeds: Annotated[int, typer.Option(help="number of seeds")] = 3,
        set_: Annotated[list[str] | None, typer.Option("--set", help="key=value override for every run")] = None,
        models: Annotated[str | None, typer.Option(help="comma-separated subset of the suite's models")] = None,
        page: Annotated[bool, typer.Option("--page", help="write the benchmarks page from benchmarks/results")]
        = False,
        results: Annotated[Path, typer.Option(help="--page: the benchmark output files")] = Path("benchmarks/results"),
        page_out: Annotated[Path, typer.Option(help="--page: the page to write")] = Path("docs/BENCHMARKS.md"),
    ):
        """Run a suite (models x datasets x seeds): results.json, report.md, report.html with plots."""
        if page:
            from unisr.bench.page import write_page

            n = write_page(results, page_out)
            console.print(f"{page_out}: {n} lines from {results}")
            return
        from unisr.bench.registry import SUITES, SuiteError, load_builtin_suites
        from unisr.cli.train import bad_input_errors

        if suite is None or out is None:
            raise BadInput("--suite and --out are required (or --page)")
        load_builtin_suites()
        if suite not in SUITES:
            raise BadInput(f"--suite {suite!r}: unknown; known: {', '.join(sorted(SUITES))}")
        try:
            SUITES[suite](out=out, data=data, seeds=seeds, sets=set_ or [],
                          models=models.split(",") if models else None, console=console)
        except SuiteError as e:
            raise BadInput(str(e)) from e
        except bad_input_errors() as e:
            raise BadInput(f"--suite {suite}: {e}") from None
