"""Streaming machinery every importer except MovieLens shares: text blocks, CSV fields, value parsing with
reasons, id remapping, entity tables and the writer of the canonical dataset.

A source file is read in blocks of ``BLOCK_BYTES`` bytes cut at line ends (never the whole file); each block is
a polars frame ``(line_no, raw)`` (1-based line numbers, blank lines dropped) split into string fields
(:func:`split_csv`; lines with a ``"`` go through Python's C ``csv`` reader so quoted separators work, the rest
through a vectorised split). Values are parsed with :func:`to_int` / :func:`to_float` / :func:`to_label`, and
each row gets the reason of the first check it fails (:func:`first_reason`); :class:`DatasetWriter` sends those
rows to ``rejected.parquet`` (``line_no``, ``raw``, ``reason``, ``source``), appends the others to
``events.parquet`` one row group per block and counts read / written / rejected per source file.

String ids become int64 through :class:`IdMap` (first-seen order from 1; the map holds one row per distinct
id, not per row). Entity tables (users, items) keep the first row seen per id (:class:`Entities`), and ids
that events reference without a feature row get a bare row, so the output never dangles.

Shapes:
    (no tensors) text block -> polars frame [lines, fields] -> Parquet row group
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from unisr.data.importers.base import ImportReport, ImportSourceError, split_fields
from unisr.data.rejected import RejectedRows
from unisr.data.schema import EVENTS, ITEMS, QUERIES, SOCIAL, USERS, DatasetSpec, ScenarioKind, ScenarioSpec
from unisr.data.validate import TS_RANGE

BLOCK_BYTES = 16 << 20
VALID_EVERY = 10  # a source with only train and test files: every 10th train row (event_id % 10 == 9) -> valid


# ------------------------------------------------------------------------------------------- reading
def iter_blocks(path: Path, block_bytes: int | None = None) -> Iterator[pl.DataFrame]:
    """Non-blank lines of ``path`` as frames ``(line_no: Int64 1-based, raw: String)``, one per block of bytes.

    UTF-8 (undecodable bytes replaced), LF or CRLF, a leading BOM dropped. ``block_bytes`` None:
    ``BLOCK_BYTES`` (read at call time)."""
    block_bytes = block_bytes or BLOCK_BYTES
    if not path.exists():
        raise ImportSourceError(f"{path}: no such file")
    line = 1
    carry = b""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(block_bytes)
            data = carry + chunk
            if not chunk:
                carry, part = b"", data
            else:
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                part, carry = data[: cut + 1], data[cut + 1:]
            if part:
                text = part.decode("utf-8", errors="replace")
                if line == 1:
                    text = text.lstrip("\ufeff")
                lines = text.split("\n")
                if lines and lines[-1] == "":
                    lines.pop()
                df = pl.DataFrame({"raw": pl.Series(lines, dtype=pl.String)}).with_columns(
                    line_no=pl.int_range(line, line + pl.len(), dtype=pl.Int64),
                    raw=pl.col("raw").str.strip_suffix("\r"),
                )
                line += len(lines)
                df = df.filter(pl.col("raw").str.strip_chars().str.len_chars() > 0).select("line_no", "raw")
                if df.height:
                    yield df
            if not chunk:
                return


def split_csv(df: pl.DataFrame, sep: str, names: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``raw`` -> one string column per name; (parsed rows, rows with a wrong number of fields). Quoted fields
    (lines holding ``"``) are parsed by the ``csv`` module; fields spanning lines are not supported."""
    quoted = df["raw"].str.contains('"', literal=True)
    good, bad = split_fields(df.filter(~quoted), sep, names)
    q = df.filter(quoted)
    if q.height:
        rows = list(csv.reader(q["raw"].to_list(), delimiter=sep))
        ok = pl.Series([len(r) == len(names) for r in rows])
        fields = [r for r, k in zip(rows, ok, strict=True) if k]
        cols = list(zip(*fields, strict=True)) if fields else [[] for _ in names]
        qgood = q.filter(ok).with_columns(
            [pl.Series(n, list(c), dtype=pl.String).str.strip_chars() for n, c in zip(names, cols, strict=True)])
        good = pl.concat([good, qgood]).sort("line_no")
        bad = pl.concat([bad, q.filter(~ok)]).sort("line_no")
    return good, bad


def read_header(path: Path, sep: str) -> list[str]:
    """The field names of the first non-blank line of ``path``."""
    for block in iter_blocks(path, 1 << 16):
        return [h.strip() for h in next(csv.reader([block["raw"][0]], delimiter=sep))]
    raise ImportSourceError(f"{path}: empty file, expected a header line")


def iter_rows(path: Path, sep: str, names: list[str] | None = None,
              need: tuple[str, ...] = ()) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """(parsed rows, unparseable rows) per block of a delimited file. ``names`` None: the first line is the
    header; a header lacking a field of ``need`` is ``ImportSourceError`` naming the file and the field."""
    header = names is None
    if header:
        names = read_header(path, sep)
    missing = [n for n in need if n not in names]
    if missing:
        raise ImportSourceError(f"{path}: header lacks field(s) {missing} (header: {names})")
    first = True
    for block in iter_blocks(path):
        if first and header:
            block = block.slice(1)
        first = False
        yield split_csv(block, sep, names)


# ------------------------------------------------------------------------------------------- values
def first_reason(checks: list[tuple[pl.Expr, str]]) -> pl.Expr:
    """A ``reason`` column: the message of the first failing check, null when every check passes."""
    expr = pl.lit(None, dtype=pl.String)
    for failed, reason in reversed(checks):
        expr = pl.when(failed).then(pl.lit(reason)).otherwise(expr)
    return expr.alias("reason")


def blank(col: str) -> pl.Expr:
    return pl.col(col).is_null() | (pl.col(col).str.len_chars() == 0)


def to_int(col: str) -> pl.Expr:
    """An integer field (``"3"``, ``"3.0"``) -> Int64; null when blank or not an integer."""
    f = pl.col(col).cast(pl.Float64, strict=False)
    return (pl.col(col).cast(pl.Int64, strict=False)
            .fill_null(pl.when(f.is_finite() & (f == f.round())).then(f).cast(pl.Int64, strict=False)))


def to_float(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Float64, strict=False)


def to_label(col: str) -> pl.Expr:
    """A 0/1 label (``"1"``, ``"1.0"``) -> Int8; null otherwise."""
    f = to_float(col)
    return pl.when((f == 0) | (f == 1)).then(f).cast(pl.Int8)


def int_checks(cols: dict[str, str], what: str = "") -> list[tuple[pl.Expr, str]]:
    """Checks that the required integer fields ``cols`` (field -> name in the message) are present integers."""
    return [c for src, name in cols.items()
            for c in ((blank(src), f"missing {name}{what}"), (to_int(src).is_null(), f"{name} not an integer"))]


def label_checks(cols: dict[str, str]) -> list[tuple[pl.Expr, str]]:
    return [(to_label(src).is_null(), f"{name} not 0 or 1") for src, name in cols.items()]


def ts_checks(expr: pl.Expr, name: str = "timestamp") -> list[tuple[pl.Expr, str]]:
    return [(expr.is_null(), f"{name} not a number"),
            ((expr < TS_RANGE[0]) | (expr >= TS_RANGE[1]),
             f"{name} outside [{TS_RANGE[0]}, {TS_RANGE[1]}) (unix seconds)")]


def unix_seconds(col: str) -> pl.Expr:
    """A unix time in seconds or milliseconds (values > 1e11 are taken as ms) -> Int64 seconds."""
    v = to_float(col)
    return pl.when(v > 1e11).then(v / 1000).otherwise(v).floor().cast(pl.Int64, strict=False)


def int_list(col: str, sep: str) -> pl.Expr:
    """A list field joined by ``sep`` -> list<Int64> (blank -> empty list; non-integers -> null elements)."""
    return (pl.when(blank(col)).then(pl.lit("")).otherwise(pl.col(col)).str.split(sep)
            .list.eval(pl.element().filter(pl.element().str.len_chars() > 0).cast(pl.Int64, strict=False)))


def list_ok(col: pl.Expr) -> pl.Expr:
    """True where no element of a list column is null."""
    return col.list.eval(pl.element().is_null().any()).list.first().fill_null(False).not_()


# ------------------------------------------------------------------------------------------- ids
class IdMap:
    """Strings -> int64 ids, first-seen order from ``start``; the map keeps one row per distinct string."""

    def __init__(self, start: int = 1) -> None:
        self.frame = pl.DataFrame(schema={"key": pl.String, "id": pl.Int64})
        self.next = start

    def encode(self, keys: pl.Series | pl.Expr, df: pl.DataFrame | None = None) -> pl.Series:
        s = df.select(keys).to_series() if isinstance(keys, pl.Expr) else keys
        s = s.cast(pl.String)
        new = s.drop_nulls().unique(maintain_order=True)
        new = new.filter(~new.is_in(self.frame["key"].implode()))
        if len(new):
            self.frame = pl.concat([self.frame, pl.DataFrame({
                "key": new, "id": pl.int_range(self.next, self.next + len(new), dtype=pl.Int64, eager=True)})])
            self.next += len(new)
        return s.to_frame("key").join(self.frame, on="key", how="left", maintain_order="left")["id"]

    def __len__(self) -> int:
        return self.frame.height


class Entities:
    """An entity table built while streaming: the first row seen per ``key``; ``ensure`` adds bare rows."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.parts: list[pl.DataFrame] = []
        self.seen = pl.Series(key, [], dtype=pl.Int64)

    def add(self, df: pl.DataFrame) -> None:
        df = df.unique(self.key, keep="first", maintain_order=True)
        df = df.filter(~pl.col(self.key).is_in(self.seen.implode()))
        if df.height:
            self.parts.append(df)
            self.seen = pl.concat([self.seen, df[self.key]])

    def ensure(self, ids: pl.Series) -> None:
        self.add(ids.drop_nulls().unique().cast(pl.Int64).to_frame(self.key))

    def frame(self) -> pl.DataFrame:
        if not self.parts:
            return pl.DataFrame(schema={self.key: pl.Int64})
        return pl.concat(self.parts, how="diagonal_relaxed").sort(self.key)


class ScenarioMap:
    """Raw scenario values -> scenario ids: a fixed map, or (``fixed`` None) first-seen ids from 0 named
    ``<prefix><value>``."""

    def __init__(self, kind: ScenarioKind, fixed: dict[str, tuple[int, str]] | None = None,
                 prefix: str = "") -> None:
        self.kind, self.fixed, self.prefix = kind, fixed, prefix
        self.ids = IdMap(start=0)

    def encode(self, values: pl.Series) -> pl.Series:
        if self.fixed is not None:
            return values.replace_strict({k: v[0] for k, v in self.fixed.items()}, default=None,
                                         return_dtype=pl.Int16)
        return self.ids.encode(values).cast(pl.Int16)

    def specs(self, used: set[int]) -> list[ScenarioSpec]:
        if self.fixed is not None:
            return [ScenarioSpec(id=i, name=n, kind=self.kind) for i, n in sorted(self.fixed.values()) if i in used]
        return [ScenarioSpec(id=int(i), name=f"{self.prefix}{k}", kind=self.kind)
                for k, i in self.ids.frame.iter_rows() if int(i) in used]


# ------------------------------------------------------------------------------------------- writing
_ENTITY_TYPES = {"users": USERS, "items": ITEMS, "queries": QUERIES, "social": SOCIAL}


class DatasetWriter:
    """Writes a canonical dataset while streaming: events one block at a time, rejected rows with reasons,
    the per-source counts; ``finish`` writes the entity tables, dataset.yaml and ``rejected.parquet``."""

    def __init__(self, fmt: str, src: Path, out: Path, variant: str = "") -> None:
        self.report = ImportReport(format=fmt, src=src, out=out, variant=variant)
        self.rejected = RejectedRows()
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        for stale in ("events.parquet", "rejected.parquet", "queries.parquet", "social.parquet"):
            if (out / stale).is_file():
                (out / stale).unlink()
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._parts = out / ".events-parts"  # one part per schema; merged into events.parquet by ``finish``
        self._part_schemas: list[pa.Schema] = []
        for stale in self._parts.glob("part-*.parquet") if self._parts.is_dir() else []:  # an interrupted import
            stale.unlink()
        self.n_events = 0
        self.scenario_events: dict[int, int] = {}
        self.clicks = 0

    # ---- counts and rejected rows
    def parsed(self, good: pl.DataFrame, bad: pl.DataFrame, source: str, table: str) -> pl.DataFrame:
        """Count a block's rows as read from ``source`` (to ``table``), reject the unparseable ones (``bad``)
        and return the parsed ones."""
        r = self.report
        r.tables.setdefault(source, table)
        r.read[source] = r.read.get(source, 0) + good.height + bad.height
        r.written.setdefault(source, 0)
        self.reject(bad, source, "unparseable: wrong number of fields")
        return good

    def wrote(self, source: str, n: int) -> None:
        self.report.written[source] = self.report.written.get(source, 0) + n

    def reject(self, df: pl.DataFrame, source: str, reason: str | None = None) -> pl.DataFrame:
        """Send the rows with a ``reason`` (or all rows, with ``reason`` given) to rejected; return the rest."""
        if not df.height:
            return df
        if reason is not None:
            self.rejected.add(df.select("line_no", "raw").to_arrow(), reason, source)
            self.report.rejected[source] = self.report.rejected.get(source, 0) + df.height
            return df.clear()
        bad = df.filter(pl.col("reason").is_not_null())
        for (why,), part in bad.group_by("reason", maintain_order=True):
            self.rejected.add(part.select("line_no", "raw").to_arrow(), str(why), source)
        if bad.height:
            self.report.rejected[source] = self.report.rejected.get(source, 0) + bad.height
        return df.filter(pl.col("reason").is_null()).drop("reason")

    def checked(self, df: pl.DataFrame, checks: list[tuple[pl.Expr, str]], source: str) -> pl.DataFrame:
        return self.reject(df.with_columns(first_reason(checks)), source)

    # ---- events
    def events(self, df: pl.DataFrame) -> None:
        """Append events (canonical columns cast to their types, extra columns as they are); ``event_id`` is
        the running row number when absent."""
        if not df.height:
            return
        if "event_id" not in df.columns:
            df = df.with_columns(event_id=pl.int_range(self.n_events, self.n_events + pl.len(), dtype=pl.Int64))
        canon = [c for c in [*EVENTS.required, *EVENTS.optional] if c in df.columns]
        df = df.select(canon + [c for c in df.columns if c not in canon])
        t = df.to_arrow()
        schema = pa.schema([pa.field(f.name, EVENTS.type_of(f.name) or _large_to_plain(f.type)) for f in t.schema])
        if self._schema is None or not schema.equals(self._schema):  # a new source: a new part
            if self._writer is not None:
                self._writer.close()
            self._parts.mkdir(exist_ok=True)
            self._schema = schema
            self._writer = pq.ParquetWriter(self._parts / f"part-{len(self._part_schemas):05d}.parquet", schema)
            self._part_schemas.append(schema)
        self._writer.write_table(t.cast(self._schema))
        self.n_events += df.height
        self.clicks += int(df["click"].cast(pl.Int64).sum())
        for s, n in df.group_by("scenario_id").len().iter_rows():
            self.scenario_events[int(s)] = self.scenario_events.get(int(s), 0) + n

    def table(self, name: str, df: pl.DataFrame) -> None:
        """Write an entity / side table (users, items, queries, social) with its canonical types."""
        schema = _ENTITY_TYPES[name]
        t = df.to_arrow()
        fields = [pa.field(f.name, schema.type_of(f.name) or _large_to_plain(f.type)) for f in t.schema]
        pq.write_table(t.cast(pa.schema(fields)), self.out / f"{name}.parquet")

    def _merge_parts(self) -> None:
        """Stream the parts into one ``events.parquet`` with the union of their columns (nulls where a part
        lacks one), one row group at a time."""
        fields: dict[str, pa.Field] = {}
        for sch in self._part_schemas:
            for f in sch:
                fields.setdefault(f.name, f)
        schema = pa.schema(list(fields.values()))
        with pq.ParquetWriter(self.out / "events.parquet", schema) as writer:
            for part in sorted(self._parts.glob("part-*.parquet")):
                pf = pq.ParquetFile(part)
                for g in range(pf.num_row_groups):
                    t = pf.read_row_group(g)
                    cols = [t[f.name] if f.name in t.column_names else pa.nulls(t.num_rows, f.type) for f in schema]
                    writer.write_table(pa.Table.from_arrays(cols, schema=schema))
                part.unlink()
        self._parts.rmdir()

    def finish(self, spec: DatasetSpec, users: pl.DataFrame, items: pl.DataFrame) -> ImportReport:
        if self._writer is not None:
            self._writer.close()
            self._merge_parts()
        if self.n_events == 0:
            reasons = ", ".join(f"{n:,} {r}" for r, n in self.rejected.counts.items()) or "no data rows"
            raise ImportSourceError(f"{self.report.src}: nothing to import: no usable event row "
                                    f"({sum(self.report.read.values()):,} rows read; {reasons})")
        self.table("users", users)
        self.table("items", items)
        self.rejected.write(self.out)
        spec.save(self.out)
        self.report.reasons = dict(self.rejected.counts)
        self.report.extra = {"events": self.n_events, "scenario_events": dict(sorted(self.scenario_events.items())),
                             "click_rate": self.clicks / self.n_events}
        return self.report


def _large_to_plain(t: pa.DataType) -> pa.DataType:
    """polars writes large_string / large_list; canonical tables use string / list."""
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_list(t):
        return pa.list_(_large_to_plain(t.value_type))
    return t


def carve_valid(split: str, event_id: pl.Expr) -> pl.Expr:
    """The split of a row from a source file of split ``split``; train rows with ``event_id % 10 == 9`` become
    ``valid`` when the source has no validation file."""
    if split != "train_only":
        return pl.lit(split)
    return pl.when(event_id % VALID_EVERY == VALID_EVERY - 1).then(pl.lit("valid")).otherwise(pl.lit("train"))


def find(src: Path, names: list[str], what: str) -> Path:
    """The first of ``names`` present in ``src``; ``ImportSourceError`` naming them otherwise."""
    for n in names:
        if (src / n).exists():
            return src / n
    raise ImportSourceError(f"{src / names[0]}: missing ({what})")
