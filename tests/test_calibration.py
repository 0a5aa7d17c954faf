"""The INDIGO scenario builder and the reference-class calibration: scenarios from real records,
and the scores (CRPS, PIT, coverage) checked on synthetic data where the truth is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cib_sim import simulate
from cib_sim.deals import payment_projects
from cib_sim.deals.builder import (
    DEFAULT_PRIOR,
    PRIOR_KEYS,
    indigo_build,
    scenario_from_indigo,
)
from cib_sim.deals.reference_class import (
    coverage,
    crps_ensemble,
    load_reference_class,
    observed_targets,
    pit_values,
    scenario_shares,
)
from cib_sim.scenario import Scenario

WLZ = "INDIGO-POJ-0184"
SKILL_MILL = "INDIGO-POJ-0195"  # the one payment project with published prices


# ---------------------------------------------------------------------------------------------
# The builder


def test_builder_uses_published_terms_for_wlz():
    b = indigo_build(WLZ)
    s = b.scenario
    assert isinstance(s, Scenario)
    assert sum(c.total_cap for c in s.commissioners) == pytest.approx(16_244_960)
    assert sum(t.commitment for t in s.capital_tranches) == pytest.approx(1_815_000)
    assert s.horizon.start.isoformat() == "2019-08-01" and s.horizon.period == "month"
    assert len(s.outcomes) == 6  # six published metrics
    assert [c.name for c in s.commissioners] == ["INDIGO-ORG-0171"]
    # where every number came from
    assert b.sources["commissioners[*].total_cap"].startswith("indigo:")
    assert b.sources["partners[0].effect"].startswith("prior:")
    assert b.sources["partners[0].exit_hazard"].startswith("prior:")
    assert set(b.prior) == set(PRIOR_KEYS)


def test_published_prices_are_used():
    b = indigo_build(SKILL_MILL)
    prices = {o.name: o.price for o in b.scenario.outcomes}
    assert prices["metric_1"] == 4390 and prices["metric_4"] == 9340
    assert b.sources["outcomes[0].price"] == "indigo: published price"


def test_investor_return_is_capped_as_published_or_at_the_class_median():
    # Skill Mill publishes 11% (principal plus net returns); WLZ publishes none, so its investors
    # get the median of the six maximum IRRs INDIGO's deals publish (2%, 6.6%, 7.5%, 8%, 8%, 15%).
    assert indigo_build(SKILL_MILL).scenario.tranches[0].cap_irr == pytest.approx(0.11)
    b = indigo_build(WLZ)
    assert b.scenario.tranches[0].cap_irr == pytest.approx(0.0775)
    assert b.sources["tranches[0].cap_irr"] == "prior: median maximum IRR of the 6 INDIGO deals that publish one"
    # What investors do not take stays with the provider: payers pay gross, with no rebates.
    from cib_sim import simulate

    r = simulate(b.scenario, 300, seed=2)
    assert abs(r.metric("commissioner", b.scenario.commissioners[0].name, "rebate_mean")) < 1e-6  # rounding dust
    assert r.metric("contract", b.scenario.name, "excess_mean") > 0.0
    assert r.metric("tranche", "Investors", "irr_p95") <= 0.0775 + 1e-9


def test_prior_overrides_and_unknown_keys():
    s = scenario_from_indigo(WLZ, {"dropout": 0.3, "payment_lag": 0.5})
    assert s.partners[0].dropout == 0.3
    assert all(c.payment_lag == 0.5 for c in s.commissioners)
    with pytest.raises(ValueError, match="unknown prior"):
        indigo_build(WLZ, {"dropuot": 0.3})
    with pytest.raises(KeyError):
        indigo_build("INDIGO-POJ-9999")


def test_without_published_maximum_refuses():
    with pytest.raises(ValueError, match="maximum outcome payment"):
        indigo_build("INDIGO-POJ-0122")  # I-Aspire: no maximum in INDIGO


def test_every_payment_project_builds_and_simulates():
    months = (12, 24, 36, 48)
    for pid in payment_projects()["project_id"]:
        s = scenario_from_indigo(pid)
        sh = scenario_shares(s, months, n_paths=40, seed=3)
        assert sh.shape == (4, 40), pid
        assert np.isfinite(sh).all() and (sh >= -1e-12).all() and (sh <= 1 + 1e-9).all(), pid
        assert (np.diff(sh, axis=0) >= -1e-12).all(), pid  # cumulative
    # and through the public simulate
    r = simulate(scenario_from_indigo(WLZ), n_paths=50, seed=1)
    assert r.metric("commissioner", "INDIGO-ORG-0171", "paid_mean") > 0


def test_default_prior_is_complete():
    assert set(DEFAULT_PRIOR) == set(PRIOR_KEYS)


# ---------------------------------------------------------------------------------------------
# Scores on synthetic data


def test_crps_known_values():
    # one sample: CRPS is the absolute error
    assert crps_ensemble(np.array([0.3]), 0.5) == pytest.approx(0.2)
    # a perfect point forecast scores zero
    assert crps_ensemble(np.full(10, 0.4), 0.4) == pytest.approx(0.0)
    # uniform(0,1) ensemble, y = 0.5: exact CRPS = 1/12 ~ 0.0833
    x = (np.arange(10_000) + 0.5) / 10_000
    assert crps_ensemble(x, 0.5) == pytest.approx(1 / 12, abs=1e-4)
    # vectorised over leading axes, broadcasting y
    two = crps_ensemble(np.stack([x, x]), np.array([0.5, 0.0]))
    assert two[1] == pytest.approx(1 / 3, abs=1e-4)  # E|U| - E|U-U'|/2 = 1/2 - 1/6


def test_pit_and_coverage_are_nominal_when_forecasts_are_true():
    # Each "project" has its own true distribution (a point mass at zero mixed with a beta, like
    # early payments); the forecast ensemble is drawn from the truth, the observation too.
    rng = np.random.default_rng(7)
    n_obs, n_ens = 2000, 400
    a = rng.uniform(1, 5, n_obs)
    zero = rng.uniform(0, 0.4, n_obs)

    def draw(size):
        x = rng.beta(a[:, None], 2.0, size=(n_obs, size))
        return np.where(rng.uniform(size=(n_obs, size)) < zero[:, None], 0.0, x)

    ens, y = draw(n_ens), draw(1)[:, 0]
    pit = pit_values(ens, y, rng)
    assert coverage(pit, 0.5) == pytest.approx(0.5, abs=0.04)
    assert coverage(pit, 0.8) == pytest.approx(0.8, abs=0.03)
    hist, _ = np.histogram(pit, bins=10, range=(0, 1))
    assert hist.min() > 0.7 * n_obs / 10 and hist.max() < 1.3 * n_obs / 10
    # an over-confident forecast (half the spread) covers too little
    narrow = np.median(ens, axis=1, keepdims=True) + 0.5 * (ens - np.median(ens, axis=1, keepdims=True))
    assert coverage(pit_values(narrow, y, rng), 0.5) < 0.4
    # and the true forecast has the better CRPS
    assert crps_ensemble(ens, y).mean() < crps_ensemble(narrow, y).mean()


def test_observed_targets_cover_every_payment_project():
    obs = observed_targets()
    assert obs["project_id"].nunique() == len(payment_projects())
    assert set(obs["target"]) == {"m12", "m24", "m36", "m48", "final"}
    w = obs[(obs["project_id"] == WLZ) & (obs["target"] == "final")].iloc[0]
    assert w["month"] == 53 and w["share"] == pytest.approx(15_147_230 / 16_244_960)


# ---------------------------------------------------------------------------------------------
# The shipped fit


def test_shipped_reference_class_is_consistent():
    rc = load_reference_class()
    assert set(rc.prior) == set(PRIOR_KEYS)
    s = rc.summary
    assert s["n_projects"] == len(payment_projects())
    assert len(rc.table) == s["n_targets"] == len(observed_targets())
    for k in ("coverage50", "coverage80"):
        assert 0 <= s[k] <= 1
    assert s["coverage50"] == pytest.approx(rc.table["in50"].mean())
    assert s["crps"] == pytest.approx(rc.table["crps"].mean())
    assert rc.pit_histogram()["count"].sum() == len(rc.table)
    # the builder's default prior is the shipped fit
    assert indigo_build(WLZ).prior == pytest.approx(rc.prior)
    assert math.isfinite(s["crps_baseline"])


def test_shipped_prior_reproduces_its_in_sample_score():
    from cib_sim.deals.reference_class import simulate_grid

    rc = load_reference_class()
    obs = observed_targets()
    sims = simulate_grid([rc.prior], obs, rc.settings["n_paths"], rc.settings["seed"])[0]
    assert crps_ensemble(sims, obs["share"].to_numpy()).mean() == pytest.approx(rc.summary["in_sample_crps"], rel=1e-9)


def test_how_similar_deals_paid_for_a_built_scenario():
    from cib_sim.deals import how_similar_deals_paid

    df = how_similar_deals_paid(scenario_from_indigo(WLZ), months=(12, 36), n_paths=100)
    assert list(df["month"]) == [12, 36]
    assert (df["ref_n"] >= 27).all()
    assert ((df["percentile"] >= 0) & (df["percentile"] <= 100)).all()
    assert (df["q05"] <= df["q95"]).all()


@pytest.mark.slow
def test_shipped_cross_validation_recomputes():
    """The whole fit at the shipped settings (about 40 minutes on one core)."""
    from cib_sim.deals.reference_class import fit

    rc = load_reference_class()
    res = fit(rc.settings["n_paths"], rc.settings["seed"], grid={k: tuple(v) for k, v in rc.grid.items()}, progress=False)
    assert res["prior"] == pytest.approx(rc.prior)
    for k in ("coverage50", "coverage80", "crps", "crps_baseline", "in_sample_crps"):
        assert res["summary"][k] == pytest.approx(rc.summary[k], rel=1e-9), k


def test_every_shipped_scenario_compares_itself_with_the_reference_class():
    """Issue 13's rule for shipped files: each says how its expected payments and investor loss
    probability compare with the reference class (and why where they differ)."""
    from cib_sim.scenario.library import library_folder, shipped_scenarios

    for name in shipped_scenarios():
        text = (library_folder() / f"{name}.yaml").read_text()
        head = text[: text.index("\nname:")]
        assert "Against the reference class" in head, name
        assert "loss probability" in head.lower(), name
        assert "expected" in head.lower(), name
