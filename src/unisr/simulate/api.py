"""``simulate(preset, out, seed, overrides)``: build the world, run chunks of users, write the dataset.

Shapes:
    (no tensors) preset + seed -> a dataset folder (Parquet tables, dataset.yaml)
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from unisr.data.schema import DatasetSpec, FeatureDecl, TimeSplit
from unisr.simulate.config import SimConfig, apply_overrides
from unisr.simulate.engine import run_chunk
from unisr.simulate.presets import preset_config
from unisr.simulate.world import World, build_world
from unisr.simulate.writer import (
    events_tables,
    items_table,
    latent_tables,
    social_table,
    text_queries_table,
    trigger_queries_table,
    users_table,
    visual_queries_table,
    write_table,
)

Progress = Callable[[int, int, int], None]  # (chunks done, chunks total, events so far)
TABLE_DIRS = ("events", "truth", "queries")


@dataclass
class SimulationSummary:
    out: Path
    n_events: int
    n_requests: int
    n_sessions: int
    seconds: float


def resolve_config(preset: str, overrides: dict[str, Any] | list[str] | None = None) -> SimConfig:
    return apply_overrides(preset_config(preset), overrides)


def _features() -> list[FeatureDecl]:
    cat = [("users", c) for c in ("gender", "age_level", "purchasing_power")] + [
        ("items", c) for c in ("brand", "shop", "price_level")
    ]
    ids = [FeatureDecl(table="users", column="user_id", type="categorical"),
           FeatureDecl(table="items", column="item_id", type="categorical")]
    out = ids + [FeatureDecl(table=t, column=c, type="categorical") for t, c in cat]  # type: ignore[arg-type]
    out.append(FeatureDecl(table="items", column="category_path", type="sequence", max_len=3))
    out.append(FeatureDecl(table="items", column="title_tokens", type="sequence", max_len=16))
    out.append(FeatureDecl(table="queries", column="tokens", type="sequence", max_len=4))
    return out


def dataset_spec(world: World, preset: str | None) -> DatasetSpec:
    return DatasetSpec.model_validate(
        {
            "name": world.cfg.name,
            "scenarios": [s.model_dump(mode="json", exclude_none=True) for s in world.reg.specs()],
            "labels": ["click", "conversion"],
            "split": TimeSplit(proportions={"background": 14, "train": 7, "valid": 1, "test": 2}).model_dump(),
            "features": [f.model_dump(mode="json", exclude_none=True) for f in _features()],
            "simulator": _simulator_meta(world, preset),
        }
    )


def _simulator_meta(world: World, preset: str | None) -> dict[str, Any]:
    """``dataset.yaml``'s ``simulator:``. Version 1 writes exactly what it wrote before versions existed (no
    ``version`` key, no ``version``/``mechanisms`` in the config), so its fingerprint stays the recorded one."""
    cfg = world.cfg
    notes = {
        "truth": "truth.parquet: p_click = P(click); p_conversion = P(conversion | click) (0 on share)",
        "query_ids": "text 0..; visual 2^32 + n (one per request); trigger 2^40 + item_id",
        "scenario_ids": "0-2 search, 10+ feeds, 100+ share leaves",
        "latent": "latent/ holds hidden truth for analysis only, never model input",
    }
    if cfg.version == 1:
        return {"preset": preset, "seed": world.seed, "config": cfg.model_dump(mode="json", exclude={"version", "mechanisms"}),
                "notes": notes}
    notes["truth"] = ("truth.parquet: p_click = P(click); p_click_no_position = the same without the position "
                      "term; p_conversion = P(conversion | click) (0 on share)")
    return {"version": cfg.version, "preset": preset, "seed": world.seed, "config": cfg.model_dump(mode="json"),
            "notes": notes}


_WORLD: World | None = None  # set before forking the chunk workers (shared copy-on-write)
_OUT: Path | None = None


@dataclass
class _ChunkOut:
    n_events: int
    n_requests: int
    n_sessions: int
    share: tuple[np.ndarray, np.ndarray, np.ndarray]
    triggers: np.ndarray
    tables: tuple[pa.Table, pa.Table, pa.Table] | None  # (events, truth, visual queries) when not streamed


def _chunk_bounds(world: World) -> tuple[int, int]:
    n = world.users.n
    per = world.cfg.chunk_users or n
    return per, (n + per - 1) // per


def _do_chunk(c: int, streamed: bool) -> _ChunkOut:
    world, out = _WORLD, _OUT
    assert world is not None and out is not None
    per, _ = _chunk_bounds(world)
    res = run_chunk(world, c, np.arange(c * per, min((c + 1) * per, world.users.n)))
    events, truth = events_tables(world, res)
    vq = visual_queries_table(world, res.visual_ids, res.visual_emb, res.visual_leaf)
    if streamed:
        write_table(events, out / "events.parquet" / f"part-{c:05d}.parquet")
        write_table(truth, out / "truth.parquet" / f"part-{c:05d}.parquet")
        if vq.num_rows:
            write_table(vq, out / "queries.parquet" / f"part-{c + 1:05d}.parquet")
    return _ChunkOut(res.n_events, res.n_requests, res.n_sessions, res.share_clicks, res.trigger_items,
                     None if streamed else (events, truth, vq))


def _do_chunk_streamed(c: int) -> _ChunkOut:
    return _do_chunk(c, True)


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def simulate_config(
    cfg: SimConfig,
    out: str | Path,
    seed: int = 0,
    preset: str | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> SimulationSummary:
    """Generate a canonical dataset from a resolved config into ``out`` (its tables are replaced).

    Chunks of users are independent (own seed, own id range), so ``workers`` (processes, for streamed
    presets) changes only the speed, never the files.
    """
    global _WORLD, _OUT
    t_start = time.perf_counter()
    out = Path(out)
    for t in TABLE_DIRS:
        p = out / f"{t}.parquet"
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    world = build_world(cfg, seed)
    write_table(items_table(world), out / "items.parquet")
    write_table(users_table(world), out / "users.parquet")
    for name, t in latent_tables(world).items():
        write_table(t, out / "latent" / f"{name}.parquet")

    _, n_chunks = _chunk_bounds(world)
    streamed = n_chunks > 1
    n_workers = min(workers or default_workers(), n_chunks)
    if streamed:
        write_table(text_queries_table(world), out / "queries.parquet" / "part-00000.parquet")
    _WORLD, _OUT = world, out
    results: list[_ChunkOut] = []
    n_events = 0
    try:
        if n_workers > 1:
            with mp.get_context("fork").Pool(n_workers) as pool:
                for r in pool.imap(_do_chunk_streamed, range(n_chunks)):
                    results.append(r)
                    n_events += r.n_events
                    if progress is not None:
                        progress(len(results), n_chunks, n_events)
        else:
            for c in range(n_chunks):
                r = _do_chunk(c, streamed)
                results.append(r)
                n_events += r.n_events
                if progress is not None:
                    progress(c + 1, n_chunks, n_events)
    finally:
        _WORLD, _OUT = None, None
    tq = trigger_queries_table(world, np.concatenate([r.triggers for r in results]))
    if streamed:
        write_table(tq, out / "queries.parquet" / f"part-{n_chunks + 1:05d}.parquet")
    else:
        assert results[0].tables is not None
        events, truth, vq = results[0].tables
        write_table(events, out / "events.parquet")
        write_table(truth, out / "truth.parquet")
        write_table(pa.concat_tables([text_queries_table(world), vq, tq]), out / "queries.parquet")
    src, dst, ts = (np.concatenate([r.share[i] for r in results]) for i in range(3))
    write_table(social_table(world, src, dst, ts), out / "social.parquet")
    dataset_spec(world, preset).save(out)
    return SimulationSummary(
        out, n_events, sum(r.n_requests for r in results), sum(r.n_sessions for r in results),
        time.perf_counter() - t_start,
    )


def simulate(
    preset: str = "tiny",
    out: str | Path = "data/sim",
    seed: int = 0,
    overrides: dict[str, Any] | list[str] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> SimulationSummary:
    """Simulate the marketplace of ``preset`` (tiny, small, medium, large) into the folder ``out``."""
    return simulate_config(resolve_config(preset, overrides), out, seed, preset, progress, workers)
