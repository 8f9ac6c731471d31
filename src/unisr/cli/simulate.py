"""``unisr simulate`` (placeholder: owned by the simulator work)."""

import typer


def register(app: typer.Typer) -> None:
    pass
