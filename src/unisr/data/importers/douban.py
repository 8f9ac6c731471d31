"""Douban (book / movie / music) -> canonical dataset: ``domain`` = scenario (Scenario-Wise Rec's layout).

Source: ``douban.csv`` or ``douban_sample.csv`` = ``user_id,item_id,rating,domain,living_place,join_time,
time_bin`` (rating already 0/1; the user's place, join date and join-time bin repeated on every line).
Output: scenarios book 0, movie 1, music 2 (``recommend``); ``click`` = rating; users carry living_place,
join_time, time_bin; items only their id; ts = 0 (the layout has no interaction time); random 8:1:1 split.

Shapes:
    (no tensors) CSV -> events / users / items Parquet tables
"""

from __future__ import annotations

from pathlib import Path

from unisr.data.importers.base import ImportReport
from unisr.data.importers.common import ScenarioMap
from unisr.data.importers.flat import FlatFormat, import_flat
from unisr.data.schema import ScenarioKind

DOMAINS = {"book": (0, "book"), "movie": (1, "movie"), "music": (2, "music")}
FORMAT = FlatFormat(
    name="douban", dataset="douban", files=[("douban.csv", ""), ("douban_sample.csv", "")],
    user="user_id", item="item_id", scenario="domain",
    scenarios=lambda: ScenarioMap(ScenarioKind.RECOMMEND, DOMAINS), click="rating",
    user_cols={"living_place": "str", "join_time": "str", "time_bin": "int"},
    source={"scenario": "domain", "label": "click = rating (0/1 in the source)"},
)


def import_douban(src: str | Path, out: str | Path) -> ImportReport:
    """Convert Douban (Scenario-Wise Rec CSV in ``src``) to a canonical dataset in ``out``."""
    return import_flat(FORMAT, src, out)
