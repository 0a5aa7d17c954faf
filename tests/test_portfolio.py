"""Funds of bonds (cib_sim.portfolio): hand cases for the pot and the fund's fee, hurdle and carry,
conservation, reproducibility across chunking and workers, correlation, validation, the CLI."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cib_sim
from cib_sim.engine import run_paths, sample_block
from cib_sim.engine.conservation import ConservationError
from cib_sim.portfolio import (
    PortfolioError,
    fund_waterfall,
    load_portfolio,
    parse_portfolio,
    pot_fill,
    shipped_portfolios,
    simulate_portfolio,
)
from cib_sim.portfolio.funds import check_pot
from cib_sim.run.plan import BLOCK
from cib_sim.scenario import load_shipped

ROOT = Path(__file__).resolve().parent.parent
PLACE = ROOT / "scenarios" / "portfolios" / "place_based_zones.yaml"


def _deterministic_wlz():
    s = load_shipped("west_london_zone")
    return s.model_copy(update={"uncertainty": s.uncertainty.model_copy(update={"enabled": False})})


def _two_zones(pot=4e6, rule="stop", correlation=None, investors=True, uncertain=True):
    s = load_shipped("west_london_zone") if uncertain else _deterministic_wlz()
    data = {
        "name": "two zones",
        "members": [
            {"name": "A", "scenario": s, "start": "2019-07-01", "place": "London"},
            {"name": "B", "scenario": s, "start": "2020-07-01", "place": "Leeds"},
        ],
        "top_ups": [{"name": "Pot", "pot": pot, "share": 0.2, "when_exhausted": rule}],
        "correlation": correlation if correlation is not None else [{"by": "all", "loading": 0.3}],
    }
    if investors:
        data["investors"] = [{
            "name": "Fund", "management_fee": 0.02, "hurdle": 0.05, "carry": 0.2,
            "stakes": [{"member": "A", "tranche": "Senior social lender", "share": 0.5},
                       {"member": "B", "tranche": "Subordinated investors", "share": 1.0}],
        }]
    return parse_portfolio(data)


# ---------------------------------------------------------------------------------------------
# Hand cases


def test_pot_fill_stop_and_pro_rata_by_hand():
    # Pot 100; member 0 claims 60 then 30, member 1 claims 20 then 30.
    claims = np.array([[[60.0], [30.0]], [[20.0], [30.0]]])  # (M=2, T=2, N=1)
    paid, bal, ex = pot_fill(claims, 100.0, "stop")
    # t0: 60 and 20 paid (20 left); t1: member 0's 30 does not fit: the pot closes with 20 in it.
    assert paid[:, :, 0].tolist() == [[60.0, 0.0], [20.0, 0.0]]
    assert bal[:, 0].tolist() == [20.0, 20.0] and ex.tolist() == [1]
    paid, bal, ex = pot_fill(claims, 100.0, "pro_rata")
    # t1: claims 60 against 20 left: each gets a third.
    assert np.allclose(paid[:, :, 0], [[60.0, 10.0], [20.0, 10.0]])
    assert bal[:, 0].tolist() == [20.0, 0.0] and ex.tolist() == [1]
    # Enough in the pot: never exhausted (T), everything paid.
    paid, bal, ex = pot_fill(claims, 140.0, "stop")
    assert ex.tolist() == [2] and paid.sum() == 140.0 and bal[-1, 0] == 0.0


def test_fee_hurdle_carry_by_hand():
    # Yearly: 100 called at once, fee 2 in years 0 and 1, 150 back in year 2; hurdle 10%, carry 20%.
    calls = np.array([[100.0], [0.0], [0.0]])
    fee = np.array([[2.0], [2.0], [0.0]])
    income = np.array([[0.0], [0.0], [150.0]])
    f = fund_waterfall(calls, income, fee, hurdle=0.10, carry=0.20, periods_per_year=1)
    owed = (102 * 1.1 + 2) * 1.1  # 125.62: contributions compounded at the hurdle
    assert f["lp_in"][:, 0].tolist() == [102.0, 2.0, 0.0]
    assert f["carry"][2, 0] == pytest.approx(0.2 * (150 - owed))  # 4.876
    assert f["lp_out"][2, 0] == pytest.approx(owed + 0.8 * (150 - owed))  # 145.124
    # Below the hurdle there is no carry: everything goes to the investors.
    g = fund_waterfall(calls, income * 0.8, fee, hurdle=0.10, carry=0.20, periods_per_year=1)
    assert g["carry"].sum() == 0.0 and g["lp_out"][2, 0] == 120.0


def test_catch_up_by_hand():
    # 100 in, 150 back two years later, hurdle 10%: the investors are owed 121 first. Full
    # catch-up: the manager takes the next 5.25 (20% of the 26.25 profit so far), then 20% of
    # the remaining 23.75: 10 in all, 20% of the 50 profit.
    calls = np.array([[100.0], [0.0], [0.0]])
    income = np.array([[0.0], [0.0], [150.0]])
    nil = np.zeros_like(calls)
    for cu in (1.0, 0.5):
        f = fund_waterfall(calls, income, nil, hurdle=0.10, carry=0.20, periods_per_year=1, catch_up=cu)
        assert f["carry"][2, 0] == pytest.approx(10.0) and f["lp_out"][2, 0] == pytest.approx(140.0)
    # Not enough above the hurdle to catch up: the manager gets all of it, up to its 20%.
    f = fund_waterfall(calls, income * 0.83, nil, hurdle=0.10, carry=0.20, periods_per_year=1, catch_up=1.0)
    assert f["carry"][2, 0] == pytest.approx(0.83 * 150 - 121) and f["lp_out"][2, 0] == pytest.approx(121.0)
    with pytest.raises(PortfolioError, match="catch_up: must be above carry"):
        parse_portfolio({"name": "x", "members": [{"scenario": "west_london_zone"}], "investors": [
            {"name": "F", "carry": 0.2, "catch_up": 0.1, "stakes": [{"member": "West London Zone CIB (LCF)",
                                                                     "tranche": "Senior social lender", "share": 1}]}]})


def test_pot_exhaustion_on_a_deterministic_case_by_hand():
    """Uncertainty off: every path the same. The pot's exhaustion date and what each member got,
    worked out from the members' own payment schedules with a plain loop."""
    s = _deterministic_wlz()
    d = sample_block(s, np.random.SeedSequence(0), 1)
    paid = run_paths(s, d)["commissioner_paid"][0].sum(axis=1)  # (T,) a quarter, from 2019-07
    T = len(paid)
    # B starts 4 quarters after A; calendar quarter k has A's paid[k] and B's paid[k - 4].
    a = np.concatenate([paid, np.zeros(4)])
    b = np.concatenate([np.zeros(4), paid])
    pot, share = 4e6, 0.2
    left, got, closed_at = pot, [0.0, 0.0], None
    for k in range(T + 4):
        for m, c in enumerate((share * a[k], share * b[k])):
            if closed_at is None and c <= left:
                left -= c
                got[m] += c
            elif closed_at is None:
                closed_at = k
    assert closed_at is not None  # the case is built so that the pot runs out
    r = simulate_portfolio(_two_zones(pot=pot, investors=False, uncertain=False), 50, seed=3)
    assert r.exhaustion()["prob_exhausted"] == 1.0
    expected_date = dt.date(2019 + (6 + 3 * closed_at) // 12, (6 + 3 * closed_at) % 12 + 1, 1)
    assert r.exhaustion()["date_p50"] == expected_date
    assert np.allclose(r.arrays["member_topup"], got, rtol=1e-12)
    assert np.allclose(r.arrays["pot_balance:0"][:, -1], left, rtol=1e-12)
    assert np.allclose(r.arrays["member_paid"], paid.sum(), rtol=1e-12)


def test_fund_fees_and_carry_on_a_deterministic_member_by_hand():
    """One deterministic zone, the fund holds all of its senior loan: 1% a year on GBP 1m
    committed while the loan is live, no hurdle, 20% carry; worked out with a plain loop from the
    tranche's own flows."""
    from cib_sim.engine.flows import TO_INVESTORS

    s = _deterministic_wlz()
    f = run_paths(s, sample_block(s, np.random.SeedSequence(0), 1))
    calls = f["drawn"][0, :, 0]
    income = sum(f[n][0, :, 0] for n in TO_INVESTORS)
    active = np.flatnonzero((calls > 0) | (income > 0))
    fee_q = 0.01 * 1_000_000 / 4
    owed, lp_out, carry, fees = 0.0, 0.0, 0.0, 0.0
    for t in range(len(calls)):
        fee = fee_q if t <= active[-1] else 0.0
        fees += fee
        owed += calls[t] + fee
        first = min(income[t], owed)
        owed -= first
        carry += 0.2 * (income[t] - first)
        lp_out += first + 0.8 * (income[t] - first)
    rp = parse_portfolio({"name": "one", "members": [{"name": "A", "scenario": s}], "investors": [
        {"name": "F", "management_fee": 0.01, "carry": 0.2, "stakes": [{"member": "A", "tranche": "Senior social lender", "share": 1.0}]}]})
    r = simulate_portfolio(rp, 10, seed=1)
    a = r.arrays
    assert a["fund_fee:0"] == pytest.approx(np.full(10, fees)) and fees == fee_q * (active[-1] + 1)
    assert a["fund_carry:0"] == pytest.approx(np.full(10, carry)) and carry > 0
    assert a["fund_lp_out:0"] == pytest.approx(np.full(10, lp_out))
    assert a["fund_lp_in:0"] == pytest.approx(np.full(10, calls.sum() + fees))


def test_fund_fee_on_invested_capital_by_hand():
    """The same member and fund, 1% a year on the capital the loan has out: each quarter, the
    calls so far (this quarter's included) less the income before this quarter."""
    from cib_sim.engine.flows import TO_INVESTORS

    s = _deterministic_wlz()
    f = run_paths(s, sample_block(s, np.random.SeedSequence(0), 1))
    calls = f["drawn"][0, :, 0]
    income = sum(f[n][0, :, 0] for n in TO_INVESTORS)
    active = np.flatnonzero((calls > 0) | (income > 0))
    fees, called, received = 0.0, 0.0, 0.0
    for t in range(len(calls)):
        called += calls[t]
        if t <= active[-1]:
            fees += 0.01 / 4 * max(0.0, called - received)
        received += income[t]
    rp = parse_portfolio({"name": "one", "members": [{"name": "A", "scenario": s}], "investors": [
        {"name": "F", "management_fee": 0.01, "fee_basis": "invested", "stakes": [
            {"member": "A", "tranche": "Senior social lender", "share": 1.0}]}]})
    a = simulate_portfolio(rp, 10, seed=1).arrays
    assert a["fund_fee:0"] == pytest.approx(np.full(10, fees)) and 0 < fees < 0.01 / 4 * 1_000_000 * (active[-1] + 1)
    assert a["fund_lp_in:0"] == pytest.approx(np.full(10, calls.sum() + fees))


# ---------------------------------------------------------------------------------------------
# Conservation


def test_conservation_at_fund_level_on_every_path():
    rp = load_portfolio(PLACE)
    r = simulate_portfolio(rp, 600, seed=2)
    a = r.arrays
    pot = rp.spec.top_ups[0].pot
    # pot in = top-ups paid + pot left; the top-ups paid are what the members received
    assert np.allclose(a["pot_paid:0"] + a["pot_balance:0"][:, -1], pot, rtol=1e-12)
    assert np.allclose(a["member_topup"].sum(axis=1), a["pot_paid:0"], rtol=1e-12)
    assert (a["member_topup"] <= a["member_claim"] + 1e-6).all()
    # every payer's liability together = the members' outcome payments net of rebates
    assert np.allclose(a["liability"].sum(axis=(1, 2)), (a["member_paid"] - a["member_rebate"]).sum(axis=1), rtol=1e-9)
    # the fund: investors' money in = calls + fees; stakes' income = distributions + carry
    assert np.allclose(a["fund_lp_in:0"], a["fund_calls:0"] + a["fund_fee:0"], rtol=1e-12)
    assert np.allclose(a["fund_income:0"], a["fund_lp_out:0"] + a["fund_carry:0"], rtol=1e-12)
    # the stakes' flows are their shares of the members' own tranche flows
    stakes = rp.spec.investors[0].stakes
    for k, st in enumerate(stakes):
        m = r.names.index(st.member)
        j = [t.name for t in rp.scenarios[m].capital_tranches].index(st.tranche)
        assert np.allclose(a["fund_stake_in:0"][:, k], st.share * a[f"tranche_in:{m}"][:, j], rtol=1e-9)
        assert np.allclose(a["fund_stake_out:0"][:, k], st.share * a[f"tranche_out:{m}"][:, j], rtol=1e-9)


def test_a_pot_that_does_not_balance_is_caught():
    claims = np.ones((1, 3, 2))
    paid, bal, _ = pot_fill(claims, 10.0, "stop")
    bal[-1, 1] += 1.0  # money appears
    with pytest.raises(ConservationError, match="pot"):
        check_pot(claims, paid, bal, 10.0, "Pot")


# ---------------------------------------------------------------------------------------------
# Reproducibility


def _same(r1, r2):
    assert r1.arrays.keys() == r2.arrays.keys()
    for k in r1.arrays:
        np.testing.assert_array_equal(r1.arrays[k], r2.arrays[k], err_msg=k)


def test_same_results_whatever_the_chunking_and_workers():
    rp = _two_zones()
    n = BLOCK + 300  # two blocks
    one = simulate_portfolio(rp, n, seed=7)
    _same(one, simulate_portfolio(rp, n, seed=7, chunk_size=2 * BLOCK))
    _same(one, simulate_portfolio(rp, n, seed=7, workers=2))
    assert one.summary().equals(simulate_portfolio(rp, n, seed=7, chunk_size=2 * BLOCK).summary())


def test_adding_a_member_leaves_the_others_unchanged():
    corr = [{"by": "all", "loading": 0.2}, {"by": "place", "loading": 0.3}]
    two = _two_zones(correlation=corr, investors=False)
    data = {"name": "three", "correlation": corr, "top_ups": [{"name": "Pot", "pot": 4e6, "share": 0.2}],
            "members": [{"name": "A", "scenario": "west_london_zone", "start": "2019-07-01", "place": "London"},
                        {"name": "B", "scenario": "west_london_zone", "start": "2020-07-01", "place": "Leeds"},
                        {"name": "C", "scenario": "rate_card_fund", "start": "2021-01-01", "place": "Bristol"}]}
    a = simulate_portfolio(two, 500, seed=9)
    b = simulate_portfolio(parse_portfolio(data), 500, seed=9)
    np.testing.assert_array_equal(a.arrays["member_paid"], b.arrays["member_paid"][:, :2])
    for m in range(2):
        np.testing.assert_array_equal(a.arrays[f"tranche_out:{m}"], b.arrays[f"tranche_out:{m}"])


def test_dask_equals_one_process():
    distributed = pytest.importorskip("distributed")
    rp = _two_zones()
    n = BLOCK + 200
    one = simulate_portfolio(rp, n, seed=4)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0")
    try:
        with distributed.Client(cluster) as client:
            _same(one, simulate_portfolio(rp, n, seed=4, executor=client))
    finally:
        cluster.close()


def test_the_factor_hook_leaves_the_engine_unchanged_at_weight_zero():
    s = load_shipped("west_london_zone")
    sd = np.random.SeedSequence(11)
    base = sample_block(s, sd, 500)
    f = np.random.default_rng(1).standard_normal(500)
    zero = sample_block(s, sd, 500, factor=(f, 0.0))
    for name in ("effect", "half_maturity", "referral_multiplier"):
        np.testing.assert_array_equal(getattr(base, name), getattr(zero, name))
    full = sample_block(s, sd, 500, factor=(f, 1.0))  # the outside shock alone moves effects
    mean = np.array([[p.effect[o].mean if o in p.effect else 0.0 for o in s.outcome_names] for p in s.partners])
    sd_ = np.array([[p.effect[o].sd if o in p.effect else 0.0 for o in s.outcome_names] for p in s.partners])
    np.testing.assert_allclose(full.effect, mean + sd_ * f[:, None, None])


# ---------------------------------------------------------------------------------------------
# Correlation and diversification


def _two_rate_cards(loading):
    return parse_portfolio({
        "name": "x", "correlation": [{"by": "all", "loading": loading}] if loading else [],
        "members": [{"name": "A", "scenario": "rate_card_fund", "start": "2022-01-01"},
                    {"name": "B", "scenario": "rate_card_fund", "start": "2023-01-01"}],
        "investors": [{"name": "F", "stakes": [{"member": m, "tranche": "Junior investors", "share": 1.0} for m in "AB"]}]})


def test_correlation_raises_the_dispersion_of_the_portfolio():
    # Loading 0.3 = the rate card's own rho: each member's own distribution is unchanged, only
    # the link between members is new.
    n = 3000
    ind = simulate_portfolio(_two_rate_cards(0.0), n, seed=5)
    cor = simulate_portfolio(_two_rate_cards(0.3), n, seed=5)
    assert cor.fund().gross_multiple.std() > 1.1 * ind.fund().gross_multiple.std()
    assert cor.arrays["liability"].sum(axis=(1, 2)).std() > 1.05 * ind.arrays["liability"].sum(axis=(1, 2)).std()
    p_ind, p_cor = (r.diversification().set_index("what").prob_loss for r in (ind, cor))
    assert p_cor["fund, before fees"] > p_ind["fund, before fees"] + 0.01  # diversification lost
    c_ind = np.corrcoef(ind.arrays["member_paid"].T)[0, 1]
    c_cor = np.corrcoef(cor.arrays["member_paid"].T)[0, 1]
    assert abs(c_ind) < 0.1 and c_cor > 0.15
    for m in range(2):  # each member on its own: same mean and spread (within Monte Carlo error)
        a, b = ind.arrays["member_paid"][:, m], cor.arrays["member_paid"][:, m]
        assert abs(a.mean() - b.mean()) < 4 * np.hypot(a.std(), b.std()) / np.sqrt(n)
        assert abs(a.std() / b.std() - 1) < 0.08


def test_diversification_sweep_on_the_shipped_place_fund():
    from cib_sim.portfolio import diversification_sweep

    d = diversification_sweep(PLACE, scales=(0.0, 1.0), n_paths=1500, seed=1)
    assert list(d.loading_scale) == [0.0, 1.0]
    assert d.multiple_sd_before_fees.iloc[1] > d.multiple_sd_before_fees.iloc[0]
    r = simulate_portfolio(PLACE, 1500, seed=1)
    div = r.diversification()
    stakes = div[div.kind == "stake"]
    fund = div[div.kind == "fund"].iloc[0]
    assert fund.prob_loss < stakes.prob_loss.max()


# ---------------------------------------------------------------------------------------------
# Input


def _errors(data):
    with pytest.raises(PortfolioError) as e:
        parse_portfolio(data)
    return dict(e.value.errors)


def test_validation_errors_name_the_field():
    good = {"name": "x", "members": [{"name": "A", "scenario": "west_london_zone"}, {"name": "B", "scenario": "peterborough"},
                                     {"name": "C", "scenario": "west_london_zone", "start": "soon"}]}
    errs = _errors(good)
    assert "members[2].start" in errs
    errs = _errors({"name": "x", "members": [{"name": "A"}], "top_ups": [{"name": "P", "pot": -1, "share": 2}],
                    "correlation": [{"by": "planet", "loading": 0.2}]})
    assert errs["members[0].scenario"] == "give exactly one of scenario or indigo"
    assert errs["top_ups[0].pot"] == "must be > 0" and errs["top_ups[0].share"] == "must be <= 1"
    assert "correlation[0].by" in errs
    errs = _errors({"name": "x",
                    "members": [{"name": "A", "scenario": "west_london_zone"}, {"name": "A", "scenario": "nowhere"},
                                {"indigo": "INDIGO-POJ-9999"}],
                    "top_ups": [{"name": "P", "pot": 5, "share": 0.1, "members": ["Q"]}],
                    "investors": [{"name": "F", "stakes": [{"member": "A", "tranche": "Nope", "share": 0.5}]}],
                    "correlation": [{"loading": 0.7}, {"by": "place", "loading": 0.5}]})
    assert "no shipped scenario or file 'nowhere'" in errs["members[1].scenario"]
    assert "already the name of members[0]" in errs["members[1].name"]
    assert "no INDIGO project" in errs["members[2].indigo"]
    assert errs["top_ups[0].members[0]"] == "no member 'Q'"
    assert "no capital tranche 'Nope'" in errs["investors[0].stakes[0].tranche"]
    assert "add up to 1.2" in errs["correlation"]
    # a bad scenario inside a member names both
    errs = _errors({"name": "x", "members": [{"scenario": {"name": "s"}}]})
    assert any(k.startswith("members[0].scenario.") for k in errs)


def test_shipped_portfolios_load_and_run():
    assert set(shipped_portfolios()) >= {"lcf_outcomes_fund", "place_based_zones"}
    lcf = load_portfolio("lcf_outcomes_fund")
    assert len(lcf.names) == 28 and lcf.spec.top_ups[0].share == 0.3
    for path in shipped_portfolios().values():
        assert path.read_text().startswith("# ")  # each opens with its sources
    r = simulate_portfolio(lcf, 64, seed=1)
    assert len(r.members()) == 28 and 0 <= r.exhaustion()["prob_exhausted"] <= 1
    assert {"top_up", "payer", "investor_fund", "member"} <= set(r.summary().group)
    assert cib_sim.simulate_portfolio is simulate_portfolio


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "cib_sim.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_cli_bad_file_exits_2_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmembers:\n  - {name: A, scenario: west_london_zone}\n  - {name: B}\n"
                   "top_ups:\n  - {name: P, pot: 0}\n")
    p = _cli("portfolio", str(bad), "--paths", "10")
    assert p.returncode == 2, p.stderr
    assert "members[1].scenario: give exactly one of scenario or indigo" in p.stderr
    assert "top_ups[0].pot: must be > 0" in p.stderr and "Traceback" not in p.stderr
    p = _cli("portfolio", str(tmp_path / "missing.yaml"))
    assert p.returncode == 2 and "no such file" in p.stderr
    p = _cli("portfolio", str(PLACE), "--paths", "0")
    assert p.returncode == 2


def test_cli_runs_a_portfolio(tmp_path):
    out = tmp_path / "s.csv"
    p = _cli("portfolio", str(PLACE), "--paths", "64", "--seed", "2", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "P(pot exhausted)" in p.stdout and "INVESTOR FUND Place impact fund" in p.stdout
    assert out.exists()


# ---------------------------------------------------------------------------------------------
# Found in review: rebates, the calendar, and inputs that were accepted silently


def test_a_top_up_fund_bears_its_share_of_the_rebates():
    """A fund paying 25% of every payment (a pot that never runs out) bears 25% of the net cost:
    the bond's rebates to its payers are shared with it as the payments were."""
    s = load_shipped("west_london_zone")
    rp = parse_portfolio({"name": "x", "members": [{"name": "A", "scenario": s}],
                          "top_ups": [{"name": "Fund", "pot": 1e12, "share": 0.25}]})
    r = simulate_portfolio(rp, 200, seed=1)
    a = r.arrays
    net = a["member_paid"][:, 0] - a["member_rebate"][:, 0]
    assert a["member_rebate"][:, 0].mean() > 0.1 * a["member_paid"][:, 0].mean()  # WLZ hands much back
    by_payer = a["liability"].sum(axis=1)  # (paths, payers): the fund first
    np.testing.assert_allclose(by_payer[:, 0], 0.25 * net, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(by_payer[:, 1:].sum(axis=1), 0.75 * net, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(a["pot_rebated:0"], 0.25 * a["member_rebate"][:, 0], rtol=1e-9, atol=1e-6)


def test_calendar_periods_fall_in_one_calendar_year():
    """A monthly INDIGO member starting in February in a quarterly portfolio: every month is
    booked in a calendar quarter of its own year (the calendar starts on 1 January, not on 1
    February, whose quarters would run November to January)."""
    from cib_sim.portfolio.simulate import _add_months, make_layout

    rp = parse_portfolio({"name": "x", "members": [{"name": "A", "indigo": "INDIGO-POJ-0184", "start": "2019-02-01"},
                                                   {"name": "B", "scenario": "west_london_zone", "start": "2020-05-01"}]})
    lay = make_layout(rp)
    assert lay.start == dt.date(2019, 1, 1)
    for s, index in zip(rp.scenarios, lay.index):
        mm = 12 // s.horizon.periods_per_year
        for k, q in enumerate(index):
            own = _add_months(s.horizon.start.replace(day=1), k * mm)
            assert lay.years[lay.year_of[q]] == own.year, (s.name, k)


def test_inputs_once_accepted_silently_are_refused():
    errs = _errors({"name": "x", "members": [{"name": "A", "scenario": "west_london_zone", "start": "1850-07-01"}]})
    assert "members[0].start" in errs
    errs = _errors({"name": "x", "members": [{"name": "A", "scenario": "west_london_zone", "start": "9999-07-01"}]})
    assert "members[0].start" in errs
    errs = _errors({"name": "x", "members": [{"name": "A", "scenario": "west_london_zone"}],
                    "top_ups": [{"name": "P", "pot": 5}]})
    assert "share above 0" in errs["top_ups[0].share"]
    errs = _errors({"name": "x", "members": [{"name": "A", "scenario": "west_london_zone"}, {"name": "B", "scenario": "peterborough"}],
                    "top_ups": [{"name": "P", "pot": 5, "members": ["A"], "shares": {"B": 0.5}}]})
    assert "not among this fund's members" in errs["top_ups[0].shares.B"]
    errs = _errors({"name": "x", "members": [{"name": "A", "scenario": "west_london_zone"}],
                    "top_ups": [{"name": "P", "pot": 5, "share": 0.1}, {"name": "P", "pot": 5, "share": 0.1}],
                    "investors": [{"name": "Schools", "stakes": [{"member": "A", "tranche": "Senior social lender", "share": 0.5}]}]})
    assert "already the name of top_ups[0]" in errs["top_ups[1].name"]
    assert "is a commissioner of 'A'" in errs["investors[0].name"]


def test_a_member_file_is_found_next_to_the_portfolio_only(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cwd" / "m.yaml").write_text((ROOT / "scenarios" / "peterborough.yaml").read_text())
    (tmp_path / "sub" / "p.yaml").write_text("name: x\nmembers:\n  - {name: A, scenario: m.yaml}\n")
    monkeypatch.chdir(tmp_path / "cwd")
    with pytest.raises(PortfolioError) as exc:
        load_portfolio(tmp_path / "sub" / "p.yaml")
    assert any("no shipped scenario or file 'm.yaml'" in m for _, m in exc.value.errors)


def test_a_fee_for_part_of_a_period_is_charged_for_one_period():
    s = _deterministic_wlz()
    rp = parse_portfolio({"name": "one", "members": [{"name": "A", "scenario": s}], "investors": [
        {"name": "F", "management_fee": 0.02, "fee_years": 0.01,
         "stakes": [{"member": "A", "tranche": "Senior social lender", "share": 1.0}]}]})
    a = simulate_portfolio(rp, 4, seed=1).arrays
    assert a["fund_fee:0"] == pytest.approx(np.full(4, 0.02 / 4 * 1_000_000))


def test_results_refuse_a_fund_that_is_not_there():
    from cib_sim.errors import InputError

    rp = parse_portfolio({"name": "x", "members": [{"name": "A", "scenario": "west_london_zone"}]})
    r = simulate_portfolio(rp, 20, seed=1)
    for call in (r.exhaustion, r.fund, lambda: r.pot(-1), lambda: r.fund("F")):
        with pytest.raises(InputError, match="no (top-up|investor) fund"):
            call()


def test_diversification_sweep_runs_every_scale_on_the_same_paths_from_a_generator():
    from cib_sim.portfolio import diversification_sweep

    df = diversification_sweep(load_portfolio(PLACE), scales=(0.0, 0.0), n_paths=64, seed=np.random.default_rng(3))
    assert df.iloc[0].to_dict() == df.iloc[1].to_dict()
