"""Taobao display advertising -> canonical dataset: ``pid`` (ad slot) = scenario, with the behaviour sequence.

Source: FuxiCTR's joined CSV ``train*.csv`` / ``valid*.csv`` / ``test*.csv`` = ``clk, time_stamp, userid,
adgroup_id, pid, cate_id, campaign_id, customer, brand, price, cms_segid, cms_group_id, final_gender_code,
age_level, pvalue_level, shopping_level, occupation, new_user_class_level, click_sequence`` (time as
``YYYY-MM-DD HH:MM:SS`` UTC, sequence joined by ``^``). Output: one ``recommend`` scenario per pid (first-seen
ids, named ``pid=<v>``); ``click`` = clk; user profile to users; the ad group's cate_id, campaign_id,
customer, brand (as ``brand_id``), price to items; ``click_sequence`` kept on the events as list<int64>;
the file's split in ``split`` (a source without a valid file gets every 10th train row as valid).

Shapes:
    (no tensors) CSV -> events / users / items Parquet tables
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from unisr.data.importers.base import ImportReport
from unisr.data.importers.common import ScenarioMap
from unisr.data.importers.flat import FlatFormat, import_flat
from unisr.data.schema import ScenarioKind

USER_COLS = {c: "int" for c in ("cms_segid", "cms_group_id", "final_gender_code", "age_level", "pvalue_level",
                                "shopping_level", "occupation", "new_user_class_level")}
ITEM_COLS = {"cate_id": "int", "campaign_id": "int", "customer": "int", "brand": "int", "price": "float"}


def _datetime(col: str) -> pl.Expr:
    """``YYYY-MM-DD HH:MM:SS`` (UTC) or unix seconds -> Int64 unix seconds."""
    dt = pl.col(col).str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_zone="UTC")
    return dt.dt.epoch("s").fill_null(pl.col(col).cast(pl.Int64, strict=False))


def _format(files: list[tuple[str, str]]) -> FlatFormat:
    return FlatFormat(
        name="taobao-ad", dataset="taobao-display-ad", files=files,
        user="userid", item="adgroup_id", scenario="pid",
        scenarios=lambda: ScenarioMap(ScenarioKind.RECOMMEND, prefix="pid="), click="clk",
        ts="time_stamp", ts_expr=_datetime, user_cols=USER_COLS, item_cols=ITEM_COLS,
        event_cols={"click_sequence": "list:^"},
        source={"scenario": "pid", "label": "click = clk"},
    )


def import_taobao_ad(src: str | Path, out: str | Path) -> ImportReport:
    """Convert Taobao display ads (FuxiCTR CSVs in ``src``) to a canonical dataset in ``out``."""
    src = Path(src)
    names = {s: sorted(p.name for p in src.glob(f"{s}*.csv")) for s in ("train", "valid", "test")}
    has_valid = bool(names["valid"])
    files = [(n, "train" if has_valid else "train_only") for n in names["train"]]
    files += [(n, s) for s in ("valid", "test") for n in names[s]]
    return import_flat(_format(files or [("train.csv", "train")]), src, out)
