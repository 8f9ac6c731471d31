"""The data fingerprint of a canonical dataset: its content, column by column (not the Parquet file bytes).

Shapes:
    (no tensors) dataset folder -> 16 hex digits
"""

from __future__ import annotations

import functools
import json
from pathlib import Path


def _hash_array(h, arr) -> None:
    """Feed one Arrow array's values (not its encoding) into ``h``: the same column read from files written
    by different Parquet writers (other compression, page or row-group sizes) hashes the same."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    h.update(str(arr.type).encode() + np.asarray(arr.is_null()).tobytes())
    t = arr.type
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        h.update(np.asarray(pc.list_value_length(arr).fill_null(0)).tobytes())
        _hash_array(h, pc.list_flatten(arr))
    elif pa.types.is_struct(t):
        for i in range(t.num_fields):
            _hash_array(h, arr.field(i))
    elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t):
        h.update("\0".join(map(str, arr.fill_null("").to_pylist())).encode())
    elif pa.types.is_dictionary(t):
        _hash_array(h, arr.dictionary_decode())
    else:
        fill = False if pa.types.is_boolean(t) else 0  # nulls are in the bitmap hashed above
        h.update(np.ascontiguousarray(arr.fill_null(fill).to_numpy(zero_copy_only=False)).tobytes())


def data_fingerprint(data: Path) -> str:
    """The identity of a canonical dataset's content: its ``dataset.yaml`` (parsed) and every column of every
    Parquet file, value by value. File bytes are not used: two machines with other Polars/Arrow versions write
    the same table to Parquet files of other sizes (seen: the same ``small`` simulation, 2026-12-02).

    Reading every column is slow on large data, so the result is kept per process for as long as no file of
    the folder changes (path, size and modification time of ``dataset.yaml`` and each Parquet file)."""
    data = Path(data).resolve()
    files = [data / "dataset.yaml"]
    for f in sorted(data.glob("*.parquet")):  # a table is a file or a folder of part files
        files += sorted(f.rglob("*")) if f.is_dir() else [f]
    stamp = tuple((str(f.relative_to(data)), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.exists())
    return _fingerprint(str(data), stamp)


@functools.lru_cache(maxsize=16)
def _fingerprint(data_dir: str, stamp: tuple) -> str:
    """sha256 over the parsed ``dataset.yaml`` and every column of every table, except ``derived``:
    the truth table's ``p_click_no_position`` is derived from ``p_click``, ``position`` and the config (the
    click logit without its position term), so it adds no identity, and skipping it keeps every fingerprint
    of data simulated before the column existed (``small`` seed 0: ``b475b4b1ebd2cc80``)."""
    import hashlib

    import pyarrow.parquet as pq
    import yaml

    derived = {("truth", "p_click_no_position")}  # (table file stem, column) left out of the identity
    data = Path(data_dir)
    meta = yaml.safe_load((data / "dataset.yaml").read_text())
    h = hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode())
    for f in sorted(data.glob("*.parquet")):
        table = pq.read_table(f)
        skip = [c for c in table.column_names if (f.name.split(".")[0], c) in derived]
        table = table.drop_columns(skip) if skip else table
        h.update(f"{f.name}:{table.num_rows}:{','.join(table.column_names)}".encode())
        for col in table.columns:
            _hash_array(h, col)
    return h.hexdigest()[:16]
