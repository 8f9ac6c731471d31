"""BOMGraph (models/bomgraph.py + train/bomgraph.py) on the simulator's tiny data: ``unisr train --model
bomgraph`` end to end (per-scenario retrieval metrics, one item index per search scenario, ``unisr evaluate``
reproducing them), the positive-pair exclusion, the switches and the eval-mode determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from unisr.index.faiss_index import load_indexes
from unisr.models.bomgraph import BOMGraph, BOMGraphConfig
from unisr.pipeline.run_folder import open_run
from unisr.train.matching import attach_run_graph

SEARCH = ("search_text", "search_visual", "search_similar")



@pytest.fixture(scope="module")
def trained(sim_dir: Path, tmp_path_factory: pytest.TempPathFactory, unisr) -> Path:
    out = tmp_path_factory.mktemp("bom") / "run"
    unisr("train", "--model", "bomgraph", "--data", sim_dir, "--out", out, "--set", "train.epochs=1",
        "--set", "train.progress=false", "--set", "model.dim=16", "--set", "model.id_dim=8",
        "--set", "model.term_dim=8", "--set", "model.negatives=3", "--set", "model.query_buckets=512")
    return out


def test_train_writes_search_metrics_and_one_index_per_search_scenario(trained: Path, unisr) -> None:
    m = json.loads((trained / "metrics.json").read_text())
    assert m["model"] == "bomgraph" and m["task"] == "matching"
    assert set(m["scenarios"]) == set(SEARCH)
    for block in m["scenarios"].values():
        for k in (100, 200):
            for name in ("hr", "mrr", "ndcg"):
                assert 0.0 <= block[f"{name}@{k}"] <= 1.0
        assert block["hr@100"] <= block["hr@200"] and block["n"] > 0
    assert m["matching"]["objectives"] == ["unisr.train.bomgraph:BOMGraphObjective"]
    log = [json.loads(line) for line in (trained / "train_log.jsonl").read_text().splitlines()]
    assert log and log[0]["loss_match"] > 0 and "loss_rd" in log[0] and log[0]["augmented"] > 0
    idx = load_indexes(trained / "item_index")
    assert set(idx) == set(SEARCH)
    # `unisr evaluate` re-embeds the corpus with the eval-mode sampler seed: the same numbers
    ev = json.loads(unisr("evaluate", "--run", trained).stdout)
    for key in ("hr@100", "mrr@100", "ndcg@200"):
        assert ev["overall"][key] == pytest.approx(m["overall"][key], abs=1e-6)
    # the ceilings on simulated data, under the model's protocol (its query groups and categories), reproduced too
    base = m["baselines"]
    assert set(base) == {"popularity", "oracle_click", "oracle_expected"}
    for name in ("oracle_click", "oracle_expected"):
        assert base[name]["overall"]["n"] == m["overall"]["n"]
        assert base[name]["overall"]["mrr@100"] > base["popularity"]["overall"]["mrr@100"]
        assert ev["baselines"][name]["overall"]["mrr@100"] == pytest.approx(base[name]["overall"]["mrr@100"])


@pytest.fixture(scope="module")
def opened(trained: Path):
    cfg, encoder, net, pipe = open_run(trained)
    attach_run_graph(net, cfg, pipe)
    batch = next(b for b in pipe.batches("train") if bool((b.label("click") > 0.5).any()))
    return cfg, encoder, net.eval(), pipe, batch


def test_query_sample_excludes_its_positive(opened) -> None:
    _, _, net, _, _ = opened
    g = net.sampler.graph
    from unisr.graph.build import QUERY_CE

    ce = g.rel(QUERY_CE)
    q = np.nonzero(np.diff(ce.indptr) == 1)[0][:20]  # queries with exactly one clicked item
    items = ce.indices[ce.indptr[q]].astype(np.int64)
    q, items = torch.as_tensor(q), torch.as_tensor(items)
    free = net._tree("M_q^K", q, None, 0)
    assert (free.nodes1[:, 0] == items).all() and free.mask1[:, 0].all()
    held = net._tree("M_q^K", q, torch.stack([q, items], 1), 0)
    assert not held.mask1.any()  # the only neighbour was the positive: discarded, nothing to redraw


def test_eval_vectors_do_not_depend_on_the_batch(opened) -> None:
    _, _, net, _, _ = opened
    s = net.names.index("search_text")
    a = net.item_vectors(torch.arange(1, 41), torch.full((40,), s))
    b = net.item_vectors(torch.arange(21, 41), torch.full((20,), s))
    assert (a[20:] - b).abs().max().item() < 1e-5, (a[20:] - b).abs().max(1).values


def test_switches_change_the_computation(opened) -> None:
    _, encoder, net, pipe, batch = opened
    torch.manual_seed(0)
    schema = encoder.schema
    base = dict(dim=16, id_dim=8, term_dim=8, query_buckets=512)
    full = BOMGraph.from_config(schema, BOMGraphConfig(**base))
    no_cs = BOMGraph.from_config(schema, BOMGraphConfig(**base, cross_scenario=False))
    no_dr = BOMGraph.from_config(schema, BOMGraphConfig(**base, disentangle=False))
    assert full.items_enc.inter is not None and no_cs.items_enc.inter is None
    assert full.dr is not None and no_dr.dr is None
    for m in (full, no_cs, no_dr):
        m.attach_items(encoder)
        m.attach_graph(net.sampler.graph, pipe.ctx.queries)
        m.eval()
    s = net.names.index("search_similar")
    items, scen = torch.arange(1, 31), torch.full((30,), s)
    i, i_bar, f, z = full.encode_items(items, scen)
    assert f.shape == (30, 3, 16) and not torch.allclose(i, i_bar)  # DR refines the item
    i2, i_bar2, f2, _ = no_dr.encode_items(items, scen)
    assert f2 is None and torch.equal(i2, i_bar2)
    # the objective's parts follow the switches
    from unisr.evaluate.retrieval import Interactions
    from unisr.train.bomgraph import BOMGraphObjective

    train_x = Interactions.from_batches(pipe.batches("train"))
    parts = {}
    for name, cfg in {"full": {}, "no_cl": {"contrastive": False, "augment": False},
                      "rd_only": {"dr_steps": (True, False, False)}}.items():
        m = BOMGraph.from_config(schema, BOMGraphConfig(**base, **cfg))
        m.attach_items(encoder)
        m.attach_graph(net.sampler.graph, pipe.ctx.queries)
        obj = BOMGraphObjective(m, seed=0)
        obj.attach_interactions(train_x)
        loss, parts[name] = obj(batch)
        loss.backward()
        assert torch.isfinite(loss)
    assert {"loss_rd", "loss_ct", "loss_ca", "loss_cl"} <= set(parts["full"])
    assert "loss_cl" not in parts["no_cl"] and parts["no_cl"]["augmented"] == 0
    assert set(parts["rd_only"]) & {"loss_rd", "loss_ct", "loss_ca"} == {"loss_rd"}


def test_in_category_retrieval_never_returns_another_category(opened) -> None:
    from unisr.evaluate.retrieval import Interactions, collect_queries, evaluate_retrieval
    from unisr.index.faiss_index import build_index, search
    from unisr.train.matching import embed_scenarios

    cfg, encoder, net, pipe, _ = opened
    assert net.retrieval_category is not None
    n_items = encoder.schema.num_items
    q = collect_queries(net.user_vectors, pipe.batches("test"), len(net.names), Interactions.empty(), n_items,
                        "none", group=net.query_group, category=net.query_category)
    assert q.category is not None and (q.category >= 0).mean() > 0.9
    corpus = embed_scenarios(net, n_items, len(net.names), set(q.scenario.tolist()))
    cat = net.retrieval_category
    for s in sorted(set(q.scenario.tolist())):
        index = build_index(corpus[s], cfg.train.matching.index)
        for r in np.flatnonzero(q.scenario == s)[:10]:
            _, got = search(index, q.vectors[r:r + 1], 50, allowed=np.flatnonzero(cat[1:] == q.category[r]))
            got = got[got >= 0]
            assert len(got) and (cat[got + 1] == q.category[r]).all()
    # the run's own evaluation: every ranked item in its query's category
    res = evaluate_retrieval(q, corpus, Interactions.empty(), net.names, cfg.train.matching, item_category=cat)
    assert res["overall"]["n"] == len(q.user)


def test_visual_query_category_is_predicted_from_the_image(opened) -> None:
    import dataclasses

    _, _, net, pipe, _ = opened
    vis = net.names.index("search_visual")
    # an item's own image as the query embedding: the classifier (1-NN by image cosine) names that item's category
    items = torch.arange(1, 41)
    assert torch.equal(net.visual_query_category(net.nodes.item_image[items]),
                       torch.as_tensor(net.item_category[items.numpy()]))
    b = next(b for b in pipe.batches("test") if bool((b.scenario_id == vis).any()))
    sel = b.select(torch.nonzero(b.scenario_id == vis).squeeze(1))
    got = net.query_category(sel)
    # the query table's category is not what the classifier reads: replace the embedding, the category follows it
    other = net.nodes.item_image[torch.arange(1, len(sel) + 1)]
    moved = dataclasses.replace(sel, vectors={**sel.vectors, "query.emb": other})
    assert torch.equal(net.query_category(moved), torch.as_tensor(net.item_category[1:len(sel) + 1]))
    data_mode = net.cfg.model_copy(update={"visual_category": "data"})
    net.cfg, keep = data_mode, net.cfg
    try:
        assert torch.equal(net.query_category(moved), net.query_category(sel))  # "data": the embedding is unused
    finally:
        net.cfg = keep
    assert (got >= 0).all()


def test_scenario_subset_sets_the_graph_and_keeps_similar(opened) -> None:
    from pydantic import ValidationError

    from unisr.models.bomgraph import BOMGraph, BOMGraphConfig

    _, encoder, _, _, _ = opened
    base = dict(dim=16, id_dim=8, term_dim=8, query_buckets=512)
    sk = BOMGraph.from_config(encoder.schema, BOMGraphConfig(**base, subset=["search_similar", "search_text"]))
    g = sk.graph_config()
    assert set(g.behaviour_scenarios) == {"search_similar", "search_text"} and g.ce_query_kinds == ("text",)
    full = BOMGraph.from_config(encoder.schema, BOMGraphConfig(**base, text_query_ce=False)).graph_config()
    assert full.behaviour_scenarios is None and full.ce_query_kinds is None  # every logged query a node
    with pytest.raises(ValidationError, match="search_similar"):
        BOMGraphConfig(subset=["search_text", "search_visual"])


def test_checkpoint_of_the_old_layout_loads(opened) -> None:
    """Runs written before the node initialisation moved into ``nodes`` (top-level ``terms.weight``, ...) load."""
    _, encoder, net, _, _ = opened
    old = {k.removeprefix("nodes."): v for k, v in net.state_dict().items()}
    assert "item_fc.weight" in old and not any(k.startswith("nodes.") for k in old)
    fresh = BOMGraph.from_config(encoder.schema, net.cfg)
    fresh.load_state_dict(old)
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), net.state_dict().values(), strict=True))


def test_sparse_gradients_follow_the_table_size_rule(opened) -> None:
    """The id and term tables take sparse gradients (sparse Adagrad) by the one table-size rule, or when told."""
    from unisr.nn.embedding import SPARSE_AUTO_ROWS
    from unisr.train.optim import split_parameters

    _, encoder, net, _, batch = opened
    assert encoder.schema.num_items + 1 < SPARSE_AUTO_ROWS and not net.nodes.item_id.sparse  # tiny: dense
    m = BOMGraph.from_config(encoder.schema, net.cfg.model_copy(update={"sparse_grad": True}))
    tables = {id(t.weight) for t in (m.nodes.item_id, m.nodes.query_id, m.nodes.terms)}
    assert {id(p) for p in split_parameters(m)[1]} == tables
    m.nodes.item_init(torch.arange(1, 9)).sum().backward()
    assert m.nodes.item_id.weight.grad.is_sparse
