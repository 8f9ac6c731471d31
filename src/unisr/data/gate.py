"""The data gate: every reader of a dataset's events sees the same usable rows, and no row is lost silently.

``open_gate(root)`` streams the events once (one row group at a time) and applies the row rules that
``unisr data validate`` reports (``event_row_checks``: one rule in one place), plus the references into
users / items / queries and duplicate event ids (the first occurrence is kept). The result is a small map
(row group -> positions of the rejected rows and their reason) that is memoised per dataset (keyed by the
files' sizes and modification times). Once a gate is open for a dataset, ``reader.iter_row_groups`` and the
training loader drop those rows from every row group they read, so the encoder, the split bounds, the
history, the graph and every batch see the same events.

Rows that cannot be used go to ``rejected.parquet`` (``EventGate.write_rejected``: every column as text plus
``reason``, ``source`` = the file, ``row`` = the 0-based row in it) and are counted per split and reason
(``EventGate.rows``: read = used + rejected per split; a row whose split cannot be computed counts under
``unassigned``). With ``data.on_bad_rows = fail`` (``EventGate.enforce("fail")``) the first bad row stops the
run with a message naming file, column and row.

Problems of a table as a whole (missing, not Parquet, a required column missing or mistyped) and of
``dataset.yaml`` raise ``DataGateError``: the command exits 2 with the problems listed.

Shapes:
    (no tensors) per row group: rejected positions int64 [k] and reason codes int16 [k]; the duplicate check
    holds the event ids (int64) of the rows that passed the row rules, [n_events], sorted in place; the rows of
    duplicated ids are found by a second pass over the ``event_id`` column (only when there are duplicates)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml
from pydantic import ValidationError

from unisr.data.problems import Problem, ProblemReport
from unisr.data.reader import active_filter, read_table, set_active_filter, table_files
from unisr.data.schema import (
    LABEL_COLUMNS,
    REFERENCES,
    SPLITS,
    TABLES,
    ColumnSplit,
    DatasetSpec,
    RandomSplit,
    TimeSplit,
    table_path,
)
from unisr.data.split import SPLIT_CODES, SplitAssigner
from unisr.data.validate import (
    EVENT_NOT_NULL,
    RowCheck,
    check_tables,
    event_row_checks,
    relative_path,
    spec_problems,
)
from unisr.data.vocab import to_numpy

UNASSIGNED = "unassigned"  # rows(): the bucket of rejected rows whose split cannot be computed
POLICIES = ("reject", "fail")


class DataGateError(ValueError):
    """The dataset cannot be read at all (a table or dataset.yaml is unusable); the message lists the problems."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        if len(problems) == 1:
            super().__init__(str(problems[0]))
            return
        shown = "\n".join(f"  {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s) make the dataset unusable:\n{shown}{more}")


class BadRowError(ValueError):
    """``data.on_bad_rows=fail`` and a row cannot be used; the message names file, column and row."""

    def __init__(self, problem: Problem, total: int) -> None:
        self.problem = problem
        super().__init__(f"{problem} (data.on_bad_rows=fail; {total:,} unusable row(s) in all; "
                         "use data.on_bad_rows=reject to train without them)")


# ------------------------------------------------------------------------------------------- the gate
@dataclass
class EventGate:
    """Which event rows every reader drops, why, and the counts per split (see the module docstring)."""

    root: Path
    groups: list[tuple[Path, int, int]]  # (file, row group, rows) in reading order
    bad: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]  # (file, row group) -> (positions, reason codes)
    reasons: list[str]  # reason code -> text
    columns: dict[int, str]  # reason code -> the column it is about
    messages: dict[tuple[str, int, int], str]  # (file, row group, position) -> message of the first bad rows
    rows: dict[str, dict] = field(default_factory=dict)  # split -> {read, used, rejected, reasons}

    # ---------------------------------------------------------------- applying it
    def keep_mask(self, file: str | Path, rg: int, n: int) -> np.ndarray | None:
        """Boolean [n] of the rows of (file, row group) that are used; None = all of them."""
        if not self.bad:
            return None
        hit = self.bad.get((_key(file), rg))
        if hit is None:
            return None
        keep = np.ones(n, dtype=bool)
        keep[hit[0]] = False
        return keep

    def filter(self, file: str | Path, rg: int, t: pa.Table) -> pa.Table:
        """The usable rows of row group ``rg`` of ``file`` (``t`` = that whole row group, any columns)."""
        keep = self.keep_mask(file, rg, t.num_rows)
        return t if keep is None else t.filter(pa.array(keep))

    # ---------------------------------------------------------------- counts
    @property
    def total_read(self) -> int:
        return sum(n for _, _, n in self.groups)

    @property
    def total_rejected(self) -> int:
        return sum(len(p) for p, _ in self.bad.values())

    def reason_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, codes in self.bad.values():
            for c, n in zip(*np.unique(codes, return_counts=True), strict=True):
                counts[self.reasons[int(c)]] = counts.get(self.reasons[int(c)], 0) + int(n)
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def metrics(self) -> dict:
        """The ``rows`` entry of metrics.json: per split {read, used, rejected, reasons}, read = used + rejected."""
        return {k: dict(v, reasons=dict(v["reasons"])) for k, v in self.rows.items()}

    def summary(self) -> list[str]:
        """Printable lines: rows read / used / rejected and the rejected rows per reason."""
        rej = self.total_rejected
        lines = [f"events: {self.total_read:,} rows read, {self.total_read - rej:,} used, {rej:,} rejected"]
        lines += [f"  rejected {n:,}: {r}" for r, n in self.reason_counts().items()]
        return lines

    def first_problem(self) -> Problem | None:
        """The first unusable row in reading order, as a located problem."""
        for f, rg, _ in self.groups:
            hit = self.bad.get((_key(f), rg))
            if hit is None:
                continue
            k = int(np.argmin(hit[0]))
            pos, code = int(hit[0][k]), int(hit[1][k])
            offset = self._offset(f, rg)
            msg = self.messages.get((_key(f), rg, pos), self.reasons[code])
            return Problem(relative_path(self.root, f), self.columns[code], offset + pos, msg)
        return None

    def enforce(self, policy: str) -> None:
        """``fail``: raise ``BadRowError`` on the first unusable row; ``reject``: nothing (rows are dropped)."""
        if policy not in POLICIES:
            raise ValueError(f"data.on_bad_rows: {policy!r} not in {POLICIES}")
        if policy == "fail" and self.bad:
            raise BadRowError(self.first_problem(), self.total_rejected)  # type: ignore[arg-type]

    def require(self, splits: tuple[str, ...] = ("train", "valid", "test")) -> None:
        """``DataGateError`` if one of ``splits`` has no usable row (nothing to train on or to evaluate)."""
        empty = [s for s in splits if self.rows.get(s, {}).get("used", 0) == 0]
        if empty:
            msgs = []
            for s in empty:
                r = self.rows.get(s, {"read": 0, "rejected": 0})
                msgs.append(Problem(relative_path(self.root, self.groups[0][0]) if self.groups else "events.parquet", None,
                                    None, f"the {s} split has no usable rows ({r['read']:,} read, "
                                    f"{r['rejected']:,} rejected)"))
            raise DataGateError(msgs)

    def _offset(self, file: Path, rg: int) -> int:
        off = 0
        for f, g, n in self.groups:
            if f == file and g == rg:
                return off
            if f == file:
                off += n
        return off

    # ---------------------------------------------------------------- rejected.parquet
    def iter_rejected(self) -> Iterator[pa.Table]:
        """The rejected rows, one table per row group that has any: every column as text, plus ``reason``,
        ``source`` (the file, relative to the dataset) and ``row`` (0-based row in that file)."""
        names: list[str] = []
        for f in dict.fromkeys(f for f, _, _ in self.groups):
            for n in pq.ParquetFile(f).schema_arrow.names:
                if n not in names:
                    names.append(n)
        offsets: dict[Path, int] = {}
        for f, rg, n in self.groups:
            off = offsets.get(f, 0)
            offsets[f] = off + n
            hit = self.bad.get((_key(f), rg))
            if hit is None:
                continue
            pos, codes = hit
            order = np.argsort(pos)
            pos, codes = pos[order], codes[order]
            t = pq.ParquetFile(f).read_row_group(rg).take(pa.array(pos, pa.int64()))
            cols = {c: (pc.cast(t[c], pa.string()) if c in t.column_names else pa.nulls(len(pos), pa.string()))
                    for c in names}
            cols["reason"] = pa.array([self.reasons[int(c)] for c in codes], pa.string())
            cols["source"] = pa.array([relative_path(self.root, f)] * len(pos), pa.string())
            cols["row"] = pa.array(pos + off, pa.int64())
            yield pa.table(cols)

    def write_rejected(self, out_dir: str | Path, name: str = "rejected.parquet") -> Path | None:
        """Write ``out_dir/rejected.parquet`` streaming (only if a row was rejected; a stale one is removed)."""
        path = Path(out_dir) / name
        if not self.bad:
            path.unlink(missing_ok=True)
            return None
        writer = None
        try:
            for t in self.iter_rejected():
                if writer is None:
                    writer = pq.ParquetWriter(path, t.schema)
                writer.write_table(t)
        finally:
            if writer is not None:
                writer.close()
        return path


def _key(file: str | Path) -> str:
    """A file's key in the gate's maps: its real path, so every spelling of a dataset's path finds its rows."""
    return os.path.realpath(file)


# ---------------------------------------------------------------------------------------------- scanning
def load_spec(root: Path) -> DatasetSpec:
    """dataset.yaml, or ``DataGateError`` naming the field; split rules that leave a split empty included."""
    path = root / "dataset.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise DataGateError([Problem(str(path), None, None, "missing (not a canonical dataset)")]) from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise DataGateError([Problem(str(path), None, None, f"not parseable YAML: {e}".replace("\n", " "))]) from None
    if not isinstance(raw, dict):
        raise DataGateError([Problem(str(path), None, None, "expected a mapping at top level")])
    try:
        spec = DatasetSpec.model_validate(raw)
    except ValidationError as e:
        raise DataGateError([Problem(str(path), ".".join(map(str, err["loc"])) or None, None, err["msg"])
                             for err in e.errors()]) from None
    bad = spec_problems(spec)
    if bad:
        raise DataGateError([Problem(str(path), f, None, m) for f, m in bad])
    return spec


def _compatible(actual: pa.DataType, expected: pa.DataType, column: str) -> bool:
    """Whether the gate and the loader can use a column of type ``actual`` where ``expected`` is declared."""
    if pa.types.is_integer(expected):
        return pa.types.is_integer(actual) or (column in LABEL_COLUMNS and pa.types.is_floating(actual))
    if pa.types.is_string(expected):
        return pa.types.is_string(actual) or pa.types.is_large_string(actual)
    return True


def schema_problems(root: Path) -> list[Problem]:
    """The problems of ``data validate`` that make a table unusable: a required table missing, a file that is
    not Parquet, a required column missing, an events column or table key of an unusable type (an integer
    where another integer width is declared is usable, as is a float label: its values are checked per row)."""
    rep = ProblemReport()
    check_tables(root, rep)
    out = []
    for p in rep.finish():
        if not p.message.startswith("mistyped") or p.column is None:
            out.append(p)
            continue
        table = TABLES.get(p.file.split("/")[0].removesuffix(".parquet"))
        if table is None or not (table.name == "events" or p.column == table.key):
            continue  # a feature column: validate reports it, the encoder reads it as it is
        try:
            actual = pq.ParquetFile(root / p.file).schema_arrow.field(p.column).type
        except Exception:  # noqa: BLE001 - unreadable: keep the problem
            out.append(p)
            continue
        if not _compatible(actual, table.type_of(p.column), p.column):
            out.append(p)
    return out


def _reference_keys(root: Path, columns: set[str]) -> dict[str, pa.Array | None]:
    """Per referencing event column present: the target table's keys (None = the table is absent)."""
    cache: dict[str, pa.Array | None] = {}
    out: dict[str, pa.Array | None] = {}
    for col, (target, key) in REFERENCES.items():
        if col not in columns:
            continue
        if target not in cache:
            keys = None
            if table_path(root, target) is not None:
                keys = pc.unique(read_table(root, target, [key])[key].combine_chunks().drop_null())
                keys = pc.cast(keys, pa.int64()) if pa.types.is_integer(keys.type) else keys
            cache[target] = keys
        out[col] = cache[target]
    return out


def _groups(root: Path) -> list[tuple[Path, int, int]]:
    out = []
    for f in table_files(root, "events"):
        md = pq.ParquetFile(f).metadata
        out += [(f, rg, md.row_group(rg).num_rows) for rg in range(md.num_row_groups)]
    return out


def scan(root: str | Path, spec: DatasetSpec | None = None) -> EventGate:
    """Stream the events of ``root`` once and build its gate (raises ``DataGateError`` if unusable)."""
    root = Path(root)
    spec = spec or load_spec(root)
    if spec_problems(spec):
        raise DataGateError([Problem("dataset.yaml", f, None, m) for f, m in spec_problems(spec)])
    problems = schema_problems(root)
    if problems:
        raise DataGateError(problems)
    groups = _groups(root)
    names: set[str] = set()
    for f in dict.fromkeys(f for f, _, _ in groups):
        names |= set(pq.ParquetFile(f).schema_arrow.names)
    if isinstance(spec.split, ColumnSplit) and "split" not in names:
        raise DataGateError([Problem("events.parquet", "split", None,
                                     "dataset.yaml declares split kind 'column' but the events have no split column")])
    kc = spec.split.key if isinstance(spec.split, RandomSplit) and spec.split.key != "event_id" else None
    if kc is not None and kc not in names:
        raise DataGateError([Problem("events.parquet", kc, None,
                                     f"dataset.yaml splits by {kc!r} but the events have no such column")])
    refs = _reference_keys(root, names)
    rule_cols = [c for c in (*EVENT_NOT_NULL, *LABEL_COLUMNS, "split", *refs, *([kc] if kc else [])) if c in names]
    rule_cols = list(dict.fromkeys(rule_cols))

    reasons: list[str] = []
    columns: dict[int, str] = {}
    code_of: dict[str, int] = {}

    def code(rule: str, column: str) -> int:
        if rule not in code_of:
            code_of[rule] = len(reasons)
            reasons.append(rule)
            columns[code_of[rule]] = column
        return code_of[rule]

    bad: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
    messages: dict[tuple[str, int, int], str] = {}
    # the event ids of the rows that pass the row rules, in file order (one int64 each; no row positions: the rare
    # duplicates are located by a second pass, ``_duplicates``)
    ids = np.empty(sum(n for _, _, n in groups), np.int64)
    n_ok = 0
    for f, rg, n in groups:
        pf = pq.ParquetFile(f)
        t = pf.read_row_group(rg, columns=[c for c in rule_cols if c in pf.schema_arrow.names])
        first = np.full(n, -1, np.int16)  # code of the first rule broken, -1 = none
        checks = event_row_checks(t, spec)
        for col, keys in refs.items():  # references: a non-null id that the target table lacks
            if col not in t.column_names:
                continue
            a = t[col].combine_chunks()
            a = pc.cast(a, pa.int64()) if pa.types.is_integer(a.type) else a
            target = REFERENCES[col][0]
            miss = pc.is_valid(a) if keys is None else pc.and_(pc.is_valid(a), pc.invert(pc.is_in(a, keys)))
            checks.append(RowCheck(col, f"dangling {col}", miss, col + " {v} not in " + f"{target}.parquet"))
        for chk in checks:
            m = pc.fill_null(chk.mask, False).to_numpy(zero_copy_only=False)
            new = m & (first < 0)
            if new.any():
                c = code(chk.rule, chk.column)
                first[new] = c
                for p in np.flatnonzero(new)[:3]:  # the message of the first rows (for on_bad_rows=fail)
                    v = t[chk.column][int(p)].as_py()
                    messages[(_key(f), rg, int(p))] = chk.message.replace("{v}", repr(v) if isinstance(v, str) else str(v))
        ok = first < 0
        eid = t["event_id"].combine_chunks()
        kept = to_numpy(eid.filter(pa.array(ok))) if not ok.all() else to_numpy(eid)
        ids[n_ok:n_ok + len(kept)] = kept
        n_ok += len(kept)
        if not ok.all():
            p = np.flatnonzero(~ok)
            bad[(_key(f), rg)] = (p.astype(np.int64), first[p])

    # duplicate event ids among the rows that passed the row rules: the first occurrence is kept
    ids = ids[:n_ok]
    ids.sort()  # in place: the check holds one int64 per event (1.5 GiB for 200M events), no positions
    dupvals = np.unique(ids[1:][ids[1:] == ids[:-1]]) if n_ok > 1 else ids[:0]
    del ids
    if len(dupvals):
        _duplicates(root, groups, bad, messages, dupvals, code("duplicate event_id", "event_id"))

    gate = EventGate(root, groups, bad, reasons, columns, messages)
    gate.rows = _split_counts(gate, spec, SplitAssigner, SPLIT_CODES, kc)
    return gate


def _duplicates(root: Path, groups: list[tuple[Path, int, int]], bad: dict, messages: dict, dupvals: np.ndarray,
                c: int) -> None:
    """Reject every occurrence but the first (in file order) of the event ids ``dupvals`` (sorted) among the rows
    that passed the row rules: a second pass over the ``event_id`` column, one row group at a time; the messages
    of the first 3 duplicates name the row of the first occurrence."""
    first_at: dict[int, int] = {}  # id -> the group index of its first occurrence
    first_row: dict[int, int] = {}  # id -> its row in that group
    found: list[tuple[int, int, int]] = []  # (group index, row, id) of the duplicates, in file order
    for g, (f, rg, n) in enumerate(groups):
        eid = to_numpy(pq.ParquetFile(f).read_row_group(rg, columns=["event_id"])["event_id"].combine_chunks())
        ok = np.ones(n, bool)
        if (_key(f), rg) in bad:
            ok[bad[(_key(f), rg)][0]] = False
        e = eid.astype(np.int64)
        r = np.minimum(np.searchsorted(dupvals, e), len(dupvals) - 1)
        for p in np.flatnonzero(ok & (dupvals[r] == e)):
            v = int(e[p])
            if v in first_at:
                found.append((g, int(p), v))
            else:
                first_at[v], first_row[v] = g, int(p)
    by_group: dict[int, list[int]] = {}
    for g, p, _ in found:
        by_group.setdefault(g, []).append(p)
    for g, rows in by_group.items():
        f, rg, _ = groups[g]
        local = np.array(rows, np.int64)
        old = bad.get((_key(f), rg))
        cs = np.full(len(local), c, np.int16)
        bad[(_key(f), rg)] = (local, cs) if old is None else (np.concatenate([old[0], local]), np.concatenate([old[1], cs]))
    for g, p, v in found[:3]:
        og = first_at[v]
        orig_row = first_row[v] + _file_offset(groups, og)
        messages[(_key(groups[g][0]), groups[g][1], p)] = (
            f"duplicate event_id {v} (first seen in {relative_path(root, groups[og][0])} row {orig_row})")


def _file_offset(groups: list[tuple[Path, int, int]], g: int) -> int:
    """Rows of ``groups[g]``'s file before that row group."""
    f = groups[g][0]
    return sum(n for ff, _, n in groups[:g] if ff == f)


def _split_counts(gate: EventGate, spec: DatasetSpec, assigner_cls, codes: dict[str, int], kc: str | None) -> dict:
    """Per split: read / used / rejected (+ reasons), with the split bounds of the rows that are used."""

    cols = ["event_id", "ts"] + (["split"] if isinstance(spec.split, ColumnSplit) else []) + ([kc] if kc else [])
    bounds = None
    if isinstance(spec.split, TimeSplit):
        lo, hi = None, None
        for f, rg, _ in gate.groups:
            t = gate.filter(f, rg, pq.ParquetFile(f).read_row_group(rg, columns=["ts"]))
            if t.num_rows:
                mm = pc.min_max(t["ts"])
                a, b = mm["min"].as_py(), mm["max"].as_py()
                lo = a if lo is None else min(lo, a)
                hi = b if hi is None else max(hi, b)
        bounds = (int(lo), int(hi) + 1) if lo is not None else (0, 1)
    assigner = assigner_cls(spec.split, bounds)
    names = {v: k for k, v in codes.items()}
    rows: dict[str, dict] = {}
    for f, rg, n in gate.groups:
        pf = pq.ParquetFile(f)
        t = pf.read_row_group(rg, columns=[c for c in cols if c in pf.schema_arrow.names])
        need = [c for c in cols if c in t.column_names]
        valid = np.ones(n, dtype=bool)
        for c in need:
            valid &= pc.is_valid(t[c].combine_chunks()).to_numpy(zero_copy_only=False)
        eid = pc.fill_null(t["event_id"].combine_chunks(), 0).to_numpy().astype(np.int64)
        ts = pc.fill_null(t["ts"].combine_chunks(), 0).to_numpy().astype(np.int64)
        split_col = to_numpy(t["split"]) if "split" in t.column_names else None
        key = pc.fill_null(t[kc].combine_chunks(), 0).to_numpy() if kc else None
        code = assigner.assign(eid, ts, split_col, key).astype(np.int16)
        code[~valid] = -1
        keep = gate.keep_mask(f, rg, n)
        rej_codes = np.full(n, -1, np.int16)
        hit = gate.bad.get((_key(f), rg))
        if hit is not None:
            rej_codes[hit[0]] = hit[1]
        for sc in np.unique(code):
            name = names.get(int(sc), UNASSIGNED)
            sel = code == sc
            r = rows.setdefault(name, {"read": 0, "used": 0, "rejected": 0, "reasons": {}})
            k_used = int(sel.sum()) if keep is None else int((sel & keep).sum())
            r["read"] += int(sel.sum())
            r["used"] += k_used
            r["rejected"] += int(sel.sum()) - k_used
            if keep is not None:
                rc, cnt = np.unique(rej_codes[sel & ~keep], return_counts=True)
                for c, m in zip(rc, cnt, strict=True):
                    reason = gate.reasons[int(c)]
                    r["reasons"][reason] = r["reasons"].get(reason, 0) + int(m)
    order = [*SPLITS, UNASSIGNED]
    return {k: rows[k] for k in order if k in rows}


# -------------------------------------------------------------------------------------- the memoised gate
def open_gate(root: str | Path, spec: DatasetSpec | None = None) -> EventGate:
    """The gate of the dataset in ``root`` (scanned once per process while its files are unchanged); from now on
    ``reader.iter_row_groups`` and the loader apply it to every read of the events."""
    root = Path(root)
    gate = active_filter(root)
    if isinstance(gate, EventGate):
        return gate
    gate = scan(root, spec)
    set_active_filter(root, gate)
    return gate


def active_gate(root: str | Path) -> EventGate | None:
    """The gate opened for ``root`` if its files are unchanged since (None: read the events unfiltered)."""
    gate = active_filter(root)
    return gate if isinstance(gate, EventGate) else None
