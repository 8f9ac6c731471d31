"""Shared fixtures: tiny canonical datasets written to ``tmp_path``, and the ``../shared/data`` folder."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from unisr.data.schema import EVENTS, QUERIES, SOCIAL

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def tiny_spec() -> dict:
    """dataset.yaml of the tiny dataset: three scenarios (recommend, text search, share)."""
    return {
        "name": "tiny",
        "scenarios": [
            {"id": 0, "name": "rec", "kind": "recommend"},
            {"id": 1, "name": "search", "kind": "search_text"},
            {"id": 2, "name": "share", "kind": "share"},
        ],
        "labels": ["click", "conversion"],
        "split": {"kind": "column"},
    }


def tiny_tables(n_events: int = 12) -> dict[str, pa.Table]:
    """A valid canonical dataset: 4 users, 5 items, 3 queries, 2 social edges, ``n_events`` events
    (scenario = row % 3; search rows carry a query, recommend rows a trigger item, share rows a target user)."""
    rows = range(n_events)
    scen = [i % 3 for i in rows]
    click = [int(i % 2 == 0) for i in rows]
    events = pa.table(
        {
            "event_id": list(rows),
            "ts": [1_700_000_000 + 60 * i for i in rows],
            "user_id": [1 + i % 4 for i in rows],
            "scenario_id": scen,
            "item_id": [10 + i % 5 for i in rows],
            "click": click,
            "query_id": [100 + i % 2 if s == 1 else None for i, s in zip(rows, scen, strict=True)],
            "trigger_item_id": [10 if s == 0 else None for s in scen],
            "target_user_id": [1 + (i + 1) % 4 if s == 2 else None for i, s in zip(rows, scen, strict=True)],
            "conversion": [int(c == 1 and i % 4 == 0) for i, c in zip(rows, click, strict=True)],
            "split": ["train" if i < n_events * 2 // 3 else "valid" if i < n_events * 5 // 6 else "test"
                      for i in rows],
        },
        schema=EVENTS.arrow_schema(["query_id", "trigger_item_id", "target_user_id", "conversion", "split"]),
    )
    users = pa.table({"user_id": pa.array([1, 2, 3, 4], pa.int64()), "age": pa.array([20, 30, 40, 50], pa.int16())})
    items = pa.table({
        "item_id": pa.array([10, 11, 12, 13, 14], pa.int64()),
        "brand": pa.array([1, 1, 2, 2, 3], pa.int32()),
    })
    queries = pa.table(
        {"query_id": [100, 101, 102], "kind": ["text", "visual", "trigger"]}, schema=QUERIES.arrow_schema()
    )
    social = pa.table(
        {"src_user_id": [1, 2], "dst_user_id": [2, 3], "view": ["friend", "share"]}, schema=SOCIAL.arrow_schema()
    )
    return {"events": events, "users": users, "items": items, "queries": queries, "social": social}


def write_canonical(
    root: Path,
    tables: dict[str, pa.Table | None] | None = None,
    spec: dict | str | bool | None = None,
    *,
    row_group_size: int = 4,
    events_parts: int = 1,
) -> Path:
    """Write ``tables`` (default: ``tiny_tables()``; a ``None`` value omits that table) and ``spec`` (a dict,
    raw YAML text, or the default ``tiny_spec()``; pass ``spec=False`` for no dataset.yaml) into ``root``.
    ``events_parts > 1`` writes ``events.parquet/`` as a folder of that many parts."""
    root.mkdir(parents=True, exist_ok=True)
    tables = tiny_tables() if tables is None else tables
    spec = tiny_spec() if spec is None else spec
    if isinstance(spec, dict):
        (root / "dataset.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    elif isinstance(spec, str):
        (root / "dataset.yaml").write_text(spec)
    for name, t in tables.items():
        if t is None:
            continue
        if name == "events" and events_parts > 1:
            folder = root / "events.parquet"
            folder.mkdir(exist_ok=True)
            step = -(-t.num_rows // events_parts)
            for k in range(events_parts):
                pq.write_table(t.slice(k * step, step), folder / f"part-{k:03d}.parquet",
                               row_group_size=row_group_size)
        else:
            pq.write_table(t, root / f"{name}.parquet", row_group_size=row_group_size)
    return root


@pytest.fixture
def write_dataset(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``write_dataset(tables=None, spec=None, name="ds", **kw)`` -> folder (see ``write_canonical``)."""

    def make(tables: dict[str, pa.Table | None] | None = None, spec: dict | str | bool | None = None,
             name: str = "ds", **kw: int) -> Path:
        return write_canonical(tmp_path / name, tables, spec, **kw)

    return make


@pytest.fixture
def canonical_tables() -> dict[str, pa.Table]:
    """Fresh tables of the tiny valid dataset (edit one, then ``write_dataset(tables)``)."""
    return tiny_tables()


@pytest.fixture
def make_tables() -> Callable[..., dict[str, pa.Table]]:
    """``make_tables(n_events=12)``: tables of the tiny valid dataset with that many events."""
    return tiny_tables


@pytest.fixture
def canonical_spec() -> dict:
    """A fresh dataset.yaml dict of the tiny dataset (edit it, then ``write_dataset(spec=...)``)."""
    return tiny_spec()


@pytest.fixture
def tiny_dataset(write_dataset: Callable[..., Path]) -> Path:
    """Folder of the tiny valid canonical dataset."""
    return write_dataset()


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulator's ``tiny`` preset shrunk to 40k events, simulated once per test session."""
    from unisr.simulate.api import resolve_config, simulate_config

    out = tmp_path_factory.mktemp("sim_tiny")
    simulate_config(resolve_config("tiny", ["n_events=40000"]), out, 0, "tiny", None, None)
    return out


@pytest.fixture(scope="session")
def unisr() -> Callable[..., subprocess.CompletedProcess]:
    """``unisr(*args, timeout=600)``: the installed ``unisr`` command run in a subprocess; a non-zero exit fails
    the test with its stdout and stderr."""
    exe = str(Path(sys.executable).parent / "unisr")

    def run(*args: object, timeout: int = 600) -> subprocess.CompletedProcess:
        p = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=timeout)
        assert p.returncode == 0, f"{p.stdout}\n{p.stderr}"
        return p

    return run
