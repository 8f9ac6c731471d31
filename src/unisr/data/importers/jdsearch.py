"""JDsearch (personalised product search, JD.com; Liu et al., SIGIR'23) -> canonical dataset.

Source (tab separated; lists joined by ``_``; query / name terms joined by ``\\x18``):
``release_data.txt`` / ``user_behavior_data*.txt`` = ``query, candidate_wid_list, candidate_label_list,
history_qry_list, history_wid_list, history_type_list, history_time_list`` (one line per user; labels 0 none,
1 click, 2 cart, 3 buy; history types ORD, CLICK, CART, FLW; ``-1`` = a query-less behaviour; time = the
interval after the previous behaviour, the first 0, one more entry than the history: the test search), and
``product_data.txt`` / ``product_meta_data*.txt`` = ``wid, name, brand_id, brand_name, cate_id_1, cate_name_1,
..., cate_id_4, cate_name_4, shop_id``.

Output: user_id = the 1-based data line of the user. Scenario 0 ``search`` (``search_text``): the history
behaviours with a query and the test request; scenario 1 ``query_less`` (``recommend``): the history
behaviours without one. History events are positives (click 1; conversion 1 for ORD) with ``behaviour`` (the
type) and ts = the running sum of the intervals; the test query's candidate list is one request
(``request_id`` = user_id, ``position`` = rank in the list, click = label >= 1, conversion = label 3, the raw
``label`` kept) at ts = the total. Queries: one per distinct term sequence, ``tokens`` = the term ids.
Items: ``title_tokens`` = name terms, ``brand``, ``shop``, ``category_path`` = cate_id_1..4; ids that the logs
use and the product file lacks get a bare row. Split (column): history -> train; the test request -> test,
or valid for users with ``user_id % 10 == 0``.

Shapes:
    (no tensors) text lines -> events / users / items / queries Parquet tables
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
    int_list,
    iter_blocks,
    list_ok,
    split_csv,
    to_int,
)
from unisr.data.schema import ColumnSplit, DatasetSpec, ScenarioKind, ScenarioSpec

BEHAVIOUR = ("query", "candidate_wid_list", "candidate_label_list", "history_qry_list", "history_wid_list",
             "history_type_list", "history_time_list")
PRODUCT = ("wid", "name", "brand_id", "brand_name", "cate_id_1", "cate_name_1", "cate_id_2", "cate_name_2",
           "cate_id_3", "cate_name_3", "cate_id_4", "cate_name_4", "shop_id")
TYPES = ("ORD", "CLICK", "CART", "FLW")
TERM = "\x18"
SCENARIOS = [ScenarioSpec(id=0, name="search", kind=ScenarioKind.SEARCH_TEXT),
             ScenarioSpec(id=1, name="query_less", kind=ScenarioKind.RECOMMEND)]


def _file(src: Path, names: list[str], glob: str, what: str) -> Path:
    for n in names:
        if (src / n).exists():
            return src / n
    found = sorted(src.glob(glob))
    if found:
        return found[0]
    raise ImportSourceError(f"{src / names[0]}: missing ({what})")


def _header_fields(block: pl.DataFrame, names: tuple[str, ...]) -> pl.DataFrame:
    first = block["raw"][0].split("\t")
    return block.slice(1) if first and first[0].strip() == names[0] else block


def import_jdsearch(src: str | Path, out: str | Path) -> ImportReport:
    """Convert JDsearch (``release_data.txt`` + ``product_data.txt`` or the samples in ``src``) to a canonical
    dataset in ``out``."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise ImportSourceError(f"{src}: no such folder")
    beh = _file(src, ["release_data.txt"], "user_behavior_data*.txt", "JDsearch user lines: release_data.txt")
    prod = _file(src, ["product_data.txt"], "product_meta_data*.txt", "JDsearch products: product_data.txt")
    w = DatasetWriter("jdsearch", src, out)
    qmap = IdMap()
    items = Entities("item_id")
    # ---- products
    for i, block in enumerate(iter_blocks(prod)):
        block = _header_fields(block, PRODUCT) if i == 0 else block
        good = w.parsed(*split_csv(block, "\t", list(PRODUCT)), prod.name, "items")
        cats = pl.concat_list([to_int(f"cate_id_{k}") for k in range(1, 5)])
        good = good.with_columns(item_id=to_int("wid"), title_tokens=int_list("name", TERM), category_path=cats,
                                 brand=to_int("brand_id"), shop=to_int("shop_id"))
        good = w.checked(good, [
            (blank("wid") | pl.col("item_id").is_null(), "product id (wid) not an integer"),
            (~list_ok(pl.col("title_tokens")), "name term not an integer"),
            (~blank("brand_id") & pl.col("brand").is_null(), "brand_id not an integer"),
            (~blank("shop_id") & pl.col("shop").is_null(), "shop_id not an integer"),
            (pl.col("item_id").is_duplicated() & ~pl.col("item_id").is_first_distinct(), "duplicate product id"),
            (pl.col("item_id").is_in(items.seen.implode()), "duplicate product id"),
        ], prod.name)
        items.add(good.select("item_id", "title_tokens", "brand", "shop",
                              pl.col("category_path").list.eval(pl.element().filter(pl.element().is_not_null()))))
        w.wrote(prod.name, good.height)
    # ---- user lines
    user_parts: list[pl.DataFrame] = []
    for i, block in enumerate(iter_blocks(beh)):
        block = _header_fields(block, BEHAVIOUR) if i == 0 else block
        good = w.parsed(*split_csv(block, "\t", list(BEHAVIOUR)), beh.name, "events")
        sp = {c: pl.col(c).str.split("_") for c in BEHAVIOUR[1:]}
        good = good.with_columns(
            user_id=pl.col("line_no"), cand=int_list("candidate_wid_list", "_"),
            lab=pl.col("candidate_label_list").str.split("_").list.eval(pl.element().cast(pl.Float64, strict=False)),
            hq=sp["history_qry_list"], hw=int_list("history_wid_list", "_"), ht=sp["history_type_list"],
            dt=int_list("history_time_list", "_"),
        )
        nh = pl.col("hw").list.len()
        good = w.checked(good, [
            (blank("query"), "missing test query"),
            (~list_ok(int_list("query", TERM)), "query term not an integer"),
            (~list_ok(pl.col("cand")), "candidate wid not an integer"),
            (~list_ok(pl.col("lab")), "candidate label not a number"),
            (pl.col("lab").list.eval(~pl.element().is_in([0.0, 1.0, 2.0, 3.0])).list.any(),
             "candidate label not in {0, 1, 2, 3}"),
            (pl.col("cand").list.len() != pl.col("lab").list.len(), "candidate and label lists differ in length"),
            (~list_ok(pl.col("hw")), "history wid not an integer"),
            (~list_ok(pl.col("dt")), "history time not an integer"),
            ((pl.col("hq").list.len() != nh) | (pl.col("ht").list.len() != nh)
             | (pl.col("dt").list.len() != nh + 1), "history lists differ in length (time list must be one longer)"),
            (pl.col("ht").list.eval(~pl.element().is_in(list(TYPES))).list.any(),
             f"history type not one of {', '.join(TYPES)}"),
            (pl.col("dt").list.eval(pl.element() < 0).list.any(), "negative history time interval"),
        ], beh.name)
        w.wrote(beh.name, good.height)
        if not good.height:
            continue
        good = good.with_columns(t=pl.col("dt").list.eval(pl.element().cum_sum()))
        hist = (good.select("user_id", "hq", "hw", "ht", t=pl.col("t").list.slice(0, nh), _pos=pl.int_ranges(nh))
                .explode("hq", "hw", "ht", "t", "_pos"))
        hist = hist.with_columns(q=pl.when(pl.col("hq") == "-1").then(None).otherwise(pl.col("hq")))
        hist = hist.with_columns(query_id=qmap.encode(hist["q"]))
        test = (good.select("user_id", "query", "cand", "lab", t=pl.col("t").list.last(),
                            _pos=pl.int_ranges(pl.col("cand").list.len()))
                .explode("cand", "lab", "_pos"))
        test = test.with_columns(query_id=qmap.encode(test["query"]))
        w.events(pl.concat([
            hist.select(ts="t", user_id="user_id",
                        scenario_id=pl.when(pl.col("query_id").is_null()).then(1).otherwise(0).cast(pl.Int16),
                        item_id="hw", click=pl.lit(1, pl.Int8), query_id="query_id",
                        conversion=(pl.col("ht") == "ORD").cast(pl.Int8), split=pl.lit("train"),
                        behaviour="ht", label=pl.lit(None, pl.Int8)),
            test.select(ts="t", user_id="user_id", scenario_id=pl.lit(0, pl.Int16), item_id="cand",
                        click=(pl.col("lab") >= 1).cast(pl.Int8), query_id="query_id", request_id="user_id",
                        position=pl.col("_pos").cast(pl.Int16), conversion=(pl.col("lab") == 3).cast(pl.Int8),
                        split=pl.when(pl.col("user_id") % 10 == 0).then(pl.lit("valid")).otherwise(pl.lit("test")),
                        behaviour=pl.lit("SHOWN"), label=pl.col("lab").cast(pl.Int8)),
        ], how="diagonal_relaxed"))
        items.ensure(pl.concat([hist["hw"], test["cand"]]))
        user_parts.append(good.select("user_id"))
    users = pl.concat(user_parts) if user_parts else pl.DataFrame(schema={"user_id": pl.Int64})
    if len(qmap):  # the query table is the map itself: one row per distinct term sequence
        w.table("queries", qmap.frame.select(query_id="id", kind=pl.lit("text"),
                                             tokens=int_list("key", TERM).cast(pl.List(pl.Int32))))
    spec = DatasetSpec(name="jdsearch", scenarios=SCENARIOS, labels=["click", "conversion"], split=ColumnSplit(),
                       source={"format": "jdsearch", "scenario": "search history + test request = search; "
                                                                 "query-less history (-1) = query_less"})
    return w.finish(spec, users, items.frame())
