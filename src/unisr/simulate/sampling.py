"""Small vectorised sampling helpers shared by the simulator's parts.

Shapes:
    elementwise / row-wise helpers over [N] or [N, d] arrays
"""

from __future__ import annotations

import numpy as np

from unisr.simulate import numerics

F32 = np.float32


def child_rng(seed: int, *keys: int) -> np.random.Generator:
    """An independent generator per (seed, part, chunk, ...): results never depend on processing order."""
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *[int(k) for k in keys]]))


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float32)."""
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(n, 1e-8)).astype(F32)


def noisy_units(centers: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors = normalise(center + noise * N(0, 1/d)): noise is the expected norm of the perturbation."""
    d = centers.shape[-1]
    return unit_rows(centers + noise * rng.standard_normal(centers.shape, dtype=F32) / np.sqrt(d))


def rows_from_cum(cum: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each i, a category drawn from the row ``cum[groups[i]]`` of a row-wise cumulative distribution."""
    out = np.empty(len(groups), dtype=np.int64)
    step = 1 << 20
    for s in range(0, len(groups), step):
        g = groups[s : s + step]
        u = rng.random(len(g)) * cum[g, -1]
        out[s : s + step] = (cum[g] < u[:, None]).sum(axis=1)
    return np.minimum(out, cum.shape[1] - 1)


def zipf_weights(n: int, exponent: float, exact: bool = False) -> np.ndarray:
    r = np.arange(1, n + 1, dtype=np.float64)
    w = numerics.power(r, -exponent) if exact else 1.0 / r**exponent
    return w / w.sum()


def sample_in_ranges(
    cum: np.ndarray, start: np.ndarray, stop: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Index drawn in ``[start, stop)`` with probability proportional to the weights behind ``cum``.

    ``cum`` is the inclusive cumulative sum of the weights over the whole (grouped) array; empty ranges
    return ``start`` clipped (callers mask them).
    """
    lo = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
    hi = cum[np.maximum(stop - 1, 0)]
    t = lo + rng.random(len(start)) * (hi - lo)
    idx = np.searchsorted(cum, t, side="right")
    return np.clip(idx, start, np.maximum(stop - 1, start))


def dedupe_rows(x: np.ndarray) -> np.ndarray:
    """Mask (True = first occurrence) of each value within each row of a 2-d integer array."""
    order = np.argsort(x, axis=1, kind="stable")
    xs = np.take_along_axis(x, order, axis=1)
    first_sorted = np.ones_like(xs, dtype=bool)
    first_sorted[:, 1:] = xs[:, 1:] != xs[:, :-1]
    keep = np.empty_like(first_sorted)
    np.put_along_axis(keep, order, first_sorted, axis=1)
    return keep


def sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x))).astype(F32)
