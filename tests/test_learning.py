"""Learning as results arrive: the update, the nowcast and early warning (``cib_sim.learning``).

The worlds below are single paths drawn from a scenario (``simulate_world``), some with their
effects and maturity fixed; their first k periods are fed as observations.
"""

from __future__ import annotations

import itertools
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from learning_worlds import one_effect_scenario, slow_scenario, small_scenario
from scipy import stats

from cib_sim import learning as L
from cib_sim.learning import (
    NothingToLearnWarning,
    PosteriorCollapseWarning,
    early_warning,
    fit,
    nowcast,
    path_events,
    simulate_world,
    update,
)
from cib_sim.learning.observed import read_observed
from cib_sim.scenario import load_scenario, save_scenario


@pytest.fixture(scope="module")
def small():
    return small_scenario()


@pytest.fixture(scope="module")
def slow():
    return slow_scenario()


def effect_rows(post: L.Posterior) -> pd.DataFrame:
    t = post.table()
    return t[t.parameter.str.startswith("effect")].reset_index(drop=True)


def truth_of(world: L.World, rows: pd.DataFrame) -> np.ndarray:
    s = world.scenario
    return np.array([world.effect[s.partner_names.index(p), s.outcome_names.index(x.split(" on ")[1])]
                     for p, x in zip(rows.partner, rows.parameter)])


# --- the update is right --------------------------------------------------------------------


def test_posterior_matches_quadrature_for_one_effect():
    # One uncertain number: effect ~ Normal(0.1, 0.08), success probability 0.25 + effect from
    # day one, no dropouts. The exact posterior is a one-dimensional integral.
    s = one_effect_scenario()
    n, x = [50, 50, 40, 60], [22, 17, 19, 28]
    rows = [{"period": t, "partner": "P", "enrolled": n[t] if t < 4 else 30} for t in range(6)]
    rows += [{"period": t, "partner": "P", "outcome": "job", "achieved": x[t]} for t in range(4)]
    post = fit(s, pd.DataFrame(rows), n_draws=20_000, seed=3)
    grid = np.linspace(-0.3, 0.6, 20_001)
    p = np.clip(0.25 + grid, 1e-12, 1 - 1e-12)
    logpost = stats.norm.logpdf(grid, 0.1, 0.08) + sum(xi * np.log(p) + (ni - xi) * np.log1p(-p) for ni, xi in zip(n, x))
    w = np.exp(logpost - logpost.max())
    w /= w.sum()
    mean = float(w @ grid)
    sd = math.sqrt(float(w @ (grid - mean) ** 2))
    row = post.table().iloc[0]
    assert row.posterior_mean == pytest.approx(mean, abs=0.002)
    assert row.posterior_sd == pytest.approx(sd, rel=0.05)
    assert sd < 0.5 * 0.08  # 200 participants pin it down
    assert post.ess > 10_000


def test_adaptive_sampler_agrees_with_reweighting_many_prior_draws(small):
    # Plain importance reweighting of 400,000 prior draws is slow but has no proposal to get
    # wrong: the tempered sampler's posterior means and sds must agree with it.
    w = simulate_world(small, seed=6)
    obs = read_observed(w.observed(12), small)
    post = fit(small, obs, n_draws=4000, seed=1)
    assert len(post.betas) > 1  # the data are strong enough to need tempering
    lik = L.Likelihood(small, obs, post.space)
    z = np.random.default_rng(0).standard_normal((400_000, post.space.dim))
    ll = lik(z)
    wts = np.exp(ll - ll.max())
    wts /= wts.sum()
    assert 1 / (wts ** 2).sum() > 300  # enough for a reference
    brute = wts @ post.space.params(z)[0].reshape(len(z), -1)
    mine = post.weights @ post.effect.reshape(post.n_draws, -1)
    sd = np.sqrt(post.weights @ (post.effect.reshape(post.n_draws, -1) - mine) ** 2)
    cells = [p * len(small.outcomes) + k for p, k in post.space.cells]
    np.testing.assert_allclose(mine[cells], brute[cells], atol=0.15 * sd[cells].min())


def test_without_data_the_posterior_is_the_prior(small):
    post = fit(small, None, n_draws=4000, seed=0)
    assert post.ess == 4000 and post.betas == [1.0]
    t = post.table()
    np.testing.assert_allclose(t.posterior_mean, t.prior_mean, atol=0.1 * t.prior_sd.max())


def test_enrolments_alone_inform_referrals_not_effects(small):
    # Two quarters: enrolments reported, no outcome verified yet (engaged is verified from
    # period 2 on). Referral volume is learnt from enrolments; effects only through the common
    # shock they share with it, so they barely move.
    w = simulate_world(small, seed=1)
    post = fit(small, w.observed(2), n_draws=4000, seed=0)
    t = post.table()
    eff = t[t.parameter.str.startswith("effect")]
    np.testing.assert_allclose(eff.posterior_mean, eff.prior_mean, atol=0.2 * eff.prior_sd.max())
    ref = t[t.parameter == "referrals (x plan)"]
    assert list(ref.partner) == ["A", "B"] and (ref.posterior_sd < ref.prior_sd).all()
    s2 = update(small, w.observed(2), n_draws=4000)
    assert s2.partners[0].effect["engaged"].mean == pytest.approx(0.15, abs=0.02)


def test_early_data_barely_moves_the_effects(slow):
    # Half-maturity two years: after a year and a half the verified cohorts (enrolled in the
    # first year) were served by partners at under a tenth of their full effect. Whether the
    # partners will have no effect or twice the planned one (each about 2.3 prior sds from the
    # plan), the update must not panic, nor cheer: it moves a small part of the way.
    for kw in ({"effect": 0.0}, {"effect_scale": 2.0}):
        w = simulate_world(slow, seed=4, half_maturity=2.0, **kw)
        t = effect_rows(fit(slow, w.observed(6), n_draws=4000, seed=1))
        shift = (t.posterior_mean - t.prior_mean) / t.prior_sd
        distance = (truth_of(w, t) - t.prior_mean) / t.prior_sd
        assert shift.abs().max() < 0.75, (kw, shift.tolist())
        assert shift.abs().mean() < 0.25 * np.abs(distance).mean(), (kw, shift.tolist())
        assert (t.posterior_sd > 0.85 * t.prior_sd).all()


def test_posterior_concentrates_around_the_truth_as_k_grows(slow):
    w = simulate_world(slow, seed=11)  # effects and maturity drawn from the prior
    sds, errs = [], []
    for k in (4, 8, 12, 16, 20, 26):
        t = effect_rows(fit(slow, w.observed(k), n_draws=4000, seed=k))
        truth = truth_of(w, t)
        z = (t.posterior_mean - truth) / t.posterior_sd
        assert z.abs().max() < 3.0, (k, z.tolist())
        sds.append(float(t.posterior_sd.mean()))
        errs.append(float(np.abs(t.posterior_mean - truth).mean()))
    assert all(b <= a * 1.05 for a, b in itertools.pairwise(sds)), sds
    prior_sd = float(t.prior_sd.mean())
    assert sds[-1] < 0.55 * prior_sd
    assert errs[-1] < 0.5 * prior_sd


def junior_multiple(world: L.World) -> float:
    f, k = world.flows, [t.name for t in world.scenario.capital_tranches].index("Junior")
    paid_out = f["coupon"] + f["capital"] + f["upside"] + f["guarantee_received"]
    return float(paid_out[0, :, k].sum() / f["drawn"][0, :, k].sum())


def test_a_slow_start_that_ends_well_and_one_that_never_takes_off(slow):
    # Same noise, two truths: effects 1.4x the plan with half-maturity three years (a year late),
    # and no effect at all. Early on their data are alike and so are the updates; once the
    # partners would have matured, the posteriors part and each finds its truth.
    good = simulate_world(slow, seed=6, effect_scale=1.4, half_maturity=3.0)
    bad = simulate_world(slow, seed=6, effect=0.0)
    # The premise: in the good world the junior investors get their money back, in the bad not
    # (a year-late maturity leaves the good world near break-even: seed 6 is one that ends well).
    assert junior_multiple(good) > 1.0 > junior_multiple(bad)
    early = {n: effect_rows(fit(slow, w.observed(6), n_draws=4000, seed=6)) for n, w in (("good", good), ("bad", bad))}
    prior = early["good"]
    assert (np.abs(early["good"].posterior_mean - early["bad"].posterior_mean) < 0.1 * prior.prior_sd).all()
    assert (np.abs(early["bad"].posterior_mean - prior.prior_mean) < 0.35 * prior.prior_sd).all()

    late = {}
    for name, w in (("good", good), ("bad", bad)):
        post = fit(slow, w.observed(24), n_draws=4000, seed=24)
        t = effect_rows(post)
        assert (np.abs(t.posterior_mean - truth_of(w, t)) < 3 * t.posterior_sd).all(), (name, t)
        r = nowcast(slow, w.observed(24), n_paths=2000, seed=24, posterior=post)
        lo, hi = L.interval(r, 0.9)
        assert lo <= w.total_paid <= hi
        late[name] = (t, r)
    assert late["bad"][0].posterior_mean.mean() < 0.5 * prior.prior_mean.mean()
    assert late["good"][0].posterior_mean.mean() > 0.8 * prior.prior_mean.mean()
    loss = {n: late[n][1].metric("tranche", "Junior", "prob_loss") for n in late}
    assert loss["bad"] > 0.9 and loss["good"] < 0.5


def test_the_posterior_scenario_is_a_valid_scenario_that_round_trips(small, tmp_path):
    w = simulate_world(small, seed=2)
    post = fit(small, w.observed(16), n_draws=4000, seed=0)
    s2 = post.scenario
    assert s2.name.startswith("small (posterior, data to period 15)")
    for p, k in post.space.cells:
        o = small.outcome_names[k]
        assert s2.partners[p].effect[o].sd < small.partners[p].effect[o].sd
    save_scenario(s2, tmp_path / "post.yaml")
    assert load_scenario(tmp_path / "post.yaml") == s2


def test_a_collapsed_posterior_is_flagged(small):
    w = simulate_world(small, seed=2)
    with pytest.warns(PosteriorCollapseWarning, match="effective sample size"):
        post = fit(small, w.observed(16), n_draws=150, seed=0, retries=0)
    assert post.ess < 150
    # By default a small ESS first buys more draws (twice, then four times as many).
    post = fit(small, w.observed(16), n_draws=150, seed=0, min_ess=140)
    assert post.n_draws in (150, 300, 600) and (post.ess >= 140 or post.n_draws == 600)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PosteriorCollapseWarning)
        post = fit(small, w.observed(16), n_draws=4000, seed=0)
    assert post.ess > 0.3 * 4000


def test_a_scenario_without_uncertainty_has_nothing_to_learn():
    s = small_scenario(enabled=False)
    obs = read_observed(simulate_world(small_scenario(), seed=0).observed(8), s)
    with pytest.warns(NothingToLearnWarning):
        r = nowcast(s, obs, n_paths=10, seed=0)
    assert r.mode == "expected"
    np.testing.assert_array_equal(r.kept["enrolled"][:, :8], np.broadcast_to(obs.enrolled, (10, 8, 2)))
    assert r.path["commissioner_paid"].std(axis=0).max() == 0  # one deterministic path, ten times


def test_zone_data_update_the_partners_effects():
    z = load_scenario("scenarios/west_london_zone.yaml")
    w = simulate_world(z, seed=1)
    post = fit(z, w.observed(12), n_draws=2000, seed=0)
    t = effect_rows(post)
    assert len(t) == 16 and post.ess > 200
    assert (t.posterior_sd <= t.prior_sd * 1.05).all() and (t.posterior_sd < t.prior_sd * 0.95).any()


# --- the nowcast keeps what happened --------------------------------------------------------


def test_nowcast_fixes_the_reported_periods(small):
    w = simulate_world(small, seed=5)
    K = 10
    obs = read_observed(w.observed(K), small)
    r = nowcast(small, obs, n_paths=600, seed=2)
    kept = r.kept
    np.testing.assert_array_equal(kept["enrolled"][:, :K], np.broadcast_to(obs.enrolled, (r.n_kept,) + obs.enrolled.shape))
    np.testing.assert_allclose(kept["commissioner_paid"][:, :K], np.broadcast_to(obs.paid, (r.n_kept,) + obs.paid.shape))
    v = obs.verified
    np.testing.assert_array_equal(kept["achieved"][:, :K][:, v], np.broadcast_to(obs.achieved[v], (r.n_kept, int(v.sum()))))
    # ... and not the future.
    assert kept["enrolled"][:, K:].sum(axis=(1, 2)).std() > 0
    assert r.extra["as_of"] == K and r.extra["events"].shape[0] == 600


def test_a_full_report_replays_the_world_on_every_path(small):
    w = simulate_world(small, seed=8)
    T = small.horizon.n_periods
    r = nowcast(small, w.observed(T), n_paths=300, seed=1)
    f = w.flows
    paid_in = f["drawn"][0].sum(axis=0)
    paid_out = (f["coupon"] + f["capital"] + f["upside"] + f["guarantee_received"])[0].sum(axis=0)
    np.testing.assert_allclose(r.path["tranche_in"], np.broadcast_to(paid_in, r.path["tranche_in"].shape), atol=1e-6)
    np.testing.assert_allclose(r.path["tranche_out"], np.broadcast_to(paid_out, r.path["tranche_out"].shape), atol=1e-6)
    np.testing.assert_allclose(r.path["commissioner_paid"].sum(axis=1), w.total_paid, atol=0.05)
    ew = early_warning(small, w.observed(T), n_paths=300, seed=1, results=r)
    truth = path_events(small, f).iloc[0]
    for _, row in ew.iterrows():
        want = truth[f"{row.group}|{row['name']}|{row.event}"]
        assert row.now == (want if not np.isnan(want) else row.now)


def test_a_reported_stop_of_delivery_is_replayed():
    # The stress scenario's thin fund often runs out in year three: delivery stops for good.
    s = load_scenario("scenarios/stress_slow_start.yaml")
    w = simulate_world(s, seed=1)
    stop = int(w.flows["stop_period"][0])
    assert stop < 12
    obs = read_observed(w.observed(12), s)
    assert obs.stopped == stop
    r = nowcast(s, obs, n_paths=200, seed=0, n_draws=1000)
    assert (r.path["stop_period"] == stop).all()
    f = w.flows
    paid_out = (f["coupon"] + f["capital"] + f["upside"] + f["guarantee_received"])[0].sum(axis=0)
    np.testing.assert_allclose(r.path["tranche_in"], np.broadcast_to(f["drawn"][0].sum(axis=0), r.path["tranche_in"].shape), atol=1e-6)
    assert r.path["tranche_out"].std(axis=0).max() > 0 or np.allclose(r.path["tranche_out"], paid_out)


def test_nowcast_is_reproducible(small):
    obs = simulate_world(small, seed=5).observed(8)
    a = nowcast(small, obs, n_paths=500, seed=4)
    b = nowcast(small, obs, n_paths=500, seed=4)
    c = nowcast(small, obs, n_paths=500, seed=5)
    np.testing.assert_array_equal(a.path["commissioner_paid"], b.path["commissioner_paid"])
    assert not np.array_equal(a.path["commissioner_paid"], c.path["commissioner_paid"])


def test_a_reported_exit_stops_the_partner_on_every_path(small):
    seed = next(i for i in range(200) if 2 <= simulate_world(small, seed=i).draws.exit_period[0, 1] < 8)
    w = simulate_world(small, seed=seed)
    e = int(w.draws.exit_period[0, 1])
    obs = read_observed(w.observed(8), small)
    assert obs.partner_ended.tolist() == [-1, e]
    r = nowcast(small, obs, n_paths=400, seed=0)
    assert r.kept["enrolled"][:, e:, 1].sum() == 0
    assert r.kept["enrolled"][:, 8:, 0].sum() > 0


# --- early warning --------------------------------------------------------------------------


def test_early_warning_reports_levels_and_changes(small):
    w = simulate_world(small, seed=5)
    ew = early_warning(small, w.observed(12), previous_observed=w.observed(8), n_paths=800, seed=1, n_draws=3000)
    assert list(ew.columns) == ["group", "name", "event", "prior", "previous", "now", "change", "se"]
    assert ew.attrs == {"as_of": 12, "previous_as_of": 8}
    np.testing.assert_allclose(ew.change, ew.now - ew.previous)
    events = set(zip(ew.group, ew["name"], ew.event))
    assert {("tranche", "S", "loses money"), ("tranche", "J", "loses money"), ("commissioner", "Council", "total cap reached"),
            ("contract", "small", "delivery stops for lack of funds")} <= events
    assert ew[["prior", "previous", "now"]].stack().between(0, 1).all()
    assert list(ew.group.unique()) == ["tranche", "commissioner", "contract"]
    alone = early_warning(small, w.observed(12), n_paths=800, seed=1, n_draws=3000)
    assert alone.previous.isna().all()
    np.testing.assert_allclose(alone.change, alone.now - alone.prior)


def test_early_warning_follows_cohort_thresholds():
    p = load_scenario("scenarios/peterborough.yaml")
    w = simulate_world(p, seed=2)
    ew = early_warning(p, w.observed(16), n_paths=500, seed=1, n_draws=2000)
    names = ew[ew.group == "outcome"].event.tolist()
    assert names == [
        "cohort 1 (periods 1-8) meets the 0.1 threshold", "cohort 2 (periods 9-16) meets the 0.1 threshold",
        "cohort 3 (periods 17-24) meets the 0.1 threshold", "meets the 0.075 overall threshold",
    ]
    # Cohort 1 was verified at period 14: its threshold is known now, one way or the other.
    assert ew.loc[ew.event.str.startswith("cohort 1"), "now"].iloc[0] in (0.0, 1.0)


def test_fan_frame_splits_observed_and_projected(small):
    w = simulate_world(small, seed=5)
    r = nowcast(small, w.observed(9), n_paths=300, seed=0)
    fan = L.fan_frame(r)
    assert (fan.phase == "observed").sum() == 9
    seen = fan[fan.phase == "observed"]
    np.testing.assert_allclose(seen.observed, np.cumsum(w.flows["commissioner_paid"][0, :9].sum(axis=1)), atol=0.05)
    np.testing.assert_allclose(seen.q05, seen.q95)  # nothing uncertain about the past
    assert fan.loc[fan.phase == "projected", "observed"].isna().all()
    assert (fan.q95.iloc[-1] - fan.q05.iloc[-1]) > 0


# --- surfaces -------------------------------------------------------------------------------


def test_cli_nowcast_prints_the_report_and_writes_files(tmp_path, capsys):
    from cib_sim.cli.learning import main

    rc = main(["nowcast", "scenarios/stress_slow_start.yaml", "scenarios/observed/stress_slow_start_q12.csv",
               "--previous", "scenarios/observed/stress_slow_start_q8.csv", "--paths", "400", "--draws", "1500",
               "--out-scenario", str(tmp_path / "post.yaml"), "--csv", str(tmp_path / "ew.csv")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "data to period 11 (starting 2026-10-01); 12 of 28 periods reported" in out
    assert "WHAT THE DATA SAY" in out and "EARLY WARNING" in out and "since the period 7 report" in out
    assert "OUTCOME PAYMENTS over the contract" in out
    assert load_scenario(tmp_path / "post.yaml").name.startswith("Stress - slow start and partner exit (posterior")
    assert list(pd.read_csv(tmp_path / "ew.csv").columns) == ["group", "name", "event", "prior", "previous", "now", "change", "se"]


def test_cli_nowcast_names_bad_rows_and_exits_2(tmp_path, capsys):
    from cib_sim.cli.learning import main

    text = Path("scenarios/observed/stress_slow_start_q8.csv").read_text().replace("3,Tutoring,,,", "3,Tutor,,,", 1)
    (tmp_path / "bad.csv").write_text(text)
    rc = main(["nowcast", "scenarios/stress_slow_start.yaml", str(tmp_path / "bad.csv"), "--paths", "100"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err == "error: line 19: partner 'Tutor' is not in the scenario (known: Youth charity, Family support, Tutoring)\n"


def test_app_section_shows_the_update():
    from streamlit.testing.v1 import AppTest

    def app():
        import streamlit as st

        from cib_sim.app.nowcast import render_nowcast
        from cib_sim.scenario import load_scenario

        render_nowcast(st, load_scenario("scenarios/stress_slow_start.yaml"))

    at = AppTest.from_function(app, default_timeout=120)
    at.session_state["nowcast_paths"] = 400
    at.run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert labels[:2] == ["Expected outcome payments", "P(delivery stops)"] and "Senior lender: P(loss)" in labels
    assert all(m.delta.endswith("vs last report") for m in at.metric if m.delta)
    charts = at.get("vega_lite_chart")
    assert len(charts) == 1 and "Received (observed)" in charts[0].proto.spec
    assert len(at.dataframe) == 2
    at.checkbox(key="nowcast_truth").check().run()
    assert "The world's actual path" in at.get("vega_lite_chart")[0].proto.spec
    at.radio(key="nowcast_source").set_value("Upload a CSV").run()
    assert not at.exception and at.info[0].value == "Upload the observed data to update the projections."
