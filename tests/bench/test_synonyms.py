"""The synonym measurement's parts (``benchmarks/synonyms.py``): the wording of a text query from its first token,
the synonym -> leaf-word map, the rank statistics of the term table and the counterfactual's derangement."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from unisr.simulate.items import Vocab, build_catalog
from unisr.simulate.presets import preset_config
from unisr.simulate.queries import build_text_pool

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "synonyms.py"
_spec = importlib.util.spec_from_file_location("synonyms_bench", _PATH)
syn = importlib.util.module_from_spec(_spec)
sys.modules["synonyms_bench"] = syn
_spec.loader.exec_module(syn)


def test_wording_of_a_hand_vocabulary():
    # 2 level-1, 4 level-2 and 8 leaf categories: tokens 1-2 level-1 words, 3-6 level-2, 7-14 leaf words,
    # 15-22 synonyms, 23- brands
    v = Vocab(n_cat=14, n_leaf=8, n_brands=5, n_attr=10, n_styles=3)
    first = np.array([3, 6, 7, 14, 15, 22, 23, 1, 2, 0, -1, v.attr])
    want = [2, 2, 0, 0, 1, 1, -1, -1, -1, -1, -1, -1]
    assert syn.wording_of(first, v, 2, 4).tolist() == want
    s, leaf = syn.synonym_map(v, 2, 4)
    assert s.tolist() == list(range(15, 23)) and leaf.tolist() == list(range(7, 15))


def test_wording_matches_the_simulators_text_pool():
    cfg = preset_config("tiny")
    cat = build_catalog(cfg, 0)
    pool = build_text_pool(cat, cfg.catalog.queries_per_leaf, 0)
    w = syn.wording_of(pool.wording.reshape(-1), cat.vocab, cat.n1, cat.n2).reshape(pool.wording.shape)
    s, leaf = syn.synonym_map(cat.vocab, cat.n1, cat.n2)
    leaves = np.arange(cat.n_leaf)[:, None]
    l2_word = cat.vocab.cat + cat.n1 + leaves // (cat.n_leaf // cat.n2)
    assert (w >= 0).all() and set(np.unique(w).tolist()) == {0, 1, 2}
    assert (pool.wording[w == 0] == np.broadcast_to(leaf[:, None], w.shape)[w == 0]).all()
    assert (pool.wording[w == 1] == np.broadcast_to(s[:, None], w.shape)[w == 1]).all()
    assert (pool.wording[w == 2] == np.broadcast_to(l2_word, w.shape)[w == 2]).all()
    # no title holds a synonym, every title holds its leaf word
    assert not np.isin(cat.title, s).any()
    assert (cat.title == leaf[cat.leaf][:, None]).any(1).all()


def test_rank_stats_and_random_expectation():
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((20, 8))
    same = syn.rank_stats(rows, rows)
    assert same["top1"] == 1.0 and same["mrr"] == 1.0 and same["median_rank"] == 1.0
    # every synonym nearest to the next leaf's word: own leaf word never first
    shifted = syn.rank_stats(rows, np.roll(rows, 1, axis=0) + 1e-3 * rows)
    assert shifted["top1"] == 0.0 and shifted["mrr"] < 0.6
    r = syn.random_expectation(4)
    assert r["top1"] == 0.25 and abs(r["mrr"] - (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4) < 1e-12


def test_derangement_has_no_fixed_point():
    d = syn.derangement(50, seed=3)
    assert sorted(d.tolist()) == list(range(50)) and (d != np.arange(50)).all()


def test_coclick_counts_rank_the_own_leaf():
    words = np.array([15, 16, 17])  # synonyms of leaves 0, 1, 2
    tok = np.array([15, 15, 15, 16, 16, 16, 99, 17])  # 99: not a synonym, ignored
    leaf = np.array([0, 0, 2, 2, 2, 1, 0, 2])
    c = syn.coclick_counts(tok, leaf, words, 3)
    assert c.tolist() == [[2, 0, 1], [0, 1, 2], [0, 0, 1]]
    st = syn.count_rank_stats(c)
    assert st["top1"] == 2 / 3 and abs(st["mrr"] - (1 + 1 / 2 + 1) / 3) < 1e-12 and st["words_without_clicks"] == 0
    # a word without clicks ties with every leaf and ranks last
    assert syn.count_rank_stats(np.zeros((3, 3), np.int64))["top1"] == 0.0
