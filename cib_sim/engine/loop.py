"""The period loop: the contract run on a set of paths, vectorised over paths.

    draws --deliver--> outcomes --pay--> payments --distribute--> flows --(sink)

:func:`run_paths` keeps the full period-by-period history (a few paths at a time: tests, the
reference model, learning); :func:`run_chunk` folds each period's flows as they are produced
(:class:`~cib_sim.engine.reduce.ChunkReducer`) into what :class:`~cib_sim.results.Results`
keeps, so a chunk's memory is a fraction of its history. Money conservation is checked period
by period on every path. Which paths run together, and from which seeds, is the run planner's
business (:mod:`cib_sim.run`), not this module's.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from cib_sim.engine.arrays import rowsum
from cib_sim.engine.conservation import ConservationCheck
from cib_sim.engine.delivery import (
    DeliveryState,
    counterfactual_outcomes,
    delivery_end_period,
    needs_counterfactual,
)
from cib_sim.engine.payments import (
    CommissionerLedger,
    RateCard,
    attribution_weights,
    split_payment,
)
from cib_sim.engine.reduce import ChunkReducer, ChunkResult, FlowHistory
from cib_sim.engine.sample import Draws
from cib_sim.engine.waterfall import Waterfall, split_excess, split_spending
from cib_sim.scenario import BreakClause, Scenario

CountMode = Literal["approx", "exact", "expected"]


def run_paths(
    s: Scenario,
    draws: Draws,
    mode: CountMode = "approx",
    delivery: DeliveryState | None = None,
    ledger: CommissionerLedger | None = None,
) -> dict[str, np.ndarray]:
    """Run the contract on the paths in ``draws``. Returns period-by-period flows, currency per
    period unless named a count. Shapes: N paths, T periods, U units, O outcomes, P partners,
    C commissioners, K capital tranches, G guarantees.

    enrolled, dropped (N,T,U), achieved (N,T,U,O) by enrolment period; earned (N,T,O) by verification;
    commissioner_paid (N,T,C); attributed (N,T,P); partner_upfront, partner_fixed,
    partner_contingent, partner_bonus (N,T,P); backbone_cost, backbone_fee (N,T); drawn, coupon,
    capital, upside, guarantee_received (N,T,K); guarantee_call (N,T,G); commissioner_rebate
    (N,T,C); excess (N,T); cash (N,T); funded (N,T) bool (delivery not yet stopped by a
    funding shortfall). Also per path: cap_hit, lost_to_caps,
    lost_to_withdrawal, due_after_horizon (N,C); stop_period (N,) (T: never stopped);
    earned_after_horizon (N,O): outcomes verified after the horizon, currency; with a count outcome
    or a drifting counterfactual, counterfactual (N,O): the outcomes (events) the enrolled would
    have had without the intervention.

    ``delivery``: an object with :class:`~cib_sim.engine.delivery.DeliveryState`'s interface to use
    instead of the aggregate one (the reference model plugs its participant-level simulation in
    here, so payments and the waterfall are written once). ``ledger``: likewise a
    :class:`~cib_sim.engine.payments.CommissionerLedger` (e.g. one that pays what was observed to be
    paid in periods already reported).
    """
    return _run(s, draws, mode, FlowHistory(s, draws.n_paths), delivery, ledger)


def run_chunk(
    s: Scenario, draws: Draws, mode: CountMode = "approx", keep: int = 0, block_sizes: list[int] | None = None,
    reducer: ChunkReducer | None = None,
) -> ChunkResult:
    """Run the contract on the paths in ``draws`` and reduce them as they run (see
    :class:`~cib_sim.engine.reduce.ChunkReducer`): what ``reduce_chunk(s, run_paths(...), keep,
    block_sizes)`` gives, without holding the full history. ``reducer``: a ChunkReducer (or a
    subclass that also keeps more, e.g. a portfolio's) to use instead of a new one."""
    return _run(s, draws, mode, reducer if reducer is not None else ChunkReducer(s, draws.n_paths, keep, block_sizes))


def _run(
    s: Scenario,
    draws: Draws,
    mode: CountMode,
    sink: FlowHistory | ChunkReducer,
    delivery: DeliveryState | None = None,
    ledger: CommissionerLedger | None = None,
):
    """The period loop: each period's flows go to ``sink`` (see :mod:`cib_sim.engine.reduce`), which
    also gives the return value."""
    if not s.uncertainty.enabled:
        mode = "expected"
    N, T = draws.n_paths, s.horizon.n_periods
    ppy = s.horizon.periods_per_year
    dl = delivery if delivery is not None else DeliveryState(s, draws, mode)
    card = RateCard(s, dl, draws, mode)
    ledger = ledger if ledger is not None else CommissionerLedger(s, draws, N)
    wf = Waterfall(s, N)
    W = attribution_weights(s)  # (U, P)
    out_share = np.array([p.contract.outcome_share for p in s.partners])
    backbone_pp = s.backbone.cost / ppy
    end_delivery = delivery_end_period(s)
    # After a funding stop, participants in service finish: costs can run this long.
    wind_down = int(max(max(1, s.horizon.to_periods(u.service_length)) for u in ([s.delivery] if s.delivery.model == "zone" else s.partners)))
    terms = s.terms
    to_commissioners = {"commissioners": 1.0, "partners": 0.0, "split": terms.excess_split}[terms.excess_to]
    check = ConservationCheck(N, wf.K, len(s.commissioners))

    reviews = break_reviews(s)
    stopped = np.zeros(N, dtype=bool)
    closed = np.zeros(N, dtype=bool)  # enrolment stopped by a break clause
    terminated = np.zeros(N, dtype=bool)  # delivery stopped by a break clause
    break_period = np.full(N, T, dtype=np.int64)
    ended = np.zeros(N, dtype=bool)  # the contract is over on this path: final distribution made
    stop_period = np.full(N, T, dtype=np.int64)
    cum_paid = np.zeros((N, len(s.commissioners)))
    cum_attr = np.zeros((N, len(s.partners)))

    for t in range(T):
        wf.accrue()
        # Costs come first in a period: delivery proposes, the fund decides what it can pay for
        # (from capital, and from income of earlier periods when recycling).
        halted = stopped | closed
        proposed = dl.propose(t, halted)
        upfront = dl.service_costs(t, proposed)
        fixed = dl.fixed_costs(t, halted)
        backbone = np.where(halted, 0.0, backbone_pp) if t < end_delivery else np.zeros(N)
        # Participants already in service are committed costs; new enrolments are optional.
        committed = dl.service_costs(t, np.zeros_like(proposed))
        if terminated.any():  # delivery stopped by a break clause: nobody is served or paid for
            upfront = np.where(terminated[:, None], 0.0, upfront)
            committed = np.where(terminated[:, None], 0.0, committed)
        fixed_total = rowsum(fixed) + backbone
        needed_fixed = fixed_total + rowsum(committed)
        needed_full = fixed_total + rowsum(upfront)
        funded, spent, drawn = wf.fund(needed_full, needed_fixed)
        if not funded.all():
            stop_period[~funded & ~stopped] = t
            stopped |= ~funded
        dl.commit(t, funded)
        card.note_enrolment(t)
        row: dict[str, np.ndarray] = {"drawn": drawn}
        row.update(split_spending(funded, spent, needed_fixed, upfront, committed, fixed, backbone))

        # Then outcomes verified this period (this period's cohort too, when the lag is nil)
        # become dues, and dues falling now are paid within caps.
        earned = card.earned(t)
        if earned is not None:
            row["earned"] = earned.sum(axis=1)
            ledger.add_earned(t, earned, card.outcomes_earned)
        paid, paid_cu = ledger.step(t)
        split = split_payment(paid, paid_cu, W, out_share, s.backbone.success_fee, terms.intermediary_fee)
        wf.receive(split["income"])
        cum_paid += paid
        cum_attr += split["attributed"]
        row.update(commissioner_paid=paid, **split)

        # Break clauses at their review dates: stop enrolment, or the contract's delivery.
        for b, period in reviews:
            if period == t:
                hit = ~(closed | terminated | stopped) & (break_measure(s, b, t, card, dl) < b.trigger)
                break_period[hit] = t
                closed |= hit
                if b.action == "stop_contract":
                    terminated |= hit
                    wf.cancel_undrawn(hit)

        # The contract ends on a path at the horizon, or once delivery is over for good (ended,
        # or stopped and wound down) and nothing more can be earned or paid.
        last = t == T - 1
        halted_at = np.minimum(stop_period, break_period)
        wound = np.where(terminated, 0, wind_down)
        ending = _ending(t, last, end_delivery, stopped | closed, halted_at, wound, card, ledger) & ~ended
        due_date = {"period": True, "year": (t + 1) % ppy == 0, "end": False}[terms.distribution_frequency]
        due = due_date and (not terms.recycling or t >= end_delivery)
        if due or ending.any():
            d = wf.distribute(final=ending | ended | (t >= end_delivery), paying=ending | due)
            rebate, bonus = split_excess(d["excess"], to_commissioners, cum_paid, cum_attr)
            row.update(coupon=d["coupon"], capital=d["capital"], upside=d["upside"], excess=d["excess"],
                       commissioner_rebate=rebate, partner_bonus=bonus)
            if wf.fee_amount.size:
                row["deferred_fee"] = d["deferred_fee"]
        if ending.any() and wf.guar_amount.size:
            calls, received = wf.call_guarantees(ending)
            row.update(guarantee_call=calls, guarantee_received=received)
        ended |= ending
        row["cash"] = wf.cash
        row["funded"] = ~stopped

        # Every unit that came in (outcome payments, capital, guarantee calls) was paid out or is
        # held, for the fund and for the whole contract, on every path.
        check.period(wf.cash, row)
        sink.record(t, row)

    # Outcomes verified after the horizon are owed but never paid within it: record them.
    earned_after = np.zeros((N, len(s.outcomes)))
    for t in range(T, T + card.max_lag + 1):
        late = card.earned(t)
        if late is not None:
            earned_after += late.sum(axis=1)
            ledger.add_earned(t, late, card.outcomes_earned)
    check.finish()
    check.tranches(wf.commitment, wf.accrued, wf.guar_used, wf.guar_amount)
    check.payers(ledger.booked, ledger.settled(), ledger.total)
    per_path = {
        "cap_hit": ledger.cap_hit, "lost_to_caps": ledger.lost_to_caps, "lost_to_withdrawal": ledger.lost_to_withdrawal,
        "due_after_horizon": ledger.due_after_horizon, "stop_period": stop_period, "earned_after_horizon": earned_after,
        "dropped": dl.dropped, "break_period": break_period,
    }
    if needs_counterfactual(s, draws):
        per_path["counterfactual"] = counterfactual_outcomes(s, draws.drift, dl.enrolled)
    return sink.finish(dl.enrolled, dl.achieved, per_path)


def break_reviews(s: Scenario) -> list[tuple[BreakClause, int]]:
    """Each break clause with the period of its review."""
    return [(b, s.horizon.to_periods(b.at)) for b in s.breaks]


def break_measure(s: Scenario, b: BreakClause, t: int, card: RateCard, dl: DeliveryState) -> np.ndarray:
    """(N,) the result a break clause measures at the review in period t: outcome payments earned
    so far (currency), or the achievement rate of the cohorts verified by t."""
    if b.measure == "earned":
        earned = card.earned_so_far()  # (N, O)
        return earned.sum(axis=1) if b.outcome is None else earned[:, s.outcome_names.index(b.outcome)]
    k = s.outcome_names.index(b.outcome)
    lag = s.horizon.to_periods(s.outcomes[k].lag)
    last = t - lag  # cohorts enrolled up to here are verified by t
    if last < 0:
        return np.zeros(dl.enrolled.shape[0])
    achieved = dl.achieved[:, : last + 1, :, k].sum(axis=(1, 2))
    enrolled = dl.enrolled[:, : last + 1, :].sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(enrolled > 0, achieved / np.where(enrolled > 0, enrolled, 1.0), 0.0)


def _ending(
    t: int, last: bool, end_delivery: int, stopped: np.ndarray, stop_period: np.ndarray, wind_down: int | np.ndarray,
    card: RateCard, ledger: CommissionerLedger,
) -> np.ndarray:
    """(N,) paths on which the contract ends in period t: the horizon's last period, or delivery
    over for good (past its end, or stopped ``wind_down`` periods ago) with no cohort still to be
    verified and no dues still to fall."""
    N = stopped.shape[0]
    if last:
        return np.ones(N, dtype=bool)
    over = (t >= end_delivery - 1) | (stopped & (t >= stop_period + wind_down))
    if not over.any():
        return over
    if t < ledger.reported_until - 1:  # reported payments may still come
        return np.zeros(N, dtype=bool)
    return over & (card.last_verification() <= t) & (rowsum(ledger.outstanding()) <= 0.0)
