"""GraphSAGE (models/graphsage.py, BOMGraph's table-2 baseline) on the simulator's tiny data: ``unisr train
--model graphsage`` with all three search scenarios (one encoder and one sampler each) and with one
(single-scenario training, as the paper), per-scenario retrieval metrics and item indexes, ``unisr evaluate``
reproducing them, the sampled neighbourhoods following the scenario's relations with the batch's positives left
out (recorded inside the training objective), the node features by type, and eval-mode determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from unisr.graph.samplers.union import UnionSampler, scenario_relations, tree_parent
from unisr.index.faiss_index import load_indexes
from unisr.pipeline.run_folder import open_run
from unisr.train.matching import attach_run_graph

SEARCH = ("search_text", "search_visual", "search_similar")
SMALL = ("--set", "train.epochs=1", "--set", "train.max_steps_per_epoch=3", "--set", "train.progress=false",
         "--set", "model.dim=16", "--set", "model.id_dim=8", "--set", "model.term_dim=8",
         "--set", "model.negatives=3", "--set", "model.query_buckets=512", "--set", "model.fanouts=[3,2]")



@pytest.fixture(scope="module")
def trained(sim_dir: Path, tmp_path_factory: pytest.TempPathFactory, unisr) -> Path:
    out = tmp_path_factory.mktemp("sage") / "run"
    unisr("train", "--model", "graphsage", "--data", sim_dir, "--out", out, *SMALL)
    return out


def test_train_writes_search_metrics_and_one_index_per_search_scenario(trained: Path, unisr) -> None:
    m = json.loads((trained / "metrics.json").read_text())
    assert m["model"] == "graphsage" and m["task"] == "matching"
    assert set(m["scenarios"]) == set(SEARCH)
    for block in m["scenarios"].values():
        for name in ("hr", "mrr", "ndcg"):
            assert 0.0 <= block[f"{name}@100"] <= block[f"{name}@200"] <= 1.0
        assert block["n"] > 0
    assert m["matching"]["objectives"] == ["unisr.train.bomgraph:BOMGraphObjective"]
    log = [json.loads(line) for line in (trained / "train_log.jsonl").read_text().splitlines()]
    assert log and log[0]["loss_match"] > 0 and log[0]["augmented"] == 0  # eq. 13 only
    assert set(load_indexes(trained / "item_index")) == set(SEARCH)
    ev = json.loads(unisr("evaluate", "--run", trained).stdout)
    for key in ("hr@100", "mrr@100", "ndcg@200"):
        assert ev["overall"][key] == pytest.approx(m["overall"][key], abs=1e-6)


def test_single_scenario_training(sim_dir: Path, tmp_path: Path, unisr) -> None:
    out = tmp_path / "run"
    unisr("train", "--model", "graphsage", "--data", sim_dir, "--out", out, *SMALL,
        "--set", "data.scenario_kinds=[search_similar]")
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["scenarios"]) == {"search_similar"} and m["scenarios"]["search_similar"]["n"] > 0
    assert set(load_indexes(out / "item_index")) == {"search_similar"}
    # the schema still lists every scenario of the dataset: one encoder each, only the trained one was used
    _, _, net, _ = open_run(out)
    assert list(net.encoders) == net.search


def test_a_schema_with_one_search_scenario(opened) -> None:
    import dataclasses

    from unisr.models.graphsage import GraphSAGE

    _, encoder, net, pipe, _ = opened
    sim = net.names.index("search_similar")
    kinds = ["recommend" if i != sim else "search_similar" for i in range(len(net.names))]
    schema = dataclasses.replace(encoder.schema, scenario_kinds=kinds)
    one = GraphSAGE.from_config(schema, net.cfg)
    one.attach_items(encoder)
    one.attach_graph(net.sampler.graph, pipe.ctx.queries)
    assert list(one.encoders) == ["search_similar"] and list(one.sampler.by_scenario) == ["search_similar"]
    one.eval()
    with torch.no_grad():
        v = one.item_vectors(torch.arange(1, 11), torch.full((10,), sim))
    assert v.shape == (10, net.cfg.dim) and torch.isfinite(v).all()
    with pytest.raises(ValueError, match="search scenarios only"):
        one.item_vectors(torch.arange(1, 3), torch.full((2,), net.names.index("search_text")))


@pytest.fixture(scope="module")
def opened(trained: Path):
    cfg, encoder, net, pipe = open_run(trained)
    attach_run_graph(net, cfg, pipe)
    batch = next(b for b in pipe.batches("train") if bool((b.label("click") > 0.5).any())
                 and len(torch.unique(b.scenario_id[b.label("click") > 0.5])) == 3)
    return cfg, encoder, net, pipe, batch


def test_one_encoder_and_sampler_per_scenario(opened) -> None:
    _, _, net, _, _ = opened
    assert set(net.encoders) == set(net.search) and len(net.search) == 3
    g = net.sampler.graph
    for name in net.search:
        assert net.sampler[name].relations == scenario_relations(g, name, net.kind_of[name])
    assert net.encoders[net.search[0]] is not net.encoders[net.search[1]]


def test_objective_samples_follow_relations_and_exclude_the_batch_positives(opened, monkeypatch) -> None:
    from unisr.evaluate.retrieval import Interactions
    from unisr.train.bomgraph import BOMGraphObjective

    _, _, net, pipe, batch = opened
    calls = []
    original = UnionSampler.sample

    def record(self, seeds, pairs=None, seed=0, by_node=False):  # noqa: ANN001, ANN202
        out = original(self, seeds, pairs, seed, by_node)
        calls.append((self, pairs, out))
        return out

    monkeypatch.setattr(UnionSampler, "sample", record)
    obj = BOMGraphObjective(net.train(), seed=0)
    obj.attach_interactions(Interactions.from_batches(pipe.batches("train")))
    loss, _ = obj(batch)
    net.eval()
    assert torch.isfinite(loss)
    with_pairs = [c for c in calls if c[1] is not None]
    # the query and the positive item of the text and similar-product scenarios (visual queries are no nodes)
    assert len(with_pairs) == 4
    drawn = 0
    for smp, pairs, sample in with_pairs:
        keys = set((pairs[:, 0] * smp.base + pairs[:, 1]).tolist()) | set(
            (pairs[:, 1] * smp.base + pairs[:, 0]).tolist())
        assert {smp.types[t] for t in smp.node_type(pairs).ravel().tolist()} in ({"item", "query"},
                                                                                {"item", "trigger"})
        u, w = _edges(sample)
        assert len(u) and not set((u * smp.base + w).tolist()) & keys
        # every sampled edge is an edge of one of the scenario's relations (checked on the relations' CSRs)
        tu, tw = smp.node_type(torch.as_tensor(u)).numpy(), smp.node_type(torch.as_tensor(w)).numpy()
        ok = np.zeros(len(u), bool)
        for src, ets in smp.relations.items():
            for et in ets:
                sel = (tu == smp.types.index(src)) & (tw == smp.types.index(et[2]))
                ok[sel] |= smp.graph.rel(et).has_edges(u[sel] - smp.offset[src], w[sel] - smp.offset[et[2]])
        assert ok.all()
        # the same draw without the exclusion: the batch's clicks are graph edges and get sampled
        fu, fw = _edges(original(smp, sample.seeds, None, 0))
        drawn += len(set((fu * smp.base + fw).tolist()) & keys)
    assert drawn > 0


def _edges(sample) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    nodes, mask = sample.flat()
    par = tree_parent(sample.fanouts).numpy()
    b, c = np.nonzero(mask[:, 1:].numpy())
    return nodes.numpy()[b, par[c + 1]], nodes.numpy()[b, c + 1]


def test_tree_features_follow_the_node_type(opened) -> None:
    _, _, net, _, _ = opened
    name = next(n for n in net.search if net.kind_of[n] == "search_text")
    smp = net.sampler[name]
    q = torch.as_tensor(np.flatnonzero(smp.degree(smp.to_global("query", np.arange(net.sampler.graph
                                                                               .num_nodes["query"]))) > 0)[:5])
    nodes, mask = net.sample_tree(name, "query", q, None, 0)
    x = net.tree_features(name, nodes, mask)
    with torch.no_grad():
        assert torch.allclose(x[:, 0], net.nodes.query_init(q), atol=1e-6)
        items = nodes[:, 1] - smp.offset["item"]
        assert bool(mask[:, 1].all()) and torch.allclose(x[:, 1], net.nodes.item_init(items), atol=1e-6)
    assert (x[~mask] == 0).all()


def test_eval_vectors_do_not_depend_on_the_batch(opened) -> None:
    _, _, net, _, _ = opened
    for name in net.search:
        s = net.names.index(name)
        with torch.no_grad():
            a = net.item_vectors(torch.arange(1, 41), torch.full((40,), s))
            b = net.item_vectors(torch.arange(21, 41), torch.full((20,), s))
        assert (a[20:] - b).abs().max().item() < 1e-5
