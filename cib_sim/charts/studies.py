"""Charts of the app's cases and sensitivity tables (:mod:`cib_sim.app.studies`)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from cib_sim.charts.style import SERIES

_FORMATS = {"money": "~s", "prob": ".1%", "pct": ".1%", "x": ".2f", "count": ",.0f"}


def cases_chart(frame: pd.DataFrame, width: int = 200) -> alt.ConcatChart:
    """Small multiples, one panel per measure (each with its own scale and number format), one
    bar per case (from :func:`cib_sim.app.studies.cases_frame`): the cases side by side."""
    cases = [c for c in frame.columns if c not in ("Measure", "kind")]
    colours = ["#9e9e9e"] + (SERIES * 4)[: max(0, len(cases) - 1)]  # the first case (base) in grey
    colour = alt.Color("Case:N", sort=cases, legend=alt.Legend(orient="top", title=None),
                       scale=alt.Scale(domain=cases, range=colours))
    panels = []
    for _, row in frame.iterrows():
        d = pd.DataFrame({"Case": cases, "value": [row[c] for c in cases]})
        d = d[pd.to_numeric(d["value"], errors="coerce").notna()]
        fmt = _FORMATS.get(row.get("kind"), ".3g")
        money = row.get("kind") == "money"
        panels.append(alt.Chart(d).mark_bar().encode(
            y=alt.Y("Case:N", sort=cases, title=None, axis=alt.Axis(labels=False, ticks=False)),
            x=alt.X("value:Q", title=None, axis=alt.Axis(format=fmt, tickCount=4, labelFlush=True)),
            color=colour,
            tooltip=[alt.Tooltip("Case:N"), alt.Tooltip("value:Q", title=str(row["Measure"]),
                                                        format=",.0f" if money else fmt)],
        ).properties(width=width, height=alt.Step(16), title=alt.Title(str(row["Measure"]), fontSize=12)))
    return alt.concat(*panels, columns=3).resolve_scale(x="independent")


def heatmap_chart(long: pd.DataFrame, x_title: str, y_title: str, value_title: str, kind: str = "prob",
                  width: int = 520) -> alt.LayerChart:
    """A two-way table as a heat map (``x``, ``y``, ``value`` from
    :func:`cib_sim.app.studies.two_way`), each cell labelled with its value."""
    fmt = _FORMATS.get(kind, ".3g")
    d = long.assign(xs=[f"{v:.4g}" for v in long["x"]], ys=[f"{v:.4g}" for v in long["y"]])
    xs = list(dict.fromkeys(d.sort_values("x")["xs"]))
    ys = list(dict.fromkeys(d.sort_values("y", ascending=False)["ys"]))
    enc = {
        "x": alt.X("xs:O", sort=xs, title=x_title, axis=alt.Axis(labelAngle=0)),
        "y": alt.Y("ys:O", sort=ys, title=y_title),
    }
    rect = alt.Chart(d).mark_rect().encode(
        **enc,
        color=alt.Color("value:Q", title=value_title, scale=alt.Scale(scheme="redyellowgreen", reverse=kind == "prob"),
                        legend=alt.Legend(format=fmt)),
        tooltip=[alt.Tooltip("xs:O", title=x_title), alt.Tooltip("ys:O", title=y_title),
                 alt.Tooltip("value:Q", title=value_title, format=fmt)],
    )
    text = alt.Chart(d).mark_text(fontSize=11).encode(**enc, text=alt.Text("value:Q", format=fmt))
    return (rect + text).properties(width=width, height=alt.Step(30))


def one_way_chart(df: pd.DataFrame, x: str, y: str, x_title: str, kind: str = "prob") -> alt.Chart:
    """A measure against one input (a column each of :func:`cib_sim.app.studies.one_way`)."""
    d = pd.DataFrame({"x": df[x].astype(float), "y": df[y].astype(float)})
    fmt = _FORMATS.get(kind, ".3g")
    return alt.Chart(d).mark_line(point=True).encode(
        x=alt.X("x:Q", title=x_title, scale=alt.Scale(zero=False)),
        y=alt.Y("y:Q", title=y, axis=alt.Axis(format=fmt)),
        tooltip=[alt.Tooltip("x:Q", title=x_title, format=".4g"), alt.Tooltip("y:Q", title=y, format=fmt)],
    ).properties(height=260)
