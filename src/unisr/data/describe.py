"""``unisr data describe``: sizes, per-scenario traffic, click rates and time range of a canonical dataset.

Everything is computed by DuckDB over the Parquet files (streaming, spilling to disk), never by loading the
events into Python.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from unisr.data.reader import has_table, num_rows, table_files
from unisr.data.schema import DatasetSpec


def _scan(files: list[Path]) -> str:
    paths = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
    return f"read_parquet([{paths}], union_by_name=true)"


def _iso(ts: int | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(int(ts), tz=UTC).isoformat().replace("+00:00", "Z")


def describe_dataset(root: str | Path, memory_limit: str | None = "4GB") -> dict[str, Any]:
    """Summary of the dataset in ``root`` as a JSON-ready dict.

    Keys: ``name``, ``rows`` (events), ``users``/``items``/``queries`` (table rows; 0 when a table is absent),
    ``active_users``/``active_items`` (distinct ids in events), ``click_rate``, ``conversion_rate`` (only with a
    ``conversion`` column), ``time_range`` (``min_ts``, ``max_ts``, ISO ``start``/``end``), ``scenarios`` (per
    declared or observed scenario: ``id``, ``name``, ``kind``, ``events``, ``share``, ``users``,
    ``click_rate`` and ``conversion_rate``) and ``splits`` (rows per split value, only with a ``split`` column).
    Raises ``FileNotFoundError`` (dataset.yaml or events missing) or ``ValueError`` (bad dataset.yaml).
    ``memory_limit`` bounds DuckDB's memory (it spills to a temporary directory beyond it).
    """
    root = Path(root)
    spec = DatasetSpec.load(root)
    ev_files = table_files(root, "events")
    columns = set()
    for f in ev_files:
        columns |= set(pq.ParquetFile(f).schema_arrow.names)
    has_conv = "conversion" in columns
    ev = _scan(ev_files)

    out: dict[str, Any] = {"name": spec.name}
    with tempfile.TemporaryDirectory(prefix="unisr-describe-") as tmp:
        con = duckdb.connect(":memory:")
        try:
            con.execute(f"SET temp_directory='{tmp}'")
            if memory_limit:
                con.execute(f"SET memory_limit='{memory_limit}'")
            conv = ", avg(conversion::DOUBLE)" if has_conv else ", NULL"
            rows, users, items, ctr, cvr, tmin, tmax = con.execute(
                f"SELECT count(*), count(DISTINCT user_id), count(DISTINCT item_id), avg(click::DOUBLE)"
                f"{conv}, min(ts), max(ts) FROM {ev}"
            ).fetchone()
            per = con.execute(
                f"SELECT scenario_id, count(*), count(DISTINCT user_id), avg(click::DOUBLE){conv} "
                f"FROM {ev} GROUP BY scenario_id ORDER BY scenario_id"
            ).fetchall()
            splits = None
            if "split" in columns:
                splits = dict(con.execute(f"SELECT split, count(*) FROM {ev} GROUP BY 1 ORDER BY 1").fetchall())
        finally:
            con.close()

    out["rows"] = int(rows)
    for table in ("users", "items", "queries"):
        out[table] = num_rows(root, table) if has_table(root, table) else 0
    out["active_users"] = int(users)
    out["active_items"] = int(items)
    out["click_rate"] = ctr
    if has_conv:
        out["conversion_rate"] = cvr
    out["time_range"] = {"min_ts": tmin, "max_ts": tmax, "start": _iso(tmin), "end": _iso(tmax)}

    observed = {int(sid) if sid is not None else None: (n, u, c, v) for sid, n, u, c, v in per}
    scenarios: list[dict[str, Any]] = []
    declared = {s.id: s for s in spec.scenarios}
    for sid in sorted(set(declared) | {k for k in observed if k is not None}) + (
        [None] if None in observed else []
    ):
        n, u, c, v = observed.get(sid, (0, 0, None, None))
        s = declared.get(sid) if sid is not None else None
        entry: dict[str, Any] = {
            "id": sid,
            "name": s.name if s else None,
            "kind": str(s.kind) if s else None,
            "events": int(n),
            "share": (n / rows) if rows else 0.0,
            "users": int(u),
            "click_rate": c,
        }
        if has_conv:
            entry["conversion_rate"] = v
        scenarios.append(entry)
    out["scenarios"] = scenarios
    if splits is not None:
        out["splits"] = {str(k): int(v) for k, v in splits.items()}
    return out
