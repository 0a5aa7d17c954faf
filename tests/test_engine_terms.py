"""Each contract term changes the result as it should.

Most cases switch uncertainty off (``scenario_builders.base_dict``: 10 participants a year in years
0 and 1, 5 outcomes per cohort paid GBP 1,000 a year after enrolment), so the effect of a term is
exact. Hazards need randomness: they are checked both exactly (the event period set by hand in the
draws) and statistically (against the hazard's survival probability, common random numbers).
"""

from __future__ import annotations

import numpy as np
import pytest
from scenario_builders import make_scenario, run
from scipy.special import expit

from cib_sim import simulate
from cib_sim.engine import run_paths
from cib_sim.engine.sample import sample_block


def flows(**overrides):
    return run(make_scenario(**overrides))


def col(f, name, j=0):
    """Path 0's series of column ``j`` of a (N, T, k) flow, or of a (N, T) flow."""
    a = f[name][0]
    return a if a.ndim == 1 else a.reshape(a.shape[0], -1)[:, j]


QUARTERLY = {"horizon": {"years": 3, "period": "quarter"}, "partners[0].referrals": 40.0}
"""10 enrolments a quarter for 8 quarters; with lag 0.25, 5 outcomes verified each quarter 1-8."""


def quarterly(**overrides):
    return make_scenario(**{**QUARTERLY, "outcomes[0].lag": 0.25, **overrides})


# --- commissioner caps, lags, budgets --------------------------------------------------------


def test_total_cap_stops_payments():
    f = flows(**{"commissioners[0].total_cap": 7000.0})
    np.testing.assert_allclose(col(f, "commissioner_paid"), [0, 5000, 2000, 0, 0])
    assert f["lost_to_caps"][0, 0] == pytest.approx(3000)
    assert f["cap_hit"][0, 0]
    uncapped = flows()
    assert not uncapped["cap_hit"][0, 0] and uncapped["lost_to_caps"][0, 0] == 0


def test_annual_budget_caps_each_contract_year_and_resets():
    # Dues of 5,000 in quarters 1-8; budget 12,000 a contract year (quarters 0-3, 4-7, 8-11).
    f = run(quarterly(**{"commissioners[0].annual_budget": 12000.0}))
    paid = col(f, "commissioner_paid")
    np.testing.assert_allclose(paid, [0, 5000, 5000, 2000, 5000, 5000, 2000, 0, 5000, 0, 0, 0])
    assert f["lost_to_caps"][0, 0] == pytest.approx(40000 - paid.sum())
    assert f["cap_hit"][0, 0]


def test_payment_lag_shifts_timing():
    base = col(run(quarterly()), "commissioner_paid")
    lagged = col(run(quarterly(**{"commissioners[0].payment_lag": 0.5})), "commissioner_paid")
    np.testing.assert_allclose(lagged, np.concatenate([[0, 0], base[:-2]]))
    assert base[-2:].sum() == 0  # nothing fell beyond the horizon


# --- payment bases ---------------------------------------------------------------------------

# Each base cohort: 10 enrolled, 5 achieve (rate 0.5) against a baseline of 0.2 (2 expected):
# 3 above the baseline; improvement 1.5 relative, 0.3 absolute, 0.3 / 0.8 = 0.375 as a
# relative reduction of the bad outcome.


def earned_total(**outcome):
    f = flows(**{f"outcomes[0].{k}": v for k, v in outcome.items()})
    return col(f, "earned").sum()


@pytest.mark.parametrize("threshold, paid", [(0.0, 6000), (1.49, 6000), (1.5, 6000), (1.51, 0)])
def test_above_baseline_threshold(threshold, paid):
    assert earned_total(payment_basis="above_baseline", threshold=threshold) == pytest.approx(paid)


@pytest.mark.parametrize(
    "tiers, price",
    [
        ([(0.5, 100), (1.0, 200), (2.0, 300)], 200),  # highest tier reached: 1.0
        ([(0.5, 100), (1.5, 250)], 250),  # exactly on a tier
        ([(1.6, 100)], 0),  # below the first tier: nothing
        ([(0.0, 70)], 70),
    ],
)
def test_tiers_pick_the_right_price(tiers, price):
    tiers = [{"min_improvement": m, "price": p} for m, p in tiers]
    total = earned_total(payment_basis="tiered", price=0.0, tiers=tiers)
    assert total == pytest.approx(2 * 3 * price)


def test_max_per_participant_caps_each_cohort():
    # 5 x 1,000 = 5,000 a cohort, capped at 300 x 10 enrolled = 3,000.
    assert earned_total(max_per_participant=300.0) == pytest.approx(6000)
    assert earned_total(max_per_participant=600.0) == pytest.approx(10000)  # does not bind


@pytest.mark.parametrize(
    "measure, pays_at_035", [("relative", True), ("absolute", False), ("relative_reduction", True)]
)
def test_improvement_measures(measure, pays_at_035):
    total = earned_total(payment_basis="above_baseline", threshold=0.35, improvement=measure)
    assert total == pytest.approx(6000 if pays_at_035 else 0)
    # relative_reduction is 0.375: just above 0.37, just below 0.38
    if measure == "relative_reduction":
        assert earned_total(payment_basis="above_baseline", threshold=0.37, improvement=measure) == 6000
        assert earned_total(payment_basis="above_baseline", threshold=0.38, improvement=measure) == 0


def test_cohort_years_groups_enrolments_for_assessment():
    # Quarterly enrolment for one year (4 cohorts of 10) with a fast-maturing effect: the cohort
    # rates are 0.2 + 0.3 m(t), m = expit((t - 0.5) / 0.1) at mid-quarter t = 0.125 ... 0.875 years.
    m = expit(((np.arange(4) + 0.5) / 4 - 0.5) / 0.1)
    rate = 0.2 + 0.3 * m
    over = {
        "partners[0].enrolment_end": 1.0,
        "partners[0].maturity": {"kind": "logistic", "half_maturity": 0.5, "steepness": 0.1},
        "outcomes[0].payment_basis": "above_baseline",
    }

    def earned(threshold, cohort_years):
        s = quarterly(**over, **{"outcomes[0].threshold": threshold, "outcomes[0].cohort_years": cohort_years})
        return col(run(s), "earned")

    # Each quarter its own cohort: paid where (rate - 0.2) / 0.2 >= threshold, one quarter on.
    for threshold in (0.5, 1.0):
        e = earned(threshold, None)
        expected = np.zeros(12)
        expected[1:5] = np.where((rate - 0.2) / 0.2 >= threshold, 10 * (rate - 0.2) * 1000, 0.0)
        np.testing.assert_allclose(e, expected)
    # One-year cohort: assessed once, on the pooled rate 0.2 + 0.3 mean(m) = 0.35 (improvement
    # 0.75), after its last quarter (3) plus the lag: quarter 4.
    assert (rate.mean() - 0.2) / 0.2 == pytest.approx(0.75)
    e = earned(0.5, 1.0)
    expected = np.zeros(12)
    expected[4] = 40 * (rate.mean() - 0.2) * 1000
    np.testing.assert_allclose(e, expected)
    np.testing.assert_allclose(earned(1.0, 1.0), 0)  # pooled 0.75 < 1.0: nothing, unlike per quarter


def test_cohort_closes_at_the_end_of_enrolment():
    # Rate card, one-year cohorts, enrolment for 1.5 years: quarters 0-3 close at 3 (paid at 4),
    # quarters 4-5 close at the last enrolment (5, paid at 6).
    s = quarterly(**{"partners[0].enrolment_end": 1.5, "outcomes[0].cohort_years": 1.0})
    expected = np.zeros(12)
    expected[4], expected[6] = 4 * 5000, 2 * 5000
    np.testing.assert_allclose(col(run(s), "earned"), expected)


# --- hazards ---------------------------------------------------------------------------------


def _draws(s, n=1, seed=0):
    return sample_block(s, np.random.SeedSequence(seed), n)


def test_withdrawal_stops_payments_from_its_period():
    s = make_scenario()
    d = _draws(s)
    d.withdraw_period[:] = 2
    f = run_paths(s, d)
    np.testing.assert_allclose(col(f, "commissioner_paid"), [0, 5000, 0, 0, 0])
    assert f["lost_to_withdrawal"][0, 0] == pytest.approx(5000)


def test_exit_stops_enrolment_and_fixed_costs_from_its_period():
    s = make_scenario(**{"partners[0].fixed_cost": 4000.0})
    d = _draws(s)
    d.exit_period[:] = 1
    f = run_paths(s, d)
    np.testing.assert_allclose(col(f, "enrolled"), [10, 0, 0, 0, 0])
    np.testing.assert_allclose(col(f, "partner_fixed"), [4000, 0, 0, 0, 0])
    np.testing.assert_allclose(col(f, "commissioner_paid"), [0, 5000, 0, 0, 0])  # cohort 0 still pays


def _random(**overrides):
    """Uncertainty on (counts drawn), nothing else uncertain: only the hazard differs."""
    return quarterly(uncertainty={"enabled": True, "rho": 0.0}, **overrides)


N_HAZARD = 2000


def _survival(h, T=12, ppy=4):
    # An event at exponential time E (rate h a year) stops things from period floor(E ppy / h');
    # period t is still active iff E >= (t + 1) / ppy years.
    return np.exp(-h * (np.arange(T) + 1) / ppy)


def test_withdrawal_hazard_reduces_payments():
    h = 0.8
    base = run(_random(), n_paths=N_HAZARD, seed=3)
    haz = run(_random(**{"commissioners[0].withdrawal_hazard": h}), n_paths=N_HAZARD, seed=3)
    p0, p1 = base["commissioner_paid"][..., 0], haz["commissioner_paid"][..., 0]
    # Same random numbers: path by path, a withdrawal can only take payments away.
    assert np.all(p1 <= p0 + 1e-9)
    assert np.all(p1 == np.where(p1 > 0, p0, p1))  # each period is paid in full or not at all
    # And on average by the survival probability: E[paid_t] = E[paid0_t] x P(still paying at t).
    expected = (p0 * _survival(h)).sum(axis=1)
    got = p1.sum(axis=1)
    se = np.std(got - expected) / np.sqrt(N_HAZARD)
    assert abs(got.mean() - expected.mean()) < 4 * se
    assert got.mean() < 0.8 * p0.sum(axis=1).mean()
    assert haz["lost_to_withdrawal"][:, 0].mean() == pytest.approx((p0.sum(axis=1) - got).mean())


def test_exit_hazard_stops_enrolment():
    h = 0.8
    base = run(_random(), n_paths=N_HAZARD, seed=4)
    haz = run(_random(**{"partners[0].exit_hazard": h}), n_paths=N_HAZARD, seed=4)
    e0, e1 = base["enrolled"][..., 0], haz["enrolled"][..., 0]
    assert np.all(e1 <= e0 + 1e-9)
    # Enrolment stops for good once the partner has exited.
    stopped = np.cumsum(e1 < e0, axis=1) > 0
    assert np.all(e1[stopped] == 0)
    expected = (e0 * _survival(h)).sum(axis=1)
    se = np.std(e1.sum(axis=1) - expected) / np.sqrt(N_HAZARD)
    assert abs(e1.sum(axis=1).mean() - expected.mean()) < 4 * se


def test_huge_hazards_stop_almost_everything():
    r = simulate(
        _random(**{"partners[0].exit_hazard": 5.0, "commissioners[0].withdrawal_hazard": 5.0}), n_paths=500, seed=1
    )
    r0 = simulate(_random(), n_paths=500, seed=1)
    assert r.path["enrolled"].mean() < 0.35 * r0.path["enrolled"].mean()
    assert r.path["commissioner_paid"].mean() < 0.05 * r0.path["commissioner_paid"].mean()


def test_common_shock_moves_partners_together():
    rho = 0.6
    s = make_scenario(
        partners=[
            {"name": n, "referrals": 40.0, "capacity": 100.0, "effect": {"job": {"mean": 0.2, "sd": 0.1}}}
            for n in ("A", "B")
        ],
        uncertainty={"enabled": True, "rho": rho, "referral_sd": 0.3},
    )
    d = _draws(s, n=4096, seed=2)
    e = d.effect[:, :, 0]
    assert e.mean(axis=0) == pytest.approx([0.2, 0.2], abs=0.01)
    assert e.std(axis=0) == pytest.approx([0.1, 0.1], rel=0.05)
    assert np.corrcoef(e.T)[0, 1] == pytest.approx(rho, abs=0.05)
    m = np.log(d.referral_multiplier)
    assert d.referral_multiplier.mean(axis=0) == pytest.approx([1.0, 1.0], abs=0.02)  # mean-one multiplier
    assert np.corrcoef(m.T)[0, 1] == pytest.approx(rho, abs=0.05)
    assert np.corrcoef(e[:, 0], m[:, 0])[0, 1] == pytest.approx(rho, abs=0.05)  # effect and volume too


# --- guarantee, caps and the excess rule ------------------------------------------------------

# Price 600: income 3,000 in each of years 1 and 2 against 10,000 drawn: the senior tranche is
# short by 4,000 at the end.
LOSS = {"outcomes[0].price": 600.0}


@pytest.mark.parametrize("amount, call", [(2500.0, 2500.0), (10_000.0, 4000.0)])
def test_guarantee_pays_the_covered_shortfall_up_to_its_amount(amount, call):
    f = flows(
        **LOSS,
        tranches=[
            {"name": "S", "commitment": 100_000.0},
            {"name": "G", "kind": "guarantee", "commitment": amount, "covers": "S"},
        ],
    )
    # Called when the contract ends: the last income is paid in year 2 and nothing more can come,
    # so the guarantee pays then, not at the horizon two years later.
    np.testing.assert_allclose(col(f, "guarantee_call"), [0, 0, call, 0, 0])
    np.testing.assert_allclose(col(f, "guarantee_received"), [0, 0, call, 0, 0])
    assert col(f, "capital").sum() == pytest.approx(6000)
    assert col(f, "drawn").sum() == pytest.approx(10000)  # a guarantee is not drawn


def test_guarantee_shows_in_the_loss_statistics():
    tr = [{"name": "S", "commitment": 100_000.0}]
    bare = simulate(make_scenario(**LOSS, tranches=tr), n_paths=2, seed=0)
    assert bare.metric("tranche", "S", "prob_loss") == 1.0
    assert bare.metric("tranche", "S", "expected_loss") == pytest.approx(4000)
    covered = simulate(
        make_scenario(**LOSS, tranches=tr + [{"name": "G", "kind": "guarantee", "commitment": 3000.0, "covers": "S"}]),
        n_paths=2, seed=0,
    )
    assert covered.metric("tranche", "S", "expected_loss") == pytest.approx(1000)
    assert covered.metric("guarantee", "G", "prob_called") == 1.0
    assert covered.metric("guarantee", "G", "expected_call") == pytest.approx(3000)


def test_guarantee_covers_only_its_tranche():
    # Senior 75% (drawn 7,500) is repaid first from the 6,000; the junior (2,500) gets nothing;
    # a guarantee on the junior pays its 2,500, none of the senior's 1,500 shortfall.
    f = flows(
        **LOSS,
        tranches=[
            {"name": "S", "commitment": 75_000.0},
            {"name": "J", "kind": "subordinated", "commitment": 25_000.0},
            {"name": "G", "kind": "guarantee", "commitment": 50_000.0, "covers": "J"},
        ],
    )
    got = f["guarantee_received"][0].sum(axis=0)
    np.testing.assert_allclose(got, [0, 2500])
    np.testing.assert_allclose(f["capital"][0].sum(axis=0), [6000, 0])


def test_guarantee_does_not_pay_when_the_fund_has_the_money():
    f = flows(tranches=[{"name": "S", "commitment": 1e5}, {"name": "G", "kind": "guarantee", "commitment": 5e3, "covers": "S"}])
    assert f["guarantee_call"].sum() == 0


def test_guarantee_does_not_lift_a_tranche_above_its_return_cap():
    """A tranche capped at 1x with a 50% coupon is paid its coupon and capital up to 1x its
    money (10,000): it has its cap, the fund rebates 30,000 of excess, nothing is lost.

    A guarantee covers at most the room left under the cap: paying ``drawn - repaid`` (2,500
    here), capital unpaid only because the cap was reached, would give the investor 1.25x against
    a 1x cap and make the guarantor pay on a deal that made money.
    """
    f = flows(
        **{"outcomes[0].price": 4000.0},
        tranches=[
            {"name": "S", "commitment": 1e5, "coupon": 0.5, "cap_multiple": 1.0},
            {"name": "G", "kind": "guarantee", "commitment": 5e4, "covers": "S"},
        ],
    )
    received = (f["coupon"] + f["capital"] + f["upside"] + f["guarantee_received"])[0].sum()
    assert received <= 1.0 * f["drawn"][0].sum() + 1e-9
    assert f["guarantee_call"].sum() == 0


HAND = {"horizon.years": 3, "outcomes[0].price": 2000.0, "tranches[0].kind": "subordinated"}
"""Income 10,000 in years 1 and 2 against 10,000 drawn: 10,000 of profit to share."""


@pytest.mark.parametrize("excess_to", ["commissioners", "partners", "split"])
def test_return_cap_binds_and_excess_goes_by_the_rule(excess_to):
    uncapped = flows(**HAND, terms={"excess_to": excess_to})
    assert col(uncapped, "upside").sum() == pytest.approx(10000)
    assert col(uncapped, "excess").sum() == 0
    f = flows(**HAND, **{"tranches[0].cap_multiple": 1.2}, terms={"excess_to": excess_to, "excess_split": 0.25})
    assert col(f, "upside").sum() == pytest.approx(2000)  # 1.2 x 10,000 - 10,000
    assert col(f, "excess").sum() == pytest.approx(8000)
    to_c = {"commissioners": 1.0, "partners": 0.0, "split": 0.25}[excess_to]
    assert col(f, "commissioner_rebate").sum() == pytest.approx(8000 * to_c)
    assert col(f, "partner_bonus").sum() == pytest.approx(8000 * (1 - to_c))


def test_irr_cap_binds():
    loose = simulate(make_scenario(**HAND, **{"tranches[0].cap_irr": 2.0}), n_paths=1, seed=0)
    tight = simulate(make_scenario(**HAND, **{"tranches[0].cap_irr": 0.1}), n_paths=1, seed=0)
    assert tight.path["tranche_irr"][0, 0] == pytest.approx(0.1, abs=1e-9)
    # Uncapped flows -5,000, +5,000, +10,000: 2x^2 + x - 1 = 0, x = 1/2, an IRR of 100% < 200%.
    assert loose.path["tranche_irr"][0, 0] == pytest.approx(1.0, abs=1e-9)


def test_senior_is_repaid_before_junior():
    f = flows(
        **LOSS,
        tranches=[
            {"name": "S", "commitment": 75_000.0, "coupon": 0.0},
            {"name": "J", "kind": "first_loss", "commitment": 25_000.0},
        ],
    )
    np.testing.assert_allclose(f["drawn"][0].sum(axis=0), [7500, 2500])  # pro rata to commitment
    np.testing.assert_allclose(f["capital"][0].sum(axis=0), [6000, 0])


def test_upside_is_shared_pro_rata_to_commitment_within_caps():
    # Two upside tranches 60/40; 10,000 of profit: J1 capped at 1.1x (600 of upside on 6,000),
    # the rest (9,400) to J2, uncapped.
    f = flows(
        **HAND,
        tranches=[
            {"name": "J1", "kind": "subordinated", "commitment": 60_000.0, "cap_multiple": 1.1},
            {"name": "J2", "kind": "first_loss", "commitment": 40_000.0},
        ],
    )
    np.testing.assert_allclose(f["upside"][0].sum(axis=0), [600, 9400])


def test_grant_funds_delivery_and_expects_nothing_back():
    f = flows(
        **HAND,
        tranches=[
            {"name": "S", "kind": "senior", "commitment": 50_000.0},
            {"name": "Grant", "kind": "grant", "commitment": 50_000.0, "coupon": 0.2},
        ],
    )
    np.testing.assert_allclose(f["drawn"][0].sum(axis=0), [5000, 5000])
    got = (f["coupon"] + f["capital"] + f["upside"])[0].sum(axis=0)
    np.testing.assert_allclose(got, [5000, 0])
    assert col(f, "excess").sum() == pytest.approx(15000)


# --- funding -----------------------------------------------------------------------------------


def test_recycling_lets_income_fund_delivery():
    # Costs come first in a period and income arrives during it, so year t's income can fund
    # delivery from year t + 1. Enrolment in years 0-2 (5,000 a year), income 10,000 in years 1-3.
    setup = {**HAND, "horizon.years": 4, "partners[0].enrolment_end": 3.0}
    plain = flows(**setup)
    recycled = flows(**setup, terms={"recycling": True})
    np.testing.assert_allclose(col(plain, "drawn"), [5000, 5000, 5000, 0])
    np.testing.assert_allclose(col(recycled, "drawn"), [5000, 5000, 0, 0])  # year 2 paid from year 1's income
    np.testing.assert_allclose(col(recycled, "partner_upfront"), col(plain, "partner_upfront"))
    # Distributions wait for delivery to end: income is held in years 1 and 2.
    np.testing.assert_allclose(col(recycled, "capital")[:3], 0.0)
    np.testing.assert_allclose(col(recycled, "cash")[:3], [0, 10000, 15000])
    assert col(recycled, "capital").sum() == pytest.approx(10000)


def test_funding_shortfall_stops_delivery():
    # 7,000 committed: year 0 costs 5,000; year 1's 5,000 cannot be met -> no new enrolments, ever.
    f = flows(**{"tranches[0].commitment": 7000.0, "partners[0].enrolment_end": 4.0})
    np.testing.assert_allclose(col(f, "enrolled"), [10, 0, 0, 0, 0])
    assert f["funded"][0, 0] and not f["funded"][0, 1]  # year 1's costs could not be met
    assert f["stop_period"][0] == 1
    assert col(f, "drawn").sum() == pytest.approx(5000)
    r = simulate(make_scenario(**{"tranches[0].commitment": 7000.0}), n_paths=2, seed=0)
    assert r.metric("contract", "hand", "prob_delivery_stopped") == 1.0
    assert simulate(make_scenario(), n_paths=2, seed=0).metric("contract", "hand", "prob_delivery_stopped") == 0.0


def test_funding_shortfall_pays_committed_costs_as_far_as_the_money_goes():
    # Two-year service (250 a year a place). Year 0: 10 enrol, 2,500. Year 1: 10 more would cost
    # 5,000 in all but only 3,000 is left: new enrolments are cancelled and the 2,500 for those
    # already in service is paid.
    f = flows(**{"tranches[0].commitment": 5500.0, "partners[0].service_length": 2.0, "partners[0].enrolment_end": 2.0})
    np.testing.assert_allclose(col(f, "enrolled"), [10, 0, 0, 0, 0])
    np.testing.assert_allclose(col(f, "partner_upfront")[:2], [2500, 2500])


# "end": when the contract ends, which is year 2 here (the last income; nothing more can come).
@pytest.mark.parametrize("freq, paid_at", [("period", [1, 2]), ("end", [2])])
def test_distribution_frequency(freq, paid_at):
    f = flows(terms={"distribution_frequency": freq})
    capital = col(f, "capital")
    assert capital.sum() == pytest.approx(10000)
    assert set(np.flatnonzero(capital)) == set(paid_at)


def test_yearly_distributions_in_a_quarterly_contract():
    f = run(quarterly(terms={"distribution_frequency": "year"}))
    # On year ends, and when the contract ends: the last quarter with a cost or a payment (10).
    end = int(max(np.flatnonzero(col(f, "commissioner_paid"))[-1], np.flatnonzero(col(f, "drawn"))[-1]))
    assert end == 10
    assert set(np.flatnonzero(col(f, "capital"))) <= {3, 7, 11, end}
    assert col(f, "capital").sum() == pytest.approx(col(f, "drawn").sum())


# --- partners: zone model, attribution, contracts ---------------------------------------------


def zone(interaction=0.0, attribution="cost", split=None, **over):
    """Zone: 10 a year enrol in years 0-1; A reaches all (effect 0.2, cost 500), B half
    (effect 0.1, cost 400)."""
    return make_scenario(
        delivery={
            "model": "zone", "referrals": 10.0, "capacity": 100.0, "enrolment_end": 2.0, "service_length": 1.0,
            "interaction": interaction, "attribution": attribution, "split": split or {},
        },
        partners=[
            {"name": "A", "reach": 1.0, "cost": 500.0, "effect": {"job": {"mean": 0.2}}, "maturity": {"kind": "immediate"}},
            {"name": "B", "reach": 0.5, "cost": 400.0, "effect": {"job": {"mean": 0.1}}, "maturity": {"kind": "immediate"}},
        ],
        **over,
    )


@pytest.mark.parametrize("gamma", [0.0, 0.5, -0.5])
def test_zone_outcomes_by_package(gamma):
    # Half get A only (0.2 + 0.2), half A and B (0.2 + 0.3 (1 + gamma)).
    p = 0.5 * 0.4 + 0.5 * (0.2 + 0.3 * (1 + gamma))
    f = run(zone(gamma))
    np.testing.assert_allclose(col(f, "achieved"), [10 * p, 10 * p, 0, 0, 0])


def test_zone_clips_each_package_not_the_average():
    # Effects 0.5 and 0.5, interaction 0.5: A alone 0.2 + 0.5 = 0.7; A and B 0.2 + 1.0 x 1.5,
    # clipped to 1. The average is 0.85 (unclipped it would be 1.075, clipped 1.0).
    s = zone(0.5, **{"partners[0].effect": {"job": {"mean": 0.5}}, "partners[1].effect": {"job": {"mean": 0.5}}})
    np.testing.assert_allclose(col(run(s), "achieved")[:2], [8.5, 8.5])


def test_zone_partner_exit_removes_its_effect_and_costs():
    # Path 1: B exits from year 1, so year 1's cohort gets A only (0.4); path 0 keeps both.
    s = zone()
    d = _draws(s, n=2)
    d.exit_period[1, 1] = 1
    f = run_paths(s, d)
    p_both = 0.5 * 0.4 + 0.5 * 0.5
    np.testing.assert_allclose(f["achieved"][:, :2, 0, 0], [[10 * p_both] * 2, [10 * p_both, 10 * 0.4]])
    np.testing.assert_allclose(f["partner_upfront"][1, :2], [[5000, 2000], [5000, 0]])
    np.testing.assert_allclose(f["enrolled"][1, :, 0], [10, 10, 0, 0, 0])  # the zone still enrols


def test_zone_interaction_raises_outcomes():
    ach = [run(zone(g))["achieved"].sum() for g in (-0.5, 0.0, 0.5)]
    assert ach[0] < ach[1] < ach[2]


def test_zone_outcome_certain_at_baseline_gives_finite_counts():
    """A zone outcome with baseline 1.0 (like WLZ's sign-up) is achieved by everyone enrolled.

    The package average ``sum_S w_S clip(p_S)`` comes out at 1.0000000000000002 by rounding with
    these reaches (0.638059599956264 and 0.4839108894796594): unless the averaged probability is
    clipped to [0, 1], ``p (1 - p)`` is negative, its square root NaN, and every count from that
    period on NaN, outcome payments included.
    """
    s = make_scenario(
        outcomes=[{"name": "job", "baseline_rate": 1.0, "lag": 1.0, "price": 1000.0}],
        delivery={"model": "zone", "referrals": 10.0, "capacity": 100.0},
        partners=[
            {"name": "A", "effect": {"job": {"mean": 0.1}}},
            {"name": "B", "reach": 0.638059599956264},
            {"name": "C", "reach": 0.4839108894796594},
        ],
        uncertainty={"enabled": True},
    )
    f = run(s, n_paths=4)
    assert np.all(np.isfinite(f["achieved"])) and np.all(np.isfinite(f["commissioner_paid"]))
    np.testing.assert_array_equal(f["achieved"][..., 0], f["enrolled"])


def test_zone_costs_follow_reach():
    f = run(zone())
    np.testing.assert_allclose(f["partner_upfront"][0, 0], [10 * 500, 10 * 0.5 * 400])


@pytest.mark.parametrize(
    "attribution, split, shares",
    [("cost", None, [500 / 700, 200 / 700]), ("reach", None, [1 / 1.5, 0.5 / 1.5]), ("fixed", {"A": 0.25, "B": 0.75}, [0.25, 0.75])],
)
def test_attribution_rules_split_payments(attribution, split, shares):
    f = run(zone(attribution=attribution, split=split))
    paid = f["commissioner_paid"][0].sum()
    np.testing.assert_allclose(f["attributed"][0].sum(axis=0), paid * np.array(shares))
    r = simulate(zone(attribution=attribution, split=split), n_paths=1, seed=0)
    np.testing.assert_allclose(r.path["partner_attributed"][0], paid * np.array(shares))


def test_pipelines_attribute_each_partners_own_outcomes():
    s = make_scenario(
        partners=[
            {"name": "A", "referrals": 10.0, "capacity": 100.0, "enrolment_end": 2.0, "cost": 500.0,
             "effect": {"job": {"mean": 0.3}}, "maturity": {"kind": "immediate"}},
            {"name": "B", "referrals": 20.0, "capacity": 100.0, "enrolment_end": 2.0, "cost": 500.0,
             "effect": {"job": {"mean": 0.1}}, "maturity": {"kind": "immediate"}},
        ]
    )
    f = run(s)
    # A: 2 cohorts x 10 x 0.5; B: 2 x 20 x 0.3
    np.testing.assert_allclose(f["attributed"][0].sum(axis=0), [10_000, 12_000])


def test_outcome_share_goes_to_partners():
    f = flows(**{"partners[0].contract": {"upfront_share": 1.0, "outcome_share": 0.2}})
    paid = col(f, "commissioner_paid")
    np.testing.assert_allclose(col(f, "partner_contingent"), 0.2 * paid)
    np.testing.assert_allclose(col(f, "income"), 0.8 * paid)
    r = simulate(make_scenario(**{"partners[0].contract": {"outcome_share": 0.2}}), n_paths=1, seed=0)
    assert r.path["partner_contingent"][0, 0] == pytest.approx(2000)
    assert r.path["partner_revenue"][0, 0] == pytest.approx(10_000 + 2000)


def test_upfront_share_scales_service_payments():
    full = col(flows(), "partner_upfront")
    part = col(flows(**{"partners[0].contract": {"upfront_share": 0.4, "outcome_share": 0.6}}), "partner_upfront")
    np.testing.assert_allclose(part, 0.4 * full)


def test_backbone_success_fee_is_a_share_of_payments():
    f = flows(backbone={"success_fee": 0.1})
    paid = col(f, "commissioner_paid")
    np.testing.assert_allclose(col(f, "backbone_fee"), 0.1 * paid)
    np.testing.assert_allclose(col(f, "income"), 0.9 * paid)
