"""User behaviour history: the last L clicked items strictly before each event, padded and masked.

Built once from the click events (a streaming pass over the ``user_id, ts, item_id, click, scenario_id``
columns), stored as arrays sorted by (user, ts). Looking up a chunk of events is a vectorised
``searchsorted`` + gather: no per-user Python loops.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

from unisr.data.reader import iter_row_groups


@dataclass
class HistoryIndex:
    key: np.ndarray  # (user_index << 32) | ts, sorted
    item: np.ndarray  # item entity index of each click
    scenario: np.ndarray  # scenario index of each click

    @classmethod
    def build(cls, root: str | Path, user_index, item_index, scenario_index,
              max_ts: int | None = None) -> HistoryIndex:
        """``*_index`` are the encoder's raw -> entity-index functions; clicks at ``ts >= max_ts`` are left out."""
        keys, items, scen = [], [], []
        for _, _, t in iter_row_groups(root, "events", ["user_id", "ts", "item_id", "click", "scenario_id"]):
            m = pc.equal(t["click"], 1)
            if max_ts is not None:
                m = pc.and_(m, pc.less(t["ts"], max_ts))
            t = t.filter(m)
            if t.num_rows == 0:
                continue
            u = user_index(t["user_id"].to_numpy())
            ts = t["ts"].to_numpy().astype(np.int64)
            keys.append((u.astype(np.int64) << 32) | (ts & 0xFFFFFFFF))
            items.append(item_index(t["item_id"].to_numpy()))
            scen.append(scenario_index(t["scenario_id"].to_numpy().astype(np.int64)))
        if not keys:
            return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
        key = np.concatenate(keys)
        order = np.argsort(key, kind="stable")
        return cls(key[order], np.concatenate(items)[order], np.concatenate(scen)[order])

    def restrict(self, scenarios: set[int] | list[int]) -> HistoryIndex:
        """The clicks made in ``scenarios`` (scenario indices) only, e.g. a single-scenario model's history."""
        keep = np.isin(self.scenario, np.asarray(sorted(scenarios), np.int64))
        return HistoryIndex(self.key[keep], self.item[keep], self.scenario[keep])

    def lookup(self, user_idx: np.ndarray, ts: np.ndarray, max_len: int) -> tuple[np.ndarray, ...]:
        """(items [N, L], scenarios [N, L], mask [N, L]); most recent click last; 0 = padding."""
        n = len(user_idx)
        u = user_idx.astype(np.int64) << 32
        end = np.searchsorted(self.key, u | (ts.astype(np.int64) & 0xFFFFFFFF), side="left")
        start = np.searchsorted(self.key, u, side="left")
        length = np.minimum(end - start, max_len)
        # right-aligned: position j holds click end - L + j
        src = end[:, None] - max_len + np.arange(max_len)[None, :]
        mask = np.arange(max_len)[None, :] >= (max_len - length)[:, None]
        items = np.zeros((n, max_len), np.int64)
        scen = np.zeros((n, max_len), np.int64)
        if len(self.key):
            items[mask] = self.item[src[mask]]
            scen[mask] = self.scenario[src[mask]]
        return items, scen, mask
