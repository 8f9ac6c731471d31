"""Amazon Shopping Queries (ESCI; Reddy et al., 2022; Apache-2.0) -> canonical dataset, search only.

Source (Parquet, read one record batch at a time): ``shopping_queries_dataset_examples.parquet`` =
``example_id, query, query_id, product_id, product_locale, esci_label, small_version, large_version, split``
and ``shopping_queries_dataset_products.parquet`` = ``product_id, product_title, product_description,
product_bullet_point, product_brand, product_color, product_locale``.

Output: one ``search_text`` scenario per locale (``us``, ``es``, ``jp``; first-seen ids from 0); each judged
(query, product) pair is an impression with ``event_id`` = example_id, ``query_id``, ``request_id`` =
query_id (a query's judged products form one list), ``click`` = (esci_label == E), the label kept as
``esci_label`` plus ``small_version`` / ``large_version``. ESCI has no users: every row belongs to one
anonymous user 0. Items are (locale, product_id) pairs (ids in first-seen order from 1, ``product_id`` and
``locale`` kept) with ``title``, ``color``, ``brand`` (an int32 id per distinct brand name) and
``title_tokens``; queries get ``tokens``; words are lower-cased runs of letters / digits, ids from one shared
vocabulary (first-seen order from 1). ts = 0; split: the dataset's ``split`` column, with the queries of the
train split whose ``query_id % 10 == 9`` moved to valid.

Shapes:
    (no tensors) Parquet record batches -> events / users / items / queries Parquet tables
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from unisr.data.importers.base import ImportReport, ImportSourceError
from unisr.data.importers.common import DatasetWriter, Entities, IdMap, ScenarioMap, blank, find
from unisr.data.schema import ColumnSplit, DatasetSpec, ScenarioKind

EXAMPLES = ("example_id", "query", "query_id", "product_id", "product_locale", "esci_label")
PRODUCTS = ("product_id", "product_title", "product_locale")
LABELS = ("E", "S", "C", "I")
BATCH = 262_144


def _batches(path: Path, need: tuple[str, ...], source: str) -> tuple[pq.ParquetFile, list[str]]:
    try:
        f = pq.ParquetFile(path)
    except Exception as e:  # noqa: BLE001 - any unreadable file is bad input
        raise ImportSourceError(f"{path}: not a readable Parquet file: {e}") from None
    names = f.schema_arrow.names
    missing = [c for c in need if c not in names]
    if missing:
        raise ImportSourceError(f"{path}: column(s) {missing} missing ({source} needs {', '.join(need)})")
    return f, names


def _tokens(text: pl.Series, vocab: IdMap) -> pl.Series:
    """Lower-cased word runs of each text -> list<int32> word ids (vectorised: explode, encode, regroup)."""
    words = text.str.to_lowercase().str.extract_all(r"[\w]+").to_frame("w").with_row_index("_r").explode("w")
    words = words.with_columns(id=vocab.encode(words["w"]).cast(pl.Int32))
    out = words.group_by("_r", maintain_order=True).agg(pl.col("id").drop_nulls())
    return out.sort("_r")["id"]


def _raw(df: pl.DataFrame, cols: list[str]) -> pl.Expr:
    return pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in cols], separator="\t").alias("raw")


def import_esci(src: str | Path, out: str | Path) -> ImportReport:
    """Convert ESCI (the two Parquet files in ``src``) to a canonical dataset in ``out``."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise ImportSourceError(f"{src}: no such folder")
    ex_path = find(src, ["shopping_queries_dataset_examples.parquet"], "ESCI examples")
    pr_path = find(src, ["shopping_queries_dataset_products.parquet"], "ESCI products")
    w = DatasetWriter("esci", src, out)
    scen = ScenarioMap(ScenarioKind.SEARCH_TEXT, prefix="locale=")
    products, words, brands = IdMap(), IdMap(), IdMap()
    items = Entities("item_id")
    qparts: list[pl.DataFrame] = []

    f, names = _batches(pr_path, PRODUCTS, "ESCI products")
    cols = [c for c in ("product_id", "product_title", "product_brand", "product_color", "product_locale")
            if c in names]
    line = 0
    for b in f.iter_batches(BATCH, columns=cols):
        df = pl.from_arrow(b).with_columns(line_no=pl.int_range(line, line + pl.len(), dtype=pl.Int64))
        line += df.height
        df = w.parsed(df, df.clear(), pr_path.name, "items")
        df = df.with_columns(_raw(df, cols), _key=pl.col("product_locale") + ":" + pl.col("product_id"))
        df = w.checked(df, [(blank("product_id"), "missing product_id"),
                            (blank("product_locale"), "missing product_locale"),
                            (pl.col("_key").is_duplicated() & ~pl.col("_key").is_first_distinct(),
                             "duplicate (product_locale, product_id)"),
                            (pl.col("_key").is_in(products.frame["key"].implode()),
                             "duplicate (product_locale, product_id)")], pr_path.name)
        df = df.with_columns(item_id=products.encode(df["_key"]),
                             title_tokens=_tokens(df["product_title"].fill_null(""), words),
                             brand=brands.encode(df["product_brand"]).cast(pl.Int32)
                             if "product_brand" in df.columns else pl.lit(None, pl.Int32))
        items.add(df.select("item_id", "product_id", locale="product_locale", title="product_title", brand="brand",
                            title_tokens="title_tokens",
                            **({"color": "product_color"} if "product_color" in df.columns else {})))
        w.wrote(pr_path.name, df.height)

    f, names = _batches(ex_path, EXAMPLES, "ESCI examples")
    cols = [c for c in (*EXAMPLES, "small_version", "large_version", "split") if c in names]
    line = 0
    for b in f.iter_batches(BATCH, columns=cols):
        df = pl.from_arrow(b).with_columns(line_no=pl.int_range(line, line + pl.len(), dtype=pl.Int64))
        line += df.height
        df = w.parsed(df, df.clear(), ex_path.name, "events")
        df = df.with_columns(_raw(df, cols), _key=pl.col("product_locale") + ":" + pl.col("product_id"),
                             _eid=pl.col("example_id").cast(pl.Int64, strict=False),
                             _qid=pl.col("query_id").cast(pl.Int64, strict=False))
        df = df.with_columns(_sid=scen.encode(df["product_locale"]))
        split = (pl.col("split").cast(pl.String) if "split" in df.columns else pl.lit("train"))
        df = df.with_columns(_split=pl.when((split == "train") & (pl.col("_qid") % 10 == 9))
                             .then(pl.lit("valid")).otherwise(split))
        df = w.checked(df, [
            (pl.col("_eid").is_null(), "example_id not an integer"),
            (pl.col("_qid").is_null(), "query_id not an integer"),
            (blank("query"), "empty query"),
            (blank("product_id") | blank("product_locale"), "missing product_id or product_locale"),
            (~pl.col("esci_label").is_in(list(LABELS)), f"esci_label not one of {', '.join(LABELS)}"),
            (~pl.col("_split").is_in(["train", "valid", "test"]), "split not train or test"),
        ], ex_path.name)
        df = df.with_columns(item_id=products.encode(df["_key"]))
        qparts.append(df.select(query_id="_qid", text="query").unique("query_id", keep="first"))
        items.ensure(df["item_id"])
        w.events(df.select(
            event_id="_eid", ts=pl.lit(0, pl.Int64), user_id=pl.lit(0, pl.Int64), scenario_id="_sid",
            item_id="item_id", click=(pl.col("esci_label") == "E").cast(pl.Int8), query_id="_qid",
            request_id="_qid", split="_split", esci_label="esci_label",
            **{c: pl.col(c).cast(pl.Int8) for c in ("small_version", "large_version") if c in df.columns}))
        w.wrote(ex_path.name, df.height)
    if not line:
        raise ImportSourceError(f"{ex_path}: nothing to import (no rows)")
    q = pl.concat(qparts).unique("query_id", keep="first").sort("query_id")
    w.table("queries", q.select("query_id", kind=pl.lit("text"), tokens=_tokens(q["text"], words), text="text"))
    spec = DatasetSpec(name="esci", scenarios=scen.specs(set(w.scenario_events)), labels=["click"],
                       split=ColumnSplit(), source={"format": "esci", "scenario": "product_locale",
                                                    "label": "click = esci_label E (exact)"})
    return w.finish(spec, pl.DataFrame({"user_id": [0]}, schema={"user_id": pl.Int64}), items.frame())
