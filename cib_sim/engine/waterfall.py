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
from cib_sim.engine.kernels import funding as funding_kernels
from cib_sim.scenario import Scenario


class Waterfall:
    """Waterfall state for N paths. Tranche arrays are (N, K) over capital tranches, fee arrays
    (N, F) over deferred fees.

    Seniority: tranches are paid by ``rank`` groups (list order when no ranks are given); within
    a group, pari passu, pro rata to what each is owed. A deferred fee is paid right after the
    group of the tranche it ranks ``behind``, before any more junior group.
    """

    def __init__(self, s: Scenario, n_paths: int):
        self.s = s
        ppy = s.horizon.periods_per_year
        caps = s.capital_tranches
        K = len(caps)
        self.K = K
        self.commitment = np.array([t.commitment for t in caps])
        self.draw_weight = self.commitment / self.commitment.sum()
        self.draw_order = s.terms.draw_order
        self.coupon = np.array([0.0 if t.kind == "grant" else t.coupon for t in caps]) / ppy
        self.repayable = np.array([t.kind != "grant" for t in caps])
        self.upside = np.array([t.has_upside for t in caps])
        self.cap_multiple = np.array([t.cap_multiple if t.cap_multiple is not None else np.inf for t in caps])
        self.cap_on_commitment = np.array([t.cap_basis == "committed" for t in caps])
        self.cap_growth = np.array([(1 + t.cap_irr) ** (1 / ppy) if t.cap_irr is not None else 1.0 for t in caps])
        self.has_cap_irr = np.array([t.cap_irr is not None for t in caps])
        self.any_coupon, self.any_cap_irr = bool(np.any(self.coupon > 0)), bool(self.has_cap_irr.any())
        names = [t.name for t in caps]
        ranks = [t.rank if t.rank is not None else i + 1 for i, t in enumerate(caps)]
        self.groups = [[k for k in range(K) if ranks[k] == r] for r in sorted(set(ranks))]  # most senior first
        fees = s.terms.deferred_fees
        self.fee_amount = np.array([f.amount for f in fees])
        behind = [names.index(f.behind) for f in fees]
        self.fees_after = [[i for i, k in enumerate(behind) if k in g] for g in self.groups]
        guars = [t for t in s.tranches if t.kind == "guarantee"]
        self.guar_amount = np.array([g.commitment for g in guars])
        self.guar_share = np.array([g.share_of_drawn if g.share_of_drawn is not None else np.inf for g in guars])
        self.guar_covers = np.array([names.index(g.covers) for g in guars], dtype=int)
        N = n_paths
        self.cash = np.zeros(N)
        self.reserve = np.zeros(N)  # capital drawn and not yet spent (up-front draws), inside cash
        self.drawn = np.zeros((N, K))
        self.repaid = np.zeros((N, K))
        self.owed = np.zeros((N, K))
        self.accrued = np.zeros((N, K))  # coupons accrued so far (paid or not)
        self.paid_out = np.zeros((N, K))
        self.cap_balance = np.zeros((N, K))
        self.fee_paid = np.zeros((N, len(fees)))
        self.limit: np.ndarray | None = None  # (N, K) commitments left callable, once some are cancelled
        self.called_up_front = False
        self.guar_used = np.zeros((N, len(guars)))
        self._committed_total = float(self.commitment.sum())
        self._no_limit = np.zeros((1, K))  # stands for ``limit`` in the funding kernel until one is set
        # Capital calls by rank group (senior or junior first): tranche indices, group by group.
        call_groups = self.groups if self.draw_order != "junior_first" else self.groups[::-1]
        self._call_order = np.array([k for g in call_groups for k in g], dtype=np.int64)
        self._call_bounds = np.cumsum([0] + [len(g) for g in call_groups]).astype(np.int64)

    def accrue(self) -> None:
        """A period's coupons on capital outstanding, and return-cap balances grown (compiled:
        :func:`cib_sim.engine.kernels.funding.accrue`)."""
        if self.any_coupon or self.any_cap_irr:
            funding_kernels.accrue.for_paths(self.cash.shape[0])(
                self.coupon, self.drawn, self.repaid, self.owed, self.accrued, self.cap_balance, self.cap_growth,
                self.any_coupon, self.any_cap_irr)

    def receive(self, income: np.ndarray) -> None:
        self.cash += income

    def cancel_undrawn(self, paths: np.ndarray) -> None:
        """Cancel the undrawn commitments on ``paths`` (N,) bool: no more capital can be called."""
        if self.limit is None:
            self.limit = np.broadcast_to(self.commitment, self.drawn.shape).copy()
        self.limit[paths] = self.drawn[paths]

    def fund(self, needed_full: np.ndarray, needed_fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pay the period's costs. Returns ``(funded (N,), spent (N,), drawn (N, K))``.

        ``needed_full``: all costs including new enrolments; ``needed_fixed``: without them.
        Where not funded, only ``needed_fixed`` is paid, as far as the money goes. Money comes
        from capital already drawn and unspent, then income held (with recycling), then new
        capital calls in the ``draw_order``.
        """
        N = self.cash.shape[0]
        upfront = np.zeros((N, self.K))
        if self.draw_order == "upfront" and not self.called_up_front:
            self.called_up_front = True
            # Every commitment is called at the start and held until spent.
            upfront = np.broadcast_to(self.commitment, (N, self.K)).copy()
            self.drawn += upfront
            self.cap_balance += upfront
            self.cash += rowsum(upfront)
            self.reserve += rowsum(upfront)
        # Cash a hair below zero (rounding, -1e-45) is not spent: a capital call to cover it
        # would show as a spurious sign change in the investors' cash flows (and their IRR).
        # Compiled, path by path: :func:`cib_sim.engine.kernels.funding.pay_costs`.
        funded, spent, draw = np.empty(N, dtype=bool), np.empty(N), np.empty((N, self.K))
        limit = self.limit if self.limit is not None else self._no_limit
        funding_kernels.pay_costs.for_paths(N)(
            np.ascontiguousarray(needed_full, dtype=np.float64), np.ascontiguousarray(needed_fixed, dtype=np.float64),
            self.cash, self.reserve, self.drawn, self.cap_balance, self.commitment, self._committed_total,
            limit, self.limit is not None, bool(self.s.terms.recycling), self.draw_order in ("pro_rata", "upfront"),
            self.draw_weight, self._call_order, self._call_bounds, funded, spent, draw)
        return funded, spent, draw + upfront

    def _room(self) -> np.ndarray:
        """(N, K) most each tranche may still receive under its return caps."""
        return np.stack([self._room_of(k) for k in range(self.K)], axis=1) if self.K else np.zeros((self.cash.shape[0], 0))

    def _room_of(self, k: int) -> np.ndarray:
        """(N,) most tranche k may still receive under its return caps."""
        if not self.repayable[k]:
            return np.zeros(self.cash.shape[0])
        # An uncapped tranche has infinite room (and inf x 0 drawn would be NaN).
        if np.isfinite(self.cap_multiple[k]):
            base = self.commitment[k] if self.cap_on_commitment[k] else self.drawn[:, k]
            room = self.cap_multiple[k] * base - self.paid_out[:, k]
        else:
            room = np.full(self.cash.shape[0], np.inf)
        if self.has_cap_irr[k]:
            room = np.minimum(room, self.cap_balance[:, k])
        return np.maximum(0.0, room)

    def _avail(self) -> np.ndarray:
        """(N,) cash that may be distributed: all but capital held for delivery."""
        return np.maximum(self.cash - self.reserve, 0.0)

    def _pay(self, k: int, amount: np.ndarray) -> None:
        self.cash -= amount
        self.paid_out[:, k] += amount
        self.cap_balance[:, k] -= amount

    def _pay_group(self, g: list[int], due: np.ndarray, may: np.ndarray) -> np.ndarray:
        """Pay the tranches of rank group ``g`` up to ``due`` (N, len(g)) where ``may`` (N,):
        pro rata to what each is due when cash is short. Returns (N, len(g)) paid."""
        if len(g) == 1:  # the common case, kept to the same arithmetic as a single tranche
            x = np.where(may, np.minimum(self._avail(), due[:, 0]), 0.0)
            self._pay(g[0], x)
            return x[:, None]
        total = rowsum(due)
        pay = np.where(may, np.minimum(self._avail(), total), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(total[:, None] > 0, pay[:, None] * due / np.where(total[:, None] > 0, total[:, None], 1.0), 0.0)
        x = np.minimum(x, due)
        for j, k in enumerate(g):
            self._pay(k, x[:, j])
        return x

    def distribute(self, final: np.ndarray | bool = True, paying: np.ndarray | bool = True) -> dict[str, np.ndarray]:
        """Send cash down the waterfall. Returns per-tranche (N, K) coupon, capital, upside,
        deferred fees paid (N, F) and the excess (N,).

        ``paying`` (N,) or one flag: the paths with a distribution now (nothing moves elsewhere).
        ``final`` (N,) or one flag: paths in the contract's final phase (no more capital calls).
        Elsewhere only coupons, capital and deferred fees are paid, and a rank group only once
        every more senior group is *settled* (can draw no more, has its drawn capital and due
        coupons back, and the fees ranked ahead of it are paid): capital a senior draws later is
        repaid before anything reaches a junior. What is left stays in cash, because a cap on a
        multiple of money drawn is not known until the last call.
        """
        N, K = self.cash.shape[0], self.K
        paying = np.broadcast_to(np.asarray(paying, dtype=bool), (N,))
        final = np.broadcast_to(np.asarray(final, dtype=bool), (N,)) & paying
        coupon, capital, upside = np.zeros((N, K)), np.zeros((N, K)), np.zeros((N, K))
        if (final & (self.reserve > 0)).any():
            # Capital called up front and never spent goes back to whoever put it in, pro rata.
            back = np.where(final, self.reserve, 0.0)
            total = rowsum(self.drawn)
            with np.errstate(divide="ignore", invalid="ignore"):
                refund = np.where(total[:, None] > 0, back[:, None] * self.drawn / np.where(total > 0, total, 1.0)[:, None], 0.0)
            for k in range(K):
                self._pay(k, refund[:, k])
                self.repaid[:, k] += refund[:, k]
            capital += refund
            self.reserve = np.where(final, 0.0, self.reserve)
        fees = np.zeros_like(self.fee_paid)
        limit = self.limit
        settled = np.ones(N, dtype=bool)  # every more senior group settled
        # Pro-rata shares of the upside can add up to a hair more than the cash (rounding), so
        # cash can sit at -1e-45: pay only from what is there, so that no payment is negative.
        for g, fee_ids in zip(self.groups, self.fees_after):
            g = [k for k in g if self.repayable[k]]
            if g:
                may = paying & (final | settled)
                due = np.stack([np.minimum(self.owed[:, k], self._room_of(k)) for k in g], axis=1)
                x = self._pay_group(g, due, may)
                for j, k in enumerate(g):
                    self.owed[:, k] -= x[:, j]
                    coupon[:, k] = x[:, j]
                due = np.stack([np.minimum(self.drawn[:, k] - self.repaid[:, k], self._room_of(k)) for k in g], axis=1)
                y = self._pay_group(g, due, may)
                for j, k in enumerate(g):
                    self.repaid[:, k] += y[:, j]
                    capital[:, k] += y[:, j]
                for k in g:
                    tol = 1e-9 * (1.0 + self.commitment[k])
                    can_draw = (self.commitment[k] if limit is None else limit[:, k]) - self.drawn[:, k]
                    settled &= (can_draw <= tol) & (self.owed[:, k] <= tol) & (self.drawn[:, k] - self.repaid[:, k] <= tol)
            for f in fee_ids:
                may = paying & (final | settled)
                x = np.where(may, np.minimum(self._avail(), self.fee_amount[f] - self.fee_paid[:, f]), 0.0)
                self.cash -= x
                self.fee_paid[:, f] += x
                fees[:, f] = x
                settled &= self.fee_amount[f] - self.fee_paid[:, f] <= 1e-9 * (1.0 + self.fee_amount[f])
        if not final.any():
            return {"coupon": coupon, "capital": capital, "upside": upside, "deferred_fee": fees, "excess": np.zeros(N)}
        # Upside: water-fill pro rata to commitment among tranches with room left.
        for _ in range(K):
            room = np.where(self.upside & final[:, None], self._room(), 0.0)
            w = np.where(room > 0, self.commitment, 0.0)
            wsum = rowsum(w)[:, None]
            # Path by path: cash at rounding level (1e-12) is excess, whatever other paths hold,
            # so that a path's result does not depend on the chunk it runs in.
            active = (wsum[:, 0] > 0) & (self.cash > 1e-12)
            if not active.any():
                break
            with np.errstate(divide="ignore", invalid="ignore"):
                offer = np.where(active[:, None] & (wsum > 0),
                                 np.maximum(self.cash, 0.0)[:, None] * w / np.where(wsum > 0, wsum, 1.0), 0.0)
            x = np.minimum(offer, room)
            for k in range(K):
                self._pay(k, x[:, k])
            upside += x
        excess = np.where(final, np.maximum(self.cash, 0.0), 0.0)
        self.cash = self.cash - excess
        return {"coupon": coupon, "capital": capital, "upside": upside, "deferred_fee": fees, "excess": excess}

    def call_guarantees(self, ending: np.ndarray | bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Guarantors pay covered tranches' losses on the paths whose contract ends now
        (``ending`` (N,) or one flag). Returns ``(calls (N, G), received (N, K))``.

        A tranche's loss is its capital drawn less everything it received (coupons, capital and
        upside): a guarantee restores principal, never pays a return on it; with
        ``share_of_drawn`` it covers at most that share of the capital drawn."""
        N = self.cash.shape[0]
        ending = np.broadcast_to(np.asarray(ending, dtype=bool), (N,))
        calls = np.zeros((N, len(self.guar_amount)))
        received = np.zeros((N, self.K))
        if not ending.any():
            return calls, received
        room = self._room()
        for g, k in enumerate(self.guar_covers):
            loss = np.minimum(np.maximum(0.0, self.drawn[:, k] - self.paid_out[:, k]), room[:, k])
            cover = self.guar_amount[g] - self.guar_used[:, g]
            if np.isfinite(self.guar_share[g]):
                cover = np.minimum(cover, self.guar_share[g] * self.drawn[:, k])
            x = np.where(ending, np.minimum(loss, cover), 0.0)
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
    if not excess.any():  # most distributions before the end: nothing to split (same zeros)
        return np.zeros(paid_so_far.shape), np.zeros(attributed_so_far.shape)
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
