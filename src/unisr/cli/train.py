"""``unisr train/evaluate/models/benchmark``."""

import typer


def register(app: typer.Typer) -> None:
    pass
