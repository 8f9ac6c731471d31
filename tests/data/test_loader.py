import numpy as np
import pytest
import torch

from unisr.data.features import FeatureEncoder
from unisr.data.loader import DatasetContext, EventLoader, LoaderConfig
from unisr.data.schema import DatasetSpec


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    from synth import make_dataset

    root = make_dataset(tmp_path_factory.mktemp("d") / "data", n_events=6000, row_group_size=700)
    enc = FeatureEncoder.fit(root, DatasetSpec.load(root))
    return DatasetContext.open(root, enc, history=True)


def _ids(batches):
    return torch.cat([b.event_id for b in batches]).numpy()


@pytest.mark.parametrize("policy", ["mixed", "alternating", "proportional"])
def test_every_train_row_once_per_epoch(ctx, policy):
    cfg = LoaderConfig(batch_size=128, buffer_rows=1000, policy=policy)
    full = EventLoader(ctx, "train", cfg, train=False)
    loader = EventLoader(ctx, "train", cfg, train=True, seed=3)
    ids = _ids(list(loader.epoch(0)))
    assert np.array_equal(np.sort(ids), np.sort(_ids(list(full.epoch(0)))))
    assert len(ids) == len(np.unique(ids))


def test_single_scenario_batches_and_alternation(ctx):
    cfg = LoaderConfig(batch_size=64, buffer_rows=3000, policy="alternating")
    batches = list(EventLoader(ctx, "train", cfg, train=True, seed=0).epoch(0))
    scen = [int(b.scenario_id[0]) for b in batches]
    for b in batches:
        assert (b.scenario_id == b.scenario_id[0]).all()
    # while all groups have full batches, consecutive batches come from different scenarios in turn
    assert scen[:3] == [0, 1, 2] or len(set(scen[:3])) == 3


def test_groups_make_mixed_group_batches(ctx):
    cfg = LoaderConfig(batch_size=64, buffer_rows=3000, policy="alternating", groups=[["scen0", "scen1"], ["scen2"]])
    for b in EventLoader(ctx, "train", cfg, train=True, seed=0).epoch(0):
        s = set(b.scenario_id.tolist())
        assert s <= {0, 1} or s == {2}


def test_deterministic_and_cache_independent(ctx):
    on = LoaderConfig(batch_size=100, buffer_rows=1500, cache="on")
    off = LoaderConfig(batch_size=100, buffer_rows=1500, cache="off")
    a = EventLoader(ctx, "train", on, train=True, seed=5)
    list(a.epoch(0))  # fills the cache
    e1_cached = _ids(list(a.epoch(1)))
    e1_fresh = _ids(list(EventLoader(ctx, "train", off, train=True, seed=5).epoch(1)))
    assert np.array_equal(e1_cached, e1_fresh)
    assert not np.array_equal(e1_cached, _ids(list(a.epoch(2))))


def test_splits_are_disjoint(ctx):
    cfg = LoaderConfig()
    sets = [set(_ids(list(EventLoader(ctx, s, cfg, train=False).epoch(0)))) for s in ("train", "valid", "test")]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert sum(len(s) for s in sets) == 6000


def test_eval_max_rows_streams_the_first_rows_only(ctx):
    full = _ids(list(EventLoader(ctx, "test", LoaderConfig(eval_batch_size=100), train=False).epoch(0)))
    cut = _ids(list(EventLoader(ctx, "test", LoaderConfig(eval_batch_size=100, eval_max_rows=250),
                                train=False).epoch(0)))
    assert len(full) > 250 and np.array_equal(cut, full[:250])
    # training streams are not bounded by it
    cfg = LoaderConfig(batch_size=128, eval_max_rows=10)
    assert len(_ids(list(EventLoader(ctx, "train", cfg, train=True, seed=0).epoch(0)))) > 10
    with pytest.raises(ValueError, match="eval_max_rows"):
        LoaderConfig(eval_max_rows=0)


def test_batch_fields(ctx):
    b = next(iter(EventLoader(ctx, "valid", LoaderConfig(history_len=5), train=False).epoch(0)))
    assert b.sparse.dtype == torch.long and b.sparse.shape[1] == len(ctx.encoder.schema.sparse)
    assert b.dense.shape[1] == 1
    assert set(b.labels) == {"click", "conversion"}
    assert b.p_click is not None and torch.isfinite(b.p_click).all()
    hist, mask = b.sequences["history"]
    assert hist.shape == mask.shape == (len(b), 5)
    assert (hist[~mask] == 0).all()


def test_history_lookup_strictly_before_and_right_aligned():
    from unisr.data.history import HistoryIndex

    # user 1 clicked items 11 @ t=10, 12 @ t=20, 13 @ t=30; user 2 clicked 21 @ t=5
    key = (np.array([1, 1, 1, 2], dtype=np.int64) << 32) | np.array([10, 20, 30, 5])
    h = HistoryIndex(key, np.array([11, 12, 13, 21]), np.array([0, 1, 0, 1]))
    items, scen, mask = h.lookup(np.array([1, 1, 1, 2, 3]), np.array([30, 31, 10, 100, 50]), 2)
    assert items.tolist() == [[11, 12], [12, 13], [0, 0], [0, 21], [0, 0]]
    assert scen.tolist() == [[0, 1], [1, 0], [0, 0], [0, 1], [0, 0]]
    assert mask.tolist() == [[True, True], [True, True], [False, False], [False, True], [False, False]]


def test_scenario_filter(ctx):
    cfg = LoaderConfig(scenarios=["scen2"])
    batches = list(EventLoader(ctx, "train", cfg, train=True, seed=0).epoch(0))
    assert batches and all((b.scenario_id == 2).all() for b in batches)
    with pytest.raises(ValueError, match="unknown scenario"):
        EventLoader(ctx, "train", LoaderConfig(scenarios=["nope"]), train=True)


def test_groups_by_kind(ctx):
    cfg = LoaderConfig(batch_size=64, buffer_rows=3000, policy="alternating", groups=[["kind:recommend"]])
    batches = list(EventLoader(ctx, "train", cfg, train=True, seed=0).epoch(0))
    assert {int(s) for b in batches for s in b.scenario_id.unique()} == {0, 1, 2}
    with pytest.raises(ValueError, match="data.groups"):
        EventLoader(ctx, "train", LoaderConfig(policy="alternating", groups=[["nope"]]), train=True)


def test_position_carried_with_nulls_as_minus_one(tmp_path):
    import pyarrow.parquet as pq

    from position_synth import make_position_dataset

    root = make_position_dataset(tmp_path / "data", n_events=1500, null_scenario=1, row_group_size=400)
    enc = FeatureEncoder.fit(root, DatasetSpec.load(root))
    c = DatasetContext.open(root, enc)
    assert c.has_position
    batches = list(EventLoader(c, "train", LoaderConfig(batch_size=128, buffer_rows=500), train=True).epoch(0))
    eid = _ids(batches)
    pos = torch.cat([b.position for b in batches]).numpy()
    scen = torch.cat([b.scenario_id for b in batches]).numpy()
    assert pos.dtype == np.int64
    ev = pq.read_table(root / "events.parquet", columns=["event_id", "position"])
    col = ev["position"].fill_null(-1).to_numpy().astype(np.int64)
    want = col[np.searchsorted(ev["event_id"].to_numpy(), eid)]  # event ids are 0..n-1, sorted
    assert np.array_equal(pos, want)
    assert (pos[scen == 1] == -1).all() and (pos[scen != 1] >= 0).all() and (pos == 4).any()


def test_no_position_column_no_positions(ctx):
    assert not ctx.has_position
    assert next(iter(EventLoader(ctx, "valid", LoaderConfig(), train=False).epoch(0))).position is None


def test_all_null_positions_count_as_none(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from synth import make_dataset
    from unisr.data.loader import events_have_positions

    root = make_dataset(tmp_path / "data", n_events=500)
    ev = pq.read_table(root / "events.parquet")
    pq.write_table(ev.append_column("position", pa.nulls(len(ev), pa.int16())), root / "events.parquet")
    assert not events_have_positions(root)
    pq.write_table(ev.append_column("position", pa.array([None] * 499 + [3], pa.int16())), root / "events.parquet")
    assert events_have_positions(root)


def test_truth_lookup_streams_row_groups_and_sorts_an_unsorted_table(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from unisr.data.side_tables import TruthLookup

    eid = np.array([7, 3, 11, 5, 1], np.int64)
    p = np.array([0.7, 0.3, 0.11, 0.5, 0.1], np.float32)
    pq.write_table(pa.table({"event_id": eid, "p_click": p, "p_click_no_position": p / 2}), tmp_path / "truth.parquet",
                   row_group_size=2)
    t = TruthLookup.load(tmp_path)
    assert t.event_id.tolist() == [1, 3, 5, 7, 11] and t.p_click.dtype == np.float32
    got = t.lookup(np.array([5, 4, 11, 1]))
    assert np.allclose(got[[0, 2, 3]], [0.5, 0.11, 0.1]) and np.isnan(got[1])
    assert np.allclose(t.lookup_no_position(np.array([7])), [0.35])
