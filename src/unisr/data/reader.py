"""Streaming reads of canonical tables: a file or a folder of Parquet parts, one row group at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from unisr.data.schema import table_path


class MissingTableError(FileNotFoundError):
    pass


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
    root: str | Path, table: str, columns: list[str] | None = None
) -> Iterator[tuple[Path, int, pa.Table]]:
    """Yield ``(file, first_row_in_file, table_chunk)`` for each row group; memory bounded by one group."""
    for f in table_files(root, table):
        pf = pq.ParquetFile(f)
        cols = None if columns is None else [c for c in columns if c in pf.schema_arrow.names]
        offset = 0
        for rg in range(pf.num_row_groups):
            t = pf.read_row_group(rg, columns=cols)
            yield f, offset, t
            offset += t.num_rows


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
