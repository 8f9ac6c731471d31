"""``validate_dataset``: each rule gets a dataset with ONE defect and must name its file, column and row."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from unisr.data.problems import MAX_ROWS_PER_RULE, Problem
from unisr.data.validate import validate_dataset

Make = Callable[..., Path]
ROW = 9  # a row in the third row group (row groups of 4) to check global row numbering


def set_value(t: pa.Table, column: str, row: int, value: object) -> pa.Table:
    """The table with ``t[column][row] = value`` (same type)."""
    vals = t[column].to_pylist()
    vals[row] = value
    i = t.schema.get_field_index(column)
    return t.set_column(i, t.schema.field(i), pa.array(vals, t.schema.field(i).type))


def retype(t: pa.Table, column: str, typ: pa.DataType) -> pa.Table:
    i = t.schema.get_field_index(column)
    return t.set_column(i, pa.field(column, typ), t[column].cast(typ))


def at(problems: list[Problem], file: str, column: str | None) -> list[Problem]:
    return [p for p in problems if p.file == file and p.column == column]


def rows_of(problems: list[Problem], file: str, column: str | None) -> list[int | None]:
    return sorted(p.row for p in at(problems, file, column) if p.row is not None)


# --------------------------------------------------------------------------------------------- basics
def test_valid_dataset_has_no_problems(tiny_dataset: Path) -> None:
    assert validate_dataset(tiny_dataset) == []


def test_valid_dataset_in_parts_has_no_problems(write_dataset: Make) -> None:
    assert validate_dataset(write_dataset(events_parts=3)) == []


def test_problem_str() -> None:
    p = Problem("events.parquet", "click", 17, "value 3 not in {0,1}")
    assert str(p) == "events.parquet: column click, row 17: value 3 not in {0,1}"
    assert str(Problem("users.parquet", None, None, "missing")) == "users.parquet: missing"
    assert str(Problem("dataset.yaml", "name", None, "Field required")) == "dataset.yaml: field name: Field required"


def test_missing_folder(tmp_path: Path) -> None:
    (p,) = validate_dataset(tmp_path / "nope")
    assert "does not exist" in p.message


# --------------------------------------------------------------------------------------- dataset.yaml
def test_dataset_yaml_missing(write_dataset: Make) -> None:
    problems = validate_dataset(write_dataset(spec=False))
    (p,) = at(problems, "dataset.yaml", None)
    assert "missing" in p.message


def test_dataset_yaml_not_parseable(write_dataset: Make) -> None:
    problems = validate_dataset(write_dataset(spec="name: [unclosed\nscenarios: {"))
    (p,) = at(problems, "dataset.yaml", None)
    assert "not parseable" in p.message


def test_dataset_yaml_fails_spec_names_the_field(write_dataset: Make) -> None:
    spec = {"name": "x", "scenarios": [{"id": 0, "name": "rec", "kind": "bogus"}]}
    problems = validate_dataset(write_dataset(spec=spec))
    (p,) = at(problems, "dataset.yaml", "scenarios.0.kind")
    assert "bogus" in p.message or "Input should be" in p.message


def test_dataset_yaml_missing_field(write_dataset: Make) -> None:
    problems = validate_dataset(write_dataset(spec={"scenarios": []}))
    assert at(problems, "dataset.yaml", "name")


# ------------------------------------------------------------------------------------- tables/columns
@pytest.mark.parametrize("table", ["events", "users", "items"])
def test_required_table_missing(write_dataset: Make, canonical_tables: dict, table: str) -> None:
    canonical_tables[table] = None
    problems = validate_dataset(write_dataset(canonical_tables))
    (p,) = at(problems, f"{table}.parquet", None)
    assert "required table" in p.message


def test_required_column_missing(write_dataset: Make, canonical_tables: dict) -> None:
    canonical_tables["events"] = canonical_tables["events"].drop_columns(["click"])
    problems = validate_dataset(write_dataset(canonical_tables))
    (p,) = at(problems, "events.parquet", "click")
    assert "required column missing" in p.message and p.row is None


@pytest.mark.parametrize(
    ("table", "column", "typ"),
    [
        ("events", "user_id", pa.int32()),  # ints of another width are mistyped
        ("events", "scenario_id", pa.int64()),
        ("events", "click", pa.string()),
        ("events", "conversion", pa.int64()),  # typed optional column
        ("items", "brand", pa.int64()),  # typed optional column of a free table
        ("queries", "kind", pa.large_string()),
    ],
)
def test_mistyped_column(write_dataset: Make, canonical_tables: dict, table: str, column: str,
                         typ: pa.DataType) -> None:
    canonical_tables[table] = retype(canonical_tables[table], column, typ)
    problems = validate_dataset(write_dataset(canonical_tables))
    (p,) = at(problems, f"{table}.parquet", column)
    assert "mistyped" in p.message and str(typ) in p.message


def test_unreadable_parquet(write_dataset: Make) -> None:
    root = write_dataset()
    (root / "items.parquet").write_bytes(b"not parquet at all")
    problems = validate_dataset(root)
    (p,) = at(problems, "items.parquet", None)
    assert "not a readable Parquet file" in p.message


# ------------------------------------------------------------------------------------- nulls, labels
@pytest.mark.parametrize("column", ["event_id", "ts", "user_id", "scenario_id", "item_id", "click"])
def test_null_event_ids(write_dataset: Make, canonical_tables: dict, column: str) -> None:
    canonical_tables["events"] = set_value(canonical_tables["events"], column, ROW, None)
    problems = validate_dataset(write_dataset(canonical_tables))
    (p,) = at(problems, "events.parquet", column)
    assert p.row == ROW and "null" in p.message


@pytest.mark.parametrize(("table", "key", "row"), [("users", "user_id", 2), ("items", "item_id", 3),
                                                   ("queries", "query_id", 1)])
def test_null_keys(write_dataset: Make, canonical_tables: dict, table: str, key: str, row: int) -> None:
    canonical_tables[table] = set_value(canonical_tables[table], key, row, None)
    problems = validate_dataset(write_dataset(canonical_tables))
    (p,) = at(problems, f"{table}.parquet", key)
    assert p.row == row and "null" in p.message


def test_social_view_null(write_dataset: Make, canonical_tables: dict) -> None:
    canonical_tables["social"] = set_value(canonical_tables["social"], "view", 1, None)
    problems = validate_dataset(write_dataset(canonical_tables))
    assert [(p.row, "null" in p.message) for p in at(problems, "social.parquet", "view")] == [(1, True)]
    assert len(problems) == 1


@pytest.mark.parametrize(("column", "value"), [("click", 3), ("conversion", 2), ("click", -1)])
def test_labels_outside_0_1(write_dataset: Make, canonical_tables: dict, column: str, value: int) -> None:
    canonical_tables["events"] = set_value(canonical_tables["events"], column, ROW, value)
    problems = validate_dataset(write_dataset(canonical_tables))
    assert problems == [Problem("events.parquet", column, ROW, f"value {value} not in {{0,1}}")]


def test_rows_listed_per_rule_are_capped(write_dataset: Make, make_tables: Callable[..., dict]) -> None:
    tables = make_tables(n_events=45)
    ev = tables["events"]
    tables["events"] = ev.set_column(ev.schema.get_field_index("click"), ev.schema.field("click"),
                                     pa.array([5] * 45, pa.int8()))
    problems = validate_dataset(write_dataset(tables))
    listed = at(problems, "events.parquet", "click")
    assert len([p for p in listed if p.row is not None]) == MAX_ROWS_PER_RULE
    assert rows_of(problems, "events.parquet", "click") == list(range(MAX_ROWS_PER_RULE))
    (more,) = [p for p in listed if p.row is None]
    assert more.message.startswith(f"... and {45 - MAX_ROWS_PER_RULE} more")


# ------------------------------------------------------------------------------------ duplicates
def test_duplicate_event_ids(write_dataset: Make, canonical_tables: dict) -> None:
    canonical_tables["events"] = set_value(canonical_tables["events"], "event_id", ROW, 2)
    problems = validate_dataset(write_dataset(canonical_tables))
    assert rows_of(problems, "events.parquet", "event_id") == [2, ROW]
    assert all("duplicate event_id 2" in p.message for p in problems)


def test_duplicate_event_ids_across_parts(write_dataset: Make, canonical_tables: dict) -> None:
    canonical_tables["events"] = set_value(canonical_tables["events"], "event_id", ROW, 2)
    problems = validate_dataset(write_dataset(canonical_tables, events_parts=3))  # rows 0-3, 4-7, 8-11
    assert rows_of(problems, "events.parquet/part-000.parquet", "event_id") == [2]
    assert rows_of(problems, "events.parquet/part-002.parquet", "event_id") == [ROW - 8]
    assert len(problems) == 2


@pytest.mark.parametrize(("table", "key", "row", "dup_of"), [("users", "user_id", 3, 1), ("items", "item_id", 4, 2),
                                                             ("queries", "query_id", 2, 0)])
def test_duplicate_keys(write_dataset: Make, canonical_tables: dict, table: str, key: str, row: int,
                        dup_of: int) -> None:
    t = canonical_tables[table]
    canonical_tables[table] = set_value(t, key, row, t[key][dup_of].as_py())
    problems = validate_dataset(write_dataset(canonical_tables))
    assert rows_of(problems, f"{table}.parquet", key) == [dup_of, row]
    assert all("duplicate" in p.message for p in at(problems, f"{table}.parquet", key))


# ------------------------------------------------------------------------------ scenarios, splits, kinds
def test_unknown_scenario_id(write_dataset: Make, canonical_tables: dict) -> None:
    canonical_tables["events"] = set_value(canonical_tables["events"], "scenario_id", ROW, 7)
    problems = validate_dataset(write_dataset(canonical_tables))
    (p,) = problems
    assert (p.file, p.column, p.row) == ("events.parquet", "scenario_id", ROW)
    assert "scenario id 7 not declared" in p.message


def test_empty_scenario(write_dataset: Make, canonical_spec: dict) -> None:
    spec = canonical_spec
    spec["scenarios"].append({"id": 5, "name": "unused", "kind": "recommend"})
    problems = validate_dataset(write_dataset(spec=spec))
    (p,) = problems
    assert (p.file, p.column, p.row) == ("dataset.yaml", "scenarios[3]", None)
    assert "scenario 5 'unused' has no events" in p.message


def test_split_value_outside_known(write_dataset: Make, canonical_tables: dict) -> None:
    canonical_tables["events"] = set_value(canonical_tables["events"], "split", ROW, "holdout")
    problems = validate_dataset(write_dataset(canonical_tables))
    (p,) = problems
    assert (p.file, p.column, p.row) == ("events.parquet", "split", ROW)
    assert "'holdout' not in" in p.message


def test_split_column_needed_for_column_split(write_dataset: Make, canonical_tables: dict) -> None:
    canonical_tables["events"] = canonical_tables["events"].drop_columns(["split"])
    (p,) = validate_dataset(write_dataset(canonical_tables))
    assert (p.file, p.column) == ("events.parquet", "split")


def test_query_kind_outside_known(write_dataset: Make, canonical_tables: dict) -> None:
    canonical_tables["queries"] = set_value(canonical_tables["queries"], "kind", 1, "audio")
    (p,) = validate_dataset(write_dataset(canonical_tables))
    assert (p.file, p.column, p.row) == ("queries.parquet", "kind", 1)
    assert "'audio' not in {text, visual, trigger}" in p.message


# ------------------------------------------------------------------------------------ references
@pytest.mark.parametrize(
    ("column", "row", "target"),
    [
        ("user_id", ROW, "users.parquet"),
        ("item_id", ROW, "items.parquet"),
        ("query_id", 4, "queries.parquet"),  # row 4 is a search row
        ("trigger_item_id", ROW, "items.parquet"),  # row 9 is a recommend row
        ("target_user_id", 5, "users.parquet"),  # row 5 is a share row
    ],
)
def test_dangling_references(write_dataset: Make, canonical_tables: dict, column: str, row: int,
                             target: str) -> None:
    canonical_tables["events"] = set_value(canonical_tables["events"], column, row, 999)
    problems = validate_dataset(write_dataset(canonical_tables))
    (p,) = problems
    assert (p.file, p.column, p.row) == ("events.parquet", column, row)
    assert p.message == f"{column} 999 not in {target}"


def test_dangling_references_in_parts(write_dataset: Make, canonical_tables: dict) -> None:
    canonical_tables["events"] = set_value(canonical_tables["events"], "item_id", ROW, 999)
    (p,) = validate_dataset(write_dataset(canonical_tables, events_parts=2))  # rows 0-5, 6-11
    assert (p.file, p.column, p.row) == ("events.parquet/part-001.parquet", "item_id", ROW - 6)


def test_query_ids_without_queries_table(write_dataset: Make, canonical_tables: dict) -> None:
    canonical_tables["queries"] = None
    problems = validate_dataset(write_dataset(canonical_tables))
    assert rows_of(problems, "events.parquet", "query_id") == [1, 4, 7, 10]
    assert all("queries.parquet, which is missing" in p.message for p in problems)
