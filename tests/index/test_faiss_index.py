"""FAISS item indexes (index/faiss_index.py): recall of HNSW / IVF / IVF-PQ against exact search on a fixture,
the save / load round trip with the search parameters restored, and bad parameters naming their key."""

import json

import faiss
import numpy as np
import pytest

from unisr.index.faiss_index import (
    ItemIndex,
    build_index,
    effective_params,
    load_indexes,
    save_indexes,
    search,
)
from unisr.pipeline.config import ConfigError, IndexConfig


@pytest.fixture(scope="module")
def corpus():
    """2000 unit vectors in 32-d drawn around 20 centres (clustered, as learned item vectors are), 200 queries."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 32))
    x = centres[rng.integers(0, 20, 2000)] + 0.5 * rng.normal(size=(2000, 32))
    q = centres[rng.integers(0, 20, 200)] + 0.5 * rng.normal(size=(200, 32))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return x.astype(np.float32), q.astype(np.float32)


def recall(approx, exact):
    return np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact, strict=True)])


@pytest.mark.parametrize("cfg,floor", [
    (IndexConfig(kind="hnsw", hnsw_m=16, ef_search=64), 0.9),
    (IndexConfig(kind="ivf", nlist=32, nprobe=8), 0.9),
    (IndexConfig(kind="ivfpq", nlist=16, nprobe=8, pq_m=16, pq_bits=8), 0.5),  # lossy codes
])
def test_recall_against_exact(corpus, cfg, floor):
    x, q = corpus
    faiss.omp_set_num_threads(1)
    _, exact = search(build_index(x, IndexConfig(kind="exact")), q, 20)
    assert recall(exact, np.argsort(-(q @ x.T), axis=1)[:, :20]) > 0.99  # the exact index is exact
    _, approx = search(build_index(x, cfg), q, 20, batch=64)
    assert recall(approx, exact) >= floor, cfg.kind


def test_save_load_round_trip(corpus, tmp_path):
    x, q = corpus
    cfg = IndexConfig(kind="ivf", nlist=32, nprobe=5)
    ix = build_index(x, cfg)
    ids = np.arange(100, 100 + len(x), dtype=np.int64)
    params = effective_params(cfg, len(x), x.shape[1])
    other = build_index(x[::-1].copy(), IndexConfig(kind="exact"))
    save_indexes(tmp_path / "item_index", [ItemIndex("a", ix, ids, params), ItemIndex("b", ix, ids, params),
                                           ItemIndex("c", other, ids[::-1].copy(), {"kind": "exact"})], cfg)
    man = json.loads((tmp_path / "item_index" / "manifest.json").read_text())
    assert [e["index"] for e in man["scenarios"]] == ["0.faiss", "0.faiss", "2.faiss"]  # a and b share a file
    assert man["params"]["nlist"] == 32 and man["dim"] == 32
    back = load_indexes(tmp_path / "item_index")
    assert set(back) == {"a", "b", "c"}
    assert faiss.extract_index_ivf(back["a"].index).nprobe == 5  # search parameters restored
    s0, i0 = ItemIndex("a", ix, ids, params).search(q, 10)
    s1, i1 = back["a"].search(q, 10)
    assert np.array_equal(i0, i1) and np.allclose(s0, s1)
    assert i1.min() >= 100  # raw item ids, not index rows
    _, ic = back["c"].search(q, 10)
    _, ia = back["a"].search(q[:1], 1)
    assert ic.shape == (200, 10) and ia.shape == (1, 1)


def test_missing_manifest_names_the_file(tmp_path):
    with pytest.raises(ValueError, match="manifest.json"):
        load_indexes(tmp_path)


def test_bad_parameters_name_the_key():
    with pytest.raises(ConfigError, match="train.matching.index.pq_m"):
        effective_params(IndexConfig(kind="ivfpq", pq_m=7), 1000, 32)
    with pytest.raises(ConfigError, match="train.matching.index.pq_bits"):
        effective_params(IndexConfig(kind="ivfpq", pq_m=8, pq_bits=12), 1000, 32)
    p = effective_params(IndexConfig(kind="ivf", nlist=1024, nprobe=64), 390, 8)
    assert p["nlist"] == 10 and p["nprobe"] == 10  # capped to FAISS' 39 training points per list


def test_hnsw_beam_widened_to_k(corpus):
    """An HNSW ``ef_search`` below K would return fewer good results than asked: the search widens it to K."""
    x, q = corpus
    _, exact = search(build_index(x, IndexConfig(kind="exact")), q, 200)
    index = build_index(x, IndexConfig(kind="hnsw", hnsw_m=16, ef_search=16))
    _, approx = search(index, q, 200)
    assert (approx >= 0).all() and recall(approx, exact) >= 0.95
    assert faiss.downcast_index(index).hnsw.efSearch == 16  # the index's own setting is left alone


@pytest.mark.parametrize("kind", ["exact", "hnsw", "ivf", "ivfpq"])
def test_filtered_search_small_subset_is_exact_and_stays_in_it(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 16)).astype(np.float32)
    q = rng.normal(size=(40, 16)).astype(np.float32)
    index = build_index(x, IndexConfig(kind=kind, nlist=16, nprobe=2, pq_m=4, pq_bits=4))
    allowed = np.sort(rng.choice(3000, 60, replace=False))  # 2% of the rows, as one category of the corpus
    sc, rows = search(index, q, 20, allowed=allowed)
    assert np.isin(rows, allowed).all()
    if kind in ("exact", "hnsw", "ivf"):  # exact vectors stored: the brute-force top 20 of the subset
        want = allowed[np.argsort(-(q @ x[allowed].T), axis=1, kind="stable")[:, :20]]
        assert (np.sort(rows, 1) == np.sort(want, 1)).all()
    import unisr.index.faiss_index as fi

    monkeypatch.setattr(fi, "SUBSET_EXACT", 100)  # a set above the threshold: the FAISS selector path
    big = np.arange(0, 3000, 2)
    _, r_big = search(index, q, 5, allowed=big)
    assert np.isin(r_big[r_big >= 0], big).all() and (r_big >= 0).mean() > 0.9
    assert search(index, q, 5, allowed=np.zeros(0, np.int64))[1].shape == (40, 1)
