"""Scenario validation, YAML round trips and the scenario's derived views.

Every bad input must raise :class:`ScenarioError` whose ``errors`` name the field path and the
reason, so the CLI and the app can point at the field; files that cannot be read give a one-line
error, not a traceback.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_builders import base_dict, make_scenario, scenario_dict

from cib_sim.deals import expected_participants, headline_terms
from cib_sim.scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
    save_scenario,
    scenario_from_yaml,
    scenario_to_yaml,
)

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))


def errors_of(**overrides) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as exc:
        make_scenario(**overrides)
    errs = exc.value.errors
    # The message is the same list, one "path: reason" per line.
    assert str(exc.value) == "\n".join(f"{p}: {r}" if p else r for p, r in errs)
    return errs


def reason_for(errs: list[tuple[str, str]], path: str) -> str:
    hits = [r for p, r in errs if p == path]
    assert hits, f"no error at {path!r}; got {errs}"
    return hits[0]


# --- validation: one bad field, one clear error ---------------------------------------------


def test_base_scenario_is_valid():
    """The base scenario validates to what ``base_dict`` says, with the documented defaults filled
    in, and its derived views match the hand calculation the engine tests rely on."""
    s = make_scenario()
    assert s == Scenario.model_validate(base_dict())
    assert (s.horizon.periods_per_year, s.horizon.n_periods) == (1, 5)
    assert s.outcome_names == ["job"] and s.partner_names == ["P"]
    assert [t.name for t in s.capital_tranches] == ["S"] and s.tranches[0].commitment == 100_000.0
    assert s.currency == "GBP" and s.delivery.model == "pipelines" and not s.uncertainty.enabled
    assert s.partners[0].maturity.kind == "immediate" and s.partners[0].effect["job"].mean == 0.3
    assert s.unfunded_shares() == {}
    assert expected_participants(s) == 20.0  # 10 referrals a year in years 0 and 1
    assert s.service_years() == 3.0  # first enrolment (0) to the end of the last service (2 + 1)


def test_negative_price_names_the_outcome_price():
    errs = errors_of(**{"outcomes[0].price": -1.0})
    assert errs == [("outcomes[0].price", "must be >= 0")]


def test_single_share_above_one():
    errs = errors_of(**{"commissioners[0].shares": {"job": 1.5}})
    assert reason_for(errs, "commissioners[0].shares.job") == "must be between 0 and 1"


def test_shares_summing_above_one_across_commissioners():
    errs = errors_of(
        commissioners=[{"name": "A", "shares": {"job": 0.6}}, {"name": "B", "shares": {"job": 0.5}}]
    )
    reason = reason_for(errs, "commissioners")
    assert "'job'" in reason and "1.1" in reason and "above 1" in reason


def test_shares_summing_to_exactly_one_are_fine():
    s = make_scenario(
        commissioners=[{"name": "A", "shares": {"job": 0.7}}, {"name": "B", "shares": {"job": 0.3}}]
    )
    assert s.unfunded_shares() == {}


def test_effect_on_unknown_outcome():
    errs = errors_of(**{"partners[0].effect": {"xyz": {"mean": 0.1}}})
    reason = reason_for(errs, "partners[0].effect.xyz")
    assert "unknown outcome 'xyz'" in reason and "job" in reason  # says what is known


def test_share_of_unknown_outcome():
    errs = errors_of(**{"commissioners[0].shares": {"jobs": 0.5}})
    assert "unknown outcome 'jobs'" in reason_for(errs, "commissioners[0].shares.jobs")


def test_empty_partner_list():
    assert errors_of(partners=[]) == [("partners", "must not be empty")]


@pytest.mark.parametrize("years", [0, -1.0])
def test_zero_or_negative_horizon(years):
    assert errors_of(**{"horizon.years": years}) == [("horizon.years", "must be > 0")]


def test_unknown_field_is_a_typo_error():
    errs = errors_of(**{"partners[0].capcity": 5})
    assert reason_for(errs, "partners[0].capcity") == "unknown field (check the spelling)"


def test_unknown_top_level_field():
    errs = errors_of(tranche=[])
    assert reason_for(errs, "tranche") == "unknown field (check the spelling)"


def test_guarantee_covering_an_unknown_tranche():
    errs = errors_of(
        tranches=[
            {"name": "S", "commitment": 1000.0},
            {"name": "G", "kind": "guarantee", "commitment": 10.0, "covers": "Nope"},
        ]
    )
    assert "'Nope'" in reason_for(errs, "tranches[1].covers")


def test_guarantee_must_name_what_it_covers():
    errs = errors_of(
        tranches=[{"name": "S", "commitment": 1000.0}, {"name": "G", "kind": "guarantee", "commitment": 10.0}]
    )
    assert "covers" in reason_for(errs, "tranches[1].covers")


def test_guarantee_alone_provides_no_capital():
    errs = errors_of(tranches=[{"name": "G", "kind": "guarantee", "commitment": 10.0, "covers": "G"}])
    assert any(p == "tranches" for p, _ in errs)


def test_tiered_outcome_without_tiers():
    errs = errors_of(**{"outcomes[0].payment_basis": "tiered"})
    assert "at least one tier" in reason_for(errs, "outcomes[0].tiers")


def test_tiers_must_increase():
    errs = errors_of(
        **{
            "outcomes[0].payment_basis": "tiered",
            "outcomes[0].tiers": [{"min_improvement": 0.2, "price": 10}, {"min_improvement": 0.1, "price": 20}],
        }
    )
    assert "increasing" in reason_for(errs, "outcomes[0].tiers")


def test_enrolment_end_beyond_horizon():
    errs = errors_of(**{"partners[0].enrolment_end": 6.0})
    assert "within the horizon" in reason_for(errs, "partners[0].enrolment_end")


def test_enrolment_end_before_start():
    errs = errors_of(**{"partners[0].enrolment_start": 2.0, "partners[0].enrolment_end": 1.0})
    assert "after enrolment_start" in reason_for(errs, "partners[0].enrolment_end")


def test_pipeline_partner_needs_referrals_and_capacity():
    d = base_dict()
    del d["partners"][0]["capacity"]
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(d)
    assert reason_for(exc.value.errors, "partners[0].capacity").startswith("required")


def test_zone_needs_capacity():
    errs = errors_of(delivery={"model": "zone", "referrals": 10.0})
    assert reason_for(errs, "delivery.capacity").startswith("required")


def test_duplicate_names():
    errs = errors_of(commissioners=[{"name": "C", "shares": {"job": 0.5}}, {"name": "C", "shares": {"job": 0.5}}])
    assert "duplicate" in reason_for(errs, "commissioners[1].name")


def test_several_errors_are_all_reported():
    errs = errors_of(**{"outcomes[0].price": -1.0, "partners[0].capacity": 0.0})
    paths = {p for p, _ in errs}
    assert {"outcomes[0].price", "partners[0].capacity"} <= paths


def test_scenario_must_be_a_mapping():
    with pytest.raises(ScenarioError, match="mapping"):
        parse_scenario([1, 2])


# --- reading files ---------------------------------------------------------------------------


def test_malformed_yaml_is_a_clear_error(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\nhorizon: {years: 5\noutcomes: [\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    msg = str(exc.value)
    assert str(p) in msg and "not valid YAML" in msg and "line 3" in msg
    assert "Traceback" not in msg and "\n" not in msg


def test_missing_file_is_a_clear_error(tmp_path):
    p = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    assert str(exc.value) == f"{p}: no such file"


def test_empty_file_is_a_clear_error(tmp_path):
    p = tmp_path / "empty.yaml"
    p.write_text("", encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    assert str(exc.value) == f"{p}: the scenario is empty"


def test_unreadable_path_is_a_scenario_error(tmp_path):
    """A directory, or a file that is not UTF-8 text, could not be read: a ScenarioError like a
    missing file (the API's callers, the app included, catch only ScenarioError)."""
    with pytest.raises(ScenarioError):
        load_scenario(tmp_path)
    p = tmp_path / "binary.yaml"
    p.write_bytes(b"\xff\xfe\x00name")
    with pytest.raises(ScenarioError):
        load_scenario(p)


def test_field_errors_from_a_file_name_the_file(tmp_path):
    p = tmp_path / "neg.yaml"
    p.write_text(scenario_to_yaml(make_scenario()).replace("price: 1000.0", "price: -1.0"), encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    assert "outcomes[0].price" in str(exc.value) and str(p) in str(exc.value)


# --- YAML round trips ------------------------------------------------------------------------


def test_scenarios_directory_is_not_empty():
    assert SCENARIOS, "no scenarios/*.yaml found"


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenario_loads_and_round_trips(path, tmp_path):
    s = load_scenario(path)
    out = tmp_path / path.name
    save_scenario(s, out)
    again = load_scenario(out)
    assert again == s
    # and once more: the written text is a fixed point
    assert scenario_to_yaml(again) == scenario_to_yaml(s)


def test_round_trip_keeps_every_field(tmp_path):
    s = make_scenario(
        horizon={"period": "quarter", "start": "2021-04-01", "discount_rate": 0.05},
        outcomes=[
            {"name": "job", "baseline_rate": 0.2, "lag": 1.0, "price": 1000.0},
            {
                "name": "tiered: é",
                "baseline_rate": 0.1,
                "lag": 0.5,
                "price": 0.0,
                "payment_basis": "tiered",
                "tiers": [{"min_improvement": 0.1, "price": 100.0}, {"min_improvement": 0.3, "price": 250.5}],
                "improvement": "relative_reduction",
                "cohort_years": 1.0,
                "max_per_participant": 12.25,
                "fiscal_value": 1e6 / 3,
            },
        ],
        commissioners=[
            {"name": "C", "shares": {"job": 0.6, "tiered: é": 0.1}, "annual_budget": 5e5, "total_cap": 1e6,
             "payment_lag": 0.25, "withdrawal_hazard": 0.1}
        ],
        tranches=[
            {"name": "S", "commitment": 1e5, "coupon": 0.05, "cap_multiple": 1.5},
            {"name": "J", "kind": "first_loss", "commitment": 2e4, "cap_irr": 0.2, "upside": False},
            {"name": "G", "kind": "guarantee", "commitment": 1e4, "covers": "S"},
        ],
        backbone={"cost": 1234.5, "success_fee": 0.05},
        terms={"recycling": True, "distribution_frequency": "year", "excess_to": "split", "excess_split": 0.3},
        uncertainty={"enabled": True, "rho": 0.1, "maturity_delay_sd": 0.2, "referral_sd": 0.3},
    )
    p = tmp_path / "s.yaml"
    save_scenario(s, p)
    again = load_scenario(p)
    assert again == s
    assert again.horizon.start == dt.date(2021, 4, 1)
    assert again.outcomes[1].fiscal_value == 1e6 / 3  # floats exactly


_names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
_money = st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)
_prob = st.floats(min_value=0, max_value=1, allow_nan=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=_names,
    outcome=_names,
    price=_money,
    baseline=_prob,
    lag=st.floats(min_value=0, max_value=20),
    period=st.sampled_from(["month", "quarter", "year"]),
    start=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2090, 1, 1)),
    share=_prob,
    cap=st.none() | st.floats(min_value=1e-3, max_value=1e9),
    coupon=_prob,
)
def test_round_trip_of_generated_scenarios(name, outcome, price, baseline, lag, period, start, share, cap, coupon):
    d = scenario_dict(
        name=name,
        horizon={"period": period, "start": start.isoformat()},
        outcomes=[{"name": outcome, "baseline_rate": baseline, "lag": lag, "price": price}],
        **{
            "partners[0].effect": {outcome: {"mean": 0.1, "sd": 0.05}},
            "commissioners[0].shares": {outcome: share},
            "commissioners[0].total_cap": cap,
            "tranches[0].coupon": coupon,
        },
    )
    s = parse_scenario(d)
    assert scenario_from_yaml(scenario_to_yaml(s)) == s


# --- derived views ---------------------------------------------------------------------------


def test_unfunded_shares_flags_the_remainder():
    s = make_scenario(
        outcomes=[
            {"name": "job", "baseline_rate": 0.2, "lag": 1.0, "price": 1000.0},
            {"name": "home", "baseline_rate": 0.1, "lag": 1.0, "price": 500.0},
            {"name": "school", "baseline_rate": 0.1, "lag": 1.0, "price": 500.0},
        ],
        commissioners=[
            {"name": "A", "shares": {"job": 0.5, "home": 1.0}},
            {"name": "B", "shares": {"job": 0.3}},
        ],
    )
    unfunded = s.unfunded_shares()
    assert set(unfunded) == {"job", "school"}
    assert unfunded["job"] == pytest.approx(0.2)
    assert unfunded["school"] == 1.0


def test_headline_terms_by_hand():
    # Partner: 10 referrals a year for 2 years (capacity 100 never binds) -> 20 participants.
    s = make_scenario(
        **{"commissioners[0].shares": {"job": 0.75}},
        tranches=[
            {"name": "S", "commitment": 80_000.0, "cap_irr": 0.08},
            {"name": "J", "kind": "subordinated", "commitment": 20_000.0, "cap_irr": 0.15},
            {"name": "G", "kind": "guarantee", "commitment": 50_000.0, "covers": "S"},
        ],
    )
    h = headline_terms(s)
    assert h["capital"] == 100_000.0  # the guarantee provides no capital
    assert h["participants"] == 20.0
    assert h["max_outcome_payment"] == pytest.approx(1000.0 * 0.75 * 20)  # funded share of the top price
    assert h["outcome_to_capital"] == pytest.approx(15_000.0 / 100_000.0)
    assert h["capital_per_participant"] == pytest.approx(5_000.0)
    assert h["duration_years"] == 3.0  # first enrolment (0) to the end of the last service (2 + 1)
    assert h["max_return"] == 0.15
    assert h["currency"] == "GBP"


def test_headline_terms_capacity_binds_and_caps_set_the_maximum():
    # Capacity 4, one-year service, enrolment in years 0 and 1: 4 + 4 = 8 of the 100 referred.
    s = make_scenario(
        **{"partners[0].capacity": 4.0, "partners[0].referrals": 50.0},
        commissioners=[
            {"name": "A", "shares": {"job": 0.5}, "total_cap": 3000.0},
            {"name": "B", "shares": {"job": 0.5}, "total_cap": 2000.0},
        ],
    )
    h = headline_terms(s)
    assert h["participants"] == 8.0
    assert h["max_outcome_payment"] == 5000.0
    assert math.isnan(h["max_return"])


def test_headline_terms_tiered_uses_top_price():
    s = make_scenario(
        **{
            "outcomes[0].payment_basis": "tiered",
            "outcomes[0].price": 0.0,
            "outcomes[0].tiers": [{"min_improvement": 0.1, "price": 300.0}, {"min_improvement": 0.5, "price": 900.0}],
        }
    )
    assert headline_terms(s)["max_outcome_payment"] == pytest.approx(900.0 * 20)
