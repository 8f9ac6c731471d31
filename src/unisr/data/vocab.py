"""Value encoders: vocabularies with an out-of-vocabulary bucket (optionally hashed), dense transforms and
padded + masked sequences; Arrow columns to numpy.

Shapes:
    Vocabulary.lookup(raw [N]) -> [N] int64 (0 = OOV); DenseTransform(x [N]) -> [N] float32;
    pad_lists(list column of N rows, L) -> ids [N, L] int64, mask [N, L] bool;
    training_events(...) -> raw user ids [E], raw item ids [E] of the training split's E events
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unisr.data.reader import iter_row_groups
from unisr.data.schema import DatasetSpec
from unisr.data.split import SPLIT_CODES, SplitAssigner, splitmix64

OOV = 0
DAY_S = 86_400  # events.ts and items.created_ts are unix seconds (CONTRACT.md)


# --------------------------------------------------------------------------------------------- vocabulary
@dataclass
class Vocabulary:
    """Raw values -> indices 1..n (0 = out of vocabulary). ``hash_buckets`` maps values to 1..buckets instead."""

    values: np.ndarray | None  # sorted unique raw values (int64 or unicode); None when hashed
    hash_buckets: int | None = None

    @classmethod
    def fit(cls, values: np.ndarray, hash_buckets: int | None = None, min_count: int = 1) -> Vocabulary:
        """The distinct non-null ``values`` occurring at least ``min_count`` times (rarer ones -> OOV)."""
        if hash_buckets:
            return cls(None, hash_buckets)
        values = values[~_isnull(values)]
        if min_count <= 1:
            return cls(np.unique(values))
        uniq, counts = np.unique(values, return_counts=True)
        return cls(uniq[counts >= min_count])

    @property
    def size(self) -> int:
        """Number of indices including the OOV bucket."""
        return (self.hash_buckets if self.hash_buckets else len(self.values)) + 1

    def lookup(self, raw: np.ndarray) -> np.ndarray:
        if self.hash_buckets:
            keys = raw.astype(np.int64) if raw.dtype.kind in "iu" else _string_keys(raw)
            return (splitmix64(keys, 7) % np.uint64(self.hash_buckets)).astype(np.int64) + 1
        vals = self.values
        if len(vals) == 0:
            return np.zeros(len(raw), dtype=np.int64)
        if vals.dtype.kind != raw.dtype.kind:
            raw = raw.astype(vals.dtype) if vals.dtype.kind in "U" else raw
        pos = np.searchsorted(vals, raw)
        pos_c = np.minimum(pos, len(vals) - 1)
        hit = vals[pos_c] == raw
        return np.where(hit, pos_c + 1, OOV).astype(np.int64)


def _isnull(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "O":
        return np.array([v is None for v in values], dtype=bool)
    return np.zeros(len(values), dtype=bool)


def _string_keys(raw: np.ndarray) -> np.ndarray:
    """A stable 64-bit FNV-1a key per string, vectorised over rows (loops only over character positions)."""
    b = np.char.encode(raw.astype(str), "utf-8")
    width = max(b.dtype.itemsize, 1)
    mat = np.frombuffer(b.astype(f"S{width}").tobytes(), dtype=np.uint8).reshape(len(b), width)
    h = np.full(len(b), 1469598103934665603, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(width):
            c = mat[:, j].astype(np.uint64)
            h = np.where(c > 0, (h ^ c) * np.uint64(1099511628211), h)
    return h.view(np.int64)


def to_numpy(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A scalar Arrow column as numpy: ints/floats natively, strings as unicode, nulls as sentinel."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        return np.asarray(col.cast(pa.string()).fill_null("").to_numpy(zero_copy_only=False)).astype(str)
    if pa.types.is_boolean(t):
        return np.asarray(col.fill_null(False).to_numpy(zero_copy_only=False)).astype(np.int64)
    if pa.types.is_integer(t):
        return np.array(col.cast(pa.int64()).fill_null(-(2**62)).to_numpy(zero_copy_only=False))
    return np.asarray(col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False))


# ------------------------------------------------------------------------------------------------- dense
@dataclass
class DenseTransform:
    """``minmax``: (x - lo) / (hi - lo); ``log``: log1p(max(x, 0)) then minmax; missing -> 0."""

    kind: str
    lo: float
    hi: float

    @classmethod
    def fit(cls, x: np.ndarray, kind: str) -> DenseTransform:
        x = x.astype(np.float64)
        if kind == "log":
            x = np.log1p(np.maximum(x, 0))
        finite = x[np.isfinite(x)]
        lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        return cls(kind, lo, hi)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        if self.kind == "log":
            x = np.log1p(np.maximum(x, 0))
        if self.kind in ("minmax", "log"):
            x = (x - self.lo) / max(self.hi - self.lo, 1e-12)
        return np.nan_to_num(x, nan=0.0).astype(np.float32)


# ------------------------------------------------------------------------------------------- sequences
def pad_lists(col: pa.ChunkedArray | pa.Array, max_len: int, offset: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A list<int> column -> (ids [N, max_len] int64, mask [N, max_len] bool), first ``max_len`` elements.

    Values are shifted by ``offset`` so that 0 stays the padding id. Nulls are empty lists.
    """
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    col = col.fill_null(pa.scalar([], col.type)) if col.null_count else col
    offsets = np.asarray(col.offsets.to_numpy(), dtype=np.int64)
    flat = np.asarray(col.flatten().to_numpy(zero_copy_only=False), dtype=np.int64)
    n = len(col)
    lens = np.minimum(np.diff(offsets), max_len)
    mask = np.arange(max_len)[None, :] < lens[:, None]
    src = offsets[:-1, None] + np.arange(max_len)[None, :]
    ids = np.zeros((n, max_len), dtype=np.int64)
    ids[mask] = flat[src[mask]] + offset
    return ids, mask


def fixed_vectors(col: pa.ChunkedArray | pa.Array, what: str, *, strict: bool = True) -> np.ndarray | None:
    """A list<float> column of one length k -> [N, k] float32 (null / empty rows -> zeros); None if every row
    is empty. A row of another length is an error naming ``what`` and the row (``strict``), else zeros.

    Shapes:
        col [N] list<float> -> [N, k] float32
    """
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    lens = pc.list_value_length(col).fill_null(0).to_numpy()
    k = int(lens.max(initial=0))
    if not k:
        return None
    bad = np.flatnonzero((lens != k) & (lens != 0))
    if strict and len(bad):
        raise ValueError(f"{what}: row {int(bad[0])} has {int(lens[bad[0]])} values, expected {k} (a fixed-size "
                         f"vector per row, or null)")
    out = np.zeros((len(col), k), np.float32)
    ok = lens == k
    out[ok] = np.asarray(col.filter(pa.array(ok)).flatten().to_numpy(zero_copy_only=False), np.float32).reshape(-1, k)
    return out


# -------------------------------------------------------------------------------------- training window
def item_age_days(ts: np.ndarray, created: np.ndarray) -> np.ndarray:
    """Days from an item's creation to an event (0 for events before it; NaN where the creation is unknown).

    Shapes:
        ts [N] int64 unix s, created [N] float64 unix s -> [N] float64
    """
    return np.maximum(ts.astype(np.float64) - created, 0.0) / DAY_S


def training_events(root: str | Path, spec: DatasetSpec, splits: tuple[str, ...],
                    item_ids: np.ndarray, item_created: np.ndarray | None
                    ) -> tuple[np.ndarray, np.ndarray, DenseTransform | None]:
    """The raw user and item ids of the events of ``splits`` (one entry per event) and, with
    ``item_created`` ([n_items + 1] by entity index), the item-age transform fitted on those events."""
    assigner = SplitAssigner.for_dataset(root, spec.split)
    codes = [SPLIT_CODES[s] for s in splits]
    kc = assigner.key_column
    users, items = [], []
    lo, hi = np.inf, -np.inf
    cols = ["event_id", "ts", "user_id", "item_id", "split"] + ([kc] if kc else [])
    for _, _, t in iter_row_groups(root, "events", cols):
        split_col = to_numpy(t["split"]) if "split" in t.column_names else None
        key = to_numpy(t[kc]) if kc is not None and kc in t.column_names else None
        ts = t["ts"].to_numpy().astype(np.int64)
        keep = np.isin(assigner.assign(t["event_id"].to_numpy().astype(np.int64), ts, split_col, key), codes)
        u, i = to_numpy(t["user_id"])[keep], to_numpy(t["item_id"])[keep]
        users.append(u)
        items.append(i)
        if item_created is not None and keep.any():
            age = np.log1p(item_age_days(ts[keep], item_created[Vocabulary(item_ids).lookup(i)]))
            age = age[np.isfinite(age)]
            if len(age):
                lo, hi = min(lo, float(age.min())), max(hi, float(age.max()))
    age_tf = None
    if item_created is not None:
        age_tf = DenseTransform("log", lo, hi) if np.isfinite(lo) else DenseTransform("log", 0.0, 1.0)
    return _concat(users), _concat(items), age_tf


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def training_window(root: str | Path, spec: DatasetSpec, items: pa.Table, item_ids: np.ndarray, id_vocab: str,
                    id_min_count: int, item_age: bool, train_splits: tuple[str, ...]
                    ) -> tuple[np.ndarray | None, DenseTransform | None, dict[str, Vocabulary]]:
    """What ``FeatureEncoder.fit`` takes from the training split's events: the items' creation times ([n_items + 1] float64,
    NaN row 0 and nulls) with the ITEM_AGE transform, and the user_id / item_id vocabularies of ``"train"``."""
    created = None
    if item_age and "created_ts" in items.column_names:
        order = np.argsort(to_numpy(items["item_id"]), kind="stable")
        raw_c = to_numpy(items["created_ts"])[order].astype(np.float64)
        created = np.concatenate([[np.nan], np.where(raw_c < -(2**61), np.nan, raw_c)])  # nulls -> NaN
    if id_vocab != "train" and created is None:
        return None, None, {}
    ev_users, ev_items, age_tf = training_events(root, spec, train_splits, item_ids, created)
    if id_vocab != "train":
        return created, age_tf, {}
    return created, age_tf, {"user_id": Vocabulary.fit(ev_users, min_count=id_min_count),
                             "item_id": Vocabulary.fit(ev_items, min_count=id_min_count)}
