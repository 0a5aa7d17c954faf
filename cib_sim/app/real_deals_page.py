"""The deal's headline terms (top of the Design tab) and the Real deals tab: no simulation needed,
so both follow every valid edit. ``st`` and the session state are passed in."""

from __future__ import annotations

from typing import Any, Callable

from cib_sim import charts as C
from cib_sim.app.real_deals import (
    RealDeals,
    deal_percentile_table,
    nearest_deals_table,
    real_deals,
)
from cib_sim.deals import headline_terms
from cib_sim.scenario import Scenario


def deal_terms(ss: Any, s: Scenario, key: str) -> dict:
    """The scenario's headline terms, kept in the session while ``key`` (its JSON) is unchanged."""
    memo = ss.get("deal_terms")
    if memo is None or memo[0] != key:
        try:
            terms = headline_terms(s)
        except Exception:  # noqa: BLE001 - a summary of terms is not worth falling over for
            terms = {"capital": sum(t.commitment for t in s.capital_tranches), "max_outcome_payment": float("nan"),
                     "outcome_to_capital": float("nan"), "participants": float("nan"),
                     "duration_years": s.horizon.years}
        memo = (key, terms)
        ss["deal_terms"] = memo
    return memo[1]


def render_deal_terms(st: Any, shown: Scenario, terms: dict, valid: bool) -> None:
    """The deal's terms as six figures; ``valid``: whether ``shown`` is the scenario as edited."""
    cur = shown.currency
    st.markdown(f"#### {shown.name}")
    if shown.description:
        st.caption(shown.description)
    cols = st.columns(3) + st.columns(3)
    cols[0].metric("Capital committed", C.fmt_money(terms["capital"], cur), border=True,
                   help="Sum of the tranches that provide capital (guarantees not included)")
    cols[1].metric("Maximum outcome payments", C.fmt_money(terms["max_outcome_payment"], cur), border=True,
                   help="Sum of the commissioners' total caps (or top prices × participants)")
    cols[2].metric("Max payments ÷ capital", f"{terms['outcome_to_capital']:.1f}x", border=True)
    cols[3].metric("Participants (expected)", f"{terms['participants']:,.0f}", border=True)
    cols[4].metric("Service duration", f"{terms['duration_years']:.3g} years", border=True,
                   help=f"From the first enrolment to the end of the last service; contract horizon "
                        f"{shown.horizon.years:g} years")
    cols[5].metric("Delivery model", {"zone": "Zone", "pipelines": "Pipelines"}.get(shown.delivery.model,
                   shown.delivery.model), border=True,
                   help="Zone: participants enrol once and get a package from several partners (collective); "
                        "pipelines: each partner recruits and serves its own participants")
    st.caption("The scenario has problems: these terms are those of the last valid scenario." if not valid
               else "The deal's terms as edited (no simulation needed).")


def render_real_deals(st: Any, ss: Any, terms: dict, key: str, show_chart: Callable[..., None]) -> None:
    """The Real deals tab: the terms among the INDIGO deals, kept while ``key`` (the scenario) is unchanged."""
    memo = ss.get("real_deals")
    if memo is None or memo[0] != key:
        memo = (key, real_deals(terms))
        ss["real_deals"] = memo
    view: RealDeals = memo[1]
    comp = view.comparison
    cur = comp.currency
    st.subheader("Compared with real deals", anchor="compared-with-real-deals")
    st.caption(
        f"Is this deal normal? Its terms against {view.n_deals} impact bonds in the INDIGO dataset (Government "
        "Outcomes Lab, University of Oxford; May 2025 snapshot). Deals in other currencies are converted into "
        f"{cur} at the dataset's own rates. No simulation is needed: this follows every edit.")
    if view.note:
        st.info(view.note)
    st.markdown(f"**Capital against maximum outcome payments** ({cur}, log scales; {len(view.points)} deals "
                "publish both). Dashed diagonals: maximum outcome payments of 1×, 3× and 10× the capital.")
    show_chart(("real_deals", key),
               lambda: C.deals_scatter_chart(view.points, view.terms, list(comp.nearest["project_id"])))
    st.markdown("**Where this scenario sits among real deals**")
    table = deal_percentile_table(comp)
    st.dataframe(
        table, hide_index=True, width="stretch", height=35 * (len(table) + 1) + 3,
        column_config={
            "Measure": st.column_config.TextColumn("Measure", width=260),
            "Percentile among real deals": st.column_config.ProgressColumn(
                "Percentile among real deals (0–100)", min_value=0, max_value=100, format="%.0f", color=C.GAIN,
                help="Share of the deals with this measure known that are at or below this scenario (ties count "
                     "half): 50 is a typical deal, 95 bigger than almost all."),
            "Deals compared": st.column_config.NumberColumn(
                "Deals compared", help="Deals in the dataset with this measure published"),
        })
    st.caption("Participants: this scenario's expected enrolments; deals' targeted service users. Maximum return: "
               "the highest IRR cap of the tranches; deals' maximum potential return as published (IRR or another "
               "basis).")
    st.markdown(f"**Nearest comparable deals** — closest in capital and maximum outcome payments (log scales); "
                f"amounts in {cur} (as published, in brackets)")
    st.dataframe(nearest_deals_table(comp), hide_index=True, width="stretch",
                 column_config={"Name": st.column_config.TextColumn("Name", width=185),
                                "Country": st.column_config.TextColumn("Country", width=65)})
