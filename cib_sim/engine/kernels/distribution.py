"""Cash down the waterfall, compiled: one path at a time.

:func:`distribute` is the arithmetic of :meth:`cib_sim.engine.waterfall.Waterfall.distribute`
(the rules are in its docstring and the module's), with numpy's steps in numpy's order, so results
are bit-identical to the array code it replaced.
"""

from __future__ import annotations

import numpy as np

from cib_sim.engine.kernels import kernel
from cib_sim.engine.kernels.sums import rowsum_of


@kernel
def room_of(k: int, n: int, repayable: np.ndarray, cap_multiple: np.ndarray, cap_on_commitment: np.ndarray,
            has_cap_irr: np.ndarray, commitment: np.ndarray, drawn: np.ndarray, paid_out: np.ndarray,
            cap_balance: np.ndarray) -> float:
    """The most tranche k may still receive on path n under its return caps (0 for a grant)."""
    if not repayable[k]:
        return 0.0
    if np.isfinite(cap_multiple[k]):  # an uncapped tranche has infinite room (inf x 0 is NaN)
        base = commitment[k] if cap_on_commitment[k] else drawn[n, k]
        room = cap_multiple[k] * base - paid_out[n, k]
    else:
        room = np.inf
    if has_cap_irr[k]:
        b = cap_balance[n, k]
        room = room if (room < b or room != room) else b
    return 0.0 if 0.0 > room else room  # np.maximum(0.0, room)


@kernel
def distribute(paying: np.ndarray, final: np.ndarray, cash: np.ndarray, reserve: np.ndarray, drawn: np.ndarray,
               repaid: np.ndarray, owed: np.ndarray, paid_out: np.ndarray, cap_balance: np.ndarray,
               fee_paid: np.ndarray, commitment: np.ndarray, limit: np.ndarray, has_limit: bool,
               repayable: np.ndarray, upside_k: np.ndarray, cap_multiple: np.ndarray, cap_on_commitment: np.ndarray,
               has_cap_irr: np.ndarray, fee_amount: np.ndarray, group_order: np.ndarray, group_bounds: np.ndarray,
               fee_order: np.ndarray, fee_bounds: np.ndarray, coupon: np.ndarray, capital: np.ndarray,
               upside: np.ndarray, fees: np.ndarray, excess: np.ndarray) -> None:
    """Send each path's cash down the waterfall; fills ``coupon``, ``capital``, ``upside`` (N, K),
    ``fees`` (N, F) and ``excess`` (N,) (all zero on entry) and updates the state arrays in place.

    ``paying``, ``final`` (N,) bool (``final`` only where paying). Rank groups, most senior
    first: group g's repayable tranches are ``group_order[group_bounds[g]:group_bounds[g + 1]]``
    and the deferred fees paid right after it ``fee_order[fee_bounds[g]:fee_bounds[g + 1]]``.
    """
    N, K = drawn.shape
    due = np.empty(K)
    x = np.empty(K)
    room = np.empty(K)
    w = np.empty(K)
    for n in range(N):
        if final[n] and reserve[n] > 0:
            # Capital called up front and never spent goes back to whoever put it in, pro rata.
            back = reserve[n]
            total = rowsum_of(drawn[n, :])
            for k in range(K):
                r = (back * drawn[n, k]) / (total if total > 0 else 1.0) if total > 0 else 0.0
                cash[n] -= r
                paid_out[n, k] += r
                cap_balance[n, k] -= r
                repaid[n, k] += r
                capital[n, k] += r
            reserve[n] = 0.0
        settled = True  # every more senior group settled
        for g in range(group_bounds.shape[0] - 1):
            lo, hi = group_bounds[g], group_bounds[g + 1]
            m = hi - lo
            if m:
                may = paying[n] and (final[n] or settled)
                for stage in range(2):  # coupons, then capital
                    for j in range(m):
                        k = group_order[lo + j]
                        d = owed[n, k] if stage == 0 else drawn[n, k] - repaid[n, k]
                        r = room_of(k, n, repayable, cap_multiple, cap_on_commitment, has_cap_irr, commitment, drawn,
                                    paid_out, cap_balance)
                        due[j] = d if (d < r or d != d) else r
                    a = cash[n] - reserve[n]
                    avail = a if (a > 0.0 or a != a) else 0.0
                    if m == 1:  # the common case, kept to the same arithmetic as a single tranche
                        p = avail if (avail < due[0] or avail != avail) else due[0]
                        x[0] = p if may else 0.0
                    else:
                        total = rowsum_of(due[:m])
                        p = avail if (avail < total or avail != avail) else total
                        p = p if may else 0.0
                        for j in range(m):
                            v = (p * due[j]) / (total if total > 0 else 1.0) if total > 0 else 0.0
                            x[j] = v if (v < due[j] or v != v) else due[j]
                    for j in range(m):
                        k = group_order[lo + j]
                        cash[n] -= x[j]
                        paid_out[n, k] += x[j]
                        cap_balance[n, k] -= x[j]
                        if stage == 0:
                            owed[n, k] -= x[j]
                            coupon[n, k] = x[j]
                        else:
                            repaid[n, k] += x[j]
                            capital[n, k] += x[j]
                for j in range(m):
                    k = group_order[lo + j]
                    tol = 1e-9 * (1.0 + commitment[k])
                    can_draw = (limit[n, k] if has_limit else commitment[k]) - drawn[n, k]
                    settled = settled and (can_draw <= tol) and (owed[n, k] <= tol) and (drawn[n, k] - repaid[n, k] <= tol)
            for i in range(fee_bounds[g], fee_bounds[g + 1]):
                f = fee_order[i]
                may = paying[n] and (final[n] or settled)
                a = cash[n] - reserve[n]
                avail = a if (a > 0.0 or a != a) else 0.0
                left = fee_amount[f] - fee_paid[n, f]
                v = avail if (avail < left or avail != avail) else left
                v = v if may else 0.0
                cash[n] -= v
                fee_paid[n, f] += v
                fees[n, f] = v
                settled = settled and (fee_amount[f] - fee_paid[n, f] <= 1e-9 * (1.0 + fee_amount[f]))
        if not final[n]:
            continue
        # Upside: water-fill pro rata to commitment among tranches with room left.
        for _ in range(K):
            for k in range(K):
                room[k] = room_of(k, n, repayable, cap_multiple, cap_on_commitment, has_cap_irr, commitment, drawn,
                                  paid_out, cap_balance) if upside_k[k] else 0.0
                w[k] = commitment[k] if room[k] > 0 else 0.0
            wsum = rowsum_of(w)
            # Cash at rounding level (1e-12) is excess, whatever other paths hold.
            if not (wsum > 0 and cash[n] > 1e-12):
                break
            c = cash[n] if (cash[n] > 0.0 or cash[n] != cash[n]) else 0.0
            for k in range(K):
                offer = (c * w[k]) / wsum
                v = offer if (offer < room[k] or offer != offer) else room[k]
                cash[n] -= v
                paid_out[n, k] += v
                cap_balance[n, k] -= v
                upside[n, k] += v
        c = cash[n]
        excess[n] = c if (c > 0.0 or c != c) else 0.0
        cash[n] = cash[n] - excess[n]


@kernel
def rooms(repayable: np.ndarray, cap_multiple: np.ndarray, cap_on_commitment: np.ndarray, has_cap_irr: np.ndarray,
          commitment: np.ndarray, drawn: np.ndarray, paid_out: np.ndarray, cap_balance: np.ndarray) -> np.ndarray:
    """(N, K) :func:`room_of` every tranche on every path."""
    N, K = drawn.shape
    out = np.empty((N, K))
    for n in range(N):
        for k in range(K):
            out[n, k] = room_of(k, n, repayable, cap_multiple, cap_on_commitment, has_cap_irr, commitment, drawn,
                                paid_out, cap_balance)
    return out
