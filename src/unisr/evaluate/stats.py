"""Across seeds: mean ± std and a paired t-test between two models."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def mean_std(values: list[float]) -> tuple[float, float]:
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def fmt_mean_std(values: list[float], digits: int = 4) -> str:
    m, s = mean_std(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def paired_ttest(a: list[float], b: list[float]) -> tuple[float, float]:
    """Two-sided paired t-test of a vs b over matched seeds: (t statistic, p-value)."""
    if len(a) != len(b) or len(a) < 2:
        return float("nan"), float("nan")
    r = stats.ttest_rel(np.asarray(a), np.asarray(b))
    return float(r.statistic), float(r.pvalue)
