"""Tests of ``unisr.bench.suites``: the run matrix's record store (seeds that survive a lost run folder)."""

from __future__ import annotations

import json

from rich.console import Console

from unisr.bench.suites import RunSpec, data_fingerprint, has_model, run_matrix

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

    # out2 is empty: the recorded seed 0 is read back, nothing is trained (no run folder appears)
    again = run_matrix(rows, sim_dir, tmp_path / "out2", 1, FAST, Console(quiet=True), record=record)
    assert again[0]["run_dir"] == str(rec) and not (tmp_path / "out2").exists()
    assert again[0]["overall"] == first[0]["overall"]
    # a different override is a different run: not in the record, so left out when not training
    other = run_matrix(rows, sim_dir, tmp_path / "out3", 2, [*FAST, "train.lr=0.01"], Console(quiet=True),
                       train_missing=False, record=record)
    assert other == []
    # seed 1 is not recorded: only seed 0 comes back
    two = run_matrix(rows, sim_dir, tmp_path / "out4", 2, FAST, Console(quiet=True), train_missing=False,
                     record=record)
    assert [r["run_seed"] for r in two] == [0]


def test_data_fingerprint_changes_with_the_data(tmp_path):
    (tmp_path / "dataset.yaml").write_text("name: a\n")
    (tmp_path / "events.parquet").write_bytes(b"x" * 10)
    a = data_fingerprint(tmp_path)
    (tmp_path / "events.parquet").write_bytes(b"x" * 11)
    assert data_fingerprint(tmp_path) != a
