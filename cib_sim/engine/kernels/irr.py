"""IRR root finding, compiled: one column (path) at a time.

The coefficient matrices are those of :mod:`cib_sim.engine.metrics`: ``coef`` (K, m), row k
multiplying ``w**k``, one polynomial per column, padded with zero rows at the top. Each function
repeats, for its column, the exact steps that the vectorised code did for every column at once
(Horner from row K-1 down, Newton kept inside a bracket, the same convergence tests), so results
are bit-identical to it; a column stops as soon as it has converged instead of waiting for the
batch's last one, and nothing is copied to compact the batch.
"""

from __future__ import annotations

import numpy as np

from cib_sim.engine.kernels import kernel

# Kernels do not call one another (each compiles alone): ``P(w)`` by Horner's rule and
# ``np.sign`` of a scalar (-1, 0 or 1; NaN stays NaN) are written out where they are needed.


@kernel
def rtsafe(coef: np.ndarray, lo: np.ndarray, hi: np.ndarray, w: np.ndarray, atol: float, wtol: float,
           maxiter: int) -> np.ndarray:
    """(m,) root of each column's ``P`` in ``[lo, hi]``, started at ``w`` (each (m,)): safeguarded
    Newton as in :func:`cib_sim.engine.metrics._rtsafe` (its docstring has the rules)."""
    K, m = coef.shape
    out = np.empty(m)
    for j in range(m):
        a, b = lo[j], hi[j]
        p = coef[K - 1, j]
        for k in range(K - 2, -1, -1):
            p = p * b + coef[k, j]
        orient = 1.0 if p > 0.0 else (-1.0 if p < 0.0 else p)  # f = orient * P: f(hi) > 0
        x = w[j] if (w[j] > a) and (w[j] < b) else 0.5 * (a + b)
        step = step_older = b - a
        result = np.nan
        converged = False
        for _ in range(maxiter):
            p = coef[K - 1, j]
            dp = 0.0
            for k in range(K - 2, -1, -1):
                dp = dp * x + p
                p = p * x + coef[k, j]
            f, df = orient * p, orient * dp
            if f < 0.0:
                a = x
            else:
                b = x
            newton = x - f / df
            bisect = not ((newton >= a) and (newton <= b)) or abs(2.0 * f) > abs(step_older * df)
            x_new = 0.5 * (a + b) if bisect else newton
            step_older, step = step, x_new - x
            hit = f == 0.0
            tol = wtol * b if (wtol * b >= atol or wtol * b != wtol * b) else atol  # np.maximum
            if hit or abs(step) <= wtol * x_new or b - a <= tol:
                result = x if hit else x_new
                converged = True
                break
            x = x_new
        out[j] = result if converged else x
    return out


@kernel
def grid_bracket(coef: np.ndarray, sign_at_one: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First interval ``[lo, hi]`` of ``grid`` (going down from ``w = 1``) over which each
    column's ``P`` changes sign from ``sign_at_one`` (m,); NaN where none. Each (m,)."""
    K, m = coef.shape
    lo = np.full(m, np.nan)
    hi = np.full(m, np.nan)
    for j in range(m):
        previous = 1.0
        for w in grid:
            p = coef[K - 1, j]
            for k in range(K - 2, -1, -1):
                p = p * w + coef[k, j]
            if (1.0 if p > 0.0 else (-1.0 if p < 0.0 else p)) != sign_at_one[j]:
                lo[j], hi[j] = w, previous
                break
            previous = w
    return lo, hi


@kernel
def descartes_bound(coef: np.ndarray, comb: np.ndarray) -> np.ndarray:
    """(m,) Descartes' bound on each column's roots in ``(0, 1)``, at the column's own degree
    ``d`` (see :func:`cib_sim.engine.metrics._descartes_bound`). ``comb`` (D+1, D+1):
    ``comb(D - i, j)`` at row j, column i, for D at least every column's degree below 1000
    (then ``comb(d - i, j)`` is ``comb[j, i + D - d]``); degree 1000 and over gives 2."""
    K, m = coef.shape
    D = comb.shape[0] - 1
    out = np.full(m, 2, dtype=np.int64)
    shifted = np.empty(K)
    for j in range(m):
        d = K - 1
        while d > 0 and coef[d, j] == 0.0:
            d -= 1
        if coef[d, j] == 0.0:  # all zero: no sign change at any degree (numpy's took K - 1)
            if K - 1 < 1000:
                out[j] = 0
            continue
        if d >= 1000:
            continue
        for r in range(d + 1):
            shifted[r] = 0.0
        for i in range(d + 1):
            c = coef[i, j]
            for r in range(d + 1 - i):  # comb(d - i, r) is zero for r > d - i
                shifted[r] += comb[r, i + D - d] * c
        changes, previous = 0, 0.0
        for r in range(d + 1):
            x = shifted[r]
            s = 1.0 if x > 0.0 else (-1.0 if x < 0.0 else x)
            if s * previous < 0.0:
                changes += 1
            if s != 0.0:
                previous = s
        out[j] = changes
    return out


@kernel
def scan_periods(vt: np.ndarray, first_idx: np.ndarray, last_idx: np.ndarray, changes: np.ndarray,
                 total: np.ndarray, sum_t: np.ndarray, abs_sum: np.ndarray, abs_t: np.ndarray,
                 has_negative: np.ndarray, has_positive: np.ndarray, finite: np.ndarray) -> None:
    """One pass down the periods of ``vt`` (T, m), C-contiguous: fills, per column (m,), the first
    and last periods with a nonzero flow (0 and T - 1 where there is none: ``np.argmax`` of an
    all-False column), sign changes with zeros skipped, ``sum v``, ``sum t v``, ``sum |v|`` and
    ``sum t |v|``, each added in period order as the array code did, and whether any flow is
    negative, any positive, all finite. Period by period over all columns, so the inner loop runs
    along contiguous memory."""
    T, m = vt.shape
    previous = np.zeros(m)
    for j in range(m):
        first_idx[j] = -1
        last_idx[j] = T - 1
        changes[j] = 0
        total[j] = 0.0
        sum_t[j] = 0.0
        abs_sum[j] = 0.0
        abs_t[j] = 0.0
        has_negative[j] = False
        has_positive[j] = False
        finite[j] = True
    for t in range(T):
        ft = float(t)
        for j in range(m):
            v = vt[t, j]
            if v != 0.0:  # NaN included, as ``vt != 0``
                if first_idx[j] < 0:
                    first_idx[j] = t
                last_idx[j] = t
            has_negative[j] |= v < 0.0
            has_positive[j] |= v > 0.0
            finite[j] &= v - v == 0.0  # False for inf and NaN
            sign = 1.0 if v > 0.0 else (-1.0 if v < 0.0 else (0.0 if v == 0.0 else v))  # np.sign
            if sign * previous[j] < 0.0:
                changes[j] += 1
            if sign != 0.0:
                previous[j] = sign
            total[j] += v
            sum_t[j] += v * ft
            a = abs(v)
            abs_sum[j] += a
            abs_t[j] += a * ft
    for j in range(m):
        if first_idx[j] < 0:
            first_idx[j] = 0
