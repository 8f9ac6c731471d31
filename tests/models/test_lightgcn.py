"""Full-graph LightGCN on the matching path (models/lightgcn.py): the propagation equals PyG's LGConv with its own
symmetric normalisation (values and gradients), one propagation per optimizer step, the layer-0 regulariser, and a
run trained, saved and re-evaluated by ``unisr evaluate --run`` with its graph restored from the weights."""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch_geometric.nn import LGConv

from synth import make_dataset, random_batch, tiny_schema
from unisr.models.registry import build_model, get_model_info
from unisr.pipeline.config import resolve_config

UNISR = str(Path(sys.executable).parent / "unisr")


def _model(layers=2, seed=0):
    torch.manual_seed(seed)
    m = build_model("lightgcn_match", {"dim": 4, "n_layers": layers}, tiny_schema(1))
    g = np.random.default_rng(seed)
    train = SimpleNamespace(user=g.integers(1, 50, 300), item=g.integers(1, 40, 300), scenario=np.zeros(300, int))
    m.attach_interactions(train)
    return m, train


def test_propagation_and_gradients_equal_pygs_lgconv():
    m, tr = _model()
    n_u = 50  # users 0..49 (0 = unknown), then items
    pairs = np.unique(tr.user * 40 + tr.item)
    u, i = pairs // 40, pairs % 40
    ei = torch.as_tensor(np.stack([np.r_[u, n_u + i], np.r_[n_u + i, u]]))
    x0 = torch.cat([m.user.weight, m.item.weight]).detach().clone().requires_grad_(True)
    conv, xs, x = LGConv(normalize=True), [x0], x0  # PyG's own gcn_norm (no self loops)
    for _ in range(2):
        x = conv(x, ei)
        xs.append(x)
    ref = torch.stack(xs).mean(0)
    us, its = m.propagate()
    assert torch.allclose(torch.cat([us, its]), ref, atol=1e-6)
    w = torch.randn_like(ref)
    (ref * w).sum().backward()
    (torch.cat([us, its]) * w).sum().backward()
    assert torch.allclose(torch.cat([m.user.weight.grad, m.item.weight.grad]), x0.grad, atol=1e-6)


def test_one_propagation_per_step(monkeypatch):
    m, _ = _model()
    calls = []
    orig = m.adjacency
    monkeypatch.setattr(m, "adjacency", lambda: calls.append(1) or orig())
    b = random_batch(tiny_schema(1), 16)
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    u = m.user_vectors(b)
    v = m.item_vectors(b.item_index, b.scenario_id)
    with torch.no_grad():
        m.item_vectors(torch.arange(1, 40), torch.zeros(39, dtype=torch.long))  # e.g. DNS scoring: reused
    assert len(calls) == 1
    (u * v).sum().backward()
    opt.step()
    m.user_vectors(b)  # the weights changed: propagated again
    assert len(calls) == 2


def test_registry_defaults_and_layer0_regulariser():
    info = get_model_info("lightgcn_match")
    assert info.task == "matching" and "He et al." in info.paper
    cfg = resolve_config("lightgcn_match")
    assert cfg.train.lr == 0.002 and cfg.train.matching.reg_weight == 0.0001 and cfg.model_params["n_layers"] == 3
    m, _ = _model()
    b = random_batch(tiny_schema(1), 8)
    regs = m.reg_vectors(b, b.item_index, b.item_index[:3])
    assert torch.equal(regs[0], m.user.weight[b.user_index]) and regs[2].shape == (3, 4)


def test_no_graph_gives_the_mean_with_zero_layers():
    torch.manual_seed(0)
    m = build_model("lightgcn_match", {"dim": 4, "n_layers": 3}, tiny_schema(1))
    us, _ = m.propagate()
    assert torch.allclose(us, m.user.weight / 4)


def run(*args):
    p = subprocess.run([UNISR, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"{p.stdout}\n{p.stderr}"
    return p


def test_train_and_reevaluate_with_the_saved_graph(tmp_path):
    data = make_dataset(tmp_path / "data", n_events=3000)
    out = tmp_path / "run"
    run("train", "--model", "lightgcn_match", "--data", data, "--out", out, "--set", "train.epochs=2",
        "--set", "data.batch_size=256", "--set", "train.progress=false", "--set", "model.dim=8",
        "--set", "train.matching.index.kind=exact")
    m = json.loads((out / "metrics.json").read_text())
    assert m["model"] == "lightgcn_match" and 0.0 <= m["overall"]["ndcg@10"] <= 1.0
    ev = json.loads(run("evaluate", "--run", out).stdout)
    for key in ("hr@10", "ndcg@20", "mrr@10", "recall@50"):
        assert ev["overall"][key] == pytest.approx(m["overall"][key], abs=1e-6)
