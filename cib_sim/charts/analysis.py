"""Charts of the analysis tables: tornado, stress tests and sweeps."""

from __future__ import annotations

from typing import TYPE_CHECKING

import altair as alt
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    pass

# --------------------------------------------------------------------------------------------
# Analysis: tornado, stress table, sweep


def tornado_chart(df: pd.DataFrame, metric: str | None = None, top: int | None = 15, width: int = 520) -> alt.LayerChart:
    """Tornado chart of :func:`cib_sim.analysis.tornado`'s table.

    One bar per input, largest swing at the top, from the base value to the metric at the input's
    low setting (one colour) and at its high setting (another); a rule marks the base. ``top``
    keeps the inputs with the largest swings (None: all).
    """
    need = {"input", "low_setting", "high_setting", "low", "high", "base", "swing"}
    missing = need - set(df.columns)
    if missing:
        raise ValueError(f"tornado_chart: expected the table from cib_sim.analysis.tornado (missing {sorted(missing)})")
    label = metric or df.attrs.get("metric", "metric")
    d = df.sort_values("swing", ascending=False, kind="stable")
    if top is not None:
        d = d.head(top)
    order = list(d["input"])
    long = pd.concat(
        [
            pd.DataFrame({"input": d["input"], "side": "low", "setting": d["low_setting"], "value": d["low"], "base": d["base"]}),
            pd.DataFrame({"input": d["input"], "side": "high", "setting": d["high_setting"], "value": d["high"], "base": d["base"]}),
        ],
        ignore_index=True,
    )
    base = float(d["base"].iloc[0]) if len(d) else 0.0
    y = alt.Y("input:N", sort=order, title=None)
    bars = (
        alt.Chart(long)
        .mark_bar(opacity=0.85)
        .encode(
            y=y,
            x=alt.X("value:Q", title=label, scale=alt.Scale(zero=False)),
            x2="base:Q",
            color=alt.Color("side:N", title="input at", scale=alt.Scale(domain=["low", "high"], range=["#d95f02", "#1b9e77"])),
            tooltip=[
                alt.Tooltip("input:N"), alt.Tooltip("side:N", title="input at"), alt.Tooltip("setting:N"),
                alt.Tooltip("value:Q", title=label, format=".4g"), alt.Tooltip("base:Q", format=".4g"),
            ],
        )
    )
    rule = alt.Chart(pd.DataFrame({"base": [base]})).mark_rule(color="black").encode(x="base:Q")
    return (bars + rule).properties(width=width, height=alt.Step(22), title=f"Tornado: {label} (base {base:.4g})")


def stress_chart(df: pd.DataFrame, metric: str, width: int = 520) -> alt.Chart:
    """Bars of one metric column of :func:`cib_sim.analysis.stress`'s table, one per shock, with
    the base marked by a rule."""
    if metric not in df.columns:
        raise ValueError(f"stress_chart: no column {metric!r} (columns: {', '.join(df.columns)})")
    d = df[[metric]].reset_index()
    d.columns = ["shock", "value"]
    base = float(d["value"].iloc[0])
    bars = alt.Chart(d).mark_bar().encode(
        y=alt.Y("shock:N", sort=list(d["shock"]), title=None),
        x=alt.X("value:Q", title=metric),
        color=alt.condition(alt.datum.shock == "base", alt.value("#666666"), alt.value("#7570b3")),
        tooltip=[alt.Tooltip("shock:N"), alt.Tooltip("value:Q", format=".4g")],
    )
    rule = alt.Chart(pd.DataFrame({"base": [base]})).mark_rule(strokeDash=[4, 3]).encode(x="base:Q")
    return (bars + rule).properties(width=width, height=alt.Step(22), title=f"Stress test: {metric}")


def sweep_chart(df: pd.DataFrame, x: str, metric: str, color: str | None = None, width: int = 520) -> alt.Chart:
    """A line of ``metric`` against swept path ``x`` from :func:`cib_sim.analysis.sweep`, one
    line per value of a second swept path ``color``."""
    cols = [x, metric] + ([color] if color else [])
    for c in cols:
        if c not in df.columns:
            raise ValueError(f"sweep_chart: no column {c!r} (columns: {', '.join(map(str, df.columns))})")
    # Swept paths and metric labels hold dots and brackets, which Vega-Lite reads as nesting.
    d = pd.DataFrame({"x": df[x], "y": df[metric]})
    enc = {
        "x": alt.X("x:Q", title=x), "y": alt.Y("y:Q", title=metric),
        "tooltip": [alt.Tooltip("x:Q", title=x), alt.Tooltip("y:Q", title=metric, format=".4g")],
    }
    if color:
        d["color"] = df[color].astype(str)
        enc["color"] = alt.Color("color:N", title=color)
        enc["tooltip"].append(alt.Tooltip("color:N", title=color))
    return alt.Chart(d).mark_line(point=True).encode(**enc).properties(width=width, title=f"Sweep: {metric}")
