"""The ``unisr`` command line (Typer). Sub-commands live in their own modules and are mounted here."""

from __future__ import annotations

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
    from unisr.cli import graph as graph_cli
    from unisr.cli import simulate as simulate_cli
    from unisr.cli import train as train_cli

    app.add_typer(data_cli.app, name="data")
    simulate_cli.register(app)
    train_cli.register(app)
    graph_cli.register(app)
    benchmark_cli.register(app)


_mount()


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
