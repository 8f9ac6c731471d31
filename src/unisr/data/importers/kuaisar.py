"""KuaiSAR (Kuaishou unified search and recommendation; Sun et al., CIKM'23; Zenodo 8181109) -> canonical
dataset with a search and a recommendation scenario, query tokens and the follow network.

Source (comma separated, with headers): ``rec_inter.csv`` = ``user_id, item_id, playing_time, duration_ms,
time, timestamp, click, forward, like, follow, search, search_item_related``; ``src_inter.csv`` = ``user_id,
search_session_id, search_session_time, search_session_timestamp, keyword, search_source, item_id, click_cnt,
item_type`` (keyword = a list of anonymised term ids); ``social_network.csv`` = ``user_id, user_follow_id``;
``user_features.csv`` = ``user_id, search_active_level, rec_active_level, onehot_feat1, onehot_feat2, ...``;
``item_features.csv`` = ``item_id, caption, author_id, item_type, upload_time, upload_type,
first_level_category_id, ..., fourth_level_category_name_en``.

Output: scenario 0 ``search`` (``search_text``) from src_inter: ``query_id`` = the distinct term-id sequence
of ``keyword`` (queries ``tokens``), ``request_id`` = ``session_id`` = search_session_id, click =
click_cnt > 0, ts = search_session_timestamp; scenario 1 ``rec`` (``recommend``) from rec_inter: click, ts =
timestamp (milliseconds are turned into seconds), playing_time / duration_ms / forward / like / follow /
search / search_item_related kept on the events. ``social.parquet``: user -> followed user, view ``follow``.
Users: the user feature columns as strings; items: author_id, item_type, upload_type, upload_time and
``category_path`` = the four category ids. Ids the logs use without a feature row get a bare row.
Split: time windows 8:1:1 over the events' ts.

Shapes:
    (no tensors) CSV blocks -> events / users / items / queries / social Parquet tables
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from unisr.data.importers.base import ImportReport, ImportSourceError
from unisr.data.importers.common import (
    DatasetWriter,
    Entities,
    IdMap,
    blank,
    int_checks,
    iter_rows,
    label_checks,
    to_float,
    to_int,
    to_label,
    ts_checks,
    unix_seconds,
)
from unisr.data.schema import DatasetSpec, ScenarioKind, ScenarioSpec, TimeSplit

SCENARIOS = [ScenarioSpec(id=0, name="search", kind=ScenarioKind.SEARCH_TEXT),
             ScenarioSpec(id=1, name="rec", kind=ScenarioKind.RECOMMEND)]
REC_EXTRA = ("playing_time", "duration_ms", "forward", "like", "follow", "search", "search_item_related")
CATS = ("first_level_category_id", "second_level_category_id", "third_level_category_id",
        "fourth_level_category_id")
ITEM_KEEP = ("author_id", "item_type", "upload_type", "upload_time")


def _need(src: Path, name: str) -> Path:
    if not (src / name).exists():
        raise ImportSourceError(f"{src / name}: missing (KuaiSAR needs rec_inter.csv and src_inter.csv; "
                                "social_network.csv, user_features.csv, item_features.csv are optional)")
    return src / name


def import_kuaisar(src: str | Path, out: str | Path) -> ImportReport:
    """Convert KuaiSAR (the Zenodo CSVs in ``src``) to a canonical dataset in ``out``."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise ImportSourceError(f"{src}: no such folder")
    rec, srch = _need(src, "rec_inter.csv"), _need(src, "src_inter.csv")
    w = DatasetWriter("kuaisar", src, out)
    users, items = Entities("user_id"), Entities("item_id")
    qmap = IdMap()
    ids = int_checks({"user_id": "user id", "item_id": "item id"})

    if (src / "user_features.csv").exists():
        for good, bad in iter_rows(src / "user_features.csv", ",", need=("user_id",)):
            good = w.parsed(good, bad, "user_features.csv", "users")
            good = w.checked(good, int_checks({"user_id": "user id"}), "user_features.csv")
            users.add(good.select(to_int("user_id"),
                                  *[c for c in good.columns if c not in ("user_id", "line_no", "raw")]))
            w.wrote("user_features.csv", good.height)
    if (src / "item_features.csv").exists():
        for good, bad in iter_rows(src / "item_features.csv", ",", need=("item_id", *CATS)):
            good = w.parsed(good, bad, "item_features.csv", "items")
            good = w.checked(good, int_checks({"item_id": "item id"}) + [
                (~blank(c) & to_int(c).is_null(), f"{c} not an integer") for c in CATS], "item_features.csv")
            keep = [c for c in ITEM_KEEP if c in good.columns]
            cats = pl.concat_list([to_int(c) for c in CATS]).list.eval(
                pl.element().filter(pl.element().is_not_null() & (pl.element() >= 0)))
            items.add(good.select(to_int("item_id"), *keep, category_path=cats))
            w.wrote("item_features.csv", good.height)

    for good, bad in iter_rows(srch, ",", need=("user_id", "search_session_id", "search_session_timestamp",
                                                "keyword", "item_id", "click_cnt")):
        good = w.parsed(good, bad, srch.name, "events")
        terms = pl.col("keyword").str.extract_all(r"-?\d+").list.join(",")
        good = w.checked(good.with_columns(_terms=terms), ids + int_checks({"search_session_id": "search session id"})
                         + [(blank("keyword") | (pl.col("_terms").str.len_chars() == 0), "no keyword terms"),
                            (to_float("click_cnt").is_null() | (to_float("click_cnt") < 0),
                             "click_cnt not a count")]
                         + ts_checks(unix_seconds("search_session_timestamp"), "search_session_timestamp"),
                         srch.name)
        good = good.with_columns(query_id=qmap.encode(good["_terms"]))
        w.events(good.select(
            ts=unix_seconds("search_session_timestamp"), user_id=to_int("user_id"), scenario_id=pl.lit(0, pl.Int16),
            item_id=to_int("item_id"), click=(to_float("click_cnt") > 0).cast(pl.Int8), query_id="query_id",
            request_id=to_int("search_session_id"), session_id=to_int("search_session_id"),
            click_cnt=to_int("click_cnt"),
            **{c: pl.col(c) for c in ("search_source", "item_type") if c in good.columns}))
        users.ensure(good.select(to_int("user_id")).to_series())
        items.ensure(good.select(to_int("item_id")).to_series())
        w.wrote(srch.name, good.height)

    for good, bad in iter_rows(rec, ",", need=("user_id", "item_id", "timestamp", "click")):
        good = w.parsed(good, bad, rec.name, "events")
        good = w.checked(good, ids + label_checks({"click": "click"}) + ts_checks(unix_seconds("timestamp")),
                         rec.name)
        w.events(good.select(
            ts=unix_seconds("timestamp"), user_id=to_int("user_id"), scenario_id=pl.lit(1, pl.Int16),
            item_id=to_int("item_id"), click=to_label("click"),
            **{c: to_int(c) for c in REC_EXTRA if c in good.columns}))
        users.ensure(good.select(to_int("user_id")).to_series())
        items.ensure(good.select(to_int("item_id")).to_series())
        w.wrote(rec.name, good.height)

    if (src / "social_network.csv").exists():
        edges = []
        for good, bad in iter_rows(src / "social_network.csv", ",", need=("user_id", "user_follow_id")):
            good = w.parsed(good, bad, "social_network.csv", "social")
            good = w.checked(good, int_checks({"user_id": "user id", "user_follow_id": "followed user id"}),
                             "social_network.csv")
            edges.append(good.select(src_user_id=to_int("user_id"), dst_user_id=to_int("user_follow_id"),
                                     view=pl.lit("follow")))
            w.wrote("social_network.csv", good.height)
        if edges:
            soc = pl.concat(edges)
            users.ensure(pl.concat([soc["src_user_id"], soc["dst_user_id"]]))
            w.table("social", soc)
    if len(qmap):  # the query table is the map itself: one row per distinct term sequence
        w.table("queries", qmap.frame.select(query_id="id", kind=pl.lit("text"),
                                             tokens=pl.col("key").str.split(",").cast(pl.List(pl.Int32))))
    spec = DatasetSpec(name="kuaisar", scenarios=SCENARIOS, labels=["click"],
                       split=TimeSplit(proportions={"train": 8, "valid": 1, "test": 1}),
                       source={"format": "kuaisar", "scenarios": "src_inter = search, rec_inter = rec"})
    return w.finish(spec, users.frame(), items.frame())
