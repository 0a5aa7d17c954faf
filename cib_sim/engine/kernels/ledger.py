"""The payers' ledger, compiled: one path at a time.

:func:`pay_dues` is the arithmetic of :meth:`cib_sim.engine.payments.CommissionerLedger.step`
after the period's dues are taken from the book: caps, budgets, withdrawal, the contract's cap
on all payers together, dues carried to next year's budget. :func:`book_dues` is that of
``add_earned``. Each takes numpy's steps in numpy's order (including its pairwise sums over an
axis of more than 8 terms: :mod:`cib_sim.engine.kernels.sums`), so results are bit-identical to
the array code.
"""

from __future__ import annotations

import numpy as np

from cib_sim.engine.kernels import kernel
from cib_sim.engine.kernels.sums import rowsum_of


@kernel
def book_dues(earned: np.ndarray, share: np.ndarray, ks: np.ndarray, by_c: np.ndarray) -> None:
    """``by_c`` (N, C, U) := money earned (N, U, O) owed by each payer: outcome by outcome in
    the order of ``ks`` (the outcomes with anything earned), times the payer's share (C, O)."""
    N, C, U = by_c.shape
    k0 = ks[0]
    for n in range(N):
        for c in range(C):
            for u in range(U):
                acc = earned[n, u, k0] * share[c, k0]
                for j in range(1, ks.shape[0]):
                    acc += earned[n, u, ks[j]] * share[c, ks[j]]
                by_c[n, c, u] = acc


@kernel
def pay_dues(due_cu: np.ndarray, t: int, total: np.ndarray, annual: np.ndarray, has_annual: bool,
             withdraw_period: np.ndarray, max_all: float, carry: np.ndarray, has_carry: bool,
             paid_year: np.ndarray, paid_total: np.ndarray, cap_hit: np.ndarray, lost_to_caps: np.ndarray,
             lost_to_withdrawal: np.ndarray, due_after_horizon: np.ndarray, book: np.ndarray, ppy: int,
             n_periods: int, pay: np.ndarray, pay_cu: np.ndarray) -> None:
    """Pay period t's dues ``due_cu`` (N, C, U) within each payer's caps; fills ``pay`` (N, C)
    and ``pay_cu`` (N, C, U) and updates the ledger's arrays in place (``paid_year``,
    ``paid_total``, ``cap_hit``, ``lost_to_caps``, ``lost_to_withdrawal``, ``due_after_horizon``
    (N, C); ``book`` (ring, N, C, U): dues by the period they fall, for dues carried to next
    year). ``max_all``: the contract's cap on all payers together (inf: none); ``carry`` (C,):
    payers whose dues held back by this year's budget wait for next year's (``has_carry``: any
    payer with an annual budget does). Amounts in currency; ``t``, ``ppy``, ``n_periods`` in
    periods."""
    N, C, U = due_cu.shape
    ring = book.shape[0]
    due = np.empty(C)
    held = np.empty(C)
    active = np.empty(C, dtype=np.bool_)
    due_rows = due_cu.reshape(N * C, U)  # (path, payer) rows, for sums without a slice per path
    for n in range(N):
        for c in range(C):
            due[c] = due_cu[n, c, 0] if U == 1 else rowsum_of(due_rows, n * C + c, U)
            room = total[c] - paid_total[n, c]
            if has_annual:
                year_room = annual[c] - paid_year[n, c]
                year_room = year_room if (year_room > 0.0 or year_room != year_room) else 0.0
                room = year_room if (year_room < room or year_room != year_room) else room
            room = room if (room > 0.0 or room != room) else 0.0
            active[c] = t < withdraw_period[n, c]
            p = due[c] if (due[c] < room or due[c] != due[c]) else room
            pay[n, c] = p if active[c] else 0.0
        if max_all < np.inf:
            # The contract's cap on all payers together: once it binds, each pays pro rata to its dues.
            left = max_all - rowsum_of(paid_total, n, C)
            left = left if (left > 0.0 or left != left) else 0.0
            want = rowsum_of(pay, n, C)
            scale = (left / (want if want > 0 else 1.0)) if want > left else 1.0
            for c in range(C):
                pay[n, c] = pay[n, c] * scale
        if has_carry:
            # Dues held back only by this year's budget wait for next year's, when asked to.
            for c in range(C):
                h = due[c] - pay[n, c]
                h = h if (h > 0.0 or h != h) else 0.0
                h = h if (active[c] and carry[c]) else 0.0
                room = total[c] - paid_total[n, c] - pay[n, c]
                room = room if (room > 0.0 or room != room) else 0.0
                held[c] = h if (h < room or h != h) else room
            if max_all < np.inf and not (rowsum_of(paid_total, n, C) + rowsum_of(pay, n, C) < max_all):
                for c in range(C):
                    held[c] = 0.0
            nxt = (t // ppy + 1) * ppy  # the next contract year's first period
            for c in range(C):
                for u in range(U):
                    by_unit = (due_cu[n, c, u] / due[c] if due[c] > 0 else 0.0) * held[c]
                    if nxt < n_periods:
                        book[nxt % ring, n, c, u] += by_unit
                if nxt >= n_periods:
                    due_after_horizon[n, c] += held[c]
                keep = (due[c] - held[c]) / (due[c] if due[c] > 0 else 1.0) if due[c] > 0 else 1.0
                for u in range(U):
                    due_cu[n, c, u] = due_cu[n, c, u] * keep
                due[c] = due[c] - held[c]
        for c in range(C):
            p = pay[n, c]
            cap_hit[n, c] |= active[c] and (due[c] > p + 1e-9)
            lost = due[c] - p  # to a cap where active, to withdrawal where not
            lost_to_caps[n, c] += lost if active[c] else 0.0
            lost_to_withdrawal[n, c] += 0.0 if active[c] else lost
            paid_year[n, c] += p
            paid_total[n, c] += p
            if U == 1:  # one delivery unit: what is paid is all that unit's
                pay_cu[n, c, 0] = p
            else:
                frac = p / (due[c] if due[c] > 0 else 1.0) if due[c] > 0 else 0.0
                for u in range(U):
                    pay_cu[n, c, u] = due_cu[n, c, u] * frac
