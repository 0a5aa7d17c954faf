"""Shocks, the tornado and the solver on a contract whose answers are known in closed form.

With ``uncertainty.enabled: false`` the engine is deterministic. The contract: one partner
enrols 100 participants over the first year (25 a quarter), serves each for a year at 500 spread
evenly over four quarters (so the fund draws 3125, 6250, 9375, 12500, 9375, 6250, 3125 in quarters
0-6, 50,000 in all); half of them (baseline 0.2 + effect 0.3) achieve the outcome, verified two
years after enrolment (quarters 8-11, 12.5 a quarter), each paid ``price`` by one commissioner.
The only tranche takes all the upside, so its multiple of money is ``50 price / 50,000``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cib_sim.analysis import (
    CommissionerWithdrawal,
    Correlation,
    MaturityDelay,
    PartnerExit,
    PriceCut,
    ScaleEffects,
    ScaleReferrals,
    SensitivityInput,
    SetField,
    run,
    sensitivity_inputs,
    tornado,
)
from cib_sim.analysis.solver import NoSolution, Target, solve
from cib_sim.charts import tornado_chart
from cib_sim.scenario import parse_scenario

COST_BY_QUARTER = np.array([3125, 6250, 9375, 12500, 9375, 6250, 3125.0])


def closed_form(price: float = 1000.0, **uncertainty) -> "Scenario":  # noqa: F821
    return parse_scenario({
        "name": "closed form",
        "horizon": {"years": 5, "period": "quarter"},
        "outcomes": [{"name": "job", "baseline_rate": 0.2, "lag": 2.0, "price": price}],
        "partners": [{
            "name": "Solo", "referrals": 100, "capacity": 1000, "enrolment_end": 1.0, "service_length": 1.0,
            "cost": 500, "effect": {"job": {"mean": 0.3, "sd": 0.1}}, "maturity": {"kind": "immediate"},
        }],
        "commissioners": [{"name": "Payer", "shares": {"job": 1.0}}],
        "tranches": [{"name": "senior", "kind": "senior", "commitment": 1e6, "upside": True}],
        "uncertainty": {"enabled": False, **uncertainty},
    })


def price_for_irr(r: float) -> float:
    """The price at which the tranche's IRR is ``r`` a year (quarterly flows, see the docstring)."""
    v = (1 + r) ** -0.25
    return float((COST_BY_QUARTER * v ** np.arange(7)).sum() / (12.5 * (v ** np.arange(8, 12)).sum()))


@pytest.fixture(scope="module")
def s():
    return closed_form()


def totals(res) -> dict[str, float]:
    return {
        "enrolled": float(res.path["enrolled"].sum(axis=1)[0]),
        "achieved": float(res.path["achieved"].sum(axis=1)[0]),
        "paid": float(res.path["commissioner_paid"].sum(axis=1)[0]),
        "lost_to_withdrawal": float(res.path["lost_to_withdrawal"].sum(axis=1)[0]),
    }


def test_base_case_matches_hand_calculation(s):
    t = totals(run(s, 4, seed=1, keep_paths=0))
    assert t == {"enrolled": 100.0, "achieved": 50.0, "paid": 50_000.0, "lost_to_withdrawal": 0.0}


# --- shocks: each changes exactly what it says --------------------------------------------------


@pytest.mark.parametrize(
    "shock, expected",
    [
        (PartnerExit("Solo", 0.5), {"enrolled": 50.0, "achieved": 25.0, "paid": 25_000.0}),
        (CommissionerWithdrawal("Payer", 2.5), {"enrolled": 100.0, "achieved": 50.0, "paid": 25_000.0, "lost_to_withdrawal": 25_000.0}),
        (ScaleEffects(0.5), {"achieved": 35.0, "paid": 35_000.0}),
        (ScaleReferrals(0.5), {"enrolled": 50.0, "achieved": 25.0}),
        (PriceCut(0.1), {"achieved": 50.0, "paid": 45_000.0}),
        (MaturityDelay(10), {"achieved": 20.0, "paid": 20_000.0}),  # effect never arrives: baseline only
        (SetField("outcomes.job.price", 2000.0), {"paid": 100_000.0}),
        (PriceCut(0.5) + ScaleEffects(0.5), {"achieved": 35.0, "paid": 17_500.0}),
    ],
    ids=lambda x: getattr(x, "name", ""),
)
def test_shock_changes_exactly_what_it_says(s, shock, expected):
    got = totals(run(s, 4, seed=1, shock=shock, keep_paths=0))
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-12), k


def test_partner_exit_beyond_horizon_is_refused_not_ignored(s):
    # An exit after the end would change nothing: a stress test of it is a mistake, said so.
    with pytest.raises(ValueError, match="shock 'Solo exits at year 99': year 99 is outside the contract"):
        run(s, 4, seed=1, shock=PartnerExit("Solo", 99), keep_paths=0)
    last = (s.horizon.n_periods - 1) / s.horizon.periods_per_year
    run(s, 4, seed=1, shock=PartnerExit("Solo", last), keep_paths=0)  # the last period is in


def test_maturity_delay_shifts_logistic_half_maturity(s):
    logistic = s.model_copy(update={"partners": [s.partners[0].model_copy(update={"maturity": s.partners[0].maturity.model_copy(update={"kind": "logistic", "half_maturity": 2.0})})]})
    assert MaturityDelay(1.5).apply_scenario(logistic).partners[0].maturity.half_maturity == 3.5
    assert MaturityDelay(-5).apply_scenario(logistic).partners[0].maturity.half_maturity == 0.0


def test_correlation_shock_sets_rho(s):
    assert Correlation(0.9).apply_scenario(s).uncertainty.rho == 0.9


# --- tornado ---------------------------------------------------------------------------------


def test_tornado_on_closed_form(s):
    df = tornado(s, "contract/outcome_payments_mean", n_paths=4, seed=1)
    assert df.attrs["metric"] == "outcome_payments_mean"
    rows = df.set_index("input")
    # effect 0.3 +- sd 0.1: success 0.4 / 0.6 of 100 participants at 1000
    assert rows.loc["effect: Solo / job", ["low", "high"]].tolist() == pytest.approx([40_000, 60_000])
    assert rows.loc["referrals", ["low", "high"]].tolist() == pytest.approx([40_000, 60_000])
    assert (df["base"] == 50_000).all()
    assert df["swing"].is_monotonic_decreasing
    # no randomness switched on: no correlation or hazard inputs to vary
    assert set(rows.index) == {"effect: Solo / job", "referrals"}


def test_tornado_custom_inputs_and_chart(s):
    inputs = [
        SensitivityInput("price", SetField("outcomes.job.price", 500.0), SetField("outcomes.job.price", 1500.0), "500", "1500"),
        *sensitivity_inputs(s),
    ]
    df = tornado(s, "contract/outcome_payments_mean", inputs=inputs, n_paths=4)
    assert df["input"].iloc[0] == "price" and df["swing"].iloc[0] == pytest.approx(50_000)
    spec = tornado_chart(df).to_dict()
    bars = spec["layer"][0]
    assert bars["encoding"]["y"]["sort"] == list(df["input"])
    assert bars["encoding"]["x2"]["field"] == "base"
    assert "outcome_payments_mean" in spec["title"]
    with pytest.raises(ValueError, match="missing"):
        tornado_chart(pd.DataFrame({"input": ["a"]}))


def test_tornado_rejects_several_metrics(s):
    with pytest.raises(ValueError, match="one metric"):
        tornado(s, ["tranche/0/prob_loss", "contract/outcome_payments_mean"], n_paths=4)


# --- the solver against closed forms ----------------------------------------------------------


def test_solver_finds_price_for_multiple(s):
    # multiple = 50 p / 50,000, so 1.2 at p = 1200
    res = solve(s, "outcomes.job.price", "tranche/senior/multiple_mean=1.2", (100, 5000), n_paths=8, xtol=1e-6)
    assert res.ok and res.value == pytest.approx(1200, abs=1e-5)
    assert res.achieved == pytest.approx(1.2, abs=1e-9)
    assert res.std_error == pytest.approx(0, abs=1e-9)  # every path is the same
    assert res.scenario.outcomes[0].price == pytest.approx(1200, abs=1e-5)
    assert "1200" in res.message and "multiple_mean[senior]" in res.message


def test_solver_price_multiplier_for_commissioner_budget(s):
    # spend = 50 x 1000 x m; the 95th percentile equals a budget of 60,000 at m = 1.2
    res = solve(s, "price_multiplier", Target.spend_quantile(60_000), n_paths=8, xtol=1e-9)
    assert res.ok and res.value == pytest.approx(1.2, abs=1e-8)
    res = solve(s, "price_multiplier", Target.spend_quantile(60_000, commissioner="Payer"), n_paths=8, xtol=1e-9)
    assert res.value == pytest.approx(1.2, abs=1e-8)


def test_solver_prob_loss_steps_at_break_even(s):
    # Every path loses below m = 1 (50,000 back for 50,000 in), none above: the step is at 1.
    res = solve(s, "price_multiplier", Target.prob_loss("senior", 0.05), (0.5, 2.0), n_paths=8, xtol=1e-7)
    assert res.ok and res.value == pytest.approx(1.0, abs=1e-6)
    assert res.achieved in (0.0, 1.0)


def test_solver_median_irr_closed_form(s):
    expected = price_for_irr(0.06)
    res = solve(s, "outcomes.job.price", Target.median_irr(0, 0.06), (500, 3000), n_paths=8, xtol=1e-7)
    assert res.ok and res.value == pytest.approx(expected, rel=1e-6)


def test_solver_reports_no_solution_in_bounds(s):
    res = solve(s, "price_multiplier", "tranche/0/multiple_mean=1.2", (2.0, 3.0), n_paths=8)
    assert res.status == "no_solution" and not res.ok and math.isnan(res.value)
    assert "no solution" in res.message and "[2, 3]" in res.message and "ranges over [2, 3]" in res.message
    with pytest.raises(NoSolution, match="no solution"):
        res.raise_for_status()
    with pytest.raises(NoSolution):
        solve(s, "price_multiplier", "tranche/0/multiple_mean=1.2", (2.0, 3.0), n_paths=8, strict=True)


def test_solver_with_a_function_lever(s):
    def double_referrals_then_price(scn, x):
        return SetField("outcomes.job.price", x).apply_scenario(ScaleReferrals(2.0).apply_scenario(scn))

    # twice the participants, twice the cost: the multiple is still 50 p / 50,000
    res = solve(s, double_referrals_then_price, "tranche/0/multiple_mean=1.5", (100, 5000), n_paths=8, xtol=1e-6)
    assert res.value == pytest.approx(1500, abs=1e-4) and res.lever == "double_referrals_then_price"


def test_solver_argument_errors(s):
    with pytest.raises(ValueError, match="bounds"):
        solve(s, "outcomes.job.price", "tranche/0/multiple_mean=1.2", n_paths=8)
    with pytest.raises(ValueError, match="expected 'group/name/metric=value'"):
        solve(s, "price_multiplier", "tranche/0/multiple_mean", n_paths=8)
    with pytest.raises(KeyError, match="outcomes.job.price"):
        solve(s, "outcomes.jbo.price", "tranche/0/multiple_mean=1.2", (1, 2), n_paths=8)
