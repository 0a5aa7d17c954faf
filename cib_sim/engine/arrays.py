"""Small array helpers for the engine's hot loop."""

from __future__ import annotations

import numpy as np


def rowsum(a: np.ndarray) -> np.ndarray:
    """Sum over the last axis, fast when it is short (partners, tranches, commissioners).

    numpy reduces a short contiguous last axis an order of magnitude slower than it adds whole
    columns; for up to 8 terms numpy also sums sequentially, so this gives identical results.
    """
    n = a.shape[-1]
    if n == 0:
        return np.zeros(a.shape[:-1])
    if n > 8:
        return a.sum(axis=-1)
    out = a[..., 0].copy()
    for k in range(1, n):
        out += a[..., k]
    return out


def dot_last(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``sum_k a[..., k] * w[..., k]`` over the last axis, added in order.

    Only elementwise operations, so each path's result is the same whatever the size of the
    chunk it sits in (BLAS and einsum may vectorise a contraction differently at different sizes).
    """
    out = a[..., 0] * w[..., 0]
    for k in range(1, a.shape[-1]):
        out = out + a[..., k] * w[..., k]
    return out


def block_total(a: np.ndarray, blocks: int = 1) -> np.ndarray:
    """Sum over the paths of each of ``blocks`` equal seeded blocks: ``(blocks * n, ...)`` gives
    ``(blocks, ...)`` (``(...)`` when ``blocks`` is 1).

    The order of addition depends only on ``n``, so a block's sum is the same wherever it sits
    and however many blocks are summed at once. numpy reduces a leading axis row by row, which
    is slow when rows are short (a few partners); folding the rows into 64 long ones first is
    an order of magnitude faster.
    """
    n = a.shape[0] // blocks
    flat = a.reshape(blocks, n, -1)
    m = flat.shape[2]
    if m == 1:
        out = flat[:, :, 0].sum(axis=1)  # pairwise along each block's contiguous paths
    elif n % 64 == 0 and n >= 128:
        out = flat.reshape(blocks, 64, (n // 64) * m).sum(axis=1).reshape(blocks, n // 64, m).sum(axis=1)
    else:
        out = np.ascontiguousarray(flat.transpose(0, 2, 1)).sum(axis=2)
    out = out.reshape((blocks,) + a.shape[1:])
    return out[0] if blocks == 1 else out
