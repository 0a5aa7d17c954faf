"""The reference model (participant-level simpy) and the fast engine agree; the check has teeth.

Cross-validation runs on every scenario in ``scenarios/`` (globbed, so a new scenario is checked
without editing this file), scaled down to about ``PARTICIPANTS`` participants a path so that the
slow model can run enough paths (see :func:`reduced`). For each scenario and each count mode of the
engine (``exact``, ``approx``) two checks must pass on outcomes achieved per outcome, total
commissioner payments, the senior tranche's multiple and the payment-weighted time of payments:

- two-sample: the reference model against an independent engine run (another seed): means within
  ``Z_MAX`` standard errors of the difference, and Kolmogorov-Smirnov p-value above ``P_MIN``;
- paired: the same seed and number of paths, so path i has the same parameter draws in both
  engines; the mean per-path difference is within ``Z_MAX`` standard errors. Parameter
  uncertainty cancels, so this sees biases of a fraction of a percent.

The heavier checks (full-size scenarios, more paths, the two strict-xfail discrepancy checks,
several minutes) are marked ``slow``; the project leaves slow tests out unless asked: ``-m slow``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scenario_builders import make_scenario, run

from cib_sim import simulate
from cib_sim.deals import expected_participants
from cib_sim.reference.des import (
    DesOptions,
    contract_payments,
    cross_check,
    journeys,
    paired_check,
    plan_units,
    run_block,
    simulate_des,
)
from cib_sim.results import Results
from cib_sim.run.plan import block_seeds
from cib_sim.scenario import Scenario, load_scenario

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
SCENARIOS = sorted(SCENARIO_DIR.glob("*.yaml"))
IDS = [p.stem for p in SCENARIOS]

# The engine takes partners' maturity at the middle of each enrolment period, the reference model
# (by default, ``DesOptions.maturity_at="enrolment"``) at each participant's own enrolment time:
# ``test_maturity_at_enrolment_time`` checks that the two agree, and
# ``test_maturity_at_period_start_understates_outcomes_while_partners_mature`` what the other
# setting, the start of the enrolment period, changes.
# One place where the engine approximates what the reference model does participant by participant
# is pinned by a strict-xfail test below, and meanwhile the cross-checks run the reference model
# with the engine's rule, so that they test everything else:
# - the engine pays each zone partner ``reach`` of every participant in service, the reference
#   model pays it for those it serves: same mean, but the noise raises the chance that a thin fund
#   runs out (``test_zone_partners_paid_for_participants_served``).
DES_OPTIONS = DesOptions(maturity_at="enrolment", zone_costs="expected")

PARTICIPANTS = 400  # expected participants a path after scaling down
N_DES = 600  # reference-model paths per scenario
N_ENGINE = 4096  # engine paths for the two-sample comparison
# The two-sample comparison's noise is mostly the N_DES paths' parameter draws, and every scenario
# starts its stream with the same common shock: seed 3, tried first, drew a common shock 2 standard
# errors high in all scenarios at once (the engine alone, seed 3 against seed 11, gave z = 3.5).
# Seed 1 is a typical draw; the paired check, which cancels parameter noise, passed with both.
SEED_DES, SEED_ENGINE = 1, 11
Z_MAX, P_MIN = 4.0, 1e-3
WORKERS = 2


def reduced(s: Scenario, participants: float = PARTICIPANTS) -> Scenario:
    """``s`` scaled down to about ``participants`` enrolled a path (never up).

    Referrals and capacity scale by the factor, and so do the money flows that do not scale with
    participants (fixed costs, backbone, capital, budgets and caps), so the contract keeps its
    shape: prices, rates, lags, windows and thresholds are unchanged. Uncertainty is switched on
    (with it off the engine's counts are expectations, not samples).
    """
    expected = expected_participants(s)
    f = min(1.0, participants / expected) if expected > 0 else 1.0
    d = s.model_dump()
    units = [d["delivery"]] if d["delivery"]["model"] == "zone" else d["partners"]
    for u in units:
        for k in ("referrals", "capacity"):
            if u[k] is not None:
                u[k] *= f
    for p in d["partners"]:
        p["fixed_cost"] *= f
    d["backbone"]["cost"] *= f
    for t in d["tranches"]:
        t["commitment"] *= f
    for c in d["commissioners"]:
        for k in ("annual_budget", "total_cap"):
            if c[k] is not None:
                c[k] *= f
    d["uncertainty"]["enabled"] = True
    return Scenario.model_validate(d)


def disagreements(des: Results, engine: Results, engine_paired: Results | None = None) -> list[str]:
    """What fails the cross-check (empty: the two agree). ``engine`` is an independent run;
    ``engine_paired`` (optional) has ``des``'s seed and number of paths."""
    bad = [
        f"{r.measure}: means {r.mean_a:.6g} vs {r.mean_b:.6g} (z = {r.z:.2f}), KS p = {r.ks_p:.2g}"
        for r in cross_check(des, engine, Z_MAX, P_MIN).itertuples()
        if not r.ok
    ]
    if engine_paired is not None:
        bad += [
            f"{r.measure}: paired mean difference {r.mean_diff:.4g} (z = {r.z:.2f})"
            for r in paired_check(des, engine_paired, Z_MAX).itertuples()
            if not r.ok
        ]
    return bad


@cache
def _scenario(path: str) -> Scenario:
    return reduced(load_scenario(path))


@cache
def _des(path: str) -> Results:
    return simulate_des(_scenario(path), N_DES, SEED_DES, workers=WORKERS, keep_paths=N_DES, options=DES_OPTIONS)


@cache
def _engine(path: str, mode: str, paired: bool) -> Results:
    n, seed = (N_DES, SEED_DES) if paired else (N_ENGINE, SEED_ENGINE)
    return simulate(_scenario(path), n, seed, mode=mode, keep_paths=n)




def test_there_are_scenarios_to_check():
    assert SCENARIOS, f"no scenarios in {SCENARIO_DIR}"


# --------------------------------------------------------------------------------------------
# Cross-validation on every reference scenario


@pytest.mark.parametrize("mode", ["exact", "approx"])
@pytest.mark.parametrize("path", SCENARIOS, ids=IDS)
def test_reference_model_agrees_with_engine(path: Path, mode: str):
    des = _des(str(path))
    bad = disagreements(des, _engine(str(path), mode, False), _engine(str(path), mode, True))
    assert not bad, f"{path.stem} ({mode} counts), reference model vs engine:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", SCENARIOS, ids=IDS)
def test_engine_payments_match_participant_account_exactly(path: Path):
    """The engine's rate card and ledger, run on the reference model's cohorts, pay exactly what
    an independent participant-level account of verification and payment says, path by path."""
    s = _scenario(str(path))
    flows, dl = run_block(s, block_seeds(5, 12)[0], 12, options=DES_OPTIONS)
    scale = max(1.0, float(np.abs(flows["commissioner_paid"]).max()))
    for n in range(12):
        acc = contract_payments(s, dl.enrolled[n], dl.achieved[n], dl.draws.withdraw_period[n], dl.draws, n)
        np.testing.assert_allclose(acc.earned, flows["earned"][n], rtol=0, atol=1e-9 * scale)
        np.testing.assert_allclose(acc.paid, flows["commissioner_paid"][n], rtol=0, atol=1e-9 * scale)
        np.testing.assert_allclose(acc.earned_after_horizon, flows["earned_after_horizon"][n], rtol=0, atol=1e-9 * scale)
        np.testing.assert_allclose(acc.due_after_horizon, flows["due_after_horizon"][n], rtol=0, atol=1e-9 * scale)
        np.testing.assert_allclose(acc.lost_to_caps, flows["lost_to_caps"][n], rtol=0, atol=1e-9 * scale)
        np.testing.assert_allclose(acc.lost_to_withdrawal, flows["lost_to_withdrawal"][n], rtol=0, atol=1e-9 * scale)


@pytest.mark.parametrize("path", SCENARIOS, ids=IDS)
def test_fixed_costs_match_engine(path: Path):
    """Fixed costs are an accounting rule, not a participant's behaviour: the same as the
    engine's in every period, whichever paths have stopped."""
    from cib_sim.engine.delivery import DeliveryState

    s = _scenario(str(path))
    n = 16
    _, dl = run_block(s, block_seeds(6, n)[0], n, options=DES_OPTIONS)
    engine = DeliveryState(s, dl.draws, "exact")
    stopped = np.arange(n) % 3 == 0
    for t in range(s.horizon.n_periods):
        np.testing.assert_allclose(dl.fixed_costs(t, stopped), engine.fixed_costs(t, stopped), err_msg=f"period {t}")


# --------------------------------------------------------------------------------------------
# The check has teeth: deliberately wrong reference models are caught

WLZ = SCENARIO_DIR / "west_london_zone.yaml"
N_TEETH = 300


@cache
def _teeth_scenario() -> Scenario:
    return reduced(load_scenario(WLZ), 150)


def test_check_detects_capacity_ignored():
    s = _teeth_scenario()
    wrong = simulate_des(s, N_TEETH, SEED_DES, workers=WORKERS, keep_paths=N_TEETH,
                         options=replace(DES_OPTIONS, ignore_capacity=True))
    bad = disagreements(wrong, simulate(s, N_ENGINE, SEED_ENGINE, mode="exact", keep_paths=N_ENGINE))
    assert bad, "ignoring capacity went unnoticed"


def test_check_detects_outcome_lag_off_by_one_period():
    s = _teeth_scenario()
    ppy = s.horizon.periods_per_year
    late = s.model_copy(update={"outcomes": [o.model_copy(update={"lag": o.lag + 1 / ppy}) for o in s.outcomes]})
    wrong = simulate_des(late, N_TEETH, SEED_DES, workers=WORKERS, keep_paths=N_TEETH, options=DES_OPTIONS)
    wrong.scenario = s  # compared as if it were the same contract
    bad = disagreements(wrong, simulate(s, N_ENGINE, SEED_ENGINE, mode="exact", keep_paths=N_ENGINE))
    assert any(b.startswith("payment_time") for b in bad), bad


def test_check_passes_the_correct_model_on_the_same_runs():
    """The control for the two teeth tests: same scenario, sizes and seeds, correct model."""
    s = _teeth_scenario()
    right = simulate_des(s, N_TEETH, SEED_DES, workers=WORKERS, keep_paths=N_TEETH, options=DES_OPTIONS)
    assert not disagreements(right, simulate(s, N_ENGINE, SEED_ENGINE, mode="exact", keep_paths=N_ENGINE))


# --------------------------------------------------------------------------------------------
# Discrepancies found between the engines


def test_outcome_with_lag_under_half_a_period_is_paid_in_the_enrolment_period():
    s = make_scenario(**{"outcomes[0].lag": 0.0, "uncertainty": {"enabled": True}})
    flows, dl = run_block(s, block_seeds(1, 4)[0], 4)
    assert dl.achieved.sum() > 0
    for n in range(4):
        acc = contract_payments(s, dl.enrolled[n], dl.achieved[n], dl.draws.withdraw_period[n], dl.draws, n)
        np.testing.assert_allclose(acc.paid, flows["commissioner_paid"][n])
        # Every outcome is paid in the period its participant enrolled (price 1000, no lags).
        np.testing.assert_allclose(flows["commissioner_paid"][n, :, 0], 1000.0 * dl.achieved[n, :, 0, 0])


def test_maturity_at_period_start_understates_outcomes_while_partners_mature():
    """``maturity_at`` (default ``enrolment``): a participant's chance of success uses its
    partner's maturity at its own enrolment time; ``period_start`` uses the start of its
    enrolment period, which is earlier, so while partners mature it understates outcomes.

    Quarterly; 1,000 referrals a year enrolled at once (capacity never binds) for two years, so
    enrolment times are uniform on [0, 2) years; no uncertainty, so every path has the maturity
    m(t) = expit((t - 0.75) / 0.4), and a completer succeeds with probability 0.2 + 0.3 m(t).
    By hand: the average of m over [0, 2) is 0.4 / 2 x [log(1 + e^((2 - 0.75) / 0.4))
    - log(1 + e^(-0.75 / 0.4))]; over the quarter starts it is the mean of m(q / 4), q = 0..7.
    """
    assert DesOptions().maturity_at == "enrolment"
    half, steep = 0.75, 0.4
    maturing = {"kind": "logistic", "half_maturity": half, "steepness": steep}
    s = make_scenario(
        horizon={"years": 3, "period": "quarter"},
        **{"partners[0].referrals": 1000.0, "partners[0].capacity": 10_000.0, "partners[0].cost": 1.0,
           "partners[0].maturity": maturing},
    )
    n = 16
    seed = block_seeds(3, n)[0]
    _, own = run_block(s, seed, n)
    _, start = run_block(s, seed, n, options=DesOptions(maturity_at="period_start"))
    # Same participants, same uniforms: only the success probabilities differ, and they are lower.
    np.testing.assert_array_equal(start.enrolled, own.enrolled)
    assert (start.achieved <= own.achieved).all()
    enrolled = own.enrolled.sum()
    assert enrolled == pytest.approx(n * 2000, rel=0.03)

    mean_m_own = steep / 2 * (np.log1p(np.exp((2 - half) / steep)) - np.log1p(np.exp(-half / steep)))
    mean_m_start = np.mean([1 / (1 + np.exp(-(q / 4 - half) / steep)) for q in range(8)])
    p_own, p_start = 0.2 + 0.3 * mean_m_own, 0.2 + 0.3 * mean_m_start
    assert p_own - p_start == pytest.approx(0.0156, abs=1e-4)  # 4% fewer outcomes at period start
    se = np.sqrt(p_own * (1 - p_own) / enrolled)
    assert abs(own.achieved.sum() / enrolled - p_own) < 4 * se
    assert abs(start.achieved.sum() / enrolled - p_start) < 4 * se
    # The paired difference: the participants succeeding only at their own enrolment time.
    d = p_own - p_start
    assert abs((own.achieved.sum() - start.achieved.sum()) / enrolled - d) < 4 * np.sqrt(d / enrolled)

    # The engine (maturity at mid-period) matches the participant's own time within 0.1%.
    f = run(s)
    engine_rate = f["achieved"].sum() / f["enrolled"].sum()
    assert engine_rate == pytest.approx(p_own, rel=1e-3) and engine_rate > p_start * 1.03

    # With no maturing (full effect at once) the option changes nothing at all.
    flat = make_scenario(horizon={"years": 3, "period": "quarter"}, **{"partners[0].referrals": 200.0})
    _, a = run_block(flat, seed, 4)
    _, b = run_block(flat, seed, 4, options=DesOptions(maturity_at="period_start"))
    np.testing.assert_array_equal(a.achieved, b.achieved)
    assert a.achieved.sum() > 0


@pytest.mark.slow
@pytest.mark.parametrize(("name", "n"), [("west_london_zone", 4000), ("rate_card_fund", 1500)])
def test_maturity_at_enrolment_time(name: str, n: int):
    """The engine's mid-period maturity against the reference model's maturity at each
    participant's own enrolment time (``DES_OPTIONS.maturity_at``, the default), with the power of
    a few thousand paths (the bias of the period-start rule was about 1% of payments)."""
    assert DES_OPTIONS.maturity_at == "enrolment"
    s = reduced(load_scenario(SCENARIO_DIR / f"{name}.yaml"), 150)
    natural = simulate_des(s, n, SEED_DES, workers=WORKERS, keep_paths=n, options=DES_OPTIONS)
    bad = disagreements(natural, simulate(s, N_ENGINE, SEED_ENGINE, mode="exact", keep_paths=N_ENGINE),
                        simulate(s, n, SEED_DES, mode="exact", keep_paths=n))
    assert not bad, "\n".join(bad)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="engine: zone partners are paid reach x caseload, without the noise "
                   "of who is actually served, so funding stops are understated in thin funds")
def test_zone_partners_paid_for_participants_served():
    # The bias is small (paying partners for who is served stops delivery on a few more paths:
    # about 0.5% fewer sign-ups here); 3,000 paths put it at z = -3.6, just inside the bar of 4,
    # so 6,000 paths, where sign-ups, payments and payment times stand at z = -4.4 to -5.2.
    from cib_sim.analysis.fields import scale_prices

    # A thin fund: WLZ calibrated to its real payments rarely runs out of money, so its prices
    # are cut to 60% (as in the stress tests) to bring funding stops back.
    s = scale_prices(reduced(load_scenario(WLZ), 150), 0.6)
    n = 6000
    served = simulate_des(s, n, 7, workers=WORKERS, keep_paths=n,
                          options=DesOptions(maturity_at="enrolment", zone_costs="served"))
    bad = disagreements(served, simulate(s, 16384, 17, mode="exact", keep_paths=16384),
                        simulate(s, n, 7, mode="exact", keep_paths=n))
    assert not bad, "\n".join(bad)


# --------------------------------------------------------------------------------------------
# Heavier cross-checks


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["exact", "approx"])
@pytest.mark.parametrize("path", SCENARIOS, ids=IDS)
def test_reference_model_agrees_with_engine_full_size(path: Path, mode: str):
    s = load_scenario(path)
    if not s.uncertainty.enabled:
        s = reduced(s, math.inf)
    n = 200
    des = _full_des(str(path))
    bad = disagreements(des, simulate(s, N_ENGINE, SEED_ENGINE, mode=mode, keep_paths=N_ENGINE),
                        simulate(s, n, SEED_DES, mode=mode, keep_paths=n))
    assert not bad, f"{path.stem} full size ({mode}):\n" + "\n".join(bad)


@cache
def _full_des(path: str) -> Results:
    s = load_scenario(path)
    if not s.uncertainty.enabled:
        s = reduced(s, math.inf)
    return simulate_des(s, 200, SEED_DES, workers=WORKERS, keep_paths=200, options=DES_OPTIONS)


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=IDS)
def test_reference_model_agrees_with_exact_engine_many_paths(path: Path):
    """More power: 3,000 paths of about 150 participants. Exact counts only: at this size the
    approx counts' Cornish-Fisher error on rare outcomes (cohorts of one or two outcomes) is
    real and visible (about +7% on the rate-card fund's 26-week jobs), so approx is checked at
    ``PARTICIPANTS`` and at full size instead."""
    s = reduced(load_scenario(path), 150)
    n = 3000
    des = simulate_des(s, n, 7, workers=WORKERS, keep_paths=n, options=DES_OPTIONS)
    bad = disagreements(des, simulate(s, 16384, 17, mode="exact", keep_paths=16384),
                        simulate(s, n, 7, mode="exact", keep_paths=n))
    assert not bad, f"{path.stem}:\n" + "\n".join(bad)


# --------------------------------------------------------------------------------------------
# The participant-level model itself


@cache
def _journeys(path: str, seed: int, which: int, n_paths: int) -> tuple[pd.DataFrame, Results]:
    s = _scenario(path)
    return journeys(s, seed, which, n_paths), simulate_des(s, n_paths, seed, keep_paths=n_paths)


def test_journeys_add_up_to_the_path_in_simulate_des():
    """Path i of ``journeys`` is path i of ``simulate_des``: enrolments by period, outcomes by
    cohort and the cash each commissioner paid each period."""
    s = _scenario(str(WLZ))
    j, r = _journeys(str(WLZ), 2, 3, 5)
    T, ppy = s.horizon.n_periods, s.horizon.periods_per_year
    enrolled = j[j.event == "enrolled"].groupby("period").size().reindex(range(T), fill_value=0)
    np.testing.assert_array_equal(enrolled.to_numpy(), r.kept["enrolled"][3].sum(axis=1))
    paid = j[j.event == "paid"].pivot_table(index="period", columns="commissioner", values="amount", aggfunc="sum")
    paid = paid.reindex(index=range(T), columns=[c.name for c in s.commissioners]).fillna(0.0)
    np.testing.assert_allclose(paid.to_numpy(), r.kept["commissioner_paid"][3], rtol=1e-9, atol=1e-6)
    # Each referral is referred once and then enrolled, abandoned or turned away, once.
    per = j[j.participant >= 0].groupby("participant").event.agg(list)
    assert all(ev[0] == "referred" and ev.count("referred") == 1 for ev in per)
    ends = per.map(lambda ev: sum(e in ("enrolled", "abandoned", "turned_away") for e in ev))
    assert set(ends) <= {0, 1}  # 0: still queued at the horizon
    assert (j.time.diff().fillna(0) >= -1e-12).all()  # sorted by time
    assert ((j.period == np.floor(j.time * ppy + 1e-9).astype(int)) | (j.event == "paid")).all()


def test_places_taken_never_exceed_capacity():
    path = str(WLZ)
    s = _scenario(path)
    j, _ = _journeys(path, 2, 3, 5)
    plan = plan_units(s)
    for u, unit in enumerate(["zone"] if s.delivery.model == "zone" else s.partner_names):
        ju = j[j.unit == unit]
        delta = pd.concat([
            pd.Series(1, index=ju.time[ju.event == "enrolled"]),
            pd.Series(-1, index=ju.time[ju.event.isin(["completed", "dropped_out"])]),
        ]).sort_index(kind="stable")
        # Leaving before joining at the same instant: release first.
        occupancy = delta.groupby(level=0).sum().cumsum()
        assert occupancy.max() <= plan.capacity[u]
        assert occupancy.max() >= plan.capacity[u] - 1, "capacity never binds: the test is not testing it"


def test_participant_rules_by_hand():
    """A small pipeline: capacity 3, 40 referrals a year, quarterly; one-year service (4
    periods), dropouts stay 2; a referral queues at most until the next period start
    (abandonment 1 a year, period rule)."""
    s = make_scenario(
        horizon={"years": 3, "period": "quarter"},
        partners=[{"name": "P", "referrals": 40.0, "capacity": 3.0, "enrolment_end": 2.0, "service_length": 1.0,
                   "dropout": 0.5, "abandonment": 1.0, "cost": 400.0, "effect": {"job": {"mean": 0.3}},
                   "maturity": {"kind": "immediate"}}],
        uncertainty={"enabled": True, "rho": 0.0},
    )
    j = journeys(s, seed=4)
    ppy = 4
    enrol = j[j.event == "enrolled"].set_index("participant").time
    for ev, stay in (("completed", 4), ("dropped_out", 2)):
        left = j[j.event == ev].set_index("participant").time
        np.testing.assert_allclose(left - enrol[left.index], stay / ppy)
    gave_up = j[j.event == "abandoned"].set_index("participant").time
    referred = j[j.event == "referred"].set_index("participant").time
    # Gave up exactly at the first period start after the referral.
    np.testing.assert_allclose(gave_up, (np.floor(referred[gave_up.index] * ppy + 1e-9) + 1) / ppy)
    assert len(gave_up) > 10 and (j.event == "dropped_out").any()
    # Nobody is referred outside the enrolment window (2 years), and the queue is cleared then.
    assert referred.max() < 2.0
    assert (j[j.event == "turned_away"].time == 2.0).all()


def test_zone_packages_only_include_partners_still_delivering():
    """Zone: a participant's package is drawn from partners alive at its enrolment period, and
    a partner is paid for exactly the participants in its packages while it delivers."""
    s = _scenario(str(WLZ))
    assert s.delivery.model == "zone"
    s = s.model_copy(update={"partners": [p.model_copy(update={"exit_hazard": 1.5}) for p in s.partners]})
    flows, dl = run_block(s, block_seeds(8, 16)[0], 16, options=DesOptions(zone_costs="served"))
    P = len(s.partners)
    for n, path_sim in enumerate(dl.paths):
        if flows["stop_period"][n] < s.horizon.n_periods:
            continue  # a shortfall pays committed costs pro rata
        exits = dl.draws.exit_period[n]
        served = np.zeros((s.horizon.n_periods, P))
        for p in path_sim.people:
            if p.period < 0:
                continue
            assert all(p.period < exits[i] for i in p.package)
            for i in p.package:
                served[p.period : min(p.period + p.stay, s.horizon.n_periods), i] += 1
        served *= np.arange(s.horizon.n_periods)[:, None] < exits[None, :]
        expected = served * dl.cost_per_period
        np.testing.assert_allclose(flows["partner_upfront"][n], expected[: flows["partner_upfront"].shape[1]], atol=1e-6)
    assert (dl.draws.exit_period < s.horizon.n_periods).any()


def test_same_results_whatever_the_workers_and_chunks():
    s = _scenario(str(WLZ))
    a = simulate_des(s, 40, 9, workers=1, chunk_size=7, keep_paths=40)
    b = simulate_des(s, 40, 9, workers=2, chunk_size=16, keep_paths=40)
    for k in a.path:
        np.testing.assert_array_equal(a.path[k], b.path[k], err_msg=k)
    np.testing.assert_array_equal(a.kept["commissioner_paid"], b.kept["commissioner_paid"])
    assert a.engine == "des" and a.mode == "participant" and a.n_paths == 40
    # The summary reads the reference model's paths as it reads the engine's: the same figures
    # whatever the workers, and the contract's mean payments are the mean of the paths' totals.
    pd.testing.assert_frame_equal(a.summary(), b.summary())
    paid = a.path["commissioner_paid"].sum(axis=1).mean()
    assert paid > 0 and a.metric("contract", s.name, "outcome_payments_mean") == pytest.approx(paid, rel=1e-12)
    for k, t in enumerate(s.capital_tranches):
        assert a.metric("tranche", t.name, "capital_drawn_mean") == pytest.approx(a.path["tranche_in"][:, k].mean(), rel=1e-12)


def test_delivery_stopped_for_lack_of_funds_cancels_that_periods_enrolments():
    """A fund too thin to pay for everyone: delivery stops in the reference model exactly as in
    the engine (the engine's waterfall decides), and no one enrols after the stop."""
    s = make_scenario(
        horizon={"years": 3, "period": "quarter"},
        **{"partners[0].referrals": 40.0, "partners[0].cost": 2000.0, "tranches[0].commitment": 30_000.0},
        uncertainty={"enabled": True, "rho": 0.0},
    )
    flows, dl = run_block(s, block_seeds(2, 8)[0], 8)
    stop = flows["stop_period"]
    assert (stop < s.horizon.n_periods).any()
    for n in range(8):
        assert dl.enrolled[n, stop[n]:].sum() == 0
        people = dl.paths[n].people
        assert all(p.period < stop[n] for p in people if p.status == "enrolled")


# --------------------------------------------------------------------------------------------
# Outcome measurement terms: counts, control groups, drift, lump sums, participant by participant


def _terms_scenario() -> Scenario:
    """Two partners, quarterly; a binary outcome paid above a randomised control group of 60 a
    cohort, the world drifting by a drawn amount; a negative binomial count outcome paid per
    event avoided in two instalments; a lump sum for the whole programme. Uncertainty on."""
    partner = {"referrals": 120.0, "capacity": 40.0, "enrolment_end": 2.0, "service_length": 0.5, "dropout": 0.2,
               "abandonment": 0.5, "cost": 300.0, "maturity": {"kind": "logistic", "half_maturity": 0.5, "steepness": 0.3}}
    return make_scenario(
        horizon={"years": 4, "period": "quarter"},
        outcomes=[
            {"name": "job", "baseline_rate": 0.25, "lag": 0.5, "price": 900.0, "payment_basis": "above_baseline",
             "threshold": 0.15, "cohort_years": 0.5,
             "comparison": {"kind": "randomised", "size": 60, "drift": 0.03, "drift_sd": 0.04}},
            {"name": "bed_days", "kind": "count", "baseline_rate": 3.0, "lag": 0.75, "price": 120.0,
             "count": {"per": "year", "window_years": 1.0, "instalments": 2, "dispersion": 1.5},
             "comparison": {"kind": "matched", "size": 150}, "payment_basis": "above_baseline", "threshold": 0.05},
            {"name": "school", "baseline_rate": 0.3, "lag": 0.25, "price": 0.0, "payment_basis": "lump_sum",
             "schedule_per": "programme", "schedule": [{"min_improvement": 0.1, "amount": 20000.0},
                                                      {"min_improvement": 0.4, "amount": 60000.0}]},
        ],
        partners=[
            {**partner, "name": "A", "effect": {"job": {"mean": 0.15, "sd": 0.05}, "bed_days": {"mean": 0.2, "sd": 0.1},
                                                "school": {"mean": 0.1, "sd": 0.05}}},
            {**partner, "name": "B", "referrals": 80.0, "effect": {"job": {"mean": 0.1, "sd": 0.05},
                                                                   "bed_days": {"mean": 0.1, "sd": 0.1}}},
        ],
        commissioners=[{"name": "C", "shares": {"job": 1.0, "bed_days": 1.0, "school": 1.0}}],
        tranches=[{"name": "S", "kind": "senior", "commitment": 300_000.0}],
        uncertainty={"enabled": True, "rho": 0.3, "referral_sd": 0.1},
    )


def test_engine_payments_match_participant_account_on_outcome_terms():
    """Counts, control groups, drift, instalments and programme lump sums: the engine's rate card
    on the reference model's cohorts pays what the participant-level account says, path by path."""
    s = _terms_scenario()
    flows, dl = run_block(s, block_seeds(5, 10)[0], 10, options=DES_OPTIONS)
    scale = max(1.0, float(np.abs(flows["commissioner_paid"]).max()))
    assert flows["earned"][..., 1].sum() > 0 and flows["earned"][..., 2].sum() > 0
    for n in range(10):
        acc = contract_payments(s, dl.enrolled[n], dl.achieved[n], dl.draws.withdraw_period[n], dl.draws, n)
        np.testing.assert_allclose(acc.earned, flows["earned"][n], rtol=0, atol=1e-9 * scale)
        np.testing.assert_allclose(acc.paid, flows["commissioner_paid"][n], rtol=0, atol=1e-9 * scale)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["exact", "approx"])
def test_reference_model_agrees_with_engine_on_outcome_terms(mode: str):
    """Participant-level counts (gamma-Poisson draws per participant), drift to each participant's
    own enrolment time, and the engine's aggregate counts agree in distribution and path by path.
    (About 45 s, so slow; the shipped Peterborough and Utah scenarios, count outcomes with a
    matched comparison group and instalments, are cross-checked in the default run.)"""
    s = _terms_scenario()
    des = _terms_des()
    engine = simulate(s, N_ENGINE, SEED_ENGINE, mode=mode, keep_paths=N_ENGINE)
    paired = simulate(s, N_TERMS, SEED_DES, mode=mode, keep_paths=N_TERMS)
    bad = disagreements(des, engine, paired)
    assert not bad, f"outcome terms ({mode} counts), reference model vs engine:\n" + "\n".join(bad)


N_TERMS = 400


@cache
def _terms_des() -> Results:
    return simulate_des(_terms_scenario(), N_TERMS, SEED_DES, workers=WORKERS, keep_paths=N_TERMS, options=DES_OPTIONS)
