"""The observed-data format: reading, conversion to the engine's axes, and validation that names
the bad rows (``cib_sim.learning.observed``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from learning_worlds import small_scenario

from cib_sim.learning import simulate_world
from cib_sim.learning.observed import (
    ObservedDataError,
    read_observed,
    verification_period,
    write_observed,
)
from cib_sim.scenario import load_scenario

# A valid report of the first four quarters of the small scenario: enrolment for A and B in
# periods 0-3; 'engaged' (lag 2 quarters) verified for the cohorts of periods 0 and 1;
# 'attainment' (lag 4 quarters) not yet verified; one payment.
GOOD = """\
# four quarters of the small scenario
period,partner,outcome,commissioner,enrolled,dropped,achieved,payments_received
0,A,,,30,3,,
0,B,,,20,,,
1,A,,,30,2,,
1,B,,,20,,,
2,A,,,0,,,
2,B,,,20,,,
3,A,,,25,,,
3,B,,,20,,,
0,A,engaged,,,,11,
0,B,engaged,,,,7,
1,A,engaged,,,,12,
1,B,engaged,,,,6,
3,,,Council,,,,10200
3,,,Fund,,,,6800
"""


@pytest.fixture(scope="module")
def s():
    return small_scenario()


def lines(text: str, *replace: tuple[str, str], add: str = "") -> str:
    for old, new in replace:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text + add


def errors_of(text: str, s, **kw) -> list[str]:
    with pytest.raises(ObservedDataError) as info:
        read_observed(text, s, **kw)
    return info.value.errors


def test_a_good_report_becomes_arrays_on_the_engine_axes(s):
    obs = read_observed(GOOD, s)
    assert obs.as_of == 4
    np.testing.assert_array_equal(obs.enrolled, [[30, 20], [30, 20], [0, 20], [25, 20]])
    assert obs.dropped[0, 0] == 3 and np.isnan(obs.dropped[0, 1])
    # engaged verified for cohorts 0-1 (periods 2, 3); the empty cohort of A in period 2 is
    # verified at 4, after the report; attainment not before period 4.
    assert obs.verified[:, :, 0].tolist() == [[True, True], [True, True], [False, False], [False, False]]
    assert not obs.verified[:, :, 1].any()
    np.testing.assert_array_equal(obs.achieved[:2, :, 0], [[11, 7], [12, 6]])
    np.testing.assert_array_equal(obs.paid, [[0, 0], [0, 0], [0, 0], [10200, 6800]])
    assert (obs.partner_ended == -1).all() and (obs.commissioner_ended == -1).all()


def test_a_simulated_world_round_trips_through_csv(s, tmp_path):
    w = simulate_world(s, seed=3)
    K = 10
    path = write_observed(w.observed(K), tmp_path / "obs.csv", comment="a world\nof the small scenario")
    obs = read_observed(path, s)
    f = w.flows
    assert obs.as_of == K
    np.testing.assert_array_equal(obs.enrolled, f["enrolled"][0, :K])
    np.testing.assert_array_equal(obs.dropped, f["dropped"][0, :K])
    np.testing.assert_allclose(obs.paid, f["commissioner_paid"][0, :K], atol=0.01)
    v = obs.verified
    np.testing.assert_array_equal(obs.achieved[v], f["achieved"][0, :K][v])
    assert v.sum() > 0


def test_unknown_partner_is_named_with_its_line_and_the_known_names(s):
    errs = errors_of(lines(GOOD, ("1,B,,,20,,,", "1,Bee,,,20,,,")), s)
    assert "line 6: partner 'Bee' is not in the scenario (known: A, B)" in errs


def test_unknown_outcome_and_commissioner_are_named(s):
    errs = errors_of(lines(GOOD, ("0,B,engaged,", "0,B,engagement,"), ("3,,,Fund,", "3,,,Funder,")), s)
    assert any(e.startswith("line 12: outcome 'engagement' is not in the scenario (known: engaged, attainment)") for e in errs)
    assert any(e.startswith("line 16: commissioner 'Funder' is not in the scenario (known: Council, Fund)") for e in errs)


def test_achieved_above_enrolled_is_an_error(s):
    errs = errors_of(lines(GOOD, ("1,B,engaged,,,,6,", "1,B,engaged,,,,26,")), s)
    assert errs == ["line 14: achieved 26 is above enrolled 20 (partner 'B', period 1, outcome 'engaged')"]


def test_dropped_above_enrolled_is_an_error(s):
    errs = errors_of(lines(GOOD, ("0,A,,,30,3,,", "0,A,,,30,31,,")), s)
    assert errs == ["line 3: dropped 31 is above enrolled 30 (partner 'A', period 0)"]


def test_period_beyond_the_horizon_is_an_error(s):
    errs = errors_of(GOOD + "20,A,,,5,,,\n", s)
    assert errs == ["line 17: period 20 is beyond the horizon (periods 0-19, 5 years)"]


def test_duplicates_name_both_rows(s):
    errs = errors_of(GOOD + "1,A,,,31,,,\n1,A,engaged,,,,12,\n3,,,Fund,,,,1\n", s)
    assert "line 17: duplicate of line 5 (period 1, partner 'A')" in errs
    assert "line 18: duplicate of line 13 (period 1, partner 'A', outcome 'engaged')" in errs
    assert "line 19: duplicate of line 16 (period 3, commissioner 'Fund')" in errs


def test_negative_fractional_and_non_numbers_are_errors(s):
    errs = errors_of(lines(GOOD, ("0,B,,,20,,,", "0,B,,,-2,,,"), ("1,B,,,20,,,", "1,B,,,2.5,,,"),
                           ("2,B,,,20,,,", "2,B,,,lots,,,"), ("3,,,Fund,,,,6800", "3,,,Fund,,,,-1")), s)
    assert "line 4: enrolled -2 must be >= 0" in errs
    assert "line 6: enrolled 2.5 must be a whole number" in errs
    assert "line 8: enrolled 'lots' is not a number" in errs
    assert "line 16: payments_received -1 must be >= 0" in errs


def test_every_problem_is_reported_at_once(s):
    # ... but not the echoes of a bad row (B's outcomes in period 1 are not checked against an
    # enrolment row that was itself rejected, and its enrolment is not reported missing).
    bad = lines(GOOD, ("1,B,,,20,,,", "1,Bee,,,20,,,"), ("0,B,engaged,,,,7,", "0,B,engaged,,,,27,"),
                ("1,B,engaged,,,,6,", "1,B,engaged,,,,26,"))
    assert errors_of(bad, s) == [
        "line 6: partner 'Bee' is not in the scenario (known: A, B)",
        "line 12: achieved 27 is above enrolled 20 (partner 'B', period 0, outcome 'engaged')",
    ]


def test_unknown_columns_are_named(s):
    errs = errors_of(GOOD.replace("payments_received", "payment"), s)
    assert errs[0].startswith("unknown column 'payment' (known: period, partner, outcome")


def test_missing_enrolment_within_the_window_is_an_error(s):
    errs = errors_of(lines(GOOD, ("2,A,,,0,,,\n", "")), s)
    assert errs == ["partner 'A': no enrolment reported for period 2 (within its enrolment window; write enrolled 0 if nobody enrolled)"]


def test_missing_outcome_of_a_verified_cohort_is_an_error(s):
    errs = errors_of(lines(GOOD, ("1,B,engaged,,,,6,\n", "")), s)
    assert errs == ["partner 'B', outcome 'engaged': no achieved count for the cohort enrolled in period 1, verified by period 3"]


def test_an_outcome_not_yet_verified_is_an_error(s):
    errs = errors_of(GOOD + "0,A,attainment,,,,9,\n", s)
    assert errs == [
        ("line 17: outcome 'attainment' of the cohort enrolled in period 0 is verified in period 4 (lag 1 years), "
         "after the last reported period 3"),
    ]


def test_periods_may_be_given_as_start_dates(s):
    text = GOOD.replace("\n3,", "\n2024-10-01,")
    obs = read_observed(text, s)
    assert obs.as_of == 4 and obs.enrolled[3, 0] == 25
    errs = errors_of(GOOD.replace("\n3,A,,,25", "\n2024-08-15,A,,,25"), s)
    assert errs[0].startswith("line 9: period '2024-08-15' is not the start of a period (periods start 2024-01-01, 2024-04-01")


def test_enrolment_may_ride_on_outcome_rows_but_must_agree(s):
    # The flat layout: period, partner, outcome, enrolled, achieved on one row.
    # Cohorts' outcomes are blank until verified.
    flat = pd.DataFrame({
        "period": [0, 0, 1, 1, 0, 0, 1, 1], "partner": ["A"] * 4 + ["B"] * 4, "outcome": ["engaged", "attainment"] * 4,
        "enrolled": [30, 30, 30, 30, 20, 20, 0, 0], "achieved": [None] * 8,
    })
    obs = read_observed(flat, s)
    assert obs.as_of == 2 and obs.enrolled.tolist() == [[30, 20], [30, 0]]
    assert not obs.verified.any()
    flat.loc[1, "enrolled"] = 31
    with pytest.raises(ObservedDataError) as info:
        read_observed(flat, s)
    assert info.value.errors == ["row 1: enrolled 31 differs from row 0 (30) for partner 'A', period 0"]


def test_payments_are_optional(s):
    obs = read_observed("\n".join(GOOD.splitlines()[:-2]) + "\n", s, as_of=4)
    assert obs.paid is None and obs.as_of == 4


def test_as_of_extends_a_quiet_report_but_not_backwards(s):
    obs = read_observed(GOOD, s, as_of=4)
    assert obs.as_of == 4
    assert "as_of: 3 reported periods, but the data has rows for period 3" in errors_of(GOOD, s, as_of=3)


def test_exit_and_withdrawal_are_read_and_checked(s):
    text = lines(GOOD, ("2,A,,,0,,,", "2,A,,,0,,,"), add="2,,,Council,,,,\n")
    text = text.replace("period,partner,outcome,commissioner,enrolled,dropped,achieved,payments_received",
                        "period,partner,outcome,commissioner,enrolled,dropped,achieved,payments_received,ended")
    text = text.replace("2,A,,,0,,,", "2,A,,,0,,,,1").replace("2,,,Council,,,,", "2,,,Council,,,,0,1")
    errs = errors_of(text, s)
    assert "line 4: partner 'A' ended in period 2 but enrolled participants in period 3" in [e.replace("line 7", "line 4") for e in errs]
    assert "line 17: commissioner 'Council' ended in period 2 but paid in period 3" in errs
    ok = text.replace("3,A,,,25,,,", "3,A,,,0,,,").replace("3,,,Council,,,,10200", "3,,,Council,,,,0")
    obs = read_observed(ok, s)
    assert obs.partner_ended.tolist() == [2, -1] and obs.commissioner_ended.tolist() == [2, -1]


def test_zone_reports_name_the_zone(tmp_path):
    z = load_scenario("scenarios/west_london_zone.yaml")
    w = simulate_world(z, seed=1)
    df = w.observed(6)
    assert set(df["partner"].dropna()) <= {"zone"} | set(z.partner_names)
    obs = read_observed(df, z)
    assert obs.enrolled.shape == (6, 1)
    bad = df.copy()
    bad.loc[0, "partner"] = "Mentoring"
    with pytest.raises(ObservedDataError) as info:
        read_observed(bad, z)
    assert info.value.errors[0].startswith("row 0: in the zone model enrolment and outcomes are reported for the whole zone")


def test_cohort_outcomes_are_verified_when_the_assessment_cohort_closes():
    # Peterborough: two-year cohorts counted from the first enrolment (period 1), lag 1.5 years:
    # the cohort of periods 1-8 closes at period 8 and is verified at 14, whichever period a
    # participant enrolled in; period 9 starts cohort 2.
    p = load_scenario("scenarios/peterborough.yaml")
    assert [verification_period(p, 0, t, 0) for t in (1, 4, 8, 9)] == [14, 14, 14, 22]


def test_rows_must_name_a_partner_or_a_commissioner(s):
    errs = errors_of(GOOD + "2,,,,5,,,\n", s)
    assert errs == [("line 17: name a partner (enrolment or outcome row) or a commissioner (payment row), "
                     "or write only period and ended=1 for a stop of delivery")]


def test_a_stop_of_delivery_is_a_row_of_its_own(s):
    text = GOOD.replace("payments_received\n", "payments_received,ended\n", 1).replace("3,A,,,25,,,", "3,A,,,0,,,")
    text = text.replace("3,B,,,20,,,", "3,B,,,0,,,") + "3,,,,,,,,1\n"
    obs = read_observed(text, s)
    assert obs.stopped == 3
    errs = errors_of(text.replace("3,A,,,0,,,", "3,A,,,4,,,"), s)
    assert errs == ["line 17: delivery stopped in period 3 but participants enrolled in period 3"]
