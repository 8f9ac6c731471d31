"""The tiny preset writes a valid canonical dataset with the documented columns, ids and scenarios."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from unisr.data.schema import EVENTS, ITEMS, TRUTH, DatasetSpec, ScenarioKind
from unisr.data.validate import validate_dataset


def test_tiny_passes_the_canonical_validator(tiny_dir: Path) -> None:
    problems = validate_dataset(tiny_dir)
    assert problems == [], "\n".join(map(str, problems[:20]))


def test_exact_arrow_types(tiny_dir: Path) -> None:
    ev = pq.read_schema(tiny_dir / "events.parquet")
    for f in ev:
        assert f.type == EVENTS.type_of(f.name), f.name
    assert "split" not in ev.names
    tr = pq.read_schema(tiny_dir / "truth.parquet")
    # CONTRACT.md's optional p_click_no_position (float32) until unisr.data.schema.TRUTH lists it
    contract = {"p_click_no_position": pa.float32()}
    for f in tr:
        assert f.type == (TRUTH.type_of(f.name) or contract.get(f.name)), f.name
    assert "p_click_no_position" in tr.names
    it = pq.read_schema(tiny_dir / "items.parquet")
    for name in ITEMS.optional:
        assert it.field(name).type == ITEMS.optional[name], name
    for s in ("search_text", "search_visual", "search_similar"):
        assert f"emb_{s}" in it.names
    users = pq.read_schema(tiny_dir / "users.parquet")
    assert {"gender", "age_level", "purchasing_power"} <= set(users.names)
    assert "community" not in users.names  # latent: only under latent/
    assert (tiny_dir / "latent" / "users_latent.parquet").exists()


def test_item_content(tiny_dir: Path) -> None:
    items = pl.read_parquet(tiny_dir / "items.parquet")
    assert items["category_path"].list.len().unique().to_list() == [3]
    assert items["image_emb"].list.len().unique().to_list() == [64]
    assert items["title_tokens"].list.len().min() >= 4


def test_every_scenario_declared_has_events(tiny_dir: Path, tiny_events: pl.DataFrame) -> None:
    spec = DatasetSpec.load(tiny_dir)
    kinds = {s.kind for s in spec.scenarios}
    assert kinds == set(ScenarioKind)
    counts = dict(tiny_events.group_by("scenario_id").len().iter_rows())
    for s in spec.scenarios:
        assert counts.get(s.id, 0) >= 3, s.name
    share = [s for s in spec.scenarios if s.kind == "share"]
    assert len(share) >= 16 and all(s.tree_path and s.tree_path[-1] == s.name for s in share)
    assert spec.split.kind == "time" and spec.split.proportions == {"background": 14, "train": 7, "valid": 1, "test": 2}
    assert "simulator" in (spec.model_extra or {})


def test_event_columns_by_scenario_kind(tiny_dir: Path, tiny_events: pl.DataFrame) -> None:
    spec = DatasetSpec.load(tiny_dir)
    kind = {s.id: str(s.kind) for s in spec.scenarios}
    ev = tiny_events.with_columns(pl.col("scenario_id").replace_strict(kind, return_dtype=pl.String).alias("kind"))
    q = pl.read_parquet(tiny_dir / "queries.parquet")
    qkind = dict(zip(q["query_id"].to_list(), q["kind"].to_list(), strict=True))
    by = {k: part for (k,), part in ev.group_by("kind")}
    assert by["recommend"]["query_id"].null_count() == by["recommend"].height
    assert by["share"]["target_user_id"].null_count() == 0
    assert by["search_similar"]["trigger_item_id"].null_count() == 0
    for k, qk in (("search_text", "text"), ("search_visual", "visual"), ("search_similar", "trigger")):
        ids = by[k]["query_id"]
        assert ids.null_count() == 0
        assert {qkind[i] for i in ids.unique().to_list()} == {qk}
    vis = q.filter(pl.col("kind") == "visual")
    assert vis["emb"].list.len().unique().to_list() == [64]
    # one request = one list shown at once: a single (user, scenario, ts) and distinct positions
    r = ev.group_by("request_id").agg(
        pl.col("user_id").n_unique(), pl.col("scenario_id").n_unique(), pl.col("position").n_unique(), pl.len()
    )
    assert (r["user_id"] == 1).all() and (r["scenario_id"] == 1).all() and (r["position"] == r["len"]).all()
    assert ev["event_id"].is_unique().all()
    assert set(ev["click"].unique().to_list()) <= {0, 1}
    assert (ev.filter(pl.col("click") == 0)["conversion"] == 0).all()


def test_dictionary_encoding_only_on_low_cardinality_columns(tiny_dir: Path) -> None:
    """``simulate.writer._dictionary_columns``: ids, timestamps and probabilities are written plain (a dictionary
    costs time and bytes there), small ints (scenario, click, position) dictionary-encoded."""
    for table, plain, dictionary in (("events", ("event_id", "ts", "user_id", "item_id"), ("scenario_id", "click", "position")),
                                     ("truth", ("event_id", "p_click"), ())):
        path = tiny_dir / f"{table}.parquet"
        files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
        meta = pq.ParquetFile(files[0]).metadata
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        enc = {n: set(meta.row_group(0).column(i).encodings) for i, n in enumerate(names)}
        for c in plain:
            assert not enc[c] & {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}, (table, c, enc[c])
        for c in dictionary:
            assert enc[c] & {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}, (table, c, enc[c])
