"""The catalogue: category tree, brands, shops, prices, named latent parts, titles, images, popularity.

Items are held in an internal order sorted by leaf category (so a leaf is a contiguous range and
popularity-weighted sampling inside a category is one ``searchsorted``); ``ext_id`` is the public
``item_id`` (a seeded permutation, so ids carry no category information).

Shapes:
    items [n] with latent parts [n, d], image [n, 64], exposed embeddings [n, 2d]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unisr.simulate import numerics
from unisr.simulate.config import DAY, SimConfig
from unisr.simulate.sampling import F32, child_rng, noisy_units, rows_from_cum, unit_rows

IMAGE_DIM = 64
EXPOSED = {"search_text": "attr", "search_visual": "style", "search_similar": "texture"}


@dataclass
class Vocab:
    """Token id layout (0 = padding): category ids, leaf synonyms, brands, attribute words, style words."""

    n_cat: int
    n_leaf: int
    n_brands: int
    n_attr: int
    n_styles: int

    @property
    def cat(self) -> int:
        return 1

    @property
    def synonym(self) -> int:
        return 1 + self.n_cat

    @property
    def brand(self) -> int:
        return self.synonym + self.n_leaf

    @property
    def attr(self) -> int:
        return self.brand + self.n_brands

    @property
    def style(self) -> int:
        return self.attr + self.n_attr

    @property
    def size(self) -> int:
        return self.style + self.n_styles


@dataclass
class Catalog:
    n: int
    n1: int
    n2: int
    n_leaf: int
    leaf: np.ndarray  # [n] leaf index 0..n_leaf-1 (sorted)
    l2: np.ndarray
    l1: np.ndarray
    leaf_start: np.ndarray  # [n_leaf + 1]
    ext_id: np.ndarray  # public item_id
    brand: np.ndarray
    shop: np.ndarray
    price: np.ndarray  # int8 0..4
    created: np.ndarray  # unix seconds
    pop: np.ndarray  # popularity weight (sums to 1)
    pop_cum: np.ndarray  # cumulative over the internal order
    pop_z: np.ndarray  # standardised log popularity
    style_id: np.ndarray
    texture_id: np.ndarray
    attr_tok: np.ndarray  # [n, a] global attribute token ids
    parts: dict[str, np.ndarray]  # cat, style, texture, attr, common, collab -> [n, d] unit rows
    image: np.ndarray  # [n, 64]
    exposed: dict[str, np.ndarray]  # scenario name -> [n, 2d] written exposed-content embedding
    title: np.ndarray  # [n, T] tokens
    leaf_attr_tok: np.ndarray  # [n_leaf, A]
    created_order: np.ndarray  # internal indices sorted by creation time
    created_sorted: np.ndarray  # creation times in that order
    vocab: Vocab

    def category_path(self) -> np.ndarray:
        return np.stack([self.l1, self.n1 + self.l2, self.n1 + self.n2 + self.leaf], axis=1).astype(np.int32)

    def leaf_category_id(self, leaf: np.ndarray) -> np.ndarray:
        return (self.n1 + self.n2 + leaf).astype(np.int32)


def _leaves(n: int, branching: tuple[int, int, int], rng: np.random.Generator):
    """Leaf sizes (log-normal) and the sorted leaf of each item (every leaf non-empty when n >= n_leaf)."""
    b1, b2, b3 = branching
    n_leaf = b1 * b2 * b3
    leaf_w = rng.lognormal(0.0, 0.6, n_leaf)
    leaf = np.concatenate(
        [np.arange(min(n, n_leaf)), rng.choice(n_leaf, size=max(0, n - n_leaf), p=leaf_w / leaf_w.sum())]
    )
    leaf = np.sort(leaf).astype(np.int64)
    l2 = leaf // b3
    return leaf, l2, l2 // b2, np.searchsorted(leaf, np.arange(n_leaf + 1)).astype(np.int64)


def _brands(c, n: int, n2: int, l2: np.ndarray, rng: np.random.Generator):
    """Brand (per level-2 category, Zipf within it), its shop, and the price level from the brand's tier."""
    nb = c.brands_per_l2
    brand_local = rows_from_cum(np.cumsum(1.0 / np.arange(1, nb + 1))[None, :], np.zeros(n, np.int64), rng)
    brand = (l2 * nb + brand_local).astype(np.int64)
    n_brands = n2 * nb
    brand_tier = rng.integers(0, 5, n_brands)
    price = np.clip(brand_tier[brand] + np.rint(rng.normal(0, 0.7, n)), 0, 4).astype(np.int8)
    brand_shops = rng.integers(0, c.n_shops, (n_brands, 3))
    shop = brand_shops[brand, rng.integers(0, 3, n)]
    return brand, n_brands, price, shop


def _popularity_and_time(c, n: int, t0: int, t_end: int, rng: np.random.Generator, exact: bool = False):
    """Zipf popularity over a random rank (a long tail of rarely clicked items) and the creation time (most
    items exist before the range, new items arrive late)."""
    rank = rng.permutation(n) + 1
    pop = numerics.power(rank, -c.pop_exponent) if exact else 1.0 / rank.astype(np.float64) ** c.pop_exponent
    pop /= pop.sum()
    logp = numerics.log(pop) if exact else np.log(pop)
    pop_z = ((logp - logp.mean()) / logp.std()).astype(F32)
    created = t0 - rng.integers(DAY, 365 * DAY, n)
    is_new = rng.random(n) < c.new_item_frac
    created[is_new] = rng.integers(int(t0 + c.new_from_day * DAY), t_end - DAY // 4, int(is_new.sum()))
    return pop, pop_z, created


def _latent_parts(c, n: int, sizes: tuple[int, int, int], levels, rng: np.random.Generator, exact: bool = False):
    """The named latent parts of every item (unit rows: category, style, texture, attributes, common,
    collaborative), the style / texture ids and the attribute tokens."""
    n1, n2, n_leaf = sizes
    l1, l2, leaf = levels
    d = c.part_dim
    cat_c1 = unit_rows(rng.standard_normal((n1, d), dtype=F32))
    cat_c2 = unit_rows(rng.standard_normal((n2, d), dtype=F32))
    cat_c3 = unit_rows(rng.standard_normal((n_leaf, d), dtype=F32))
    cat = unit_rows(cat_c1[l1] + 0.7 * cat_c2[l2] + 0.5 * cat_c3[leaf])
    style_centers = unit_rows(rng.standard_normal((c.n_styles, d), dtype=F32))
    style_cum = np.cumsum(rng.dirichlet(np.full(c.n_styles, 0.3), n1), axis=1)
    style_id = rows_from_cum(style_cum, l1, rng)
    style = noisy_units(style_centers[style_id], c.part_noise, rng)
    tex_centers = unit_rows(rng.standard_normal((c.n_textures, d), dtype=F32))
    tex_cum = np.cumsum(rng.dirichlet(np.full(c.n_textures, 0.5), n2), axis=1)
    texture_id = rows_from_cum(tex_cum, l2, rng)
    texture = noisy_units(tex_centers[texture_id], c.part_noise, rng)

    A, a = c.attrs_per_leaf, min(c.attrs_per_item, c.attrs_per_leaf)
    leaf_attr_tok = np.argsort(rng.random((n_leaf, c.attr_vocab)), axis=1)[:, :A].astype(np.int64)
    ranks = np.arange(1, A + 1, dtype=np.float64)
    attr_pop = -0.8 * numerics.log(ranks) if exact else np.log(1.0 / np.arange(1, A + 1) ** 0.8)
    keys = attr_pop[None, :] + rng.gumbel(size=(n, A))
    local = np.argpartition(-keys, a - 1, axis=1)[:, :a]  # order inside the partition: numpy's SIMD sort
    local = np.sort(local, axis=1) if exact else local
    attr_tok = np.take_along_axis(leaf_attr_tok[leaf], local, axis=1)
    attr_emb = unit_rows(rng.standard_normal((c.attr_vocab, d), dtype=F32))
    attr = noisy_units(attr_emb[attr_tok].mean(axis=1), c.part_noise, rng)
    common = unit_rows(rng.standard_normal((n, d), dtype=F32))
    collab = unit_rows(rng.standard_normal((n, d), dtype=F32))
    parts = {"cat": cat, "style": style, "texture": texture, "attr": attr, "common": common, "collab": collab}
    return parts, style_id, texture_id, attr_tok, leaf_attr_tok


def _image_and_exposed(c, parts: dict[str, np.ndarray], rng: np.random.Generator, exact: bool = False):
    """Image embedding (a fixed random projection of (style, category) + noise) and the exposed content per
    search scenario (the common part + the part that scenario shows)."""
    d = c.part_dim
    w_img = rng.standard_normal((2 * d, IMAGE_DIM), dtype=F32)
    src = np.concatenate([parts["style"], 0.7 * parts["cat"]], axis=1)
    image = unit_rows(numerics.matmul(src, w_img, np.float32) if exact else src @ w_img)
    image = unit_rows(image + c.image_noise * rng.standard_normal(image.shape, dtype=F32) / np.sqrt(IMAGE_DIM))
    exposed = {
        s: noisy_units(np.concatenate([parts["common"], parts[p]], axis=1), c.exposed_noise, rng)
        for s, p in EXPOSED.items()
    }
    return image, exposed


def build_catalog(cfg: SimConfig, seed: int) -> Catalog:
    """The item catalogue; the stages draw from one generator in a fixed order (the data depends on it)."""
    c = cfg.catalog
    rng = child_rng(seed, 1)
    b1, b2, b3 = c.branching
    n1, n2, n_leaf = b1, b1 * b2, b1 * b2 * b3
    n = c.n_items
    t0, t_end = cfg.start_ts, cfg.start_ts + cfg.n_days * DAY
    leaf, l2, l1, leaf_start = _leaves(n, c.branching, rng)
    brand, n_brands, price, shop = _brands(c, n, n2, l2, rng)
    ex = cfg.exact
    pop, pop_z, created = _popularity_and_time(c, n, t0, t_end, rng, ex)
    parts, style_id, texture_id, attr_tok, leaf_attr_tok = _latent_parts(
        c, n, (n1, n2, n_leaf), (l1, l2, leaf), rng, ex)
    image, exposed = _image_and_exposed(c, parts, rng, ex)

    # ---- titles: category words of the three levels, brand, attribute words, a style word
    vocab = Vocab(n_cat=n1 + n2 + n_leaf, n_leaf=n_leaf, n_brands=n_brands, n_attr=c.attr_vocab, n_styles=c.n_styles)
    title = np.concatenate(
        [
            vocab.cat + l1[:, None],
            vocab.cat + n1 + l2[:, None],
            vocab.cat + n1 + n2 + leaf[:, None],
            vocab.brand + brand[:, None],
            vocab.attr + attr_tok,
            vocab.style + style_id[:, None],
        ],
        axis=1,
    ).astype(np.int32)

    created_order = np.argsort(created, kind="stable")
    return Catalog(
        n=n,
        n1=n1,
        n2=n2,
        n_leaf=n_leaf,
        leaf=leaf,
        l2=l2,
        l1=l1,
        leaf_start=leaf_start,
        ext_id=rng.permutation(n).astype(np.int64),
        brand=brand,
        shop=shop.astype(np.int64),
        price=price,
        created=created.astype(np.int64),
        pop=pop,
        pop_cum=np.cumsum(pop),
        pop_z=pop_z,
        style_id=style_id,
        texture_id=texture_id,
        attr_tok=attr_tok,
        parts=parts,
        image=image,
        exposed=exposed,
        title=title,
        leaf_attr_tok=leaf_attr_tok,
        created_order=created_order,
        created_sorted=created[created_order],
        vocab=vocab,
    )
