"""The ``unisr`` command line (Typer). Sub-commands live in their own modules and are mounted here.

Exit codes (CONTRACT.md): 0 ok, 2 bad input (``cli.errors.BadInput``: one message naming the file, column, row
or field, no traceback), 1 an internal error: one summary line first, then the traceback.

Shapes:
    (no tensors) argv -> exit code
"""

from __future__ import annotations

import sys
import traceback

import typer

app = typer.Typer(
    name="unisr",
    help="Unified multi-scenario search and recommendation: simulate, import, train, evaluate, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _mount() -> None:
    from unisr.cli import benchmark as benchmark_cli
    from unisr.cli import data as data_cli
    from unisr.cli import export as export_cli
    from unisr.cli import graph as graph_cli
    from unisr.cli import serve as serve_cli
    from unisr.cli import simulate as simulate_cli
    from unisr.cli import train as train_cli

    app.add_typer(data_cli.app, name="data")
    simulate_cli.register(app)
    train_cli.register(app)
    graph_cli.register(app)
    benchmark_cli.register(app)
    export_cli.register(app)
    serve_cli.register(app)


_mount()


def main() -> None:  # pragma: no cover - console entry point
    try:
        app()  # standalone: bad input (ClickException) and usage errors exit here with their code
    except Exception as e:  # noqa: BLE001 - anything else is a bug of unisr: say so first, then the traceback
        first = str(e).strip().splitlines()
        sys.stderr.write(f"unisr: internal error (please report it): {type(e).__name__}: "
                         f"{first[0] if first else ''}\n")
        traceback.print_exc()
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
