"""The ``graph:social`` batch hook (TreeMS): per-view neighbourhoods of the source and destination users."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from unisr.data.features import FeatureEncoder
from unisr.data.loader import DatasetContext, EventLoader, LoaderConfig
from unisr.data.schema import DatasetSpec
from unisr.graph.build import social_type
from unisr.graph.hooks import SocialHook, SocialSpec, hook_for
from unisr.graph.store import HeteroGraph
from unisr.graph.subgraph import SocialSubgraph


@pytest.fixture(scope="module")
def encoder(sim_dir: Path) -> FeatureEncoder:
    return FeatureEncoder.fit(sim_dir, DatasetSpec.load(sim_dir))


@pytest.fixture(scope="module")
def share_batch(sim_dir: Path, encoder: FeatureEncoder):
    ctx = DatasetContext.open(sim_dir, encoder)
    share = [n for n, k in zip(encoder.schema.scenarios, encoder.schema.scenario_kinds, strict=True) if k == "share"]
    loader = EventLoader(ctx, "train", LoaderConfig(scenarios=share, eval_batch_size=512), train=False)
    return next(iter(loader.epoch(0)))


def _fresh(b):
    return type(b)(**{**b.__dict__, "subgraph": None})


def _hops(sub: SocialSubgraph) -> dict[str, torch.Tensor]:
    """Every tensor of the sample by a readable name (view.role.hop.field)."""
    out = {}
    for v, by_role in sub.views.items():
        for role, hood in by_role.items():
            for k, h in enumerate(hood.hops, start=1):
                for name in ("nodes", "mask", "pre", "edge", "feat"):
                    out[f"{v}.{role}.hop{k}.{name}"] = getattr(h, name)
    return out


def test_keys_shapes_and_true_neighbours(graph: HeteroGraph, encoder: FeatureEncoder, share_batch) -> None:
    views = graph.meta["social_views"]
    assert set(views) >= {"friend", "pay", "share"}
    hook = SocialHook(graph, encoder, SocialSpec(views, (4, 3)))
    b = hook(_fresh(share_batch))
    assert b.target_user_index is not None and (b.target_user_index > 0).all()
    sub = b.subgraph
    assert isinstance(sub, SocialSubgraph) and list(sub.views) == list(views) == hook.views
    assert all(list(by_role) == ["src", "dst"] and all(len(h.hops) == 2 for h in by_role.values())
               for by_role in sub.views.values())
    n, f = len(b), encoder.user_cat.shape[1]
    assert sub.src_seed_feat.shape == (n, f)
    assert torch.equal(sub.src_seed_feat, torch.from_numpy(encoder.user_cat[b.user_index.numpy()]))
    assert torch.equal(sub.dst_seed_feat, torch.from_numpy(encoder.user_cat[b.target_user_index.numpy()]))
    pair = sub.pair
    assert pair.shape == (n, len(views)) and pair.dtype == torch.float32
    assert 0 < float(pair.sum()) < pair.numel()
    some = 0
    for j, v in enumerate(views):
        csr = graph.rel(social_type(v))
        want = csr.has_edges(b.user_index.numpy(), b.target_user_index.numpy())
        np.testing.assert_array_equal(pair[:, j].numpy(), want.astype(np.float32))
        for role, seeds in (("src", b.user_index), ("dst", b.target_user_index)):
            hood = sub.neighbourhood(v, role)
            assert torch.equal(hood.seeds, seeds)
            for k, w in ((1, 4), (2, 12)):
                hop = hood.hops[k - 1]
                nodes, mask, pre, feat = hop.nodes, hop.mask, hop.pre, hop.feat
                assert nodes.shape == mask.shape == pre.shape == hop.edge.shape == (n, w) and feat.shape == (n, w, f)
                assert (hop.edge[~mask] == -1).all() and (hop.edge[mask] >= 0).all()
                m = mask.numpy()
                # every sampled node is a true neighbour of its precursor in that view
                assert csr.has_edges(pre.numpy()[m], nodes.numpy()[m]).all()
                assert (nodes[~mask] == 0).all()
                assert torch.equal(feat, torch.from_numpy(encoder.user_cat[nodes.numpy()]))
                some += int(m.sum())
            # hop-1 precursors are the seeds; hop-1 mask counts min(degree, fanout)
            deg = csr.degree(seeds.numpy())
            np.testing.assert_array_equal(hood.hops[0].mask.sum(1).numpy(), np.minimum(deg, 4))
            m1 = hood.hops[0].mask
            assert (hood.hops[0].pre == seeds[:, None])[m1].all()
    assert some > 0


def test_determinism_and_reseeding(graph: HeteroGraph, encoder: FeatureEncoder, share_batch) -> None:
    hook = SocialHook(graph, encoder, SocialSpec(["friend"], (3,)))
    hook.reset(5)
    a = _hops(hook(_fresh(share_batch)).subgraph)
    hook.reset(5)
    b = _hops(hook(_fresh(share_batch)).subgraph)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    c = _hops(hook(_fresh(share_batch)).subgraph)  # next call: a new seed
    hook.reset(6)
    d = _hops(hook(_fresh(share_batch)).subgraph)
    key = "friend.src.hop1.nodes"
    assert not torch.equal(a[key], c[key]) or not torch.equal(a[key], d[key])


def test_non_share_rows_and_missing_target(graph: HeteroGraph, encoder: FeatureEncoder, share_batch) -> None:
    hook = SocialHook(graph, encoder, SocialSpec(["friend"], (3,)))
    b = _fresh(share_batch)
    b.target_user_index = torch.zeros_like(b.target_user_index)  # no destination user: empty neighbourhood
    out = hook(b).subgraph
    assert not out.neighbourhood("friend", "dst").hops[0].mask.any()
    b.target_user_index = None
    with pytest.raises(ValueError, match="target_user_index"):
        hook(b)


def test_factory_builds_graph(sim_dir: Path, encoder: FeatureEncoder, tmp_path: Path) -> None:
    hook = hook_for(SocialSpec(["pay"], [2]), sim_dir, encoder, None, tmp_path / "g")
    assert isinstance(hook, SocialHook)
    assert hook.views == ["pay"] and hook.fanouts == [2] and hook.spec == SocialSpec(("pay",), (2,))
    with pytest.raises(ValueError, match="no social view"):
        hook_for(SocialSpec(["nope"], [2]), sim_dir, encoder, None, tmp_path / "g")
    with pytest.raises(TypeError, match="fanouts"):  # no default of its own: the model's config is the source
        SocialSpec(["pay"])


def test_loader_selects_scenarios_by_kind(sim_dir: Path, encoder: FeatureEncoder) -> None:
    """``data.scenario_kinds`` (used by TreeMS's defaults): only share events, every one with a target user."""
    from unisr.data.loader import LoaderConfigError

    ctx = DatasetContext.open(sim_dir, encoder)
    kinds = encoder.schema.scenario_kinds
    share = {i for i, k in enumerate(kinds) if k == "share"}
    ld = EventLoader(ctx, "valid", LoaderConfig(scenario_kinds=["share"]), train=False)
    assert ld.scenarios == share
    b = next(iter(ld.epoch(0)))
    assert set(b.scenario_id.tolist()) <= share and (b.target_user_index > 0).all()
    one = encoder.schema.scenarios[min(share)]
    both = EventLoader(ctx, "valid", LoaderConfig(scenario_kinds=["share"], scenarios=[one, "feed_main"]),
                       train=False)
    assert both.scenarios == {min(share)}  # a scenario must pass both filters
    with pytest.raises(LoaderConfigError, match="scenario_kinds"):
        EventLoader(ctx, "valid", LoaderConfig(scenario_kinds=["nope"]), train=False)
