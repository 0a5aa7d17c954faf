"""Delivery's per-period arithmetic, compiled: places taken by earlier cohorts, and what
partners are paid for service and fixed costs; one path at a time.

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


@kernel
def service_costs(occupied: np.ndarray, enrol: np.ndarray, rate: np.ndarray, exit_period: np.ndarray, t: int,
                  zone: bool) -> np.ndarray:
    """(N, P) payments to partners for the participants in service in period t: those in
    places (``occupied`` (N, U)) plus ``enrol`` (N, U), times each partner's ``rate`` (P,) a
    participant and period. Zone model (one unit): every partner is paid for its share of the
    zone's participants (``rate`` includes its reach) while it delivers (``t < exit_period``
    (N, P)); pipelines: partner p for its own unit p."""
    N, P = exit_period.shape
    out = np.empty((N, P))
    for n in range(N):
        for p in range(P):
            if zone:
                out[n, p] = ((occupied[n, 0] + enrol[n, 0]) * rate[p]) * (1.0 if t < exit_period[n, p] else 0.0)
            else:
                out[n, p] = (occupied[n, p] + enrol[n, p]) * rate[p]
    return out


@kernel
def fixed_costs(fixed: np.ndarray, window: np.ndarray, exit_period: np.ndarray, t: int,
                stopped: np.ndarray) -> np.ndarray:
    """(N, P) partners' fixed costs in period t: ``fixed`` (P,) a period, where the partner's
    window (``window`` (P,) bool) is open, it still delivers (``t < exit_period`` (N, P)) and
    delivery has not stopped (``stopped`` (N,) bool)."""
    N, P = exit_period.shape
    out = np.empty((N, P))
    for n in range(N):
        for p in range(P):
            on = window[p] and t < exit_period[n, p] and not stopped[n]
            out[n, p] = fixed[p] * (1.0 if on else 0.0)
    return out
