"""Metrics, vectorised with numpy: AUC (ties averaged), GAUC, logloss, RelaImpr, per-request list metrics,
and top-K retrieval metrics. ``ScenarioMetrics`` accumulates batches and reports per scenario and overall.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _average_ranks(keys: tuple[np.ndarray, ...], order: np.ndarray) -> np.ndarray:
    """1-based ranks of rows sorted by ``order`` (a lexsort of ``keys``), ties (equal on every key) averaged."""
    n = len(order)
    if n == 0:
        return np.zeros(0)
    new_run = np.zeros(n, dtype=bool)
    new_run[0] = True
    for k in keys:
        ks = k[order]
        new_run[1:] |= ks[1:] != ks[:-1]
    run_id = np.cumsum(new_run) - 1
    starts = np.flatnonzero(new_run)
    ends = np.append(starts[1:], n)
    avg = (starts + ends + 1) / 2.0  # mean of 1-based positions start+1 .. end
    ranks = np.empty(n)
    ranks[order] = avg[run_id]
    return ranks


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC (Mann-Whitney), ties averaged; NaN if one class is absent."""
    labels = np.asarray(labels) > 0.5
    scores = np.asarray(scores, dtype=np.float64)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    ranks = _average_ranks((scores,), order)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def group_auc(labels: np.ndarray, scores: np.ndarray, groups: np.ndarray) -> tuple[float, int]:
    """GAUC: per-group AUC weighted by the group's impressions; groups with one class skipped.

    Returns (gauc, number of groups used). Vectorised: one lexsort, ranks within groups from global ranks.
    """
    labels = np.asarray(labels) > 0.5
    scores = np.asarray(scores, dtype=np.float64)
    groups = np.asarray(groups)
    if len(labels) == 0:
        return float("nan"), 0
    order = np.lexsort((scores, groups))
    ranks = _average_ranks((groups, scores), order)
    g_sorted = groups[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = g_sorted[1:] != g_sorted[:-1]
    gid_sorted = np.cumsum(first) - 1
    gid = np.empty(len(order), dtype=np.int64)
    gid[order] = gid_sorted
    group_start = np.flatnonzero(first)  # 0-based start offset of each group in sorted order
    ng = len(group_start)
    within = ranks - group_start[gid]
    n = np.bincount(gid, minlength=ng).astype(np.float64)
    n_pos = np.bincount(gid, weights=labels.astype(np.float64), minlength=ng)
    n_neg = n - n_pos
    rank_sum = np.bincount(gid, weights=within * labels, minlength=ng)
    ok = (n_pos > 0) & (n_neg > 0)
    if not ok.any():
        return float("nan"), 0
    g_auc = (rank_sum[ok] - n_pos[ok] * (n_pos[ok] + 1) / 2) / (n_pos[ok] * n_neg[ok])
    return float(np.sum(g_auc * n[ok]) / np.sum(n[ok])), int(ok.sum())


def logloss(labels: np.ndarray, probs: np.ndarray, eps: float = 1e-7) -> float:
    p = np.clip(np.asarray(probs, dtype=np.float64), eps, 1 - eps)
    y = np.asarray(labels, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))) if len(y) else float("nan")


def rela_impr(auc_model: float, auc_base: float) -> float:
    """RelaImpr (SRJGraph eq. 15), in percent: ((AUC(model) - 0.5) / (AUC(base) - 0.5) - 1) * 100."""
    return ((auc_model - 0.5) / (auc_base - 0.5) - 1.0) * 100.0


def list_metrics(labels: np.ndarray, scores: np.ndarray, request: np.ndarray,
                 ks: tuple[int, ...] = (5, 10)) -> dict[str, float]:
    """Each request's shown list ranked by score: MRR of the first click and HR@K; requests without a click
    are skipped. Ties are broken pessimistically (a clicked item tied with unclicked ones ranks after them).
    """
    labels = np.asarray(labels) > 0.5
    if len(labels) == 0:
        return {"mrr": float("nan"), **{f"hr@{k}": float("nan") for k in ks}, "requests": 0}
    # sort by request, then score descending, then label ascending (pessimistic ties)
    order = np.lexsort((labels, -np.asarray(scores, dtype=np.float64), request))
    r = np.asarray(request)[order]
    y = labels[order]
    first = np.ones(len(r), dtype=bool)
    first[1:] = r[1:] != r[:-1]
    gid = np.cumsum(first) - 1
    start = np.flatnonzero(first)
    pos = np.arange(len(r)) - start[gid] + 1  # 1-based position in the list
    ng = len(start)
    best = np.full(ng, np.iinfo(np.int64).max)
    np.minimum.at(best, gid[y], pos[y])
    has = best < np.iinfo(np.int64).max
    out: dict[str, float] = {"requests": int(has.sum())}
    if not has.any():
        out.update({"mrr": float("nan"), **{f"hr@{k}": float("nan") for k in ks}})
        return out
    out["mrr"] = float(np.mean(1.0 / best[has]))
    for k in ks:
        out[f"hr@{k}"] = float(np.mean(best[has] <= k))
    return out


def retrieval_metrics(ranked: np.ndarray, target: np.ndarray, ks: tuple[int, ...] = (20, 50, 100, 200)
                      ) -> dict[str, float]:
    """Top-K retrieval: ``ranked`` [N, Kmax] item ids best first, ``target`` [N] the clicked item.

    HR@K = target in top K; NDCG@K = 1 / log2(1 + rank) if within K; MRR@K = 1 / rank if within K.
    """
    hit = ranked == target[:, None]
    found = hit.any(1)
    rank = np.where(found, hit.argmax(1) + 1, np.iinfo(np.int64).max)
    out = {}
    for k in ks:
        within = rank <= k
        out[f"hr@{k}"] = float(within.mean()) if len(rank) else float("nan")
        out[f"ndcg@{k}"] = float(np.where(within, 1.0 / np.log2(1.0 + np.minimum(rank, k)), 0).mean())
        out[f"mrr@{k}"] = float(np.where(within, 1.0 / np.minimum(rank, k), 0).mean())
    return out


# ----------------------------------------------------------------------------------- streaming object
@dataclass
class ScenarioMetrics:
    """Accumulates predictions of one task and reports per scenario and overall.

    ``update`` takes numpy arrays of one batch; ``compute`` returns the contract's metric dicts.
    """

    scenario_names: list[str]
    parts: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def update(self, *, scenario: np.ndarray, label: np.ndarray, prob: np.ndarray, user: np.ndarray,
               request: np.ndarray | None = None, p_true: np.ndarray | None = None,
               p_true_no_position: np.ndarray | None = None) -> None:
        cols = {"scenario": scenario, "label": label, "prob": prob, "user": user}
        if p_true_no_position is not None:
            cols["p_true_no_position"] = p_true_no_position
        if request is not None:
            cols["request"] = request
        if p_true is not None:
            cols["p_true"] = p_true
        for k, v in cols.items():
            self.parts.setdefault(k, []).append(np.asarray(v))

    def merge(self, gathered: list[dict[str, list[np.ndarray]]]) -> None:
        """Replace the parts by every rank's parts (rank order), as gathered by ``World.all_gather``."""
        merged: dict[str, list[np.ndarray]] = {}
        for parts in gathered:
            for k, v in parts.items():
                merged.setdefault(k, []).extend(v)
        self.parts = merged

    def _arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) for k, v in self.parts.items()}

    @staticmethod
    def _block(a: dict[str, np.ndarray]) -> dict[str, float]:
        y, p = a["label"], a["prob"]
        out: dict[str, float] = {
            "auc": auc(y, p),
            "gauc": group_auc(y, p, a["user"])[0],
            "logloss": logloss(y, p),
            "n": int(len(y)),
            "positives": int((y > 0.5).sum()),
        }
        if "p_true" in a:
            ok = np.isfinite(a["p_true"])
            if ok.any():
                out["oracle_auc"] = auc(y[ok], a["p_true"][ok])
                out["oracle_logloss"] = logloss(y[ok], a["p_true"][ok])
        if "p_true_no_position" in a:  # the ceiling of a position-free score (CONTRACT.md)
            ok = np.isfinite(a["p_true_no_position"])
            if ok.any():
                out["oracle_auc_no_position"] = auc(y[ok], a["p_true_no_position"][ok])
        if "request" in a:
            lm = list_metrics(y, p, a["request"])
            if lm["requests"]:
                out.update({k: v for k, v in lm.items()})
        return out

    def compute(self) -> dict:
        if not self.parts:
            return {"overall": {"n": 0}, "scenarios": {}}
        a = self._arrays()
        res = {"overall": self._block(a), "scenarios": {}}
        for s, name in enumerate(self.scenario_names):
            m = a["scenario"] == s
            if m.any():
                res["scenarios"][name] = self._block({k: v[m] for k, v in a.items()})
        return res
