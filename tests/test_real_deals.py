"""The shipped scenarios are traceable to real deals in the INDIGO dataset.

Each reference scenario's headline terms are checked against the deal it is calibrated to, so an
edit that drifts from the data (or a loader that mis-parses it) fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cib_sim import load_scenario
from cib_sim.deals import compare_to_deals, headline_terms, load_deals, load_pricings

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.fixture(scope="module")
def deals():
    return load_deals().set_index("project_id")


def test_west_london_zone_matches_indigo_0184(deals):
    s = load_scenario(SCENARIOS / "west_london_zone.yaml")
    deal = deals.loc["INDIGO-POJ-0184"]
    terms = headline_terms(s)
    assert terms["capital"] == pytest.approx(deal.capital)  # 1.815m, the top of the published range
    assert terms["max_outcome_payment"] == pytest.approx(deal.max_outcome_payment)  # 16,244,960
    assert terms["duration_years"] == pytest.approx(deal.duration_years)  # 60 months of service
    assert terms["participants"] == pytest.approx(deal.participants, rel=0.10)  # 2,240 children
    # Several payers, each with a cap; together the caps are the contract's maximum.
    assert len(s.commissioners) >= 2 and all(c.total_cap for c in s.commissioners)
    assert sum(c.total_cap for c in s.commissioners) == pytest.approx(deal.max_outcome_payment, abs=1)
    assert s.delivery.model == "zone" and s.delivery.service_length == 2.0
    # The rate card's most per child equals the contract maximum per child.
    assert sum(o.price for o in s.outcomes) == pytest.approx(deal.max_outcome_payment / deal.participants, abs=1)


def test_rate_card_fund_matches_dwp_innovation_fund(deals):
    s = load_scenario(SCENARIOS / "rate_card_fund.yaml")
    ids = ["INDIGO-POJ-0138", "INDIGO-POJ-0141", "INDIGO-POJ-0147"]
    terms = headline_terms(s)
    assert terms["capital"] == pytest.approx(deals.loc[ids, "capital"].sum())
    assert terms["max_outcome_payment"] == pytest.approx(deals.loc[ids, "max_outcome_payment"].sum())
    assert terms["participants"] == pytest.approx(deals.loc[ids, "participants_actual"].sum(), rel=0.10)
    # Every price on the scenario's rate card is one DWP published for these projects.
    prices = load_pricings()
    published = set(prices[prices.project_id == "INDIGO-POJ-0147"].price_per_unit.round(2))
    for o in s.outcomes:
        assert round(o.price, 2) in published, o.name
    assert [c.name for c in s.commissioners] == ["DWP"]


def test_peterborough_matches_indigo_0153_and_published_terms(deals):
    s = load_scenario(SCENARIOS / "peterborough.yaml")
    terms = headline_terms(s)
    assert terms["capital"] == pytest.approx(deals.loc["INDIGO-POJ-0153", "capital"])  # 5m
    (o,) = s.outcomes
    assert o.payment_basis == "above_baseline" and o.improvement == "relative_reduction"
    assert o.threshold == pytest.approx(0.10) and o.overall_threshold == pytest.approx(0.075)
    # Three cohorts of about 1,000: two-year cohorts over six years of releases.
    (p,) = s.partners
    assert o.cohort_years == 2.0 and p.enrolment_end - p.enrolment_start == pytest.approx(6.0)
    assert p.referrals * o.cohort_years == pytest.approx(1000, rel=0.05)
    assert terms["participants"] == pytest.approx(3000, rel=0.05)
    assert terms["max_return"] == pytest.approx(0.13)


def test_each_scenario_sits_among_real_deals():
    for path in sorted(SCENARIOS.glob("*.yaml")):
        cmp = compare_to_deals(load_scenario(path))
        pct = cmp.percentiles.set_index("measure")
        for m in ("capital", "max_outcome_payment", "participants"):
            assert 0 < pct.loc[m, "percentile"] < 100, (path.name, m)
        assert len(cmp.nearest) == 5
