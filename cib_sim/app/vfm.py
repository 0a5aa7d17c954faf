"""Value for money, explained: what it divides, and deadweight as its own figure.

Value for money is the fiscal value of the outcomes *above the baseline* (what would have
happened anyway) divided by *all* outcome payments. A rate card pays every verified outcome, so
payments include outcomes that would have happened anyway (deadweight): West London Zone's
sign-up is priced at 1,000 with a baseline rate of 1.0, so every sign-up is paid and none adds
fiscal value. :func:`deadweight_table` puts numbers on it, per outcome; :func:`render_value_for_money`
shows it in the app (``st`` is the streamlit module or a container).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from cib_sim.charts.style import fmt_money
from cib_sim.results import Results


def deadweight_table(r: Results) -> pd.DataFrame:
    """Per outcome, means over paths: outcomes achieved, of which above the baseline and
    deadweight; payments earned and the part earned on deadweight (rate-card outcomes pay
    every verified outcome; above-baseline and tiered ones pay only the uplift); fiscal value of
    the outcomes above the baseline. Numbers (not text)."""
    s = r.scenario
    rows = []
    for o, out in enumerate(s.outcomes):
        achieved = float(r.path.column("achieved", o).mean())
        additional = float(r.path.column("additional", o).mean())
        earned = r.metric("outcome", out.name, "earned_mean")
        dead = max(0.0, achieved - additional)
        share = dead / achieved if achieved > 0 else math.nan
        paid_dead = earned * share if out.payment_basis == "rate_card" and math.isfinite(share) else 0.0
        rows.append({
            "outcome": out.name, "basis": out.payment_basis, "price": out.price, "baseline_rate": out.baseline_rate,
            "achieved": achieved, "above_baseline": additional, "deadweight": dead, "deadweight_share": share,
            "earned": earned, "earned_on_deadweight": paid_dead, "fiscal_value_above_baseline": additional * out.fiscal_value,
        })
    return pd.DataFrame(rows)


def vfm_figures(r: Results, summary: pd.DataFrame) -> dict[str, float]:
    """The headline: fiscal value above baseline, payments, their ratio, and deadweight (the
    payments earned on outcomes that would have happened anyway, and their share)."""
    g = summary[summary.group == "contract"].set_index("metric")["value"]
    dw = deadweight_table(r)
    paid = float(g.get("outcome_payments_mean", np.nan))
    earned = float(dw["earned"].sum())
    dead = float(dw["earned_on_deadweight"].sum())
    return {
        "fiscal_value": float(g.get("fiscal_value_mean", np.nan)),
        "payments": paid,
        "value_for_money": float(g.get("value_for_money", np.nan)),
        "deadweight_payments": dead * (paid / earned) if earned > 0 else math.nan,  # after caps, pro rata
        "deadweight_share": dead / earned if earned > 0 else math.nan,
        "deadweight_outcomes": float(dw["deadweight"].sum()),
        "outcomes": float(dw["achieved"].sum()),
    }


def render_value_for_money(st: Any, r: Results, summary: pd.DataFrame) -> None:
    cur = r.scenario.currency
    f = vfm_figures(r, summary)
    dw = deadweight_table(r)
    st.markdown("**Value for money, explained**")
    c = st.columns(4)
    c[0].metric("Fiscal value above the baseline", fmt_money(f["fiscal_value"], cur), border=True,
                help="Outcomes above what would have happened anyway (baseline rate × enrolled) × their fiscal "
                     "value; mean over paths")
    c[1].metric("Outcome payments", fmt_money(f["payments"], cur), border=True,
                help="All outcome payments, including those for outcomes that would have happened anyway")
    c[2].metric("Value for money", f"{f['value_for_money']:.2f}x" if math.isfinite(f["value_for_money"]) else "n/a",
                border=True, help="Fiscal value above the baseline ÷ outcome payments")
    share = f["deadweight_share"]
    c[3].metric("Deadweight: paid for anyway", fmt_money(f["deadweight_payments"], cur), border=True,
                delta=f"{share:.0%} of payments" if math.isfinite(share) else None, delta_color="off",
                help="Payments for outcomes that would have happened without the programme (rate-card outcomes pay "
                     "every verified outcome; above-baseline and tiered ones pay only the uplift); payments after "
                     "caps are shared pro rata")
    example = ""
    paid_dw = dw[dw["earned_on_deadweight"] > 0].sort_values("earned_on_deadweight", ascending=False)
    if len(paid_dw):
        w = paid_dw.iloc[0]
        example = (f" The largest part is **{w['outcome']}**: priced at {fmt_money(w['price'], cur)} with a baseline "
                   f"rate of {w['baseline_rate']:.2f}, so {w['deadweight_share']:.0%} of the {w['outcome']} outcomes paid "
                   "for would have happened anyway.")
    full = [r for _, r in paid_dw.iterrows() if r["deadweight_share"] >= 0.995]
    if full:
        example += (" Paid for although none is above the baseline: " + "; ".join(
            f"**{r['outcome']}** (priced at {fmt_money(r['price'], cur)}, baseline rate {r['baseline_rate']:.2f}, "
            f"{fmt_money(r['earned_on_deadweight'], cur)} earned)" for r in full) + ".")
    st.caption(f"Value for money = fiscal value of the outcomes above the baseline ÷ all outcome payments = "
               f"{fmt_money(f['fiscal_value'], cur)} ÷ {fmt_money(f['payments'], cur)}. Payments include outcomes "
               "that would have happened anyway (deadweight), which add no fiscal value." + example)
    with st.expander("Deadweight by outcome"):
        show = pd.DataFrame({
            "Outcome": dw["outcome"], "Payment basis": dw["basis"],
            f"Price ({cur})": [fmt_money(v, cur) for v in dw["price"]],
            "Baseline rate": [f"{v:.2f}" for v in dw["baseline_rate"]],
            "Outcomes (mean)": [f"{v:,.0f}" for v in dw["achieved"]],
            "Above baseline": [f"{v:,.0f}" for v in dw["above_baseline"]],
            "Deadweight share": [f"{v:.0%}" if math.isfinite(v) else "n/a" for v in dw["deadweight_share"]],
            f"Earned ({cur})": [fmt_money(v, cur) for v in dw["earned"]],
            f"Earned on deadweight ({cur})": [fmt_money(v, cur) for v in dw["earned_on_deadweight"]],
            f"Fiscal value above baseline ({cur})": [fmt_money(v, cur) for v in dw["fiscal_value_above_baseline"]],
        })
        st.dataframe(show, hide_index=True, width="stretch")
