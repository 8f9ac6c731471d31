"""The ``SRJGraphHook`` (SRJGraph and its GNN baselines): neighbourhoods as of each target event's time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from unisr.data.features import FeatureEncoder
from unisr.data.loader import DatasetContext, EventLoader, LoaderConfig
from unisr.data.schema import DatasetSpec
from unisr.graph.hooks import SRJGraphHook
from unisr.graph.store import HeteroGraph


@pytest.fixture(scope="module")
def encoder(sim_dir: Path) -> FeatureEncoder:
    return FeatureEncoder.fit(sim_dir, DatasetSpec.load(sim_dir))


def _batch(sim_dir: Path, encoder: FeatureEncoder, split: str):
    ctx = DatasetContext.open(sim_dir, encoder)
    loader = EventLoader(ctx, split, LoaderConfig(scenarios=["search_text", "feed_main"], eval_batch_size=2048),
                         train=False)
    return next(iter(loader.epoch(0)))


def _hop_counts(hook: SRJGraphHook, b) -> np.ndarray:
    b = type(b)(**{**b.__dict__, "subgraph": {}})
    sub = hook(b).subgraph
    return np.stack([sub[f"srj_user.hop{k}.mask"].sum(1).numpy() for k in (1, 2, 3)]
                    + [sub[f"srj_item.hop{k}.mask"].sum(1).numpy() for k in (1, 2, 3)], 1)


def test_batches_carry_event_times(sim_dir: Path, encoder: FeatureEncoder) -> None:
    b = _batch(sim_dir, encoder, "train")
    assert b.ts is not None and b.ts.shape == (len(b),) and (b.ts > 0).all()


def test_training_events_see_only_earlier_clicks(graph: HeteroGraph, sim_dir: Path,
                                                 encoder: FeatureEncoder) -> None:
    """A training-window event's neighbourhood is cut at its time (the graph holds the whole training window),
    a test event's is not (the whole graph is in its past); ``temporal=False`` restores the unbounded one."""
    timed = SRJGraphHook(graph, encoder, None, temporal=True)
    free = SRJGraphHook(graph, encoder, None, temporal=False)
    train = _batch(sim_dir, encoder, "train")
    c_timed, c_free = _hop_counts(timed, train), _hop_counts(free, train)
    assert (c_timed[:, 0] <= c_free[:, 0]).all()  # hop 1 is min(width, #eligible): never more when cut
    assert c_timed.sum() < c_free.sum()
    # the sampler's own edge times: all before each event (relative to the graph's ts base)
    ub, ib = timed.sampler.sample(train.user_index, train.item_index, seed=0, ts=train.ts)
    t_rel = train.ts.numpy() - int(graph.meta["ts_base"])
    for blk in (ub, ib):
        for k in range(len(blk.nodes)):
            m = blk.mask[k].numpy()
            assert (blk.extra["ts"][k].numpy() < t_rel[:, None])[m].all()
    test = _batch(sim_dir, encoder, "test")
    np.testing.assert_array_equal(_hop_counts(timed, test), _hop_counts(free, test))


def test_sampled_slots_carry_their_rows_and_padding_is_zero(graph: HeteroGraph, sim_dir: Path,
                                                            encoder: FeatureEncoder) -> None:
    """The hook gathers rows only at sampled slots: there feat / pre_feat / qtok are the node's, its
    precursor's and the click edge's rows; padded slots are all zero, and every slot under a padded precursor is
    padded (what lets the models skip unreachable nodes)."""
    ctx = DatasetContext.open(sim_dir, encoder)
    hook = SRJGraphHook(graph, encoder, ctx.queries, temporal=True)
    b = _batch(sim_dir, encoder, "train")
    ub, ib = hook.sampler.sample(b.user_index, b.item_index, seed=hook.base_seed * 1_000_003, ts=b.ts)
    sub = hook(type(b)(**{**b.__dict__, "subgraph": {}})).subgraph
    n_query = 0
    for side, blocks, start in (("srj_user", ub, "user"), ("srj_item", ib, "item")):
        prev, prev_mask = start, None
        for k, ntype in enumerate(blocks.node_types):
            h = f"{side}.hop{k + 1}"
            m = sub[f"{h}.mask"].numpy()
            np.testing.assert_array_equal(m, blocks.mask[k].numpy())
            if prev_mask is not None:  # under a padded precursor: padded
                assert not m[~np.repeat(prev_mask, blocks.fanouts[k], axis=1)].any()
            for key, table, index in (("feat", hook.feats[ntype], blocks.nodes[k]),
                                      ("pre_feat", hook.feats[prev], blocks.pre[k]),
                                      ("qtok", hook.query_tokens, blocks.extra["query"][k])):
                got = sub[f"{h}.{key}"].numpy()
                np.testing.assert_array_equal(got[m], table[index.numpy()[m]], err_msg=f"{h}.{key}")
                assert not got[~m].any(), f"{h}.{key} not zero at padded slots"
            n_query += int((sub[f"{h}.qtok"].numpy()[m] > 0).any(-1).sum())
            prev, prev_mask = ntype, m
    assert n_query > 0  # the query rows are exercised
