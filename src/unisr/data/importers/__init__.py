"""Importers: public datasets' native files -> canonical datasets (``unisr data import FORMAT``).

Each importer is one module exposing ``import_<name>(src, out) -> ImportReport``; register it in
``IMPORTERS`` below (one line) and the CLI picks it up.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from unisr.data.importers.base import ImportReport, ImportSourceError
from unisr.data.importers.movielens import import_movielens

Importer = Callable[[str | Path, str | Path], ImportReport]

IMPORTERS: dict[str, Importer] = {
    "movielens": import_movielens,
}


def get_importer(name: str) -> Importer:
    """The importer registered as ``name``; ``KeyError`` listing the known ones otherwise."""
    try:
        return IMPORTERS[name]
    except KeyError:
        raise KeyError(f"unknown format {name!r}; known: {', '.join(sorted(IMPORTERS))}") from None


def run_import(name: str, src: str | Path, out: str | Path) -> ImportReport:
    """Run the importer ``name`` from ``src`` into ``out``."""
    return get_importer(name)(src, out)


__all__ = ["IMPORTERS", "ImportReport", "ImportSourceError", "Importer", "get_importer", "import_movielens",
           "run_import"]
