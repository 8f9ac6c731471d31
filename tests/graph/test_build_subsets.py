"""BOMGraph-SK / -SV graphs: ``GraphConfig.behaviour_scenarios`` restricts CE and OE edges to a scenario subset,
SE edges stay from every search scenario, the default graph and its fingerprint are unchanged, and each subset
gets its own cache folder (``pipeline/model_graph.py:graph_folder_name``). On the simulator's tiny data.

Shapes:
    (no tensors) graphs of ``sim_dir`` compared relation by relation
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from unisr.data.schema import DatasetSpec
from unisr.data.split import SplitAssigner
from unisr.graph.build import (
    ITEM_CE_QUERY,
    QUERY_CE,
    TRIGGER_CE,
    USER_CLICK,
    GraphConfig,
    build_graph,
    build_or_load,
    fingerprint,
    oe_type,
    se_type,
)
from unisr.graph.store import HeteroGraph
from unisr.pipeline.model_graph import graph_folder_name, model_graph_dir

from .conftest import edge_rows

SK = ("search_similar", "search_text")
SV = ("search_similar", "search_visual")
# the JSON that ``fingerprint`` hashed before ``behaviour_scenarios`` existed (copied from a graph manifest
# built then): the default config must keep hashing exactly these bytes, so existing caches stay valid
OLD_DEFAULT_JSON = (
    '{"category_level": -1, "click_scenarios": null, "oe_kinds": ["search_text", "search_visual", '
    '"search_similar", "recommend"], "oe_max_lag": 8, "oe_window_s": 1800, "se_exact_max": 50000, "se_k": 10, '
    '"se_threshold": 0.8, "social_symmetric": true, "splits": ["background", "train"]}')


@pytest.fixture(scope="module")
def sk_graph(sim_dir: Path) -> HeteroGraph:
    return build_graph(sim_dir, GraphConfig(behaviour_scenarios=SK))


def _same(a, b) -> bool:  # noqa: ANN001
    return (np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
            and sorted(a.attrs) == sorted(b.attrs) and all(np.array_equal(a.attrs[k], b.attrs[k]) for k in a.attrs))


def _ce_pairs(graph: HeteroGraph) -> tuple[set, set]:
    """(raw query id, raw item id) of the query CE edges and (raw trigger id, raw item id) of the trigger ones."""
    out = []
    for et, src_ids in ((QUERY_CE, graph.query_ids), (TRIGGER_CE, graph.item_ids)):
        r = graph.rel(et)
        rows = edge_rows(r, np.arange(r.num_edges))
        out.append(set(zip(src_ids[rows - 1].tolist(), graph.item_ids[r.indices - 1].tolist(), strict=True)))
    return out[0], out[1]


def _expected_ce(sim_dir: Path, scenarios: tuple[str, ...] | None) -> tuple[set, set]:
    """The CE pairs computed from the raw events: training-window clicks of ``scenarios`` (None: all)."""
    spec = DatasetSpec.load(sim_dir)
    t = pq.read_table(sim_dir / "events.parquet")
    col = {c: pc.fill_null(t[c], -1).to_numpy() for c in ("scenario_id", "query_id", "trigger_item_id", "item_id")}
    codes = SplitAssigner.for_dataset(sim_dir, spec.split).assign(t["event_id"].to_numpy(), t["ts"].to_numpy())
    ids = {s.name: s.id for s in spec.scenarios}
    keep = (t["click"].to_numpy() > 0) & (codes <= 1)
    if scenarios is not None:
        keep &= np.isin(col["scenario_id"], [ids[n] for n in scenarios])
    qt = pq.read_table(sim_dir / "queries.parquet")
    not_trigger = qt["query_id"].to_numpy()[qt["kind"].to_numpy(zero_copy_only=False) != "trigger"]
    trig = keep & (col["trigger_item_id"] >= 0)
    q = keep & (col["trigger_item_id"] < 0) & np.isin(col["query_id"], not_trigger)
    return (set(zip(col["query_id"][q].tolist(), col["item_id"][q].tolist(), strict=True)),
            set(zip(col["trigger_item_id"][trig].tolist(), col["item_id"][trig].tolist(), strict=True)))


def test_subset_ce_edges_come_only_from_its_scenarios(sim_dir: Path, graph: HeteroGraph,
                                                      sk_graph: HeteroGraph) -> None:
    got_q, got_t = _ce_pairs(sk_graph)
    want_q, want_t = _expected_ce(sim_dir, SK)
    assert got_q == want_q and got_t == want_t
    full_q, full_t = _ce_pairs(graph)
    assert (full_q, full_t) == _expected_ce(sim_dir, None)
    # visual search's clicks form query CE edges in the full graph, and none of theirs alone is left here
    only_v = _expected_ce(sim_dir, ("search_visual",))[0] - want_q
    assert only_v and only_v <= full_q and not only_v & got_q
    assert got_q < full_q


def test_subset_oe_only_for_its_scenarios_and_se_unchanged(graph: HeteroGraph, sk_graph: HeteroGraph) -> None:
    assert set(sk_graph.relations) == set(graph.relations)  # same relation types; excluded OE ones are empty
    for name, kind in zip(graph.meta["scenarios"], graph.meta["scenario_kinds"], strict=True):
        if oe_type(name) in graph.relations:
            if name in SK:
                assert _same(sk_graph.rel(oe_type(name)), graph.rel(oe_type(name)))
            else:
                assert sk_graph.rel(oe_type(name)).num_edges == 0
        if kind.startswith("search"):
            assert se_type(name) in graph.relations
            assert _same(sk_graph.rel(se_type(name)), graph.rel(se_type(name)))
    assert graph.rel(oe_type("search_visual")).num_edges > 0  # so the emptiness above says something
    assert graph.rel(oe_type("search_similar")).num_edges > 0
    assert _same(sk_graph.rel(USER_CLICK), graph.rel(USER_CLICK))  # user clicks: ``click_scenarios``' business


def test_default_is_the_old_graph_and_fingerprint(sim_dir: Path, graph: HeteroGraph) -> None:
    cfg = GraphConfig()
    assert cfg.behaviour_scenarios is None
    assert json.dumps(cfg.as_dict(), sort_keys=True, default=list) == OLD_DEFAULT_JSON
    assert graph.meta["config"] == cfg.as_dict()
    every = build_graph(sim_dir, GraphConfig(behaviour_scenarios=tuple(graph.meta["scenarios"])))
    assert set(every.relations) == set(graph.relations)
    for et in graph.relations:  # naming every scenario restricts nothing: the same graph, edge for edge
        assert _same(every.rel(et), graph.rel(et)), et
    assert fingerprint(sim_dir, GraphConfig(behaviour_scenarios=SK)) != fingerprint(sim_dir, cfg)
    # the names are a set: order and repeats give the same config and the same cache key
    assert GraphConfig(behaviour_scenarios=["search_text", "search_similar", "search_text"]) == \
        GraphConfig(behaviour_scenarios=SK)


def test_subset_cache_folders(sim_dir: Path, tmp_path: Path) -> None:
    net = SimpleNamespace(graph_config=lambda: GraphConfig(se_threshold=0.85, behaviour_scenarios=SV))
    cfg = SimpleNamespace(model_name="bomgraph", data_path=str(sim_dir), data=SimpleNamespace(graph_dir=str(tmp_path)))
    assert model_graph_dir(net, cfg) == tmp_path / "bomgraph-se0.85-search_similar+search_visual"
    assert graph_folder_name("bomgraph", GraphConfig(se_threshold=0.85)) == "bomgraph-se0.85"
    assert graph_folder_name("bomgraph", GraphConfig(se_threshold=0.85, behaviour_scenarios=SK)) == \
        "bomgraph-se0.85-search_similar+search_text"
    assert graph_folder_name("m", GraphConfig(behaviour_scenarios=["share/a"])) == "m-se0.8-share_a"
    out = model_graph_dir(net, cfg)
    g, cached = build_or_load(sim_dir, out, net.graph_config())
    assert not cached and g.rel(QUERY_CE).num_edges > 0
    assert build_or_load(sim_dir, out, net.graph_config())[1]
    # another subset in the same folder is never taken for this one (its fingerprint differs): rebuilt
    assert not build_or_load(sim_dir, out, GraphConfig(se_threshold=0.85, behaviour_scenarios=SK))[1]


def test_ce_query_kinds_keeps_only_those_queries_edges(sim_dir: Path, graph: HeteroGraph) -> None:
    qt = pq.read_table(sim_dir / "queries.parquet")
    kind = dict(zip(qt["query_id"].to_pylist(), qt["kind"].to_pylist(), strict=True))
    text = build_graph(sim_dir, GraphConfig(ce_query_kinds=("text",)))
    full_q, full_t = _ce_pairs(graph)
    got_q, got_t = _ce_pairs(text)
    assert got_q == {(q, i) for q, i in full_q if kind[q] == "text"}
    assert {kind[q] for q, _ in full_q} >= {"text", "visual"}  # the default graph has visual query CE edges
    assert got_t == full_t
    np.testing.assert_array_equal(text.query_ids, graph.query_ids)  # visual queries stay (isolated) nodes
    for et in set(graph.relations) - {QUERY_CE, ITEM_CE_QUERY}:  # every other relation is the default's
        assert _same(text.rel(et), graph.rel(et)), et
    assert graph_folder_name("bomgraph", GraphConfig(se_threshold=0.85, ce_query_kinds=("text",),
                                                     behaviour_scenarios=SK)) == \
        "bomgraph-se0.85-cetext-search_similar+search_text"
    assert fingerprint(sim_dir, GraphConfig(ce_query_kinds=("text",))) != fingerprint(sim_dir, GraphConfig())
    with pytest.raises(ValueError, match=r"ce_query_kinds: unknown query kind\(s\) \['trigger'\]"):
        build_graph(sim_dir, GraphConfig(ce_query_kinds=("text", "trigger")))


@pytest.mark.parametrize("bad", [(), "search_text"])
def test_bad_subset_is_refused(bad) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="behaviour_scenarios"):
        GraphConfig(behaviour_scenarios=bad)
    with pytest.raises(ValueError, match="ce_query_kinds"):
        GraphConfig(ce_query_kinds=bad)


def test_unknown_subset_scenario_names_the_dataset(sim_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"behaviour_scenarios: unknown scenario\(s\) \['search_photo'\]"):
        build_graph(sim_dir, GraphConfig(behaviour_scenarios=("search_text", "search_photo")))
