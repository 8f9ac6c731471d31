"""Exit codes of the CLI: 0 ok, 2 bad input (with a message naming the location), 1 internal error."""

from __future__ import annotations

import typer

# The ClickException class Typer itself catches (recent Typer versions vendor their own click).
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class BadInput(_ClickException):
    """Bad user input: the message names the file, column, row or field. Exit code 2."""

    exit_code = 2


def fail(message: str) -> None:
    raise BadInput(message)
