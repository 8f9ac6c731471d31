"""Tests of ``unisr.bench.suites``: the run matrix's record store (seeds that survive a lost run folder)."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from unisr.bench.suites import (
    RunSpec,
    SuiteError,
    check_same_test_labels,
    clearly_better,
    data_fingerprint,
    has_model,
    portable_sets,
    run_matrix,
)

FAST = ["train.epochs=1", "train.max_steps_per_epoch=3", "train.progress=false", "train.threads=1",
        "data.scenarios=[feed_main]"]


def test_record_keeps_runs_across_lost_run_folders(sim_dir, tmp_path):
    """A finished run is copied into the record with its key; a new out folder (another machine) reuses it
    without training, a changed override or seed does not match it."""
    record = tmp_path / "record"
    rows = [RunSpec("dnn", "dnn")]
    first = run_matrix(rows, sim_dir, tmp_path / "out1", 1, FAST, Console(quiet=True), record=record)
    rec = record / "dnn" / "seed0"
    assert sorted(p.name for p in rec.iterdir()) == ["config.yaml", "metrics.json", "record.json"]
    key = json.loads((rec / "record.json").read_text())
    assert key == {"model": "dnn", "sets": FAST, "seed": 0, "data": data_fingerprint(sim_dir)}
    assert has_model(first[0]["run_dir"]) and not has_model(rec)

    # out2 is empty: the recorded seed 0 is read back, nothing is trained (no run folder appears; the out
    # folder itself is made, for the suite's report and figures)
    again = run_matrix(rows, sim_dir, tmp_path / "out2", 1, FAST, Console(quiet=True), record=record)
    assert again[0]["run_dir"] == str(rec) and not (tmp_path / "out2" / "runs").exists()
    assert (tmp_path / "out2").is_dir()
    assert again[0]["overall"] == first[0]["overall"]
    # a different override is a different run: not in the record, so left out when not training
    other = run_matrix(rows, sim_dir, tmp_path / "out3", 2, [*FAST, "train.lr=0.01"], Console(quiet=True),
                       train_missing=False, record=record)
    assert other == []
    # seed 1 is not recorded: only seed 0 comes back
    two = run_matrix(rows, sim_dir, tmp_path / "out4", 2, FAST, Console(quiet=True), train_missing=False,
                     record=record)
    assert [r["run_seed"] for r in two] == [0]


def test_a_run_folder_trained_otherwise_is_not_read_back(sim_dir, tmp_path):
    """Resuming a suite in an out folder whose run was trained with another override (here another monitor, as
    the srjgraph suite's joint rows before 2026-12-03 evening) is an error naming the folder and the key, not
    that run's metrics passed off as this row's."""
    rows = [RunSpec("dnn", "dnn")]
    out = tmp_path / "out"
    run_matrix(rows, sim_dir, out, 1, FAST, Console(quiet=True))
    again = run_matrix(rows, sim_dir, out, 1, FAST, Console(quiet=True), train_missing=False)
    assert len(again) == 1  # same overrides: read back
    with pytest.raises(SuiteError, match=r"seed0 was trained with another config.*train\.monitor: run 'auc'"):
        run_matrix(rows, sim_dir, out, 1, [*FAST, "train.monitor=scenarios.feed_main.auc"], Console(quiet=True),
                   train_missing=False)


def test_record_key_ignores_the_order_of_overrides(sim_dir, tmp_path):
    """The same overrides in another order (or a key given twice, the last winning) are the same run."""
    record = tmp_path / "record"
    rows = [RunSpec("dnn", "dnn")]
    run_matrix(rows, sim_dir, tmp_path / "out1", 1, FAST, Console(quiet=True), record=record)
    shuffled = [*FAST[::-1], "train.epochs=3", "train.epochs=1"]
    got = run_matrix(rows, sim_dir, tmp_path / "out2", 1, shuffled, Console(quiet=True), train_missing=False,
                     record=record)
    assert len(got) == 1
    other = run_matrix(rows, sim_dir, tmp_path / "out3", 1, [*FAST, "train.epochs=3"], Console(quiet=True),
                       train_missing=False, record=record)
    assert other == []


def test_seeds_only_trains_those_seeds(sim_dir, tmp_path):
    """``seeds_only=[1]`` of 2 seeds trains seed 1 alone (another machine takes seed 0); a seed outside the
    range is an error."""
    rows = [RunSpec("dnn", "dnn")]
    got = run_matrix(rows, sim_dir, tmp_path / "out", 2, FAST, Console(quiet=True), seeds_only=[1])
    assert [r["run_seed"] for r in got] == [1]
    assert not (tmp_path / "out" / "runs" / "dnn" / "seed0").exists()
    with pytest.raises(SuiteError, match="seeds_only"):
        run_matrix(rows, sim_dir, tmp_path / "out", 2, FAST, Console(quiet=True), seeds_only=[2])


def test_rows_only_trains_those_rows(sim_dir, tmp_path):
    """``rows_only`` of two rows trains that row alone (another job takes the other); a name that is not a row
    is an error naming the rows."""
    rows = [RunSpec("dnn", "dnn"), RunSpec("dnn wide", "dnn", ("model.hidden=[64]",))]
    got = run_matrix(rows, sim_dir, tmp_path / "out", 1, FAST, Console(quiet=True), rows_only=["dnn wide"])
    assert [r["run_name"] for r in got] == ["dnn wide"]
    assert not (tmp_path / "out" / "runs" / "dnn").exists()
    with pytest.raises(SuiteError, match=r"rows_only: \['dnn narrow'\].*its rows: dnn, dnn wide"):
        run_matrix(rows, sim_dir, tmp_path / "out", 1, FAST, Console(quiet=True), rows_only=["dnn narrow"])


def test_a_record_from_other_labels_is_refused(sim_dir, tmp_path):
    """Two recorded seeds; one record's test labels are changed (as a record made on another simulation would
    be): the report refuses to mix them and names that record."""
    record = tmp_path / "record"
    rows = [RunSpec("dnn", "dnn")]
    runs = run_matrix(rows, sim_dir, tmp_path / "out1", 2, FAST, Console(quiet=True), record=record)
    assert len(runs) == 2  # same data: the check passes
    f = record / "dnn" / "seed1" / "metrics.json"
    m = json.loads(f.read_text())
    m["scenarios"]["feed_main"]["positives"] += 11
    f.write_text(json.dumps(m))
    with pytest.raises(SuiteError, match=r"feed_main.*seed1"):
        run_matrix(rows, sim_dir, tmp_path / "out2", 2, FAST, Console(quiet=True), train_missing=False,
                   record=record)


def test_a_record_on_other_data_is_named_and_not_reused(sim_dir, tmp_path):
    """A record whose key holds another data fingerprint (the same simulation on another CPU's numpy build) is
    not read back; the run matrix says so, naming both fingerprints."""
    record = tmp_path / "record"
    rows = [RunSpec("dnn", "dnn")]
    run_matrix(rows, sim_dir, tmp_path / "out1", 1, FAST, Console(quiet=True), record=record)
    f = record / "dnn" / "seed0" / "record.json"
    f.write_text(json.dumps({**json.loads(f.read_text()), "data": "0123456789abcdef"}))
    console = Console(record=True, width=400)
    got = run_matrix(rows, sim_dir, tmp_path / "out2", 1, FAST, console, train_missing=False, record=record)
    assert got == []
    text = console.export_text()
    assert "0123456789abcdef" in text and data_fingerprint(sim_dir) in text and "SIMULATOR.md" in text


def test_record_key_does_not_hold_the_out_folder(sim_dir, tmp_path):
    """A suite's own graph folder (<out>/graph) enters the key as a placeholder: another out folder reuses it."""
    record = tmp_path / "record"
    rows = [RunSpec("dnn", "dnn")]
    out1, out2 = tmp_path / "a", tmp_path / "b"
    run_matrix(rows, sim_dir, out1, 1, [*FAST, f"data.graph_dir={out1 / 'graph'}"], Console(quiet=True),
               record=record)
    key = json.loads((record / "dnn" / "seed0" / "record.json").read_text())
    assert "data.graph_dir=<out>/graph" in key["sets"] and str(out1) not in json.dumps(key)
    again = run_matrix(rows, sim_dir, out2, 1, [*FAST, f"data.graph_dir={out2 / 'graph'}"], Console(quiet=True),
                       train_missing=False, record=record)
    assert len(again) == 1 and again[0]["run_dir"] == str(record / "dnn" / "seed0")
    # a graph folder of the user's own is part of the key as given
    assert portable_sets(["data.graph_dir=/data/g"], out1) == ["data.graph_dir=/data/g"]


def test_check_same_test_labels_names_the_minority():
    def run(d, n, pos):
        return {"run_dir": d, "scenarios": {"s": {"n": n, "positives": pos}, "t": {"auc": 0.5}}}
    check_same_test_labels([run("a", 10, 2), run("b", 10, 2)])
    check_same_test_labels([])
    with pytest.raises(SuiteError, match=r"scenario s: 1 run\(s\) have n=10, positives=3 .* in 2: c"):
        check_same_test_labels([run("a", 10, 2), run("b", 10, 2), run("c", 10, 3)])


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


def test_a_claimed_win_needs_the_margin_and_significance():
    assert clearly_better([0.75, 0.76, 0.77], [0.70, 0.71, 0.72])[0]  # ahead on every seed: p ~ 0
    ok, text = clearly_better([0.7485, 0.7476, 0.7499], [0.7487, 0.7470, 0.7490])  # ahead by 0.0004, p ~ 0.3
    assert not ok and "p=" in text
    assert not clearly_better([0.7490], [0.7488])[0]  # one seed: within the margin
    ok, text = clearly_better([0.7500], [0.7400])
    assert ok and "no paired test (1 vs 1 seeds)" in text
    ok, text = clearly_better([1.0, 1.0], [1.0, 1.0])  # HR@10 when every request shows <= 10 candidates
    assert not ok and "do not vary" in text
    # a claim of significance: without a paired test the margin alone is no win
    ok, text = clearly_better([0.7500], [0.7400], require_test=True)
    assert not ok and "no paired test (1 vs 1 seeds)" in text
    assert clearly_better([0.75, 0.76, 0.77], [0.70, 0.71, 0.72], require_test=True)[0]
