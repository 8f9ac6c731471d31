"""CPU-independent arithmetic for data version 2: the same bits on every x86-64 (AVX2 or AVX-512) machine.

Why: numpy dispatches its transcendental functions (``exp``, ``log``, ``log2``, ``power``, ...) to SIMD
code chosen at run time (AVX-512F/SKX loops, SVML, or the C library) whose results differ in the last bit,
and OpenBLAS picks a matmul kernel per CPU (another summation order). In v1 such a last-bit difference
flips a Bernoulli draw now and then, so the same seed gave other data on another machine.

What: IEEE 754 makes ``+ - * /``, ``sqrt``, ``rint``, ``ldexp`` and ``frexp`` exact (correctly rounded), so
a numpy expression built only from them, one ufunc per operation and a fixed order of operations, gives
the same bits on every CPU. ``exp``, ``log`` and ``matmul`` are written here that way (range reduction and
a fixed polynomial in float64, error < 4 ulp; a matrix product as an explicit ordered sum). Sums along an
axis (``ndarray.sum``, pairwise with a fixed block structure) and numpy's random generators (their own C
code over the bit stream) are already CPU-independent.

Shapes:
    every function is elementwise (any shape) except ``matmul``: [N, K] @ [K, M] -> [N, M]
"""

from __future__ import annotations

import numpy as np

F64 = np.float64
LN2_HI = 6.93147180369123816490e-01  # ln 2 split in two (fdlibm): k * LN2_HI is exact for |k| < 2^11
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.44269504088896338700e00
SQRT_HALF = 0.70710678118654752440
_EXP_TERMS = 14  # Taylor terms of exp(r), |r| <= ln2 / 2: the remainder is < 1e-17
_LOG_TERMS = 12  # atanh series terms of log(m), m in [sqrt(1/2), sqrt(2)): s^2 < 0.0295, remainder < 1e-18


def exp(x: np.ndarray | float) -> np.ndarray:
    """e^x in float64 from exact operations only (inputs clipped to [-700, 700])."""
    x = np.clip(np.asarray(x, dtype=F64), -700.0, 700.0)
    k = np.rint(x * INV_LN2)
    r = (x - k * LN2_HI) - k * LN2_LO
    p = np.ones_like(r)
    t = np.empty_like(r)
    for n in range(_EXP_TERMS, 0, -1):  # Horner: p = 1 + (r / n) p, in place (arrays of up to ~10^8)
        np.divide(r, n, out=t)
        np.multiply(t, p, out=t)
        np.add(t, 1.0, out=p)
    return np.ldexp(p, k.astype(np.int32))


def log(x: np.ndarray | float) -> np.ndarray:
    """Natural log in float64 from exact operations only (x > 0; 0 gives -inf, negative values nan)."""
    x = np.asarray(x, dtype=F64)
    pos = x > 0
    m, e = np.frexp(np.where(pos, x, 1.0))  # x = m 2^e, m in [0.5, 1)
    low = m < SQRT_HALF
    m = np.where(low, m * 2.0, m)
    e = np.where(low, e - 1, e).astype(F64)
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    p = np.full_like(s, 1.0 / (2 * _LOG_TERMS - 1))
    for n in range(_LOG_TERMS - 1, 0, -1):
        p = 1.0 / (2 * n - 1) + s2 * p
    out = (e * LN2_LO + 2.0 * s * p) + e * LN2_HI
    return np.where(pos, out, np.where(x == 0, -np.inf, np.nan))


def log2(x: np.ndarray | float) -> np.ndarray:
    return log(x) * INV_LN2


def power(x: np.ndarray | float, a: float) -> np.ndarray:
    """x^a for x > 0."""
    return exp(a * log(x))


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """1 / (1 + e^-x) in float64."""
    return 1.0 / (1.0 + exp(-np.asarray(x, dtype=F64)))


def matmul(a: np.ndarray, b: np.ndarray, dtype: type = F64) -> np.ndarray:
    """``a @ b`` as an explicit sum over k in order (no BLAS): [N, K] @ [K, M] -> [N, M]; ``b`` may be 1-d
    ([K] -> [N]). Each product and sum is one correctly rounded operation, so the result is exact in
    ``dtype`` (float32 where the result is stored as float32 anyway)."""
    a = np.asarray(a, dtype=dtype)
    b = np.asarray(b, dtype=dtype)
    vec = b.ndim == 1
    b2 = b[:, None] if vec else b
    out = a[:, 0, None] * b2[0][None, :]
    for k in range(1, a.shape[1]):  # K is a small latent dimension (<= 16), never the number of events
        out += a[:, k, None] * b2[k][None, :]
    return out[:, 0] if vec else out


def rowdot(a: np.ndarray, b: np.ndarray, dtype: type = F64) -> np.ndarray:
    """Dot products over the last axis, ``(a * b).sum(-1)`` with broadcasting (no einsum/BLAS): products and a
    pairwise sum in a fixed order, so exact in ``dtype`` (float32 for the unit-vector features, as in v1)."""
    return (np.asarray(a, dtype=dtype) * np.asarray(b, dtype=dtype)).sum(-1)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, float32 (the norm from an exact float64 sum of squares)."""
    x64 = np.asarray(x, dtype=F64)
    n = np.sqrt((x64 * x64).sum(-1, keepdims=True))
    return (x64 / np.maximum(n, 1e-8)).astype(np.float32)
