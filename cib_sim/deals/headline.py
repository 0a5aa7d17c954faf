"""A scenario's headline terms: the measures on which real deals are compared.

Capital, maximum outcome payment, participants, duration of service and maximum return, keyed as
:data:`cib_sim.deals.indigo.HEADLINE_KEYS` (the same keys as :func:`cib_sim.deals.deal_terms`
gives for a real project). Participants come from one run of the engine with every uncertainty
at its mean, so this module sits above the engine, and the scenario model knows nothing of it.
"""

from __future__ import annotations

import math
from typing import Any

from cib_sim.engine import run_paths
from cib_sim.engine.cohorts import cohort_clocks
from cib_sim.engine.sample import sample_block
from cib_sim.run.plan import block_seeds
from cib_sim.scenario import Outcome, Scenario


def expected_participants(s: Scenario) -> float:
    """Participants enrolled over the contract with every uncertainty at its mean (the engine run
    once in ``expected`` mode: referrals, capacity, waiting lists and windows). A count."""
    calm = s.model_copy(update={"uncertainty": s.uncertainty.model_copy(update={"enabled": False})})
    flows = run_paths(calm, sample_block(calm, block_seeds(0, 1)[0], 1), "expected")
    return float(flows["enrolled"].sum())


def max_outcome_payment(s: Scenario, participants: float) -> float:
    """The most the payers can pay, in the scenario's currency: the sum of their total caps when
    every payer has one, else every participant achieving every outcome at its top price (count
    outcomes: avoiding every baseline event), plus every lump sum at its top step (the funded
    share of it); never above the contract's cap on all payments together."""
    cap_all = s.terms.max_outcome_payments if s.terms.max_outcome_payments is not None else math.inf
    caps = [c.total_cap for c in s.commissioners]
    if all(c is not None for c in caps):
        return float(min(sum(caps), cap_all))  # type: ignore[arg-type]
    unfunded = s.unfunded_shares()
    per_person = sum(o.top_price * (1 - unfunded.get(o.name, 0.0)) for o in s.outcomes if o.payment_basis != "lump_sum")
    lump = sum(_most_in_lump_sums(s, o) * (1 - unfunded.get(o.name, 0.0)) for o in s.outcomes if o.payment_basis == "lump_sum")
    return float(min(per_person * participants + lump, cap_all))


def _most_in_lump_sums(s: Scenario, o: Outcome) -> float:
    """The most a ``lump_sum`` outcome can pay: its top step once for the programme, or once per
    assessment cohort of each delivery unit (:mod:`cib_sim.engine.cohorts`)."""
    top = max(step.amount for step in o.schedule)
    if o.schedule_per == "programme":
        return top
    k = s.outcome_names.index(o.name)
    return top * sum(len(clock.bounds()) for clock in cohort_clocks(s)[k])


def headline_terms(s: Scenario) -> dict[str, Any]:
    """Capital (currency), maximum outcome payment (currency), their ratio, participants,
    capital per participant (currency), duration of service (years), maximum return (IRR cap
    per year) and the currency code."""
    capital = sum(t.commitment for t in s.capital_tranches)
    participants = expected_participants(s)
    max_pay = max_outcome_payment(s, participants)
    irr_caps = [t.cap_irr for t in s.capital_tranches if t.cap_irr is not None]
    return {
        "capital": capital,
        "max_outcome_payment": max_pay,
        "outcome_to_capital": max_pay / capital if capital else math.nan,
        "participants": participants,
        "capital_per_participant": capital / participants if participants else math.nan,
        "duration_years": s.service_years(),
        "max_return": max(irr_caps) if irr_caps else math.nan,
        "currency": s.currency,
    }
