"""The fund paying a period's costs, compiled: one path at a time.

:func:`accrue` and :func:`pay_costs` are the arithmetic of
:meth:`cib_sim.engine.waterfall.Waterfall.accrue` and ``Waterfall.fund`` (with its capital
calls, ``_call``), with numpy's steps in numpy's order, so results are bit-identical to the array
code they replaced.
"""

from __future__ import annotations

import numpy as np

from cib_sim.engine.kernels import kernel
from cib_sim.engine.kernels.sums import rowsum_of


@kernel
def accrue(coupon: np.ndarray, drawn: np.ndarray, repaid: np.ndarray, owed: np.ndarray, accrued: np.ndarray,
           cap_balance: np.ndarray, cap_growth: np.ndarray, any_coupon: bool, any_cap_irr: bool) -> None:
    """A period's coupons (``coupon`` (K,) a period, on capital outstanding) added to ``owed``
    and ``accrued``; return-cap balances (N, K) grown by ``cap_growth`` (K,) a period. In place;
    currency."""
    N, K = drawn.shape
    for n in range(N):
        for k in range(K):
            if any_coupon:
                due = coupon[k] * (drawn[n, k] - repaid[n, k])
                owed[n, k] += due
                accrued[n, k] += due
            if any_cap_irr:
                cap_balance[n, k] *= cap_growth[k]


@kernel
def pay_costs(needed_full: np.ndarray, needed_fixed: np.ndarray, cash: np.ndarray, reserve: np.ndarray,
              drawn: np.ndarray, cap_balance: np.ndarray, commitment: np.ndarray, committed_total: float,
              limit: np.ndarray, has_limit: bool, recycling: bool, pro_rata: bool, draw_weight: np.ndarray,
              order: np.ndarray, order_bounds: np.ndarray, funded: np.ndarray, spent: np.ndarray,
              draw: np.ndarray) -> None:
    """Pay each path's costs: ``needed_full`` (N,) with the period's new enrolments, else
    ``needed_fixed`` (N,) as far as the money goes; from capital drawn and unspent (``reserve``),
    then income held (``recycling``), then capital calls. Fills ``funded`` (N,) bool, ``spent``
    (N,) and ``draw`` (N, K); updates ``cash``, ``reserve`` (N,), ``drawn`` and ``cap_balance``
    (N, K) in place.

    ``commitment`` (K,), ``committed_total`` its sum; ``limit`` (N, K) commitments left callable
    where ``has_limit``. Calls: pro rata to ``draw_weight`` (K,) if ``pro_rata``, else rank group
    by rank group in ``order`` (tranche indices, group g being ``order[order_bounds[g]:
    order_bounds[g + 1]]``), pro rata to each tranche's room within a group. Amounts in currency.
    """
    N, K = drawn.shape
    room = np.empty(K)
    part = np.empty(K)
    room_row, part_row = room.reshape(1, K), part.reshape(1, K)  # views, for sums without a slice per path
    for n in range(N):
        income_cash = 0.0
        if recycling:
            x = cash[n] - reserve[n]
            income_cash = x if (x > 0.0 or x != x) else 0.0
        usable = reserve[n] + income_cash
        if has_limit:
            for k in range(K):
                r = limit[n, k] - drawn[n, k]
                room[k] = r if (r > 0.0 or r != r) else 0.0
            funds = usable + rowsum_of(room_row, 0, K)
        else:
            for k in range(K):
                room[k] = commitment[k] - drawn[n, k]
            funds = usable + (committed_total - rowsum_of(drawn, n, K))
        ok = needed_full[n] <= funds * (1 + 1e-12) + 1e-9
        if ok:
            spend = needed_full[n]
        else:
            spend = needed_fixed[n] if (needed_fixed[n] < funds or needed_fixed[n] != needed_fixed[n]) else funds
        from_cash = spend if (spend < usable or spend != spend) else usable
        from_reserve = from_cash if (from_cash < reserve[n] or from_cash != from_cash) else reserve[n]
        reserve[n] -= from_reserve
        cash[n] -= from_cash
        need = spend - from_cash
        need = 0.0 if 0.0 > need else need  # np.maximum(0.0, need), the sign of a zero included
        if pro_rata:
            for k in range(K):
                d = need * draw_weight[k]
                draw[n, k] = d if (d < room[k] or d != d) else room[k]  # rounding guard
        else:
            for k in range(K):
                draw[n, k] = 0.0
            left = need
            for g in range(order_bounds.shape[0] - 1):
                lo, hi = order_bounds[g], order_bounds[g + 1]
                m = hi - lo
                for j in range(m):
                    part[j] = room[order[lo + j]]
                avail = rowsum_of(part_row, 0, m)
                take = left if (left < avail or left != left) else avail
                # What the groups before took can exceed the need by a rounding error (1e-14):
                # then nothing is left to call, not a negative call on this group.
                take = take if take > 0.0 else 0.0
                for j in range(m):
                    k = order[lo + j]
                    share = room[k] / (avail if avail > 0 else 1.0) if avail > 0 else 0.0
                    d = take * share
                    draw[n, k] = d if (d < room[k] or d != d) else room[k]
                    part[j] = draw[n, k]
                left = left - rowsum_of(part_row, 0, m)
        for k in range(K):
            drawn[n, k] += draw[n, k]
            cap_balance[n, k] += draw[n, k]
        funded[n] = ok
        spent[n] = from_cash + rowsum_of(draw, n, K)
