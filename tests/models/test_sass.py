"""SASS (models/sass.py): tower shapes and inputs, per-scenario vectors on both sides routed by scenario, the
behaviour sequence scope, the registry entry, and ``unisr train --model sass`` end to end (both stages, the
contract's matching metrics per scenario and ``item_index/`` with one index per scenario)."""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from synth import random_batch, tiny_schema
from unisr.index.faiss_index import load_indexes
from unisr.models.registry import build_model, get_model_info

UNISR = str(Path(sys.executable).parent / "unisr")
PARAMS = {"dim": 8, "layers": 2, "heads": 2, "scenario_embed_dim": 4}


def fake_encoder(schema):
    """The encoder's item matrices ``attach_items`` reads: item_id, item.category; no dense item field."""
    n = schema.num_items + 1
    cats = np.random.default_rng(1).integers(0, 6, n)
    return SimpleNamespace(item_cat=np.stack([np.arange(n) % 40, cats], 1), item_dense=np.zeros((n, 0), np.float32))


def _model(**kw):
    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model("sass", {**PARAMS, **kw}, schema)
    model.attach_items(fake_encoder(schema))
    return schema, model


def _with_history(batch, n_hist=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    b = len(batch)
    ids = torch.randint(1, 40, (b, n_hist), generator=g)
    scen = torch.randint(0, 3, (b, n_hist), generator=g)
    mask = torch.ones(b, n_hist, dtype=torch.bool)
    mask[:, :2] = False  # right-aligned padding
    batch.sequences = {"history": (ids, mask), "history_scenario": (scen, mask)}
    return batch


def test_registry_entry_and_paper_defaults():
    info = get_model_info("sass")
    assert info.task == "matching" and "CIKM'22" in info.paper
    assert info.defaults["data"]["history_len"] == 50 and info.defaults["train"]["lr"] == 0.001
    cfg = info.config()
    assert cfg.layers == 3 and cfg.gate == "adaptive" and cfg.fusion and cfg.pretrain and cfg.pretrain_pairs == 512
    assert info.cls.scenario_items is True


def test_towers_shapes_per_scenario_item_vectors_and_gradients():
    schema, model = _model()
    batch = _with_history(random_batch(schema, 32))
    u = model.user_vectors(batch)
    assert u.shape == (32, 8) and torch.allclose(u.norm(dim=1), torch.ones(32), atol=1e-5)
    items = torch.arange(1, 40)
    v0 = model.item_vectors(items, torch.zeros(39, dtype=torch.long))
    v1 = model.item_vectors(items, torch.ones(39, dtype=torch.long))
    assert v0.shape == (39, 8) and not torch.allclose(v0, v1)  # one vector per item and scenario
    e, g = model.user_views(batch)
    assert torch.allclose(e, u) and g.shape == (32, 8)
    out = model(batch)["click"]
    (out.sum() + g.sum() + model.item_views(items, torch.zeros(39, dtype=torch.long))[1].sum()).backward()
    for name, p in model.named_parameters():
        if ".scenario." in name:
            continue  # the scenario modules: see the routing test
        assert p.grad is not None, name


def test_scenario_modules_run_on_their_rows_only():
    schema, model = _model()
    scen = torch.tensor([0, 2, 2, 0, 2, 0, 0, 2])
    batch = _with_history(random_batch(schema, 8, scenarios=scen))
    calls = {}
    for side in ("user_tower", "item_tower"):
        for s, mod in enumerate(getattr(model, side).scenario):
            mod.register_forward_hook(lambda _m, inp, _o, k=(side, s): calls.__setitem__(k, inp[0].shape[0]))
    model(batch)["click"].sum().backward()
    assert calls == {("user_tower", 0): 4, ("user_tower", 2): 4, ("item_tower", 0): 4, ("item_tower", 2): 4}
    assert all(p.grad is None for p in model.user_tower.scenario[1].parameters())
    assert all(p.grad is None for p in model.item_tower.scenario[1].parameters())
    # a row's vector does not depend on the other rows of the batch (no masking over all scenarios)
    one = model.user_vectors(batch.select(torch.tensor([1])))
    assert torch.allclose(one, model.user_vectors(batch)[1:2], atol=1e-6)


def test_user_tower_reads_user_fields_and_its_scenarios_behaviours_only():
    schema, model = _model()
    model.eval()
    batch = _with_history(random_batch(schema, 16))
    u = model.user_vectors(batch)
    b2 = _with_history(random_batch(schema, 16, seed=5))
    b2.sparse[:, 0], b2.scenario_id, b2.dense = batch.sparse[:, 0], batch.scenario_id, batch.dense
    b2.sequences = batch.sequences
    assert torch.allclose(model.user_vectors(b2), u, atol=1e-6)  # item columns of the row: not read
    # behaviours clicked in another scenario than the row's are left out (history_scope="scenario")
    ids, mask = batch.sequences["history"]
    hs = batch.sequences["history_scenario"][0]
    other = hs != batch.scenario_id[:, None]
    ids2 = torch.where(other, (ids % 39) + 1, ids)
    b3 = _with_history(random_batch(schema, 16))
    b3.sparse, b3.scenario_id, b3.dense = batch.sparse, batch.scenario_id, batch.dense
    b3.sequences = {"history": (ids2, mask), "history_scenario": (hs, mask)}
    assert torch.allclose(model.user_vectors(b3), u, atol=1e-5)
    _, model_all = _model(history_scope="all")
    model_all.eval()
    assert not torch.allclose(model_all.user_vectors(b3), model_all.user_vectors(batch), atol=1e-5)
    # without a history the tower still works (behaviour vector = zeros)
    b4 = random_batch(schema, 4)
    assert model.user_vectors(b4).shape == (4, 8)


def test_stages_declared_from_the_config():
    _, model = _model()
    names = [s["name"] for s in model.training_stages()]
    assert names == ["pretrain", "finetune"]
    _, base = _model(pretrain=False)  # SASS-Base: fine-tuning only
    assert [s["name"] for s in base.training_stages()] == ["finetune"]


def run(*args):
    p = subprocess.run([UNISR, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"{p.stdout}\n{p.stderr}"
    return p


def test_train_sass_end_to_end_on_the_simulated_feeds(sim_dir, tmp_path):
    out = tmp_path / "run"
    run("train", "--model", "sass", "--data", sim_dir, "--out", out, "--set", "data.scenario_kinds=[recommend]",
        "--set", "train.epochs=2", "--set", "train.max_steps_per_epoch=2", "--set", "data.batch_size=1024",
        "--set", "train.progress=false", "--set", "model.dim=8", "--set", "model.layers=2",
        "--set", "data.history_len=5", "--set", "model.pretrain_pairs=64", "--set", "model.pretrain_batch_rows=1024",
        "--set", "train.matching.index.kind=exact", "--set", "model.pretrain_epochs=1")
    m = json.loads((out / "metrics.json").read_text())
    assert m["task"] == "matching" and m["model"] == "sass" and "auc" not in m["overall"]
    assert m["scenarios"] and all(name.startswith("feed_") for name in m["scenarios"])
    for block in m["scenarios"].values():
        for k in (20, 50, 100, 200):
            for name in ("hr", "ndcg", "mrr"):
                assert 0.0 <= block[f"{name}@{k}"] <= 1.0
        assert block["hr@20"] <= block["hr@50"] <= block["hr@200"] and block["n"] > 0
    assert [s["name"] for s in m["stages"]] == ["pretrain", "finetune"]
    pre_log = [json.loads(x) for x in (out / "pretrain" / "train_log.jsonl").read_text().splitlines()]
    assert len(pre_log) == 1 and pre_log[0]["pairs_user"] > 0 and pre_log[0]["pairs_item"] > 0
    log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert len(log) == 2 and "ndcg@20" in log[0]["valid"]["overall"]
    idx = load_indexes(out / "item_index")
    # one index per scenario the run trained on, each with its own vectors
    assert set(m["scenarios"]) <= set(idx) and all(n.startswith("feed_") for n in idx)
    files = {json.loads((out / "item_index" / "manifest.json").read_text())["scenarios"][k]["index"]
             for k in range(len(idx))}
    assert len(files) == len(idx)
    ix = next(iter(idx.values()))
    assert ix.index.d == 8 and ix.index.ntotal == len(ix.item_ids)
    ev = json.loads(run("evaluate", "--run", out).stdout)
    for key in ("hr@20", "ndcg@20", "mrr@20"):
        assert ev["overall"][key] == pytest.approx(m["overall"][key], abs=1e-6)
