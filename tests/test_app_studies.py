"""Cases and sensitivity tables for the app (:mod:`cib_sim.app.studies`), on few paths."""

from __future__ import annotations

import pandas as pd
import pytest

from cib_sim.app import state as A
from cib_sim.app import studies as SD
from cib_sim.scenario import load_scenario

S = load_scenario(A.library()[next(iter(A.library()))])


def test_cases_are_read_with_their_problems_named_by_row():
    df = pd.DataFrame({"Case": ["Base", "Up", "", "Up", "Odd", "Gone"],
                       "Changes": ["", "effects:1.2 + referrals:1.1", "delay:1", "prices:2", "colour:red",
                                   "exit:Nobody@2"],
                       "Description": [""] * 6})
    cases, problems = SD.parse_cases(df, S)
    assert [n for n, _ in cases] == ["Base", "Up"]
    assert problems[0] == "Cases row 3: give the case a name"
    assert problems[1] == "Cases row 4 (Up): another case has this name"
    assert problems[2].startswith("Cases row 5 (Odd): shock 'colour:red'")
    assert problems[3].startswith("Cases row 6 (Gone): unknown partner 'Nobody'")
    assert SD.parse_cases(SD.DEFAULT_CASES, S)[1] == []


def test_cases_run_on_common_random_numbers():
    cases, _ = SD.parse_cases(SD.DEFAULT_CASES, S)
    res = SD.run_cases(S, cases, 300, 3)
    frame = SD.cases_frame([n for n, _ in cases], res)
    assert list(frame.columns) == ["Measure", "kind", "Base", "Upside", "Downside"]
    pay = frame.set_index("Measure").loc["Payments expected"]
    assert pay["Upside"] > pay["Base"] > pay["Downside"]
    # The base case is the scenario itself, on the same seed: equal to a plain run.
    from cib_sim import simulate

    r = simulate(S, n_paths=300, seed=3)
    assert pay["Base"] == pytest.approx(r.metric("contract", S.name, "outcome_payments_mean"))
    shown = SD.display_frame(frame, "GBP")
    assert shown.loc[shown.Measure == "Value for money", "Base"].iloc[0].endswith("x")


def test_one_way_and_two_way_tables():
    ms = SD.measures(S)
    senior = ms[0]
    assert senior.label.endswith(": P(loss)")
    pay = next(m for m in ms if m.label == "Payments expected")
    one = SD.one_way(S, "price_multiplier", SD.grid("0.8", "1.2", 3, "range"), [senior, pay], 300, 1)
    assert list(one.columns) == ["price_multiplier", senior.label, pay.label] and len(one) == 3
    assert list(one["price_multiplier"]) == [0.8, 1.0, 1.2] and one[pay.label].is_monotonic_increasing
    long = SD.two_way(S, "price_multiplier", [0.8, 1.2], "effect_multiplier", [0.5, 1.0], senior, 300, 1)
    assert len(long) == 4 and set(long.columns) == {"x", "y", "value"}
    table = SD.two_way_table(long, "Prices", "Effects")
    assert table.shape == (2, 3)
    with pytest.raises(ValueError, match="not a number"):
        SD.grid("0.8", "1,2", 3, "range")
    with pytest.raises(ValueError, match="two different"):
        SD.two_way(S, "price_multiplier", [1.0], "price_multiplier", [1.0], senior, 100, 1)


def test_break_even_reports_its_monte_carlo_error():
    ms = SD.measures(S)
    pay = next(m for m in ms if m.label == "Payments expected")
    from cib_sim import simulate

    base = simulate(S, n_paths=400, seed=1).metric("contract", S.name, "outcome_payments_mean")
    r = SD.break_even(S, "price_multiplier", pay, 0.9 * base, (0.5, 1.5), 400, 1)
    assert r.status == "solved" and 0.5 < r.value < 1.0 and r.std_error >= 0
    assert r.achieved == pytest.approx(0.9 * base, rel=1e-3)


def test_charts_of_cases_and_tables_are_valid_vega_lite():
    from cib_sim.charts import studies as CS

    frame = pd.DataFrame({"Measure": ["Senior: P(loss)", "Payments expected"], "kind": ["prob", "money"],
                          "Base": [0.01, 1e6], "Downside": [0.05, float("nan")]})
    spec = CS.cases_chart(frame).to_dict(validate=True)
    assert [p["title"]["text"] for p in spec["concat"]] == ["Senior: P(loss)", "Payments expected"]
    long = pd.DataFrame({"x": [0.8, 1.2, 0.8, 1.2], "y": [0.5, 0.5, 1.0, 1.0], "value": [0.1, 0.0, 0.05, 0.0]})
    CS.heatmap_chart(long, "Prices", "Effects", "Senior: P(loss)").to_dict(validate=True)
    CS.one_way_chart(pd.DataFrame({"p": [0.8, 1.0], "m": [0.1, 0.2]}), "p", "m", "Prices").to_dict(validate=True)
