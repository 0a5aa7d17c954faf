"""How similar deals actually paid (issue 13, item 5): the data shaping under the app's tab, its
chart, and the tab in the app (computed only when open; on request with automatic runs off)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cib_sim import charts as C
from cib_sim.app import state as A
from cib_sim.app.similar_deals import (
    headline_row,
    headline_text,
    months_for,
    similar_deals,
)
from cib_sim.deals.reference_class import how_similar_deals_paid
from cib_sim.scenario import load_scenario

WLZ = A.library()[next(iter(A.library()))]
APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _fan(ref_n: list[int], percentile: list[float]) -> pd.DataFrame:
    m = len(ref_n)
    return pd.DataFrame({"month": [6 * (i + 1) for i in range(m)], "q05": 0.1, "q25": 0.2, "q50": [0.1 * i for i in range(m)],
                         "q75": 0.4, "q95": 0.5, "ref_q25": 0.1, "ref_q50": 0.3, "ref_q75": 0.5, "ref_n": ref_n,
                         "percentile": percentile})


def test_months_follow_the_scenario_period_and_stop_at_the_horizon_or_the_records():
    s = load_scenario(WLZ)  # quarterly, 6 years
    assert months_for(s, last_observed=72) == (6, 12, 18, 24, 30, 36, 42, 48, 54, 60, 66, 72)
    assert months_for(s, last_observed=40) == (6, 12, 18, 24, 30, 36)
    assert months_for(s, last_observed=200)[-1] == 72  # the horizon
    yearly = s.model_copy(update={"horizon": s.horizon.model_copy(update={"period": "year"})})
    assert months_for(yearly, last_observed=72) == (12, 24, 36, 48, 60, 72)


def test_the_headline_is_the_latest_month_enough_records_reach():
    fan = _fan([28, 20, 12, 9, 1], [40.0, 55.0, 83.0, 67.0, 100.0])
    assert int(headline_row(fan)["month"]) == 18  # the last with >= 10 projects
    text = headline_text(fan)
    assert text.startswith("By month 18, this scenario's median path has paid 20% of its maximum: the 83rd percentile "
                           "among the 12 real projects whose record reaches month 18")
    # Few records everywhere: the month most records reach; none at all: said so.
    assert int(headline_row(_fan([3, 4, 2], [1.0, 2.0, 3.0]))["month"]) == 12
    assert headline_row(_fan([0, 0], [math.nan, math.nan])) is None
    assert "nothing to compare with" in headline_text(_fan([0, 0], [math.nan, math.nan]))
    assert "the 21st percentile" in headline_text(_fan([12], [21.0])) and "the 12th percentile" in headline_text(_fan([12], [12.2]))


def test_similar_deals_of_west_london_zone_and_its_chart():
    s = load_scenario(WLZ)
    view = similar_deals(s, n_paths=400, seed=3)
    pd.testing.assert_frame_equal(view.fan, how_similar_deals_paid(s, months_for(s, 72), n_paths=400, seed=3))
    assert view.curves.shape[1] == 28 and view.curves.index.max() == 72  # the 28 LCF projects' records
    assert (view.fan["q05"] <= view.fan["q50"] + 1e-12).all() and (view.fan["q50"] <= view.fan["q95"] + 1e-12).all()
    table = view.percentile_table()
    assert list(table["Month"]) == list(view.fan["month"]) and table["Percentile among them"].between(0, 100).all()
    assert view.text.startswith("By month ")
    # The chart: bands from the fan, one line per project from the records (months not reached left out).
    bands, real = C.paid_bands_frame(view.fan), C.paid_curves_frame(view.curves)
    assert len(bands) == 2 * len(view.fan) and set(bands["band"]) == {"5–95% of paths", "25–75% of paths"}
    assert real["project_id"].nunique() == 28 and len(real) == int(view.curves.notna().sum().sum())
    d = C.similar_deals_paid_chart(view.fan, view.curves).to_dict()  # validated against the Vega-Lite schema
    assert len(d["layer"]) == 3 and d["layer"][1]["encoding"]["detail"]["field"] == "project_id"
    assert np.isclose(real.loc[real["project_id"] == real["project_id"].iloc[0], "share"].iloc[-1],
                      view.curves[real["project_id"].iloc[0]].dropna().iloc[-1])


@pytest.fixture
def app(monkeypatch):
    st.cache_data.clear()
    st.cache_resource.clear()
    monkeypatch.setenv("CIB_APP_PATHS", "400")
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_the_tab_shows_the_fan_over_the_real_curves_and_the_percentile(app):
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["main_tabs"] = "How similar deals paid"
    at.run()
    assert not at.exception
    assert "the" in _text(at) and "percentile among the" in _text(at)
    memo = at.session_state["similar_deals"]
    assert len(memo[1].fan) > 0
    # With automatic runs off, an edit leaves it as it was, marked out of date, until asked.
    at.session_state["autorun"] = False
    at.session_state[f"v{at.session_state['version']}:horizon.discount_rate"] = "0.05"
    at.run()
    assert at.session_state["similar_deals"] is memo or at.session_state["similar_deals"][0] == memo[0]
    assert any("Out of date" in w.value for w in at.warning)
    at.button(key="similar_deals_run").click().run()
    assert at.session_state["similar_deals"][0] != memo[0] and not at.warning
