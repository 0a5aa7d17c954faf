"""The app's learning section: reported events named as causes of jumps, readable columns, and
"Run automatically" respected (no re-fit while it is off)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from cib_sim.app.nowcast import POSTERIOR_COLUMNS, WARNING_COLUMNS, reported_events
from cib_sim.learning.observed import read_observed
from cib_sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
S = load_scenario(ROOT / "scenarios" / "stress_slow_start.yaml")
Q8 = (ROOT / "scenarios" / "observed" / "stress_slow_start_q8.csv").read_text()
Q12 = (ROOT / "scenarios" / "observed" / "stress_slow_start_q12.csv").read_text()


def test_reported_events_are_stated_with_their_period():
    now, before = read_observed(Q12, S), read_observed(Q8, S)
    events = reported_events(S, now, before)
    assert len(events) == 1
    assert events[0].startswith("Partner **Family support** stopped delivering from the quarter starting 2026-01-01 "
                                "(quarter 9): reported exit")
    assert events[0].endswith("new since the previous report.")
    assert reported_events(S, before) == []


def test_readable_column_names():
    assert "posterior_q05" in POSTERIOR_COLUMNS and all("_" not in v for v in POSTERIOR_COLUMNS.values())
    assert all("_" not in v for v in WARNING_COLUMNS.values())


def _app():
    import streamlit as st

    from cib_sim.app.nowcast import render_nowcast
    from cib_sim.scenario import load_scenario

    s = load_scenario("scenarios/stress_slow_start.yaml")
    if st.session_state.get("price"):
        s = s.model_copy(update={"outcomes": [s.outcomes[0].model_copy(update={"price": st.session_state["price"]}),
                                              *s.outcomes[1:]]})
    render_nowcast(st, s, auto=st.session_state.get("auto", True), on_request=True)


def test_the_update_runs_on_request_and_follows_run_automatically():
    at = AppTest.from_function(_app, default_timeout=120)
    at.session_state["nowcast_paths"] = 300
    at.session_state["auto"] = False
    at.run()
    assert not at.exception and "Press **Update the projections**" in at.info[0].value
    assert not at.metric  # nothing fitted until asked
    at.button(key="nowcast_update").click().run()
    assert at.metric and not at.exception
    first = at.session_state["nowcast_last"]
    # A change with automatic runs off: no re-fit; the last update stays, marked out of date.
    at.session_state["price"] = 2345.0
    at.run()
    assert at.session_state["nowcast_last"] is first or at.session_state["nowcast_last"][0] == first[0]
    assert any("changed since this update" in w.value for w in at.warning)
    # Automatic runs on: the change is fitted.
    at.session_state["auto"] = True
    at.run()
    assert at.session_state["nowcast_last"][0] != first[0]
    assert not any("changed since this update" in w.value for w in at.warning)
