"""``unisr data validate``: check a canonical dataset and report every problem with file, column and row.

Row-wise checks stream the tables one row group at a time (``reader.iter_row_groups``); checks that need the
whole table (duplicate keys, dangling references, per-scenario counts) run in DuckDB over the Parquet files,
which spills to disk, so memory stays bounded for hundreds of millions of events. Row numbers are the global
row index within the Parquet file (0-based), i.e. the row a ``pyarrow``/``polars`` read of that file shows.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml
from pydantic import ValidationError

from unisr.data.problems import Problem, ProblemReport
from unisr.data.reader import MissingTableError, parquet_files
from unisr.data.schema import (
    EVENTS,
    LABEL_COLUMNS,
    QUERY_KINDS,
    REFERENCES,
    REQUIRED_TABLES,
    SPLITS,
    TABLES,
    ColumnSplit,
    DatasetSpec,
    RandomSplit,
    SplitRule,
    TableSchema,
    TimeSplit,
    table_path,
)

# Event columns that must never be null (the ids and the click label).
EVENT_NOT_NULL = ("event_id", "ts", "user_id", "scenario_id", "item_id", "click")
# The range a ``ts`` (unix seconds) must lie in: [1970-01-01, 2100-01-01), unless dataset.yaml declares
# ``ts_range: [start, end]`` (unix seconds, end exclusive).
TS_RANGE = (0, 4_102_444_800)
@dataclass(frozen=True)
class RowCheck:
    """One rule's verdict on one chunk: ``mask`` true = the row breaks it; ``message``'s ``{v}`` = the value."""

    column: str
    rule: str  # the reason written to rejected.parquet, e.g. "null user_id"
    mask: pa.Array
    message: str


def ts_range(spec: DatasetSpec | None) -> tuple[int, int]:
    """[start, end) a ``ts`` must lie in: dataset.yaml's ``ts_range`` if declared, else ``TS_RANGE``."""
    extra = (spec.model_extra or {}) if spec is not None else {}
    r = extra.get("ts_range")
    if isinstance(r, list | tuple) and len(r) == 2 and all(isinstance(x, int) for x in r):
        return int(r[0]), int(r[1])
    return TS_RANGE


def spec_problems(spec: DatasetSpec) -> list[tuple[str, str]]:
    """(field, message) of a parsed dataset.yaml that pydantic lets through: split rules leaving a split empty,
    a malformed ``ts_range``."""
    out = split_rule_problems(spec.split)
    r = (spec.model_extra or {}).get("ts_range")
    if r is not None and not (isinstance(r, list) and len(r) == 2 and all(type(x) is int for x in r) and r[0] < r[1]):
        out.append(("ts_range", f"expected [start, end] with integer unix seconds start < end, got {r!r}"))
    return out


def split_rule_problems(rule: SplitRule) -> list[tuple[str, str]]:
    """(field, message) for split rules that leave a split empty (all-zero or negative proportions/ratios)."""
    out: list[tuple[str, str]] = []
    if isinstance(rule, RandomSplit):
        for name, r in zip(("train", "valid", "test"), rule.ratios, strict=True):
            if not (r > 0 and math.isfinite(r)):
                out.append(("split.ratios", f"the {name} share must be > 0, got {r} (ratios {list(rule.ratios)})"))
    elif isinstance(rule, TimeSplit):
        for k, v in rule.proportions.items():
            if not (v >= 0 and math.isfinite(v)):
                out.append((f"split.proportions.{k}", f"must be >= 0, got {v}"))
        for name in ("train", "valid", "test"):
            v = rule.proportions.get(name, 0)
            if not (v > 0):
                out.append((f"split.proportions.{name}", f"the {name} window must have a share > 0, got {v}"))
    return out


def event_row_checks(chunk: pa.Table, spec: DatasetSpec | None, columns: set[str] | None = None) -> list[RowCheck]:
    """The row rules of events, in priority order (a row rejected by several is rejected for the first).

    ``columns``: the columns to check (present with the right type; default: every column of ``chunk``).
    Used by ``unisr data validate`` (reports them) and by the gate (rejects the rows).
    """
    cols = set(chunk.column_names) if columns is None else set(columns) & set(chunk.column_names)
    out: list[RowCheck] = []

    def arr(c: str) -> pa.Array:
        a = chunk[c].combine_chunks()
        # another integer width than declared (usable by the gate): compare as int64, never overflow a bound
        return pc.cast(a, pa.int64()) if pa.types.is_integer(a.type) and c in ("ts", "scenario_id") else a

    not_null = list(EVENT_NOT_NULL)
    if spec is not None and isinstance(spec.split, RandomSplit) and spec.split.key != "event_id":
        not_null.append(spec.split.key)  # the split key: a row without it belongs to no split
    for c in not_null:
        if c in cols:
            a = arr(c)
            if a.null_count:
                out.append(RowCheck(c, f"null {c}", pc.is_null(a), "null value"))
    for lab in LABEL_COLUMNS:
        if lab in cols:
            a = arr(lab)
            if pa.types.is_floating(a.type):
                nonfinite = pc.and_(pc.is_valid(a), pc.invert(pc.is_finite(a)))
                out.append(RowCheck(lab, f"{lab} not finite", nonfinite, "value {v} is not finite"))
            bad = pc.and_(pc.is_valid(a), pc.invert(pc.is_in(a, pa.array([0, 1], a.type))))
            out.append(RowCheck(lab, f"{lab} not in {{0,1}}", bad, "value {v} not in {0,1}"))
    if spec is not None and "scenario_id" in cols:
        a = arr("scenario_id")
        declared = sorted(spec.scenario_names)
        bad = pc.and_(pc.is_valid(a), pc.invert(pc.is_in(a, pa.array(declared, a.type))))
        out.append(RowCheck("scenario_id", "unknown scenario_id", bad,
                            "scenario id {v} not declared in dataset.yaml (declared: " + str(declared) + ")"))
    if "ts" in cols:
        a = arr("ts")
        lo, hi = ts_range(spec)
        bad = pc.or_(pc.less(a, pa.scalar(lo, a.type)), pc.greater_equal(a, pa.scalar(hi, a.type)))
        out.append(RowCheck("ts", "ts out of range", bad, "ts {v} outside [" + f"{lo}, {hi}) (unix seconds; "
                            "dataset.yaml's ts_range: [start, end] declares another range)"))
    if "split" in cols:
        a = arr("split")
        if spec is not None and isinstance(spec.split, ColumnSplit) and a.null_count:
            out.append(RowCheck("split", "null split", pc.is_null(a),
                                "null value (dataset.yaml splits by this column: the row is in no split)"))
        bad = pc.and_(pc.is_valid(a), pc.invert(pc.is_in(a, pa.array(SPLITS))))
        out.append(RowCheck("split", "unknown split", bad, "value {v} not in {" + ", ".join(SPLITS) + "}"))
    return out


# Columns of the other tables that must never be null (besides each table's key).
TABLE_NOT_NULL: dict[str, tuple[str, ...]] = {
    "social": ("src_user_id", "dst_user_id", "view"),
}


# ----------------------------------------------------------------------------------------------- helpers
def relative_path(root: Path, path: Path | str) -> str:
    """``path`` relative to the dataset ``root`` (as written in messages), else as given."""
    p = Path(path)
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(p)


def _same_type(actual: pa.DataType, expected: pa.DataType) -> bool:
    """Exact Arrow type match; list containers compare their value types (field names/nullability ignored;
    a fixed-size list is accepted where a list is expected, e.g. ``image_emb``)."""
    if pa.types.is_list(expected):
        if pa.types.is_list(actual) or pa.types.is_fixed_size_list(actual):
            return _same_type(actual.value_type, expected.value_type)
        return False
    return actual == expected


def _fmt(v: object) -> str:
    return repr(v) if isinstance(v, str) else str(v)


def _sql_list(paths: Iterable[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _scan(paths: Sequence[Path]) -> str:
    return f"read_parquet({_sql_list(paths)}, filename=true, file_row_number=true, union_by_name=true)"


def _connect(memory_limit: str | None, tmp: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(f"SET temp_directory='{tmp}'")
    con.execute("SET preserve_insertion_order=false")
    if memory_limit:
        con.execute(f"SET memory_limit='{memory_limit}'")
    return con


# ----------------------------------------------------------------------------------------- dataset.yaml
def _check_spec(root: Path, rep: ProblemReport) -> DatasetSpec | None:
    path = root / "dataset.yaml"
    if not path.exists():
        rep.add("dataset.yaml", None, "dataset.yaml is missing")
        return None
    try:
        raw = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        rep.add("dataset.yaml", None, f"not parseable YAML: {e}".replace("\n", " "))
        return None
    if not isinstance(raw, dict):
        rep.add("dataset.yaml", None, f"expected a mapping at top level, got {type(raw).__name__}")
        return None
    try:
        spec = DatasetSpec.model_validate(raw)
    except ValidationError as e:
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"]) or None
            rep.add("dataset.yaml", loc, err["msg"])
        return None
    for loc, msg in spec_problems(spec):
        rep.add("dataset.yaml", loc, msg)
    return spec


# ------------------------------------------------------------------------------------- tables / schemas
@dataclass
class _Table:
    schema: TableSchema
    files: list[Path]
    good: dict[Path, set[str]]  # per file: columns present with the right type (value checks run on these)
    bad: set[str] = field(default_factory=set)  # columns mistyped in at least one file

    def ok_everywhere(self, column: str) -> bool:
        """Column present in at least one part and correctly typed in every part that has it."""
        return column not in self.bad and any(column in g for g in self.good.values())

    def has_anywhere(self, column: str) -> bool:
        return column in self.bad or any(column in g for g in self.good.values())

    def files_with(self, column: str) -> list[Path]:
        return [f for f in self.files if column in self.good[f]]


def check_tables(root: Path, rep: ProblemReport) -> dict[str, _Table]:
    tables: dict[str, _Table] = {}
    for name, schema in TABLES.items():
        p = table_path(root, name)
        if p is None:
            if name in REQUIRED_TABLES:
                rep.add(schema.filename, None, f"required table '{name}' is missing")
            continue
        try:
            files = parquet_files(p)
        except MissingTableError as e:
            rep.add(relative_path(root, p), None, str(e).split(": ", 1)[-1])
            continue
        good: dict[Path, set[str]] = {}
        bad: set[str] = set()
        readable: list[Path] = []
        for f in files:
            rel = relative_path(root, f)
            try:
                arrow = pq.ParquetFile(f).schema_arrow
            except Exception as e:  # noqa: BLE001 - any reader failure is a problem of the file
                rep.add(rel, None, f"not a readable Parquet file: {e}")
                continue
            readable.append(f)
            cols = {fld.name: fld.type for fld in arrow}
            ok: set[str] = set()
            for col, typ in schema.required.items():
                if col not in cols:
                    rep.add(rel, col, f"required column missing (expected {typ})")
                elif not _same_type(cols[col], typ):
                    rep.add(rel, col, f"mistyped: {cols[col]}, expected {typ}")
                    bad.add(col)
                else:
                    ok.add(col)
            for col, typ in schema.optional.items():
                if col in cols:
                    if _same_type(cols[col], typ):
                        ok.add(col)
                    else:
                        rep.add(rel, col, f"mistyped: {cols[col]}, expected {typ}")
                        bad.add(col)
            good[f] = ok
        if readable:
            tables[name] = _Table(schema, readable, good, bad)
    return tables


# ------------------------------------------------------------------------------------ streaming checks
def _iter_groups(files: list[Path], columns: list[str]) -> Iterator[tuple[Path, int, pa.Table]]:
    """Like ``reader.iter_row_groups`` but over the readable parts only (a corrupt part is reported, not fatal)."""
    for f in files:
        pf = pq.ParquetFile(f)
        cols = [c for c in columns if c in pf.schema_arrow.names]
        offset = 0
        for rg in range(pf.num_row_groups):
            t = pf.read_row_group(rg, columns=cols)
            yield f, offset, t
            offset += t.num_rows


def _report_mask(
    rep: ProblemReport, file: str, column: str, rule: str, offset: int, mask: pa.Array, values: pa.Array,
    message: str,
) -> None:
    """Report rows where ``mask`` is true; ``{v}`` in ``message`` is replaced by the row's value."""
    mask = pc.fill_null(mask, False)
    total = pc.sum(mask).as_py() or 0
    if total == 0:
        return
    idx = np.flatnonzero(mask.to_numpy(zero_copy_only=False))[: max(rep.room(file, column, rule), 0)]
    vals = values.take(pa.array(idx, pa.int64())).to_pylist() if len(idx) else []
    rep.add_rows(file, column, rule, (idx + offset).tolist(), [message.replace("{v}", _fmt(v)) for v in vals], total)


def _stream_checks(root: Path, name: str, tab: _Table, spec: DatasetSpec | None, rep: ProblemReport) -> dict[int, int]:
    """Row-wise checks of one table; returns per-scenario event counts (events only)."""
    not_null = set(EVENT_NOT_NULL) if name == "events" else set(TABLE_NOT_NULL.get(name, ()))
    if tab.schema.key:
        not_null.add(tab.schema.key)
    wanted = set(not_null)
    if name == "events":
        wanted |= {"scenario_id", "split", *LABEL_COLUMNS}
        if spec is not None and isinstance(spec.split, RandomSplit):
            wanted.add(spec.split.key)
    if name == "queries":
        wanted.add("kind")
    wanted = {c for c in wanted if any(c in g for g in tab.good.values())}
    counts: dict[int, int] = {}
    if not wanted:
        return counts
    for f, offset, chunk in _iter_groups(tab.files, sorted(wanted)):
        rel = relative_path(root, f)
        good = tab.good[f]
        if name == "events":  # the rules the data gate applies (unisr.data.gate: one rule in one place)
            for chk in event_row_checks(chunk, spec, good):
                _report_mask(rep, rel, chk.column, chk.rule, offset, chk.mask, chunk[chk.column].combine_chunks(),
                             chk.message)
            if "scenario_id" in good:
                vc = pc.value_counts(chunk["scenario_id"].combine_chunks().drop_null())
                for sid, n in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True):
                    counts[sid] = counts.get(sid, 0) + n
        else:
            for col in sorted(not_null & good):
                arr = chunk[col].combine_chunks()
                if arr.null_count:
                    _report_mask(rep, rel, col, "null value", offset, pc.is_null(arr), arr, "null value")
        if name == "queries" and "kind" in good:
            arr = chunk["kind"].combine_chunks()
            bad = pc.and_(pc.is_valid(arr), pc.invert(pc.is_in(arr, pa.array(QUERY_KINDS))))
            _report_mask(rep, rel, "kind", "unknown query kind", offset, bad, arr,
                         "value {v} not in {" + ", ".join(QUERY_KINDS) + "}")
    return counts


# --------------------------------------------------------------------------------------- DuckDB checks
def _report_query_rows(
    rep: ProblemReport, root: Path, con: duckdb.DuckDBPyConnection, column: str, rule: str, base_sql: str,
    message: str, total: int, order: str = "1, 2",
) -> None:
    """``base_sql`` selects (filename, file_row_number, value, extra); list the first rows in ``order``."""
    rows = con.execute(f"SELECT * FROM ({base_sql}) ORDER BY {order} LIMIT {rep.cap}").fetchall()
    per_file: dict[str, list[tuple[int, str]]] = {}
    for fname, r, v, extra in rows:
        per_file.setdefault(relative_path(root, fname), []).append((int(r), message.replace("{v}", _fmt(v)).replace("{extra}", str(extra))))
    listed = 0
    for rel, items in per_file.items():
        room = max(rep.room(rel, column, rule), 0)
        items = items[:room]
        rep.add_rows(rel, column, rule, [r for r, _ in items], [m for _, m in items], len(items))
        listed += len(items)
    if total > listed:
        first = next(iter(per_file)) if per_file else relative_path(root, "?")
        rep.add_rows(first, column, rule, [], [], total - listed)


def _check_duplicates(root: Path, con: duckdb.DuckDBPyConnection, tab: _Table, rep: ProblemReport) -> None:
    key = tab.schema.key
    if key is None or not tab.ok_everywhere(key):
        return
    scan = _scan(tab.files_with(key))
    con.execute("DROP TABLE IF EXISTS dup_keys")
    con.execute(
        f"CREATE TEMP TABLE dup_keys AS SELECT {key} AS k, count(*) AS c FROM {scan} "
        f"WHERE {key} IS NOT NULL GROUP BY {key} HAVING count(*) > 1"
    )
    total = con.execute("SELECT coalesce(sum(c), 0) FROM dup_keys").fetchone()[0]
    if not total:
        return
    base = (
        f"SELECT t.filename, t.file_row_number, t.{key}, d.c FROM {scan} t "
        f"JOIN (SELECT * FROM dup_keys ORDER BY k LIMIT {rep.cap}) d ON t.{key} = d.k"
    )
    _report_query_rows(rep, root, con, key, f"duplicate {key}", base,
                       f"duplicate {key} " + "{v} (occurs {extra} times)", int(total), order="3, 1, 2")


def _check_references(root: Path, con: duckdb.DuckDBPyConnection, tables: dict[str, _Table], rep: ProblemReport) -> None:
    ev = tables.get("events")
    if ev is None:
        return
    for col, (target, tkey) in REFERENCES.items():
        if not ev.ok_everywhere(col):
            continue
        scan = _scan(ev.files_with(col))
        tt = tables.get(target)
        if tt is None:
            if table_path(root, target) is not None:
                continue  # present but unreadable: already reported
            base = f"SELECT filename, file_row_number, {col}, NULL FROM {scan} e WHERE {col} IS NOT NULL"
            msg = col + " {v} references " + f"{target}.parquet, which is missing"
        elif not tt.ok_everywhere(tkey):
            continue
        else:
            tscan = f"read_parquet({_sql_list(tt.files_with(tkey))}, union_by_name=true)"
            base = (
                f"SELECT e.filename, e.file_row_number, e.{col}, NULL FROM {scan} e "
                f"ANTI JOIN (SELECT DISTINCT {tkey} FROM {tscan}) t ON e.{col} = t.{tkey} "
                f"WHERE e.{col} IS NOT NULL"
            )
            msg = col + " {v} not in " + f"{target}.parquet"
        total = con.execute(f"SELECT count(*) FROM ({base})").fetchone()[0]
        if total:
            _report_query_rows(rep, root, con, col, f"dangling {col}", base, msg, int(total))


# --------------------------------------------------------------------------------------------- the API
def validate_dataset(root: str | Path, memory_limit: str | None = "4GB") -> list[Problem]:
    """Check the canonical dataset in ``root``; returns every problem found (empty list = valid).

    ``memory_limit`` (DuckDB syntax, default ``"4GB"``; None = DuckDB's default of 80% of RAM) bounds the
    memory of the whole-table checks (duplicate ids, references); beyond it DuckDB spills to a temporary
    directory. The row-wise checks hold one row group at a time.
    """
    root = Path(root)
    rep = ProblemReport()
    if not root.is_dir():
        rep.add(str(root), None, "dataset folder does not exist")
        return rep.finish()
    spec = _check_spec(root, rep)
    tables = check_tables(root, rep)

    scenario_counts: dict[int, int] | None = None
    for name, tab in tables.items():
        counts = _stream_checks(root, name, tab, spec, rep)
        if name == "events" and tab.ok_everywhere("scenario_id"):
            scenario_counts = counts

    ev = tables.get("events")
    if spec is not None and spec.split.kind == "column" and ev is not None and not ev.has_anywhere("split"):
        rep.add(EVENTS.filename, "split", "dataset.yaml declares split kind 'column' but the events have no "
                "split column")

    if spec is not None and scenario_counts is not None:
        for i, s in enumerate(spec.scenarios):
            if scenario_counts.get(s.id, 0) == 0:
                rep.add("dataset.yaml", f"scenarios[{i}]", f"scenario {s.id} '{s.name}' has no events")

    with tempfile.TemporaryDirectory(prefix="unisr-validate-") as tmp:
        con = _connect(memory_limit, tmp)
        try:
            for tab in tables.values():
                _check_duplicates(root, con, tab, rep)
            _check_references(root, con, tables, rep)
        finally:
            con.close()
    return rep.finish()
