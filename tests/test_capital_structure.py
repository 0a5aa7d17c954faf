"""Capital structure, payer budgets and break clauses, each against a hand calculation.

``scenario_builders.base_dict`` (uncertainty off): 10 participants enrol in each of years 0 and 1
at GBP 500 each (GBP 5,000 of costs a year), 5 of each cohort achieve the outcome, verified a year
after enrolment and paid at ``price`` (GBP 1,000) each: 5,000 in each of years 1 and 2.
"""

from __future__ import annotations

import numpy as np
import pytest
from scenario_builders import make_scenario, run

from cib_sim import simulate
from cib_sim.scenario import ScenarioError


def col(f, name, j=0):
    a = f[name][0]
    return a if a.ndim == 1 else a.reshape(a.shape[0], -1)[:, j]


def got(f, k):
    return sum(col(f, n, k).sum() for n in ("coupon", "capital", "upside"))


TWO = [{"name": "S", "commitment": 6000.0}, {"name": "J", "kind": "subordinated", "commitment": 4000.0}]


# --- pari passu, draw order ------------------------------------------------------------------


def test_pari_passu_tranches_share_a_shortfall_pro_rata():
    # Price 600: 3,000 in years 1 and 2 against 10,000 drawn. A and B rank together (6,000 and
    # 4,000 drawn): each gets 60% / 40% of the 6,000 that comes in, and both lose 40%.
    f = run(make_scenario(**{"outcomes[0].price": 600.0, "tranches": [
        {"name": "A", "commitment": 6000.0, "rank": 1}, {"name": "B", "commitment": 4000.0, "rank": 1}]}))
    assert got(f, 0) == pytest.approx(3600) and got(f, 1) == pytest.approx(2400)


@pytest.mark.parametrize("order, s_draws, j_draws", [
    ("pro_rata", [3000, 3000], [2000, 2000]),
    ("senior_first", [5000, 1000], [0, 4000]),
    ("junior_first", [1000, 5000], [4000, 0]),
    ("upfront", [6000, 0], [4000, 0]),
])
def test_draw_order(order, s_draws, j_draws):
    f = run(make_scenario(tranches=TWO, terms={"draw_order": order}))
    np.testing.assert_allclose(col(f, "drawn", 0)[:2], s_draws)
    np.testing.assert_allclose(col(f, "drawn", 1)[:2], j_draws)
    # Income (10,000) covers all capital: everyone is repaid in full.
    assert got(f, 0) == pytest.approx(6000) and got(f, 1) == pytest.approx(4000)


def test_capital_called_up_front_and_not_spent_goes_back_pro_rata():
    # 20,000 committed up front (S 12,000, J 8,000), 10,000 spent; outcomes pay nothing (price 0).
    # At the end the 10,000 unspent goes back 60/40: S loses 6,000, J 4,000.
    f = run(make_scenario(**{"outcomes[0].price": 0.0, "tranches": [
        {"name": "S", "commitment": 12000.0}, {"name": "J", "kind": "subordinated", "commitment": 8000.0}],
        "terms": {"draw_order": "upfront"}}))
    assert col(f, "drawn", 0)[0] == 12000 and col(f, "drawn", 1)[0] == 8000
    assert got(f, 0) == pytest.approx(6000) and got(f, 1) == pytest.approx(4000)


# --- deferred fees, recoverable grants, intermediary fee ------------------------------------


def test_deferred_fee_is_paid_behind_its_tranche_and_before_the_junior():
    # Price 1,100: 5,500 in years 1 and 2 (11,000). S 6,000 and J 4,000 are drawn in full by
    # year 1. Year 1: S gets 5,500. Year 2: S its last 500, then the fee behind S (800), then J
    # 4,000; the last 200 is J's upside.
    f = run(make_scenario(**{"outcomes[0].price": 1100.0, "tranches": TWO,
                             "terms": {"deferred_fees": [{"name": "margin", "amount": 800.0, "behind": "S"}]}}))
    np.testing.assert_allclose(col(f, "deferred_fee")[:3], [0, 0, 800])
    np.testing.assert_allclose(col(f, "capital", 0)[:3], [0, 5500, 500])
    np.testing.assert_allclose(col(f, "capital", 1)[:3], [0, 0, 4000])
    assert col(f, "upside", 1).sum() == pytest.approx(200)


def test_deferred_fee_waits_when_income_falls_short():
    f = run(make_scenario(**{"outcomes[0].price": 600.0, "tranches": TWO,
                             "terms": {"deferred_fees": [{"name": "margin", "amount": 800.0, "behind": "S"}]}}))
    assert col(f, "deferred_fee").sum() == 0.0  # S gets all 6,000; nothing left for the fee or J
    r = simulate(make_scenario(**{"outcomes[0].price": 600.0, "tranches": TWO,
                                  "terms": {"deferred_fees": [{"name": "margin", "amount": 800.0, "behind": "S"}]}}), 4, seed=1)
    assert r.metric("deferred_fee", "margin", "prob_paid_in_full") == 0.0


def test_recoverable_grant_is_repaid_without_return_in_its_rank():
    f = run(make_scenario(**{"outcomes[0].price": 1500.0, "tranches": [
        {"name": "S", "commitment": 6000.0}, {"name": "RG", "kind": "recoverable_grant", "commitment": 4000.0}]}))
    assert got(f, 1) == pytest.approx(4000)  # repaid, but no upside from the 5,000 excess
    assert col(f, "excess").sum() == pytest.approx(5000)


def test_intermediary_fee_is_a_share_of_each_outcome_payment():
    f = run(make_scenario(terms={"intermediary_fee": 0.1}))
    np.testing.assert_allclose(col(f, "intermediary_fee")[:3], [0, 500, 500])
    np.testing.assert_allclose(col(f, "income")[:3], [0, 4500, 4500])


# --- guarantees and caps ---------------------------------------------------------------------


def test_guarantee_sized_as_a_share_of_drawn_capital():
    # Loss 4,000 on 10,000 drawn (price 600); a guarantee of 10,000 covering 25% of capital drawn
    # pays 2,500.
    f = run(make_scenario(**{"outcomes[0].price": 600.0, "tranches": [
        {"name": "S", "commitment": 10000.0},
        {"name": "G", "kind": "guarantee", "commitment": 10000.0, "covers": "S", "share_of_drawn": 0.25}]}))
    assert col(f, "guarantee_call").sum() == pytest.approx(2500)


def test_cap_multiple_on_capital_committed():
    # J commits 8,000 but only 4,000 is drawn (costs 10,000 of 20,000 committed); price 2,000
    # pays 20,000. Capped at 1.2x drawn J could get 4,800; at 1.2x committed, 9,600.
    tr = [{"name": "S", "commitment": 12000.0, "cap_multiple": 1.0},
          {"name": "J", "kind": "subordinated", "commitment": 8000.0, "cap_multiple": 1.2}]
    drawn_basis = run(make_scenario(**{"outcomes[0].price": 2000.0, "tranches": tr}))
    tr[1]["cap_basis"] = "committed"
    committed_basis = run(make_scenario(**{"outcomes[0].price": 2000.0, "tranches": tr}))
    assert got(drawn_basis, 1) == pytest.approx(4800)
    assert got(committed_basis, 1) == pytest.approx(9600)


# --- payers: the contract's cap, budgets carried forward ------------------------------------


def test_max_outcome_payments_caps_all_payers_together_pro_rata():
    # Two payers share each outcome 50/50; all payments capped at 7,000: year 1 pays 5,000
    # (2,500 each), year 2 only 2,000 (1,000 each).
    f = run(make_scenario(commissioners=[{"name": "A", "shares": {"job": 0.5}}, {"name": "B", "shares": {"job": 0.5}}],
                          terms={"max_outcome_payments": 7000.0}))
    np.testing.assert_allclose(col(f, "commissioner_paid", 0)[:3], [0, 2500, 1000])
    np.testing.assert_allclose(col(f, "commissioner_paid", 1)[:3], [0, 2500, 1000])
    assert f["lost_to_caps"][0].sum() == pytest.approx(3000)


@pytest.mark.parametrize("overflow, paid, lost", [("lost", [0, 3000, 3000, 0, 0], 4000), ("carry", [0, 3000, 3000, 3000, 1000], 0)])
def test_annual_budget_overflow_lost_or_carried(overflow, paid, lost):
    # 5,000 due in years 1 and 2 against a budget of 3,000 a year.
    f = run(make_scenario(**{"commissioners[0].annual_budget": 3000.0, "commissioners[0].budget_overflow": overflow}))
    np.testing.assert_allclose(col(f, "commissioner_paid"), paid)
    assert f["lost_to_caps"][0, 0] == pytest.approx(lost)


# --- break clauses ---------------------------------------------------------------------------


def _with_break(**b):
    # Enrolment for four years (10 a year), outcomes verified a year later.
    return make_scenario(**{"partners[0].enrolment_end": 4.0, "breaks": [{"at": 2.0, **b}]})


def test_break_not_triggered_changes_nothing():
    base = run(make_scenario(**{"partners[0].enrolment_end": 4.0}))
    f = run(_with_break(measure="earned", trigger=10000.0))  # 10,000 earned by year 2: not below
    np.testing.assert_allclose(col(f, "enrolled"), col(base, "enrolled"))
    assert f["break_period"][0] == 5


def test_break_stop_enrolment():
    # By the review in year 2, 10,000 has been earned (years 1 and 2), below a trigger of 12,000:
    # no one enrols from year 3; the year-2 cohort is still verified and paid in year 3.
    f = run(_with_break(measure="earned", trigger=12000.0, action="stop_enrolment"))
    np.testing.assert_allclose(col(f, "enrolled"), [10, 10, 10, 0, 0])
    np.testing.assert_allclose(col(f, "commissioner_paid"), [0, 5000, 5000, 5000, 0])
    assert f["break_period"][0] == 2


def test_break_stop_contract_cancels_the_rest():
    # Achievement rate of verified cohorts 50% against a trigger of 60%: the contract stops in
    # year 2: no more costs after that year's (already committed), undrawn capital cancelled,
    # the year-2 cohort's outcomes still paid in year 3, then the final distribution.
    f = run(_with_break(measure="achievement_rate", outcome="job", trigger=0.6, action="stop_contract"))
    np.testing.assert_allclose(col(f, "enrolled"), [10, 10, 10, 0, 0])
    np.testing.assert_allclose(col(f, "drawn")[3:], [0, 0])
    np.testing.assert_allclose(col(f, "partner_upfront")[3:], [0, 0])
    np.testing.assert_allclose(col(f, "commissioner_paid"), [0, 5000, 5000, 5000, 0])


def test_break_clause_validation():
    with pytest.raises(ScenarioError) as exc:
        make_scenario(breaks=[{"at": 9.0, "measure": "achievement_rate", "trigger": 2.0}])
    paths = {p for p, _ in exc.value.errors}
    assert {"breaks[0].at", "breaks[0].outcome", "breaks[0].trigger"} <= paths


def test_capital_structure_validation():
    with pytest.raises(ScenarioError) as exc:
        make_scenario(tranches=[{"name": "S", "commitment": 1.0, "rank": 1}, {"name": "J", "commitment": 1.0},
                                {"name": "G", "kind": "guarantee", "commitment": 1.0, "covers": "S", "rank": 2}],
                      terms={"deferred_fees": [{"name": "f", "amount": 1.0, "behind": "X"}]})
    paths = {p for p, _ in exc.value.errors}
    assert {"tranches", "tranches[2].rank", "terms.deferred_fees[0].behind"} <= paths


def test_break_clauses_apply_in_the_reference_model():
    """The participant-level model runs through the same loop: a triggered stop_contract ends
    enrolment and costs there too."""
    from cib_sim.reference.des import simulate_des

    s = _with_break(measure="earned", trigger=1e12, action="stop_contract")  # always below the trigger
    r = simulate_des(s, n_paths=3, seed=2, keep_paths=3)
    assert (r.path.column("break_period") == 2).all()
    assert r.kept["enrolled"][:, 3:].sum() == 0
    assert r.kept["drawn"][:, 3:].sum() == 0
    assert r.kept["enrolled"][:, :3].sum() > 0
