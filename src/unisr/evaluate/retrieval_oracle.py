"""The retrieval oracle: the ceiling of every full-sort retrieval figure on simulated data.

For each evaluated query (``evaluate.retrieval.Queries``, as ``collect_queries`` makes it for a matching model),
the oracle ranks the corpus by the simulator's TRUE position-free click probability of (the query's request
context, item) and is measured by exactly the protocol of ``evaluate_retrieval``: the same queries, targets,
exclusions (``cfg.exclude``: the earlier splits' clicks of the query's user and scenario are not ranked), the
same in-category filter when ``item_category`` and ``queries.category`` are given (a query ranks only the items of
its category), the same metrics (``ranking_metrics``: HR / Recall / NDCG / MRR @K), per scenario and overall.

A query groups the clicked events behind its targets (``queries.events`` / ``e_off``: a (user, scenario) over
the split's sessions, or BOMGraph's query node across users); each event has its own request context (session
intent, query or trigger, time), so the oracle ranks by the **mean true probability over the group's clicked
events**: the ranking that maximises the expected number of the group's clicks in the top K when each event
counts once. The probabilities come from ``event_scores`` (``simulate.truth_scores.SimTruth.entity_scorer``:
the simulator rebuilt from ``dataset.yaml``), so this module needs no simulator itself. Two scorers:

- ``entity_scorer(item_ids)``: P(click | shown at the top slot), the click model's truth. It ignores exposure
  (a target was also retrieved and shown by the simulated platform), so popularity can beat it on feeds;
- ``entity_scorer(item_ids, exposure=True)``: E[click | request context] = sum_k P(shown at k) P(click at k)
  (Monte Carlo over the simulator's retrieval and ranker), what the targets are drawn from: the ceiling proper.

Shapes:
    event_scores(event_ids [E]) -> [E, N] true P(click) of item entities 1..N (column j = entity j + 1)
    oracle_rankings(queries [Q], ...) -> [Q, Kmax] item entities (-1 = none)
    select_queries(queries [Q], keep [Q] bool) -> Queries [Q']
    evaluate_oracle(...) -> {"overall": {metric: float, "n": int}, "scenarios": {name: {...}}}
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from unisr.evaluate.retrieval import Interactions, Queries, group_keys, pair_keys, ranking_metrics
from unisr.pipeline.config import MatchingConfig

EventScores = Callable[[np.ndarray], np.ndarray]


def _group_means(scores: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Row means of ``scores`` [E, N] over the groups ``off`` [G + 1] (every group non-empty): [G, N] float64."""
    sums = np.add.reduceat(scores.astype(np.float64), off[:-1], axis=0)
    return sums / np.diff(off)[:, None]


def oracle_rankings(queries: Queries, event_scores: EventScores, excluded: Interactions, n_items: int,
                    n_scenarios: int, scope: str, kmax: int, item_category: np.ndarray | None = None,
                    chunk: int = 256) -> np.ndarray:
    """Each query's top ``kmax`` item entities by the mean true probability over its events, its excluded
    interactions (``scope`` as ``cfg.exclude``) and, with ``item_category`` [N + 1] and ``queries.category``,
    the items outside its category never ranked. [Q, kmax], -1 where fewer items are rankable."""
    if queries.events is None or queries.e_off is None:
        raise ValueError("queries without events: make them with evaluate.retrieval.collect_queries (it fills "
                         "Queries.events / e_off)")
    q_n = len(queries.user)
    kmax = min(kmax, n_items)
    out = np.full((q_n, kmax), -1, np.int64)
    qkey = group_keys(queries.user, queries.scenario, n_scenarios, scope)
    excl = (np.unique(pair_keys(group_keys(excluded.user, excluded.scenario, n_scenarios, scope), excluded.item,
                                n_items)) if scope != "none" else np.zeros(0, np.int64))
    in_cat = item_category is not None and queries.category is not None
    if in_cat:
        item_cat = np.asarray(item_category, np.int64)[1:]
        if len(item_cat) != n_items:
            raise ValueError(f"item_category: {len(item_cat) + 1} rows for {n_items} items (+ 1 OOV row expected)")
    stride = n_items + 2
    for a in range(0, q_n, chunk):
        b = min(a + chunk, q_n)
        e0, e1 = queries.e_off[a], queries.e_off[b]
        p = event_scores(queries.events[e0:e1])
        if p.shape != (e1 - e0, n_items):
            raise ValueError(f"event_scores gave {p.shape} for {e1 - e0} events and {n_items} items")
        s = _group_means(p, queries.e_off[a:b + 1] - e0)  # [G, N]
        if len(excl):  # the excluded (group, item) pairs of each query: a key range per group
            lo = np.searchsorted(excl, qkey[a:b] * stride)
            hi = np.searchsorted(excl, (qkey[a:b] + 1) * stride)
            cnt = hi - lo
            rows = np.repeat(np.arange(b - a), cnt)
            keys = excl[np.repeat(lo, cnt) + np.arange(len(rows)) - np.repeat(np.cumsum(cnt) - cnt, cnt)]
            col = keys - qkey[a:b][rows] * stride - 2  # key = group * stride + entity + 1; column = entity - 1
            ok = (col >= 0) & (col < n_items)
            s[rows[ok], col[ok]] = -np.inf
        if in_cat:
            s[item_cat[None, :] != queries.category[a:b, None]] = -np.inf
        top = np.argpartition(-s, kmax - 1, axis=1)[:, :kmax] if kmax < n_items else np.tile(np.arange(n_items),
                                                                                              (b - a, 1))
        sv = np.take_along_axis(s, top, 1)
        order = np.argsort(-sv, axis=1, kind="stable")
        top, sv = np.take_along_axis(top, order, 1), np.take_along_axis(sv, order, 1)
        out[a:b] = np.where(np.isfinite(sv), top + 1, -1)
    return out


def select_queries(q: Queries, keep: np.ndarray) -> Queries:
    """The queries of the boolean mask ``keep`` [Q], their targets and events re-offset (e.g. the scenarios an
    oracle can score: a share panel's click is on a user, not an item)."""
    rows = np.flatnonzero(keep)

    def take(off: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = np.diff(off)[rows]
        idx = np.repeat(off[rows], n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        return np.concatenate([[0], np.cumsum(n)]).astype(np.int64), vals[idx]

    t_off, t_items = take(q.t_off, q.t_items)
    e_off, events = take(q.e_off, q.events) if q.events is not None and q.e_off is not None else (None, None)
    return Queries(q.user[rows], q.scenario[rows], q.vectors[rows], t_off, t_items,
                   None if q.category is None else q.category[rows], events=events, e_off=e_off)


def metric_blocks(per_q: dict[str, np.ndarray], scenario: np.ndarray, scenario_names: list[str]) -> dict:
    """Per-query metrics -> {"overall": means, "scenarios": {name: means}} (each with its ``n`` queries)."""
    def block(m: np.ndarray) -> dict:
        return {**{k: float(v[m].mean()) for k, v in per_q.items()}, "n": int(m.sum())}

    out: dict = {"overall": block(np.ones(len(scenario), bool)), "scenarios": {}}
    for s, name in enumerate(scenario_names):
        m = scenario == s
        if m.any():
            out["scenarios"][name] = block(m)
    return out


def evaluate_oracle(queries: Queries, event_scores: EventScores, excluded: Interactions, scenario_names: list[str],
                    cfg: MatchingConfig, n_items: int, item_category: np.ndarray | None = None,
                    chunk: int = 256) -> dict:
    """The oracle's metric block: the keys of ``evaluate_retrieval``'s exact block (``overall`` and
    ``scenarios``, each HR / Recall / NDCG / MRR @ ``cfg.ks`` and ``n``), under the same protocol."""
    ks = list(cfg.ks)
    ranked = oracle_rankings(queries, event_scores, excluded, n_items, len(scenario_names), cfg.exclude, max(ks),
                             item_category, chunk)
    return metric_blocks(ranking_metrics(ranked, queries.t_off, queries.t_items, ks), queries.scenario,
                         scenario_names)
