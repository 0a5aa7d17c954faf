"""The INDIGO loader parses real numbers correctly, and comparisons to real deals are exact."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cib_sim.deals import (
    MEASURES,
    USD_PER_UNIT,
    compare_to_deals,
    deal_terms,
    load_deals,
    load_pricings,
    mid_percentile,
    parse_number,
    parse_return,
)
from cib_sim.deals import indigo as dl

WLZ = "INDIGO-POJ-0184"  # West London Zone scale-up, Life Chances Fund
PETERBOROUGH = "INDIGO-POJ-0153"
BUENOS_AIRES = "INDIGO-POJ-0001"  # Proyecta Tu Futuro: max/min capital, IRR, stated duration


@pytest.fixture(scope="module")
def deals() -> pd.DataFrame:
    return load_deals()


def row(deals: pd.DataFrame, pid: str) -> pd.Series:
    r = deals.loc[deals["project_id"] == pid]
    assert len(r) == 1
    return r.iloc[0]


# --- loader: spot checks against named projects ---------------------------------------------


def test_one_row_per_project(deals):
    assert len(deals) == 319
    assert deals["project_id"].is_unique
    assert set(MEASURES) <= set(deals.columns)
    for col in MEASURES + ("capital_usd", "max_outcome_payment_usd", "usd_rate"):
        assert deals[col].dtype == "float64", col


def test_west_london_zone_terms(deals):
    r = row(deals, WLZ)
    assert r["currency"] == "GBP"
    assert r["capital"] == 1_815_000  # no exact amount: the maximum (min is 1,195,000)
    assert r["capital_basis"] == "max"
    assert r["capital_usd"] == pytest.approx(2_316_358.15785)
    assert r["max_outcome_payment"] == 16_244_960
    # No USD figure in the data: converted at the project's own rate (capital_usd / capital).
    assert r["max_outcome_payment_usd"] == pytest.approx(16_244_960 * 2_316_358.15785 / 1_815_000)
    assert r["outcome_to_capital"] == pytest.approx(16_244_960 / 1_815_000)
    assert r["participants"] == 2240
    assert r["capital_per_participant"] == pytest.approx(1_815_000 / 2240)
    # Service 2019-08 to anticipated end 2024-07, both months counted: 60 months.
    assert r["duration_years"] == 5.0
    assert r["duration_basis"] == "dates"
    assert r["start_year"] == 2019
    assert r["stage"] == "Implementation"
    assert r["sector"] == "Education"
    assert math.isnan(r["max_return"])


def test_peterborough_terms(deals):
    r = row(deals, PETERBOROUGH)
    assert r["name"] == "HMP Peterborough (The One Service)"
    assert r["capital"] == 5_000_000
    assert r["capital_basis"] == "exact"
    assert r["capital_usd"] == pytest.approx(7_725_833.703)
    assert r["stage"] == "Complete"
    assert r["sector"] == "Criminal justice"
    assert r["start_year"] == 2010
    assert r["participants_actual"] == 1802
    # Blank in the source: unknown, not zero.
    for col in ("max_outcome_payment", "participants", "duration_years", "max_return",
                "outcome_to_capital", "capital_per_participant"):
        assert math.isnan(r[col]), col


def test_buenos_aires_return_and_stated_duration(deals):
    r = row(deals, BUENOS_AIRES)
    assert r["currency"] == "ARS"
    assert r["capital"] == 48_400_000 and r["capital_basis"] == "max"
    assert r["capital_usd"] == pytest.approx(2_000_000)
    assert r["max_outcome_payment"] == 48_400_000
    assert r["participants"] == 1000
    assert r["duration_years"] == 3.0  # stated as 36 (months)
    assert r["duration_basis"] == "stated"
    assert r["max_return"] == pytest.approx(0.066)
    assert r["max_return_type"] == "IRR"


def test_text_returns_and_currency_names(deals):
    # "Maximum 12.5% p.a. return. 3% p.a. for first 2 years, ... Target 7.1% p.a. return."
    assert row(deals, "INDIGO-POJ-0218")["max_return"] == pytest.approx(0.125)
    assert row(deals, "INDIGO-POJ-0273")["max_return"] == pytest.approx(0.05)  # "3% to 5%"
    assert set(deals["currency"].dropna()) <= set(USD_PER_UNIT)


def test_outcome_payment_in_other_currency_is_converted(deals):
    # Educate Girls: capital CHF 267,731 (USD 292,897.714); max outcome payment USD 422,000.
    r = row(deals, "INDIGO-POJ-0035")
    assert r["currency"] == "CHF"
    assert r["max_outcome_payment_usd"] == pytest.approx(422_000)
    assert r["max_outcome_payment"] == pytest.approx(422_000 * 267_731 / 292_897.714)


def test_blanks_stay_nan_never_zero(deals):
    raw = dl._read_csv("projects.csv")
    cap_cols = [dl._cap_col(b, usd=False) for b in ("Exact", "Max", "Min")]
    any_capital = raw[cap_cols].notna().any(axis=1).to_numpy()
    assert (deals["capital"].notna().to_numpy() == any_capital).all()
    mop_given = raw[dl._COLS["mop"]].notna().to_numpy()
    assert (deals["max_outcome_payment"].notna().to_numpy() == mop_given).all()
    assert not (deals[list(MEASURES)] == 0).any().any()


def test_load_deals_returns_a_copy():
    before = load_deals()
    assert before["capital"].max() > 0  # there is something to overwrite
    a = load_deals()
    a.loc[:, "capital"] = 0.0
    a.loc[:, "name"] = "changed"
    pd.testing.assert_frame_equal(load_deals(), before)


def test_parse_number_handles_text_and_commas():
    assert parse_number("1,815,000") == 1_815_000
    assert parse_number(" 1815000 GBP ") == 1_815_000
    assert parse_number("£2.5m") == 2_500_000
    assert parse_number("approx. 3,000") == 3000
    assert parse_number(12) == 12.0
    for blank in (None, "", "  ", "n/a", "some text", float("nan")):
        assert math.isnan(parse_number(blank))
    assert parse_return("0.066") == pytest.approx(0.066)
    assert math.isnan(parse_return(None))


# --- pricings ----------------------------------------------------------------------------------


def test_pricings_join_definitions():
    p = load_pricings()
    assert len(p) == 385
    fusion = p[p["project_id"] == "INDIGO-POJ-0134"]  # Fair Chance Fund rate card
    assert len(fusion) == 21
    assert fusion["price_per_unit"].sum() == 30_700
    ft13 = fusion[fusion["metric_id"] == "outcomemetric16"].iloc[0]
    assert ft13["price_per_unit"] == 4500 and ft13["currency"] == "GBP"
    assert ft13["definition"].startswith("13 Weeks full-time Employment")
    tf = p[p["project_id"] == "INDIGO-POJ-0147"]  # DWP Innovation Fund, Think Forward
    assert tf["max_price"].eq(11_700).all()
    assert tf["definition"].notna().all()


# --- percentiles ---------------------------------------------------------------------------------


def tiny_deals() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "project_id": ["A", "B", "C", "D", "E"],
            "name": ["a", "b", "c", "d", "e"],
            "currency": ["GBP", "GBP", "GBP", "GBP", "USD"],
            "usd_rate": [1.33, 1.33, 1.33, 1.33, 1.0],
            "capital": [1e6, 2e6, 2e6, 4e6, 1.33e6],  # E is GBP 1m in GBP terms
            "max_outcome_payment": [2e6, 4e6, 8e6, 8e6, np.nan],
            "duration_years": [1.0, 2.0, 3.0, np.nan, 5.0],
        }
    )


@pytest.mark.parametrize(
    ("capital", "expected"),
    [
        (0.5e6, 0.0),  # below all five
        (1e6, 20.0),  # ties with A and E (converted): (0 + 2/2) / 5
        (1.5e6, 40.0),
        (2e6, 60.0),  # two below, two equal: (2 + 1) / 5
        (3e6, 80.0),
        (4e6, 90.0),  # four below, one equal
        (5e6, 100.0),
    ],
)
def test_tiny_table_exact_percentiles(capital, expected):
    res = compare_to_deals({"capital": capital, "currency": "GBP"}, deals=tiny_deals())
    got = res.percentiles.set_index("measure").loc["capital"]
    assert got["percentile"] == pytest.approx(expected, abs=1e-12)
    assert got["n_deals"] == 5


def test_tiny_table_unknown_measures_are_skipped_not_zero():
    res = compare_to_deals(
        {"duration_years": 2.0, "max_outcome_payment": 8e6}, deals=tiny_deals()
    ).percentiles.set_index("measure")
    assert res.loc["duration_years", "n_deals"] == 4  # D is NaN
    assert res.loc["duration_years", "percentile"] == pytest.approx(100 * 1.5 / 4)
    assert res.loc["max_outcome_payment", "n_deals"] == 4
    assert res.loc["max_outcome_payment", "percentile"] == pytest.approx(100 * 3 / 4)
    assert math.isnan(res.loc["participants", "percentile"])
    assert res.loc["participants", "n_deals"] == 0


def test_same_currency_mode_drops_foreign_deals():
    res = compare_to_deals(
        {"capital": 1e6, "currency": "GBP"}, deals=tiny_deals(), currency_mode="same"
    )
    got = res.percentiles.set_index("measure").loc["capital"]
    assert got["n_deals"] == 4
    assert got["percentile"] == pytest.approx(100 * 0.5 / 4)


def test_percentile_at_min_median_max_of_real_deals(deals):
    gbp = deals[deals["currency"] == "GBP"]["capital"].dropna().to_numpy()
    n = gbp.size
    lo, hi = gbp.min(), gbp.max()
    res = compare_to_deals(
        {"capital": lo, "currency": "GBP"}, deals=deals, currency_mode="same"
    ).percentiles.set_index("measure")
    assert res.loc["capital", "percentile"] == pytest.approx(100 * (gbp == lo).sum() / 2 / n)
    res = compare_to_deals(
        {"capital": hi, "currency": "GBP"}, deals=deals, currency_mode="same"
    ).percentiles.set_index("measure")
    assert res.loc["capital", "percentile"] == pytest.approx(100 - 100 * (gbp == hi).sum() / 2 / n)
    res = compare_to_deals(
        {"capital": float(np.median(gbp)), "currency": "GBP"}, deals=deals, currency_mode="same"
    ).percentiles.set_index("measure")
    assert abs(res.loc["capital", "percentile"] - 50) <= 100 / n
    # Beyond the range: 0 and 100 exactly.
    assert mid_percentile(lo / 2, gbp) == 0.0
    assert mid_percentile(hi * 2, gbp) == 100.0


# --- nearest deals and headline terms -------------------------------------------------------


def test_nearest_to_wlz_terms_is_wlz_itself(deals):
    terms = deal_terms(WLZ)
    assert terms["capital"] == 1_815_000 and terms["currency"] == "GBP"
    assert set(terms) == set(MEASURES) | {"currency"}
    res = compare_to_deals(terms, deals=deals, k_nearest=5)
    assert len(res.nearest) == 5
    top = res.nearest.iloc[0]
    assert top["project_id"] == WLZ and top["distance"] == 0.0
    assert res.nearest["distance"].is_monotonic_increasing
    pct = res.percentiles.set_index("measure")
    assert list(pct.index) == list(MEASURES)
    assert 0 < pct.loc["max_outcome_payment", "percentile"] < 100


def test_accepts_object_with_headline_terms():
    class FakeScenario:
        def headline_terms(self):
            return {"capital": 1e6, "max_outcome_payment": 4e6, "currency": "GBP",
                    "max_return": math.nan}

    res = compare_to_deals(FakeScenario(), deals=tiny_deals(), k_nearest=2)
    # A and B are both ln 2 away (half / double on one axis); ties go by project_id. E lacks a
    # maximum outcome payment, so it is no candidate.
    assert list(res.nearest["project_id"]) == ["A", "B"]
    assert res.nearest["distance"].to_numpy() == pytest.approx([math.log(2)] * 2)
    ratio = res.percentiles.set_index("measure").loc["outcome_to_capital", "value"]
    assert ratio == 4.0  # derived from its parts


def test_foreign_deals_convert_through_usd():
    # Scenario in USD: GBP deals scale by 1.33 / 1.0; the USD deal stays as is.
    res = compare_to_deals({"capital": 1.33e6, "currency": "USD"}, deals=tiny_deals())
    assert res.percentiles.set_index("measure").loc["capital", "percentile"] == pytest.approx(20.0)


def test_bad_terms_are_errors():
    with pytest.raises(ValueError, match="unknown headline terms"):
        compare_to_deals({"capitol": 1e6}, deals=tiny_deals())
    with pytest.raises(KeyError):
        deal_terms("INDIGO-POJ-9999")
