"""AdaptiveGCN (models/adaptive_gcn.py, BOMGraph's table-2 baseline) on the simulator's tiny data: ``unisr train
--model adaptive_gcn`` writes per-scenario retrieval metrics and one item index per search scenario; each
scenario has its own SGC-LL encoder on its own sampler; a schema with one search scenario works; the switches
(alpha = 0: a plain Chebyshev filter on L; the filter's parameterisation) change the computation; eval vectors do
not depend on the batch. The layer itself is checked by hand in tests/nn/test_adaptive_spectral.py."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from unisr.index.faiss_index import load_indexes
from unisr.models.adaptive_gcn import AdaptiveGCN, AdaptiveGCNConfig
from unisr.nn.adaptive_spectral import SGCLL
from unisr.pipeline.run_folder import open_run
from unisr.train.matching import attach_run_graph

SEARCH = ("search_text", "search_visual", "search_similar")
BASE = dict(dim=16, id_dim=8, term_dim=8, negatives=3, query_buckets=512, fanouts=[3, 2])



@pytest.fixture(scope="module")
def trained(sim_dir: Path, tmp_path_factory: pytest.TempPathFactory, unisr) -> Path:
    out = tmp_path_factory.mktemp("agcn") / "run"
    sets = [f"model.{k}={json.dumps(v)}" for k, v in BASE.items()]
    unisr("train", "--model", "adaptive_gcn", "--data", sim_dir, "--out", out, "--set", "train.epochs=1",
        "--set", "train.max_steps_per_epoch=3", "--set", "train.progress=false",
        *[a for s in sets for a in ("--set", s)])
    return out


@pytest.fixture(scope="module")
def opened(trained: Path):
    cfg, encoder, net, pipe = open_run(trained)
    attach_run_graph(net, cfg, pipe)
    return cfg, encoder, net.eval(), pipe


def test_train_writes_search_metrics_and_one_index_per_search_scenario(trained: Path) -> None:
    m = json.loads((trained / "metrics.json").read_text())
    assert m["model"] == "adaptive_gcn" and set(m["scenarios"]) == set(SEARCH)
    for block in m["scenarios"].values():
        for name in ("hr", "mrr", "ndcg"):
            assert 0.0 <= block[f"{name}@100"] <= block[f"{name}@200"] <= 1.0
        assert block["n"] > 0
    assert m["matching"]["objectives"] == ["unisr.train.bomgraph:BOMGraphObjective"]
    log = [json.loads(line) for line in (trained / "train_log.jsonl").read_text().splitlines()]
    assert log and log[0]["loss_match"] > 0
    assert set(load_indexes(trained / "item_index")) == set(SEARCH)


def test_one_sgcll_encoder_per_scenario(opened) -> None:
    _, _, net, _ = opened
    assert set(net.encoders) == set(net.search) and len(net.search) == 3
    for enc in net.encoders.values():
        assert len(enc.layers) == 2 and all(isinstance(la, SGCLL) and la.alpha == 1.0 for la in enc.layers)
    # training moved each scenario's learnt metric away from its identity initialisation
    moved = [float((enc.layers[0].metric.detach() - torch.eye(16)).abs().max()) for enc in net.encoders.values()]
    assert all(m > 0 for m in moved), moved


def _twin(net, encoder, pipe, **cfg) -> AdaptiveGCN:  # noqa: ANN001
    m = AdaptiveGCN.from_config(encoder.schema, AdaptiveGCNConfig(**{**BASE, **cfg}))
    if cfg.get("filter", "agcn") == "agcn":
        m.load_state_dict(net.state_dict())
    m.attach_items(encoder)
    m.attach_graph(net.sampler.graph, pipe.ctx.queries)
    return m.eval()


def test_switches_change_the_computation(opened) -> None:
    _, encoder, net, pipe = opened
    s = net.names.index("search_text")
    items, scen = torch.arange(1, 31), torch.full((30,), s)
    with torch.no_grad():
        base = net.item_vectors(items, scen)
        same = _twin(net, encoder, pipe).item_vectors(items, scen)
        plain = _twin(net, encoder, pipe, alpha=0.0).item_vectors(items, scen)
        cheb = _twin(net, encoder, pipe, filter="cheb")
    assert torch.allclose(base, same, atol=1e-6)  # the twin is the same model ...
    assert not torch.allclose(base, plain, atol=1e-4)  # ... alpha = 0 drops the residual Laplacian
    assert hasattr(cheb.encoders[net.search[0]].layers[0], "lins")


def test_a_schema_with_one_search_scenario(opened) -> None:
    _, encoder, net, pipe = opened
    k = net.names.index("search_text")
    kinds = ["recommend" if i != k else "search_text" for i in range(len(net.names))]
    one = AdaptiveGCN.from_config(dataclasses.replace(encoder.schema, scenario_kinds=kinds),
                                  AdaptiveGCNConfig(**BASE))
    one.attach_items(encoder)
    one.attach_graph(net.sampler.graph, pipe.ctx.queries)
    assert list(one.encoders) == ["search_text"]
    one.train()
    b = next(b for b in pipe.batches("train") if bool(((b.scenario_id == k) & (b.label("click") > 0.5)).any()))
    sel = b.select(torch.nonzero((b.scenario_id == k) & (b.label("click") > 0.5)).squeeze(1))
    q = one.query_vectors(sel, positives=sel.item_index)
    i, _, _, _ = one.encode_items(sel.item_index, sel.scenario_id, pair_nodes=one.query_group(sel))
    (q * i).sum().backward()
    assert one.encoders["search_text"].layers[0].metric.grad is not None


def test_eval_vectors_do_not_depend_on_the_batch(opened) -> None:
    _, _, net, _ = opened
    for name in net.search:
        s = net.names.index(name)
        with torch.no_grad():
            a = net.item_vectors(torch.arange(1, 41), torch.full((40,), s))
            b = net.item_vectors(torch.arange(21, 41), torch.full((20,), s))
        assert (a[20:] - b).abs().max().item() < 1e-5
