"""Assessment cohorts counted from each unit's enrolment start (or from the contract start).

Hand case: six yearly periods; the partner enrols 10 a year in years 1 to 4 (``enrolment_start``
1, ``enrolment_end`` 5); two-year cohorts; a lump sum of 5,000 per cohort whose improvement
reaches 1.4 (every cohort improves by (0.5 - 0.2) / 0.2 = 1.5), verified a year after the cohort
closes.

- counted from enrolment start: cohorts of years 1-2 and 3-4, verified in years 3 and 5;
- counted from the contract start: years 0-1 (only year 1 enrols), 2-3 and 4, verified in years
  2, 4 and 5 (the last cohort is cut at the last enrolment).
"""

from __future__ import annotations

import numpy as np
import pytest
from scenario_builders import make_scenario, run

from cib_sim.deals.headline import max_outcome_payment
from cib_sim.engine.cohorts import CohortClock, cohort_clocks
from cib_sim.learning.events import path_events
from cib_sim.learning.observed import verification_period
from cib_sim.reference.des import contract_payments, run_block
from cib_sim.scenario import ScenarioError

STEPS = [{"min_improvement": 0.5, "amount": 3000.0}, {"min_improvement": 1.4, "amount": 5000.0}]


def scenario(cohorts_from: str | None = None):
    o = {"outcomes[0].payment_basis": "lump_sum", "outcomes[0].schedule": STEPS, "outcomes[0].cohort_years": 2.0}
    if cohorts_from is not None:
        o["outcomes[0].cohorts_from"] = cohorts_from
    return make_scenario(horizon={"years": 6}, **{"partners[0].enrolment_start": 1.0, "partners[0].enrolment_end": 5.0}, **o)


EXPECTED = {
    "enrolment_start": [0, 0, 0, 5000, 0, 5000],
    "contract_start": [0, 0, 5000, 0, 5000, 5000],
}


@pytest.mark.parametrize("cohorts_from", ["enrolment_start", "contract_start"])
def test_lump_sums_follow_the_cohorts(cohorts_from):
    f = run(scenario(cohorts_from))
    np.testing.assert_allclose(f["earned"][0, :, 0], EXPECTED[cohorts_from])


def test_cohorts_are_counted_from_enrolment_start_by_default():
    f = run(scenario())
    np.testing.assert_allclose(f["earned"][0, :, 0], EXPECTED["enrolment_start"])


@pytest.mark.parametrize("cohorts_from, most", [("enrolment_start", 10_000.0), ("contract_start", 15_000.0)])
def test_headline_maximum_counts_the_same_cohorts(cohorts_from, most):
    s = scenario(cohorts_from)
    assert max_outcome_payment(s, 40.0) == most


@pytest.mark.parametrize("cohorts_from, verified", [("enrolment_start", [3, 3, 5, 5]), ("contract_start", [2, 4, 4, 5])])
def test_learning_verifies_each_enrolment_year_with_its_cohort(cohorts_from, verified):
    s = scenario(cohorts_from)
    assert [verification_period(s, 0, t, 0) for t in (1, 2, 3, 4)] == verified


@pytest.mark.parametrize("cohorts_from, labels", [
    ("enrolment_start", ["cohort 1 (periods 1-2)", "cohort 2 (periods 3-4)"]),
    ("contract_start", ["cohort 1 (periods 1-1)", "cohort 2 (periods 2-3)", "cohort 3 (periods 4-4)"]),
])
def test_early_warning_events_name_the_same_cohorts(cohorts_from, labels):
    s = scenario(cohorts_from)
    cols = list(path_events(s, run(s)).columns)
    for label in labels:
        assert any(label in c for c in cols), (label, cols)
    assert sum("step" in c for c in cols) == 2 * len(labels)  # two steps per cohort


@pytest.mark.parametrize("cohorts_from", ["enrolment_start", "contract_start"])
def test_reference_model_writes_the_same_cohorts(cohorts_from):
    """The reference model's plain loops (written separately from the engine's clock) agree,
    with uncertainty on, path by path."""
    s = scenario(cohorts_from)
    s = s.model_copy(update={"uncertainty": s.uncertainty.model_copy(update={"enabled": True})})
    flows, dl = run_block(s, np.random.SeedSequence(3), 8)
    for n in range(8):
        acc = contract_payments(s, dl.enrolled[n], dl.achieved[n], dl.draws.withdraw_period[n], dl.draws, n)
        np.testing.assert_allclose(acc.earned, flows["earned"][n], rtol=0, atol=1e-9)
        firsts = sorted({c["first"] for c in acc.cohorts})
        assert firsts == ([1, 3] if cohorts_from == "enrolment_start" else [1, 2, 4])


def test_clock_bounds_and_closes():
    from_start = CohortClock(group=8, origin=1, start=1, end=20)
    assert from_start.bounds() == [(1, 8), (9, 16), (17, 19)]
    assert [t for t in range(25) if from_start.closes_at(t)] == [8, 16, 19]
    assert from_start.first(12) == 9
    np.testing.assert_array_equal(from_start.close(np.array([1, 8, 9, 18])), [8, 8, 16, 19])
    from_contract = CohortClock(group=8, origin=0, start=1, end=20)
    assert from_contract.bounds() == [(1, 7), (8, 15), (16, 19)]
    assert from_contract.first(3) == 1  # the cohort's periods before the start hold no one


def test_each_partner_counts_from_its_own_start():
    s = scenario()
    late = {**s.partners[0].model_dump(), "name": "Q", "enrolment_start": 2.0}
    s = make_scenario(horizon={"years": 6}, partners=[s.partners[0].model_dump(), late],
                      **{"outcomes[0].cohort_years": 2.0, "partners[0].enrolment_start": 1.0, "partners[0].enrolment_end": 5.0,
                         "partners[1].enrolment_end": 5.0})
    clocks = cohort_clocks(s)[0]
    assert clocks[0].bounds() == [(1, 2), (3, 4)]
    assert clocks[1].bounds() == [(2, 3), (4, 4)]


def test_cohorts_from_is_validated():
    with pytest.raises(ScenarioError) as exc:
        scenario("first_referral")
    assert any("outcomes[0].cohorts_from" in where for where, _ in exc.value.errors)

