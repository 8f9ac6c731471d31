"""MIND news -> canonical dataset: ``Category`` = scenario (Scenario-Wise Rec's layout).

Source: ``mind.csv`` or ``mind_sample.csv`` = ``User_ID,News_ID,label,Category,SubCategory`` (ids are strings
``U123`` / ``N456``). Output: one ``recommend`` scenario per category, ids in first-seen order from 0, named
``category=<name>``; ``click`` = label; user and news ids remapped to int64 (first-seen order from 1; the
original id is kept in ``users.mind_id`` / ``items.mind_id``); items carry ``category`` and ``subcategory``;
ts = 0 (no impression time in this layout); random 8:1:1 split.

Shapes:
    (no tensors) CSV -> events / users / items Parquet tables
"""

from __future__ import annotations

from pathlib import Path

from unisr.data.importers.base import ImportReport
from unisr.data.importers.common import ScenarioMap
from unisr.data.importers.flat import FlatFormat, import_flat
from unisr.data.schema import ScenarioKind

FORMAT = FlatFormat(
    name="mind", dataset="mind", files=[("mind.csv", ""), ("mind_sample.csv", "")],
    user="User_ID", item="News_ID", scenario="Category", str_ids=True,
    scenarios=lambda: ScenarioMap(ScenarioKind.RECOMMEND, prefix="category="), click="label",
    user_cols={"User_ID": "str"}, item_cols={"Category": "str", "SubCategory": "str"},
    source={"scenario": "Category", "label": "click = label"},
)


def import_mind(src: str | Path, out: str | Path) -> ImportReport:
    """Convert MIND (Scenario-Wise Rec CSV in ``src``) to a canonical dataset in ``out``."""
    return import_flat(FORMAT, src, out)
