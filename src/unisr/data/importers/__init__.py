"""Importers: public datasets' native files -> canonical datasets (``unisr data import FORMAT``).

Each importer is one module exposing ``import_<name>(src, out) -> ImportReport``; register it in
``IMPORTERS`` below (one line) and the CLI picks it up.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from unisr.data.importers.aliccp import import_aliccp
from unisr.data.importers.aliexpress import import_aliexpress
from unisr.data.importers.base import ImportReport, ImportSourceError
from unisr.data.importers.douban import import_douban
from unisr.data.importers.esci import import_esci
from unisr.data.importers.jdsearch import import_jdsearch
from unisr.data.importers.kuairand import import_kuairand
from unisr.data.importers.kuaisar import import_kuaisar
from unisr.data.importers.mind import import_mind
from unisr.data.importers.movielens import import_movielens
from unisr.data.importers.taobao_ad import import_taobao_ad

Importer = Callable[[str | Path, str | Path], ImportReport]

IMPORTERS: dict[str, Importer] = {
    "movielens": import_movielens,
    "kuaisar": import_kuaisar,
    "aliccp": import_aliccp,
    "aliexpress": import_aliexpress,
    "kuairand": import_kuairand,
    "douban": import_douban,
    "mind": import_mind,
    "taobao-ad": import_taobao_ad,
    "jdsearch": import_jdsearch,
    "esci": import_esci,
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


__all__ = ["IMPORTERS", "ImportReport", "ImportSourceError", "Importer", "get_importer", "import_aliccp",
           "import_aliexpress", "import_douban", "import_esci", "import_jdsearch", "import_kuairand", "import_kuaisar",
           "import_mind", "import_movielens", "import_taobao_ad",
           "run_import"]
