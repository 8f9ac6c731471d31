"""Assign each event to a split (background / train / valid / test), vectorised and streamable.

- ``random``: a seeded 64-bit hash of ``event_id`` mapped to [0, 1) and cut by the ratios. Each row's split
  depends only on its id and the seed, so it can be computed one row group at a time; statistically it is a
  seeded random permutation (Scenario-Wise Rec's 8:1:1).
- ``time``: consecutive windows over [min ts, max ts + 1) in the given proportions (SRJGraph's 14/7/1/2 days).
- ``column``: the events' own ``split`` column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc

from unisr.data.reader import iter_row_groups
from unisr.data.schema import SPLITS, ColumnSplit, RandomSplit, SplitRule, TimeSplit

SPLIT_CODES = {name: i for i, name in enumerate(SPLITS)}  # background 0, train 1, valid 2, test 3


def splitmix64(x: np.ndarray, seed: int) -> np.ndarray:
    """SplitMix64 finaliser: a fast, well-mixed 64-bit hash of int64 keys (vectorised)."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64((0x9E3779B97F4A7C15 * (seed + 1)) & 0xFFFFFFFFFFFFFFFF)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def hash_uniform(x: np.ndarray, seed: int) -> np.ndarray:
    """Map int64 keys to uniform floats in [0, 1), deterministically for a seed."""
    return (splitmix64(x, seed) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


@dataclass(frozen=True)
class SplitAssigner:
    """Computes split codes (see ``SPLIT_CODES``) for chunks of events."""

    rule: SplitRule
    ts_bounds: tuple[int, int] | None = None  # needed for time splits

    @classmethod
    def for_dataset(cls, root, rule: SplitRule) -> SplitAssigner:
        if isinstance(rule, TimeSplit):
            lo, hi = None, None
            for _, _, t in iter_row_groups(root, "events", ["ts"]):
                mm = pc.min_max(t["ts"])
                a, b = mm["min"].as_py(), mm["max"].as_py()
                lo = a if lo is None else min(lo, a)
                hi = b if hi is None else max(hi, b)
            return cls(rule, (int(lo), int(hi) + 1))
        return cls(rule)

    def boundaries(self) -> list[tuple[str, int, int]]:
        """Time windows as (split, start_ts, end_ts) for a time split."""
        assert isinstance(self.rule, TimeSplit) and self.ts_bounds is not None
        lo, hi = self.ts_bounds
        names = [s for s in SPLITS if s in self.rule.proportions]
        w = np.array([self.rule.proportions[s] for s in names], dtype=np.float64)
        cuts = lo + np.round(np.concatenate([[0.0], np.cumsum(w) / w.sum()]) * (hi - lo)).astype(np.int64)
        return [(n, int(cuts[i]), int(cuts[i + 1])) for i, n in enumerate(names)]

    @property
    def key_column(self) -> str | None:
        """The event column a random split hashes (besides ``event_id``/``ts``), if any."""
        if isinstance(self.rule, RandomSplit) and self.rule.key != "event_id":
            return self.rule.key
        return None

    def assign(self, event_id: np.ndarray, ts: np.ndarray, split_col: np.ndarray | None = None,
               key: np.ndarray | None = None) -> np.ndarray:
        """Split codes; ``key`` = the values of ``key_column`` for random splits keyed by another column."""
        rule = self.rule
        if isinstance(rule, RandomSplit):
            if rule.key != "event_id" and key is None:
                raise ValueError(f"random split keyed by {rule.key!r} but the events have no such column")
            u = hash_uniform(event_id if rule.key == "event_id" else key, rule.seed)
            c = np.cumsum(rule.ratios)
            return (1 + np.searchsorted(c[:-1], u, side="right")).astype(np.int8)
        if isinstance(rule, TimeSplit):
            out = np.full(len(ts), -1, dtype=np.int8)
            for name, a, b in self.boundaries():
                out[(ts >= a) & (ts < b)] = SPLIT_CODES[name]
            return out
        if isinstance(rule, ColumnSplit):
            if split_col is None:
                raise ValueError("split rule 'column' but events have no 'split' column")
            out = np.full(len(split_col), -1, dtype=np.int8)
            for name, code in SPLIT_CODES.items():
                out[split_col == name] = code
            return out
        raise TypeError(f"unknown split rule {rule!r}")
