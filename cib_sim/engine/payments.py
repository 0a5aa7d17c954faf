"""Payments: from outcomes achieved to cash from each commissioner.

Two steps, both stepped one period at a time and vectorised over paths:

1. :class:`RateCard` turns cohorts' outcome counts into money *earned* when the outcome is
   verified (enrolment period + lag): every outcome (``rate_card``), outcomes above the
   counterfactual when the cohort's improvement reaches the threshold (``above_baseline``), at
   the price of the highest tier reached (``tiered``), or a lump sum by the improvement reached
   (``lump_sum``, per cohort or once for the programme); capped per enrolled participant. Count
   outcomes pay per event avoided, in instalments over their tracking window. The counterfactual
   is the baseline, or the drawn rate of the cohort's own control group (``comparison``).
2. :class:`CommissionerLedger` splits what is earned by each commissioner's share, delays it by
   the payment lag, and pays it within the annual budget and total cap, until withdrawal. What a
   cap or a withdrawal stops is never paid (it is recorded, not carried forward), and nor is
   anything falling due after the horizon.
"""

from __future__ import annotations

import numpy as np

from cib_sim.engine.arrays import dot_last, rowsum
from cib_sim.engine.cohorts import cohort_clocks
from cib_sim.engine.delivery import (
    DeliveryState,
    binomial_from_normal,
    count_cumulants,
    count_from_normal,
    counterfactual_rate,
    nbinom_from_normal,
    unit_plan,
    years_at,
)
from cib_sim.engine.kernels import ledger as ledger_kernels
from cib_sim.engine.sample import Draws, n_units
from cib_sim.scenario import Outcome, Scenario


def improvement(achieved_rate: np.ndarray, baseline: float, measure: str) -> np.ndarray:
    """Improvement of ``achieved_rate`` over ``baseline`` as the outcome defines it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = achieved_rate - baseline
        if measure == "absolute":
            return diff
        denom = baseline if measure == "relative" else 1.0 - baseline
        if denom <= 0:
            return np.where(diff > 0, np.inf, 0.0)
        return diff / denom


def cohort_payment(o: Outcome, achieved: np.ndarray, enrolled: np.ndarray) -> np.ndarray:
    """Money earned by one assessment cohort, currency. ``achieved``/``enrolled``: counts (...)."""
    if o.payment_basis == "rate_card":
        pay = o.price * achieved
    else:
        above = np.maximum(0.0, achieved - o.baseline_rate * enrolled)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(enrolled > 0, achieved / np.where(enrolled > 0, enrolled, 1.0), 0.0)
        imp = np.where(enrolled > 0, improvement(rate, o.baseline_rate, o.improvement), 0.0)
        if o.payment_basis == "above_baseline":
            price = np.where(imp >= o.threshold - 1e-12, o.price, 0.0)
        else:
            price = np.zeros_like(imp)
            for tier in o.tiers:  # ascending, so the highest tier reached wins
                price = np.where(imp >= tier.min_improvement - 1e-12, tier.price, price)
        pay = price * above
    if o.max_per_participant is not None:
        pay = np.minimum(pay, o.max_per_participant * enrolled)
    return pay


def measured_improvement(rate: np.ndarray, baseline: np.ndarray | float, measure: str, count: bool) -> np.ndarray:
    """Improvement of ``rate`` over a counterfactual ``baseline`` (an array: e.g. each path's
    control group). Binary outcomes as :func:`improvement`; count outcomes as the fall in events
    per participant: ``absolute`` b - a, else (b - a) / b."""
    b = np.asarray(baseline, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if count:
            diff = b - rate
            denom = b
        else:
            diff = rate - b
            denom = b if measure == "relative" else 1.0 - b
        if measure == "absolute":
            return diff
        return np.where(denom > 0, diff / np.where(denom > 0, denom, 1.0), np.where(diff > 0, np.inf, 0.0))


def schedule_amount(o: Outcome, imp: np.ndarray) -> np.ndarray:
    """The lump sum of the highest step of ``o.schedule`` that ``imp`` reached (0 below the
    first)."""
    amount = np.zeros_like(imp, dtype=np.float64)
    for step in o.schedule:  # ascending, so the highest step reached wins
        amount = np.where(imp >= step.min_improvement - 1e-12, step.amount, amount)
    return amount


def cohort_value(o: Outcome, achieved: np.ndarray, enrolled: np.ndarray, baseline: np.ndarray | float | None = None) -> np.ndarray:
    """Money earned by one assessment cohort, currency, against ``baseline`` outcomes per
    participant (default the outcome's own baseline; a control group's measured rate). Binary
    outcomes measured against their own baseline are :func:`cohort_payment`; count outcomes pay
    per event avoided (``achieved`` counts the events); ``lump_sum`` pays the schedule's amount."""
    count = o.kind == "count"
    if baseline is None and not count and o.payment_basis != "lump_sum":
        return cohort_payment(o, achieved, enrolled)
    b = o.baseline_events if baseline is None else baseline
    if o.payment_basis == "rate_card" and not count:
        pay = o.price * achieved
    else:
        expected = b * enrolled
        above = np.maximum(0.0, expected - achieved) if count else np.maximum(0.0, achieved - expected)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(enrolled > 0, achieved / np.where(enrolled > 0, enrolled, 1.0), 0.0)
        imp = np.where(enrolled > 0, measured_improvement(rate, b, o.improvement, count), 0.0)
        if o.payment_basis == "rate_card":
            pay = o.price * above
        elif o.payment_basis == "above_baseline":
            pay = np.where(imp >= o.threshold - 1e-12, o.price, 0.0) * above
        elif o.payment_basis == "tiered":
            price = np.zeros_like(imp)
            for tier in o.tiers:
                price = np.where(imp >= tier.min_improvement - 1e-12, tier.price, price)
            pay = price * above
        else:
            pay = np.where(enrolled > 0, schedule_amount(o, imp), 0.0)
    if o.max_per_participant is not None:
        pay = np.minimum(pay, o.max_per_participant * enrolled)
    return pay


def instalment_offsets(o: Outcome, ppy: int) -> list[int]:
    """Periods from a cohort's close to each of its payments: ``lag``, and for a count outcome
    paid in ``instalments``, every ``window_years / instalments`` after it (rounded)."""
    lag = int(round(o.lag * ppy))
    if o.count is None or o.count.instalments == 1:
        return [lag]
    n, w = o.count.instalments, o.count.window_years
    return [lag + int(round(j * w * ppy / n)) for j in range(n)]


def control_count(o: Outcome, z: np.ndarray, size: float, rate: np.ndarray | float, mode: str) -> np.ndarray:
    """Outcomes (count outcomes: events) in a control group of ``size`` people whose expected
    rate per person is ``rate``, from standard normals ``z``: binomial, or negative binomial
    (Poisson) totals; with ``expected`` counts its expectation."""
    m = np.asarray(rate, dtype=np.float64) * np.ones_like(z)
    n = np.full_like(z, float(max(1, round(size))))
    if o.kind == "count":
        shape = o.count.dispersion
        if mode == "exact":
            return nbinom_from_normal(z, n, m, shape)
        mean, var, k3 = count_cumulants(n, m, shape)
        return count_from_normal(z, mean, var, k3, None, mode)
    if mode == "exact":
        return binomial_from_normal(z, n, m)
    v = n * m * (1 - m)
    return count_from_normal(z, n * m, v, v * (1 - 2 * m), n, mode)


class RateCard:
    """Money earned per unit and outcome in each period of verification. Output (N, U, O).

    Reads only the delivery's cohort history: ``enrolled`` (N, T, U) and ``achieved``
    (N, T, U, O) by enrolment period (any object with :class:`DeliveryState`'s history arrays)."""

    def __init__(self, s: Scenario, delivery: DeliveryState, draws: Draws | None = None, mode: str = "approx"):
        self.s, self.dl = s, delivery
        h = s.horizon
        self.lags = [h.to_periods(o.lag) for o in s.outcomes]
        # Periods from a cohort's close to each payment; a count outcome may pay in instalments.
        self.offsets = [instalment_offsets(o, h.periods_per_year) for o in s.outcomes]
        self.clocks = cohort_clocks(s)  # [k][u]: which enrolment periods are assessed together
        self.end = unit_plan(s).end  # (U,) first period with no enrolment
        self.max_lag = max(max(off) for off in self.offsets)
        N, _, U = delivery.enrolled.shape
        self.paid_so_far = np.zeros((N, U, len(s.outcomes)))
        self.outcomes_earned: list[int] = []  # outcomes with a cohort verified in the last period asked
        self.last_enrolment = np.full((N, U), -1, dtype=np.int64)  # each unit's latest cohort so far
        # Measurement: drift of the counterfactual, control groups' normals, the count mode.
        self.drift = None if draws is None else draws.drift
        self.z_control = None if draws is None else draws.z_control
        self.mode = "expected" if not s.uncertainty.enabled else mode
        self.control_so_far = np.zeros((N, U, len(s.outcomes)))  # control outcomes of closed cohorts
        self.control_people = np.zeros((U, len(s.outcomes)))  # and their control groups' people
        self._values: dict[tuple[int, int, int], np.ndarray] = {}  # cohort values awaiting instalments

    def earned_so_far(self) -> np.ndarray:
        """(N, O) money earned so far by verified cohorts, currency."""
        return self.paid_so_far.sum(axis=1)

    def note_enrolment(self, t: int) -> None:
        """Keep track of the latest period with enrolments (call once period t is committed)."""
        self.last_enrolment = np.where(self.dl.enrolled[:, t] > 0, t, self.last_enrolment)

    def last_verification(self) -> np.ndarray:
        """(N,) the last period in which a cohort enrolled so far is verified (-1: none).

        With no more enrolments, nothing can be earned after it."""
        out = np.full(self.last_enrolment.shape[0], -1, dtype=np.int64)
        for k, o in enumerate(self.s.outcomes):
            last_pay = max(self.offsets[k])
            for u in range(self.last_enrolment.shape[1]):
                e = self.last_enrolment[:, u]
                close = self.clocks[k][u].close(e)
                if o.overall_threshold is not None:  # the overall top-up is settled at the unit's end
                    close = np.full_like(e, self.end[u] - 1)
                if o.schedule_per == "programme":  # assessed once, after the last unit's end
                    close = np.full_like(e, int(self.end.max()) - 1)
                out = np.maximum(out, np.where(e >= 0, close + last_pay, -1))
        return out

    def earned(self, t: int) -> np.ndarray | None:
        """(N, U, O) money earned by cohorts verified in period t; None if no cohort is."""
        N, U, O = self.paid_so_far.shape
        out = None
        self.outcomes_earned = []
        for k, o in enumerate(self.s.outcomes):
            n_pay = len(self.offsets[k])
            for j, off in enumerate(self.offsets[k]):
                last = t - off  # last enrolment period of the cohort whose (j-th) payment is now
                if last < 0:
                    continue
                if o.schedule_per == "programme":
                    pay_u = self._programme(k, o, j, n_pay, last)
                    if pay_u is None:
                        continue
                    if out is None:
                        out = np.zeros((N, U, O))
                    out[:, :, k] += pay_u
                    if k not in self.outcomes_earned:
                        self.outcomes_earned.append(k)
                    continue
                for u in range(U):
                    # A cohort closes at its last period or at the unit's last enrolment, once.
                    if not self.clocks[k][u].closes_at(last):
                        continue
                    if j == 0:
                        pay = self._cohort(k, o, u, last)
                        if n_pay > 1:
                            self._values[(k, u, last)] = pay
                            pay = pay / n_pay
                    else:
                        value = self._values[(k, u, last)]
                        if j == n_pay - 1:
                            del self._values[(k, u, last)]
                        pay = value / n_pay
                    if out is None:
                        out = np.zeros((N, U, O))
                    out[:, u, k] += pay
                    if k not in self.outcomes_earned:
                        self.outcomes_earned.append(k)
        return out

    def _control_rate(self, k: int, o: Outcome, u: int, first: int, last: int) -> np.ndarray | float:
        """The expected outcomes per person without the intervention for the cohort enrolled in
        periods ``first``..``last`` of unit ``u`` (all units: ``u`` None): the baseline, or with a
        drift the cohort's enrolment-weighted counterfactual rate."""
        if self.drift is None:
            return o.baseline_events
        ppy = self.s.horizon.periods_per_year
        sl = slice(first, last + 1)
        n_t = self.dl.enrolled[:, sl, u] if u is not None else self.dl.enrolled[:, sl].sum(axis=2)  # (N, t)
        rates = np.stack([counterfactual_rate(self.s, self.drift, years_at(t, ppy))[:, k] for t in range(first, last + 1)], axis=1)
        tot = n_t.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(tot > 0, (n_t * rates).sum(axis=1) / np.where(tot > 0, tot, 1.0), rates[:, -1])

    def _measured(self, k: int, o: Outcome, u: int | None, first: int, last: int) -> tuple[np.ndarray | None, np.ndarray, float]:
        """``(measured baseline per person or None, control outcomes, control people)`` for a
        cohort: its control group's drawn rate, or None where it is measured against the fixed
        baseline."""
        size = o.control_size
        if size is None:
            return None, np.zeros(0), 0.0
        rate = self._control_rate(k, o, u, first, last)
        z = self.z_control[last, :, 0 if u is None else u, k]
        c = control_count(o, z, size, rate, self.mode)
        m = float(max(1, round(size)))
        return c / m, c, m

    def _cohort(self, k: int, o: Outcome, u: int, last: int) -> np.ndarray:
        """(N,) the full value of unit u's cohort of outcome k closing in period ``last``."""
        dl = self.dl
        first = self.clocks[k][u].first(last)
        a = dl.achieved[:, first : last + 1, u, k].sum(axis=1)
        n = dl.enrolled[:, first : last + 1, u].sum(axis=1)
        b, c, m = self._measured(k, o, u, first, last)
        pay = cohort_value(o, a, n, b)
        if b is not None:
            self.control_so_far[:, u, k] += c
            self.control_people[u, k] += m
        if o.overall_threshold is not None and last == self.end[u] - 1:
            pay = pay + self._overall_top_up(o, u, k, last, pay)
        self.paid_so_far[:, u, k] += pay
        return pay

    def _programme(self, k: int, o: Outcome, j: int, n_pay: int, last: int) -> np.ndarray | None:
        """(N, U) the programme's lump sum attributed to units pro rata to enrolments, when
        ``last`` is the programme's last enrolment period (None otherwise)."""
        if last != int(self.end.max()) - 1:
            return None
        dl = self.dl
        if j == 0:
            n_u = dl.enrolled[:, : last + 1].sum(axis=1)  # (N, U)
            n = n_u.sum(axis=1)
            a = dl.achieved[:, : last + 1, :, k].sum(axis=(1, 2))
            b, _, _ = self._measured(k, o, None, 0, last)
            value = cohort_value(o, a, n, b)
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(n[:, None] > 0, n_u / np.where(n > 0, n, 1.0)[:, None], 0.0)
            pay_u = value[:, None] * share
            self.paid_so_far[:, :, k] += pay_u
            if n_pay > 1:
                self._values[(k, -1, last)] = pay_u
        else:
            pay_u = self._values[(k, -1, last)]
            if j == n_pay - 1:
                del self._values[(k, -1, last)]
        return pay_u / n_pay if n_pay > 1 else pay_u

    def _overall_top_up(self, o: Outcome, u: int, k: int, last: int, pay_now: np.ndarray) -> np.ndarray:
        """Extra earned when all cohorts together reach ``overall_threshold`` (N,)."""
        a = self.dl.achieved[:, : last + 1, u, k].sum(axis=1)
        n = self.dl.enrolled[:, : last + 1, u].sum(axis=1)
        overall = o.model_copy(update={"threshold": o.overall_threshold, "overall_threshold": None})
        b = None
        if o.control_size is not None:  # all cohorts against all their control groups
            b = self.control_so_far[:, u, k] / max(1.0, self.control_people[u, k])
        return np.maximum(0.0, cohort_value(overall, a, n, b) - self.paid_so_far[:, u, k] - pay_now)


class CommissionerLedger:
    """Commissioners' dues and payments. ``step`` returns cash paid (N, C) and by unit (N, C, U)."""

    def __init__(self, s: Scenario, draws: Draws, n_paths: int):
        self.s, self.d = s, draws
        h = s.horizon
        self.T, self.ppy = h.n_periods, h.periods_per_year
        C, U = len(s.commissioners), n_units(s)
        self.share = np.array([[c.shares.get(o, 0.0) for o in s.outcome_names] for c in s.commissioners])  # (C, O)
        self.lag = np.array([h.to_periods(c.payment_lag) for c in s.commissioners])
        self.ring = int(self.lag.max()) + 1
        if any(c.budget_overflow == "carry" and c.annual_budget is not None for c in s.commissioners):
            self.ring = max(self.ring, self.ppy + 1)  # dues carried to next year's first period fit
        self.due = np.zeros((self.ring, n_paths, C, U))  # dues by the period they fall, mod ring
        self.annual = np.array([c.annual_budget if c.annual_budget is not None else np.inf for c in s.commissioners])
        self.total = np.array([c.total_cap if c.total_cap is not None else np.inf for c in s.commissioners])
        self.has_annual = bool(np.isfinite(self.annual).any())
        self.carry = np.array([c.budget_overflow == "carry" for c in s.commissioners])
        self.max_all = s.terms.max_outcome_payments  # all payers together, or None
        self.paid_year = np.zeros((n_paths, C))
        self.paid_total = np.zeros((n_paths, C))
        self.cap_hit = np.zeros((n_paths, C), dtype=bool)
        self.lost_to_caps = np.zeros((n_paths, C))
        self.lost_to_withdrawal = np.zeros((n_paths, C))
        self.due_after_horizon = np.zeros((n_paths, C))
        self.booked = np.zeros((n_paths, C))  # every due ever booked, for the conservation check
        # Periods whose payments are set from outside (reported data), not by the dues: the
        # difference (dues less payments) settles those dues, and payments can come until then.
        self.reported_until = 0
        self.replaced = np.zeros((n_paths, C))

    def add_earned(self, t: int, earned: np.ndarray, outcomes: list[int] | None = None) -> None:
        """Book money earned in period t (N, U, O) as dues at t + each commissioner's lag.
        ``outcomes``: the only outcomes with anything earned (default: all)."""
        ks = list(range(earned.shape[2])) if outcomes is None else sorted(outcomes)
        if not ks:
            return
        # Outcome by outcome in order, skipping those with nothing earned (adding 0 changes nothing).
        N, U = earned.shape[0], earned.shape[1]
        by_c = np.empty((N, self.share.shape[0], U))  # (N, C, U)
        ledger_kernels.book_dues.for_paths(N)(earned, self.share, np.array(ks, dtype=np.int64), by_c)
        self.booked += by_c.sum(axis=2)
        for c, lag in enumerate(self.lag):
            if t + lag >= self.T:
                self.due_after_horizon[:, c] += by_c[:, c].sum(axis=1)
            else:
                self.due[(t + lag) % self.ring, :, c] += by_c[:, c]

    def outstanding(self) -> np.ndarray:
        """(N, C) dues booked and not yet fallen due."""
        # Added slot by slot and unit by unit, so each path's sum is the same whatever the
        # number of paths (a multi-axis numpy sum may order the additions by the array's shape).
        out = np.zeros(self.due.shape[1:3])
        for slot in self.due:
            for u in range(slot.shape[2]):
                out += slot[:, :, u]
        return out

    def settled(self) -> np.ndarray:
        """(N, C) dues paid, lost to caps or withdrawal, due after the horizon, replaced by
        reported payments, or still owed: equal to ``booked`` when the ledger balances."""
        return ( self.paid_total + self.lost_to_caps + self.lost_to_withdrawal + self.due_after_horizon + self.replaced
            + self.outstanding()
        )

    def take_due(self, t: int) -> np.ndarray:
        """(N, C, U) dues falling in period t, removed from the book (the year's budget restarts
        at the start of each contract year)."""
        if t % self.ppy == 0:
            self.paid_year[:] = 0.0
        slot = t % self.ring
        due_cu = self.due[slot].copy()
        self.due[slot] = 0.0
        return due_cu

    def book_payment(self, pay: np.ndarray) -> None:
        """Count payments (N, C) towards annual budgets and total caps."""
        self.paid_year += pay
        self.paid_total += pay

    def step(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Pay the dues falling in period t within caps and budgets (compiled, path by path:
        :func:`cib_sim.engine.kernels.ledger.pay_dues`). Returns cash paid (N, C) and by unit
        (N, C, U)."""
        due_cu = self.take_due(t)
        N, C, U = due_cu.shape
        pay, pay_cu = np.empty((N, C)), np.empty((N, C, U))
        ledger_kernels.pay_dues.for_paths(N)(
            due_cu, t, self.total, self.annual, self.has_annual, self.d.withdraw_period,
            np.inf if self.max_all is None else float(self.max_all), self.carry,
            bool(self.has_annual and self.carry.any()), self.paid_year, self.paid_total, self.cap_hit,
            self.lost_to_caps, self.lost_to_withdrawal, self.due_after_horizon, self.due, self.ppy, self.T,
            pay, pay_cu)
        return pay, pay_cu


def split_payment(
    paid: np.ndarray, paid_by_unit: np.ndarray, weights: np.ndarray, outcome_share: np.ndarray, success_fee: float,
    intermediary_fee: float = 0.0,
) -> dict[str, np.ndarray]:
    """Where a period's outcome payments go: attributed to partners, their contingent shares,
    the backbone's fee, and the fund's income.

    ``paid`` (N, C) and ``paid_by_unit`` (N, C, U) currency; ``weights`` (U, P) from
    :func:`attribution_weights`; ``outcome_share`` (P,) each partner's contingent share;
    ``success_fee`` the backbone's share, ``intermediary_fee`` the intermediary's. Returns
    ``attributed``, ``partner_contingent`` (N, P), ``backbone_fee``, ``intermediary_fee`` (only
    if it is not nil) and ``income`` (N,).
    """
    paid_total = rowsum(paid)
    by_unit = paid_total[:, None] if paid_by_unit.shape[2] == 1 else rowsum(np.moveaxis(paid_by_unit, 1, 2))  # (N, U)
    attributed = dot_last(by_unit[:, None, :], weights.T[None, :, :])  # (N, P)
    contingent = attributed * outcome_share
    fee = paid_total * success_fee
    out = {"attributed": attributed, "partner_contingent": contingent, "backbone_fee": fee}
    if intermediary_fee:
        out["intermediary_fee"] = paid_total * intermediary_fee
        out["income"] = paid_total - rowsum(contingent) - fee - out["intermediary_fee"]
    else:
        out["income"] = paid_total - rowsum(contingent) - fee
    return out


def attribution_weights(s: Scenario) -> np.ndarray:
    """(U, P): how a unit's outcome payments are attributed to partners (rows sum to 1)."""
    P = len(s.partners)
    if s.delivery.model == "pipelines":
        return np.eye(P)
    d = s.delivery
    if d.attribution == "fixed":
        w = np.array([d.split.get(p.name, 0.0) for p in s.partners])
    elif d.attribution == "reach":
        w = np.array([p.reach for p in s.partners])
    else:
        w = np.array([p.reach * p.cost for p in s.partners])
        if w.sum() <= 0:  # no costs: fall back to reach rather than divide by zero
            w = np.array([p.reach for p in s.partners])
    return (w / w.sum())[None, :]
