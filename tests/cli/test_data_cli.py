"""``unisr data validate|describe|import`` through the real Typer app: exit codes and messages."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
from typer.testing import CliRunner

from unisr.cli.main import app

runner = CliRunner()


def _out(result: Any) -> str:
    text = result.output
    try:
        text += result.stderr
    except (ValueError, AttributeError):
        pass
    return text


def test_validate_ok(tiny_dataset: Path) -> None:
    r = runner.invoke(app, ["data", "validate", str(tiny_dataset)])
    assert r.exit_code == 0, _out(r)
    assert "OK" in r.output


def test_validate_reports_location_and_exits_2(write_dataset: Callable[..., Path], canonical_tables: dict) -> None:
    ev = canonical_tables["events"]
    vals = ev["click"].to_pylist()
    vals[9] = 3
    i = ev.schema.get_field_index("click")
    canonical_tables["events"] = ev.set_column(i, ev.schema.field(i), pa.array(vals, pa.int8()))
    r = runner.invoke(app, ["data", "validate", str(write_dataset(canonical_tables))])
    assert r.exit_code == 2, _out(r)
    assert "events.parquet: column click, row 9: value 3 not in {0,1}" in _out(r)
    assert "1 problem(s)" in _out(r)


def test_validate_missing_folder_exits_2(tmp_path: Path) -> None:
    r = runner.invoke(app, ["data", "validate", str(tmp_path / "absent")])
    assert r.exit_code == 2


def test_describe_table_and_json(tiny_dataset: Path) -> None:
    r = runner.invoke(app, ["data", "describe", str(tiny_dataset)])
    assert r.exit_code == 0, _out(r)
    assert "search" in r.output and "12 events" in r.output
    r = runner.invoke(app, ["data", "describe", str(tiny_dataset), "--json"])
    assert r.exit_code == 0, _out(r)
    d = json.loads(r.output)
    assert d["rows"] == 12 and [s["events"] for s in d["scenarios"]] == [4, 4, 4]


def test_describe_without_dataset_exits_2(tmp_path: Path) -> None:
    r = runner.invoke(app, ["data", "describe", str(tmp_path)])
    assert r.exit_code == 2
    assert "dataset.yaml" in _out(r)


def test_import_unknown_format_lists_known(tmp_path: Path) -> None:
    r = runner.invoke(app, ["data", "import", "nosuch", "--src", str(tmp_path), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "unknown format 'nosuch'" in _out(r) and "movielens" in _out(r)


def test_import_missing_source_file_exits_2(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "ratings.dat").write_text("1::1::5::978300760\n")
    (src / "users.dat").write_text("1::F::1::10::48067\n")
    r = runner.invoke(app, ["data", "import", "movielens", "--src", str(src), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "movies.dat" in _out(r)


def test_import_movielens_then_validate(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "ratings.dat").write_text("1::1::5::978300760\n2::1::2::978300761\nbad\n3::1::4::978300762\n")
    (src / "users.dat").write_text("1::F::1::10::48067\n2::M::35::1::10001\n3::M::25::2::10002\n")
    (src / "movies.dat").write_bytes("1::Café (1999)::Drama|Comedy\n".encode("latin-1"))
    out = tmp_path / "out"
    r = runner.invoke(app, ["data", "import", "movielens", "--src", str(src), "--out", str(out)])
    assert r.exit_code == 0, _out(r)
    assert "ratings.dat" in r.output and "rejected 1" in r.output
    r = runner.invoke(app, ["data", "validate", str(out)])
    assert r.exit_code == 0, _out(r)
