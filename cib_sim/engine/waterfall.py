"""The fund's cash: capital calls for delivery, and distributions down the tranches by seniority.

Each period, for every path at once:

1. coupons accrue on outstanding capital (simple interest, ``coupon / periods_per_year``);
2. costs are paid: from cash (income of earlier periods) first if ``terms.recycling``, then by
   drawing capital pro rata to commitment. If costs cannot be met in full, the period's new
   enrolments are cancelled and delivery stops for good (a real risk of a thin fund); costs
   already committed are then paid as far as the money goes;
3. net outcome income of the period arrives in the fund's cash;
4. on distribution dates (and always in the last period) cash goes down the waterfall: each
   tranche in order of seniority gets its accrued coupon then its capital; once delivery has
   ended (no more capital calls), tranches with
   upside share the rest pro rata to commitment, each up to its return cap (a multiple of money
   drawn, or an IRR: a balance compounding at the cap rate that payments may not exceed); what is
   left is *excess*, rebated to commissioners, paid to partners as a bonus, or split;
5. in the last period a guarantee pays its covered tranche's unrepaid capital, up to its amount.

Conservation: for each path and period, ``cash[t] = cash[t-1] + income + drawn + guarantee in -
spent - distributed - excess - guarantee out`` to rounding, and cash is nil after the last period.
The engine checks it as it runs (:class:`ConservationCheck`).
"""

from __future__ import annotations

import numpy as np

from cib_sim.engine.arrays import rowsum
from cib_sim.scenario import Scenario


class ConservationError(AssertionError):
    """Money appeared or vanished: a bug in the engine, never a property of a scenario."""


class Waterfall:
    """Waterfall state for N paths. Tranche arrays are (N, K) over capital tranches."""

    def __init__(self, s: Scenario, n_paths: int):
        self.s = s
        ppy = s.horizon.periods_per_year
        caps = s.capital_tranches
        K = len(caps)
        self.K = K
        self.commitment = np.array([t.commitment for t in caps])
        self.draw_weight = self.commitment / self.commitment.sum()
        self.coupon = np.array([0.0 if t.kind == "grant" else t.coupon for t in caps]) / ppy
        self.repayable = np.array([t.kind != "grant" for t in caps])
        self.upside = np.array([t.has_upside for t in caps])
        self.cap_multiple = np.array([t.cap_multiple if t.cap_multiple is not None else np.inf for t in caps])
        self.cap_growth = np.array([(1 + t.cap_irr) ** (1 / ppy) if t.cap_irr is not None else 1.0 for t in caps])
        self.has_cap_irr = np.array([t.cap_irr is not None for t in caps])
        self.any_coupon, self.any_cap_irr = bool(np.any(self.coupon > 0)), bool(self.has_cap_irr.any())
        names = [t.name for t in caps]
        guars = [t for t in s.tranches if t.kind == "guarantee"]
        self.guar_amount = np.array([g.commitment for g in guars])
        self.guar_covers = np.array([names.index(g.covers) for g in guars], dtype=int)
        N = n_paths
        self.cash = np.zeros(N)
        self.drawn = np.zeros((N, K))
        self.repaid = np.zeros((N, K))
        self.owed = np.zeros((N, K))
        self.paid_out = np.zeros((N, K))
        self.cap_balance = np.zeros((N, K))
        self.guar_used = np.zeros((N, len(guars)))

    @property
    def undrawn(self) -> np.ndarray:
        return self.commitment.sum() - rowsum(self.drawn)

    def accrue(self) -> None:
        if self.any_coupon:
            self.owed += self.coupon * (self.drawn - self.repaid)
        if self.any_cap_irr:
            self.cap_balance *= self.cap_growth

    def receive(self, income: np.ndarray) -> None:
        self.cash += income

    def fund(self, needed_full: np.ndarray, needed_fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pay the period's costs. Returns ``(funded (N,), spent (N,), drawn (N, K))``.

        ``needed_full``: all costs including new enrolments; ``needed_fixed``: without them.
        Where not funded, only ``needed_fixed`` is paid, as far as the money goes.
        """
        # Cash a hair below zero (rounding, -1e-45) is not spent: a capital call to cover it
        # would show as a spurious sign change in the investors' cash flows (and their IRR).
        usable = np.maximum(self.cash, 0.0) if self.s.terms.recycling else np.zeros_like(self.cash)
        funds = usable + self.undrawn
        funded = needed_full <= funds * (1 + 1e-12) + 1e-9
        spend = np.where(funded, needed_full, np.minimum(needed_fixed, funds))
        from_cash = np.minimum(spend, usable)
        self.cash -= from_cash
        draw = np.maximum(0.0, spend - from_cash)[:, None] * self.draw_weight
        draw = np.minimum(draw, self.commitment - self.drawn)  # rounding guard
        self.drawn += draw
        self.cap_balance += draw
        spent = from_cash + rowsum(draw)
        return funded, spent, draw

    def _room(self) -> np.ndarray:
        """(N, K) most each tranche may still receive under its return caps."""
        return np.stack([self._room_of(k) for k in range(self.K)], axis=1) if self.K else np.zeros((self.cash.shape[0], 0))

    def _room_of(self, k: int) -> np.ndarray:
        """(N,) most tranche k may still receive under its return caps."""
        if not self.repayable[k]:
            return np.zeros(self.cash.shape[0])
        # An uncapped tranche has infinite room (and inf x 0 drawn would be NaN).
        if np.isfinite(self.cap_multiple[k]):
            room = self.cap_multiple[k] * self.drawn[:, k] - self.paid_out[:, k]
        else:
            room = np.full(self.cash.shape[0], np.inf)
        if self.has_cap_irr[k]:
            room = np.minimum(room, self.cap_balance[:, k])
        return np.maximum(0.0, room)

    def _pay(self, k: int, amount: np.ndarray) -> None:
        self.cash -= amount
        self.paid_out[:, k] += amount
        self.cap_balance[:, k] -= amount

    def distribute(self, final_phase: bool = True) -> dict[str, np.ndarray]:
        """Send cash down the waterfall. Returns per-tranche (N, K) coupon, capital, upside and
        the excess (N,).

        Before ``final_phase`` (delivery still running, so capital may still be called) only
        coupons and capital are paid; what is left stays in cash, because a cap on a multiple of
        money drawn is not known until the last call.
        """
        N, K = self.cash.shape[0], self.K
        coupon, capital, upside = np.zeros((N, K)), np.zeros((N, K)), np.zeros((N, K))
        # Pro-rata shares of the upside can add up to a hair more than the cash (rounding), so
        # cash can sit at -1e-45: pay only from what is there, so that no payment is negative.
        for k in range(K):
            if not self.repayable[k]:
                continue
            x = np.minimum(np.minimum(np.maximum(self.cash, 0.0), self.owed[:, k]), self._room_of(k))
            self._pay(k, x)
            self.owed[:, k] -= x
            coupon[:, k] = x
            y = np.minimum(np.minimum(np.maximum(self.cash, 0.0), self.drawn[:, k] - self.repaid[:, k]), self._room_of(k))
            self._pay(k, y)
            self.repaid[:, k] += y
            capital[:, k] = y
        if not final_phase:
            return {"coupon": coupon, "capital": capital, "upside": upside, "excess": np.zeros(N)}
        # Upside: water-fill pro rata to commitment among tranches with room left.
        for _ in range(K):
            room = np.where(self.upside, self._room(), 0.0)
            w = np.where(room > 0, self.commitment, 0.0)
            wsum = rowsum(w)[:, None]
            if not np.any((wsum[:, 0] > 0) & (self.cash > 1e-12)):
                break
            with np.errstate(divide="ignore", invalid="ignore"):
                offer = np.where(wsum > 0, np.maximum(self.cash, 0.0)[:, None] * w / np.where(wsum > 0, wsum, 1.0), 0.0)
            x = np.minimum(offer, room)
            for k in range(K):
                self._pay(k, x[:, k])
            upside += x
        excess = np.maximum(self.cash, 0.0)
        self.cash = self.cash - excess
        return {"coupon": coupon, "capital": capital, "upside": upside, "excess": excess}

    def call_guarantees(self) -> tuple[np.ndarray, np.ndarray]:
        """Guarantors pay covered tranches' unrepaid capital. Returns ``(calls (N, G), received (N, K))``."""
        N = self.cash.shape[0]
        calls = np.zeros((N, len(self.guar_amount)))
        received = np.zeros((N, self.K))
        room = self._room()
        for g, k in enumerate(self.guar_covers):
            # Cover unrepaid capital, never beyond the tranche's return cap.
            short = np.minimum(np.maximum(0.0, self.drawn[:, k] - self.repaid[:, k]), room[:, k])
            x = np.minimum(short, self.guar_amount[g] - self.guar_used[:, g])
            self.guar_used[:, g] += x
            self.repaid[:, k] += x
            self.paid_out[:, k] += x
            self.cap_balance[:, k] -= x
            room[:, k] -= x
            calls[:, g] = x
            received[:, k] += x
        return calls, received


class ConservationCheck:
    """Money conservation, checked period by period on every path as the engine runs.

    Each period gives the fund's cash at its end and one or more pairs of (money in, money out)
    over the period, (N,) currency; every pair must move the cash from one period to the next.
    ``finish(scale)`` raises :class:`ConservationError` if a residual, the cash left at the end or
    the lowest cash is above ``tol x scale`` (or not a number).
    """

    def __init__(self, n_paths: int, tol: float = 1e-9):
        self.prev = np.zeros(n_paths)
        self.tol = tol
        self.worst = 0.0
        self.lowest = 0.0
        self.nan = False

    def period(self, cash: np.ndarray, *pairs: tuple[np.ndarray, np.ndarray]) -> None:
        change = cash - self.prev
        for inflow, outflow in pairs:
            resid = np.abs(change - (inflow - outflow))
            worst = float(resid.max(initial=0.0))
            # max propagates NaN (and inf - inf is NaN): a non-finite flow cannot slip through.
            self.nan |= worst != worst
            self.worst = max(self.worst, worst)
        self.lowest = min(self.lowest, float(cash.min(initial=0.0)))
        self.prev = cash.copy()

    def finish(self, scale: float) -> float:
        """Raise if money was not conserved; return the largest residual (cash left included)."""
        end = float(np.abs(self.prev).max(initial=0.0))
        limit = self.tol * max(scale, 1.0)
        if self.nan or not np.isfinite(self.prev).all():
            raise ConservationError("money not conserved: a flow or the cash balance is not a finite number")
        if self.worst > limit or end > limit or -self.lowest > limit:
            raise ConservationError(
                f"money not conserved: largest residual {self.worst:.3g}, cash left at the end {end:.3g}, "
                f"lowest cash {self.lowest:.3g} (tolerance {limit:.3g})"
            )
        return max(self.worst, end)


def check_conservation(
    cash: np.ndarray, inflow: np.ndarray, outflow: np.ndarray, scale: float, tol: float = 1e-9
) -> float:
    """Check ``cash[:, t] - cash[:, t-1] == inflow - outflow`` on every path and period, and
    that cash ends at zero. All arrays (N, T) in currency. Returns the largest residual;
    raises :class:`ConservationError` above ``tol x scale``."""
    check = ConservationCheck(cash.shape[0], tol)
    for t in range(cash.shape[1]):
        check.period(cash[:, t], (inflow[:, t], outflow[:, t]))
    return check.finish(scale)
