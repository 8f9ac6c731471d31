"""The ``SRJGraphHook`` (SRJGraph and its GNN baselines): neighbourhoods as of each target event's time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from unisr.data.features import FeatureEncoder
from unisr.data.loader import DatasetContext, EventLoader, LoaderConfig
from unisr.data.schema import DatasetSpec
from unisr.graph.hooks import SRJGraphHook, TargetAwareSpec, hook_for
from unisr.graph.store import HeteroGraph


@pytest.fixture(scope="module")
def encoder(sim_dir: Path) -> FeatureEncoder:
    return FeatureEncoder.fit(sim_dir, DatasetSpec.load(sim_dir))


def _batch(sim_dir: Path, encoder: FeatureEncoder, split: str):
    ctx = DatasetContext.open(sim_dir, encoder)
    loader = EventLoader(ctx, split, LoaderConfig(scenarios=["search_text", "feed_main"], eval_batch_size=2048),
                         train=False)
    return next(iter(loader.epoch(0)))


PAPER = ([25, 1, 10], [1, 25, 1])  # SRJGraph's widths (paper sec. 5.3.1)


def _hook(graph: HeteroGraph, encoder: FeatureEncoder, queries, temporal: bool) -> SRJGraphHook:
    return SRJGraphHook(graph, encoder, queries, TargetAwareSpec(*PAPER, category_filter=True, temporal=temporal))


def _hop_counts(hook: SRJGraphHook, b) -> np.ndarray:
    b = type(b)(**{**b.__dict__, "subgraph": None})
    sub = hook(b).subgraph
    return np.stack([h.mask.sum(1).numpy() for h in sub.user_hops] + [h.mask.sum(1).numpy() for h in sub.item_hops],
                    1)


def test_batches_carry_event_times(sim_dir: Path, encoder: FeatureEncoder) -> None:
    b = _batch(sim_dir, encoder, "train")
    assert b.ts is not None and b.ts.shape == (len(b),) and (b.ts > 0).all()


def test_training_events_see_only_earlier_clicks(graph: HeteroGraph, sim_dir: Path,
                                                 encoder: FeatureEncoder) -> None:
    """A training-window event's neighbourhood is cut at its time (the graph holds the whole training window),
    a test event's is not (the whole graph is in its past); ``temporal=False`` restores the unbounded one."""
    timed = _hook(graph, encoder, None, temporal=True)
    free = _hook(graph, encoder, None, temporal=False)
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
    hook = _hook(graph, encoder, ctx.queries, temporal=True)
    b = _batch(sim_dir, encoder, "train")
    ub, ib = hook.sampler.sample(b.user_index, b.item_index, seed=hook.base_seed * 1_000_003, ts=b.ts)
    sub = hook(type(b)(**{**b.__dict__, "subgraph": None})).subgraph
    assert sub.user_seed_feat.shape == (len(b), encoder.user_cat.shape[1])
    np.testing.assert_array_equal(sub.user_seed_feat.numpy(), hook.feats["user"][b.user_index.numpy()])
    np.testing.assert_array_equal(sub.item_seed_feat.numpy(), hook.feats["item"][b.item_index.numpy()])
    n_query = 0
    for side, blocks in (("user", ub), ("item", ib)):
        prev, prev_mask = side, None
        assert len(sub.hops(side)) == len(blocks.node_types) == 3
        for k, ntype in enumerate(blocks.node_types):
            h, hop = f"{side}.hop{k + 1}", sub.hops(side)[k]
            m = hop.mask.numpy()
            np.testing.assert_array_equal(m, blocks.mask[k].numpy())
            if prev_mask is not None:  # under a padded precursor: padded
                assert not m[~np.repeat(prev_mask, blocks.fanouts[k], axis=1)].any()
            for key, table, index in (("feat", hook.feats[ntype], blocks.nodes[k]),
                                      ("pre_feat", hook.feats[prev], blocks.pre[k]),
                                      ("qtok", hook.query_tokens, blocks.extra["query"][k])):
                got = getattr(hop, key).numpy()
                np.testing.assert_array_equal(got[m], table[index.numpy()[m]], err_msg=f"{h}.{key}")
                assert not got[~m].any(), f"{h}.{key} not zero at padded slots"
            n_query += int((hop.qtok.numpy()[m] > 0).any(-1).sum())
            prev, prev_mask = ntype, m
    assert n_query > 0  # the query rows are exercised


def test_hook_takes_every_sampling_value_from_its_spec(sim_dir: Path, encoder: FeatureEncoder,
                                                      tmp_path: Path) -> None:
    """``hook_for(TargetAwareSpec(...))`` builds the hook of exactly those values; the spec has no default of its
    own (the model's config is the one source)."""
    spec = TargetAwareSpec([3, 1, 2], [1, 4, 1], False, False)
    hook = hook_for(spec, sim_dir, encoder, None, tmp_path / "g", ["search_text"])
    assert hook.spec == TargetAwareSpec((3, 1, 2), (1, 4, 1), False, False)
    assert hook.sampler.user_widths == [3, 1, 2] and not hook.sampler.category_filter and not hook.temporal
    assert (tmp_path / "g" / "clicks-search_text").is_dir()
    with pytest.raises(TypeError, match="category_filter"):
        TargetAwareSpec((3,), (2,))  # no defaults
    with pytest.raises(ValueError, match="user_widths must be a non-empty list of widths >= 1"):
        TargetAwareSpec((), (1,), True, True)
