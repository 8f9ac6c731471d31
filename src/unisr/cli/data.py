"""``unisr data ...`` (placeholder: owned by the data-layer work)."""

import typer

app = typer.Typer(help="Canonical datasets: validate, describe, import.", no_args_is_help=True)
