"""The zone model's package-averaged success probability, compiled: one path at a time.

Each participant in a zone is served by a random package S of partners (partner i with chance
``r_i``, independently); its success probability is ``clip(b + (1 + gamma (|S| - 1)) sum_{i in S}
u_i, 0, 1)``. :func:`package_average` returns its average over packages, with the steps of the
array code it replaced (:meth:`cib_sim.engine.delivery.DeliveryState._zone_average`) in the same
order, so results are bit-identical to it: the linear average, then, for each package in turn,
the part of its probability clipped off outside [0, 1], weighted by the package's chance. A
package that does not clip on the path adds exactly zero, so visiting every package (without a
branch) gives what visiting only the clipping ones gave, and no bounds over the other paths in
the batch are needed.
"""

from __future__ import annotations

import numpy as np

from cib_sim.engine.kernels import kernel


@kernel
def package_average(uplift: np.ndarray, weight: np.ndarray, reach: np.ndarray, baseline: np.ndarray,
                    factor: np.ndarray) -> np.ndarray:
    """(N, O) package-averaged success probability, in [0, 1].

    ``uplift`` (P, O, N): each partner's uplift on each outcome at this period's maturity;
    ``weight`` (P, N): each partner's weight in the linear average, ``r_i (1 + gamma sum_{j != i}
    r_j)``; ``reach`` (N, P): the chance ``r`` each partner serves a participant; ``baseline``
    (O,); ``factor`` (S,): each package's interaction factor ``1 + gamma (|S| - 1)``, S = 2**P,
    partner i is bit i of a package.
    """
    P, O, N = uplift.shape
    S = factor.shape[0]
    out = np.empty((N, O))
    # Paths in blocks, innermost: each path's steps are the same, but paths side by side let
    # the compiler use vector instructions (one path's sums are a chain of dependent adds).
    B = 256
    total = np.empty((S, B))  # summed uplift of each package, built by doubling in partner order
    chance = np.empty((S, B))
    avg = np.empty(B)
    corr = np.empty(B)
    for lo in range(0, N, B):
        nb = min(B, N - lo)
        chance[0, :nb] = 1.0
        for i in range(P):
            half = 1 << i
            for k in range(half):
                for n in range(nb):
                    ri = reach[lo + n, i]
                    chance[half + k, n] = chance[k, n] * ri
                    chance[k, n] *= 1.0 - ri
        for o in range(O):
            b = baseline[o]
            for n in range(nb):
                avg[n] = b
            for i in range(P):
                for n in range(nb):
                    avg[n] += uplift[i, o, lo + n] * weight[i, lo + n]
            total[0, :nb] = 0.0
            for i in range(P):
                half = 1 << i
                for k in range(half):
                    for n in range(nb):
                        total[half + k, n] = total[k, n] + uplift[i, o, lo + n]
            # A package that does not clip adds 0.0 twice, which leaves ``corr`` as it is: no
            # branch, and the same result as visiting only the packages that clip.
            corr[:nb] = 0.0
            for k in range(S):
                f = factor[k]
                for n in range(nb):
                    x = total[k, n] * f
                    x += b
                    above = x - 1.0 if x > 1.0 else 0.0
                    below = -x if x < 0.0 else 0.0
                    corr[n] = (corr[n] + chance[k, n] * above) - chance[k, n] * below
            for n in range(nb):
                # np.clip(a, 0, 1) (rounding can leave a hair outside [0, 1]), signed zeros included
                a = avg[n] - corr[n]
                a = a if (a > 0.0 or a != a) else 0.0
                out[lo + n, o] = a if (a < 1.0 or a != a) else 1.0
    return out
