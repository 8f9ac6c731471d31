"""Tests of ``unisr.bench.fingerprint``: a dataset's identity is its content, not its Parquet bytes."""

from __future__ import annotations

from unisr.bench.fingerprint import data_fingerprint


def test_data_fingerprint_is_the_content_not_the_file_bytes(tmp_path):
    """Another writer (compression, row-group size) gives other file bytes but the same fingerprint; one
    changed value, a changed list element or a changed dataset.yaml gives another."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "dataset.yaml").write_text("name: a\n")
    table = pa.table({"user": pa.array([1, 2, None], pa.int64()), "query": ["x", "yz", None],
                      "terms": pa.array([[1, 2], [], None], pa.list_(pa.int32())),
                      "ts": pa.array([0.5, 1.5, 2.5]), "click": pa.array([True, None, False])})
    f = tmp_path / "events.parquet"
    pq.write_table(table, f, compression="zstd")
    a = data_fingerprint(tmp_path)
    size = f.stat().st_size
    pq.write_table(table, f, compression="none", row_group_size=1)
    assert f.stat().st_size != size and data_fingerprint(tmp_path) == a
    for col, arr in [("user", pa.array([1, 3, None], pa.int64())),
                     ("terms", pa.array([[1, 3], [], None], pa.list_(pa.int32()))),
                     ("query", pa.array(["x", "y", "z"])), ("click", pa.array([True, None, True]))]:
        pq.write_table(table.set_column(table.column_names.index(col), col, arr), f)
        assert data_fingerprint(tmp_path) != a, col
    pq.write_table(table, f)
    assert data_fingerprint(tmp_path) == a
    (tmp_path / "dataset.yaml").write_text("name: b\n")
    assert data_fingerprint(tmp_path) != a




def test_fingerprint_is_recomputed_when_a_file_changes(tmp_path):
    """The per-process cache never hides a changed dataset: a rewritten table gives a new fingerprint."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "dataset.yaml").write_text("name: x\n")
    pq.write_table(pa.table({"a": [1, 2]}), tmp_path / "events.parquet")
    first = data_fingerprint(tmp_path)
    assert data_fingerprint(tmp_path) == first
    pq.write_table(pa.table({"a": [1, 3, 4]}), tmp_path / "events.parquet")
    assert data_fingerprint(tmp_path) != first
