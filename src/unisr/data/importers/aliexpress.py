"""AliExpress (MTReclib layout) -> canonical dataset: country = scenario, click and conversion.

Source: ``<country>_{train,test}*.csv`` (MTReclib names them ``AliExpress_US/train.csv`` etc.; torch-rechub
``aliexpress_us_train_sample.csv``; FuxiCTR ``tiny_mtl_train.csv``) = ``search_id, categorical_1..16,
numerical_1..63, click, conversion``. The country comes from the file (or folder) name (``us``, ``nl``, ``es``,
``fr``, ``ru``; anything else is ``unknown``). The layout has no user or item id: each ``search_id`` (one
search's list) stands for its user (``user_id`` = ``request_id`` = search_id) and the 16 categorical and 63
numerical fields stay on the events (``item_id`` 0 is one placeholder item). Output: one ``recommend``
scenario per country, ``click``, ``conversion``; ts = 0; the file's split (every 10th train row -> valid).

Shapes:
    (no tensors) CSV -> events / users / items Parquet tables
"""

from __future__ import annotations

import re
from pathlib import Path

from unisr.data.importers.base import ImportReport, ImportSourceError
from unisr.data.importers.common import ScenarioMap
from unisr.data.importers.flat import FlatFormat, import_flat
from unisr.data.schema import ScenarioKind

COUNTRIES = ("nl", "es", "fr", "us", "ru")
EVENT_COLS = {f"categorical_{i}": "int" for i in range(1, 17)} | {f"numerical_{i}": "float" for i in range(1, 64)}


def country(path: str) -> str:
    m = re.search(r"(?:^|[_/\\-])(" + "|".join(COUNTRIES) + r")(?:[_/\\.-]|$)", path.lower())
    return m.group(1).upper() if m else "unknown"


def _files(src: Path) -> list[tuple[str, str]]:
    out = []
    for p in sorted(src.rglob("*.csv")):
        rel = str(p.relative_to(src))
        kind = "test" if "test" in p.name.lower() else "train" if "train" in p.name.lower() else ""
        if kind:
            out.append((rel, kind))
    if not out:
        raise ImportSourceError(f"{src}: no AliExpress files (expected *train*.csv and *test*.csv, MTReclib layout)")
    return [(f, "train_only" if s == "train" else s) for f, s in out]


def import_aliexpress(src: str | Path, out: str | Path) -> ImportReport:
    """Convert AliExpress (MTReclib CSVs under ``src``) to a canonical dataset in ``out``."""
    src = Path(src)
    fmt = FlatFormat(
        name="aliexpress", dataset="aliexpress", files=_files(src), user="search_id", item=None, scenario=None,
        file_scenario=country, scenarios=lambda: ScenarioMap(ScenarioKind.RECOMMEND, prefix="country="),
        click="click", conversion="conversion", request="search_id", event_cols=EVENT_COLS,
        source={"scenario": "country (from the file name)", "labels": "click, conversion"},
    )
    return import_flat(fmt, src, out)

