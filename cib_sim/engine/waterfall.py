"""The fund's cash: capital calls for delivery, and distributions down the tranches by seniority.

Each period, for every path at once:

1. coupons accrue on outstanding capital (simple interest, ``coupon / periods_per_year``);
2. costs are paid (:meth:`Waterfall.fund`): from cash (income of earlier periods) first if
   ``terms.recycling``, then by drawing capital pro rata to commitment. If costs cannot be met in
   full, the period's new enrolments are cancelled and delivery stops for good (a real risk of a
   thin fund); costs already committed are then paid as far as the money goes
   (:func:`split_spending` says which use got what);
3. net outcome income of the period arrives in the fund's cash;
4. on distribution dates, and when the contract ends, cash goes down the waterfall
   (:meth:`Waterfall.distribute`): each tranche in order of seniority gets its accrued coupon
   then its capital. **Seniority holds over the life of the contract**: while capital may still be
   called, a tranche is paid only once every more senior tranche can draw no more and has had
   its drawn capital and due coupons back; what a junior may not yet have stays in the fund's
   cash. Once the contract's final phase begins (delivery over, no more calls), tranches with
   upside share the rest pro rata to commitment, each up to its return cap (a multiple of money
   drawn, or an IRR: a balance compounding at the cap rate that payments may not exceed); what
   is left is *excess*, rebated to commissioners, paid to partners as a bonus, or split
   (:func:`split_excess`);
5. when the contract ends on a path (at the horizon, or earlier once delivery has stopped for
   good and no more income can come), each guarantee pays its covered tranche's loss of
   principal: capital drawn less everything the tranche received (coupons and upside included),
   up to the guarantee's amount (:meth:`Waterfall.call_guarantees`).

Money conservation is checked by :mod:`cib_sim.engine.conservation` as the engine runs.
"""

from __future__ import annotations

import numpy as np

from cib_sim.engine.arrays import rowsum
from cib_sim.scenario import Scenario


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
        self.accrued = np.zeros((N, K))  # coupons accrued so far (paid or not)
        self.paid_out = np.zeros((N, K))
        self.cap_balance = np.zeros((N, K))
        self.guar_used = np.zeros((N, len(guars)))

    @property
    def undrawn(self) -> np.ndarray:
        return self.commitment.sum() - rowsum(self.drawn)

    def accrue(self) -> None:
        if self.any_coupon:
            due = self.coupon * (self.drawn - self.repaid)
            self.owed += due
            self.accrued += due
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

    def distribute(self, final: np.ndarray | bool = True, paying: np.ndarray | bool = True) -> dict[str, np.ndarray]:
        """Send cash down the waterfall. Returns per-tranche (N, K) coupon, capital, upside and
        the excess (N,).

        ``paying`` (N,) or one flag: the paths with a distribution now (nothing moves elsewhere).
        ``final`` (N,) or one flag: paths in the contract's final phase (no more capital calls).
        Elsewhere only coupons and capital are paid, and a tranche only once every more senior
        tranche is *settled* (can draw no more and has its drawn capital and due coupons back):
        capital a senior draws later is repaid before anything reaches a junior. What is left
        stays in cash, because a cap on a multiple of money drawn is not known until the last call.
        """
        N, K = self.cash.shape[0], self.K
        paying = np.broadcast_to(np.asarray(paying, dtype=bool), (N,))
        final = np.broadcast_to(np.asarray(final, dtype=bool), (N,)) & paying
        coupon, capital, upside = np.zeros((N, K)), np.zeros((N, K)), np.zeros((N, K))
        settled = np.ones(N, dtype=bool)  # every more senior tranche settled
        # Pro-rata shares of the upside can add up to a hair more than the cash (rounding), so
        # cash can sit at -1e-45: pay only from what is there, so that no payment is negative.
        for k in range(K):
            if not self.repayable[k]:
                continue
            may = paying & (final | settled)
            x = np.where(may, np.minimum(np.minimum(np.maximum(self.cash, 0.0), self.owed[:, k]), self._room_of(k)), 0.0)
            self._pay(k, x)
            self.owed[:, k] -= x
            coupon[:, k] = x
            y = np.where(may, np.minimum(np.minimum(np.maximum(self.cash, 0.0), self.drawn[:, k] - self.repaid[:, k]), self._room_of(k)), 0.0)
            self._pay(k, y)
            self.repaid[:, k] += y
            capital[:, k] = y
            tol = 1e-9 * (1.0 + self.commitment[k])
            settled &= (
                (self.commitment[k] - self.drawn[:, k] <= tol)
                & (self.owed[:, k] <= tol)
                & (self.drawn[:, k] - self.repaid[:, k] <= tol)
            )
        if not final.any():
            return {"coupon": coupon, "capital": capital, "upside": upside, "excess": np.zeros(N)}
        # Upside: water-fill pro rata to commitment among tranches with room left.
        for _ in range(K):
            room = np.where(self.upside & final[:, None], self._room(), 0.0)
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
        excess = np.where(final, np.maximum(self.cash, 0.0), 0.0)
        self.cash = self.cash - excess
        return {"coupon": coupon, "capital": capital, "upside": upside, "excess": excess}

    def call_guarantees(self, ending: np.ndarray | bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Guarantors pay covered tranches' losses on the paths whose contract ends now
        (``ending`` (N,) or one flag). Returns ``(calls (N, G), received (N, K))``.

        A tranche's loss is its capital drawn less everything it received (coupons, capital and
        upside): a guarantee restores principal, never pays a return on it."""
        N = self.cash.shape[0]
        ending = np.broadcast_to(np.asarray(ending, dtype=bool), (N,))
        calls = np.zeros((N, len(self.guar_amount)))
        received = np.zeros((N, self.K))
        if not ending.any():
            return calls, received
        room = self._room()
        for g, k in enumerate(self.guar_covers):
            loss = np.minimum(np.maximum(0.0, self.drawn[:, k] - self.paid_out[:, k]), room[:, k])
            x = np.where(ending, np.minimum(loss, self.guar_amount[g] - self.guar_used[:, g]), 0.0)
            self.guar_used[:, g] += x
            self.repaid[:, k] += x
            self.paid_out[:, k] += x
            self.cap_balance[:, k] -= x
            room[:, k] -= x
            calls[:, g] = x
            received[:, k] += x
        return calls, received


def split_spending(
    funded: np.ndarray, spent: np.ndarray, needed_fixed: np.ndarray,
    upfront: np.ndarray, committed: np.ndarray, fixed: np.ndarray, backbone: np.ndarray,
) -> dict[str, np.ndarray]:
    """What the period's spending paid for: ``partner_upfront``, ``partner_fixed`` (N, P) and
    ``backbone_cost`` (N,), currency.

    Where ``funded`` (N,), every cost was met: service fees for all in service (``upfront``,
    new enrolments included), fixed costs and the backbone. Elsewhere ``spent`` (N,) went to the
    costs already committed (``committed`` service fees, ``fixed``, ``backbone``, summing to
    ``needed_fixed``) pro rata, as far as it went.
    """
    if funded.all():
        return {"partner_upfront": upfront, "partner_fixed": fixed, "backbone_cost": backbone}
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(funded, 1.0, np.where(needed_fixed > 0, spent / np.where(needed_fixed > 0, needed_fixed, 1.0), 0.0))
    return {
        "partner_upfront": np.where(funded[:, None], upfront, committed * scale[:, None]),
        "partner_fixed": fixed * scale[:, None],
        "backbone_cost": backbone * scale,
    }


def split_excess(
    excess: np.ndarray, to_commissioners: float, paid_so_far: np.ndarray, attributed_so_far: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The excess (N,) split into rebates to payers (N, C), pro rata to what each has paid, and
    bonuses to partners (N, P), pro rata to the payments attributed to each;
    ``to_commissioners`` is the payers' share (0..1). With nobody to rebate to (no payer paid,
    no partner attributed), the rest goes to the payers equally."""
    rebate = pro_rata(excess * to_commissioners, paid_so_far)
    bonus = pro_rata(excess * (1 - to_commissioners), attributed_so_far)
    leftover = excess - rowsum(rebate) - rowsum(bonus)
    rebate += pro_rata(leftover, np.ones_like(paid_so_far))
    return rebate, bonus


def pro_rata(amount: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split ``amount`` (N,) over columns in proportion to ``weights`` (N, M) (0 if all zero)."""
    tot = rowsum(weights)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tot > 0, amount[:, None] * weights / np.where(tot > 0, tot, 1.0), 0.0)
