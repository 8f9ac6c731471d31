"""History counters: how often an item (an item in a scenario, a user, a user with an item) was shown and
clicked in the logs *before* each event, as event-level dense inputs (input version 3, ``data.inputs.counters``).

Industrial rankers carry such statistics (impressions, clicks and a smoothed CTR per item, per item x
scenario, per user x item) beside the ids: an id embedding learns an item's appeal only from the training
rows that contain it, while the counters summarise every earlier day of the logs, the background window
included. On the recorded small data a GBDT loses 0.03 (search_text), 0.07 (feed_main) AUC without them
(docs/models/inputs.md).

No label leaks. Only events of the *history* splits (background + train) are counted, and an event on day
``d`` sees the counts of the days ``[d - window, min(d, end))`` (``end`` = the day after the last history
day): never its own day, never a valid / test label. Valid and test rows see the window ending at the history's
end, like a production counter table frozen at deployment.

Storage: per key set, the sorted unique entity keys ``pairs`` and, for each (key, day) with events, a
composite ``rank << 16 | day`` (``rank`` = the key's position in ``pairs``) with the running click and
impression sums; a lookup is two ``searchsorted`` calls per bound, vectorised over the chunk.

Features per key set ``k`` (``FEATURES``): ``event.count.k.views`` = log1p(impressions) / log1p(the largest
count of the key set), ``event.count.k.clicks`` the same for clicks, and ``event.count.k.lift`` =
log((clicks + A p) / (impressions + A) / p) with the history CTR ``p`` and ``A`` = ``SMOOTHING``
pseudo-impressions (0 for an unseen key).

Memory of the build: per key set, the (key, day) sums of each row group (20 bytes a row) in ``BUCKETS`` key
ranges, summed over the row groups one range at a time (so the aggregation's temporaries hold one range, not
the whole table); the running sums are uint32 while they fit (half of float64's bytes, the same differences);
the history's day range is kept as running bounds.

Shapes:
    CounterIndex.build(events) -> per key set: pairs [K], keys [R], clicks [R + 1], views [R + 1]
    CounterIndex.features(user [N], item [N], scenario [N], ts [N]) -> [N, 3 x key sets] float32
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from unisr.data.reader import iter_row_groups, table_columns
from unisr.data.split import SPLIT_CODES, SplitAssigner
from unisr.data.vocab import to_numpy

DAY = 86400
SMOOTHING = 20.0  # pseudo-impressions of the smoothed CTR (the observable ceiling's prior, benchmarks/)
KEY_SETS = ("item", "item_scenario", "user", "user_item")  # what a counter can be keyed by
STATS = ("views", "clicks", "lift")
PREFIX = "event.count."
HISTORY_SPLITS = ("background", "train")  # the events that are counted
BUCKETS = 16  # key ranges of the build: the sums over row groups are formed one range at a time
DAY_BITS = 16  # days per key set: < 65,536 (179 years)


def feature_names(key_sets: list[str] | tuple[str, ...]) -> list[str]:
    """The dense field names of ``key_sets``, in the order ``CounterIndex.features`` writes them."""
    return [f"{PREFIX}{k}.{s}" for k in key_sets for s in STATS]


def _entity_key(name: str, user: np.ndarray, item: np.ndarray, scenario: np.ndarray, n_items: int,
                n_scen: int) -> np.ndarray:
    """One int64 per event for key set ``name`` (entity indices; 0 = unknown)."""
    if name == "item":
        return item.astype(np.int64)
    if name == "user":
        return user.astype(np.int64)
    if name == "item_scenario":
        return item.astype(np.int64) * (n_scen + 1) + (scenario.astype(np.int64) + 1)
    if name == "user_item":
        return user.astype(np.int64) * (n_items + 1) + item.astype(np.int64)
    raise ValueError(f"data.inputs.counters: unknown key set {name!r}; expected some of {KEY_SETS}")


def _key_space(name: str, n_users: int, n_items: int, n_scen: int) -> int:
    """One more than the largest ``_entity_key`` of key set ``name``; 0 when unknown (``n_users`` 0 for the user
    key sets): that key set's sums are then kept in one range."""
    if name == "item":
        return n_items + 1
    if name == "item_scenario":
        return (n_items + 1) * (n_scen + 1)
    if not n_users:
        return 0
    return n_users + 1 if name == "user" else (n_users + 1) * (n_items + 1)


@dataclass
class Counter:
    """The running sums of one key set (see the module docstring)."""

    pairs: np.ndarray  # [K] int64 sorted unique entity keys
    keys: np.ndarray  # [R] int64 sorted rank << DAY_BITS | day
    clicks: np.ndarray  # [R + 1] running sums, 0 first (uint32; float64 past 2**32 and in older encoders)
    views: np.ndarray  # [R + 1]

    def window(self, key: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(clicks, views) of ``key`` [N] over the days ``[lo, hi)`` (day offsets; ``hi <= lo`` gives 0)."""
        r = np.searchsorted(self.pairs, key)
        found = r < len(self.pairs)
        found[found] = self.pairs[r[found]] == key[found]
        base = r.astype(np.int64) << DAY_BITS
        lo, hi = np.clip(lo, 0, (1 << DAY_BITS) - 1), np.clip(hi, 0, (1 << DAY_BITS) - 1)
        a = np.searchsorted(self.keys, base | lo)
        b = np.searchsorted(self.keys, base | np.maximum(hi, lo))
        c, v = self.clicks[b] - self.clicks[a], self.views[b] - self.views[a]
        return np.where(found, c, 0.0), np.where(found, v, 0.0)


@dataclass
class CounterIndex:
    """Counters of every key set over the history splits, and the feature transform (module docstring)."""

    key_sets: list[str]
    counters: dict[str, Counter]
    day0: int  # first history day (unix day number)
    end: int  # day offset after the last history day
    window: int  # days
    prior: float  # history CTR
    scale: dict[str, float] = field(default_factory=dict)  # "<key set>.views" / ".clicks" -> log1p(max)
    n_items: int = 0
    n_scenarios: int = 0

    @classmethod
    def build(cls, root: str | Path, assigner: SplitAssigner, key_sets: list[str], window: int,
              user_index: Callable, item_index: Callable, scenario_index: Callable, n_items: int,
              n_scenarios: int, n_users: int = 0) -> CounterIndex:
        """Count the events of ``root`` in the history splits (``HISTORY_SPLITS`` by ``assigner``), one row group
        at a time; ``*_index`` map raw ids to entity indices (the encoder's). ``n_users`` (0 = unknown) bounds the
        user keys: the row groups' sums are then kept in ``BUCKETS`` key ranges, summed one range at a time."""
        if window < 1:
            raise ValueError(f"data.inputs.counter_days: {window} (expected >= 1)")
        for k in key_sets:
            _entity_key(k, np.zeros(0), np.zeros(0), np.zeros(0), n_items, n_scenarios)  # checks the name
        space = {k: _key_space(k, n_users, n_items, n_scenarios) for k in key_sets}
        parts: dict[str, list[list[pl.DataFrame]]] = {k: [[] for _ in range(BUCKETS if space[k] else 1)]
                                                      for k in key_sets}
        day_lo, day_hi = None, None  # the history's first and last day (running bounds, no per-event array)
        clicks_total, views_total = 0.0, 0
        cols = set(table_columns(root, "events"))
        extra = [c for c in ("split", assigner.key_column) if c is not None and c in cols]
        codes = [SPLIT_CODES[s] for s in HISTORY_SPLITS]
        for _, _, t in iter_row_groups(root, "events", ["event_id", "ts", "user_id", "item_id", "scenario_id",
                                                        "click", *extra]):
            eid, ts = t["event_id"].to_numpy().astype(np.int64), t["ts"].to_numpy().astype(np.int64)
            code = assigner.assign(eid, ts, to_numpy(t["split"]) if "split" in extra else None,
                                   to_numpy(t[assigner.key_column]) if assigner.key_column in extra else None)
            keep = np.isin(code, codes)
            if not keep.any():
                continue
            day = ts[keep] // DAY
            clk = np.nan_to_num(t["click"].to_numpy(zero_copy_only=False)[keep].astype(np.float64))
            u = user_index(t["user_id"].to_numpy()[keep])
            i = item_index(t["item_id"].to_numpy()[keep])
            s = scenario_index(t["scenario_id"].to_numpy()[keep].astype(np.int64))
            day_lo = int(day.min()) if day_lo is None else min(day_lo, int(day.min()))
            day_hi = int(day.max()) if day_hi is None else max(day_hi, int(day.max()))
            clicks_total += float(clk.sum())
            views_total += len(clk)
            # the partial sums of a row group in compact types (20 bytes a row; clicks and impressions are whole
            # numbers, exact in float32 / uint32 per (key, day) of one row group), summed in float64 below
            frame = pl.DataFrame({"day": day.astype(np.int32), "c": clk.astype(np.float32)})
            for k in key_sets:
                key = _entity_key(k, u, i, s, n_items, n_scenarios)
                part = frame.with_columns(key=pl.Series(key)).group_by("key", "day").agg(
                    pl.col("c").sum(), pl.len().alias("n"))
                if space[k]:  # into the key ranges (range b holds keys [b, b + 1) * space / BUCKETS)
                    b = np.minimum(part["key"].to_numpy() // -(-space[k] // BUCKETS), BUCKETS - 1)
                    for j, piece in part.with_columns(b=pl.Series(b)).partition_by("b", as_dict=True).items():
                        parts[k][int(j[0])].append(piece.drop("b"))
                else:
                    parts[k][0].append(part)
        if day_lo is None:
            raise ValueError("data.inputs.counters: no event of the history splits (background, train) to count")
        day0, end = day_lo, day_hi + 1
        if end - day0 >= 1 << DAY_BITS:
            raise ValueError(f"data.inputs.counters: the history spans {end - day0} days (at most {1 << DAY_BITS})")
        prior = clicks_total / max(views_total, 1)
        counters, scale = {}, {}
        for k in key_sets:
            # one key range at a time (ranges in key order): sorted unique keys, their (key, day) rows, the sums
            out: dict[str, list[np.ndarray]] = {"pairs": [], "keys": [], "clicks": [], "views": []}
            n_pairs, carry_c, carry_n, max_c, max_n = 0, 0.0, 0.0, 0.0, 0.0
            ranges = parts.pop(k)
            while ranges:
                pieces = ranges.pop(0)
                if not pieces:
                    continue
                df = pl.concat(pieces).group_by("key", "day").agg(
                    pl.col("c").cast(pl.Float64).sum(), pl.col("n").cast(pl.Float64).sum()).sort("key", "day")
                del pieces
                key = df["key"].to_numpy()
                new = np.r_[True, key[1:] != key[:-1]]  # sorted: the key changes give the unique keys and ranks
                starts = np.flatnonzero(new)
                out["pairs"].append(key[starts])
                rank = np.cumsum(new) - 1 + n_pairs
                n_pairs += len(starts)
                del key, new
                out["keys"].append((rank.astype(np.int64) << DAY_BITS) | (df["day"].to_numpy().astype(np.int64)
                                                                           - day0))
                del rank
                c, n = df["c"].to_numpy(), df["n"].to_numpy()
                del df
                cs, ns = np.cumsum(c) + carry_c, np.cumsum(n) + carry_n
                carry_c, carry_n = float(cs[-1]), float(ns[-1])
                out["clicks"].append(cs.astype(np.uint32) if views_total < 2 ** 32 else cs)
                out["views"].append(ns.astype(np.uint32) if views_total < 2 ** 32 else ns)
                # per key totals (whole numbers in float64: exact in any order)
                max_n = max(max_n, float(np.add.reduceat(n, starts).max()))
                max_c = max(max_c, float(np.add.reduceat(c, starts).max()))
                del c, n, cs, ns, starts
            zero = np.zeros(1, np.uint32 if views_total < 2 ** 32 else np.float64)
            arrays = {}
            for name in ("pairs", "keys", "clicks", "views"):  # one array at a time: its pieces freed as it forms
                head = [zero] if name in ("clicks", "views") else []
                arrays[name] = np.concatenate(head + out.pop(name)) if n_pairs else np.zeros(len(head), np.int64)
            counters[k] = Counter(arrays["pairs"], arrays["keys"], arrays["clicks"], arrays["views"])
            scale[f"{k}.views"] = float(np.log1p(max_n))
            scale[f"{k}.clicks"] = max(float(np.log1p(max_c)), 1e-6)
        return cls(list(key_sets), counters, day0, end - day0, int(window), float(prior), scale, n_items,
                   n_scenarios)

    @property
    def names(self) -> list[str]:
        return feature_names(self.key_sets)

    def features(self, user: np.ndarray, item: np.ndarray, scenario: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """[N, 3 x key sets] float32: the counters of the ``window`` days before each event's day (module
        docstring), in ``names`` order."""
        d = np.asarray(ts, np.int64) // DAY - self.day0
        hi = np.minimum(d, self.end)
        lo = hi - self.window
        out = []
        p = max(self.prior, 1e-9)
        for k in self.key_sets:
            key = _entity_key(k, user, item, scenario, self.n_items, self.n_scenarios)
            c, v = self.counters[k].window(key, lo, hi)
            lift = np.log((c + SMOOTHING * p) / (v + SMOOTHING) / p)
            out += [np.log1p(v) / self.scale[f"{k}.views"], np.log1p(c) / self.scale[f"{k}.clicks"], lift]
        return np.stack(out, 1).astype(np.float32) if out else np.zeros((len(d), 0), np.float32)

    # ------------------------------------------------------------- save / load
    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for k, c in self.counters.items():
            for part in ("pairs", "keys", "clicks", "views"):
                out[f"counter/{k}/{part}"] = getattr(c, part)
        return out

    def meta(self) -> dict:
        return {"key_sets": self.key_sets, "day0": self.day0, "end": self.end, "window": self.window,
                "prior": self.prior, "scale": self.scale, "n_items": self.n_items, "n_scenarios": self.n_scenarios}

    @classmethod
    def from_saved(cls, meta: dict, z) -> CounterIndex:
        counters = {k: Counter(*(z[f"counter/{k}/{p}"] for p in ("pairs", "keys", "clicks", "views")))
                    for k in meta["key_sets"]}
        return cls(list(meta["key_sets"]), counters, int(meta["day0"]), int(meta["end"]), int(meta["window"]),
                   float(meta["prior"]), dict(meta["scale"]), int(meta["n_items"]), int(meta["n_scenarios"]))
