"""Money conservation, checked on every path and period as the engine runs.

Three books, each from the flows the loop records (names and parties from
:mod:`cib_sim.engine.flows`), each held to a tolerance scaled by the path's *own* gross flows
(a large guarantee or a rich path elsewhere cannot hide a leak):

- **the fund and the contract**: each period the fund's cash moves by what came into the fund
  less what went out of it, and by what came into the contract from outside less what went out
  to outside; cash never goes below zero and is nil once the contract has ended;
- **each tranche**: capital repaid plus guarantee money received never exceeds capital drawn,
  coupons never exceed coupons accrued, nothing is drawn beyond the commitment, and no guarantee
  pays beyond its amount;
- **each payer**: every unit of dues booked is paid, lost to a cap, lost to withdrawal, falls due
  after the horizon or is still owed; a payer never pays beyond its total cap, and never gets
  back more in rebates than it paid.

A failure is a bug in the engine, never a property of a scenario: :class:`ConservationError`.
"""

from __future__ import annotations

import numpy as np

from cib_sim.engine.arrays import rowsum
from cib_sim.engine.flows import (
    INTO_FUND,
    MONEY_IN,
    MONEY_OUT,
    OUT_OF_FUND,
    check_names,
    total_of,
)

_COUNTED = frozenset(MONEY_IN + MONEY_OUT + INTO_FUND + OUT_OF_FUND)


class ConservationError(RuntimeError):
    """Money appeared, vanished or went to the wrong party: a bug in the engine."""


class ConservationCheck:
    """Checks each period's flows (a row of the registry's flows, ``(N, ...)`` each) and the
    parties' books at the end. ``tol``: relative to each path's gross flows (plus 1)."""

    def __init__(self, n_paths: int, n_tranches: int = 0, n_payers: int = 0, tol: float = 1e-9):
        N = n_paths
        self.n, self.tol = N, tol
        self.prev = np.zeros(N)
        self.gross = np.zeros(N)  # money in plus money out so far, each path
        self.resid = np.zeros(N)  # largest residual of a period, each path
        self.lowest = np.zeros(N)
        self.finite = True
        self.drawn = np.zeros((N, n_tranches))
        self.capital_back = np.zeros((N, n_tranches))  # capital repaid plus guarantee money
        self.coupon = np.zeros((N, n_tranches))
        self.rebate = np.zeros((N, n_payers))
        self.paid = np.zeros((N, n_payers))

    def period(self, cash: np.ndarray, row: dict[str, np.ndarray]) -> None:
        """Period's end cash (N,) and the period's flows."""
        check_names(row)
        N = self.n
        change = cash - self.prev
        # Each flow's total per path once (a flow sits in two of the four sums).
        per_path = {name: v if v.ndim == 1 else rowsum(v.reshape(N, -1)) for name, v in row.items() if name in _COUNTED}
        money_in, money_out = total_of(per_path, MONEY_IN, N), total_of(per_path, MONEY_OUT, N)
        into, out_of = total_of(per_path, INTO_FUND, N), total_of(per_path, OUT_OF_FUND, N)
        resid = np.maximum(np.abs(change - (money_in - money_out)), np.abs(change - (into - out_of)))
        # NaN never compares larger: a non-finite flow is caught by the finiteness test instead.
        self.finite &= bool(np.isfinite(resid).all() and np.isfinite(cash).all())
        np.maximum(self.resid, resid, out=self.resid)
        self.gross += money_in + money_out
        np.minimum(self.lowest, cash, out=self.lowest)
        self.prev = cash.copy()
        for name, acc in (("drawn", self.drawn), ("capital", self.capital_back), ("guarantee_received", self.capital_back),
                          ("coupon", self.coupon), ("commissioner_rebate", self.rebate), ("commissioner_paid", self.paid)):
            v = row.get(name)
            if v is not None and acc.shape[1]:
                acc += v

    def limit(self) -> np.ndarray:
        """(N,) tolerance of each path, currency."""
        return self.tol * (1.0 + self.gross)

    def finish(self) -> float:
        """Raise :class:`ConservationError` if the fund's books do not balance on some path;
        return the largest residual relative to its path's tolerance."""
        if not self.finite:
            raise ConservationError("money not conserved: a flow or the cash balance is not a finite number")
        lim = self.limit()
        _raise_where(self.resid > lim, "a period's flows do not move the fund's cash", self.resid, lim)
        _raise_where(np.abs(self.prev) > lim, "cash is left in the fund at the end", self.prev, lim)
        _raise_where(-self.lowest > lim, "the fund's cash went below zero", self.lowest, lim)
        return float(np.max(np.maximum(self.resid, np.abs(self.prev)) / lim, initial=0.0))

    def tranches(self, commitment: np.ndarray, accrued: np.ndarray, guarantee_calls: np.ndarray, guarantee_amount: np.ndarray) -> None:
        """Each tranche's book: ``commitment`` (K,), ``accrued`` coupons (N, K), guarantee
        ``calls`` so far (N, G) against their ``amount`` (G,)."""
        lim = self.limit()[:, None]
        _raise_where(self.drawn > commitment + lim, "a tranche drew beyond its commitment", self.drawn, commitment + lim)
        _raise_where(self.capital_back > self.drawn + lim, "a tranche got back more capital than it put in",
                     self.capital_back, self.drawn + lim)
        _raise_where(self.coupon > accrued + lim, "a tranche was paid more coupon than accrued", self.coupon, accrued + lim)
        if guarantee_calls.size:
            _raise_where(guarantee_calls > guarantee_amount + lim, "a guarantee paid beyond its amount", guarantee_calls,
                         guarantee_amount + lim)

    def payers(self, booked: np.ndarray, settled: np.ndarray, total_cap: np.ndarray) -> None:
        """Each payer's book, (N, C): dues ``booked`` against dues ``settled`` (paid, lost to a
        cap or withdrawal, due after the horizon, or still owed); payments within ``total_cap``
        (C,); rebates within payments."""
        lim = self.limit()[:, None]
        _raise_where(np.abs(booked - settled) > lim, "a payer's dues are not all accounted for", booked, settled)
        _raise_where(self.paid > total_cap + lim, "a payer paid beyond its total cap", self.paid, total_cap + lim)
        _raise_where(self.rebate > self.paid + lim, "a payer got back more than it paid", self.rebate, self.paid + lim)


def _raise_where(bad: np.ndarray, what: str, value: np.ndarray, limit: np.ndarray) -> None:
    if not bad.any():
        return
    idx = np.argwhere(bad)[0]
    v = np.broadcast_to(value, bad.shape)[tuple(idx)]
    lim = np.broadcast_to(limit, bad.shape)[tuple(idx)]
    where = f"path {idx[0]}" + (f", column {idx[1]}" if len(idx) > 1 else "")
    raise ConservationError(f"money not conserved: {what} ({where}: {v:.6g} against {lim:.6g})")


def check_conservation(cash: np.ndarray, inflow: np.ndarray, outflow: np.ndarray, tol: float = 1e-9) -> float:
    """Check ``cash[:, t] - cash[:, t-1] == inflow - outflow`` on every path and period, and that
    cash ends at zero. All arrays (N, T) in currency (money in from outside, money out to
    outside). Returns the largest residual relative to its path's tolerance; raises
    :class:`ConservationError` above 1."""
    check = ConservationCheck(cash.shape[0], tol=tol)
    for t in range(cash.shape[1]):
        # One flow in, one out, as the registry names them (drawn: in; capital: out).
        check.period(cash[:, t], {"drawn": inflow[:, t][:, None], "capital": outflow[:, t][:, None]})
    return check.finish()
