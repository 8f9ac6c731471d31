"""Streaming reads of canonical tables: a file or a folder of Parquet parts, one row group at a time.

Once a data gate is open for a dataset (``unisr.data.gate.open_gate``), reading its events here drops the rows
the gate rejected, so every reader sees the same usable events (``raw=True`` reads them unfiltered).

Shapes:
    (no tensors) iter_row_groups -> (file, first row in file, Arrow table of one row group)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from unisr.data.schema import table_path


class MissingTableError(FileNotFoundError):
    pass


class RowFilter(Protocol):
    """What drops unusable event rows from a row group (``unisr.data.gate.EventGate``)."""

    def filter(self, file: str | Path, rg: int, t: pa.Table) -> pa.Table: ...


# dataset folder -> (fingerprint of its files, the filter opened for it): see ``set_active_filter``
_FILTERS: dict[str, tuple[tuple, RowFilter]] = {}


def files_fingerprint(root: str | Path) -> tuple:
    """Sizes and modification times of the files a data gate reads (a changed file means a new scan)."""
    root = Path(root).resolve()
    items: list[tuple] = []
    for name in ("dataset.yaml", "events", "users", "items", "queries"):
        p = root / name if name.endswith(".yaml") else table_path(root, name)
        if p is None or not p.exists():
            items.append((name, None))
            continue
        files = sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p]
        for x in files:
            st = x.stat()
            items.append((str(x), st.st_size, st.st_mtime_ns))
    return tuple(items)


def set_active_filter(root: str | Path, flt: RowFilter) -> None:
    """From now on (while the dataset's files are unchanged) ``iter_row_groups`` of its events applies ``flt``."""
    _FILTERS[str(Path(root).resolve())] = (files_fingerprint(root), flt)


def active_filter(root: str | Path) -> RowFilter | None:
    """The filter set for ``root`` if its files are unchanged since, else None (events read unfiltered)."""
    if not _FILTERS:
        return None
    hit = _FILTERS.get(str(Path(root).resolve()))
    if hit is None or hit[0] != files_fingerprint(root):
        return None
    return hit[1]


def parquet_files(path: str | Path) -> list[Path]:
    """The Parquet files behind a table path (a file, or a folder of parts in name order)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if p.is_file())
        if not files:
            raise MissingTableError(f"{path}: folder holds no .parquet parts")
        return files
    if not path.exists():
        raise MissingTableError(f"{path}: no such file")
    return [path]


def table_files(root: str | Path, table: str) -> list[Path]:
    p = table_path(root, table)
    if p is None:
        raise MissingTableError(f"{Path(root) / (table + '.parquet')}: table '{table}' is missing")
    return parquet_files(p)


def has_table(root: str | Path, table: str) -> bool:
    return table_path(root, table) is not None


def iter_row_groups(
    root: str | Path, table: str, columns: list[str] | None = None, *, raw: bool = False
) -> Iterator[tuple[Path, int, pa.Table]]:
    """Yield ``(file, first_row_in_file, table_chunk)`` for each row group; memory bounded by one group.

    Events are filtered by the dataset's open data gate (unless ``raw``); ``first_row_in_file`` stays the
    row group's first row in the file (the rows after a rejected one are then no longer consecutive)."""
    gate = active_filter(root) if table == "events" and not raw else None
    for f in table_files(root, table):
        pf = pq.ParquetFile(f)
        cols = None if columns is None else [c for c in columns if c in pf.schema_arrow.names]
        offset = 0
        for rg in range(pf.num_row_groups):
            t = pf.read_row_group(rg, columns=cols)
            n = t.num_rows
            if gate is not None:
                t = gate.filter(f, rg, t)
            yield f, offset, t
            offset += n


def row_group_index(root: str | Path, table: str) -> list[tuple[Path, int, int]]:
    """(file, row_group, num_rows) for every row group of a table, without reading data."""
    out = []
    for f in table_files(root, table):
        md = pq.ParquetFile(f).metadata
        for rg in range(md.num_row_groups):
            out.append((f, rg, md.row_group(rg).num_rows))
    return out


def read_table(root: str | Path, table: str, columns: list[str] | None = None) -> pa.Table:
    """Read a whole (small) table: users, items, queries, social. Events should be streamed instead."""
    parts = []
    for f in table_files(root, table):
        pf = pq.ParquetFile(f)
        cols = None if columns is None else [c for c in columns if c in pf.schema_arrow.names]
        parts.append(pf.read(columns=cols))
    return pa.concat_tables(parts) if len(parts) > 1 else parts[0]


def table_columns(root: str | Path, table: str) -> list[str]:
    return list(pq.ParquetFile(table_files(root, table)[0]).schema_arrow.names)


def num_rows(root: str | Path, table: str) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in table_files(root, table))
