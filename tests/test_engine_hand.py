"""Hand-computed cases: uncertainty off, so every count is its expectation and the engine is a
deterministic function a calculator can check.

The base scenario (``scenario_builders.base_dict``): yearly periods; one partner enrolling its
10 referrals a year in years 0 and 1 (capacity 100, one-year service, GBP 500 a participant); each
completer achieves ``job`` with probability 0.2 + 0.3 = 0.5, verified a year after enrolment, paid
GBP 1,000 by one commissioner with no lag; one senior tranche of GBP 100,000. The arithmetic
behind each expected number is in the comments.
"""

from __future__ import annotations

import numpy as np
import numpy_financial as npf
import pytest
from scenario_builders import make_scenario, run

from cib_sim import simulate


def flows(**overrides):
    return run(make_scenario(**overrides))


def series(f, name):
    """Path 0's series for a flow, squeezed to (T,) when it has one column."""
    a = f[name][0]
    return a.reshape(a.shape[0], -1)[:, 0] if a.ndim > 1 and np.prod(a.shape[1:]) == 1 else a


# --- delivery --------------------------------------------------------------------------------


def test_enrolments_follow_referrals_within_the_window():
    f = flows()
    np.testing.assert_array_equal(series(f, "enrolled"), [10, 10, 0, 0, 0])
    np.testing.assert_array_equal(series(f, "achieved"), [5, 5, 0, 0, 0])  # 10 x (0.2 + 0.3)


def test_capacity_and_service_length_limit_enrolment():
    # Capacity 6, two-year service: year 0 enrols 6 (4 wait); in year 1 all 6 places are taken;
    # in year 2 the first cohort has left, 6 more enrol; year 3 full again; window ends at 4.
    f = flows(**{"partners[0].capacity": 6.0, "partners[0].service_length": 2.0, "partners[0].enrolment_end": 4.0})
    np.testing.assert_array_equal(series(f, "enrolled"), [6, 0, 6, 0, 0])


def test_waiting_list_fills_free_places_quarterly():
    # 60 referrals a year = 15 a quarter; capacity 25; two-quarter service. Quarter 0 enrols 15.
    # Quarter 1: 10 free places, 10 enrol, 5 wait. Quarter 2: quarter 0's cohort has left, so 15
    # places are free for 5 waiting + 15 new: 15 enrol, 5 wait. Quarter 3: 10 free, and so on,
    # until the window closes after 2 years (8 quarters).
    f = flows(
        horizon={"years": 3, "period": "quarter"},
        **{"partners[0].referrals": 60.0, "partners[0].capacity": 25.0, "partners[0].service_length": 0.5},
    )
    expected = [15, 10, 15, 10, 15, 10, 15, 10, 0, 0, 0, 0]
    np.testing.assert_array_equal(series(f, "enrolled"), expected)


def test_enrolment_start_delays_the_first_cohort():
    f = flows(**{"partners[0].enrolment_start": 1.0, "partners[0].enrolment_end": 3.0})
    np.testing.assert_array_equal(series(f, "enrolled"), [0, 10, 10, 0, 0])


def test_tranche_without_a_cap_is_repaid_when_nothing_is_drawn_in_period_0():
    """No costs in year 0 (enrolment starts in year 1): the senior tranche (no cap) is still
    repaid its 10,000 from the outcome payments of years 2 and 3.

    Guards the room left under an uncapped tranche's cap before its first draw: computed as
    ``cap_multiple * drawn`` it is inf x 0 = NaN, which would run through coupon, capital and
    cash for the rest of the path.
    """
    f = flows(**{"partners[0].enrolment_start": 1.0, "partners[0].enrolment_end": 3.0})
    np.testing.assert_allclose(series(f, "drawn"), [0, 5000, 5000, 0, 0])
    np.testing.assert_allclose(series(f, "capital"), [0, 0, 5000, 5000, 0])
    np.testing.assert_allclose(series(f, "cash"), 0)


def test_dropouts_achieve_the_baseline_and_cost_half_a_service():
    # Enrol 10 in year 0 only, two-year service, 20% drop out after half of it (one year).
    # Outcomes: 8 completers x 0.5 + 2 dropouts x 0.2 = 4.4, verified after 2 years.
    # Costs: GBP 500 over 2 years = 250 a year a place: year 0: 10 x 250; year 1: 8 x 250.
    f = flows(
        **{
            "partners[0].enrolment_end": 1.0,
            "partners[0].service_length": 2.0,
            "partners[0].dropout": 0.2,
            "outcomes[0].lag": 2.0,
        }
    )
    assert series(f, "dropped")[0] == pytest.approx(2.0)
    assert series(f, "achieved")[0] == pytest.approx(4.4)
    np.testing.assert_allclose(series(f, "partner_upfront"), [2500, 2000, 0, 0, 0])
    np.testing.assert_allclose(series(f, "earned"), [0, 0, 4400, 0, 0])


def test_outcome_probability_is_clipped_to_one():
    f = flows(**{"partners[0].effect": {"job": {"mean": 0.95}}})
    np.testing.assert_array_equal(series(f, "achieved"), [10, 10, 0, 0, 0])


def test_negative_effect_lowers_outcomes():
    f = flows(**{"partners[0].effect": {"job": {"mean": -0.1}}})
    np.testing.assert_allclose(series(f, "achieved"), [1, 1, 0, 0, 0])  # 10 x (0.2 - 0.1)


def test_logistic_maturity_scales_the_effect():
    # Maturity is taken mid-period, t = 0.5 and 1.5 years for the two yearly cohorts:
    # m(t) = 1 / (1 + exp(-(t - 1.5) / 0.5)): m(0.5) = 1/(1+e^2), m(1.5) = 1/2.
    f = flows(**{"partners[0].maturity": {"kind": "logistic", "half_maturity": 1.5, "steepness": 0.5}})
    m0 = 1 / (1 + np.exp(2.0))
    np.testing.assert_allclose(series(f, "achieved")[:2], [10 * (0.2 + 0.3 * m0), 10 * (0.2 + 0.3 * 0.5)])


# --- payments --------------------------------------------------------------------------------


def test_outcomes_are_paid_at_enrolment_plus_lag():
    f = flows()
    np.testing.assert_allclose(series(f, "earned"), [0, 5000, 5000, 0, 0])
    np.testing.assert_allclose(series(f, "commissioner_paid"), [0, 5000, 5000, 0, 0])


def test_payment_timing_quarterly_with_outcome_lag_and_payment_lag():
    # One cohort of 10 in quarter 0; verified 3 quarters later; paid 2 quarters after that.
    f = flows(
        horizon={"years": 4, "period": "quarter"},
        **{
            "partners[0].referrals": 40.0,
            "partners[0].enrolment_end": 0.25,
            "outcomes[0].lag": 0.75,
            "commissioners[0].payment_lag": 0.5,
        },
    )
    earned = np.zeros(16)
    earned[3] = 5000
    paid = np.zeros(16)
    paid[5] = 5000
    np.testing.assert_allclose(series(f, "earned"), earned)
    np.testing.assert_allclose(series(f, "commissioner_paid"), paid)


def test_payment_falling_after_the_horizon_is_recorded_not_paid():
    # Cohort 1's outcomes are verified in year 2 and due 3 years later, in year 5 (after the end).
    f = flows(**{"commissioners[0].payment_lag": 3.0})
    np.testing.assert_allclose(series(f, "commissioner_paid"), [0, 0, 0, 0, 5000])
    assert f["due_after_horizon"][0, 0] == pytest.approx(5000)


def test_outcomes_verified_after_the_horizon_are_recorded():
    # Lag 4 years: cohort 0 is verified in year 4 (paid), cohort 1 in year 5 (after the end).
    f = flows(**{"outcomes[0].lag": 4.0})
    np.testing.assert_allclose(series(f, "commissioner_paid"), [0, 0, 0, 0, 5000])
    assert f["due_after_horizon"][0, 0] == pytest.approx(5000)


def test_outcome_lag_of_zero_is_paid():
    """An outcome verified at enrolment (lag 0, or a lag under half a period) must still be paid.

    Guards the order within a period: the rate card must read period t's cohort after delivery
    has drawn its outcomes, or a lag of 0 periods finds nothing and its outcomes are never paid.
    """
    f = flows(**{"outcomes[0].lag": 0.0})
    assert series(f, "achieved").sum() == pytest.approx(10)
    assert series(f, "commissioner_paid").sum() == pytest.approx(10 * 1000)


def test_shares_split_payments_between_commissioners():
    f = flows(commissioners=[{"name": "A", "shares": {"job": 0.6}}, {"name": "B", "shares": {"job": 0.3}}])
    paid = f["commissioner_paid"][0]
    np.testing.assert_allclose(paid[:, 0], [0, 3000, 3000, 0, 0])
    np.testing.assert_allclose(paid[:, 1], [0, 1500, 1500, 0, 0])  # 10% is unfunded: nobody pays it


# --- capital calls ---------------------------------------------------------------------------


def test_capital_drawn_for_service_fixed_and_backbone_costs_quarterly():
    # 10 enrol in quarter 0; GBP 1,200 each over a 4-quarter service = 3,000 a quarter for 4
    # quarters; fixed cost 4,000 a year = 1,000 a quarter; backbone 2,000 a year = 500 a quarter.
    f = flows(
        horizon={"years": 2, "period": "quarter"},
        backbone={"cost": 2000.0},
        **{
            "partners[0].referrals": 40.0,
            "partners[0].enrolment_end": 0.25,
            "partners[0].cost": 1200.0,
            "partners[0].fixed_cost": 4000.0,
        },
    )
    np.testing.assert_allclose(series(f, "partner_upfront")[:4], [3000] * 4)
    np.testing.assert_allclose(series(f, "partner_upfront")[4:], 0)
    np.testing.assert_allclose(series(f, "partner_fixed")[:4], [1000] * 4)
    np.testing.assert_allclose(series(f, "backbone_cost")[:4], [500] * 4)
    np.testing.assert_allclose(series(f, "drawn")[:4], [4500] * 4)


def test_fixed_and_backbone_costs_stop_when_the_last_participant_leaves():
    """Fixed costs run 'while delivering' and the backbone until delivery ends: the last cohort
    enrols in year 1 and leaves at the end of year 1, so neither is paid in year 2.

    Counting from ``end + service`` (the first period with no enrolment, plus the service) would
    be one period late: both charged for an extra year here, and upside distributions a period
    later.
    """
    f = flows(backbone={"cost": 2000.0}, **{"partners[0].fixed_cost": 4000.0})
    np.testing.assert_allclose(series(f, "partner_fixed"), [4000, 4000, 0, 0, 0])
    np.testing.assert_allclose(series(f, "backbone_cost"), [2000, 2000, 0, 0, 0])


# --- distributions and investor returns ------------------------------------------------------

# Horizon 3 years, price 2,000: outcome income 10,000 in each of years 1 and 2, costs 5,000 in
# each of years 0 and 1 (all drawn: no recycling). Year 2 is the last period.
HAND = {"horizon.years": 3, "outcomes[0].price": 2000.0}


def test_coupon_accrues_on_outstanding_capital_and_is_paid_first():
    # Year 1: coupon 10% on the 5,000 drawn in year 0 = 500; then capital 9,500 of the 10,000
    # drawn. Year 2: coupon 10% on the 500 outstanding = 50, capital 500; the rest (9,450) is
    # excess (a senior tranche has no upside), rebated to the commissioner.
    f = flows(**HAND, **{"tranches[0].coupon": 0.1})
    np.testing.assert_allclose(series(f, "drawn"), [5000, 5000, 0])
    np.testing.assert_allclose(series(f, "coupon"), [0, 500, 50])
    np.testing.assert_allclose(series(f, "capital"), [0, 9500, 500])
    np.testing.assert_allclose(series(f, "upside"), 0)
    np.testing.assert_allclose(series(f, "commissioner_rebate"), [0, 0, 9450])
    np.testing.assert_allclose(series(f, "cash"), 0)


def test_irr_and_multiple_of_a_coupon_tranche_by_hand():
    # Investor flows -5,000, +5,000 (10,000 back less 5,000 drawn), +550: 550x^2 + 5000x - 5000 = 0
    # gives x = 1/1.1, an IRR of exactly 10% (the coupon); multiple 10,550 / 10,000.
    r = simulate(make_scenario(**HAND, **{"tranches[0].coupon": 0.1}), n_paths=3, seed=0)
    assert r.path["tranche_irr"][:, 0] == pytest.approx([0.1] * 3, abs=1e-9)
    assert r.multiple[:, 0] == pytest.approx([1.055] * 3)
    assert npf.irr([-5000, 5000, 550]) == pytest.approx(0.1, abs=1e-9)
    assert r.path["tranche_in"][0, 0] == 10_000 and r.path["tranche_out"][0, 0] == pytest.approx(10_550)


def test_upside_up_to_a_multiple_cap_then_excess_to_commissioners():
    # Subordinated, capped at 1.5x: year 1 repays all 10,000 drawn; year 2 pays upside up to
    # 1.5 x 10,000 - 10,000 = 5,000; the other 5,000 of year 2's income is excess.
    s = make_scenario(**HAND, **{"tranches[0].kind": "subordinated", "tranches[0].cap_multiple": 1.5})
    f = run(s)
    np.testing.assert_allclose(series(f, "capital"), [0, 10000, 0])
    np.testing.assert_allclose(series(f, "upside"), [0, 0, 5000])
    np.testing.assert_allclose(series(f, "excess"), [0, 0, 5000])
    np.testing.assert_allclose(series(f, "commissioner_rebate"), [0, 0, 5000])
    # Flows -5,000, +5,000, +5,000: x^2 + x - 1 = 0, x = (sqrt 5 - 1) / 2, IRR = 1/x - 1.
    r = simulate(s, n_paths=1, seed=0)
    golden = (np.sqrt(5) + 1) / 2 - 1
    assert r.path["tranche_irr"][0, 0] == pytest.approx(golden, abs=1e-9)
    assert r.path["tranche_irr"][0, 0] == pytest.approx(npf.irr([-5000, 5000, 5000]), abs=1e-9)
    assert r.multiple[0, 0] == pytest.approx(1.5)


def test_upside_up_to_an_irr_cap():
    # Cap 20% a year: the cap balance is 5,000 x 1.2 + 5,000 - 10,000 = 1,000 after year 1, and
    # 1,200 in year 2: the upside; the IRR is exactly the cap.
    s = make_scenario(**HAND, **{"tranches[0].kind": "subordinated", "tranches[0].cap_irr": 0.2})
    f = run(s)
    np.testing.assert_allclose(series(f, "upside"), [0, 0, 1200])
    np.testing.assert_allclose(series(f, "excess"), [0, 0, 8800])
    r = simulate(s, n_paths=1, seed=0)
    assert r.path["tranche_irr"][0, 0] == pytest.approx(0.2, abs=1e-9)
    assert r.path["tranche_irr"][0, 0] == pytest.approx(npf.irr([-5000, 5000, 1200]), abs=1e-9)
    assert r.multiple[0, 0] == pytest.approx(1.12)


def test_uncapped_upside_takes_everything():
    f = flows(**HAND, **{"tranches[0].kind": "first_loss"})
    np.testing.assert_allclose(series(f, "upside"), [0, 0, 10000])
    np.testing.assert_allclose(series(f, "excess"), 0)


@pytest.mark.parametrize(
    "excess_to, split, rebate, bonus",
    [("commissioners", 0.5, 9450, 0), ("partners", 0.5, 0, 9450), ("split", 0.3, 0.3 * 9450, 0.7 * 9450)],
)
def test_excess_goes_by_the_excess_rule(excess_to, split, rebate, bonus):
    f = flows(**HAND, **{"tranches[0].coupon": 0.1}, terms={"excess_to": excess_to, "excess_split": split})
    assert series(f, "commissioner_rebate").sum() == pytest.approx(rebate)
    assert series(f, "partner_bonus").sum() == pytest.approx(bonus)
    assert series(f, "excess").sum() == pytest.approx(9450)


def test_rebate_is_pro_rata_to_what_each_commissioner_paid():
    f = flows(
        **HAND,
        **{"tranches[0].coupon": 0.1},
        commissioners=[{"name": "A", "shares": {"job": 0.75}}, {"name": "B", "shares": {"job": 0.25}}],
    )
    # Same income (shares sum to 1), so the same 9,450 excess, split 3:1.
    np.testing.assert_allclose(f["commissioner_rebate"][0].sum(axis=0), [0.75 * 9450, 0.25 * 9450])


def test_irr_against_numpy_financial_on_a_longer_quarterly_case():
    s = make_scenario(
        horizon={"years": 4, "period": "quarter"},
        **{
            "partners[0].referrals": 40.0,
            "partners[0].enrolment_end": 1.5,
            "partners[0].cost": 1600.0,
            "partners[0].fixed_cost": 2000.0,
            "outcomes[0].price": 2600.0,
            "commissioners[0].payment_lag": 0.25,
            "tranches[0].kind": "subordinated",
            "tranches[0].coupon": 0.04,
            "tranches[0].cap_multiple": 1.3,
        },
    )
    r = simulate(s, n_paths=1, seed=0, keep_paths=1)
    k = r.kept
    net = (k["coupon"] + k["capital"] + k["upside"] + k["guarantee_received"] - k["drawn"])[0, :, 0]
    assert (net < 0).any() and (net > 0).any()
    expected = (1 + npf.irr(net)) ** 4 - 1
    assert r.path["tranche_irr"][0, 0] == pytest.approx(expected, abs=1e-6)
    assert r.multiple[0, 0] == pytest.approx(
        (k["coupon"] + k["capital"] + k["upside"])[0].sum() / k["drawn"][0].sum()
    )
