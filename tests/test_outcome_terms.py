"""Outcome measurement terms: lump-sum schedules, count outcomes, comparison groups.

Hand-computed cases switch uncertainty off (``scenario_builders.base_dict``: 10 participants a year
enrol in years 0 and 1; with the partner's effect 0.3 each completer achieves ``job`` with
probability 0.5 against a baseline of 0.2). Then counts are their expectations, and a control
group's rate is the counterfactual rate exactly. For a count outcome the partner's effect (0.3) is
the share of events avoided: with a baseline of 2 events a year over a 2-year window (4 a
participant), a completer has 4 x 0.7 = 2.8 events, a cohort of 10 has 28, and 12 are avoided.

Statistical cases switch uncertainty on and check distributions against theory or against an
independent numpy Monte Carlo of the same contract rule.
"""

from __future__ import annotations

import numpy as np
import pytest
from scenario_builders import make_scenario, run, scenario_dict

from cib_sim import simulate
from cib_sim.engine.sample import sample_block
from cib_sim.scenario import (
    ScenarioError,
    parse_scenario,
    scenario_from_yaml,
    scenario_to_yaml,
)

COUNT = {"name": "job", "kind": "count", "baseline_rate": 2.0, "lag": 1.0, "price": 100.0,
         "count": {"per": "year", "window_years": 2.0, "instalments": 1}}


def count_scenario(**outcome):
    return make_scenario(**{"outcomes[0]": {**COUNT, **outcome}})


def earned(f):
    return f["earned"][0, :, 0]


def errors_of(**overrides):
    with pytest.raises(ScenarioError) as exc:
        make_scenario(**overrides)
    return exc.value.errors


# --- validation ------------------------------------------------------------------------------

STEPS = [{"min_improvement": 0.5, "amount": 3000.0}, {"min_improvement": 1.4, "amount": 5000.0}]


@pytest.mark.parametrize("outcome, path, words", [
    ({"payment_basis": "lump_sum"}, "outcomes[0].schedule", "needs at least one step"),
    ({"payment_basis": "lump_sum", "schedule": [STEPS[1], STEPS[0]]}, "outcomes[0].schedule[1].min_improvement",
     "strictly increasing"),
    ({"payment_basis": "lump_sum", "schedule": [STEPS[0], {"min_improvement": 0.5, "amount": 4000}]},
     "outcomes[0].schedule[1].min_improvement", "strictly increasing"),
    ({"payment_basis": "lump_sum", "schedule": [STEPS[0], {"min_improvement": 0.9, "amount": 1000}]},
     "outcomes[0].schedule[1].amount", "cannot earn less"),
    ({"payment_basis": "lump_sum", "schedule": [{"min_improvement": 0.1, "amount": -1}]},
     "outcomes[0].schedule[0].amount", "must be >= 0"),
    ({"schedule": STEPS}, "outcomes[0].schedule", "only used when payment_basis is 'lump_sum'"),
    ({"schedule_per": "programme"}, "outcomes[0].schedule_per", "only used when payment_basis is 'lump_sum'"),
    ({"kind": "count"}, "outcomes[0].count", "a count outcome needs its measurement"),
    ({"count": {"window_years": 1.0}}, "outcomes[0].count", "only used when kind is 'count'"),
    ({"baseline_rate": 1.5}, "outcomes[0].baseline_rate", "must be <= 1"),
    ({**COUNT, "count": {"instalments": 0}}, "outcomes[0].count.instalments", "must be >= 1"),
    ({**COUNT, "count": {"dispersion": 0.0}}, "outcomes[0].count.dispersion", "must be > 0"),
    ({**COUNT, "count": {"window_years": 0.0}}, "outcomes[0].count.window_years", "must be > 0"),
    ({**COUNT, "count": {"per": "month"}}, "outcomes[0].count.per", "'year' or 'window'"),
    ({"payment_basis": "above_baseline", "comparison": {"kind": "randomised"}}, "outcomes[0].comparison.size",
     "needs the size"),
    ({"payment_basis": "above_baseline", "comparison": {"size": 50}}, "outcomes[0].comparison.size",
     "only a randomised or matched"),
    ({"comparison": {"kind": "matched", "size": 50}}, "outcomes[0].comparison", "rate_card outcome pays every outcome"),
    ({"payment_basis": "above_baseline", "comparison": {"drift": 2.0}}, "outcomes[0].comparison.drift", "must be <= 1"),
    ({"payment_basis": "above_baseline", "comparison": {"drift_sd": -0.1}}, "outcomes[0].comparison.drift_sd",
     "must be >= 0"),
])
def test_invalid_terms_name_the_field(outcome, path, words):
    errs = errors_of(**{f"outcomes[0].{k}": v for k, v in outcome.items()})
    assert any(p == path and words in m for p, m in errs), errs


def test_valid_terms_round_trip_through_yaml():
    s = make_scenario(outcomes=[
        {**COUNT, "baseline_rate": 30.0, "payment_basis": "lump_sum", "schedule": STEPS, "schedule_per": "programme",
         "count": {"per": "window", "window_years": 2.0, "instalments": 2, "dispersion": 1.5},
         "comparison": {"kind": "randomised", "size": 200, "drift": -0.02, "drift_sd": 0.01}},
        {"name": "b", "baseline_rate": 0.2, "lag": 1.0, "price": 10.0, "payment_basis": "above_baseline",
         "comparison": {"kind": "historical", "drift": 0.01}},
    ], **{"commissioners[0].shares": {"job": 1.0, "b": 1.0}})
    assert scenario_from_yaml(scenario_to_yaml(s)) == s
    assert s.outcomes[0].baseline_events == 30.0 and s.outcomes[1].baseline_events == 0.2


# --- a. lump-sum schedules -------------------------------------------------------------------
# Each cohort's improvement is (0.5 - 0.2) / 0.2 = 1.5.


@pytest.mark.parametrize("steps, amount", [
    (STEPS, 5000.0),  # highest step reached: 1.4
    ([{"min_improvement": 0.5, "amount": 3000.0}, {"min_improvement": 1.6, "amount": 5000.0}], 3000.0),
    ([{"min_improvement": 1.5, "amount": 700.0}], 700.0),  # exactly on a step
    ([{"min_improvement": 1.51, "amount": 700.0}], 0.0),  # below the first step
])
def test_lump_sum_per_cohort(steps, amount):
    f = run(make_scenario(**{"outcomes[0].payment_basis": "lump_sum", "outcomes[0].schedule": steps}))
    np.testing.assert_allclose(earned(f), [0, amount, amount, 0, 0])


def test_lump_sum_per_cohort_is_capped_per_participant():
    f = run(make_scenario(**{"outcomes[0].payment_basis": "lump_sum", "outcomes[0].schedule": STEPS,
                             "outcomes[0].max_per_participant": 100.0}))
    np.testing.assert_allclose(earned(f), [0, 1000, 1000, 0, 0])  # 100 x 10 enrolled


def test_lump_sum_for_the_programme_is_paid_once_and_attributed_by_enrolments():
    # Two partners enrol 10 and 30 a year in years 0-1; all 80 together improve by 1.5: one lump
    # sum of 3,000, assessed a year after the last enrolment (period 2), attributed 1:3.
    q = {**scenario_dict()["partners"][0], "name": "Q", "referrals": 30.0}
    s = make_scenario(partners=[scenario_dict()["partners"][0], q], **{
        "outcomes[0].payment_basis": "lump_sum", "outcomes[0].schedule_per": "programme",
        "outcomes[0].schedule": [{"min_improvement": 0.5, "amount": 3000.0}, {"min_improvement": 1.6, "amount": 5000.0}]})
    f = run(s)
    np.testing.assert_allclose(earned(f), [0, 0, 3000, 0, 0])
    np.testing.assert_allclose(f["attributed"][0, 2], [750, 2250])


def test_lump_sum_on_a_count_outcome():
    # 12 of 40 baseline events avoided a cohort: a 30% fall.
    steps = [{"min_improvement": 0.25, "amount": 800.0}, {"min_improvement": 0.35, "amount": 2000.0}]
    f = run(count_scenario(payment_basis="lump_sum", schedule=steps))
    np.testing.assert_allclose(earned(f), [0, 800, 800, 0, 0])


# --- b. count outcomes -----------------------------------------------------------------------


def test_count_outcome_pays_per_event_avoided_in_instalments():
    # 12 events avoided a cohort x 100 = 1,200, in two instalments a year apart from the lag.
    s = count_scenario(count={"per": "year", "window_years": 2.0, "instalments": 2})
    f = run(s)
    np.testing.assert_allclose(earned(f), [0, 600, 1200, 600, 0])
    np.testing.assert_allclose(f["achieved"][0, :2, 0, 0], [28, 28])  # events recorded, by cohort
    np.testing.assert_allclose(f["counterfactual"][0], [80])  # 20 participants x 4
    np.testing.assert_allclose(f["commissioner_paid"][0, :, 0], [0, 600, 1200, 600, 0])


def test_count_baseline_per_window_equals_per_year_times_window():
    per_year = run(count_scenario())
    per_window = run(count_scenario(baseline_rate=4.0, count={"per": "window", "window_years": 2.0}))
    np.testing.assert_allclose(earned(per_year), [0, 1200, 1200, 0, 0])
    np.testing.assert_allclose(earned(per_window), earned(per_year))


def test_count_dropouts_avoid_nothing():
    # 5 completers x 2.8 + 5 dropouts x 4 = 34 events; 6 avoided.
    f = run(make_scenario(**{"outcomes[0]": COUNT, "partners[0].dropout": 0.5}))
    np.testing.assert_allclose(f["achieved"][0, :2, 0, 0], [34, 34])
    np.testing.assert_allclose(earned(f), [0, 600, 600, 0, 0])


def test_count_with_dispersion_has_the_same_expectation():
    a = run(count_scenario())
    b = run(count_scenario(count={**COUNT["count"], "dispersion": 0.5}))
    np.testing.assert_allclose(earned(a), earned(b))


@pytest.mark.parametrize("outcome, paid", [
    ({"payment_basis": "above_baseline", "threshold": 0.3}, 1200),  # a 30% fall: on the threshold
    ({"payment_basis": "above_baseline", "threshold": 0.31}, 0),
    ({"payment_basis": "above_baseline", "threshold": 1.2, "improvement": "absolute"}, 1200),  # 4 - 2.8 events
    ({"payment_basis": "above_baseline", "threshold": 1.21, "improvement": "absolute"}, 0),
    ({"payment_basis": "tiered", "tiers": [{"min_improvement": 0.1, "price": 50}, {"min_improvement": 0.4, "price": 80}]}, 600),
    ({"max_per_participant": 90.0}, 900),
])
def test_count_payment_bases(outcome, paid):
    f = run(count_scenario(**outcome))
    np.testing.assert_allclose(earned(f), [0, paid, paid, 0, 0])


def test_count_overall_threshold_pays_all_cohorts_at_the_end():
    # Each cohort falls by 30%, below the 35% cohort threshold; together they reach the 25% overall
    # threshold: at the last cohort's verification all 24 events avoided are paid.
    f = run(count_scenario(payment_basis="above_baseline", threshold=0.35, overall_threshold=0.25))
    np.testing.assert_allclose(earned(f), [0, 0, 2400, 0, 0])


def test_count_outcome_value_for_money_counts_events_avoided():
    s = count_scenario(fiscal_value=50.0)
    r = simulate(s, n_paths=1, seed=0)
    np.testing.assert_allclose(r.path["additional"][0], [24])  # 80 baseline events - 56 recorded
    assert r.metric("contract", s.name, "fiscal_value_mean") == pytest.approx(1200)
    # The payer's cost per outcome is per event avoided: 2,400 paid for 24 avoided.
    assert r.metric("commissioner", "C", "cost_per_outcome") == pytest.approx(100)
    assert r.summary().set_index(["group", "metric"]).loc[("outcome", "achieved_mean"), "unit"] == "events"


# --- c. comparison groups --------------------------------------------------------------------


def test_control_group_with_uncertainty_off_is_the_baseline():
    plain = run(make_scenario(**{"outcomes[0].payment_basis": "above_baseline", "outcomes[0].threshold": 1.0}))
    for kind in ("randomised", "matched"):
        s = make_scenario(**{"outcomes[0].payment_basis": "above_baseline", "outcomes[0].threshold": 1.0,
                             "outcomes[0].comparison": {"kind": kind, "size": 37}})
        np.testing.assert_allclose(earned(run(s)), earned(plain))
    counted = count_scenario(payment_basis="above_baseline", comparison={"kind": "matched", "size": 500})
    np.testing.assert_allclose(earned(run(counted)), [0, 1200, 1200, 0, 0])


def test_historical_baseline_with_drift_binary():
    # The world improves by 0.1 a year: the cohort enrolled at year 0.5 achieves 0.55, at 1.5
    # 0.65, while the contract still pays above the fixed 0.2: 3.5 and 4.5 above baseline.
    s = make_scenario(**{"outcomes[0].payment_basis": "above_baseline", "outcomes[0].comparison": {"drift": 0.1},
                         "outcomes[0].fiscal_value": 10.0})
    f = run(s)
    np.testing.assert_allclose(earned(f), [0, 3500, 4500, 0, 0])
    np.testing.assert_allclose(f["achieved"][0, :2, 0, 0], [5.5, 6.5])
    np.testing.assert_allclose(f["counterfactual"][0], [10 * 0.25 + 10 * 0.35])
    r = simulate(s, n_paths=1, seed=0)
    np.testing.assert_allclose(r.path["additional"][0], [12 - 6])  # against the true counterfactual


def test_historical_baseline_with_drift_count():
    # Baseline events fall by 10% of the baseline a year: 3.8 and 3.4 a participant at years 0.5
    # and 1.5; completers 0.7 of that; paid against the fixed 40 a cohort.
    f = run(count_scenario(comparison={"drift": -0.1}))
    np.testing.assert_allclose(f["achieved"][0, :2, 0, 0], [26.6, 23.8])
    np.testing.assert_allclose(earned(f), [0, 1340, 1620, 0, 0])


def test_control_group_measures_against_its_drifting_rate():
    # A contemporaneous control group shares the drift: with uncertainty off it measures the
    # drifted counterfactual, so the treated cohorts are paid only for the partner's own effect.
    s = make_scenario(**{"outcomes[0].payment_basis": "above_baseline",
                         "outcomes[0].comparison": {"kind": "randomised", "size": 100, "drift": 0.1}})
    np.testing.assert_allclose(earned(run(s)), [0, 3000, 3000, 0, 0])


# --- the measurement draws leave every other draw alone ----------------------------------------


def test_measurement_draws_do_not_move_existing_streams():
    base = make_scenario(uncertainty={"enabled": True})
    new = make_scenario(uncertainty={"enabled": True}, **{
        "outcomes[0].payment_basis": "above_baseline",
        "outcomes[0].comparison": {"kind": "randomised", "size": 50, "drift": 0.01, "drift_sd": 0.02}})
    a, b = sample_block(base, np.random.SeedSequence(4), 64), sample_block(new, np.random.SeedSequence(4), 64)
    for name in ("effect", "half_maturity", "referral_multiplier", "exit_period", "withdraw_period", "z_referrals",
                 "z_dropouts", "z_outcomes"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.drift is None and a.z_control is None
    assert b.drift.shape == (64, 1) and b.z_control.shape == (5, 64, 1, 1)
    # Exact counts draw extra normals on the main stream; the measurement stream is unmoved.
    c = sample_block(new, np.random.SeedSequence(4), 64, exact=True)
    np.testing.assert_array_equal(b.z_control, c.z_control)
    np.testing.assert_array_equal(b.drift, c.drift)


# --- statistical: uncertainty on -------------------------------------------------------------

# Capacity binds: 1,000 referrals a year for 10 places, so every period enrols exactly 10.
FULL = {"partners[0].referrals": 1000.0, "partners[0].capacity": 10.0, "uncertainty": {"enabled": True, "rho": 0.0}}
N_STAT = 4000


@pytest.mark.parametrize("mode", ["exact", "approx"])
@pytest.mark.parametrize("dispersion", [None, 2.0])
def test_count_totals_are_negative_binomial(mode, dispersion):
    # Baseline 2 a year over a 1-year window; completers 1.4; a cohort of 10: mean 14, variance
    # 10 (1.4 + 1.4^2 / k) (Poisson: 14).
    s = make_scenario(**FULL, **{"outcomes[0]": {**COUNT, "count": {"window_years": 1.0, "dispersion": dispersion}}})
    f = run(s, n_paths=N_STAT, seed=8, mode=mode)
    x = f["achieved"][:, 0, 0, 0]
    assert (f["enrolled"][:, 0, 0] == 10).all()
    var = 14.0 if dispersion is None else 10 * (1.4 + 1.96 / dispersion)
    assert abs(x.mean() - 14.0) < 4 * np.sqrt(var / N_STAT)
    assert x.var(ddof=1) == pytest.approx(var, rel=0.1)
    assert (x == np.rint(x)).all() and (x >= 0).all()


@pytest.mark.parametrize("mode", ["exact", "approx"])
def test_control_group_sampling_error_matches_an_independent_monte_carlo(mode):
    # Treated cohort: 10 at p = 0.5; control group of 40 at 0.2. Paid 1,000 per outcome above the
    # control's rate x 10 if the relative improvement over the control rate reaches 1.0.
    s = make_scenario(**FULL, **{"outcomes[0].payment_basis": "above_baseline", "outcomes[0].threshold": 1.0,
                                 "outcomes[0].comparison": {"kind": "randomised", "size": 40}})
    f = run(s, n_paths=N_STAT, seed=9, mode=mode)
    pay = f["earned"][:, 1, 0]  # the cohort enrolled in period 0, verified in period 1
    rng = np.random.default_rng(1)
    a, c = rng.binomial(10, 0.5, 400_000), rng.binomial(40, 0.2, 400_000) / 40
    with np.errstate(divide="ignore", invalid="ignore"):
        imp = np.where(c > 0, (a / 10 - c) / np.where(c > 0, c, 1), np.where(a > 0, np.inf, 0))
    ref = np.where(imp >= 1.0 - 1e-12, 1000 * np.maximum(0, a - 10 * c), 0.0)
    assert abs(pay.mean() - ref.mean()) < 4 * np.sqrt(pay.var() / N_STAT + ref.var() / ref.size)
    p_pay, p_ref = (pay > 0).mean(), (ref > 0).mean()
    assert abs(p_pay - p_ref) < 4 * np.sqrt(p_ref * (1 - p_ref) / N_STAT) + (0.02 if mode == "approx" else 0)
    assert 0.2 < p_ref < 0.9  # threshold risk is real: sometimes missed, sometimes met


def test_drawn_drift_spreads_outcomes_across_paths():
    s = make_scenario(**FULL, **{"outcomes[0].payment_basis": "above_baseline",
                                 "outcomes[0].comparison": {"drift": 0.02, "drift_sd": 0.05}})
    d = sample_block(s, np.random.SeedSequence(3), N_STAT)
    assert d.drift.mean() == pytest.approx(0.02, abs=4 * 0.05 / np.sqrt(N_STAT))
    assert d.drift.std() == pytest.approx(0.05, rel=0.08)
    f = run(s, n_paths=N_STAT, seed=3, mode="exact")
    # Second year's cohort (period 1, year 1.5): 10 x (0.5 + drift x 1.5) on average.
    x = f["achieved"][:, 1, 0, 0]
    assert x.mean() == pytest.approx(10 * (0.5 + 0.02 * 1.5), abs=4 * x.std() / np.sqrt(N_STAT))
    slope = np.polyfit(d.drift[:, 0], x, 1)[0]
    assert slope == pytest.approx(15.0, rel=0.15)  # 10 participants x 1.5 years


def test_readme_examples_of_the_outcome_terms_validate():
    """Each one-line YAML example in README's *Outcome measurement terms* is a valid outcome."""
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text.split("### Outcome measurement terms", 1)[1].split("\n### ", 1)[0]
    examples = re.findall(r"`(\{name: .*?\})`", section)
    assert len(examples) == 4
    for ex in examples:
        o = yaml.safe_load(ex)
        d = scenario_dict(outcomes=[o])
        d["commissioners"][0]["shares"] = {o["name"]: 1.0}
        d["partners"][0]["effect"] = {o["name"]: {"mean": 0.1}}
        s = parse_scenario(d)
        assert run(s)["earned"].shape[2] == 1


def test_headline_maximum_payment_counts_lump_sums_and_events():
    from cib_sim.deals.headline import max_outcome_payment

    per_cohort = make_scenario(**{"outcomes[0].payment_basis": "lump_sum", "outcomes[0].schedule": STEPS})
    assert max_outcome_payment(per_cohort, 20) == pytest.approx(2 * 5000)  # two yearly cohorts
    programme = make_scenario(**{"outcomes[0].payment_basis": "lump_sum", "outcomes[0].schedule": STEPS,
                                 "outcomes[0].schedule_per": "programme"})
    assert max_outcome_payment(programme, 20) == pytest.approx(5000)
    assert max_outcome_payment(count_scenario(), 20) == pytest.approx(20 * 4 * 100)  # every baseline event avoided
