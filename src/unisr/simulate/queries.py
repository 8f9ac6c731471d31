"""Queries: a fixed pool of keyword queries per leaf category, noisy visual queries, trigger queries.

Text queries repeat (users type the same popular queries), so a query has a popularity, as BOMGraph's
query-popularity bins need. Each pool entry is (a wording of the category: its leaf word, a synonym of
it or the broader level-2 word) + up to two of the leaf's attribute words. A user with intent item ``i``
picks the pool entry that best matches ``i``'s attributes, with Gumbel noise: sometimes a query names
attributes the item does not have (noise) or a synonym the titles never use.

Shapes:
    text pool [n_leaf, q]; chosen query ids [R]
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from unisr.simulate import numerics
from unisr.simulate.items import Catalog
from unisr.simulate.sampling import child_rng

TRIGGER_QUERY_BASE = 1 << 40  # query_id of the trigger query of item ``e`` = base + e (public id)
VISUAL_QUERY_BASE = 1 << 32  # visual queries are numbered from here, one per visual search request


@dataclass
class TextPool:
    q: int  # queries per leaf; query id = leaf * q + j
    wording: np.ndarray  # [n_leaf, q] token of the category word
    attrs: np.ndarray  # [n_leaf, q, 2] global attribute token ids, -1 = none
    n_attrs: np.ndarray  # [n_leaf, q]
    log_prior: np.ndarray  # [n_leaf, q]

    def tokens(self, cat: Catalog) -> list[list[int]]:
        """Token lists of every pool query in id order (built once; the pool is small)."""
        w = self.wording.reshape(-1)
        at = self.attrs.reshape(-1, 2)
        out: list[list[int]] = []
        for k in range(len(w)):
            out.append([int(w[k])] + [int(cat.vocab.attr + t) for t in at[k] if t >= 0])
        return out


def build_text_pool(cat: Catalog, q: int, seed: int, exact: bool = False) -> TextPool:
    rng = child_rng(seed, 2)
    log = numerics.log if exact else np.log
    log1p = (lambda v: numerics.log(1.0 + np.asarray(v, np.float64))) if exact else np.log1p
    A = cat.leaf_attr_tok.shape[1]
    subsets: list[tuple[int, ...]] = [()] + [(i,) for i in range(A)] + list(combinations(range(A), 2))
    combos = [(w, s) for w in range(3) for s in subsets]  # wording 0 leaf word, 1 synonym, 2 level-2 word
    w_of = np.array([w for w, _ in combos])
    size_of = np.array([len(s) for _, s in combos])
    local = np.full((len(combos), 2), -1, dtype=np.int64)
    for k, (_, s) in enumerate(combos):
        local[k, : len(s)] = s
    base_logw = log(np.array([0.5, 0.25, 0.25]))[w_of] + log(np.array([0.3, 0.45, 0.25]))[size_of]
    base_logw -= log(np.array([1, A, A * (A - 1) / 2]))[size_of]
    # attribute popularity inside a leaf: earlier local attributes are more common (matches items.py)
    attr_bonus = np.where(local >= 0, -0.8 * log1p(np.maximum(local, 0)), 0.0).sum(axis=1)
    q = min(q, len(combos))
    keys = (base_logw + attr_bonus)[None, :] + rng.gumbel(size=(cat.n_leaf, len(combos)))
    chosen = np.argsort(-keys, axis=1)[:, :q]  # without replacement: unique queries per leaf
    leaves = np.arange(cat.n_leaf)
    l2 = leaves // (cat.n_leaf // cat.n2)
    wtok = np.stack(
        [cat.vocab.cat + cat.n1 + cat.n2 + leaves, cat.vocab.synonym + leaves, cat.vocab.cat + cat.n1 + l2], axis=-1
    )
    wording = np.take_along_axis(wtok, w_of[chosen], axis=1)
    loc = local[chosen]  # [n_leaf, q, 2]
    attrs = np.where(loc >= 0, np.take_along_axis(cat.leaf_attr_tok[:, None, :], np.maximum(loc, 0), axis=2), -1)
    prior = -1.0 * log1p(np.arange(q))[None, :] + rng.normal(0, 0.5, (cat.n_leaf, q))
    return TextPool(q=q, wording=wording, attrs=attrs, n_attrs=size_of[chosen], log_prior=prior)


def choose_text_query(pool: TextPool, cat: Catalog, intent: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Query id typed by users whose intent items are ``intent`` (internal indices)."""
    leaf = cat.leaf[intent]
    qa = pool.attrs[leaf]  # [R, q, 2]
    it = cat.attr_tok[intent]  # [R, a]
    hit = ((qa[:, :, :, None] == it[:, None, None, :]).any(-1) & (qa >= 0)).sum(-1)
    miss = pool.n_attrs[leaf] - hit
    score = 1.5 * hit - 1.0 * miss + 0.5 * pool.log_prior[leaf] + rng.gumbel(size=hit.shape)
    return leaf * pool.q + np.argmax(score, axis=1)
