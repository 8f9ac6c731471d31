"""ESCI importer on fixtures in the published Parquet schema (no real rows ship in ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from unisr.data.importers import ImportSourceError, import_esci
from unisr.data.schema import DatasetSpec


def _fixture(src: Path) -> None:
    src.mkdir()
    ex = {
        "example_id": [0, 1, 2, 3, 4, 5, 6],
        "query": ["red shoes", "red shoes", "Blue Hat", "blue hat", "", "lamp", "lamp"],
        "query_id": [1, 1, 2, 2, 3, 4, 4],
        "product_id": ["A1", "A2", "A3", "A1", "A1", "A4", "A4"],
        "product_locale": ["us", "us", "es", "us", "us", "us", "us"],
        "esci_label": ["E", "S", "E", "I", "E", "X", "C"],
        "small_version": [1, 1, 0, 0, 1, 1, 1],
        "large_version": [1] * 7,
        "split": ["train", "test", "train", "test", "train", "train", "train"],
    }
    pq.write_table(pa.table(ex), src / "shopping_queries_dataset_examples.parquet")
    pr = {
        "product_id": ["A1", "A2", "A3", "A1"],
        "product_title": ["Red Shoes Size 9", "Red sandals", "Sombrero azul", "dup"],
        "product_description": [None] * 4, "product_bullet_point": [None] * 4,
        "product_brand": ["Acme", "Acme", "Sol", "x"], "product_color": ["red", "red", "blue", "x"],
        "product_locale": ["us", "us", "es", "us"],
    }
    pq.write_table(pa.table(pr), src / "shopping_queries_dataset_products.parquet")


def test_fixture_import_validate(tmp_path: Path, reasons, table, import_validate) -> None:
    src = tmp_path / "esci"
    _fixture(src)
    out, _ = import_validate("esci", src)
    assert reasons(out) == {"duplicate (product_locale, product_id)": 1, "empty query": 1,
                            "esci_label not one of E, S, C, I": 1}
    rep = import_esci(src, tmp_path / "again")
    assert rep.balanced and rep.read == {"shopping_queries_dataset_products.parquet": 4,
                                         "shopping_queries_dataset_examples.parquet": 7}
    events = table(out, "events")
    assert [(e["event_id"], e["click"], e["request_id"], e["split"]) for e in events] == [
        (0, 1, 1, "train"), (1, 0, 1, "test"), (2, 1, 2, "train"), (3, 0, 2, "test"), (6, 0, 4, "train")]
    assert {e["user_id"] for e in events} == {0}
    spec = DatasetSpec.load(out)
    assert sorted(s.name for s in spec.scenarios) == ["locale=es", "locale=us"]
    assert all(s.kind == "search_text" for s in spec.scenarios)
    rows = table(out, "items")
    assert len(rows) == 4 and sum(i["product_id"] is None for i in rows) == 1  # A4 has no product row: a bare item
    items = {i["product_id"] + i["locale"]: i for i in rows if i["product_id"]}
    assert items["A1us"]["title"] == "Red Shoes Size 9" and items["A1us"]["brand"] == items["A2us"]["brand"]
    q = {x["query_id"]: x for x in table(out, "queries")}
    red = items["A1us"]["title_tokens"][:2]
    assert q[1]["tokens"] == red  # "red shoes" shares the title's word ids


def test_missing_and_unreadable(tmp_path: Path) -> None:
    src = tmp_path / "esci"
    src.mkdir()
    with pytest.raises(ImportSourceError, match="shopping_queries_dataset_examples"):
        import_esci(src, tmp_path / "out")
    (src / "shopping_queries_dataset_examples.parquet").write_text("garbage")
    (src / "shopping_queries_dataset_products.parquet").write_text("garbage")
    with pytest.raises(ImportSourceError, match="not a readable Parquet file"):
        import_esci(src, tmp_path / "out")
