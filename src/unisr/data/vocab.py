"""Value encoders: vocabularies with an out-of-vocabulary bucket (optionally hashed), dense transforms and
padded + masked sequences; Arrow columns to numpy.

Shapes:
    Vocabulary.lookup(raw [N]) -> [N] int64 (0 = OOV); DenseTransform(x [N]) -> [N] float32;
    pad_lists(list column of N rows, L) -> ids [N, L] int64, mask [N, L] bool
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from unisr.data.split import splitmix64

OOV = 0


# --------------------------------------------------------------------------------------------- vocabulary
@dataclass
class Vocabulary:
    """Raw values -> indices 1..n (0 = out of vocabulary). ``hash_buckets`` maps values to 1..buckets instead."""

    values: np.ndarray | None  # sorted unique raw values (int64 or unicode); None when hashed
    hash_buckets: int | None = None

    @classmethod
    def fit(cls, values: np.ndarray, hash_buckets: int | None = None) -> Vocabulary:
        if hash_buckets:
            return cls(None, hash_buckets)
        values = values[~_isnull(values)]
        return cls(np.unique(values))

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


# ---------------------------------------------------------------------------------------------- schema
