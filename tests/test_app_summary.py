"""The summary strip's cards and the value-for-money explanation, without Streamlit."""

from __future__ import annotations

import pytest

from cib_sim import simulate
from cib_sim.app import state as A
from cib_sim.app import summary as SM
from cib_sim.app.vfm import deadweight_table, vfm_figures
from cib_sim.scenario import load_scenario, parse_scenario

S = load_scenario(A.library()[next(iter(A.library()))])


@pytest.fixture(scope="module")
def runs():
    d = A.scenario_dict(S)
    d["outcomes"][1]["price"] *= 1.5
    return simulate(S, n_paths=400, seed=2), simulate(parse_scenario(d), n_paths=400, seed=2)


def test_strip_shows_each_tranche_and_the_payments_against_the_base(runs):
    base, edited = runs
    cards = SM.strip_cards(edited.summary(), base.summary(), edited.tranche_names, "GBP")
    labels = [c.label for c in cards]
    assert labels[:len(edited.tranche_names)] == [f"{t}: P(loss) · median IRR" for t in edited.tranche_names]
    pay = next(c for c in cards if c.label.startswith("Payments expected"))
    assert pay.delta.startswith("+£") and pay.delta.endswith("vs base")
    same = SM.strip_cards(base.summary(), base.summary(), base.tranche_names, "GBP")
    assert all(c.delta == "no change vs base" for c in same)
    html = SM.strip_html(cards, "note <b>", stale=True)
    assert "cib-stale" in html and "note &lt;b&gt;" in html


def test_value_for_money_is_explained_with_deadweight_as_its_own_figure(runs):
    r = runs[0]
    dw = deadweight_table(r).set_index("outcome")
    # WLZ's sign-up: baseline rate 1.0, so every sign-up paid for would have happened anyway.
    assert dw.loc["sign_up", "deadweight_share"] == pytest.approx(1.0)
    assert dw.loc["sign_up", "earned_on_deadweight"] == pytest.approx(dw.loc["sign_up", "earned"])
    assert dw.loc["sign_up", "fiscal_value_above_baseline"] == 0
    f = vfm_figures(r, r.summary())
    assert f["value_for_money"] == pytest.approx(f["fiscal_value"] / f["payments"])
    assert 0 < f["deadweight_share"] < 1 and 0 < f["deadweight_payments"] < f["payments"]
