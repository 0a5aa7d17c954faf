"""How similar deals actually paid: a scenario's fan of cumulative payments (share of its maximum,
by month since service started) over the real payment curves of its reference class.

``fan``: :func:`cib_sim.deals.how_similar_deals_paid` (one row per month: ``q05 ... q95``);
``curves``: :func:`cib_sim.deals.reference_curves` (one row per month, one column per project).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from cib_sim.charts.style import BAND_INNER, BAND_OUTER, MEDIAN

REAL = "#7f7f7f"
BANDS = ("5–95% of paths", "25–75% of paths")


def paid_curves_frame(curves: pd.DataFrame) -> pd.DataFrame:
    """The real curves long: ``project_id, month, share``, months a record does not reach left out."""
    long = curves.rename_axis("month").reset_index().melt(id_vars="month", var_name="project_id", value_name="share")
    long = long.dropna(subset=["share"])
    return long[["project_id", "month", "share"]].astype({"month": int, "share": float}).reset_index(drop=True)


def paid_bands_frame(fan: pd.DataFrame) -> pd.DataFrame:
    """The scenario's bands long: ``month, lo, hi, band`` (5–95% and 25–75% of paths)."""
    return pd.concat([
        pd.DataFrame({"month": fan["month"], "lo": fan["q05"], "hi": fan["q95"], "band": BANDS[0]}),
        pd.DataFrame({"month": fan["month"], "lo": fan["q25"], "hi": fan["q75"], "band": BANDS[1]}),
    ], ignore_index=True)


def similar_deals_paid_chart(fan: pd.DataFrame, curves: pd.DataFrame, height: int = 340) -> alt.LayerChart:
    """The scenario's bands and median over the real curves (thin grey lines, one per project)."""
    real = paid_curves_frame(curves)
    x = alt.X("month:Q", title="Months since service started", scale=alt.Scale(domainMin=0))
    y_axis = alt.Axis(format="%", title="Cumulative payments (share of the maximum)")
    colour = alt.Color("band:N", title=None, legend=alt.Legend(orient="top"),
                       scale=alt.Scale(domain=[*BANDS, "Median of paths", "Real projects (INDIGO)"],
                                       range=[BAND_OUTER, BAND_INNER, MEDIAN, REAL]))
    area = alt.Chart(paid_bands_frame(fan)).mark_area(opacity=0.55).encode(
        x=x, y=alt.Y("lo:Q", axis=y_axis, scale=alt.Scale(domain=[0, 1.05], clamp=True)), y2="hi:Q", color=colour)
    lines = alt.Chart(real.assign(band="Real projects (INDIGO)")).mark_line(strokeWidth=1, opacity=0.6).encode(
        x=x, y=alt.Y("share:Q", axis=y_axis), detail="project_id:N", color=colour,
        tooltip=[alt.Tooltip("project_id:N", title="Project"), alt.Tooltip("month:Q", title="Month"),
                 alt.Tooltip("share:Q", title="Paid (share of maximum)", format=".0%")])
    med = alt.Chart(fan.assign(band="Median of paths")).mark_line(strokeWidth=3).encode(
        x=x, y="q50:Q", color=colour,
        tooltip=[alt.Tooltip("month:Q", title="Month"), alt.Tooltip("q50:Q", title="Median of paths", format=".0%"),
                 alt.Tooltip("percentile:Q", title="Percentile among real projects", format=".0f"),
                 alt.Tooltip("ref_n:Q", title="Projects reaching the month")])
    return alt.layer(area, lines, med).properties(height=height)
