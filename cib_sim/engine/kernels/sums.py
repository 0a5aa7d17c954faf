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
def numpy_sum(x: np.ndarray, row: int, m: int) -> float:
    """``x[row, :m].sum()`` (at most :data:`MAX_TERMS` terms), as numpy adds it: from zero, one
    by one below 8 terms, else in 8 interleaved partial sums combined pairwise.

    ``x`` is 2-D and the row an index, not a slice: a kernel taking a slice per path (a new array
    and its reference counting) measured about 11 ns a call, this nothing measurable. A 1-D
    array ``a`` is ``a.reshape(1, -1)``, row 0, made once outside the loop over paths."""
    n = m
    if n > MAX_TERMS:
        raise ValueError("numpy_sum: too many terms")
    if n < 8:
        res = 0.0
        for i in range(n):
            res += x[row, i]
        return 0.0 + res
    r0, r1, r2, r3 = x[row, 0], x[row, 1], x[row, 2], x[row, 3]
    r4, r5, r6, r7 = x[row, 4], x[row, 5], x[row, 6], x[row, 7]
    i = 8
    while i < n - (n % 8):
        r0 += x[row, i]
        r1 += x[row, i + 1]
        r2 += x[row, i + 2]
        r3 += x[row, i + 3]
        r4 += x[row, i + 4]
        r5 += x[row, i + 5]
        r6 += x[row, i + 6]
        r7 += x[row, i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += x[row, i]
        i += 1
    return 0.0 + res


@kernel(inline=True)
def rowsum_of(x: np.ndarray, row: int, m: int) -> float:
    """:func:`cib_sim.engine.arrays.rowsum` of ``x[row, :m]`` (``x`` 2-D, see :func:`numpy_sum`):
    in order up to 8 terms, else numpy's sum. Inlined into its callers; :func:`numpy_sum` is not
    (its body, inlined at each call, added 4 s to the first run after installing, for the rare
    row of more than 8 terms)."""
    if m == 0:
        return 0.0
    if m > 8:
        return numpy_sum(x, row, m)
    out = x[row, 0]
    for k in range(1, m):
        out += x[row, k]
    return out
