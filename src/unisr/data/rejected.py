"""Rows that cannot be used are never dropped silently: they go to ``rejected.parquet`` with a reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


@dataclass
class RejectedRows:
    """Collects rejected rows (as strings, so any source type fits) with a ``reason`` and ``source`` column."""

    parts: list[pa.Table] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, rows: pa.Table, reason: str, source: str) -> None:
        if rows.num_rows == 0:
            return
        cols = {c: pc.cast(rows[c], pa.string()) if not pa.types.is_string(rows[c].type)
                else rows[c] for c in rows.column_names}
        t = pa.table(cols)
        t = t.append_column("reason", pa.array([reason] * t.num_rows, pa.string()))
        t = t.append_column("source", pa.array([source] * t.num_rows, pa.string()))
        self.parts.append(t)
        self.counts[reason] = self.counts.get(reason, 0) + rows.num_rows

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def write(self, out_dir: str | Path) -> Path | None:
        """Write ``rejected.parquet`` (only if anything was rejected); returns its path."""
        if not self.parts:
            return None
        t = pa.concat_tables(self.parts, promote_options="permissive")
        path = Path(out_dir) / "rejected.parquet"
        pq.write_table(t, path)
        return path
