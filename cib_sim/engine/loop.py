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

from cib_sim.engine.arrays import dot_last, rowsum
from cib_sim.engine.delivery import DeliveryState, delivery_end_period
from cib_sim.engine.payments import CommissionerLedger, RateCard, attribution_weights
from cib_sim.engine.reduce import ChunkReducer, ChunkResult, FlowHistory
from cib_sim.engine.sample import Draws
from cib_sim.engine.waterfall import ConservationCheck, Waterfall
from cib_sim.scenario import Scenario

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
    earned_after_horizon (N,O): outcomes verified after the horizon, currency.

    ``delivery``: an object with :class:`~cib_sim.engine.delivery.DeliveryState`'s interface to use
    instead of the aggregate one (the reference model plugs its participant-level simulation in
    here, so payments and the waterfall are written once). ``ledger``: likewise a
    :class:`~cib_sim.engine.payments.CommissionerLedger` (e.g. one that pays what was observed to be
    paid in periods already reported).
    """
    return _run(s, draws, mode, FlowHistory(s, draws.n_paths), delivery, ledger)


def run_chunk(s: Scenario, draws: Draws, mode: CountMode = "approx", keep: int = 0, block_sizes: list[int] | None = None) -> ChunkResult:
    """Run the contract on the paths in ``draws`` and reduce them as they run (see
    :class:`~cib_sim.engine.reduce.ChunkReducer`): what ``reduce_chunk(s, run_paths(...), keep,
    block_sizes)`` gives, without holding the full history."""
    return _run(s, draws, mode, ChunkReducer(s, draws.n_paths, keep, block_sizes))


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
    C = len(s.commissioners)
    ppy = s.horizon.periods_per_year
    dl = delivery if delivery is not None else DeliveryState(s, draws, mode)
    card = RateCard(s, dl)
    ledger = ledger if ledger is not None else CommissionerLedger(s, draws, N)
    wf = Waterfall(s, N)
    G = len(wf.guar_amount)
    W = attribution_weights(s)  # (U, P)
    out_share = np.array([p.contract.outcome_share for p in s.partners])
    fee = s.backbone.success_fee
    backbone_pp = s.backbone.cost / ppy
    end_delivery = delivery_end_period(s)
    terms = s.terms
    check = ConservationCheck(N)

    stopped = np.zeros(N, dtype=bool)
    stop_period = np.full(N, T, dtype=np.int64)
    cum_paid = np.zeros((N, C))
    cum_attr = np.zeros((N, len(s.partners)))

    for t in range(T):
        wf.accrue()
        # Costs come first in a period: delivery proposes, the fund decides what it can pay for
        # (from capital, and from income of earlier periods when recycling).
        proposed = dl.propose(t, stopped)
        upfront = dl.service_costs(t, proposed)
        fixed = dl.fixed_costs(t, stopped)
        backbone = np.where(stopped, 0.0, backbone_pp) if t < end_delivery else np.zeros(N)
        # Participants already in service are committed costs; new enrolments are optional.
        committed = dl.service_costs(t, np.zeros_like(proposed))
        fixed_total = rowsum(fixed) + backbone
        needed_fixed = fixed_total + rowsum(committed)
        needed_full = fixed_total + rowsum(upfront)
        funded, spent, drawn = wf.fund(needed_full, needed_fixed)
        all_funded = bool(funded.all())
        if not all_funded:
            stop_period[~funded & ~stopped] = t
            stopped |= ~funded
        dl.commit(t, funded)
        row: dict[str, np.ndarray] = {"drawn": drawn}
        if all_funded:
            row.update(partner_upfront=upfront, partner_fixed=fixed, backbone_cost=backbone)
        else:
            # Split what was spent across its uses; when short, committed costs are paid pro rata.
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = np.where(funded, 1.0, np.where(needed_fixed > 0, spent / np.where(needed_fixed > 0, needed_fixed, 1.0), 0.0))
            row.update(
                partner_upfront=np.where(funded[:, None], upfront, committed * scale[:, None]),
                partner_fixed=fixed * scale[:, None], backbone_cost=backbone * scale,
            )

        # Then outcomes verified this period (this period's cohort too, when the lag is nil)
        # become dues, and dues falling now are paid within caps.
        earned = card.earned(t)
        if earned is not None:
            row["earned"] = earned.sum(axis=1)
            ledger.add_earned(t, earned, card.outcomes_earned)
        paid, paid_cu = ledger.step(t)
        paid_total = rowsum(paid)
        by_unit = paid_total[:, None] if paid_cu.shape[2] == 1 else rowsum(np.moveaxis(paid_cu, 1, 2))  # (N, U)
        attributed = dot_last(by_unit[:, None, :], W.T[None, :, :])  # (N, P)
        contingent = attributed * out_share
        backbone_fee = paid_total * fee
        income = paid_total - rowsum(contingent) - backbone_fee
        wf.receive(income)
        cum_paid += paid
        cum_attr += attributed
        row.update(commissioner_paid=paid, attributed=attributed, partner_contingent=contingent, backbone_fee=backbone_fee, income=income)

        last = t == T - 1
        due_date = {"period": True, "year": (t + 1) % ppy == 0, "end": False}[terms.distribution_frequency]
        distributed = excess = rebate = bonus = 0.0
        if last or (due_date and (not terms.recycling or t >= end_delivery)):
            d = wf.distribute(final_phase=last or t >= end_delivery)
            row.update(coupon=d["coupon"], capital=d["capital"], upside=d["upside"])
            excess = d["excess"]
            to_comm = {"commissioners": 1.0, "partners": 0.0, "split": terms.excess_split}[terms.excess_to]
            rebate = _pro_rata(excess * to_comm, cum_paid)
            bonus = _pro_rata(excess * (1 - to_comm), cum_attr)
            # With nobody to rebate to (no payer paid, no partner attributed), it goes to the payers.
            leftover = excess - rowsum(rebate) - rowsum(bonus)
            rebate += _pro_rata(leftover, np.ones((N, C)))
            row.update(commissioner_rebate=rebate, partner_bonus=bonus, excess=excess)
            distributed = rowsum(d["coupon"] + d["capital"] + d["upside"])
            rebate, bonus = rowsum(rebate), rowsum(bonus)
        guarantee_in = guarantee_out = 0.0
        if last and G:
            calls, received = wf.call_guarantees()
            row.update(guarantee_call=calls, guarantee_received=received)
            guarantee_in, guarantee_out = rowsum(calls), rowsum(received)
        row["cash"] = wf.cash
        row["funded"] = ~stopped

        # Money conservation, for the fund and for the whole contract: every unit that came in
        # (outcome payments, capital, guarantee calls) was paid out or is held.
        drawn_total = rowsum(drawn)
        spent_total = rowsum(row["partner_upfront"]) + rowsum(row["partner_fixed"]) + row["backbone_cost"]
        check.period(
            wf.cash,
            (income + drawn_total, spent_total + distributed + excess),
            (
                paid_total + drawn_total + guarantee_in,
                spent_total + rowsum(contingent) + backbone_fee + distributed + guarantee_out + rebate + bonus,
            ),
        )
        sink.record(t, row)

    # Outcomes verified after the horizon are owed but never paid within it: record them.
    earned_after = np.zeros((N, len(s.outcomes)))
    for t in range(T, T + card.max_lag + 1):
        late = card.earned(t)
        if late is not None:
            earned_after += late.sum(axis=1)
            ledger.add_earned(t, late, card.outcomes_earned)
    scale = sum(t.commitment for t in s.tranches) + float(rowsum(cum_paid).max(initial=0.0))
    check.finish(scale)
    per_path = {
        "cap_hit": ledger.cap_hit, "lost_to_caps": ledger.lost_to_caps, "lost_to_withdrawal": ledger.lost_to_withdrawal,
        "due_after_horizon": ledger.due_after_horizon, "stop_period": stop_period, "earned_after_horizon": earned_after,
        "dropped": dl.dropped,
    }
    return sink.finish(dl.enrolled, dl.achieved, per_path)


def _pro_rata(amount: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split ``amount`` (N,) over columns in proportion to ``weights`` (N, M) (0 if all zero)."""
    tot = rowsum(weights)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tot > 0, amount[:, None] * weights / np.where(tot > 0, tot, 1.0), 0.0)
