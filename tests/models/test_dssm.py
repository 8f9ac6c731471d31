"""DSSM (models/dssm.py) on the matching path: tower shapes and inputs, the registry entry, and
``unisr train --model dssm`` end to end writing the contract's matching metrics and ``item_index/``."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from synth import make_dataset, random_batch, tiny_schema
from unisr.index.faiss_index import load_indexes
from unisr.models.registry import build_model, get_model_info
from unisr.pipeline.config import MatchingConfig
from unisr.train.matching import MatchingObjective

UNISR = str(Path(sys.executable).parent / "unisr")


class FakeEncoder:
    def __init__(self, schema):
        g = np.random.default_rng(0)
        n = schema.num_items + 1
        self.item_cat = np.stack([np.arange(n) % 40, g.integers(0, 6, n)], 1)  # item_id, item.category
        self.item_dense = np.zeros((n, 0), np.float32)


def test_towers_shapes_inputs_and_gradients():
    schema = tiny_schema()
    model = build_model("dssm", {"hidden": [16], "dim": 8}, schema)
    assert get_model_info("dssm").task == "matching"
    batch = random_batch(schema, 32)
    with pytest.raises(RuntimeError, match="attach"):
        model.item_vectors(batch.item_index, batch.scenario_id)
    model.attach_items(FakeEncoder(schema))
    u = model.user_vectors(batch)
    v = model.item_vectors(torch.arange(1, 40), torch.zeros(39, dtype=torch.long))
    assert u.shape == (32, 8) and v.shape == (39, 8)
    assert torch.allclose(u.norm(dim=1), torch.ones(32), atol=1e-5)  # cosine towers
    # the user tower reads user fields (+ scenario) only: changing an item column of the batch changes nothing
    b2 = random_batch(schema, 32)
    b2.sparse[:, 0], b2.scenario_id, b2.dense = batch.sparse[:, 0], batch.scenario_id, batch.dense
    assert torch.allclose(model.user_vectors(b2), u)
    freq = np.ones(schema.num_items + 1)
    obj = MatchingObjective(model, MatchingConfig(num_negatives=4), freq)
    batch.labels["click"] = torch.ones(32)
    loss, parts = obj(batch)
    loss.backward()
    assert torch.isfinite(loss) and parts["positives"] == 32
    for name, p in model.named_parameters():
        assert p.grad is not None, name
    # the item features are buffers of the model: they travel with its weights
    assert "items.sparse" in model.state_dict() and bool(model.state_dict()["items.attached"])


def run(*args):
    p = subprocess.run([UNISR, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"{p.stdout}\n{p.stderr}"
    return p


def test_models_lists_dssm_as_matching():
    rows = {r["name"]: r for r in json.loads(run("models", "--json").stdout)}
    assert rows["dssm"]["task"] == "matching" and "Huang" in rows["dssm"]["paper"]


def test_train_dssm_end_to_end(tmp_path):
    data = make_dataset(tmp_path / "data", n_events=3000)
    out = tmp_path / "run"
    run("train", "--model", "dssm", "--data", data, "--out", out, "--set", "train.epochs=2",
        "--set", "data.batch_size=256", "--set", "train.progress=false", "--set", "model.hidden=[16]",
        "--set", "model.dim=8", "--set", "train.matching.index.kind=ivf")
    m = json.loads((out / "metrics.json").read_text())
    assert m["task"] == "matching" and m["model"] == "dssm" and "auc" not in m["overall"]
    assert m["scenarios"], "no scenario evaluated"
    for block in m["scenarios"].values():
        for k in (20, 50, 100, 200):
            for name in ("hr", "ndcg", "mrr", "recall"):
                assert 0.0 <= block[f"{name}@{k}"] <= 1.0
        assert block["hr@20"] <= block["hr@50"] <= block["hr@200"] and block["n"] > 0
    assert m["ann"]["params"]["kind"] == "ivf" and "index_recall@50" in m["ann"]["overall"]
    assert "hr@50" in m["baselines"]["popularity"]["overall"]
    assert set(m["baselines"]) == {"popularity"}  # not simulated data: no truth, no oracle
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert len(log) == 2 and "recall@50" in log[0]["valid"]["overall"] and m["monitor"] == "recall@50"
    idx = load_indexes(out / "item_index")
    assert set(m["scenarios"]) <= set(idx) and len(idx) == 3  # one entry per scenario of the dataset
    ix = next(iter(idx.values()))
    assert ix.index.ntotal == len(ix.item_ids) and ix.index.d == 8
    _, ids = ix.search(np.ones((2, 8), np.float32), 5)
    assert ids.shape == (2, 5) and (ids > 0).all()
    # `unisr evaluate --run` of a matching run: the same retrieval metrics (exact and through item_index/)
    ev = json.loads(run("evaluate", "--run", out).stdout)
    assert ev["task"] == "matching" and "auc" not in ev["overall"]
    for key in ("hr@50", "ndcg@20", "mrr@20"):
        assert ev["overall"][key] == pytest.approx(m["overall"][key], abs=1e-6)
        assert ev["ann"]["overall"][key] == pytest.approx(m["ann"]["overall"][key], abs=1e-6)


@pytest.mark.parametrize("sets,key", [
    (["train.monitor=auc"], "train.monitor"),
    (["train.matching.index.kind=ivfpq", "train.matching.index.pq_m=7"], "train.matching.index.pq_m"),
])
def test_bad_matching_config_exits_2_naming_the_key(tmp_path, sets, key):
    data = make_dataset(tmp_path / "data", n_events=600)
    args = [a for s in sets for a in ("--set", s)]
    p = subprocess.run([UNISR, "train", "--model", "dssm", "--data", str(data), "--out", str(tmp_path / "r"),
                        "--set", "model.dim=8", *args], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and key in p.stderr + p.stdout, p.stderr
