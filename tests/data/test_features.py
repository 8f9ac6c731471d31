import numpy as np
import pyarrow as pa
import pytest

from unisr.data.features import DenseTransform, FeatureEncoder, Vocabulary, pad_lists
from unisr.data.schema import DatasetSpec


def test_vocabulary_oov_and_hashing():
    v = Vocabulary.fit(np.array([30, 10, 20, 10]))
    assert v.size == 4
    assert v.lookup(np.array([10, 20, 30, 99])).tolist() == [1, 2, 3, 0]
    s = Vocabulary.fit(np.array(["b", "a"]))
    assert s.lookup(np.array(["a", "zz", "b"])).tolist() == [1, 0, 2]
    h = Vocabulary.fit(np.array([1, 2, 3]), hash_buckets=8)
    idx = h.lookup(np.arange(10_000))
    assert idx.min() >= 1 and idx.max() <= 8 and h.size == 9
    assert np.array_equal(idx, h.lookup(np.arange(10_000)))


def test_dense_transforms():
    x = np.array([0.0, 5.0, 10.0, np.nan])
    mm = DenseTransform.fit(x, "minmax")
    assert np.allclose(mm(x), [0, 0.5, 1, 0])
    lg = DenseTransform.fit(np.array([0.0, np.e - 1]), "log")
    assert np.allclose(lg(np.array([0.0, np.e - 1])), [0, 1])


def test_pad_lists_mask():
    ids, mask = pad_lists(pa.array([[1, 2, 3], [], None, [5]], pa.list_(pa.int32())), 2)
    assert ids.tolist() == [[2, 3], [0, 0], [0, 0], [6, 0]]
    assert mask.tolist() == [[True, True], [False, False], [False, False], [True, False]]


def test_encoder_roundtrip(tmp_path):
    from synth import make_dataset

    root = make_dataset(tmp_path / "d", n_events=500)
    enc = FeatureEncoder.fit(root, DatasetSpec.load(root))
    names = [f.name for f in enc.schema.sparse]
    assert names[:2] == ["user_id", "item_id"] and "user.gender" in names and "item.category" in names
    assert enc.schema.dense == ["user.age"]
    enc.save(tmp_path / "enc")
    back = FeatureEncoder.load(tmp_path / "enc")
    raw_u = np.array([1000, 1005, 999999])
    raw_i = np.array([5000, 5001, 1])
    s1, d1 = enc.encode_entities(enc.user_index(raw_u), enc.item_index(raw_i))
    s2, d2 = back.encode_entities(back.user_index(raw_u), back.item_index(raw_i))
    assert np.array_equal(s1, s2) and np.allclose(d1, d2)
    assert (s1[2] == 0).all()  # unknown user and item -> OOV everywhere
    assert back.schema == enc.schema


def test_declared_features_keep_the_ids_and_sizes_override(tmp_path):
    """A dataset that declares only its extra columns still gets user_id / item_id embedded; ``embed_dims``
    sets sizes per field name over the declarations."""
    from synth import make_dataset
    from unisr.data.schema import FeatureDecl

    root = make_dataset(tmp_path / "d", n_events=300)
    spec = DatasetSpec.load(root)
    decls = [FeatureDecl(table="users", column="gender", type="categorical", embed_dim=8)]
    enc = FeatureEncoder.fit(root, spec, embed_dim=16, decls=decls, embed_dims={"user.gender": 4, "item_id": 12})
    dims = {f.name: f.embed_dim for f in enc.schema.sparse}
    assert list(dims)[:3] == ["user_id", "item_id", "user.gender"]
    assert dims["user_id"] == 16 and dims["item_id"] == 12 and dims["user.gender"] == 4
    assert enc.user_cat.shape[1] == 2 and enc.item_cat.shape[1] == 1
    assert (enc.user_cat[1:, 0] == np.arange(1, enc.schema.num_users + 1)).all()


def _cold_start_dataset(root):
    """Items 10..13: 10 and 11 shown twice in the training window, 12 once (rare), 13 created after it and
    shown only in the test window. Time split train 2 : valid 1 : test 1 over 4 days."""
    import pyarrow.parquet as pq

    day, t0 = 86_400, 1_700_000_000
    root.mkdir(parents=True)
    ts = t0 + np.array([0.1, 0.5, 1.0, 1.5, 1.9, 3.2, 3.5, 3.99]) * day
    items = np.array([10, 11, 10, 11, 12, 13, 13, 10])
    n = len(ts)
    pq.write_table(pa.table({
        "event_id": pa.array(np.arange(n, dtype=np.int64)), "ts": pa.array(ts.astype(np.int64)),
        "user_id": pa.array(np.full(n, 1, np.int64)), "scenario_id": pa.array(np.zeros(n, np.int16)),
        "item_id": pa.array(items.astype(np.int64)), "click": pa.array((np.arange(n) % 2).astype(np.int8)),
    }), root / "events.parquet")
    pq.write_table(pa.table({"user_id": pa.array([1], pa.int64())}), root / "users.parquet")
    pq.write_table(pa.table({
        "item_id": pa.array([10, 11, 12, 13], pa.int64()), "brand": pa.array([7, 8, 7, 9], pa.int32()),
        "category_path": pa.array([[0, 3], [1, 4], [0, 3], [2, 5]], pa.list_(pa.int32())),
        "created_ts": pa.array([t0 - 100 * day, t0 - 10 * day, t0, t0 + 3 * day], pa.int64()),
    }), root / "items.parquet")
    DatasetSpec.model_validate({
        "name": "cold", "scenarios": [{"id": 0, "name": "feed_new", "kind": "recommend"}],
        "split": {"kind": "time", "proportions": {"train": 2.0, "valid": 1.0, "test": 1.0}},
        "features": [{"table": "items", "column": "brand", "type": "categorical"},
                     {"table": "items", "column": "category_path", "type": "sequence", "max_len": 2}],
    }).save(root)
    return root


def test_ids_unseen_or_rare_in_training_share_the_trained_oov_row(tmp_path):
    """id_vocab="train": item 13 (new, absent from the training split) and item 12 (one training event, under
    id_min_count=2) encode to the OOV row, which item 12's training event trains; their content fields keep
    their own values; with id_min_count=1 only the new item does. id_vocab="entities" (the default) gives every
    item a row (the behaviour before issue 31)."""
    from unisr.data.features import ITEM_AGE

    root = _cold_start_dataset(tmp_path / "d")
    spec = DatasetSpec.load(root)
    enc = FeatureEncoder.fit(root, spec, id_vocab="train", id_min_count=2, item_age=True)
    raw = np.array([10, 11, 12, 13])
    sparse, _ = enc.encode_entities(np.ones(4, np.int64), enc.item_index(raw), ts=np.full(4, 1_700_300_000))
    col = {f.name: k for k, f in enumerate(enc.schema.sparse)}
    assert sparse[:, col["item_id"]].tolist() == [1, 2, 0, 0]
    assert enc.schema.sparse[col["item_id"]].vocab_size == 3
    brand = enc.vocabs["item.brand"]
    assert sparse[:, col["item.brand"]].tolist() == brand.lookup(np.array([7, 8, 7, 9])).tolist()
    assert (sparse[:, col["item.brand"]] > 0).all()  # the new item's brand is in the vocabulary
    cat_ids, cat_mask = enc.item_seq["item.category_path"]
    assert cat_mask[enc.item_index(np.array([13]))[0]].all()  # and its category path reaches the batch
    assert ITEM_AGE in enc.schema.dense

    once = FeatureEncoder.fit(root, spec, id_vocab="train")
    s_once, _ = once.encode_entities(np.ones(4, np.int64), once.item_index(raw), ts=np.full(4, 1_700_300_000))
    assert s_once[:, col["item_id"]].tolist() == [1, 2, 3, 0]
    old = FeatureEncoder.fit(root, spec)
    s_old, _ = old.encode_entities(np.ones(4, np.int64), old.item_index(raw), ts=np.full(4, 1_700_300_000))
    assert s_old[:, col["item_id"]].tolist() == [1, 2, 3, 4] and old.options["id_vocab"] == "entities"
    with pytest.raises(ValueError, match="id_vocab"):
        FeatureEncoder.fit(root, spec, id_vocab="everything")


def test_new_item_batch_carries_oov_id_and_its_content(tmp_path):
    """Through the loader: the test-window rows of the new item have item_id = OOV, its brand and category
    path, and an item age of (almost) zero days."""
    from unisr.data.features import ITEM_AGE
    from unisr.data.loader import DatasetContext, EventLoader, LoaderConfig

    root = _cold_start_dataset(tmp_path / "d")
    enc = FeatureEncoder.fit(root, DatasetSpec.load(root), id_vocab="train", item_age=True)
    ctx = DatasetContext.open(root, enc)
    batch = next(iter(EventLoader(ctx, "test", LoaderConfig(batch_size=16, eval_batch_size=16), train=False).epoch(0)))
    col = {f.name: k for k, f in enumerate(enc.schema.sparse)}
    new = batch.item_index == int(enc.item_index(np.array([13]))[0])
    assert new.any() and (~new).any()
    assert (batch.sparse[new, col["item_id"]] == 0).all() and (batch.sparse[~new, col["item_id"]] > 0).all()
    assert (batch.sparse[new, col["item.brand"]] > 0).all()
    ids, mask = batch.sequences["item.category_path"]
    assert mask[new].all() and (ids[new] > 0).all()
    age = batch.dense[:, enc.schema.dense.index(ITEM_AGE)]
    assert (age[new] < age[~new]).all() and (age[new] < 0.3).all()


def test_item_age_is_log_days_scaled_on_training_and_round_trips(tmp_path):
    """ITEM_AGE = (log1p(days since creation) - lo) / (hi - lo) with lo/hi over the training events; 0 for an
    event before the creation; encoding without ts fails instead of filling zeros; save/load keeps it."""
    from unisr.data.features import ITEM_AGE

    root = _cold_start_dataset(tmp_path / "d")
    assert ITEM_AGE not in FeatureEncoder.fit(root, DatasetSpec.load(root)).schema.dense  # off by default
    enc = FeatureEncoder.fit(root, DatasetSpec.load(root), item_age=True)
    day, t0 = 86_400, 1_700_000_000
    train_ages = np.log1p(np.array([100.1, 10.5, 101.0, 11.5, 1.9]))  # the five training events' item ages
    assert np.isclose(enc.age_tf.lo, train_ages.min()) and np.isclose(enc.age_tf.hi, train_ages.max())
    idx = enc.item_index(np.array([10, 13, 13]))
    ts = np.array([t0 + 2 * day, t0 + 4 * day, t0 + 2 * day])  # the last one: before item 13 exists
    _, dense = enc.encode_entities(np.ones(3, np.int64), idx, ts=ts)
    want = (np.log1p(np.array([102.0, 1.0, 0.0])) - train_ages.min()) / (train_ages.max() - train_ages.min())
    assert np.allclose(dense[:, enc.schema.dense.index(ITEM_AGE)], want, atol=1e-6)
    with pytest.raises(ValueError, match="ts"):
        enc.encode_entities(np.ones(3, np.int64), idx)
    enc.save(tmp_path / "enc")
    back = FeatureEncoder.load(tmp_path / "enc")
    _, d2 = back.encode_entities(np.ones(3, np.int64), back.item_index(np.array([10, 13, 13])), ts=ts)
    assert np.allclose(dense, d2) and back.options == enc.options
    no_age = FeatureEncoder.fit(root, DatasetSpec.load(root), item_age=False)
    assert ITEM_AGE not in no_age.schema.dense
    assert no_age.encode_entities(np.ones(1, np.int64), idx[:1])[1].shape == (1, 0)
