"""Tests of ``unisr.bench.records``: records found by key (not by folder name), paths without spaces, the
stale-run check of a run folder."""

from __future__ import annotations

import json

import yaml

from unisr.bench.records import RecordStore, budget_of, effective, portable_sets, slug, stale_run

KEY = {"row": "srjgraph width 10,4", "model": "srjgraph", "sets": ["train.epochs=16", "model.user_widths=[10,1,4]"],
       "seed": 3, "data": "b475b4b1ebd2cc80", "budget": {"train.epochs": 16}}


def _run(tmp_path, auc: float = 0.6):
    run = tmp_path / f"run{auc}"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"overall": {"auc": auc}}))
    (run / "config.yaml").write_text(yaml.safe_dump({"train": {"epochs": 16}}))
    return run


def test_save_then_find_by_key(tmp_path):
    store = RecordStore(tmp_path / "rec")
    assert store.find(KEY) is None and store.fingerprints() == set()
    dest = store.save(_run(tmp_path), KEY)
    assert dest.parent == tmp_path / "rec" / "srjgraph-width-10-4" and dest.name.startswith("seed3-")
    assert " " not in str(dest.relative_to(tmp_path)) and "16" not in dest.name  # no budget in the path
    assert json.loads((dest / "record.json").read_text()) == KEY
    again = RecordStore(tmp_path / "rec")  # a fresh index: found by scanning the folder
    assert again.find(KEY) == dest and again.fingerprints() == {"b475b4b1ebd2cc80"}
    assert again.find({**KEY, "sets": KEY["sets"][::-1]}) == dest  # order of overrides does not matter
    assert again.find({**KEY, "seed": 4}) is None and again.find({**KEY, "budget": {"train.epochs": 8}}) is None
    other = again.save(_run(tmp_path, 0.7), {**KEY, "budget": {"train.epochs": 8}})
    assert other != dest and other.parent == dest.parent  # same row, another budget: beside it, apart


def test_a_record_without_metrics_is_not_found(tmp_path):
    store = RecordStore(tmp_path / "rec")
    dest = store.save(_run(tmp_path), KEY)
    (dest / "metrics.json").unlink()
    assert RecordStore(tmp_path / "rec").find(KEY) is None
    assert RecordStore(tmp_path / "rec").fingerprints() == {"b475b4b1ebd2cc80"}


def test_slug_budget_and_effective_key():
    assert slug("srjgraph width 10,4") == "srjgraph-width-10-4" and slug("dnn/search") == "dnn/search"
    assert slug("w/o S&R Views IE") == "w/o-S-R-Views-IE" and slug("PinSage_A") == "PinSage_A"
    assert budget_of({"train": {"epochs": 20, "patience": 4}}) == {
        "train.epochs": 20, "train.max_steps_per_epoch": None, "train.patience": 4}
    assert effective({"sets": ["a.b=1", "a.b=2"]}) == effective({"sets": ["a.b=2"]})  # the last value wins
    assert portable_sets(["data.graph_dir=/o/graph", "x=1"], "/o") == ["data.graph_dir=<out>/graph", "x=1"]


def test_stale_run_names_the_differing_keys(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    assert stale_run(run, {"train": {"epochs": 1}}) == []  # no config.yaml: nothing to compare
    (run / "config.yaml").write_text(yaml.safe_dump({"train": {"epochs": 2, "lr": 0.1}, "data_path": "/a"}))
    assert stale_run(run, {"train": {"epochs": 2, "lr": 0.1, "new_key": 1}, "data_path": "/b"}) == []
    assert stale_run(run, {"train": {"epochs": 4, "lr": 0.1}}) == ["train.epochs: run 2, row 4"]


def test_a_key_without_inputs_is_a_record_of_version_1(tmp_path):
    import json

    from unisr.bench.records import INPUTS_BEFORE_KEY, RecordStore, effective, inputs_of

    run = tmp_path / "run"
    run.mkdir()
    for f in ("metrics.json", "config.yaml"):
        (run / f).write_text("{}")
    old = {"row": "dnn", "model": "dnn", "sets": [], "seed": 0, "data": "x", "budget": {}}
    store = RecordStore(tmp_path / "rec")
    store.save(run, old)
    store = RecordStore(tmp_path / "rec")
    assert store.find({**old, "inputs": INPUTS_BEFORE_KEY}) is not None
    assert store.find({**old, "inputs": {"version": 2, "position_bias": "auto"}}) is None
    assert effective(old) == effective({**old, "inputs": INPUTS_BEFORE_KEY})
    assert inputs_of({"data": {"inputs": {"version": 2}}, "train": {"position_bias": "auto"}}) == {
        "version": 2, "position_bias": "auto"}
    assert json.loads(effective(old))["inputs"] == INPUTS_BEFORE_KEY


def test_model_defaults_that_change_a_run_are_keyed_and_old_keys_read_as_before():
    import json

    from unisr.bench.records import effective, inputs_of
    from unisr.models.registry import ADDED_LATER

    share = inputs_of({"model": {"name": "treems"}, "data": {"inputs": {"version": 3}}})
    assert share["pair_mode"] == "directed" and "match_positions" not in share  # today's default, no match parts
    assert inputs_of({"model": {"name": "treems", "pair_mode": "symmetric"}})["pair_mode"] == "symmetric"
    assert "match_positions" not in inputs_of({"model": {"name": "dnn"}})  # without model.match: not keyed
    dnn = inputs_of({"model": {"name": "dnn", "match": True}})
    assert dnn["match_positions"] == 3 and dnn["match_raw_cosine"] is True
    # a record key made before: the old value, so it is found for a run with the old setting and not otherwise
    old = {"row": "treems", "model": "treems", "sets": [], "seed": 0, "data": "x", "budget": {},
           "inputs": {"version": 3, "position_bias": "auto"}}
    assert json.loads(effective(old))["inputs"]["pair_mode"] == ADDED_LATER["pair_mode"]
    assert effective(old) == effective({**old, "inputs": {**old["inputs"], "pair_mode": "symmetric"}})
    assert effective(old) != effective({**old, "inputs": {**old["inputs"], "pair_mode": "directed"}})
    plain = {**old, "row": "dnn", "model": "dnn"}  # a DNN record without match keeps its key unchanged
    assert "match_positions" not in json.loads(effective(plain))["inputs"]
    matched = {**plain, "sets": ["model.match=true"]}
    assert json.loads(effective(matched))["inputs"]["match_positions"] == 0
