"""Build the heterogeneous graph of a canonical dataset's training window (streaming the events).

Only clicked events whose split code is in ``GraphConfig.splits`` (default background + train) become
edges, so nothing from valid/test leaks into the graph. Social edges carrying ``ts`` are kept only before the
end of the training window when the split is by time. Item-item similarity edges come from item content
(the per-scenario exposed-content embeddings), found by FAISS kNN, never all pairs.

``GraphConfig.behaviour_scenarios`` (BOMGraph-SK / -SV, "trained with a similar product search dataset and
textual search", paper sec. 4.2) keeps the behaviour edges of the named scenarios only: CE (query / trigger ->
clicked item) and OE_o come from their clicks alone, and the OE relation of every other scenario is kept but
empty, so the graph has the same relation types as the full one. SE edges (item content) and the user-click
relation (``click_scenarios``) do not depend on it. None (the default) builds the full graph, and its cache
fingerprint is the one it had before the option existed. ``GraphConfig.ce_query_kinds`` likewise keeps the query
CE edges of the named query kinds only (BOMGraph: ``("text",)``, sec. 3.1 has no visual query nodes).

Shapes:
    (no tensors) build_graph(root, GraphConfig) -> HeteroGraph with CSR relations [num_src + 1] indptr, [E] indices
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unisr.data.features import Vocabulary
from unisr.data.reader import has_table, iter_row_groups, read_table, table_columns, table_files
from unisr.data.schema import SPLITS, DatasetSpec, TimeSplit
from unisr.data.split import SPLIT_CODES, SplitAssigner
from unisr.graph.csr import CSR, from_coo, index_dtype
from unisr.graph.store import MANIFEST, CategoryIndex, EdgeType, HeteroGraph

USER_CLICK: EdgeType = ("user", "click", "item")
ITEM_CLICKED_BY: EdgeType = ("item", "rev_click", "user")
QUERY_CE: EdgeType = ("query", "ce", "item")
ITEM_CE_QUERY: EdgeType = ("item", "rev_ce", "query")
TRIGGER_CE: EdgeType = ("trigger", "ce", "item")
ITEM_CE_TRIGGER: EdgeType = ("item", "rev_ce", "trigger")
SEARCH_KINDS = ("search_text", "search_visual", "search_similar")


def oe_type(scenario: str) -> EdgeType:
    return ("item", f"oe:{scenario}", "item")


def se_type(scenario: str) -> EdgeType:
    return ("item", f"se:{scenario}", "item")


def social_type(view: str) -> EdgeType:
    return ("user", f"social:{view}", "user")


@dataclass(frozen=True)
class GraphConfig:
    """How the graph is built. ``splits``: event windows that may become edges."""

    splits: tuple[str, ...] = ("background", "train")
    oe_window_s: int = 1800  # co-occurrence: same user, same query, within 30 minutes
    oe_max_lag: int = 8  # link each click to at most this many following clicks of its group
    oe_kinds: tuple[str, ...] = (*SEARCH_KINDS, "recommend")
    se_k: int = 10  # kNN per item for content similarity
    se_threshold: float = 0.8  # cosine threshold for a similarity edge
    se_exact_max: int = 50_000  # exact (flat) kNN up to this many items, IVF above
    category_level: int = -1  # level of ``category_path`` used for category filtering (-1 = leaf)
    social_symmetric: bool = True
    click_scenarios: tuple[str, ...] | None = None  # scenario names whose clicks form user-item edges (None: all)
    # scenario names whose clicks form CE and OE edges (None: all; a subset: BOMGraph-SK / -SV); SE edges come from
    # every search scenario's content either way. Stored sorted and deduplicated.
    behaviour_scenarios: tuple[str, ...] | None = None
    # ``queries.kind`` values whose (query -> clicked item) pairs form query CE edges (None: every non-trigger
    # kind). BOMGraph's paper (sec. 3.1) has no visual query nodes: ("text",). Other queries stay isolated nodes.
    ce_query_kinds: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        bad = [s for s in self.splits if s not in SPLITS]
        if bad or not self.splits:
            raise ValueError(f"splits: unknown or empty {list(self.splits)}; allowed {SPLITS}")
        if {"valid", "test"} & set(self.splits):
            raise ValueError("splits: valid/test events must never become graph edges")
        if self.oe_window_s < 0 or self.oe_max_lag < 0 or self.se_k < 0:
            raise ValueError("oe_window_s, oe_max_lag and se_k must be >= 0")
        if not -1.0 <= self.se_threshold <= 1.0:
            raise ValueError("se_threshold must be in [-1, 1]")
        if self.behaviour_scenarios is not None:
            if isinstance(self.behaviour_scenarios, str) or not self.behaviour_scenarios:
                raise ValueError(f"behaviour_scenarios: need a non-empty list of scenario names (None = all), got "
                                 f"{self.behaviour_scenarios!r}")
            object.__setattr__(self, "behaviour_scenarios", tuple(sorted(set(self.behaviour_scenarios))))
        if self.ce_query_kinds is not None:
            if isinstance(self.ce_query_kinds, str) or not self.ce_query_kinds:
                raise ValueError(f"ce_query_kinds: need a non-empty list of query kinds (None = all), got "
                                 f"{self.ce_query_kinds!r}")
            object.__setattr__(self, "ce_query_kinds", tuple(sorted(set(self.ce_query_kinds))))

    def as_dict(self) -> dict:
        """The config as stored in a graph's manifest and hashed by ``fingerprint``. Options left at a default
        that predates them are omitted, so graphs built before those options existed keep their fingerprint."""
        d = asdict(self)
        for key in ("behaviour_scenarios", "ce_query_kinds"):
            if d[key] is None:
                del d[key]
        return d


def _col(t: pa.Table, name: str, fill: int = -1) -> np.ndarray:
    if name not in t.column_names:
        return np.full(t.num_rows, fill, dtype=np.int64)
    return pc.fill_null(t[name], fill).to_numpy().astype(np.int64, copy=False)


def fingerprint(root: str | Path, config: GraphConfig) -> str:
    """Hash of the dataset files (path, size, mtime) and the config: the cache key of a built graph."""
    h = hashlib.sha256(json.dumps(config.as_dict(), sort_keys=True).encode())
    root = Path(root)
    for table in ("events", "users", "items", "queries", "social"):
        if has_table(root, table):
            for f in table_files(root, table):
                st = f.stat()
                h.update(f"{f.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}".encode())
    st = (root / "dataset.yaml").stat()
    h.update(f"yaml:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------------------------- events
def _training_clicks(root: Path, spec: DatasetSpec, config: GraphConfig, users: Vocabulary,
                     items: Vocabulary, query_ids: np.ndarray, scen_ids: np.ndarray
                     ) -> tuple[dict[str, np.ndarray], int | None]:
    """Clicked training-window events as entity indices, and the window's end ts (time splits)."""
    assigner = SplitAssigner.for_dataset(root, spec.split)
    allowed = np.array([SPLIT_CODES[s] for s in config.splits], dtype=np.int8)
    cols = ["event_id", "ts", "user_id", "scenario_id", "item_id", "click", "query_id", "trigger_item_id",
            "split"]
    if assigner.key_column:
        cols.append(assigner.key_column)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("user", "item", "query", "trigger", "scen", "ts")}
    qvoc = Vocabulary(query_ids)
    svoc = Vocabulary(scen_ids)
    for _, _, t in iter_row_groups(root, "events", cols):
        click = _col(t, "click", 0)
        split_col = t["split"].to_numpy(zero_copy_only=False) if "split" in t.column_names else None
        key = _col(t, assigner.key_column) if assigner.key_column else None
        codes = assigner.assign(_col(t, "event_id"), _col(t, "ts"), split_col, key)
        keep = (click > 0) & np.isin(codes, allowed)
        if not keep.any():
            continue
        t = t.filter(pa.array(keep))
        u = users.lookup(_col(t, "user_id"))
        i = items.lookup(_col(t, "item_id"))
        ok = (u > 0) & (i > 0)
        qraw = _col(t, "query_id")
        q = np.where(qraw >= 0, qvoc.lookup(qraw), 0) if len(query_ids) else np.zeros(len(qraw), np.int64)
        traw = _col(t, "trigger_item_id")
        trig = np.where(traw >= 0, items.lookup(traw), 0)
        parts["user"].append(u[ok])
        parts["item"].append(i[ok])
        parts["query"].append(q[ok])
        parts["trigger"].append(trig[ok])
        parts["scen"].append((svoc.lookup(_col(t, "scenario_id")) - 1)[ok])
        parts["ts"].append(_col(t, "ts")[ok])
    out = {k: (np.concatenate(v) if v else np.zeros(0, np.int64)) for k, v in parts.items()}
    end = None
    if isinstance(spec.split, TimeSplit):
        wins = [b for name, _, b in assigner.boundaries() if name in config.splits]
        end = max(wins) if wins else None
    return out, end


def _category_index(csr: CSR, cat_per_edge: np.ndarray) -> CategoryIndex:
    """Segments of equal category within each row (rows must already be sorted by category).

    Not stored by ``build_graph`` any more (the samplers search the sorted rows); kept for inspection.
    Offsets are int32 whenever the edge count fits, categories int16 when they fit.
    """
    n = csr.num_edges
    row = np.repeat(np.arange(csr.num_src, dtype=np.int64), np.diff(csr.indptr))
    new = np.ones(n, bool)
    if n:
        new[1:] = (row[1:] != row[:-1]) | (cat_per_edge[1:] != cat_per_edge[:-1])
    starts = np.flatnonzero(new)
    ptr = np.zeros(csr.num_src + 1, np.int64)
    np.cumsum(np.bincount(row[starts], minlength=csr.num_src), out=ptr[1:])
    start = np.append(starts, n).astype(index_dtype(n))
    cats = cat_per_edge[starts]
    small = len(cats) == 0 or (cats.min() >= np.iinfo(np.int16).min and cats.max() <= np.iinfo(np.int16).max)
    return CategoryIndex(ptr=ptr, cat=cats.astype(np.int16 if small else np.int32), start=start)


def _cooccurrence(user: np.ndarray, query: np.ndarray, item: np.ndarray, ts: np.ndarray,
                  window: int, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Item pairs clicked by the same user under the same query within ``window`` seconds (both ways)."""
    order = np.lexsort((ts, query, user))
    u, q, it, t = user[order], query[order], item[order], ts[order]
    src, dst = [], []
    for lag in range(1, max_lag + 1):  # loop over lags only; each lag is one vectorised pass
        if lag >= len(u):
            break
        m = (u[lag:] == u[:-lag]) & (q[lag:] == q[:-lag]) & (t[lag:] - t[:-lag] <= window) & \
            (it[lag:] != it[:-lag])
        if not m.any():
            continue
        a, b = it[:-lag][m], it[lag:][m]
        src += [a, b]
        dst += [b, a]
    if not src:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(src), np.concatenate(dst)


def _embeddings(items_tab: pa.Table, column: str, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(entity indices with an embedding, float32 [n, d] normalised rows)."""
    col = items_tab[column].take(pa.array(order))
    valid = ~col.is_null().to_numpy(zero_copy_only=False)
    lens = pc.fill_null(pc.list_value_length(col), 0).to_numpy()
    d = int(lens[valid].max()) if valid.any() else 0
    valid &= lens == d
    if d == 0 or not valid.any():
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    flat = pc.list_flatten(col.filter(pa.array(valid))).to_numpy().astype(np.float32)
    x = flat.reshape(-1, d)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return np.flatnonzero(valid).astype(np.int64) + 1, np.ascontiguousarray(x)


def _knn_edges(ids: np.ndarray, x: np.ndarray, k: int, threshold: float, exact_max: int, seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed edges item -> each of its k most cosine-similar items with similarity >= threshold."""
    import faiss

    n, d = x.shape
    if n < 2 or k == 0:
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0, np.float32)
    kk = min(k + 1, n)
    if n <= exact_max:
        index = faiss.IndexFlatIP(d)
    else:
        nlist = int(4 * np.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        index.train(x[rng.choice(n, size=min(n, 40 * nlist), replace=False)])
        index.nprobe = 8
    index.add(x)
    sim, nbr = index.search(x, kk)
    row = np.repeat(np.arange(n), kk)
    sim, nbr = sim.ravel(), nbr.ravel()
    m = (nbr >= 0) & (nbr != row) & (sim >= threshold)
    return ids[row[m]], ids[nbr[m]], sim[m].astype(np.float32)


# ---------------------------------------------------------------------------------------------- build
def _item_categories(items_tab: pa.Table, item_order: np.ndarray, n_items: int, lvl: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Each item's category at level ``lvl`` (negative: from the leaf) and its full path, by item index.

    Shapes:
        -> item_cat [n_items + 1] int32 (-1 = none; row 0 the padding item), cat_path [n_items + 1, levels]
    """
    levels = 0
    if "category_path" in items_tab.column_names:
        cp = items_tab["category_path"].take(pa.array(item_order))
        lens = pc.fill_null(pc.list_value_length(cp), 0).to_numpy()
        levels = int(lens.max(initial=0))
    cat_path = np.full((n_items + 1, max(levels, 1)), -1, np.int32)
    if levels:
        flat = pc.list_flatten(cp).to_numpy().astype(np.int32)
        rows = np.repeat(np.arange(n_items), lens)
        cols = np.arange(len(flat)) - np.repeat(np.cumsum(lens) - lens, lens)
        cat_path[rows + 1, cols] = flat
    if lvl < 0 and levels:
        lens_full = np.concatenate([[0], lens])
        pick = np.clip(lens_full + lvl, 0, None)
        item_cat = np.where(lens_full + lvl >= 0, cat_path[np.arange(n_items + 1), np.minimum(pick, levels - 1)], -1)
    else:
        item_cat = cat_path[:, min(max(lvl, 0), cat_path.shape[1] - 1)]
    item_cat = item_cat.astype(np.int32)
    item_cat[0] = -1
    return item_cat, cat_path


def _item_item_relations(scen: list, config: GraphConfig, clicks: dict[str, np.ndarray], items_tab: pa.Table,
                         item_order: np.ndarray, n_items: int, rels: dict[EdgeType, CSR],
                         behaviour: frozenset[int] | None = None) -> None:
    """Add the per-scenario item-item relations to ``rels``: co-engagement in one session (``oe``) and
    embedding neighbours of search scenarios (``se``). ``behaviour``: the scenario indexes whose clicks may form
    ``oe`` edges (None: all); the ``oe`` relation of any other scenario is added empty."""
    u, i, q, trig, s, ts = (clicks[k] for k in ("user", "item", "query", "trigger", "scen", "ts"))
    is_trig = trig > 0
    for k, sp in enumerate(scen):
        if str(sp.kind) not in config.oe_kinds:
            continue
        m = s == k
        if behaviour is not None and k not in behaviour:
            m = np.zeros(len(s), bool)
        a, b = _cooccurrence(u[m], np.where(is_trig[m], trig[m] + (1 << 40), q[m]), i[m], ts[m],
                             config.oe_window_s, config.oe_max_lag)
        rels[oe_type(sp.name)] = from_coo(a, b, n_items + 1, n_items + 1, dedupe=True)

    emb_cols = set(items_tab.column_names)
    for sp in scen:
        col = next((c for c in (f"emb_{sp.name}", f"emb_{sp.kind}") if c in emb_cols), None)
        if col is None or str(sp.kind) not in SEARCH_KINDS:
            continue
        ids, x = _embeddings(items_tab, col, item_order)
        a, b, sim = _knn_edges(ids, x, config.se_k, config.se_threshold, config.se_exact_max)
        rels[se_type(sp.name)] = from_coo(a, b, n_items + 1, n_items + 1, {"sim": sim.astype(np.float16)})


def social_edges(root: str | Path, users: Vocabulary, window_end: int | None,
                 weights: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """The social table's edges of the graph's window, per view, directed as written (``src -> dst``).

    The same rows ``build_graph`` turns into ``social:<view>`` relations (both users known, no self loops,
    ``ts`` before ``window_end`` where the table has ``ts``), before any symmetrisation or deduplication.
    ``weights``: also the rows' ``weight`` (1.0 where the table has no ``weight`` column or a null); else None.

    Shapes:
        -> {view: (src [E_v] user index, dst [E_v] user index, weight [E_v] float32 or None)}, views sorted
    """
    root = Path(root)
    if not has_table(root, "social"):
        return {}
    cols = ["src_user_id", "dst_user_id", "view", "ts"] + (["weight"] if weights else [])
    st = read_table(root, "social", cols)
    view = st["view"].to_numpy(zero_copy_only=False).astype(str)
    a, b = users.lookup(_col(st, "src_user_id")), users.lookup(_col(st, "dst_user_id"))
    ok = (a > 0) & (b > 0) & (a != b)
    if window_end is not None and "ts" in st.column_names:
        sts = _col(st, "ts", -(1 << 62))
        ok &= sts < window_end
    w = None
    if weights:
        w = (pc.fill_null(st["weight"], 1.0).to_numpy().astype(np.float32) if "weight" in st.column_names
             else np.ones(st.num_rows, np.float32))
    out = {}
    for v in sorted(set(view[ok].tolist())):
        m = ok & (view == v)
        out[v] = (a[m], b[m], None if w is None else w[m])
    return out


def _social_relations(root: Path, config: GraphConfig, users: Vocabulary, n_users: int, window_end: int | None,
                      rels: dict[EdgeType, CSR]) -> list[str]:
    """Add one user-user relation per social view of the graph's window to ``rels``; returns the views."""
    edges = social_edges(root, users, window_end)
    views = list(edges)
    for v in views:
        sa, sb, _ = edges[v]
        if config.social_symmetric:
            sa, sb = np.concatenate([sa, sb]), np.concatenate([sb, sa])
        rels[social_type(v)] = from_coo(sa, sb, n_users + 1, n_users + 1, dedupe=True)
    return views


def build_graph(root: str | Path, config: GraphConfig | None = None) -> HeteroGraph:
    """Build the graph of ``root``'s training window (see the module docstring)."""
    t0 = time.perf_counter()
    root = Path(root)
    config = config or GraphConfig()
    spec = DatasetSpec.load(root)
    scen = sorted(spec.scenarios, key=lambda s: s.id)
    scen_ids = np.array([s.id for s in scen], dtype=np.int64)
    users_tab = read_table(root, "users", ["user_id"])
    item_cols = ["item_id", "category_path"] + [c for c in table_columns(root, "items") if c.startswith("emb_")]
    items_tab = read_table(root, "items", item_cols)
    user_raw = _col(users_tab, "user_id")
    item_raw = _col(items_tab, "item_id")
    user_ids, item_ids = np.unique(user_raw), np.unique(item_raw)  # as FeatureEncoder: index = pos + 1
    users, items = Vocabulary(user_ids), Vocabulary(item_ids)
    n_users, n_items = len(user_ids), len(item_ids)
    item_order = np.argsort(item_raw, kind="stable")
    if has_table(root, "queries"):
        qt = read_table(root, "queries", ["query_id", "kind"])
        qk = qt["kind"].to_numpy(zero_copy_only=False)
        query_ids = np.unique(_col(qt, "query_id")[qk != "trigger"])
        ce_query_ids = query_ids
        if config.ce_query_kinds is not None:
            kinds = sorted(set(qk[qk != "trigger"].tolist()))
            unknown = sorted(set(config.ce_query_kinds) - set(kinds))
            if unknown:
                raise ValueError(f"ce_query_kinds: unknown query kind(s) {unknown} in {root / 'queries'}; its "
                                 f"non-trigger kinds are {kinds}")
            ce_query_ids = _col(qt, "query_id")[np.isin(qk, list(config.ce_query_kinds))]
    else:
        query_ids = ce_query_ids = np.zeros(0, np.int64)

    item_cat, cat_path = _item_categories(items_tab, item_order, n_items, config.category_level)

    clicks, window_end = _training_clicks(root, spec, config, users, items, query_ids, scen_ids)
    u, i, q, trig, s, ts = (clicks[k] for k in ("user", "item", "query", "trigger", "scen", "ts"))
    ts_base = int(ts.min()) if len(ts) else 0
    ts_rel = ts - ts_base
    ts_dtype = np.int32 if (len(ts_rel) == 0 or ts_rel.max() < np.iinfo(np.int32).max) else np.int64
    scen_dtype = np.int8 if len(scen) <= 127 else np.int16
    n_queries = len(query_ids)
    rels: dict[EdgeType, CSR] = {}
    cm = slice(None)
    names = [sp.name for sp in scen]
    if config.click_scenarios is not None:
        unknown = sorted(set(config.click_scenarios) - set(names))
        if unknown:
            raise ValueError(f"click_scenarios: unknown scenario(s) {unknown}; the dataset has {names}")
        cm = np.isin(s, [names.index(n) for n in config.click_scenarios])
    behaviour = None  # scenario indexes whose clicks form CE / OE edges (None: all)
    bm = np.ones(len(s), bool)
    if config.behaviour_scenarios is not None:
        unknown = sorted(set(config.behaviour_scenarios) - set(names))
        if unknown:
            raise ValueError(f"behaviour_scenarios: unknown scenario(s) {unknown} in {spec.name} ({root}); the "
                             f"dataset has {names}")
        behaviour = frozenset(names.index(n) for n in config.behaviour_scenarios)
        bm = np.isin(s, sorted(behaviour))
    click = from_coo(u[cm], i[cm], n_users + 1, n_items + 1,
                     {"query": q[cm].astype(index_dtype(n_queries + 1)), "scenario": s[cm].astype(scen_dtype),
                      "ts": ts_rel[cm].astype(ts_dtype)}, sort_keys=[item_cat[i[cm]], ts_rel[cm]])
    rels[USER_CLICK] = click
    # no separate category index: click rows are sorted by (item category, ts), so the target-aware
    # sampler finds a (user, category) segment by binary search over the row (0 extra bytes per edge)
    rels[ITEM_CLICKED_BY] = click.transpose(sort_attr="ts")[0]

    is_trig = trig > 0
    qm = (q > 0) & ~is_trig & bm
    if config.ce_query_kinds is not None:  # only these kinds' query nodes get CE edges
        ce_node = np.zeros(n_queries + 1, bool)
        ce_node[np.searchsorted(query_ids, np.unique(ce_query_ids)) + 1] = True
        qm &= ce_node[q]
    ce = from_coo(q[qm], i[qm], n_queries + 1, n_items + 1, dedupe=True)
    rels[QUERY_CE], rels[ITEM_CE_QUERY] = ce, ce.transpose()[0]
    rels[ITEM_CE_QUERY].attrs.clear()
    tm = is_trig & bm
    tce = from_coo(trig[tm], i[tm], n_items + 1, n_items + 1, dedupe=True)
    rels[TRIGGER_CE], rels[ITEM_CE_TRIGGER] = tce, tce.transpose()[0]
    rels[ITEM_CE_TRIGGER].attrs.clear()

    _item_item_relations(scen, config, clicks, items_tab, item_order, n_items, rels, behaviour)
    views = _social_relations(root, config, users, n_users, window_end, rels)

    meta = {
        "dataset": spec.name,
        "data": str(root.resolve()),
        "fingerprint": fingerprint(root, config),
        "config": config.as_dict(),
        "scenarios": [s.name for s in scen],
        "scenario_kinds": [str(s.kind) for s in scen],
        "social_views": views,
        "ts_base": ts_base,
        "window_end_ts": window_end,
        "category_level": config.category_level,
        "click_row_order": ["item_category", "ts"],
        "num_clicks": int(len(u)),
        "build_seconds": round(time.perf_counter() - t0, 3),
    }
    return HeteroGraph(
        num_nodes={"user": n_users + 1, "item": n_items + 1, "query": n_queries + 1, "trigger": n_items + 1},
        relations=rels, item_category=item_cat, item_category_path=cat_path, user_ids=user_ids,
        item_ids=item_ids, query_ids=query_ids, meta=meta)


def build_or_load(root: str | Path, out: str | Path, config: GraphConfig | None = None,
                  force: bool = False) -> tuple[HeteroGraph, bool]:
    """Load ``out`` when it was built from the same files and config, else build and save it.

    Returns (graph, cached).
    """
    config = config or GraphConfig()
    out = Path(out)
    if not force and (out / MANIFEST).exists():
        try:
            man = json.loads((out / MANIFEST).read_text())
            if man.get("meta", {}).get("fingerprint") == fingerprint(root, config):
                return HeteroGraph.load(out), True
        except (ValueError, KeyError, OSError):
            pass
    g = build_graph(root, config)
    g.save(out)
    return g, False
