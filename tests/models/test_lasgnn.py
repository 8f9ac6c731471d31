"""LasGNN (models/lasgnn.py), BOMGraph's single-scenario baseline: trained on one search scenario end to end, and
exactly BOMGraph without CL, DR and CS (the paper, sec. 4.3.1: "BOMGraph degrades to LasGNN")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from unisr.index.faiss_index import load_indexes
from unisr.pipeline.run_folder import open_run
from unisr.train.matching import attach_run_graph

SMALL = ("--set", "model.dim=16", "--set", "model.id_dim=8", "--set", "model.term_dim=8", "--set",
         "model.negatives=3", "--set", "model.query_buckets=512")


@pytest.fixture(scope="module")
def trained(sim_dir: Path, tmp_path_factory: pytest.TempPathFactory, unisr) -> Path:
    out = tmp_path_factory.mktemp("lasgnn") / "run"
    unisr("train", "--model", "lasgnn", "--data", sim_dir, "--out", out, "--set", "train.epochs=1", "--set",
          "train.progress=false", "--set", "data.scenario_kinds=[search_similar]", *SMALL)
    return out


def test_single_scenario_run(trained: Path) -> None:
    m = json.loads((trained / "metrics.json").read_text())
    assert m["model"] == "lasgnn" and set(m["scenarios"]) == {"search_similar"}
    assert 0.0 < m["scenarios"]["search_similar"]["hr@100"] <= 1.0
    assert set(load_indexes(trained / "item_index")) == {"search_similar"}
    log = [json.loads(line) for line in (trained / "train_log.jsonl").read_text().splitlines()]
    assert log and log[0]["loss_match"] > 0 and log[0]["augmented"] == 0
    assert not {"loss_rd", "loss_cl"} & set(log[0])  # no DR, no dropout contrastive loss


def test_is_bomgraph_without_cl_dr_cs(trained: Path) -> None:
    from unisr.evaluate.retrieval import Interactions
    from unisr.models.bomgraph import BOMGraph, BOMGraphConfig
    from unisr.models.lasgnn import LasGNN, LasGNNConfig
    from unisr.train.bomgraph import BOMGraphObjective

    cfg, encoder, net, pipe = open_run(trained)
    attach_run_graph(net, cfg, pipe)
    base = dict(dim=16, id_dim=8, term_dim=8, query_buckets=512, negatives=3)
    torch.manual_seed(0)
    las = LasGNN.from_config(encoder.schema, LasGNNConfig(**base))
    torch.manual_seed(0)
    bom = BOMGraph.from_config(encoder.schema, BOMGraphConfig(**base, cross_scenario=False, disentangle=False,
                                                               contrastive=False, augment=False))
    a, b = las.state_dict(), bom.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert las.items_enc.inter is None and las.items_enc.shared is None and las.dr is None
    train_x = Interactions.from_batches(pipe.batches("train"))
    batch = next(x for x in pipe.batches("train") if bool((x.label("click") > 0.5).any()))
    losses = []
    for m in (las, bom):
        m.attach_items(encoder)
        m.attach_graph(net.sampler.graph, pipe.ctx.queries)
        obj = BOMGraphObjective(m, seed=0)
        obj.attach_interactions(train_x)
        losses.append(obj(batch)[0])
        m.eval()
    assert torch.isfinite(losses[0]) and torch.equal(losses[0], losses[1])
    s = las.names.index("search_similar")
    items = torch.arange(1, 31)
    v = las.item_vectors(items, torch.full((30,), s))
    assert torch.equal(v, bom.item_vectors(items, torch.full((30,), s)))
    assert v.norm(dim=1).sub(1).abs().max() < 1e-5
