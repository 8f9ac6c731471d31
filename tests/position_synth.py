"""``synth.make_dataset`` with an ``events.position`` column and clicks that fall with the slot, for the tests of
the training-only position bias (``unisr.nn.position``, ``unisr.train.objective``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from synth import make_dataset


def make_position_dataset(root: Path, *, n_events: int = 4000, beta: float = 1.2, null_scenario: int | None = None,
                          row_group_size: int = 1000, seed: int = 0) -> Path:
    """Events of ``make_dataset`` shown in slots 0..4 of their request (``request_id = row // 5``); each click is
    redrawn with the logit lowered by ``beta * log2(1 + position)`` (the simulator's form). Events of scenario
    index ``null_scenario`` (if given) get a null position and keep their clicks."""
    make_dataset(root, n_events=n_events, row_group_size=row_group_size, seed=seed)
    ev = pq.read_table(root / "events.parquet")
    p = pq.read_table(root / "truth.parquet")["p_click"].to_numpy().astype(np.float64)
    pos = (np.arange(n_events) % 5).astype(np.int16)
    scen = ev["scenario_id"].to_numpy() - 10
    keep = scen == null_scenario if null_scenario is not None else np.zeros(n_events, bool)
    logit = np.log(p / (1 - p)) - beta * np.log2(1.0 + pos)
    p_pos = np.where(keep, p, 1 / (1 + np.exp(-logit)))
    rng = np.random.default_rng(seed + 17)
    click = (rng.random(n_events) < p_pos).astype(np.int8)
    conv = (click & (rng.random(n_events) < 0.3)).astype(np.int8)
    ev = ev.set_column(ev.schema.get_field_index("click"), "click", pa.array(click))
    ev = ev.set_column(ev.schema.get_field_index("conversion"), "conversion", pa.array(conv))
    ev = ev.append_column("position", pa.array(pos, pa.int16(), mask=keep))
    pq.write_table(ev, root / "events.parquet", row_group_size=row_group_size)
    pq.write_table(pa.table({"event_id": ev["event_id"], "p_click": pa.array(p_pos.astype(np.float32))}),
                   root / "truth.parquet")
    return root
