"""Tests of ``unisr.bench.matrix``: rows x seeds trained, read back from run folders or from the record store
(seeds that survive a lost run folder), typed overrides."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from unisr.bench.fingerprint import data_fingerprint
from unisr.bench.matrix import (
    Override,
    RunSpec,
    check_same_test_labels,
    epoch_limit_note,
    run_matrix,
    suite_options,
)
from unisr.bench.records import has_model, portable_sets
from unisr.bench.registry import SuiteError

FAST = ["train.epochs=1", "train.max_steps_per_epoch=3", "train.progress=false", "train.threads=1",
        "data.scenarios=[feed_main]"]
BUDGET = {"train.epochs": 1, "train.max_steps_per_epoch": 3, "train.patience": 4}  # patience: the default


def only_record(record):
    """The one record folder under ``record`` (found by its record.json, wherever it lies)."""
    (f,) = record.rglob("record.json")
    return f.parent


def test_record_keeps_runs_across_lost_run_folders(sim_dir, tmp_path):
    """A finished run is copied into the record with its key; a new out folder (another machine) reuses it
    without training, a changed override or seed does not match it."""
    record = tmp_path / "record"
    rows = [RunSpec("dnn", "dnn")]
    first = run_matrix(rows, sim_dir, tmp_path / "out1", 1, FAST, Console(quiet=True), record=record)
    rec = only_record(record)
    assert rec.parent == record / "dnn" and rec.name.startswith("seed0-")  # no budget, no override in the path
    assert sorted(p.name for p in rec.iterdir()) == ["config.yaml", "metrics.json", "record.json"]
    key = json.loads((rec / "record.json").read_text())
    assert key == {"row": "dnn", "model": "dnn", "sets": FAST, "seed": 0, "data": data_fingerprint(sim_dir),
                   "budget": BUDGET, "inputs": {"version": 3, "position_bias": "auto"}}
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
    rows = [RunSpec("dnn", "dnn"), RunSpec("dnn wide", "dnn", (Override("model.hidden", (64,)),))]
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
    (f,) = [p / "metrics.json" for p in (record / "dnn").iterdir() if p.name.startswith("seed1-")]
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
    f = only_record(record) / "record.json"
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
    rec = only_record(record)
    key = json.loads((rec / "record.json").read_text())
    assert "data.graph_dir=<out>/graph" in key["sets"] and str(out1) not in json.dumps(key)
    again = run_matrix(rows, sim_dir, out2, 1, [*FAST, f"data.graph_dir={out2 / 'graph'}"], Console(quiet=True),
                       train_missing=False, record=record)
    assert len(again) == 1 and again[0]["run_dir"] == str(rec)
    # a graph folder of the user's own is part of the key as given
    assert portable_sets(["data.graph_dir=/data/g"], out1) == ["data.graph_dir=/data/g"]


def test_check_same_test_labels_names_the_minority():
    def run(d, n, pos):
        return {"run_dir": d, "scenarios": {"s": {"n": n, "positives": pos}, "t": {"auc": 0.5}}}
    check_same_test_labels([run("a", 10, 2), run("b", 10, 2)])
    check_same_test_labels([])
    with pytest.raises(SuiteError, match=r"scenario s: 1 run\(s\) have n=10, positives=3 .* in 2: c"):
        check_same_test_labels([run("a", 10, 2), run("b", 10, 2), run("c", 10, 3)])


def test_a_record_is_found_by_its_key_wherever_it_lies(sim_dir, tmp_path):
    """The record store indexes a suite folder by key: a record moved to another sub-folder is still found; a
    changed budget in its key (another epoch count) is another run."""
    record = tmp_path / "record"
    rows = [RunSpec("dnn", "dnn")]
    run_matrix(rows, sim_dir, tmp_path / "out1", 1, FAST, Console(quiet=True), record=record)
    rec = only_record(record)
    moved = record / "elsewhere" / "deeper"
    moved.parent.mkdir(parents=True)
    rec.rename(moved)
    got = run_matrix(rows, sim_dir, tmp_path / "out2", 1, FAST, Console(quiet=True), train_missing=False,
                     record=record)
    assert len(got) == 1 and got[0]["run_dir"] == str(moved)
    f = moved / "record.json"
    f.write_text(json.dumps({**json.loads(f.read_text()), "budget": {**BUDGET, "train.epochs": 2}}))
    assert run_matrix(rows, sim_dir, tmp_path / "out3", 1, FAST, Console(quiet=True), train_missing=False,
                      record=record) == []


def test_overrides_are_typed_until_the_train_run_boundary():
    """A row's overrides are typed values; ``text()`` gives the string the config parses, the same as a
    ``--set`` would (lists without spaces, YAML booleans, floats YAML reads as floats)."""
    from unisr.pipeline.config import parse_set

    row = RunSpec("r", "dnn", (Override("data.scenarios", ("search_text", "feed_main")),
                               Override("model.upstream", False), Override("train.lr", 1e-05),
                               Override("model.user_widths", (25, 1, 10)), Override("train.max_steps_per_epoch", None)))
    assert row.sets == ("data.scenarios=[search_text,feed_main]", "model.upstream=false", "train.lr=1.0e-05",
                        "model.user_widths=[25,1,10]", "train.max_steps_per_epoch=null")
    assert parse_set(list(row.sets)) == {"data": {"scenarios": ["search_text", "feed_main"]},
                                         "model": {"upstream": False, "user_widths": [25, 1, 10]},
                                         "train": {"lr": 1e-05, "max_steps_per_epoch": None}}
    assert Override.parse("train.weight_decay=0.00001").text() == "train.weight_decay=0.00001"  # as given
    with pytest.raises(SuiteError, match="expected key=value"):
        Override.parse("train.lr")


def test_suite_options_split_the_suites_own_keys():
    opts, rest = suite_options(["suite.train=false", "train.lr=0.1", "suite.rows_only=[a, b]"], {"preset": "x"})
    assert opts == {"train": False, "record": "", "publish": "", "seeds_only": None, "rows_only": ["a", "b"],
                    "preset": "x"}
    assert rest == [Override("train.lr", "0.1")]
    with pytest.raises(SuiteError, match=r"suite\.nope: unknown; known: train, record"):
        suite_options(["suite.nope=1"], {})


def test_run_matrix_collect_only_reports_finished_runs(tmp_path):
    """``train_missing=False``: finished runs are read back, missing ones are left out, nothing is trained
    (the data path does not even exist)."""
    done = tmp_path / "runs" / "dnn" / "seed0"
    done.mkdir(parents=True)
    (done / "metrics.json").write_text(json.dumps({"overall": {"auc": 0.6}, "scenarios": {}}))
    rows = [RunSpec("dnn", "dnn"), RunSpec("srjgraph", "srjgraph")]
    got = run_matrix(rows, tmp_path / "no-data", tmp_path, 2, [], Console(quiet=True), train_missing=False)
    assert [(r["run_name"], r["run_seed"], r["overall"]["auc"]) for r in got] == [("dnn", 0, 0.6)]


def test_epoch_limit_note_counts_runs_still_improving(tmp_path):
    import yaml

    runs = []
    for name, best in (("a", 4), ("a", 2), ("b", 4)):
        d = tmp_path / f"{name}{best}{len(runs)}"
        d.mkdir()
        (d / "config.yaml").write_text(yaml.safe_dump({"train": {"epochs": 5}}))
        runs.append({"run_name": name, "best_epoch": best, "run_dir": str(d)})
    note = epoch_limit_note(runs)
    assert "2 of 3 runs" in note and "a 1, b 1" in note
    assert "no run configs" in epoch_limit_note([{"run_name": "x", "best_epoch": 0}])
