"""Counts from standard normals, compiled: the skew-corrected normal quantile of
:func:`cib_sim.engine.delivery.count_from_normal`, and a cohort's outcomes with it.

Each count takes the same floating-point steps, in the same order, as the array expression
``rint(mean + sd z + skew (z^2 - 1))`` did element by element, so results are bit-identical.
"""

from __future__ import annotations

import numpy as np

from cib_sim.engine.kernels import kernel


@kernel
def count_value(z: float, mean: float, var: float, k3: float, upper: float) -> float:
    """A count with the given mean, variance and third cumulant from standard normal ``z``:
    ``rint(mean + sd z + k3 / (6 var) (z^2 - 1))`` clipped to ``[0, upper]`` (``inf``: no bound).

    The clips are written as numpy's ``maximum(a, b)`` and ``minimum(a, b)`` compute them (``a``
    if strictly beyond ``b`` or NaN, else ``b``), down to the sign of a zero."""
    sd = np.sqrt(var if (var > 0.0 or var != var) else 0.0)
    skew = k3 / (6.0 * var) if var > 0.0 else 0.0
    x = np.rint(mean + sd * z + skew * (z * z - 1.0))
    x = x if (x > 0.0 or x != x) else 0.0
    return x if (x < upper or x != x) else upper


@kernel
def counts(z: np.ndarray, mean: np.ndarray, var: np.ndarray, k3: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """(n,) :func:`count_value` of each element; all arguments (n,)."""
    out = np.empty(z.shape[0])
    for i in range(z.shape[0]):
        out[i] = count_value(z[i], mean[i], var[i], k3[i], upper[i])
    return out


@kernel
def cohort_outcomes(z: np.ndarray, p1: np.ndarray, p0: np.ndarray, n1: np.ndarray, n0: np.ndarray) -> np.ndarray:
    """(N, U, O) outcomes achieved by a cohort of ``n1`` completers, each achieving an outcome
    with probability ``p1``, and ``n0`` dropouts at ``p0``: a count with the binomial sum's
    mean, variance and third cumulant, at most ``n1 + n0``. ``z``, ``p1``, ``p0`` (N, U, O);
    ``n1``, ``n0`` (N, U)."""
    N, U, O = z.shape
    out = np.empty((N, U, O))
    for n in range(N):
        for u in range(U):
            a1, a0 = n1[n, u], n0[n, u]
            for o in range(O):
                q1, q0 = p1[n, u, o], p0[n, u, o]
                v1, v0 = q1 * (1 - q1), q0 * (1 - q0)
                mean = a1 * q1 + a0 * q0
                var = a1 * v1 + a0 * v0
                k3 = a1 * v1 * (1 - 2 * q1) + a0 * v0 * (1 - 2 * q0)
                out[n, u, o] = count_value(z[n, u, o], mean, var, k3, a1 + a0)
    return out
