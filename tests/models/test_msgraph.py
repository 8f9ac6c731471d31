"""MSGraph (models/msgraph.py), BOMGraph's multi-scenario graph baseline: trained on the three search scenarios
end to end, one fused intra-scenario GAT for every scenario's items and one for every query."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from unisr.index.faiss_index import load_indexes
from unisr.nn.multi_scenario_graph import MultiScenarioItemEncoder
from unisr.pipeline.run_folder import open_run
from unisr.train.matching import attach_run_graph

SEARCH = {"search_text", "search_visual", "search_similar"}


@pytest.fixture(scope="module")
def trained(sim_dir: Path, tmp_path_factory: pytest.TempPathFactory, unisr) -> Path:
    out = tmp_path_factory.mktemp("msgraph") / "run"
    unisr("train", "--model", "msgraph", "--data", sim_dir, "--out", out, "--set", "train.epochs=1", "--set",
          "train.progress=false", "--set", "model.dim=16", "--set", "model.id_dim=8", "--set", "model.term_dim=8",
          "--set", "model.negatives=3", "--set", "model.query_buckets=512")
    return out


def test_three_scenario_run(trained: Path) -> None:
    m = json.loads((trained / "metrics.json").read_text())
    assert m["model"] == "msgraph" and set(m["scenarios"]) == SEARCH
    assert all(0.0 < b["hr@200"] <= 1.0 for b in m["scenarios"].values())
    assert set(load_indexes(trained / "item_index")) == SEARCH


def test_one_fused_encoder_for_every_scenario(trained: Path) -> None:
    cfg, encoder, net, pipe = open_run(trained)
    attach_run_graph(net, cfg, pipe)
    enc = net.items_enc
    assert enc.intra is None and enc.inter is None and enc.shared is None and net.dr is None
    assert set(net.queries_enc.gat) == {"fused"}
    # the same weights serve every scenario: gradients of two scenarios' items both land in the fused GAT
    net.train()
    items = torch.arange(1, 21)
    grads, r = [], torch.randn(20, 16, generator=torch.Generator().manual_seed(0))
    for name in ("search_text", "search_similar"):
        net.zero_grad()
        (net.item_vectors(items, torch.full((20,), net.names.index(name))) * r).sum().backward()
        grads.append(torch.cat([p.grad.ravel() for p in enc.fused.parameters() if p.grad is not None]))
    assert all(g.abs().sum() > 0 for g in grads) and not torch.equal(grads[0], grads[1])
    # and one vector per scenario for the same item (each scenario's own intra-scenario tree)
    net.eval()
    v = {n: net.item_vectors(items, torch.full((20,), net.names.index(n))) for n in ("search_text", "search_similar")}
    assert not torch.allclose(v["search_text"], v["search_similar"])


def test_fused_encoder_has_no_cross_scenario_part() -> None:
    with pytest.raises(ValueError, match="cross_scenario=False"):
        MultiScenarioItemEncoder(8, 8, ["a", "b"], cross_scenario=True, scenario_specific=False)
