"""Sums over a short axis, as the array code adds them: :func:`numpy_sum` (numpy's own
reduction) and :func:`rowsum_of` (:func:`cib_sim.engine.arrays.rowsum`), for kernels that must
give the same bits."""

from __future__ import annotations

import numpy as np

from cib_sim.engine.kernels import kernel

MAX_TERMS = 128
"""The most terms :func:`numpy_sum` adds (numpy adds more in halves; never needed here: payers
and delivery units are limited to this many by the scenario's validation)."""


@kernel
def numpy_sum(x: np.ndarray) -> float:
    """``x.sum()`` of a short 1-D array (at most :data:`MAX_TERMS`), as numpy adds it: from
    zero, one by one below 8 terms, else in 8 interleaved partial sums combined pairwise."""
    n = x.shape[0]
    if n > MAX_TERMS:
        raise ValueError("numpy_sum: too many terms")
    if n < 8:
        res = 0.0
        for i in range(n):
            res += x[i]
        return 0.0 + res
    r0, r1, r2, r3, r4, r5, r6, r7 = x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]
    i = 8
    while i < n - (n % 8):
        r0 += x[i]
        r1 += x[i + 1]
        r2 += x[i + 2]
        r3 += x[i + 3]
        r4 += x[i + 4]
        r5 += x[i + 5]
        r6 += x[i + 6]
        r7 += x[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += x[i]
        i += 1
    return 0.0 + res


@kernel
def rowsum_of(x: np.ndarray) -> float:
    """:func:`cib_sim.engine.arrays.rowsum` of one row: in order up to 8 terms, else numpy's sum."""
    n = x.shape[0]
    if n == 0:
        return 0.0
    if n > 8:
        return numpy_sum(x)
    out = x[0]
    for k in range(1, n):
        out += x[k]
    return out
