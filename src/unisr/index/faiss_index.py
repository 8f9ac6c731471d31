"""FAISS item indexes of a matching run: exact inner product (``IndexFlatIP``), HNSW, IVF-Flat and IVF-PQ, chosen
by ``train.matching.index`` (``pipeline.config.IndexConfig``); one index per scenario saved in ``RUN/item_index/``
with its item ids and parameters, loadable back; batched top-K search of user vectors.

Layout of ``RUN/item_index/``: ``manifest.json`` (``{"format": 1, "metric": "inner_product", "dim": d,
"params": {...IndexConfig...}, "scenarios": [{"name", "index": "<s>.faiss", "item_ids": "<s>.item_ids.npy",
"n": N, "kind", "effective": {...}}]}``), per scenario ``<s>.faiss`` (FAISS' own format, no pickle) and
``<s>.item_ids.npy`` (raw item ids int64, row r of the index = item_ids[r], read with ``allow_pickle=False``).

Shapes:
    build_index(vectors [N, d] float32, cfg) -> faiss.Index
    search(index, queries [Q, d], k, batch) -> (scores [Q, k] float32, rows [Q, k] int64; -1 = no result)
    search_multi(index, queries [Q, K, d], k, batch) -> (scores [Q, k], rows [Q, k]): K lists merged by score
    ItemIndex.search(queries [Q, d], k) -> (scores [Q, k], item_ids [Q, k] raw ids; -1 = no result)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from unisr.pipeline.config import ConfigError, IndexConfig

MIN_POINTS_PER_LIST = 39  # FAISS' k-means minimum training points per centroid


def effective_params(cfg: IndexConfig, n: int, d: int) -> dict:
    """The parameters an index of ``n`` vectors of dimension ``d`` is built with (``nlist`` capped so each list
    has FAISS' minimum training points, ``nprobe`` <= ``nlist``); a bad combination is a ``ConfigError``."""
    out: dict = {"kind": cfg.kind}
    if cfg.kind == "hnsw":
        out.update(hnsw_m=cfg.hnsw_m, ef_construction=cfg.ef_construction, ef_search=cfg.ef_search)
    elif cfg.kind in ("ivf", "ivfpq"):
        nlist = max(1, min(cfg.nlist, n // MIN_POINTS_PER_LIST))
        out.update(nlist=nlist, nprobe=min(cfg.nprobe, nlist))
        if cfg.kind == "ivfpq":
            if d % cfg.pq_m:
                raise ConfigError(f"config key train.matching.index.pq_m: {cfg.pq_m} does not divide the "
                                  f"vector dimension {d}")
            if n < 2 ** cfg.pq_bits:
                raise ConfigError(f"config key train.matching.index.pq_bits: {cfg.pq_bits} bits need at least "
                                  f"{2 ** cfg.pq_bits} training vectors, the corpus has {n}")
            out.update(pq_m=cfg.pq_m, pq_bits=cfg.pq_bits)
    return out


def build_index(vectors: np.ndarray, cfg: IndexConfig) -> faiss.Index:
    """An inner-product index over ``vectors`` [N, d] (trained on them where the kind needs training)."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = x.shape
    p = effective_params(cfg, n, d)
    if p["kind"] == "exact":
        index = faiss.IndexFlatIP(d)
    elif p["kind"] == "hnsw":
        index = faiss.IndexHNSWFlat(d, p["hnsw_m"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = p["ef_construction"]
        index.hnsw.efSearch = p["ef_search"]
    else:
        quant = faiss.IndexFlatIP(d)
        if p["kind"] == "ivf":
            index = faiss.IndexIVFFlat(quant, d, p["nlist"], faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFPQ(quant, d, p["nlist"], p["pq_m"], p["pq_bits"], faiss.METRIC_INNER_PRODUCT)
        # (faiss' Python wrapper keeps ``quant`` referenced by the index: no ownership transfer needed)
        index.train(x)
        index.nprobe = p["nprobe"]
    index.add(x)
    return index


def set_search_params(index: faiss.Index, params: dict) -> None:
    """Restore the search-time parameters (``efSearch``, ``nprobe``) a loaded index does not keep."""
    if params.get("kind") == "hnsw":
        faiss.downcast_index(index).hnsw.efSearch = int(params["ef_search"])
    elif params.get("kind") in ("ivf", "ivfpq"):
        faiss.extract_index_ivf(index).nprobe = int(params["nprobe"])


SUBSET_EXACT = 20_000  # an allowed set up to this many rows is searched exactly (see ``search``)


def search(index: faiss.Index, queries: np.ndarray, k: int, batch: int = 4096,
           allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` rows of ``index`` by inner product for each query, searched ``batch`` queries at a time.
    ``allowed``: the only rows that may be returned (e.g. the items of the query's category). A set of at most
    ``SUBSET_EXACT`` rows is searched exactly over its stored vectors (``reconstruct_batch``: brute force over a
    small subset is cheaper and exact, where a graph walk restricted to 2% of the nodes loses most of its
    recall); a larger one through a FAISS ``IDSelectorBatch`` (exact, HNSW with the beam widened by the
    selectivity, IVF). Multi-interest queries [Q, K, d] (MIND): see ``search_multi``."""
    if np.ndim(queries) == 3:
        return search_multi(index, queries, k, batch, allowed)
    q = np.ascontiguousarray(queries, dtype=np.float32)
    limit = index.ntotal if allowed is None else len(allowed)
    k = max(1, min(int(k), max(limit, 1)))
    scores = np.empty((len(q), k), np.float32)
    rows = np.empty((len(q), k), np.int64)
    params = None
    sel = None
    if allowed is not None:
        keep = np.ascontiguousarray(allowed, dtype=np.int64)  # referenced by the selector while it searches
        if not len(keep):
            return np.full((len(q), k), -np.inf, np.float32), np.full((len(q), k), -1, np.int64)
        if len(keep) <= SUBSET_EXACT:
            ivf = faiss.try_extract_index_ivf(index)
            if ivf is not None and ivf.direct_map.type == faiss.DirectMap.NoMap:
                ivf.make_direct_map()  # IVF lists -> row lookup, for reconstruct (IVF-PQ: the decoded codes)
            sub = faiss.IndexFlatIP(index.d)
            sub.add(index.reconstruct_batch(keep))
            sc, r = search(sub, q, k, batch)
            return sc, np.where(r >= 0, keep[np.maximum(r, 0)], -1)
        sel = faiss.IDSelectorBatch(len(keep), faiss.swig_ptr(keep))
    down = faiss.downcast_index(index)
    if isinstance(down, faiss.IndexHNSW) and (down.hnsw.efSearch < k or sel is not None):
        # HNSW needs a beam at least k wide to return k; a filter passing a share p of the nodes, k / p
        widen = 1 if sel is None else -(-index.ntotal // max(limit, 1))
        params = faiss.SearchParametersHNSW(efSearch=min(max(index.ntotal, k), max(k, down.hnsw.efSearch) * widen),
                                            sel=sel)
    elif isinstance(down, faiss.IndexIVF) and sel is not None:
        params = faiss.SearchParametersIVF(nprobe=down.nprobe, sel=sel)
    elif sel is not None:
        params = faiss.SearchParameters(sel=sel)
    for s in range(0, len(q), batch):
        scores[s:s + batch], rows[s:s + batch] = index.search(q[s:s + batch], k, params=params)
    return scores, rows


def search_multi(index: faiss.Index, queries: np.ndarray, k: int, batch: int = 4096,
                 allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Multi-interest retrieval (MIND, sec. 3.5): each of a query's K vectors [Q, K, d] retrieves its top ``k``
    and the K lists are merged by score (an item found by several interests keeps its best score): [Q, k].
    With exact search this is the top ``k`` of max_j <v_j, e> over the rows (an item in the max-top-k is in the
    top k of the interest attaining its max)."""
    nq, ni, d = queries.shape
    sc, rows = search(index, np.asarray(queries, np.float32).reshape(nq * ni, d), k, batch, allowed)
    kk = sc.shape[1]
    sc = np.where(rows >= 0, sc, -np.inf).reshape(nq, ni * kk)
    rows = rows.reshape(nq, ni * kk)
    order = np.lexsort((-sc, rows), axis=1)  # by row id, then best score first
    r_s = np.take_along_axis(rows, order, 1)
    s_s = np.take_along_axis(sc, order, 1)
    dup = np.zeros_like(r_s, dtype=bool)
    dup[:, 1:] = r_s[:, 1:] == r_s[:, :-1]
    s_s = np.where(dup | (r_s < 0), -np.inf, s_s)
    top = np.argsort(-s_s, axis=1, kind="stable")[:, :kk]
    out_s = np.take_along_axis(s_s, top, 1)
    out_r = np.where(np.isfinite(out_s), np.take_along_axis(r_s, top, 1), -1)
    return out_s.astype(np.float32), out_r


@dataclass
class ItemIndex:
    """One scenario's index with its raw item ids (row r = ``item_ids[r]``) and parameters.

    Shapes:
        item_ids: [N] int64; search(queries [Q, d], k) -> (scores [Q, k], item_ids [Q, k]; -1 = none)
    """

    name: str
    index: faiss.Index
    item_ids: np.ndarray
    params: dict

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, rows = search(self.index, queries, k)
        return scores, np.where(rows >= 0, self.item_ids[np.maximum(rows, 0)], -1)


def save_indexes(out: str | Path, indexes: list[ItemIndex], cfg: IndexConfig) -> Path:
    """Write ``indexes`` (one per scenario) and ``manifest.json`` into ``out`` (``RUN/item_index``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    written: dict[int, int] = {}  # scenarios sharing one index object (a scenario-free item tower) share its file
    for s, ix in enumerate(indexes):
        f = written.setdefault(id(ix.index), s)
        if f == s:
            faiss.write_index(ix.index, str(out / f"{s}.faiss"))
            np.save(out / f"{s}.item_ids.npy", np.asarray(ix.item_ids, np.int64), allow_pickle=False)
        entries.append({"name": ix.name, "index": f"{f}.faiss", "item_ids": f"{f}.item_ids.npy",
                        "n": int(ix.index.ntotal), "effective": ix.params})
    dim = int(indexes[0].index.d) if indexes else 0
    manifest = {"format": 1, "metric": "inner_product", "dim": dim, "params": cfg.model_dump(),
                "scenarios": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out


class IndexFolderError(ValueError):
    """``RUN/item_index/`` is missing or unreadable; the message names the file."""


def load_indexes(path: str | Path) -> dict[str, ItemIndex]:
    """Read back what ``save_indexes`` wrote: scenario name -> ``ItemIndex`` (search parameters restored)."""
    path = Path(path)
    man_path = path / "manifest.json"
    try:
        manifest = json.loads(man_path.read_text())
    except FileNotFoundError:
        raise IndexFolderError(f"{man_path}: missing (not an item_index folder of a matching run)") from None
    except json.JSONDecodeError as e:
        raise IndexFolderError(f"{man_path}: not valid JSON ({e})") from None
    out = {}
    cache: dict[str, faiss.Index] = {}
    for e in manifest.get("scenarios", []):
        f = path / e["index"]
        if not f.is_file():
            raise IndexFolderError(f"{f}: missing")
        if e["index"] not in cache:
            cache[e["index"]] = faiss.read_index(str(f))
        index = cache[e["index"]]
        ids = np.load(path / e["item_ids"], allow_pickle=False)
        if len(ids) != index.ntotal:
            raise IndexFolderError(f"{path / e['item_ids']}: {len(ids)} ids for {index.ntotal} vectors in {f}")
        set_search_params(index, e["effective"])
        out[e["name"]] = ItemIndex(e["name"], index, ids, e["effective"])
    return out
