"""The data gate (``unisr.data.gate``): the rules of ``data validate`` applied while streaming, rejected rows
written with their reason, counts per split adding up, and every reader of the events seeing the same rows.

Shapes:
    (no tensors) tiny canonical datasets -> gate verdicts per row
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unisr.data.gate import BadRowError, DataGateError, load_spec, open_gate, scan
from unisr.data.reader import iter_row_groups
from unisr.data.schema import EVENTS, RandomSplit, TimeSplit
from unisr.data.validate import split_rule_problems, validate_dataset

Make = Callable[..., Path]


def _edit(tables: dict, column: str, row: int, value) -> dict:
    ev = tables["events"]
    vals = ev[column].to_pylist()
    vals[row] = value
    tables["events"] = ev.set_column(ev.schema.get_field_index(column), column,
                                     pa.array(vals, ev.schema.field(column).type))
    return tables


def test_clean_dataset_uses_every_row(write_dataset: Make) -> None:
    root = write_dataset()
    g = scan(root)
    assert g.total_rejected == 0 and g.total_read == 12 and not g.reason_counts()
    assert {k: v["read"] for k, v in g.rows.items()} == {"train": 8, "valid": 2, "test": 2}
    assert all(v["read"] == v["used"] for v in g.rows.values())
    assert g.write_rejected(root / "x") is None


ROW_CASES = [  # column, row, value, reason
    ("ts", 3, None, "null ts"),
    ("user_id", 4, None, "null user_id"),
    ("click", 5, None, "null click"),
    ("click", 6, 2, "click not in {0,1}"),
    ("conversion", 1, 7, "conversion not in {0,1}"),
    ("scenario_id", 2, 9, "unknown scenario_id"),
    ("ts", 7, 10**11, "ts out of range"),
    ("item_id", 8, 99, "dangling item_id"),
    ("query_id", 1, 555, "dangling query_id"),
    ("target_user_id", 2, 42, "dangling target_user_id"),
    ("split", 9, "later", "unknown split"),
    ("split", 9, None, "null split"),
    ("event_id", 10, 3, "duplicate event_id"),
]


@pytest.mark.parametrize("column,row,value,reason", ROW_CASES)
def test_each_rule_rejects_its_row(write_dataset: Make, canonical_tables: dict, column: str, row: int, value,
                                   reason: str) -> None:
    root = write_dataset(_edit(canonical_tables, column, row, value))
    g = scan(root)
    assert g.reason_counts() == {reason: 1}
    rej = pq.read_table(g.write_rejected(root / "..")).to_pylist()
    assert [(r["reason"], r["row"], r["source"]) for r in rej] == [(reason, row, "events.parquet")]
    assert sum(v["read"] for v in g.rows.values()) == 12
    assert all(v["read"] == v["used"] + v["rejected"] for v in g.rows.values())
    # the same rule, reported by validate at the same place
    assert any(p.file == "events.parquet" and p.column == column and p.row == row for p in validate_dataset(root))
    with pytest.raises(BadRowError, match=rf"events.parquet: column {column}, row {row}"):
        g.enforce("fail")


def test_duplicates_keep_the_first_occurrence_across_parts(write_dataset: Make, canonical_tables: dict) -> None:
    root = write_dataset(_edit(canonical_tables, "event_id", 11, 0), events_parts=3)
    g = scan(root)
    rej = pq.read_table(g.write_rejected(root / "..")).to_pylist()
    assert [(r["source"], r["row"], r["event_id"]) for r in rej] == [("events.parquet/part-002.parquet", 3, "0")]
    with pytest.raises(BadRowError, match="first seen in events.parquet/part-000.parquet row 0"):
        g.enforce("fail")


def test_a_duplicate_of_a_rejected_row_is_the_first_usable_occurrence(write_dataset: Make,
                                                                      canonical_tables: dict) -> None:
    # id 4 three times: row 4 breaks a row rule (null click), so row 8 is its first usable occurrence and only
    # row 10 is a duplicate (the duplicates' second pass skips the rows the row rules rejected)
    t = _edit(_edit(_edit(canonical_tables, "click", 4, None), "event_id", 8, 4), "event_id", 10, 4)
    root = write_dataset(t, events_parts=3)
    g = scan(root)
    rej = pq.read_table(g.write_rejected(root / "..")).to_pylist()
    assert sorted((r["reason"], r["source"], r["row"]) for r in rej) == [
        ("duplicate event_id", "events.parquet/part-002.parquet", 2),
        ("null click", "events.parquet/part-001.parquet", 0)]
    assert g.reason_counts() == {"null click": 1, "duplicate event_id": 1}
    assert sum(v["used"] for v in g.rows.values()) == 10
    assert [m for m in g.messages.values() if m.startswith("duplicate")] == [
        "duplicate event_id 4 (first seen in events.parquet/part-002.parquet row 0)"]


def test_readers_see_the_gated_rows_once_it_is_open(write_dataset: Make, canonical_tables: dict) -> None:
    root = write_dataset(_edit(canonical_tables, "click", 5, 3))
    raw = sum(t.num_rows for _, _, t in iter_row_groups(root, "events"))
    open_gate(root)
    gated = [t for _, _, t in iter_row_groups(root, "events", ["event_id", "click"])]
    assert raw == 12 and sum(t.num_rows for t in gated) == 11
    assert 5 not in pa.concat_tables(gated)["event_id"].to_pylist()
    assert sum(t.num_rows for _, _, t in iter_row_groups(root, "events", raw=True)) == 12
    # a changed file is a new dataset: the old gate no longer applies
    from conftest import tiny_tables

    pq.write_table(tiny_tables()["events"].slice(0, 6), root / "events.parquet", row_group_size=4)
    assert sum(t.num_rows for _, _, t in iter_row_groups(root, "events")) == 6
    assert open_gate(root).total_rejected == 0


def test_loader_batches_never_hold_a_rejected_row(write_dataset: Make, canonical_tables: dict) -> None:
    from unisr.data.features import FeatureEncoder
    from unisr.data.loader import DatasetContext, EventLoader, LoaderConfig

    t = _edit(_edit(canonical_tables, "item_id", 0, 77), "click", 1, 5)
    root = write_dataset(t)
    spec = load_spec(root)
    ctx = DatasetContext.open(root, FeatureEncoder.fit(root, spec))
    ids = np.concatenate([b.event_id.numpy() for b in
                          EventLoader(ctx, "train", LoaderConfig(batch_size=4), train=False).epoch(0)])
    assert sorted(ids.tolist()) == [2, 3, 4, 5, 6, 7]


def test_float_labels_are_checked_per_row(write_dataset: Make, canonical_tables: dict) -> None:
    ev = canonical_tables["events"]
    click = pa.array([float("nan"), 1.0, float("inf"), 0.5] + [float(x) for x in ev["click"].to_pylist()[4:]],
                     pa.float32())
    canonical_tables["events"] = ev.set_column(ev.schema.get_field_index("click"), "click", click)
    g = scan(write_dataset(canonical_tables))
    assert g.reason_counts() == {"click not finite": 2, "click not in {0,1}": 1}


@pytest.mark.parametrize("what", ["mistyped id", "missing column", "garbage file", "missing users"])
def test_unusable_tables_raise_naming_the_file(write_dataset: Make, canonical_tables: dict, what: str) -> None:
    ev = canonical_tables["events"]
    if what == "mistyped id":
        canonical_tables["events"] = ev.set_column(0, "event_id", pa.array([str(i) for i in range(12)]))
    elif what == "missing column":
        canonical_tables["events"] = ev.drop_columns(["click"])
    elif what == "missing users":
        canonical_tables["users"] = None
    root = write_dataset(canonical_tables)
    if what == "garbage file":
        (root / "items.parquet").write_bytes(b"PAR1 nope")
    with pytest.raises(DataGateError) as e:
        scan(root)
    where = {"mistyped id": "events.parquet: column event_id", "missing column": "events.parquet: column click",
             "garbage file": "items.parquet", "missing users": "users.parquet"}[what]
    assert where in str(e.value)


def test_split_rules_that_leave_a_split_empty() -> None:
    assert split_rule_problems(TimeSplit(proportions={"train": 1, "valid": 1, "test": 1})) == []
    zero = split_rule_problems(TimeSplit(proportions={"background": 0, "train": 0, "valid": 0, "test": 0}))
    assert {f for f, _ in zero} == {"split.proportions.train", "split.proportions.valid", "split.proportions.test"}
    assert split_rule_problems(TimeSplit(proportions={"train": 2, "valid": -1, "test": 0}))
    assert [f for f, _ in split_rule_problems(RandomSplit(ratios=(1.0, 0.0, 0.0)))] == ["split.ratios"] * 2


def test_a_time_outside_the_declared_range(write_dataset: Make, canonical_spec: dict) -> None:
    canonical_spec["ts_range"] = [1_700_000_000, 1_700_000_300]  # rows 0..4 (ts = 1.7e9 + 60 i)
    g = scan(write_dataset(spec=canonical_spec))
    assert g.reason_counts() == {"ts out of range": 7}


NULLABLE = [c for c in EVENTS.required]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(edits=st.lists(st.tuples(st.sampled_from(NULLABLE + ["dup", "scenario", "label"]), st.integers(0, 11)),
                      min_size=0, max_size=8))
def test_random_corruptions_are_counted_and_never_reach_a_reader(tmp_path_factory, edits) -> None:
    from conftest import tiny_tables, write_canonical

    tables = tiny_tables()
    for what, row in edits:
        if what in NULLABLE:
            tables = _edit(tables, what, row, None)
        elif what == "dup":
            tables = _edit(tables, "event_id", row, (row + 5) % 12)
        elif what == "scenario":
            tables = _edit(tables, "scenario_id", row, 50)
        else:
            tables = _edit(tables, "click", row, -1)
    root = write_canonical(tmp_path_factory.mktemp("g"), tables)
    g = open_gate(root)
    assert sum(v["read"] for v in g.rows.values()) == 12
    assert all(v["read"] == v["used"] + v["rejected"] for v in g.rows.values())
    assert sum(g.reason_counts().values()) == g.total_rejected
    kept = pa.concat_tables([t for _, _, t in iter_row_groups(root, "events")])
    assert kept.num_rows == 12 - g.total_rejected
    for c in NULLABLE:
        assert kept[c].null_count == 0
    assert set(kept["click"].to_pylist()) <= {0, 1} and set(kept["scenario_id"].to_pylist()) <= {0, 1, 2}
    assert len(set(kept["event_id"].to_pylist())) == kept.num_rows
    # nothing usable was thrown away: a row is rejected only if validate reports a problem with it
    bad_rows = {p.row for p in validate_dataset(root) if p.file == "events.parquet" and p.row is not None}
    rej = [r for t in g.iter_rejected() for r in t.select(["row"]).to_pylist()]
    assert {r["row"] for r in rej} <= bad_rows


@pytest.mark.parametrize("bad", [[5, "x"], [10, 5], "soon", [1, 2, 3]])
def test_a_malformed_ts_range_is_a_dataset_problem(write_dataset: Make, canonical_spec: dict, bad) -> None:
    canonical_spec["ts_range"] = bad
    root = write_dataset(spec=canonical_spec)
    with pytest.raises(DataGateError, match="ts_range"):
        scan(root)
    assert any(p.file == "dataset.yaml" and p.column == "ts_range" for p in validate_dataset(root))


def test_any_spelling_of_the_dataset_path_is_gated(write_dataset: Make, canonical_tables: dict) -> None:
    root = write_dataset(_edit(canonical_tables, "user_id", 2, None))
    open_gate(root)
    other = root.parent / ".." / root.parent.name / root.name
    link = root.parent / "link"
    link.symlink_to(root)
    for spelling in (other, link):
        assert sum(t.num_rows for _, _, t in iter_row_groups(spelling, "events")) == 11


def test_other_integer_widths_are_usable(write_dataset: Make, canonical_tables: dict) -> None:
    ev = canonical_tables["events"]
    for col, typ in (("ts", pa.int32()), ("user_id", pa.int32()), ("scenario_id", pa.int8())):
        ev = ev.set_column(ev.schema.get_field_index(col), col, ev[col].cast(typ))
    canonical_tables["events"] = ev
    canonical_tables = _edit(canonical_tables, "user_id", 3, 77)
    g = scan(write_dataset(canonical_tables))
    assert g.reason_counts() == {"dangling user_id": 1}
