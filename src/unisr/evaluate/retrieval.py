"""Full-sort retrieval evaluation of a matching model, per scenario (as RecBole's full-sort evaluation).

For each (user, scenario) with clicks in the evaluated split, the user's vector (the model's ``user_vectors`` of
that group's first clicked event) ranks the whole item corpus of the scenario (``item_vectors`` of every item);
items the user clicked in the earlier splits (``train`` for ``valid``; ``train`` and ``valid`` for ``test``) are
excluded from the ranking (``train.matching.exclude``: per user and scenario, per user, or none), and targets
that are such repeats are dropped (a group left without targets is skipped). Metrics over the remaining targets
T of a group, with the first hit at rank r: HR@K = [some target in the top K]; Recall@K = |T ∩ top K| / |T|;
NDCG@K = DCG@K / IDCG@K (binary gains); MRR@K = 1 / r if r <= K. Reported per scenario (mean over its groups,
``n`` groups) and overall (mean over all groups). Search is exact (``IndexFlatIP``) and, side by side, through
the run's ANN index (``index_recall@K`` = overlap of its top K with the exact top K). With ``slices`` (the
training clicks, ``evaluate/retrieval_slices.py:TrainingClicks``), each scenario block also gets ``slices``: HR@K
on all and on long-tail targets, per query-popularity bin (BOMGraph's fig. 4; docs/models/retrieval_slices.md).

Shapes:
    Interactions: user [E], scenario [E], item [E] entity indices (clicks)
    ranking_metrics(ranked [Q, K] items (-1 = none), t_off [Q + 1], t_items [T], ks) -> {metric: [Q] float}
    exclude_top(items [Q, K'] (-1 = none), qkey [Q], excl_keys sorted [X], n_items, k) -> [Q, k]
    embed_corpus(model, n_items, n_scenarios) -> [S, N, d] (row r = item entity r + 1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from unisr.data.batch import Batch
from unisr.evaluate.retrieval_slices import TrainingClicks, retrieval_slices
from unisr.index.faiss_index import build_index, effective_params, search
from unisr.pipeline.config import IndexConfig, MatchingConfig

EXACT = IndexConfig(kind="exact")


@dataclass
class Interactions:
    """Clicked (user, scenario, item) entity indices of some splits.

    Shapes:
        user, scenario, item: [E] int64
    """

    user: np.ndarray
    scenario: np.ndarray
    item: np.ndarray

    @classmethod
    def empty(cls) -> Interactions:
        z = np.zeros(0, np.int64)
        return cls(z, z, z)

    @classmethod
    def from_batches(cls, batches: Iterable[Batch], group: Callable[[Batch], torch.Tensor] | None = None
                     ) -> Interactions:
        """The clicked events of ``batches`` (label ``click`` > 0.5). With ``group`` (a model's ``query_group``,
        as ``collect_queries`` takes it), ``user`` holds each click's query group instead of its user."""
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for b in batches:
            m = (b.label("click") > 0.5).numpy()
            if group is not None:
                if not m.any():
                    continue
                sel = b.select(torch.from_numpy(np.flatnonzero(m)))
                with torch.no_grad():
                    parts.append((group(sel).numpy(), sel.scenario_id.numpy(), sel.item_index.numpy()))
                continue
            parts.append((b.user_index.numpy()[m], b.scenario_id.numpy()[m], b.item_index.numpy()[m]))
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([p[j] for p in parts]).astype(np.int64) for j in range(3)))

    def __add__(self, other: Interactions) -> Interactions:
        return Interactions(np.concatenate([self.user, other.user]), np.concatenate([self.scenario, other.scenario]),
                            np.concatenate([self.item, other.item]))

    def __len__(self) -> int:
        return len(self.item)

    def item_counts(self, n_items: int, n_scenarios: int) -> np.ndarray:
        """Clicks per (scenario, item entity): [S, n_items + 1]."""
        flat = self.scenario * (n_items + 1) + self.item
        return np.bincount(flat, minlength=n_scenarios * (n_items + 1)).reshape(n_scenarios, n_items + 1)


def group_keys(user: np.ndarray, scenario: np.ndarray, n_scenarios: int, scope: str) -> np.ndarray:
    """The exclusion group of each row: per (user, scenario), per user, or one group for ``none``."""
    if scope == "user_scenario":
        return user.astype(np.int64) * n_scenarios + scenario
    if scope == "user":
        return user.astype(np.int64)
    return np.zeros(len(user), np.int64)


def pair_keys(group: np.ndarray, item: np.ndarray, n_items: int) -> np.ndarray:
    return group.astype(np.int64) * (n_items + 2) + (item.astype(np.int64) + 1)  # item -1 (none) -> 0


def exclude_top(items: np.ndarray, qkey: np.ndarray, excl_keys: np.ndarray, n_items: int, k: int) -> np.ndarray:
    """Drop each row's excluded candidates (``pair_keys(qkey, item)`` in ``excl_keys``) and empty slots (-1),
    keep the order of the rest and cut to ``k`` columns (-1 where fewer remain)."""
    keys = pair_keys(np.broadcast_to(qkey[:, None], items.shape), items, n_items)
    drop = np.isin(keys, excl_keys) | (items < 0)
    order = np.argsort(drop, axis=1, kind="stable")[:, :k]
    out = np.take_along_axis(items, order, 1)
    kept = np.take_along_axis(~drop, order, 1)
    out = np.where(kept, out, -1)
    if out.shape[1] < k:
        out = np.pad(out, ((0, 0), (0, k - out.shape[1])), constant_values=-1)
    return out


def ranking_metrics(ranked: np.ndarray, t_off: np.ndarray, t_items: np.ndarray, ks: Iterable[int]
                    ) -> dict[str, np.ndarray]:
    """Per query: hr@K, recall@K, ndcg@K, mrr@K of ``ranked`` [Q, Kmax] against its targets
    ``t_items[t_off[q]:t_off[q + 1]]`` (distinct items; every query has at least one)."""
    q, kmax = ranked.shape
    n_t = np.diff(t_off)
    qid = np.repeat(np.arange(q), n_t)
    big = int(max(ranked.max(initial=0), t_items.max(initial=0))) + 2
    hit = np.isin(np.arange(q)[:, None] * big + (ranked + 1), qid * big + (t_items + 1)) & (ranked >= 0)
    disc = 1.0 / np.log2(np.arange(2, kmax + 2))
    first = np.where(hit.any(1), hit.argmax(1) + 1, np.iinfo(np.int64).max)
    cum_hit = np.cumsum(hit, 1)
    cum_dcg = np.cumsum(hit * disc, 1)
    cum_disc = np.cumsum(disc)
    out: dict[str, np.ndarray] = {}
    for k in ks:
        kk = min(k, kmax)
        out[f"hr@{k}"] = (first <= k).astype(np.float64)
        out[f"recall@{k}"] = cum_hit[:, kk - 1] / n_t
        out[f"ndcg@{k}"] = cum_dcg[:, kk - 1] / cum_disc[np.minimum(n_t, kk) - 1]
        out[f"mrr@{k}"] = np.where(first <= k, 1.0 / np.minimum(first, k + 1), 0.0)
    return out


@torch.no_grad()
def embed_corpus(model: nn.Module, n_items: int, n_scenarios: int, batch: int = 8192) -> np.ndarray:
    """Every item's vector per scenario, ``batch`` items at a time: [S, N, d] float32 (row r = entity r + 1)."""
    was = model.training
    model.eval()
    try:
        out = []
        shared = not getattr(model, "scenario_items", True)  # one item vector for every scenario
        for s in range(1 if shared else n_scenarios):
            rows = []
            for a in range(1, n_items + 1, batch):
                idx = torch.arange(a, min(a + batch, n_items + 1))
                rows.append(model.item_vectors(idx, torch.full_like(idx, s)).float().numpy())
            out.append(np.concatenate(rows))
        if shared:  # [S, N, d] views of one [N, d] array (no copy; indexes built once, see ``corpus_key``)
            return np.broadcast_to(out[0].astype(np.float32), (n_scenarios, *out[0].shape))
        return np.stack(out).astype(np.float32)
    finally:
        model.train(was)


@dataclass
class Queries:
    """One query per (user, scenario) with clicks in the evaluated split: its vector and its targets.

    Shapes:
        user, scenario: [Q]; vectors: [Q, d] or [Q, K, d] (multi-interest, ``search_multi``)
        t_off: [Q + 1]; t_items: [T] distinct per query
        events: [E] event ids of each query's kept clicked rows (``events[e_off[q]:e_off[q + 1]]``); e_off: [Q + 1]
    """

    user: np.ndarray
    scenario: np.ndarray
    vectors: np.ndarray
    t_off: np.ndarray
    t_items: np.ndarray
    category: np.ndarray | None = None  # [Q] the query's category (in-category retrieval), or None
    events: np.ndarray | None = None  # [E] the clicked events behind each query's targets (retrieval oracle)
    e_off: np.ndarray | None = None  # [Q + 1] offsets of each query's events


@torch.no_grad()
def collect_queries(user_vectors: Callable[[Batch], torch.Tensor], batches: Iterable[Batch], n_scenarios: int,
                    excluded: Interactions, n_items: int, scope: str,
                    group: Callable[[Batch], torch.Tensor] | None = None,
                    category: Callable[[Batch], torch.Tensor] | None = None) -> Queries:
    """The evaluated split's queries, with targets that are repeats of excluded interactions dropped. A query is
    a (user, scenario) or, with ``group`` (a model's ``query_group``: the node a row queries with), a (group,
    scenario); its ``user`` field then holds the group. ``category`` (a model's ``query_category``): each query's
    category, for retrieval within it."""
    us, ss, its, vs, cs, es = [], [], [], [], [], []
    for b in batches:
        m = b.label("click") > 0.5
        if not bool(m.any()):
            continue
        sel = b.select(torch.nonzero(m).squeeze(1))
        us.append((group(sel) if group is not None else sel.user_index).numpy())
        ss.append(sel.scenario_id.numpy())
        its.append(sel.item_index.numpy())
        vs.append(user_vectors(sel).float().numpy())
        es.append(sel.event_id.numpy().astype(np.int64))
        if category is not None:
            cs.append(category(sel).numpy().astype(np.int64))
    if not us:
        z = np.zeros(0, np.int64)
        return Queries(z, z, np.zeros((0, 1), np.float32), np.zeros(1, np.int64), z, events=z,
                       e_off=np.zeros(1, np.int64))
    u, s, it, v, ev = (np.concatenate(x) for x in (us, ss, its, vs, es))
    cat = np.concatenate(cs) if cs else None
    keep = it > 0
    if scope != "none":  # repeats of an excluded interaction are no targets
        excl = np.unique(pair_keys(group_keys(excluded.user, excluded.scenario, n_scenarios, scope), excluded.item,
                                   n_items))
        keep &= ~np.isin(pair_keys(group_keys(u, s, n_scenarios, scope), it, n_items), excl)
    u, s, it, v, ev = u[keep], s[keep], it[keep], v[keep], ev[keep]
    cat = cat[keep] if cat is not None else None
    qk = u.astype(np.int64) * n_scenarios + s
    uq, first, inv = np.unique(qk, return_index=True, return_inverse=True)
    pairs = np.unique(inv.astype(np.int64) * (n_items + 1) + it)  # distinct (query, item), sorted by query
    pq, pit = pairs // (n_items + 1), pairs % (n_items + 1)
    t_off = np.concatenate([[0], np.cumsum(np.bincount(pq, minlength=len(uq)))])
    e_off = np.concatenate([[0], np.cumsum(np.bincount(inv, minlength=len(uq)))])
    return Queries(u[first], s[first], v[first], t_off, pit, cat[first] if cat is not None else None,
                   events=ev[np.argsort(inv, kind="stable")], e_off=e_off)


def corpus_key(x: np.ndarray) -> tuple:
    """Scenarios whose corpora are views of the same memory (``embed_corpus`` of a scenario-free item tower)
    share one index."""
    return (x.__array_interface__["data"][0], x.shape, x.strides)


def build_indexes(corpus: np.ndarray, cfg: IndexConfig) -> list:
    """One index per scenario of ``corpus`` [S, N, d]; scenarios sharing their vectors share the index object."""
    built: dict = {}
    out = []
    for s in range(corpus.shape[0]):
        key = corpus_key(corpus[s])
        if key not in built:
            built[key] = build_index(corpus[s], cfg)
        out.append(built[key])
    return out


def _mean_block(per_q: dict[str, np.ndarray], m: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {k: float(v[m].mean()) for k, v in per_q.items()}
    out["n"] = int(m.sum())
    return out


def evaluate_retrieval(queries: Queries, corpus: np.ndarray, excluded: Interactions, scenario_names: list[str],
                       cfg: MatchingConfig, ann: IndexConfig | None = None, indexes: list | None = None,
                       item_category: np.ndarray | None = None, slices: TrainingClicks | None = None) -> dict:
    """Metrics of ``queries`` ranked over ``corpus`` [S, N, d] by exact search, and (``ann`` given) by that
    index (``indexes``: prebuilt faiss indexes per scenario, else built here) side by side under ``ann``.
    With ``item_category`` [N + 1] (per item entity) and ``queries.category``, each query ranks only the items
    of its category (both searches, through a FAISS ID selector). With ``slices`` (training clicks per item and
    per query group), each scenario block gets ``slices`` (``evaluate/retrieval_slices.py``), both searches."""
    s_count, n_items = corpus.shape[0], corpus.shape[1]
    ks = list(cfg.ks)
    kmax = min(max(ks), n_items)
    excl_g = group_keys(excluded.user, excluded.scenario, s_count, cfg.exclude)
    excl = np.unique(pair_keys(excl_g, excluded.item, n_items)) if cfg.exclude != "none" else np.zeros(0, np.int64)
    qkey = group_keys(queries.user, queries.scenario, s_count, cfg.exclude)
    n_ex = np.zeros(len(qkey), np.int64)  # excluded interactions of each query's group (bounds the search depth)
    if len(excl):
        g_vals, g_cnt = np.unique(excl_g, return_counts=True)
        pos = np.minimum(np.searchsorted(g_vals, qkey), len(g_vals) - 1)
        n_ex = np.where(g_vals[pos] == qkey, g_cnt[pos], 0)
    ranked = {"exact": np.full((len(qkey), kmax), -1, np.int64)}
    kinds = [("exact", EXACT)] + ([("ann", ann)] if ann is not None and ann.kind != "exact" else [])
    if len(kinds) > 1:
        ranked["ann"] = ranked["exact"].copy()
    built: dict = {}
    for s in range(s_count):
        rows = np.flatnonzero(queries.scenario == s)
        if not len(rows):
            continue
        kprime = min(n_items, kmax + int(np.max(n_ex[rows], initial=0)))
        for name, icfg in kinds:
            if name == "ann" and indexes is not None:
                index = indexes[s]
            else:
                key = (name, corpus_key(corpus[s]))
                if key not in built:
                    built[key] = build_index(corpus[s], icfg)
                index = built[key]
            in_cat = item_category is not None and queries.category is not None
            groups = ([(rows[queries.category[rows] == c], np.flatnonzero(item_category[1:] == c))
                       for c in np.unique(queries.category[rows])] if in_cat else [(rows, None)])
            for grows, allowed in groups:
                if allowed is not None and not len(allowed):
                    continue  # a category without items: nothing retrieved
                _, r = search(index, queries.vectors[grows], kprime, batch=cfg.eval_users_per_batch,
                              allowed=allowed)
                items = np.where(r >= 0, r + 1, -1)  # index row -> item entity
                ranked[name][grows] = exclude_top(items, qkey[grows], excl, n_items, kmax)
    res: dict = {}
    for name in ranked:
        per_q = ranking_metrics(ranked[name], queries.t_off, queries.t_items, ks)
        if name == "ann":
            per_q.update(_overlap(ranked["ann"], ranked["exact"], ks))
        block = {"overall": _mean_block(per_q, np.ones(len(qkey), bool)), "scenarios": {}}
        for s, sname in enumerate(scenario_names):
            m = queries.scenario == s
            if m.any():
                block["scenarios"][sname] = _mean_block(per_q, m)
        if slices is not None:  # HR@K on all / long-tail targets per query-popularity bin
            cut = retrieval_slices(ranked[name], queries.t_off, queries.t_items, queries.scenario, slices.item,
                                   slices.query_popularity(queries.user, queries.scenario), ks, scenario_names,
                                   tail_clicks=slices.tail_clicks, bins=slices.bins)
            for sname, sl in cut.items():
                block["scenarios"][sname]["slices"] = sl
        res[name] = block
    out = res["exact"]
    if "ann" in res:
        out["ann"] = {"params": effective_params(ann, n_items, corpus.shape[2]), **res["ann"]}
    return out


def _overlap(approx: np.ndarray, exact: np.ndarray, ks: list[int]) -> dict[str, np.ndarray]:
    """index_recall@K per query: |approx top K ∩ exact top K| / |exact top K| (1 where exact has none)."""
    q = len(exact)
    big = int(max(exact.max(initial=0), approx.max(initial=0))) + 2
    out = {}
    for k in ks:
        e, a = exact[:, :k], approx[:, :k]
        qa = np.arange(q)[:, None] * big
        hit = np.isin(qa + a + 1, (qa + e + 1)[e >= 0]) & (a >= 0)
        denom = (e >= 0).sum(1)
        out[f"index_recall@{k}"] = np.where(denom > 0, hit.sum(1) / np.maximum(denom, 1), 1.0)
    return out


def popularity_corpus(train: Interactions, n_items: int, n_scenarios: int) -> np.ndarray:
    """The popularity baseline as a 1-d corpus: each item's training clicks in the scenario, [S, N, 1]
    (queries of vector [1] rank by it)."""
    return train.item_counts(n_items, n_scenarios)[:, 1:, None].astype(np.float32)
