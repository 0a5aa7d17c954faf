"""The payment-term solver on a stochastic scenario: targets met, errors estimated, failures said.

The closed-form checks (uncertainty off) are in ``test_analysis_closed_form.py``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cib_sim.analysis import resolve_metrics, run, set_fields
from cib_sim.analysis.solver import Target, bootstrap_se, path_metric, solve
from cib_sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
N = 2048


@pytest.fixture(scope="module")
def wlz():
    return load_scenario(ROOT / "scenarios" / "west_london_zone.yaml")


def test_path_metrics_agree_with_the_summary(wlz):
    res = run(wlz, 1500, seed=2, keep_paths=0)
    specs = resolve_metrics(wlz, [
        "tranche/*/prob_loss", "tranche/*/expected_loss", "tranche/*/multiple_mean", "tranche/*/multiple_p5",
        "tranche/*/irr_p50", "tranche/*/irr_p95", "tranche/*/capital_drawn_mean", "commissioner/*/paid_mean",
        "commissioner/*/paid_p95", "contract/outcome_payments_mean", "contract/outcome_payments_p95",
    ])
    for spec in specs:
        fn = path_metric(wlz, spec)
        assert fn is not None, spec.label
        assert fn(res.path) == pytest.approx(spec(res), rel=1e-12, abs=1e-12), spec.label
    assert path_metric(wlz, resolve_metrics(wlz, "tranche/0/cvar_5")[0]) is None


def test_bootstrap_se_of_a_mean_matches_the_formula():
    x = np.random.default_rng(0).normal(size=4000)
    se = bootstrap_se(lambda p: float(p["x"].mean()), {"x": x}, n_boot=400)
    assert se == pytest.approx(x.std(ddof=1) / math.sqrt(x.size), rel=0.15)


# Bounds wide enough that the targets below are reached whatever reasonable calibration the
# scenario has: at a fifth of the prices every investor loses, at twice them none does.
PRICE_BOUNDS = (0.2, 2.0)


@pytest.fixture(scope="module")
def senior_5pct(wlz):
    return solve(wlz, "price_multiplier", Target.prob_loss(0, 0.05), PRICE_BOUNDS, n_paths=N, seed=1)


def test_solver_meets_a_prob_loss_target(wlz, senior_5pct):
    res = senior_5pct
    assert res.ok and PRICE_BOUNDS[0] < res.value < PRICE_BOUNDS[1]
    assert abs(res.achieved - 0.05) <= 2 / N
    # the target is crossed at the solution: above it a little lower, below it a little higher
    lo, hi = (run(set_fields(wlz, {"price_multiplier": x}), N, seed=1, keep_paths=0) for x in (res.value * 0.98, res.value * 1.02))
    assert lo.metric("tranche", "Senior social lender", "prob_loss") > 0.05 >= hi.metric("tranche", "Senior social lender", "prob_loss")
    assert 0 < res.std_error < 0.1 and res.ci95[0] < res.value < res.ci95[1]
    assert "Monte Carlo s.e." in res.message
    assert res.evaluations["x"].is_monotonic_increasing and len(res.evaluations) >= 5


def test_solver_on_a_tranche_commitment(wlz):
    # A larger senior tranche draws a larger share of the capital, so it loses more often. Aim
    # half-way between its loss probabilities at the bounds, so the test holds for any calibration.
    from cib_sim.analysis.fields import scale_prices

    wlz = scale_prices(wlz, 0.6)  # calibrated WLZ's senior almost never loses: thin its income
    lever, bounds = "tranches.Senior social lender.commitment", (1e5, 5e6)
    ends = [run(set_fields(wlz, {lever: x}), N, seed=1, keep_paths=0).metric("tranche", "Senior social lender", "prob_loss") for x in bounds]
    assert ends[1] - ends[0] > 20 / N, ends
    target = (ends[0] + ends[1]) / 2
    res = solve(wlz, lever, ("tranche/0/prob_loss", target), bounds, n_paths=N, error=None)
    assert res.ok and bounds[0] < res.value < bounds[1] and abs(res.achieved - target) <= 2 / N
    assert math.isnan(res.std_error) and "+-" not in res.message
    assert res.scenario.tranches[0].commitment == pytest.approx(res.value)


def test_solver_on_commissioner_budget(wlz):
    res = solve(wlz, "price_multiplier", Target.spend_quantile(12e6), PRICE_BOUNDS, n_paths=N)
    assert res.ok and res.achieved == pytest.approx(12e6, rel=1e-5)  # xtol: 1e-5 of the bounds
    assert 0 < res.std_error < 0.05


def test_solver_says_when_the_target_is_out_of_reach(wlz):
    res = solve(wlz, "price_multiplier", "tranche/2/irr_p50=0.06", (0.5, 1.5), n_paths=512)
    assert res.status == "no_solution" and "no solution" in res.message and "irr_p50[Foundation first loss]" in res.message
    assert res.to_dict()["status"] == "no_solution"


def test_solver_rejects_ambiguous_targets(wlz):
    with pytest.raises(ValueError, match="names 3 metrics"):
        solve(wlz, "price_multiplier", "tranche/*/prob_loss=0.05", n_paths=10)
    with pytest.raises(ValueError, match="low must be below high"):
        solve(wlz, "price_multiplier", "tranche/0/prob_loss=0.05", (2, 1), n_paths=10)
    with pytest.raises(ValueError, match="error"):
        solve(wlz, "price_multiplier", "tranche/0/prob_loss=0.05", (0.5, 1.5), n_paths=200, error="jackknife")


@pytest.mark.slow
def test_bootstrap_error_agrees_with_reseeding(wlz, senior_5pct):
    """The delta-method error and the spread of solutions on independent seeds agree in size."""
    res = solve(wlz, "price_multiplier", Target.prob_loss(0, 0.05), PRICE_BOUNDS, n_paths=N, seed=1, error="reseed", n_reseeds=8)
    assert res.value == senior_5pct.value  # same seed, same answer
    assert len(res.reseeded) == 8 and all(np.isfinite(res.reseeded))
    ratio = senior_5pct.std_error / res.std_error
    assert 0.25 < ratio < 4, (senior_5pct.std_error, res.std_error)
    # and the first solution sits among the others
    assert abs(senior_5pct.value - np.mean(res.reseeded)) < 4 * res.std_error
