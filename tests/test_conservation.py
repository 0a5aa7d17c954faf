"""Money is conserved on random valid scenarios, recomputed from the flows independently of the
engine's own check.

Hypothesis builds scenarios across both delivery models, every payment basis (lump sums per
cohort and per programme included), binary and count outcomes (instalments, dispersion),
comparison groups and drifting baselines, random caps,
lags, hazards, tranche stacks, guarantees, recycling and terms; each runs on a few paths. For
every path and period: money in (outcome payments, capital drawn, guarantee calls) = money out
(delivery, backbone, contingent payments, investors, rebates, bonuses) + the change in cash held;
cash never goes negative and ends at zero; flows that are amounts are non-negative and finite; the
commissioners' ledger accounts for every unit earned; caps and seniority hold.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_builders import make_scenario, run

from cib_sim import simulate
from cib_sim.scenario import parse_scenario

AMOUNTS = (
    "earned", "commissioner_paid", "attributed", "partner_upfront", "partner_fixed", "partner_contingent",
    "partner_bonus", "drawn", "coupon", "capital", "upside", "guarantee_received", "guarantee_call",
    "commissioner_rebate", "backbone_cost", "backbone_fee", "excess", "cash", "income", "enrolled", "dropped",
    "achieved", "lost_to_caps", "lost_to_withdrawal", "due_after_horizon", "deferred_fee", "intermediary_fee",
)
# Written out here, independently of the engine's registry; a test checks the two agree.
MONEY_IN = ("commissioner_paid", "drawn", "guarantee_call")
MONEY_OUT = (
    "partner_upfront", "partner_fixed", "backbone_cost", "partner_contingent", "backbone_fee", "intermediary_fee",
    "coupon", "capital", "upside", "deferred_fee", "guarantee_received", "commissioner_rebate", "partner_bonus",
)


def test_the_registry_names_the_same_money_in_and_out():
    from cib_sim.engine import flows

    assert set(flows.MONEY_IN) == set(MONEY_IN)
    assert set(flows.MONEY_OUT) == set(MONEY_OUT)

unit = st.floats(0.0, 1.0)


def _window(draw, years):
    start = draw(st.sampled_from([0.0, 0.0, round(years * draw(st.floats(0, 0.6)), 2)]))
    end = draw(st.none() | st.floats(0.05, 1.0).map(lambda u: round(start + u * (years - start), 3)))
    if end is not None and (end <= start or end > years):
        end = None
    return start, end


@st.composite
def scenarios(draw):
    period = draw(st.sampled_from(["month", "quarter", "year"]))
    years = draw(st.sampled_from([1.0, 2.0, 3.0, 4.5, 6.0] if period != "month" else [1.0, 2.0, 3.0]))
    n_out = draw(st.integers(1, 3))
    outcomes = []
    for i in range(n_out):
        basis = draw(st.sampled_from(["rate_card", "above_baseline", "tiered", "lump_sum"]))
        kind = draw(st.sampled_from(["binary", "binary", "count"]))
        o = {
            "name": f"o{i}",
            "kind": kind,
            "baseline_rate": draw(st.sampled_from([0.0, 0.1, 0.3, 0.6, 1.0] + ([2.5, 12.0] if kind == "count" else []))),
            "lag": draw(st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0])),
            "price": draw(st.floats(0, 5000)),
            "payment_basis": basis,
            "improvement": draw(st.sampled_from(["relative", "absolute", "relative_reduction"])),
            "max_per_participant": draw(st.none() | st.floats(1, 3000)),
            "cohort_years": draw(st.none() | st.sampled_from([0.5, 1.0, 2.0])),
            "fiscal_value": draw(st.floats(0, 1e4)),
        }
        if basis != "rate_card":
            o["threshold"] = draw(st.sampled_from([0.0, 0.05, 0.2, 1.0]))
        if basis == "above_baseline":
            o["overall_threshold"] = draw(st.none() | st.sampled_from([0.0, 0.1, 0.5]))
        if basis == "tiered":
            levels = sorted(draw(st.sets(st.sampled_from([0.0, 0.05, 0.1, 0.3, 0.8]), min_size=1, max_size=3)))
            o["tiers"] = [{"min_improvement": m, "price": draw(st.floats(0, 5000))} for m in levels]
        if basis == "lump_sum":
            levels = sorted(draw(st.sets(st.sampled_from([0.0, 0.05, 0.1, 0.3, 0.8]), min_size=1, max_size=3)))
            amounts = sorted(draw(st.floats(0, 2e5)) for _ in levels)
            o["schedule"] = [{"min_improvement": m, "amount": a} for m, a in zip(levels, amounts)]
            o["schedule_per"] = draw(st.sampled_from(["cohort", "programme"]))
        if kind == "count":
            o["count"] = {
                "per": draw(st.sampled_from(["year", "window"])),
                "window_years": draw(st.sampled_from([0.25, 1.0, 2.0, 3.5])),
                "instalments": draw(st.sampled_from([1, 1, 2, 3, 7])),
                "dispersion": draw(st.none() | st.sampled_from([0.3, 2.0])),
            }
        comparison = draw(st.sampled_from(["none", "none", "randomised", "matched", "historical"]))
        if comparison != "none" and (basis != "rate_card" or kind == "count"):
            c = {"kind": comparison, "drift": draw(st.sampled_from([0.0, 0.0, -0.1, 0.05])),
                 "drift_sd": draw(st.sampled_from([0.0, 0.03]))}
            if comparison != "historical":
                c["size"] = draw(st.sampled_from([1.0, 30.0, 500.0]))
            o["comparison"] = c
        outcomes.append(o)
    names = [o["name"] for o in outcomes]

    zone = draw(st.booleans())
    n_part = draw(st.integers(1, 3))
    partners = []
    for i in range(n_part):
        p = {
            "name": f"p{i}",
            "cost": draw(st.floats(0, 3000)),
            "fixed_cost": draw(st.sampled_from([0.0, 0.0, 5e3, 5e4])),
            "effect": {o: {"mean": draw(st.floats(-0.2, 0.5)), "sd": draw(st.floats(0, 0.2))}
                       for o in draw(st.lists(st.sampled_from(names), unique=True))},
            "maturity": draw(st.sampled_from([
                {"kind": "immediate"},
                {"kind": "logistic", "half_maturity": 1.0, "steepness": 0.5},
                {"kind": "logistic", "half_maturity": 0.0, "steepness": 0.2},
            ])),
            "exit_hazard": draw(st.sampled_from([0.0, 0.0, 0.3, 3.0])),
            "contract": {"upfront_share": draw(unit), "outcome_share": draw(st.floats(0, 0.5))},
        }
        if zone:
            p["reach"] = draw(st.floats(0.05, 1.0))
        else:
            start, end = _window(draw, years)
            p.update(
                referrals=draw(st.floats(0, 300)), capacity=draw(st.floats(1, 200)),
                enrolment_start=start, enrolment_end=end, service_length=draw(st.sampled_from([0.1, 0.5, 1.0, 2.5])),
                dropout=draw(st.floats(0, 0.9)), abandonment=draw(unit),
            )
        partners.append(p)
    delivery = {"model": "pipelines"}
    if zone:
        start, end = _window(draw, years)
        attribution = draw(st.sampled_from(["cost", "reach", "fixed"]))
        weights = [draw(st.floats(0.01, 1)) for _ in partners]
        delivery = {
            "model": "zone", "referrals": draw(st.floats(0, 500)), "capacity": draw(st.floats(1, 500)),
            "enrolment_start": start, "enrolment_end": end,
            "service_length": draw(st.sampled_from([0.25, 1.0, 2.0])), "dropout": draw(st.floats(0, 0.5)),
            "interaction": draw(st.floats(-1, 2)), "attribution": attribution,
            "split": {p["name"]: w / sum(weights) for p, w in zip(partners, weights)} if attribution == "fixed" else {},
        }

    n_com = draw(st.integers(1, 3))
    raw = [[draw(unit) for _ in names] for _ in range(n_com)]
    scale = [draw(st.floats(0.3, 1.0)) / max(1.0, sum(r[j] for r in raw)) * 0.999999 for j in range(n_out)]
    commissioners = [
        {
            "name": f"c{c}",
            "shares": {o: raw[c][j] * scale[j] for j, o in enumerate(names)},
            "annual_budget": draw(st.none() | st.floats(1e3, 1e6)),
            "total_cap": draw(st.none() | st.floats(1e3, 3e6)),
            "payment_lag": draw(st.sampled_from([0.0, 0.25, 1.0, 3.0])),
            "withdrawal_hazard": draw(st.sampled_from([0.0, 0.0, 0.2, 2.0])),
            "budget_overflow": draw(st.sampled_from(["lost", "carry"])),
        }
        for c in range(n_com)
    ]

    tranches = []
    ranked = draw(st.booleans())
    for k in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["senior", "subordinated", "first_loss", "grant", "recoverable_grant"]))
        tranches.append({
            "name": f"t{k}", "kind": kind, "commitment": draw(st.floats(1e3, 2e6)),
            "coupon": draw(st.sampled_from([0.0, 0.05, 0.15])),
            "cap_multiple": draw(st.none() | st.floats(1.0, 3.0)),
            "cap_basis": draw(st.sampled_from(["drawn", "committed"])),
            "cap_irr": draw(st.none() | st.floats(0.0, 0.5)),
            "upside": draw(st.none() | st.booleans()),
        })
        if ranked:  # pari passu groups
            tranches[-1]["rank"] = draw(st.integers(1, 2))
    coverable = [t["name"] for t in tranches if t["kind"] not in ("grant", "recoverable_grant")]
    if coverable:
        for g in range(draw(st.integers(0, 2))):
            tranches.append({"name": f"g{g}", "kind": "guarantee", "commitment": draw(st.floats(1e3, 1e6)),
                             "covers": draw(st.sampled_from(coverable)),
                             "share_of_drawn": draw(st.none() | st.floats(0.1, 1.0))})
    capital_names = [t["name"] for t in tranches if t["kind"] != "guarantee"]
    fees = [{"name": f"f{i}", "amount": draw(st.floats(1e3, 5e5)), "behind": draw(st.sampled_from(capital_names)),
             "payee": draw(st.sampled_from(["intermediary", "partners"]))} for i in range(draw(st.integers(0, 2)))]
    breaks = [{"at": round(draw(st.floats(0.05, 0.95)) * years, 3), "measure": "earned",
               "trigger": draw(st.floats(0, 2e6)), "action": draw(st.sampled_from(["stop_enrolment", "stop_contract"]))}
              for _ in range(draw(st.integers(0, 1)))]
    if draw(st.booleans()):
        breaks.append({"at": round(draw(st.floats(0.05, 0.95)) * years, 3), "measure": "achievement_rate",
                       "outcome": names[0], "trigger": draw(unit), "action": draw(st.sampled_from(["stop_enrolment", "stop_contract"]))})

    # A success fee plus a partner's outcome share above 1 would pay out more than comes in:
    # see test_fee_and_outcome_share_cannot_exceed_the_payment.
    max_share = max(p["contract"]["outcome_share"] for p in partners)
    fee_share = draw(st.floats(0, 1 - max_share))
    intermediary_fee = draw(st.sampled_from([0.0, 0.0, 0.5])) * (1 - max_share - fee_share)
    d = {
        "name": "random",
        "horizon": {"years": years, "period": period},
        "outcomes": outcomes,
        "delivery": delivery,
        "partners": partners,
        "commissioners": commissioners,
        "tranches": tranches,
        "backbone": {"cost": draw(st.sampled_from([0.0, 1e4, 2e5])), "success_fee": fee_share},
        "terms": {
            "recycling": draw(st.booleans()),
            "distribution_frequency": draw(st.sampled_from(["period", "year", "end"])),
            "excess_to": draw(st.sampled_from(["commissioners", "partners", "split"])),
            "excess_split": draw(unit),
            "draw_order": draw(st.sampled_from(["pro_rata", "senior_first", "junior_first", "upfront"])),
            "max_outcome_payments": draw(st.none() | st.floats(1e3, 3e6)),
            "intermediary_fee": intermediary_fee,
            "deferred_fees": fees,
        },
        "breaks": breaks,
        "uncertainty": {
            "enabled": draw(st.booleans()), "rho": draw(st.floats(0, 0.9)),
            "maturity_delay_sd": draw(st.sampled_from([0.0, 0.5])), "referral_sd": draw(st.sampled_from([0.0, 0.3])),
        },
    }
    return parse_scenario(d)


def check_money(s, f):
    """Independent accounting of the flows of ``run_paths`` (currency per period)."""
    N, T = f["cash"].shape
    tot = lambda name: f[name].reshape(N, T, -1).sum(axis=2)  # noqa: E731
    scale = 1.0 + sum(t.commitment for t in s.tranches) + tot("commissioner_paid").sum(axis=1).max()
    atol = 1e-8 * scale

    for name in AMOUNTS:
        a = np.asarray(f[name], dtype=float)
        assert np.all(np.isfinite(a)), f"{name} has non-finite values"
        assert np.all(a >= -atol), f"{name} has negative values (min {a.min()})"

    money_in = sum(tot(n) for n in MONEY_IN)
    money_out = sum(tot(n) for n in MONEY_OUT)
    np.testing.assert_allclose(np.cumsum(money_in - money_out, axis=1), f["cash"], rtol=0, atol=atol)
    np.testing.assert_allclose(f["cash"][:, -1], 0.0, atol=atol)
    # The fund's own cash: income is what commissioners paid less contingent payments and fees.
    np.testing.assert_allclose(
        f["income"], tot("commissioner_paid") - tot("partner_contingent") - tot("backbone_fee") - tot("intermediary_fee"),
        atol=atol,
    )
    # Excess goes to somebody; guarantees pay what they are called for.
    np.testing.assert_allclose(f["excess"], tot("commissioner_rebate") + tot("partner_bonus"), atol=atol)
    np.testing.assert_allclose(tot("guarantee_call"), tot("guarantee_received"), atol=atol)
    # Every payment is attributed to partners in full.
    np.testing.assert_allclose(tot("attributed"), tot("commissioner_paid"), atol=atol)

    # The commissioners' ledger: each unit earned is paid, lost to a cap, lost to withdrawal or
    # falls due after the horizon.
    share = np.array([[c.shares.get(o, 0.0) for o in s.outcome_names] for c in s.commissioners])
    dues = np.einsum("nto,co->nc", f["earned"], share) + f["earned_after_horizon"] @ share.T
    accounted = f["commissioner_paid"].sum(axis=1) + f["lost_to_caps"] + f["lost_to_withdrawal"] + f["due_after_horizon"]
    np.testing.assert_allclose(accounted, dues, atol=atol)
    if s.terms.max_outcome_payments is not None:
        assert np.all(tot("commissioner_paid").sum(axis=1) <= s.terms.max_outcome_payments * (1 + 1e-12) + atol)
    for i, fee in enumerate(s.terms.deferred_fees):
        assert np.all(f["deferred_fee"][:, :, i].sum(axis=1) <= fee.amount + atol)
    for c, com in enumerate(s.commissioners):
        paid = f["commissioner_paid"][:, :, c]
        if com.total_cap is not None:
            assert np.all(paid.sum(axis=1) <= com.total_cap * (1 + 1e-12) + atol)
        if com.annual_budget is not None:
            ppy = s.horizon.periods_per_year
            for y in range(0, T, ppy):
                assert np.all(paid[:, y : y + ppy].sum(axis=1) <= com.annual_budget * (1 + 1e-12) + atol)

    # Investors: draws within commitments, capital back at most what was drawn, caps respected.
    caps = s.capital_tranches
    drawn = f["drawn"].sum(axis=1)
    for k, t in enumerate(caps):
        assert np.all(drawn[:, k] <= t.commitment * (1 + 1e-12))
        back = f["capital"][:, :, k].sum(axis=1) + f["guarantee_received"][:, :, k].sum(axis=1)
        assert np.all(back <= drawn[:, k] + atol)
        received = (f["coupon"] + f["capital"] + f["upside"])[:, :, k].sum(axis=1)
        if t.kind == "grant":  # nothing back, but capital called up front and never spent
            assert np.all((f["coupon"] + f["upside"])[:, :, k] <= atol)
            if s.terms.draw_order != "upfront":
                assert np.all(received <= atol)
        if not t.has_upside:
            assert np.all(f["upside"][:, :, k] <= atol)
        if t.cap_multiple is not None:
            base = t.commitment if t.cap_basis == "committed" else drawn[:, k]
            assert np.all(received <= t.cap_multiple * base + atol)
        if t.cap_irr is not None:
            # Discounted at the cap rate, what the tranche received is at most what it put in.
            years = np.arange(T) / s.horizon.periods_per_year
            net = (f["coupon"] + f["capital"] + f["upside"] - f["drawn"])[:, :, k]
            assert np.all(net @ (1 + t.cap_irr) ** -years <= atol)
    if s.terms.draw_order == "pro_rata":  # capital is drawn pro rata to commitment
        weights = np.array([t.commitment for t in caps]) / sum(t.commitment for t in caps)
        np.testing.assert_allclose(drawn, drawn.sum(axis=1, keepdims=True) * weights, atol=atol)
    if s.terms.draw_order == "upfront":  # everything at the start
        np.testing.assert_allclose(f["drawn"][:, 0], np.broadcast_to([t.commitment for t in caps], drawn.shape), rtol=1e-12)
    guars = [t for t in s.tranches if t.kind == "guarantee"]
    for g, t in enumerate(guars):
        call = f["guarantee_call"][:, :, g].sum(axis=1)
        assert np.all(call <= t.commitment + atol)
        if t.share_of_drawn is not None:
            assert np.all(call <= t.share_of_drawn * drawn[:, [c.name for c in caps].index(t.covers)] + atol)

    # Delivery stops for good at a funding shortfall, and enrolment at a break clause.
    stopped = np.arange(T)[None, :] >= f["stop_period"][:, None]
    assert np.all(f["enrolled"].sum(axis=2)[stopped] == 0)
    after_break = np.arange(T)[None, :] > f["break_period"][:, None]
    assert np.all(f["enrolled"].sum(axis=2)[after_break] == 0)

    # Delivery: outcomes and dropouts never exceed enrolments (a count outcome counts events,
    # which can); enrolment only in the window.
    binary = [k for k, o in enumerate(s.outcomes) if o.kind == "binary"]
    assert np.all(f["achieved"][..., binary] <= f["enrolled"][..., None] + 1e-9)
    if "counterfactual" in f:  # events or outcomes without the intervention: never negative
        assert np.all(f["counterfactual"] >= 0)
    assert np.all(f["dropped"] <= f["enrolled"] + 1e-9)
    h = s.horizon
    units = [s.delivery] if s.delivery.model == "zone" else s.partners
    for u, unit_ in enumerate(units):
        lo = h.to_periods(unit_.enrolment_start)
        hi = T if unit_.enrolment_end is None else min(T, h.to_periods(unit_.enrolment_end))
        outside = np.r_[0:lo, hi:T]
        assert np.all(f["enrolled"][:, outside, u] == 0)
        # Places in use never exceed capacity: completers stay the service, dropouts half of it.
        S = max(1, h.to_periods(unit_.service_length))
        D = max(1, S // 2)
        comp = f["enrolled"][:, :, u] - f["dropped"][:, :, u]
        c1 = np.cumsum(np.pad(comp, ((0, 0), (1, 0))), axis=1)
        c2 = np.cumsum(np.pad(f["dropped"][:, :, u], ((0, 0), (1, 0))), axis=1)
        t_ = np.arange(T)
        in_use = (c1[:, t_ + 1] - c1[:, np.maximum(0, t_ - S + 1)]) + (c2[:, t_ + 1] - c2[:, np.maximum(0, t_ - D + 1)])
        assert np.all(in_use <= unit_.capacity + 1e-6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(s=scenarios(), seed=st.integers(0, 2**32 - 1), mode=st.sampled_from(["approx", "approx", "exact"]))
def test_money_is_conserved_on_random_scenarios(s, seed, mode):
    f = run(s, n_paths=8, seed=seed, mode=mode)  # run_paths checks conservation itself, too
    check_money(s, f)


SUMMARY_METRICS = {
    "tranche": (
        "capital_drawn_mean", "prob_loss", "expected_loss", "cvar_5", "multiple_p5", "multiple_p50", "multiple_p95",
        "multiple_mean", "multiple_on_committed_mean", "irr_p5", "irr_p50", "irr_p95", "irr_undefined", "not_drawn",
        "time_to_first_payment_median",
        "peak_capital_mean",
    ),
    "guarantee": ("prob_called", "expected_call"),
    "deferred_fee": ("paid_mean", "prob_paid_in_full"),
    "commissioner": (
        "paid_mean", "paid_p95", "paid_net_mean", "paid_net_p95", "cost_per_outcome", "cost_per_outcome_net",
        "value_for_money", "value_for_money_net", "prob_cap_hit", "lost_to_caps_mean",
        "lost_to_withdrawal_mean", "rebate_mean",
    ),
    "partner": ("revenue_mean", "contingent_mean", "attributed_mean", "outcomes_mean"),
    "outcome": ("achieved_mean", "earned_mean"),
    "contract": (
        "enrolled_mean", "outcome_payments_mean", "outcome_payments_p95", "fiscal_value_mean", "value_for_money",
        "outcome_payments_net_mean", "outcome_payments_net_p95", "value_for_money_net", "prob_delivery_stopped",
        "prob_break", "intermediary_fee_mean", "due_after_horizon_mean", "excess_mean",
    ),
}
"""The rows of ``Results.summary`` for each tranche, guarantee, commissioner, partner and
outcome, and the contract, in order (what the app, the CLI and the back-tests read)."""


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=scenarios(), seed=st.integers(0, 2**32 - 1))
def test_simulate_runs_random_scenarios(s, seed):
    r = simulate(s, n_paths=20, seed=seed, keep_paths=5)
    assert r.n_paths == 20
    # The summary has its fixed set of measures for every tranche, guarantee, commissioner,
    # partner and outcome, and the contract; the means are the means of the paths' figures.
    summary = r.summary()
    want = [("tranche", t.name, m) for t in s.capital_tranches for m in SUMMARY_METRICS["tranche"]]
    want += [("guarantee", t.name, m) for t in s.tranches if t.kind == "guarantee" for m in SUMMARY_METRICS["guarantee"]]
    want += [("deferred_fee", f.name, m) for f in s.terms.deferred_fees for m in SUMMARY_METRICS["deferred_fee"]]
    want += [("commissioner", c.name, m) for c in s.commissioners for m in SUMMARY_METRICS["commissioner"]]
    want += [("partner", p.name, m) for p in s.partners for m in SUMMARY_METRICS["partner"]]
    want += [("outcome", o.name, m) for o in s.outcomes for m in SUMMARY_METRICS["outcome"]]
    optional = {"prob_break": bool(s.breaks), "intermediary_fee_mean": bool(s.terms.intermediary_fee)}
    want += [("contract", s.name, m) for m in SUMMARY_METRICS["contract"] if optional.get(m, True)]
    assert list(summary[["group", "name", "metric"]].itertuples(index=False, name=None)) == want
    paid = r.path["commissioner_paid"]
    assert r.metric("contract", s.name, "outcome_payments_mean") == pytest.approx(paid.sum(axis=1).mean(), rel=1e-9, abs=1e-9)
    for c, com in enumerate(s.commissioners):
        assert r.metric("commissioner", com.name, "paid_mean") == pytest.approx(paid[:, c].mean(), rel=1e-9, abs=1e-9)
    for k, t in enumerate(s.capital_tranches):
        assert r.metric("tranche", t.name, "capital_drawn_mean") == pytest.approx(r.path["tranche_in"][:, k].mean(), rel=1e-9, abs=1e-9)
        # A probability over the paths that drew capital; undefined if none did.
        p_loss, drew = r.metric("tranche", t.name, "prob_loss"), (r.path["tranche_in"][:, k] > 0).any()
        assert (0.0 <= p_loss <= 1.0) if drew else np.isnan(p_loss)
    # Investors' money is finite on every path, and an IRR, where defined, is at least -100%.
    assert np.all(np.isfinite(r.path["tranche_in"])) and np.all(np.isfinite(r.path["tranche_out"]))
    irr = r.path["tranche_irr"]
    assert np.all(np.isnan(irr) | (irr >= -1.0))


def test_reference_scenarios_conserve_money():
    from pathlib import Path

    from cib_sim.scenario import load_scenario

    for path in sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml")):
        s = load_scenario(path)
        check_money(s, run(s, n_paths=64, seed=7))


def test_fee_and_outcome_share_cannot_exceed_the_payment():
    """A success fee of 60% and a partner outcome share of 60% promise 120% of each payment:
    validation rejects it, naming the partner's share (otherwise the fund's income would go
    negative and the waterfall would pay investors a negative coupon). Exactly 100% is allowed,
    and leaves the fund an income of zero, never below."""
    from cib_sim.scenario import ScenarioError

    with pytest.raises(ScenarioError) as exc:
        make_scenario(**{"backbone": {"success_fee": 0.6}, "partners[0].contract": {"outcome_share": 0.6}})
    assert exc.value.errors == [(
        "partners[0].contract.outcome_share",
        "with the backbone's success_fee (0.6) it passes on more than all of the outcome payments",
    )]
    f = run(make_scenario(**{"backbone": {"success_fee": 0.4}, "partners[0].contract": {"outcome_share": 0.6}}))
    paid = f["commissioner_paid"].sum()
    assert paid == pytest.approx(10_000.0)  # 2 cohorts x 5 outcomes x GBP 1,000
    assert f["partner_contingent"].sum() == pytest.approx(0.6 * paid) and f["backbone_fee"].sum() == pytest.approx(0.4 * paid)
    np.testing.assert_allclose(f["income"], 0.0, atol=1e-9)
    assert np.all(f["coupon"] >= 0)


def test_engine_check_catches_nan():
    """The engine's own conservation check must fail on NaN money, not pass it (NaN compares
    False with any tolerance, so a check written as ``error > tolerance`` would let it through)."""
    from cib_sim.engine.conservation import ConservationError, check_conservation

    cash = np.zeros((2, 3))
    flow = np.zeros((2, 3))
    check_conservation(cash, flow, flow)  # balanced: fine
    cash[1, 1] = np.nan
    with pytest.raises(ConservationError):
        check_conservation(cash, flow, flow)


def test_no_negative_payments_and_no_capital_called_for_nothing():
    """Investors' flows are never negative, and capital is called only to pay costs.

    Guards the rounding of pro-rata shares: if the shares of the upside add up to a hair more
    than the cash, the fund is left at about -1e-45, the next waterfall pays a tiny negative
    coupon and calls a tiny amount of capital with no costs to pay; each is a spurious sign change
    in the investors' cash flows that sends the IRR solver to its iteration limit.
    """
    from pathlib import Path

    from cib_sim import load_scenario
    from cib_sim.engine import run_paths
    from cib_sim.engine.sample import sample
    from cib_sim.run.plan import block_seeds

    s = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "west_london_zone.yaml")
    f = run_paths(s, sample(s, block_seeds(1, 8192), [4096, 4096]))
    for name in ("drawn", "coupon", "capital", "upside", "guarantee_received", "excess"):
        assert (f[name] >= 0).all(), name
    costs = f["partner_upfront"].sum(axis=2) + f["partner_fixed"].sum(axis=2) + f["backbone_cost"]
    called = f["drawn"].sum(axis=2) > 0
    assert not (called & (costs == 0)).any()
