"""Global labels (USR, Liu et al. SIGIR'24, eq. 9): did the user click / buy the item in ANY scenario?

For a window of events (the splits a loader reads, restricted to its scenarios), the global click label of a
(user, item) pair is 1 when the pair has a click in at least one of the scenarios, the global buy label is 1
when it has a click with a conversion (click-and-buy, the CTCVR event) in at least one of them. Every
impression of the pair in the window then carries these labels as ``global_click`` / ``global_buy``, next to
its own scenario's ``click`` / ``conversion``. A sample's own label is part of its pair's global label, so
``click <= global_click`` and ``click * conversion <= global_buy`` always hold.

Built with one streaming pass over the ``user_id, item_id, click, conversion`` columns (plus what the split
rule needs); stored as two sorted arrays of pair keys ``(user_index << 32) | item_index``; a chunk is labelled
with a vectorised ``searchsorted`` (no per-pair Python loops).

Shapes:
    lookup(user_index [N], item_index [N]) -> (global_click [N] float32, global_buy [N] float32)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unisr.data.features import to_numpy
from unisr.data.reader import iter_row_groups
from unisr.data.split import SplitAssigner


def pair_keys(user_index: np.ndarray, item_index: np.ndarray) -> np.ndarray:
    """One int64 key per (user, item) entity-index pair."""
    return (user_index.astype(np.int64) << 32) | (item_index.astype(np.int64) & 0xFFFFFFFF)


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def _union(parts: list[np.ndarray]) -> np.ndarray:
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


@dataclass
class GlobalLabelIndex:
    click_keys: np.ndarray  # sorted unique pair keys with a click in some scenario of the window
    buy_keys: np.ndarray  # sorted unique pair keys with a click + conversion in some scenario of the window

    @classmethod
    def from_arrays(cls, user_index: np.ndarray, item_index: np.ndarray, click: np.ndarray,
                    conversion: np.ndarray | None = None) -> GlobalLabelIndex:
        """From the events of the window (any scenario mix); ``conversion`` None = no buy labels (all 0)."""
        key = pair_keys(user_index, item_index)
        clicked = np.asarray(click) > 0
        bought = clicked & (np.asarray(conversion) > 0) if conversion is not None else np.zeros_like(clicked)
        return cls(np.unique(key[clicked]), np.unique(key[bought]))

    @classmethod
    def build(cls, root: str | Path, user_index: Callable[[np.ndarray], np.ndarray],
              item_index: Callable[[np.ndarray], np.ndarray], scenario_index: Callable[[np.ndarray], np.ndarray],
              assigner: SplitAssigner, splits: set[int], scenarios: set[int] | None = None) -> GlobalLabelIndex:
        """Stream ``root``'s events; keep those of split codes ``splits`` and scenario indices ``scenarios``
        (None = every scenario). ``*_index`` are the encoder's raw -> index functions."""
        cols = ["event_id", "ts", "user_id", "item_id", "scenario_id", "click", "conversion", "split"]
        if assigner.key_column is not None:
            cols.append(assigner.key_column)
        clicks, buys = [], []
        for _, _, t in iter_row_groups(root, "events", cols):
            split_col = to_numpy(t["split"]) if "split" in t.column_names else None
            kc = assigner.key_column
            key = to_numpy(t[kc]) if kc is not None and kc in t.column_names else None
            code = assigner.assign(t["event_id"].to_numpy().astype(np.int64), t["ts"].to_numpy().astype(np.int64),
                                   split_col, key)
            keep = np.isin(code, list(splits)) & (to_numpy(t["click"]) > 0)
            if scenarios is not None:
                keep &= np.isin(scenario_index(t["scenario_id"].to_numpy().astype(np.int64)), list(scenarios))
            if not keep.any():
                continue
            pk = pair_keys(user_index(t["user_id"].to_numpy()[keep]), item_index(t["item_id"].to_numpy()[keep]))
            clicks.append(pk)
            if "conversion" in t.column_names:
                buys.append(pk[to_numpy(t["conversion"])[keep] > 0])
        return cls(_union(clicks), _union(buys))

    def lookup(self, user_index: np.ndarray, item_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = pair_keys(user_index, item_index)
        return (_contains(self.click_keys, key).astype(np.float32),
                _contains(self.buy_keys, key).astype(np.float32))

    def attach(self, arrays: dict[str, np.ndarray]) -> None:
        """Add ``label/global_click`` and ``label/global_buy`` to a loader chunk's arrays (in place)."""
        gc, gb = self.lookup(arrays["user_index"], arrays["item_index"])
        arrays["label/global_click"], arrays["label/global_buy"] = gc, gb
