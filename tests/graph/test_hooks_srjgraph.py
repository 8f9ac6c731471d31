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
