"""Hardening of scenario input: no traceback and no silent wrong answer on any input.

Bad inputs (non-finite numbers, numbers no one can mean, true/false for a number, a key given
twice, YAML nested without end) are a :class:`ScenarioError` naming the field path and the
reason; a validated scenario cannot be changed into an invalid one (its parts are frozen,
``model_copy(update=...)`` validates, assigning a field of the scenario validates it again).
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from cib_sim.scenario import (
    MAX_MONEY,
    MAX_PEOPLE,
    Commissioner,
    FieldErrors,
    Horizon,
    Scenario,
    ScenarioError,
    errors_from_validation,
    load_scenario,
    parse_scenario,
    scenario_from_yaml,
    scenario_to_yaml,
)

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
RATE_CARD = ROOT / "scenarios" / "rate_card_fund.yaml"
RATE_CARD_TEXT = RATE_CARD.read_text(encoding="utf-8")
OUTCOME = "improved_behaviour"  # the first outcome of the rate-card fund
PARTNERS = ["Think Forward", "Links for Life", "Advance"]


def rate_card() -> dict[str, Any]:
    """The shipped rate-card fund as a plain dict (a fresh copy each call)."""
    return yaml.safe_load(RATE_CARD_TEXT)


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def set_path(d: Any, path: str, value: Any) -> None:
    """``set_path(d, "partners[0].effect.x.mean", v)``: set one value deep inside ``d``."""
    keys: list[Any] = [int(i) if i else k for k, i in _TOKEN.findall(path)]
    for k in keys[:-1]:
        d = d[k]
    d[keys[-1]] = copy.deepcopy(value)


def errors_of(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(data)
    errs = exc.value.errors
    assert errs and all(isinstance(p, str) and isinstance(r, str) and r for p, r in errs)
    assert str(exc.value) == "\n".join(f"{p}: {r}" if p else r for p, r in errs)
    return errs


def assert_error(errs: list[tuple[str, str]], path: str, reason: str) -> None:
    hits = [r for p, r in errs if p == path]
    assert hits, f"no error at {path!r}; got {errs}"
    assert any(reason in r for r in hits), f"{path!r}: no reason with {reason!r}; got {hits}"


FINITE = "must be a finite number"
NOT_BOOL = "must be a number, not true/false"
PEOPLE = "must be <= 1e9"
MONEY = "must be <= 1e13"

_SPLIT = {"model": "pipelines", "attribution": "fixed", "split": {"Think Forward": 0.5, "Links for Life": 0.3, "Advance": 0.2}}
_ZONE = {"model": "zone", "referrals": 1000, "capacity": 2000, "enrolment_end": 1.5, "service_length": 1.5}
_TIERED = {"outcomes[0].payment_basis": "tiered", "outcomes[0].tiers": [{"min_improvement": 0.1, "price": 500}]}


def _split(**values: Any) -> dict[str, Any]:
    return {**_SPLIT, "split": {**_SPLIT["split"], **values}}


# (id, {path: value, ...} applied to the rate-card fund, expected error path, reason substring)
BAD_INPUTS: list[tuple[str, dict[str, Any], str, str]] = [
    # --- non-finite numbers, everywhere a float is accepted
    ("price-inf", {"outcomes[0].price": math.inf}, "outcomes[0].price", FINITE),
    ("price-minus-inf", {"outcomes[0].price": -math.inf}, "outcomes[0].price", FINITE),
    ("price-nan", {"outcomes[0].price": math.nan}, "outcomes[0].price", FINITE),
    ("fiscal-value-overflow", {"outcomes[0].fiscal_value": float("1e400")}, "outcomes[0].fiscal_value", FINITE),
    ("fiscal-value-huge-int", {"outcomes[0].fiscal_value": 10**400}, "outcomes[0].fiscal_value", FINITE),
    ("price-string-inf", {"outcomes[0].price": "inf"}, "outcomes[0].price", FINITE),
    ("price-string-1e400", {"outcomes[0].price": "1e400"}, "outcomes[0].price", FINITE),
    ("horizon-years-nan", {"horizon.years": math.nan}, "horizon.years", FINITE),
    ("discount-rate-inf", {"horizon.discount_rate": math.inf}, "horizon.discount_rate", FINITE),
    ("lag-nan", {"outcomes[1].lag": math.nan}, "outcomes[1].lag", FINITE),
    ("share-nan", {f"commissioners[0].shares.{OUTCOME}": math.nan}, f"commissioners[0].shares.{OUTCOME}", FINITE),
    ("share-inf", {f"commissioners[0].shares.{OUTCOME}": math.inf}, f"commissioners[0].shares.{OUTCOME}", FINITE),
    ("split-nan", {"delivery": _split(Advance=math.nan)}, "delivery.split.Advance", FINITE),
    ("split-inf", {"delivery": _split(**{"Think Forward": math.inf})}, "delivery.split.Think Forward", FINITE),
    ("effect-mean-nan", {f"partners[0].effect.{OUTCOME}.mean": math.nan}, f"partners[0].effect.{OUTCOME}.mean", FINITE),
    ("effect-sd-inf", {f"partners[1].effect.{OUTCOME}.sd": math.inf}, f"partners[1].effect.{OUTCOME}.sd", FINITE),
    ("optional-referrals-inf", {"partners[0].referrals": math.inf}, "partners[0].referrals", FINITE),
    ("optional-enrolment-end-inf", {"partners[0].enrolment_end": math.inf}, "partners[0].enrolment_end", FINITE),
    ("enrolment-start-huge-int", {"partners[2].enrolment_start": 10**400}, "partners[2].enrolment_start", FINITE),
    ("optional-total-cap-inf", {"commissioners[0].total_cap": math.inf}, "commissioners[0].total_cap", FINITE),
    ("optional-cap-irr-nan", {"tranches[1].cap_irr": math.nan}, "tranches[1].cap_irr", FINITE),
    ("maturity-nan", {"partners[0].maturity.half_maturity": math.nan}, "partners[0].maturity.half_maturity", FINITE),
    ("rho-nan", {"uncertainty.rho": math.nan}, "uncertainty.rho", FINITE),
    ("tier-price-inf", {**_TIERED, "outcomes[0].tiers[0].price": math.inf}, "outcomes[0].tiers[0].price", FINITE),
    ("zone-capacity-inf", {"delivery": {**_ZONE, "capacity": math.inf}}, "delivery.capacity", FINITE),
    # --- values no one can mean
    ("referrals-too-many", {"partners[0].referrals": 2e9}, "partners[0].referrals", PEOPLE),
    ("capacity-too-many", {"partners[1].capacity": 1e10}, "partners[1].capacity", PEOPLE),
    ("zone-capacity-too-many", {"delivery": {**_ZONE, "capacity": 5e9}}, "delivery.capacity", PEOPLE),
    ("zone-referrals-too-many", {"delivery": {**_ZONE, "referrals": 5e9}}, "delivery.referrals", PEOPLE),
    ("price-too-much", {"outcomes[0].price": 1e14}, "outcomes[0].price", MONEY),
    ("tier-price-too-much", {**_TIERED, "outcomes[0].tiers[0].price": 1e14}, "outcomes[0].tiers[0].price", MONEY),
    ("max-per-participant-too-much", {"outcomes[0].max_per_participant": 1e20}, "outcomes[0].max_per_participant", MONEY),
    ("cost-too-much", {"partners[0].cost": 2e13}, "partners[0].cost", MONEY),
    ("fixed-cost-too-much", {"partners[0].fixed_cost": 1e15}, "partners[0].fixed_cost", MONEY),
    ("total-cap-too-much", {"commissioners[0].total_cap": 1e14}, "commissioners[0].total_cap", MONEY),
    ("annual-budget-too-much", {"commissioners[0].annual_budget": 1e14}, "commissioners[0].annual_budget", MONEY),
    ("commitment-too-much", {"tranches[0].commitment": 1e14}, "tranches[0].commitment", MONEY),
    ("backbone-cost-too-much", {"backbone.cost": 1e14}, "backbone.cost", MONEY),
    ("cap-multiple-too-much", {"tranches[1].cap_multiple": 1e7}, "tranches[1].cap_multiple", "must be <= 1e6"),
    ("threshold-too-much", {"outcomes[0].threshold": 1e7}, "outcomes[0].threshold", "must be <= 1e6"),
    ("cohort-years-too-long", {"outcomes[0].cohort_years": 100}, "outcomes[0].cohort_years", "must be <= 50"),
    # --- true/false where a number is meant
    ("capacity-true", {"partners[0].capacity": True}, "partners[0].capacity", NOT_BOOL),
    ("years-false", {"horizon.years": False}, "horizon.years", NOT_BOOL),
    ("price-true", {"outcomes[2].price": True}, "outcomes[2].price", NOT_BOOL),
    ("share-true", {f"commissioners[0].shares.{OUTCOME}": True}, f"commissioners[0].shares.{OUTCOME}", NOT_BOOL),
    ("split-false", {"delivery": _split(Advance=False)}, "delivery.split.Advance", NOT_BOOL),
    ("effect-mean-true", {f"partners[0].effect.{OUTCOME}.mean": True}, f"partners[0].effect.{OUTCOME}.mean", NOT_BOOL),
    ("steepness-true", {"partners[0].maturity.steepness": True}, "partners[0].maturity.steepness", NOT_BOOL),
    ("rho-true", {"uncertainty.rho": True}, "uncertainty.rho", NOT_BOOL),
    ("optional-cap-irr-true", {"tranches[1].cap_irr": True}, "tranches[1].cap_irr", NOT_BOOL),
    ("commitment-false", {"tranches[0].commitment": False}, "tranches[0].commitment", NOT_BOOL),
    # --- other bad values still named
    ("share-five", {f"commissioners[0].shares.{OUTCOME}": 5}, f"commissioners[0].shares.{OUTCOME}", "between 0 and 1"),
    ("capacity-word", {"partners[0].capacity": "many"}, "partners[0].capacity", "must be a number"),
    ("capacity-list", {"partners[0].capacity": [1, 2]}, "partners[0].capacity", "must be a number"),
]


def test_the_table_is_large_and_distinct():
    ids = [case[0] for case in BAD_INPUTS]
    assert len(ids) >= 30 and len(set(ids)) == len(ids)


@pytest.mark.parametrize(("changes", "path", "reason"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_a_scenario_error_naming_the_field(changes, path, reason):
    d = rate_card()
    for p, v in changes.items():
        set_path(d, p, v)
    assert_error(errors_of(d), path, reason)


def test_limits_name_what_they_limit():
    d = rate_card()
    set_path(d, "partners[0].capacity", 2e9)
    set_path(d, "outcomes[0].price", 1e14)
    errs = dict(errors_of(d))
    assert errs["partners[0].capacity"] == "must be <= 1e9, the limit on numbers of people"
    assert errs["outcomes[0].price"] == "must be <= 1e13, the limit on amounts of money"


def test_at_most_128_partners_and_commissioners():
    # The engine's compiled per-path sums over payers and delivery units add at most 128 terms.
    d = rate_card()
    d["partners"] = [dict(d["partners"][0], name=f"p{i}") for i in range(129)]
    c = d["commissioners"][0]
    d["commissioners"] = [dict(c, name=f"c{i}", shares={k: v / 129 for k, v in c["shares"].items()}) for i in range(129)]
    errs = errors_of(d)
    assert ("partners", "at most 128 partners (got 129)") in errs
    assert ("commissioners", "at most 128 commissioners (got 129)") in errs


def test_values_at_the_limits_are_accepted():
    d = rate_card()
    set_path(d, "partners[0].capacity", MAX_PEOPLE)
    set_path(d, "partners[0].referrals", MAX_PEOPLE)
    set_path(d, "outcomes[0].price", MAX_MONEY)
    set_path(d, "tranches[0].commitment", MAX_MONEY)
    s = parse_scenario(d)
    assert s.partners[0].capacity == 1e9 and s.outcomes[0].price == 1e13


def test_numbers_as_ints_strings_and_booleans_where_booleans_are_meant():
    """What was valid stays valid: ints for floats, numeric strings, true/false for flags."""
    d = rate_card()
    set_path(d, "partners[0].capacity", "1000")
    set_path(d, "partners[0].referrals", 800)
    set_path(d, "tranches[1].upside", True)
    set_path(d, "terms.recycling", False)
    set_path(d, "uncertainty.enabled", False)
    s = parse_scenario(d)
    assert s.partners[0].capacity == 1000.0 and isinstance(s.partners[0].capacity, float)
    assert s.partners[0].referrals == 800.0
    assert s.tranches[1].upside is True and s.terms.recycling is False and s.uncertainty.enabled is False


def test_several_bad_numbers_are_all_reported():
    d = rate_card()
    set_path(d, "outcomes[0].price", math.inf)
    set_path(d, "partners[1].capacity", True)
    set_path(d, "tranches[0].commitment", 1e14)
    paths = {p for p, _ in errors_of(d)}
    assert {"outcomes[0].price", "partners[1].capacity", "tranches[0].commitment"} <= paths


# --- the same through YAML ---------------------------------------------------------------------

# (id, text replaced in the rate-card file, its replacement, expected error path, reason substring)
YAML_CASES = [
    ("yaml-inf", "price: 1300,", "price: .inf,", "outcomes[0].price", FINITE),
    ("yaml-minus-inf", "price: 1300,", "price: -.inf,", "outcomes[0].price", FINITE),
    ("yaml-nan", "price: 1300,", "price: .nan,", "outcomes[0].price", FINITE),
    ("yaml-1e400", "price: 1300,", "price: 1e400,", "outcomes[0].price", FINITE),
    ("yaml-1.0e+400", "price: 1300,", "price: 1.0e+400,", "outcomes[0].price", FINITE),
    ("yaml-true", "    capacity: 1000\n", "    capacity: true\n", "partners[0].capacity", NOT_BOOL),
    ("yaml-share-nan", "shares: {improved_behaviour: 1,", "shares: {improved_behaviour: .NaN,",
     f"commissioners[0].shares.{OUTCOME}", FINITE),
    ("yaml-effect-inf", "improved_behaviour: {mean: 0.15,", "improved_behaviour: {mean: .Inf,",
     f"partners[0].effect.{OUTCOME}.mean", FINITE),
    ("yaml-too-much", "commitment: 2800000,", "commitment: 2.8e+14,", "tranches[0].commitment", MONEY),
]


@pytest.mark.parametrize(("old", "new", "path", "reason"), [c[1:] for c in YAML_CASES], ids=[c[0] for c in YAML_CASES])
def test_bad_yaml_values(old, new, path, reason, tmp_path):
    assert old in RATE_CARD_TEXT
    text = RATE_CARD_TEXT.replace(old, new, 1)
    with pytest.raises(ScenarioError) as exc:
        scenario_from_yaml(text)
    assert_error(exc.value.errors, path, reason)
    p = tmp_path / "bad.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    assert_error(exc.value.errors, path, reason)
    assert exc.value.source == str(p) and str(p) in str(exc.value)


# --- duplicate keys, deep nesting, values YAML cannot build -------------------------------------


def _line_col(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """1-based line and column of the nth occurrence of ``needle``."""
    at = -1
    for _ in range(nth):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


@pytest.mark.parametrize(
    ("old", "new", "key", "nth"),
    [
        ("currency: GBP\n", "currency: GBP\ncurrency: EUR\n", "currency", 2),  # top level
        ("price: 1300,", "price: 1300, price: 1,", "price", 2),  # in a flow mapping
        ("    capacity: 600\n", "    capacity: 600\n    capacity: 6000\n", "capacity", 3),  # a partner
        ("total_cap: 7900000\n", "total_cap: 7900000\n    total_cap: 1\n", "total_cap", 2),
        ("improved_attendance: 1,", "improved_attendance: 1, improved_attendance: 0.5,", "improved_attendance", 5),
    ],
    ids=["top-level", "flow-mapping", "partner", "commissioner", "shares"],
)
def test_duplicate_key_names_line_and_column(old, new, key, nth, tmp_path):
    assert RATE_CARD_TEXT.count(old) >= 1
    text = RATE_CARD_TEXT.replace(old, new, 1)
    line, col = _line_col(text, f"{key}:", nth)
    want = f"not valid YAML (line {line}, column {col}): duplicate key '{key}'"
    with pytest.raises(ScenarioError) as exc:
        scenario_from_yaml(text)
    assert exc.value.errors == [("", want)]
    p = tmp_path / "dup.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    assert str(exc.value) == f"{p}: {want}"


def test_duplicate_key_with_the_same_value_is_still_an_error():
    text = RATE_CARD_TEXT.replace("currency: GBP\n", "currency: GBP\ncurrency: GBP\n", 1)
    with pytest.raises(ScenarioError, match="duplicate key 'currency'"):
        scenario_from_yaml(text)


def test_merge_keys_may_be_overridden():
    """``<<: *anchor`` then a key of the anchor again is YAML's way to override: not a duplicate."""
    text = RATE_CARD_TEXT.replace(
        "  - name: Links for Life\n", "  - name: Links for Life\n    <<: {cost: 1, fixed_cost: 2}\n", 1
    )
    s = scenario_from_yaml(text)
    assert s == load_scenario(RATE_CARD)  # the partner's own cost and fixed_cost win


@pytest.mark.parametrize(
    "text",
    [
        "name: " + "[" * 500 + "]" * 500 + "\n",
        "[" * 5000 + "]" * 5000,
        "{a: " * 500 + "1" + "}" * 500,
        "".join("  " * i + f"k{i}:\n" for i in range(500)) + "  " * 500 + "v\n",
        "- " * 800 + "x\n",
    ],
    ids=["sequences", "sequences-5000", "flow-mappings", "block-mappings", "block-sequences"],
)
def test_deep_nesting_is_a_scenario_error(text, tmp_path):
    with pytest.raises(ScenarioError) as exc:
        scenario_from_yaml(text)
    [(path, reason)] = exc.value.errors
    assert path == "" and reason.startswith("not valid YAML") and "nested too deeply" in reason
    p = tmp_path / "deep.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match="nested too deeply"):
        load_scenario(p)


def test_moderate_nesting_in_a_wrong_place_is_a_field_error():
    with pytest.raises(ScenarioError) as exc:
        scenario_from_yaml(RATE_CARD_TEXT.replace("price: 1300,", "price: " + "[" * 50 + "]" * 50 + ",", 1))
    assert_error(exc.value.errors, "outcomes[0].price", "must be a number")


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("start: 2012-04-01", "start: 2012-02-31", "not a valid date"),
        ("price: 1300,", "price: !!int abc,", "not valid YAML"),
        ("price: 1300,", "price: !!float abc,", "not valid YAML"),
        ("price: 1300,", "price: !!python/object:os.system ls,", "not valid YAML"),
    ],
    ids=["date", "int-tag", "float-tag", "python-tag"],
)
def test_values_yaml_cannot_build_are_scenario_errors(old, new, reason):
    with pytest.raises(ScenarioError) as exc:
        scenario_from_yaml(RATE_CARD_TEXT.replace(old, new, 1))
    [(path, msg)] = exc.value.errors
    assert path == "" and msg.startswith("not valid YAML") and reason in msg


# --- a validated scenario stays valid ----------------------------------------------------------


@pytest.fixture
def s() -> Scenario:
    return load_scenario(RATE_CARD)


def _paths(exc: ValidationError) -> list[str]:
    return [p for p, _ in errors_from_validation(exc)]


def test_parts_cannot_be_changed_in_place(s):
    before = s.model_dump()
    with pytest.raises(ValidationError) as exc:
        s.partners[0].capacity = -1
    assert _paths(exc.value) == ["capacity"] and "model_copy" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        s.commissioners[0].shares = {OUTCOME: 5}
    assert _paths(exc.value) == ["shares"]
    with pytest.raises(ValidationError):
        s.partners[0].capacity = 50.0  # even a valid value: the scenario's checks could not see it
    with pytest.raises(ValidationError):
        s.uncertainty.rho = 0.1
    with pytest.raises(ValidationError):
        del s.partners[0].capacity
    assert s.model_dump() == before


def test_assigning_a_field_of_the_scenario_validates_it_again(s):
    before = s.model_dump()
    s.name = "renamed"
    assert s.name == "renamed"
    s.horizon = {"years": 5, "period": "year"}  # a dict is validated into a Horizon
    assert isinstance(s.horizon, Horizon) and s.horizon.n_periods == 5
    s.name, s.horizon = before["name"], Horizon(**before["horizon"])
    assert s.model_dump() == before

    with pytest.raises(ValidationError) as exc:
        s.name = ""
    assert _paths(exc.value) == ["name"]
    # A field that is valid on its own but breaks a check across fields: the enrolment windows
    # (1.5 years) no longer fit in a one-year horizon.
    with pytest.raises(ValidationError) as exc:
        s.horizon = Horizon(years=1.0)
    assert "partners[0].enrolment_end" in _paths(exc.value)
    bad = [Commissioner(name="DWP", shares={OUTCOME: 0.7}), Commissioner(name="Other", shares={OUTCOME: 0.7})]
    with pytest.raises(ValidationError) as exc:
        s.commissioners = bad
    assert _paths(exc.value) == ["commissioners"]
    with pytest.raises(ValidationError):
        del s.name
    # Every failed assignment left the scenario as it was, and valid.
    assert s.model_dump() == before
    assert parse_scenario(s.model_dump()) == s


def test_model_copy_validates_the_copy(s):
    p = s.partners[0]
    with pytest.raises(ValidationError) as exc:
        p.model_copy(update={"capacity": -1})
    assert _paths(exc.value) == ["capacity"]
    with pytest.raises(ValidationError) as exc:
        s.commissioners[0].model_copy(update={"shares": {OUTCOME: 5}})
    assert _paths(exc.value) == [f"shares.{OUTCOME}"]
    with pytest.raises(ValidationError) as exc:
        s.outcomes[0].model_copy(update={"payment_basis": "tiered"})  # a model's own cross-field check
    assert _paths(exc.value) == ["tiers"]
    with pytest.raises(ValidationError) as exc:
        p.model_copy(update={"capacity": True})
    assert errors_from_validation(exc.value) == [("capacity", NOT_BOOL)]
    with pytest.raises(ValidationError) as exc:
        p.model_copy(update={"capcity": 5})
    assert errors_from_validation(exc.value) == [("capcity", "unknown field (check the spelling)")]

    # The scenario's checks across fields, with a changed part: a share of an unknown outcome,
    # shares above 1 in all, an enrolment window beyond the horizon.
    c = s.commissioners[0]
    for update, path in [
        ({"commissioners": [c.model_copy(update={"shares": {**c.shares, "nope": 0.5}})]}, "commissioners[0].shares.nope"),
        ({"commissioners": [c, Commissioner(name="Other", shares={OUTCOME: 0.5})]}, "commissioners"),
        ({"commissioners": [{"name": "DWP", "shares": {OUTCOME: 5}}]}, f"commissioners[0].shares.{OUTCOME}"),
        ({"partners": [p.model_copy(update={"enrolment_end": 9.0}), *s.partners[1:]]}, "partners[0].enrolment_end"),
        ({"horizon": s.horizon.model_copy(update={"years": 1.0})}, "partners[0].enrolment_end"),
    ]:
        with pytest.raises(ValidationError) as exc:
            s.model_copy(update=update)
        assert path in _paths(exc.value), (update, errors_from_validation(exc.value))


def test_model_copy_of_a_valid_change_is_what_parsing_gives(s):
    c = s.model_copy(update={"partners": [s.partners[0].model_copy(update={"capacity": 50}), *s.partners[1:]]})
    assert c.partners[0].capacity == 50.0
    d = s.model_dump()
    d["partners"][0]["capacity"] = 50.0
    assert c == parse_scenario(d)
    assert s.partners[0].capacity == 1000.0  # the original is unchanged
    assert c.partners[1] is s.partners[1]  # unchanged parts are shared (they are frozen)
    assert "capacity" in c.partners[0].model_fields_set

    deep = s.model_copy(update={"name": "x"}, deep=True)
    assert deep.partners[0] == s.partners[0] and deep.partners[0] is not s.partners[0]
    assert s.model_copy() == s and s.model_copy(deep=True) == s

    calm = s.model_copy(update={"uncertainty": s.uncertainty.model_copy(update={"enabled": False})})
    assert calm.uncertainty.enabled is False and calm.partners == s.partners


def test_a_share_of_five_is_refused_by_every_route(s):
    """parse, YAML, the commissioner's model_copy, the scenario's model_copy, assignment."""
    d = s.model_dump()
    d["commissioners"][0]["shares"][OUTCOME] = 5
    assert_error(errors_of(d), f"commissioners[0].shares.{OUTCOME}", "between 0 and 1")
    with pytest.raises(ScenarioError) as exc:
        scenario_from_yaml(RATE_CARD_TEXT.replace("shares: {improved_behaviour: 1,", "shares: {improved_behaviour: 5,"))
    assert_error(exc.value.errors, f"commissioners[0].shares.{OUTCOME}", "between 0 and 1")
    c = s.commissioners[0]
    fives = {**c.shares, OUTCOME: 5}
    routes = [
        lambda: c.model_copy(update={"shares": fives}),
        lambda: s.model_copy(update={"commissioners": [{**c.model_dump(), "shares": fives}]}),
        lambda: setattr(c, "shares", fives),
        lambda: setattr(s, "commissioners", [{**c.model_dump(), "shares": fives}]),
    ]
    for route in routes:
        with pytest.raises(ValidationError) as exc:
            route()
        assert any("shares" in p for p in _paths(exc.value))
    assert s.commissioners[0].shares[OUTCOME] == 1.0


# --- structured errors: names containing "; " ---------------------------------------------------


def test_duplicate_name_containing_semicolons_is_one_error():
    d = rate_card()
    name = "a; b: c; d"
    d["outcomes"][0]["name"] = d["outcomes"][1]["name"] = name
    errs = errors_of(d)
    assert ("outcomes[1].name", f"duplicate name {name!r}") in errs
    assert all("; b" not in p for p, _ in errs)  # no error split off the name


def test_unknown_outcome_named_with_semicolons_is_one_error():
    d = rate_card()
    d["commissioners"][0]["shares"]["x; y: z"] = 0.5
    errs = errors_of(d)
    assert [p for p, _ in errs] == ["commissioners[0].shares.x; y: z"]
    assert errs[0][1].startswith("unknown outcome 'x; y: z'")


def test_outcome_and_partner_names_with_semicolons_are_fine():
    d = rate_card()
    old, new = d["outcomes"][0]["name"], "behaviour; improved: yes"
    d["outcomes"][0]["name"] = new
    for p in d["partners"]:
        p["effect"][new] = p["effect"].pop(old)
    d["commissioners"][0]["shares"][new] = d["commissioners"][0]["shares"].pop(old)
    d["partners"][0]["name"] = "Think; Forward"
    s = parse_scenario(d)
    assert scenario_from_yaml(scenario_to_yaml(s)) == s


def test_errors_from_validation_reads_the_pairs_not_the_message():
    with pytest.raises(ValidationError) as exc:
        Commissioner.model_validate({"name": "C", "shares": {"a; b: c": 2, "d": -1}})
    assert errors_from_validation(exc.value) == [("shares.a; b: c", "must be between 0 and 1"), ("shares.d", "must be between 0 and 1")]
    err = exc.value.errors()[0]["ctx"]["error"]
    assert isinstance(err, FieldErrors) and err.errors == [("a; b: c", "must be between 0 and 1"), ("d", "must be between 0 and 1")]


# --- the shipped scenarios ---------------------------------------------------------------------


def test_there_are_shipped_scenarios():
    assert len(SCENARIOS) >= 4


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenario_still_loads_to_the_same_values(path):
    s = load_scenario(path)
    assert s == parse_scenario(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert scenario_from_yaml(scenario_to_yaml(s)) == s
    assert Scenario.model_validate_json(s.model_dump_json()) == s
