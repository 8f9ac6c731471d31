"""Retrieval HR@K sliced by item and query popularity (BOMGraph's fig. 4, sec. 4.4; docs/models/retrieval_slices.md).

Per scenario, from the ranked lists of a retrieval evaluation (``evaluate/retrieval.py``):

- **all**: HR@K over every query (= ``scenarios.<name>.hr@K``): a query is hit if one of its targets is in its
  top K.
- **long_tail**: a target (query, item) pair is long-tail if the item has fewer than ``tail_clicks`` (3, the
  paper's "less than three clicks") clicks in the scenario's training split. A query enters the long-tail
  cell if at least one of its targets is long-tail, and is hit if one of its long-tail targets is in its top K
  (a popular target in the top K does not count). A query with popular targets only is not in the cell.
- **bins**: both cells again per query-popularity bin. A query's popularity is the number of training clicks
  of its group in its scenario (the group is ``Queries.user``: the user, or a model's ``query_group``, e.g.
  BOMGraph's trigger item). ``bins`` (5) bins of equal width on log(1 + popularity), from the smallest to the
  largest popularity among the scenario's evaluated queries; bin i is [e_i, e_{i+1}), the last one closed;
  all queries in bin 0 when every query has the same popularity. The edges are written out in clicks
  (``bin_edges``, = expm1 of the log edges). The long-tail cell of bin i holds the long-tail queries of that
  bin (the same edges).

Every cell carries its number of queries ``n``; an empty cell has ``n`` 0 and HR ``None``.

Shapes:
    retrieval_slices(ranked [Q, K] item entities (-1 = none), t_off [Q + 1], t_items [T], scenario [Q],
                     item_clicks [S, N + 1], popularity [Q], ks) -> {scenario name: slices block}
    TrainingClicks: item [S, N + 1]; group_keys [G] sorted (group * S + scenario); group_clicks [G]
    TrainingClicks.query_popularity(group [Q], scenario [Q]) -> [Q] int64
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

TAIL_CLICKS = 3  # sec. 4.4: "long-tail items ... items which have less than three clicks"
BINS = 5  # fig. 4: five query-popularity bins
BINNING = "equal_width_log1p"  # the bins' definition, written beside the edges


@dataclass(frozen=True)
class TrainingClicks:
    """The training clicks retrieval slices are cut by: per (scenario, item) and per (query group, scenario).

    Shapes:
        item: [S, N + 1] clicks per scenario and item entity (column 0 = unknown item)
        group_keys: [G] sorted distinct ``group * S + scenario``; group_clicks: [G] clicks of each
    """

    item: np.ndarray
    group_keys: np.ndarray
    group_clicks: np.ndarray
    n_scenarios: int
    tail_clicks: int = TAIL_CLICKS
    bins: int = BINS

    @classmethod
    def build(cls, group: np.ndarray, scenario: np.ndarray, item_clicks: np.ndarray, *,
              tail_clicks: int = TAIL_CLICKS, bins: int = BINS) -> TrainingClicks:
        """From the training split's clicked rows (``group`` [E], ``scenario`` [E]: each click's query group
        and scenario, the same key the evaluated queries use) and ``item_clicks`` [S, N + 1]."""
        if tail_clicks < 1 or bins < 1:
            raise ValueError(f"tail_clicks ({tail_clicks}) and bins ({bins}) must be >= 1")
        n_scen = int(item_clicks.shape[0])
        keys, counts = np.unique(np.asarray(group, np.int64) * n_scen + np.asarray(scenario, np.int64),
                                 return_counts=True)
        return cls(np.asarray(item_clicks, np.int64), keys, counts.astype(np.int64), n_scen, tail_clicks, bins)

    def query_popularity(self, group: np.ndarray, scenario: np.ndarray) -> np.ndarray:
        """Training clicks of each query's (group, scenario): [Q] (0 for a group never clicked in training)."""
        key = np.asarray(group, np.int64) * self.n_scenarios + np.asarray(scenario, np.int64)
        if not len(self.group_keys):
            return np.zeros(len(key), np.int64)
        pos = np.minimum(np.searchsorted(self.group_keys, key), len(self.group_keys) - 1)
        return np.where(self.group_keys[pos] == key, self.group_clicks[pos], 0)


def first_hit(ranked: np.ndarray, qid: np.ndarray, t_items: np.ndarray) -> np.ndarray:
    """1-based rank of each query's first ranked item among the targets ``(qid, t_items)`` [T'];
    a sentinel larger than any K where none is ranked. [Q] int64."""
    q = len(ranked)
    big = int(max(ranked.max(initial=0), t_items.max(initial=0))) + 2
    hit = np.isin(np.arange(q, dtype=np.int64)[:, None] * big + (ranked + 1), qid * big + (t_items + 1))
    hit &= ranked >= 0
    return np.where(hit.any(1), hit.argmax(1) + 1, np.iinfo(np.int64).max)


def popularity_bins(popularity: np.ndarray, bins: int = BINS) -> tuple[np.ndarray, np.ndarray]:
    """Equal-width bins on log(1 + popularity) between the smallest and largest value: (bin [Q] in
    0..bins-1, edges [bins + 1] in clicks). Bin i = [e_i, e_{i+1}), the last one closed; one value: bin 0."""
    lp = np.log1p(np.asarray(popularity, np.float64))
    if not len(lp):
        return np.zeros(0, np.int64), np.zeros(bins + 1)
    lo, hi = float(lp.min()), float(lp.max())
    edges = np.linspace(lo, hi, bins + 1)
    if hi == lo:
        return np.zeros(len(lp), np.int64), np.expm1(edges)
    b = np.clip(np.searchsorted(edges, lp, side="right") - 1, 0, bins - 1)
    return b.astype(np.int64), np.expm1(edges)


def _cell(first: np.ndarray, b: np.ndarray, ks: list[int], bins: int) -> dict:
    """HR@K of the queries of one cell (``first`` [q] first-hit ranks, ``b`` [q] bins), overall and per bin."""
    n = len(first)
    out: dict = {f"hr@{k}": (float((first <= k).mean()) if n else None) for k in ks}
    out["n"] = int(n)
    cnt = np.bincount(b, minlength=bins)
    per = {k: np.bincount(b, weights=(first <= k).astype(np.float64), minlength=bins) for k in ks}
    out["bins"] = [{**{f"hr@{k}": (float(per[k][i] / cnt[i]) if cnt[i] else None) for k in ks}, "n": int(cnt[i])}
                   for i in range(bins)]
    return out


def retrieval_slices(ranked: np.ndarray, t_off: np.ndarray, t_items: np.ndarray, scenario: np.ndarray,
                     item_clicks: np.ndarray, popularity: np.ndarray, ks: Iterable[int], scenario_names: list[str],
                     *, tail_clicks: int = TAIL_CLICKS, bins: int = BINS) -> dict[str, dict]:
    """The slices block of every scenario with queries (module docstring): ``{name: {"tail_clicks",
    "binning", "bin_edges", "all": cell, "long_tail": cell}}``, a cell = ``{"hr@K", "n", "bins": [{"hr@K",
    "n"}] * bins}``; the long-tail cell also has ``targets`` (its long-tail (query, item) pairs).
    ``ranked`` [Q, K] item entities (-1 = none); targets ``t_items[t_off[q]:t_off[q + 1]]``; ``scenario`` [Q];
    ``item_clicks`` [S, N + 1] training clicks; ``popularity`` [Q] training clicks of each query's group."""
    ks = sorted({int(k) for k in ks})
    ranked = np.asarray(ranked, np.int64)
    t_off, t_items = np.asarray(t_off, np.int64), np.asarray(t_items, np.int64)
    scenario = np.asarray(scenario, np.int64)
    q = len(ranked)
    if len(t_off) != q + 1 or len(scenario) != q or len(popularity) != q or t_off[-1] != len(t_items):
        raise ValueError(f"retrieval_slices: ranked has {q} rows, t_off {len(t_off)} (want Q + 1 = {q + 1}, "
                         f"last = len(t_items) = {len(t_items)}), scenario {len(scenario)}, popularity "
                         f"{len(popularity)}")
    qid = np.repeat(np.arange(q, dtype=np.int64), np.diff(t_off))
    tail_t = item_clicks[scenario[qid], t_items] < tail_clicks  # [T] the target is a long-tail item there
    first_all = first_hit(ranked, qid, t_items)
    first_tail = first_hit(ranked, qid[tail_t], t_items[tail_t])
    has_tail = np.bincount(qid[tail_t], minlength=q) > 0
    n_tail_t = np.bincount(qid[tail_t], minlength=q)
    out: dict[str, dict] = {}
    for s, name in enumerate(scenario_names):
        rows = np.flatnonzero(scenario == s)
        if not len(rows):
            continue
        b, edges = popularity_bins(popularity[rows], bins)
        tr = has_tail[rows]
        tail = _cell(first_tail[rows][tr], b[tr], ks, bins)
        tail["targets"] = int(n_tail_t[rows].sum())
        out[name] = {"tail_clicks": int(tail_clicks), "binning": BINNING, "bin_edges": [round(float(e), 6) for e in edges],
                     "all": _cell(first_all[rows], b, ks, bins), "long_tail": tail}
    return out
