"""The app's Funds tab (cib_sim/app/portfolio_page.py), driven headless with AppTest, and the
portfolio charts (valid Vega-Lite)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cib_sim.charts import portfolio as CP
from cib_sim.portfolio import diversification_sweep, simulate_portfolio

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PLACE = ROOT / "scenarios" / "portfolios" / "place_based_zones.yaml"


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    st.cache_data.clear()
    monkeypatch.setenv("CIB_APP_PATHS", "400")
    yield
    st.cache_data.clear()


def test_funds_tab_runs_a_shipped_portfolio():
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["main_tabs"] = "Funds"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="portfolio:choice").set_value("place_based_zones")
    at.number_input(key="portfolio:paths").set_value(256)
    at.run()
    at.button(key="portfolio:run").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [m.label for m in at.metric]
    assert "P(pot runs out)" in labels and "Fund investors' P(loss)" in labels
    assert len(at.dataframe) >= 3  # members, payers, diversification
    assert any("Place outcomes fund" in md.value for md in at.markdown)


def test_funds_tab_reports_a_bad_upload_by_field(monkeypatch):
    from cib_sim.app import portfolio_page as PP

    bad = "name: x\nmembers:\n  - {name: A}\n"
    monkeypatch.setattr(PP, "portfolio_text", lambda choice, upload: (bad, None))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["main_tabs"] = "Funds"
    at.run()
    at.button(key="portfolio:run").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("members[0].scenario: give exactly one of scenario or indigo" in e.value for e in at.error)


def test_portfolio_charts_are_valid_vega_lite():
    r = simulate_portfolio(PLACE, 300, seed=1)
    for chart in (CP.pot_chart(r), CP.liability_chart(r, "Local authorities"), CP.fund_chart(r)):
        chart.to_dict()  # validates against the Vega-Lite schema
    d = diversification_sweep(PLACE, scales=(0.0, 1.0), n_paths=300, seed=1)
    CP.sweep_chart(d).to_dict()
