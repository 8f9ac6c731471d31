from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from unisr.cli.main import app
from unisr.data.features import FeatureEncoder
from unisr.data.schema import DatasetSpec
from unisr.data.split import SplitAssigner
from unisr.graph.build import (
    ITEM_CLICKED_BY,
    QUERY_CE,
    USER_CLICK,
    GraphConfig,
    _category_index,
    build_graph,
    build_or_load,
    se_type,
    social_type,
)
from unisr.graph.csr import from_coo
from unisr.graph.store import HeteroGraph

from .conftest import edge_rows


def _events(sim_dir: Path):
    t = pq.read_table(sim_dir / "events.parquet")
    spec = DatasetSpec.load(sim_dir)
    codes = SplitAssigner.for_dataset(sim_dir, spec.split).assign(t["event_id"].to_numpy(), t["ts"].to_numpy())
    return t, codes


def test_entity_indices_are_the_encoders(sim_dir: Path, graph: HeteroGraph) -> None:
    enc = FeatureEncoder.fit(sim_dir, DatasetSpec.load(sim_dir))
    np.testing.assert_array_equal(graph.user_ids, enc.user_ids)
    np.testing.assert_array_equal(graph.item_ids, enc.item_ids)
    assert graph.num_nodes["user"] == enc.schema.num_users + 1
    assert graph.num_nodes["item"] == enc.schema.num_items + 1


def test_click_edges_are_exactly_the_training_window_clicks(sim_dir: Path, graph: HeteroGraph) -> None:
    t, codes = _events(sim_dir)
    enc = FeatureEncoder.fit(sim_dir, DatasetSpec.load(sim_dir))
    click = t["click"].to_numpy() > 0
    train = click & (codes <= 1)
    u = enc.user_index(t["user_id"].to_numpy())
    i = enc.item_index(t["item_id"].to_numpy())
    ts = t["ts"].to_numpy()
    want = sorted(zip(u[train].tolist(), i[train].tolist(), ts[train].tolist(), strict=True))
    c = graph.rel(USER_CLICK)
    rows = edge_rows(c, np.arange(c.num_edges))
    got = sorted(zip(rows.tolist(), c.indices.tolist(), (c.attrs["ts"] + graph.meta["ts_base"]).tolist(),
                     strict=True))
    assert got == want
    # no edge from valid / test: every edge's ts lies before the end of the training window
    assert (c.attrs["ts"] + graph.meta["ts_base"]).max() < graph.meta["window_end_ts"]
    leaked = click & (codes >= 2)
    assert leaked.any()
    assert not set(zip(u[leaked].tolist(), i[leaked].tolist(), ts[leaked].tolist(), strict=True)) & set(got)


def test_structure_dtypes_and_indexes(graph: HeteroGraph) -> None:
    c = graph.rel(USER_CLICK)
    assert c.indices.dtype == np.int32 and c.attrs["query"].dtype == np.int32
    assert graph.bytes_per_edge() <= 24
    rev = graph.rel(ITEM_CLICKED_BY)
    # reverse edges point back at their forward edge
    eid = rev.attrs["eid"]
    np.testing.assert_array_equal(edge_rows(c, eid), rev.indices)
    np.testing.assert_array_equal(c.indices[eid], edge_rows(rev, np.arange(rev.num_edges)))
    # reverse rows are ordered by click time
    ts = c.attrs["ts"][eid]
    same = edge_rows(rev, np.arange(1, rev.num_edges)) == edge_rows(rev, np.arange(rev.num_edges - 1))
    assert (np.diff(ts)[same] >= 0).all()
    # click rows are sorted by (item category, ts): what the target-aware sampler's binary search needs
    cat = graph.item_category[c.indices].astype(np.int64)
    same_row = edge_rows(c, np.arange(1, c.num_edges)) == edge_rows(c, np.arange(c.num_edges - 1))
    assert (np.diff(cat)[same_row] >= 0).all()
    tie = same_row & (np.diff(cat) == 0)
    assert (np.diff(c.attrs["ts"].astype(np.int64))[tie] >= 0).all()
    assert not graph.category_index  # no separate index: 0 extra bytes per edge
    ci = _category_index(c, graph.item_category[c.indices])  # still available for inspection, narrow
    assert ci.start.dtype == np.int32 and ci.cat.dtype == np.int16
    seg = np.repeat(np.arange(len(ci.cat)), np.diff(ci.start))
    np.testing.assert_array_equal(graph.item_category[c.indices], ci.cat[seg])
    for name in ("friend", "pay", "share"):
        s = graph.rel(social_type(name))
        assert s.has_edges(s.indices, edge_rows(s, np.arange(s.num_edges))).all()  # symmetric
    se = graph.rel(se_type("search_visual"))
    assert se.num_edges > 0 and (se.attrs["sim"].astype(np.float32) >= 0.8 - 1e-3).all()
    assert not (edge_rows(se, np.arange(se.num_edges)) == se.indices).any()


def test_save_load_roundtrip_and_pyg(graph: HeteroGraph, tmp_path: Path) -> None:
    graph.save(tmp_path / "g")
    man = json.loads((tmp_path / "g" / "manifest.json").read_text())
    assert man["num_edges"] == graph.num_edges
    assert not list((tmp_path / "g").glob("*.pkl"))
    h = HeteroGraph.load(tmp_path / "g")
    for et, c in graph.relations.items():
        np.testing.assert_array_equal(h.rel(et).indptr, c.indptr)
        np.testing.assert_array_equal(h.rel(et).indices, c.indices)
        for a in c.attrs:
            np.testing.assert_array_equal(h.rel(et).attrs[a], c.attrs[a])
    data = h.to_hetero_data()
    assert data["user", "click", "item"].edge_index.shape == (2, graph.rel(USER_CLICK).num_edges)


def test_cache_and_config(sim_dir: Path, tmp_path: Path) -> None:
    g1, cached1 = build_or_load(sim_dir, tmp_path / "g")
    g2, cached2 = build_or_load(sim_dir, tmp_path / "g")
    assert not cached1 and cached2 and g1.num_edges == g2.num_edges
    g3, _ = build_or_load(sim_dir, tmp_path / "g3", GraphConfig(splits=("train",)))
    assert g3.rel(USER_CLICK).num_edges < g1.rel(USER_CLICK).num_edges
    with pytest.raises(ValueError):
        GraphConfig(splits=("train", "test"))


def test_from_coo_dedupe_and_order() -> None:
    c = from_coo(np.array([1, 1, 0, 1]), np.array([2, 0, 1, 2]), 3, 3, {"w": np.array([5, 6, 7, 8])},
                 dedupe=True)
    assert c.indptr.tolist() == [0, 1, 3, 3]
    assert c.indices.tolist() == [1, 0, 2] and c.attrs["w"].tolist() == [7, 6, 5]
    assert c.has_edges(np.array([1, 2, 5, -1]), np.array([2, 0, 0, 0])).tolist() == [True, False, False, False]


def test_cli_build_and_bad_input(sim_dir: Path, tmp_path: Path) -> None:
    r = CliRunner()
    res = r.invoke(app, ["graph", "build", "--data", str(sim_dir), "--out", str(tmp_path / "g")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "g" / "manifest.json").exists()
    res = r.invoke(app, ["graph", "build", "--data", str(sim_dir), "--out", str(tmp_path / "g")])
    assert res.exit_code == 0 and "cached" in res.output
    res = r.invoke(app, ["graph", "build", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    res = r.invoke(app, ["graph", "build", "--data", str(sim_dir), "--out", str(tmp_path / "x"),
                         "--splits", "train,valid"])
    assert res.exit_code == 2


def test_click_scenarios_keep_only_those_clicks(sim_dir: Path, graph: HeteroGraph) -> None:
    """``click_scenarios``: user-item edges of the named scenarios only (the suite's joint / single graphs);
    the other relations are unchanged; an unknown name is an error naming it."""
    spec = DatasetSpec.load(sim_dir)
    names = [s.name for s in sorted(spec.scenarios, key=lambda s: s.id)]
    keep = ("search_text", "feed_main")
    g = build_graph(sim_dir, GraphConfig(click_scenarios=keep))
    full, part = graph.rel(USER_CLICK), g.rel(USER_CLICK)
    scen = np.asarray(full.attrs["scenario"])
    want_mask = np.isin(scen, [names.index(k) for k in keep])
    assert 0 < part.num_edges == int(want_mask.sum()) < full.num_edges
    assert set(np.asarray(part.attrs["scenario"]).tolist()) <= {names.index(k) for k in keep}
    rows_full = edge_rows(full, np.arange(full.num_edges))[want_mask]
    rows_part = edge_rows(part, np.arange(part.num_edges))
    assert sorted(zip(rows_full.tolist(), np.asarray(full.indices)[want_mask].tolist(), strict=True)) == sorted(
        zip(rows_part.tolist(), np.asarray(part.indices).tolist(), strict=True))
    assert g.rel(QUERY_CE).num_edges == graph.rel(QUERY_CE).num_edges
    with pytest.raises(ValueError, match="nope"):
        build_graph(sim_dir, GraphConfig(click_scenarios=("nope",)))
