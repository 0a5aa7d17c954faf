"""The "How similar deals paid" tab: drawn only when open; computed when the scenario changed
and "Run automatically" is on, or on request. ``st`` and the session state are passed in."""

from __future__ import annotations

from typing import Any, Callable

from cib_sim.app.similar_deals import SimilarDeals, similar_deals
from cib_sim.charts import similar_deals_paid_chart
from cib_sim.scenario import Scenario

PATHS = 2000


def render_similar_deals(st: Any, ss: Any, shown: Scenario | None, key: str | None, seed: int, auto: bool,
                         show_chart: Callable[..., None]) -> None:
    """``shown``: the scenario (the last valid one), ``key`` its JSON; ``auto``: "Run automatically"."""
    st.subheader("How similar deals actually paid")
    st.caption("This scenario's predicted outcome payments, cumulative, as a share of its maximum (its payers' caps), "
               "month by month, over the real payment records of its reference class: the Life Chances Fund "
               "projects in INDIGO (Government Outcomes Lab, University of Oxford), months counted from the start "
               "of service. The same measure the reference-class prior was fitted to (README, *Calibrated to how "
               f"real deals paid*). {PATHS:,} paths, seed {seed}.")
    if shown is None or key is None:
        st.info("The scenario has problems; fix them to compare it with how real deals paid.")
        return
    want = (key, PATHS, seed)
    memo = ss.get("similar_deals")
    fresh = memo is not None and memo[0] == want
    clicked = st.button("Compare with how similar deals paid" if memo is None else "Update the comparison",
                        key="similar_deals_run", disabled=fresh, type="primary" if not fresh else "secondary")
    if not fresh and (auto or clicked):
        with st.spinner("Simulating and comparing with the real payment records…"):
            try:
                memo = (want, similar_deals(shown, PATHS, seed))
            except Exception as exc:  # noqa: BLE001 - a comparison is not worth falling over for
                st.info(f"The comparison is not available: {type(exc).__name__}: {exc}")
                return
        ss["similar_deals"] = memo
        fresh = True
    if memo is None:
        st.info("Press **Compare with how similar deals paid** (automatic runs are off).")
        return
    view: SimilarDeals = memo[1]
    if not fresh:
        st.warning("Out of date: this is the scenario as it was; press **Update the comparison**.")
    with st.container(key="similar_deals"):
        st.markdown(f"**{view.text}**")
        show_chart(("similar_deals", memo[0]), lambda: similar_deals_paid_chart(view.fan, view.curves))
        st.markdown("**By month: where this scenario's median path sits among the real projects**")
        table = view.percentile_table()
        st.dataframe(table, hide_index=True, width="stretch", column_config={
            "Percentile among them": st.column_config.ProgressColumn(
                "Percentile among them (0–100)", min_value=0, max_value=100, format="%.0f",
                help="Share of the real projects reaching this month that had paid less than this scenario's "
                     "median path by then (ties count half)")})
