"""The Results tab: headline figures, value for money explained, investors, commissioners, the
waterfall, distributions, flows over time, and the base against the edited scenario. ``st`` is
the Streamlit module, passed in; ``show_chart`` draws an Altair chart, reusing its spec by key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from cib_sim import charts as C
from cib_sim.app import display as D
from cib_sim.app import summary as SM
from cib_sim.app.vfm import render_value_for_money
from cib_sim.results import Results


@dataclass(frozen=True)
class RunView:
    """A run and its base: ``run_key`` is ``(scenario JSON, paths, seed)``; ``ref_*`` the base
    scenario's run on the same paths and seed (None when the base is not valid)."""

    results: Results
    summary: pd.DataFrame
    run_key: tuple
    ref_results: Results | None
    ref_summary: pd.DataFrame | None
    ref_json: str | None
    ref_name: str
    reference_label: str


def render_results(st: Any, run: RunView, show_chart: Callable[..., None]) -> None:
    """The Results tab: headline figures, value for money explained, investors, commissioners, waterfall,
    distributions, flows over time, and the comparison with the base."""
    results, summary, ref_results, ref_summary = run.results, run.summary, run.ref_results, run.ref_summary
    run_key, ref_json, cur, rs = run.run_key, run.ref_json, run.results.scenario.currency, run.results.scenario
    run_n, run_seed = run.run_key[1], run.run_key[2]
    st.subheader("Headline figures")
    cm = D.contract_metrics(summary)
    cols = st.columns(5)
    for col, (metric, label, kind, help_) in zip(cols, [
        ("outcome_payments_mean", "Expected payments", "money", "Mean over paths of all commissioners' outcome payments"),
        ("outcome_payments_p95", "95th pct payments", "money", "Payers' bad case: 1 path in 20 pays more"),
        ("value_for_money", "Value for money", "x", "Fiscal value of outcomes above the baseline ÷ outcome payments"),
        ("prob_delivery_stopped", "P(delivery stops)", "prob", "Share of paths where capital ran out and delivery stopped"),
        ("enrolled_mean", "Enrolled (mean)", "count", "Participants enrolled over the contract, mean over paths"),
    ]):
        v = cm.get(metric, float("nan"))
        text = {"money": C.fmt_money(v, cur), "x": f"{v:.2f}x", "prob": f"{v:.1%}", "count": f"{v:,.0f}"}[kind]
        was = SM.value_of(ref_summary, "contract", run.ref_name, metric)
        dl = SM._delta(v, was, {"prob": "prob"}.get(kind, kind), cur) if kind != "count" and ref_summary is not None else None
        dl = None if dl and dl.startswith("no change") else dl
        col.metric(label, text, delta=dl.replace("−", "-") if dl else None,
                   delta_color="inverse" if metric in ("outcome_payments_mean", "outcome_payments_p95", "prob_delivery_stopped") else "normal",
                   help=help_ or None, border=True)

    vfm_box = st.container()

    st.markdown("**Investors** — probability of loss, IRR and multiple of money per tranche (5th, 50th, 95th "
                "percentile of paths)")
    st.dataframe(D.tranche_table(summary, rs), hide_index=True, width="stretch")
    st.markdown("**Commissioners** — what they pay and what it buys (value for money: fiscal value of the outcomes "
                "above the baseline ÷ what they paid)")
    st.dataframe(D.commissioner_table(summary, cur), hide_index=True, width="stretch")

    st.subheader("Where the money goes: payout waterfall")
    stat_label = st.radio("Show", ["Mean over all paths", "Median path"], horizontal=True, key="waterfall_stat",
                          help="The median path is the kept path with the median total outcome payments.")
    stat = "mean" if stat_label.startswith("Mean") else "median"
    show_chart(("waterfall", run_key, stat), lambda: C.waterfall_chart(results, stat))

    st.subheader("Investors' risk: distributions per tranche")
    what_label = st.radio("Measure", ["Multiple of money", "IRR"], horizontal=True, key="risk_what")
    what = "multiple" if what_label.startswith("Multiple") else "irr"
    rc1, rc2 = st.columns(2)
    with rc1:
        st.markdown("**Histogram** (share of paths in each bin)")
        show_chart(("histogram", run_key, what),
                   lambda: C.distribution_chart(results, what, kind="histogram", width=360), width="content")
    with rc2:
        st.markdown("**ECDF** (share of paths at or below; read P(loss) at the red line)")
        show_chart(("ecdf", run_key, what), lambda: C.distribution_chart(results, what, kind="ecdf"))
    st.caption("Red marks the loss region: paths where a tranche gets back less than it put in (multiple below 1, "
               "IRR below 0).")

    st.subheader("Over time")
    fc1, fc2 = st.columns(2)
    with fc1:
        st.markdown("**Commissioners' cumulative outcome payments**")
        show_chart(("fan_paid", run_key), lambda: C.fan_chart(results, "commissioner_paid"))
    with fc2:
        st.markdown("**Investors' cumulative net position** (received − drawn, all tranches)")
        show_chart(("fan_net", run_key), lambda: C.fan_chart(results, "investor_net"))
    st.caption(f"Fan charts: the 5–95% and 25–75% ranges of {results.n_kept:,} kept paths, and their median.")
    oc1, oc2 = st.columns(2)
    with oc1:
        st.markdown("**Outcomes verified per period, by partner** (mean over paths)")
        show_chart(("outcomes", run_key), lambda: C.outcomes_chart(results))
    with oc2:
        st.markdown("**Outcomes above baseline per participant, by enrolment cohort** — early cohorts gain less")
        show_chart(("uplift", run_key), lambda: C.uplift_chart(results))

    st.subheader("Base against edited scenario")
    if ref_results is None:
        st.info("The base scenario is not valid, so there is nothing to compare against. Use **Make the current "
                "scenario the base** in the sidebar.")
    else:
        same = ref_results is results
        st.caption(f"Base: **{run.reference_label}** · Edited: **{rs.name}** · same {run_n:,} paths and "
                   f"seed {run_seed}" + (" · no edits yet, so both columns agree" if same else ""))
        show_chart(("compare", run_key, ref_json), lambda: C.comparison_chart(C.comparison_frame(ref_summary, summary)))
        comp = D.comparison_table(ref_summary, summary, cur)
        st.dataframe(comp[["Measure", "Base", "Edited", "Change"]], hide_index=True, width="stretch",
                     height=35 * (len(comp) + 1) + 3)
    with vfm_box:
        render_value_for_money(st, results, summary)
