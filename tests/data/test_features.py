import numpy as np
import pyarrow as pa

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
