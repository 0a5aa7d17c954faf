"""Places taken by earlier cohorts, compiled: one path and delivery unit at a time.

Sums run over the enrolment history in period order, from zero, as numpy's reduction down the
history's leading (period) axis adds them for a batch of two paths or more; in ``approx`` and
``exact`` modes the counts are whole numbers, so any order gives the same sums.
"""

from __future__ import annotations

import numpy as np

from cib_sim.engine.kernels import kernel


@kernel
def occupied_places(enrolled: np.ndarray, dropped: np.ndarray, t: int, service: np.ndarray,
                    dropout_stay: np.ndarray) -> np.ndarray:
    """(N, U) places taken at the start of period t by the cohorts enrolled before it: the
    completers of the last ``service[u]`` periods' cohorts and the dropouts of the last
    ``dropout_stay[u]`` periods'. ``enrolled``, ``dropped`` (T, N, U): each period's cohort."""
    _, N, U = enrolled.shape
    out = np.empty((N, U))
    for n in range(N):
        for u in range(U):
            lo_c, lo_d = max(0, t - service[u] + 1), max(0, t - dropout_stay[u] + 1)
            came, left, stay = 0.0, 0.0, 0.0
            for s in range(lo_c, t):
                came += enrolled[s, n, u]
                left += dropped[s, n, u]
            for s in range(lo_d, t):
                stay += dropped[s, n, u]
            out[n, u] = came - left + stay
    return out
