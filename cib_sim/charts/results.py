"""Charts of a run's results: payout waterfall, risk distributions per tranche, fan charts over
time, outcomes over time (the slow start), and base against edited."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import altair as alt
import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from cib_sim.results import Results

from cib_sim.charts.style import (
    BAND_INNER,
    BAND_OUTER,
    CATEGORY_COLOURS,
    GAIN,
    LOSS,
    MEDIAN,
    PERIOD_WORD,
    SCENARIO_COLOURS,
    SERIES,
    _frame_of,
    _money_axis,
    fmt_money,
)

# --------------------------------------------------------------------------------------------
# Payout waterfall


def _waterfall_category(step: str, direction: str) -> str:
    if step == "Guarantee calls":
        return "Guarantee"
    if direction == "in":
        return "Money in"
    if step.endswith(": capital back"):
        return "Investors: capital back"
    if step.endswith(": return"):
        return "Investors: return"
    if step.startswith(("Rebate", "Bonus")):
        return "Excess above caps"
    return "Delivery and backbone"


def waterfall_frame(data: Results | pd.DataFrame, stat: str = "mean", min_share: float = 1e-4) -> pd.DataFrame:
    """Steps of the payout waterfall with their running totals.

    Input: a Results (``stat``: ``mean`` or ``median``) or the frame of ``Results.waterfall``
    (columns step, direction, amount, currency). Output columns: ``order``, ``step``,
    ``category``, ``amount`` (signed currency), ``start``/``end`` (running total before/after the
    step), ``label`` (e.g. ``£1.20m``), ``currency``. Steps smaller than ``min_share`` of the money
    in are left out; a final "Left in the fund" step appears only if the steps do not net to zero.
    """
    wf = data.waterfall(stat) if not isinstance(data, pd.DataFrame) else data.copy()
    currency = str(wf["currency"].iloc[0]) if "currency" in wf and len(wf) else "GBP"
    total_in = float(wf.loc[wf["amount"] > 0, "amount"].sum())
    keep = wf["amount"].abs() > max(min_share * total_in, 1e-9)
    # Small steps are left out of the picture, but their money is not: what they net to is one step.
    small = float(wf.loc[~keep, "amount"].sum())
    wf = wf[keep].reset_index(drop=True)
    if abs(small) > 1e-9 * max(total_in, 1.0):
        direction = "in" if small > 0 else "out"
        wf = pd.concat([wf, pd.DataFrame([{"step": "Other small flows", "direction": direction, "amount": small, "currency": currency}])],
                       ignore_index=True)
    net = float(wf["amount"].sum())
    if total_in > 0 and abs(net) > 0.005 * total_in:
        wf = pd.concat(
            [wf, pd.DataFrame([{"step": "Left in the fund", "direction": "out", "amount": -net, "currency": currency}])],
            ignore_index=True,
        )
    wf["category"] = [
        "Left in the fund" if s == "Left in the fund" else _waterfall_category(s, d)
        for s, d in zip(wf["step"], wf["direction"])
    ]
    wf["end"] = wf["amount"].cumsum()
    wf["start"] = wf["end"] - wf["amount"]
    wf["label"] = [fmt_money(a, currency) for a in wf["amount"]]
    wf["order"] = np.arange(len(wf))
    wf["currency"] = currency
    return wf[["order", "step", "category", "amount", "start", "end", "label", "currency"]]


def waterfall_chart(data: Results | pd.DataFrame, stat: str = "mean", title: str | None = None) -> alt.Chart:
    """Horizontal payout waterfall: money in (outcome payments, capital, guarantee calls) builds
    the fund up; delivery, backbone, each tranche's capital and return, and any excess take it
    back down to zero. ``data``: a Results or ``Results.waterfall(stat)``/``waterfall_frame``."""
    df = data if isinstance(data, pd.DataFrame) and "start" in data else waterfall_frame(data, stat)
    currency = str(df["currency"].iloc[0]) if len(df) else "GBP"
    top = float(max(df["start"].abs().max(), df["end"].abs().max())) if len(df) else 1.0
    steps = list(df["step"])
    cats = [c for c in CATEGORY_COLOURS if c in set(df["category"])]
    y = alt.Y("step:N", sort=steps, title=None, axis=alt.Axis(labelLimit=260))
    base = alt.Chart(df)
    lo = min(0.0, float(df[["start", "end"]].min().min())) if len(df) else 0.0
    x_scale = alt.Scale(domain=[lo, top * 1.12], nice=False)  # room for the labels on the right
    bars = base.mark_bar(height={"band": 0.75}).encode(
        y=y,
        x=alt.X("start:Q", scale=x_scale, axis=_money_axis(f"Running total ({currency}, over the contract)", currency, top)),
        x2="end:Q",
        color=alt.Color(
            "category:N",
            title="Flow",
            scale=alt.Scale(domain=cats, range=[CATEGORY_COLOURS[c] for c in cats]),
            legend=alt.Legend(orient="bottom", columns=4),
        ),
        tooltip=[
            alt.Tooltip("step:N", title="Step"),
            alt.Tooltip("label:N", title=f"Amount ({currency})"),
            alt.Tooltip("end:Q", title=f"Running total ({currency})", format=",.0f"),
        ],
    )
    # Amount labels just right of each bar.
    df_text = df.assign(right=np.maximum(df["start"], df["end"]))
    text = alt.Chart(df_text).mark_text(align="left", dx=4, fontSize=11, color="#333").encode(
        y=y, x=alt.X("right:Q", scale=x_scale), text="label:N"
    )
    # Step sizing: each step gets its own row whatever the legend and axes take.
    chart = alt.layer(bars, text).properties(height=alt.Step(28))
    if title:
        chart = chart.properties(title=title)
    return chart


# --------------------------------------------------------------------------------------------
# Risk distributions per tranche

_WHAT = {
    "multiple": {"threshold": 1.0, "axis": "Multiple of money (x: cash back ÷ capital drawn)", "format": ".2f",
                 "loss": "Loss (multiple < 1)", "gain": "Capital back or more"},
    "irr": {"threshold": 0.0, "axis": "IRR (per year)", "format": ".0%",
            "loss": "Loss (IRR < 0)", "gain": "IRR ≥ 0", "floor": -0.5},
}


def _axis_title(what: str, values: np.ndarray) -> str:
    spec = _WHAT[what]
    floor = spec.get("floor")
    if floor is not None and len(values) and np.nanmin(values) < floor:
        return f"{spec['axis']}; paths below {floor:.0%} shown at {floor:.0%}"
    return spec["axis"]


def distribution_frame(results: Results, what: Literal["multiple", "irr"] = "multiple") -> pd.DataFrame:
    """Per-path values of a tranche measure, tidy: ``tranche``, ``seniority`` (1 = most senior),
    ``value`` and ``prob_loss`` (the tranche's share of paths below the loss line). Paths where
    the measure is undefined (nothing drawn; no IRR) are left out."""
    if what not in _WHAT:
        raise ValueError(f"what: must be 'multiple' or 'irr' (got {what!r})")
    arr = results.multiple if what == "multiple" else results.path["tranche_irr"]
    mult = results.multiple
    parts = []
    for k, name in enumerate(results.tranche_names):
        v = arr[:, k]
        v = v[np.isfinite(v)]
        m = mult[:, k]
        m = m[np.isfinite(m)]
        p_loss = float(np.mean(m < 1.0 - 1e-9)) if len(m) else float("nan")
        parts.append(pd.DataFrame({"tranche": name, "seniority": k + 1, "value": v, "prob_loss": p_loss}))
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["tranche", "seniority", "value", "prob_loss"])
    df.attrs["what"] = what
    return df


def _display_range(values: np.ndarray, threshold: float, floor: float | None = None) -> tuple[float, float]:
    """A range that holds 99% of the values (and the loss line), padded a little, and not
    below ``floor`` (IRRs of -100% would otherwise squeeze every other path into a sliver)."""
    if len(values) == 0:
        return threshold - 1, threshold + 1
    lo, hi = np.quantile(values, [0.005, 0.995])
    lo, hi = min(lo, threshold), max(hi, threshold)
    if floor is not None:
        lo = max(lo, floor)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.03 * (hi - lo)
    return float(lo - pad), float(hi + pad)


def histogram_frame(df: pd.DataFrame, what: str = "multiple", bins: int = 40) -> pd.DataFrame:
    """Bin a :func:`distribution_frame` per tranche, with the loss line on a bin edge.

    Columns: ``tranche``, ``label`` (name and P(loss)), ``seniority``, ``bin_start``,
    ``bin_end``, ``share`` (of the tranche's paths), ``region`` (loss or not)."""
    spec = _WHAT[what]
    thr = spec["threshold"]
    lo, hi = _display_range(df["value"].to_numpy(), thr, spec.get("floor"))
    width = (hi - lo) / bins
    k_lo = math.floor((lo - thr) / width)
    k_hi = math.ceil((hi - thr) / width)
    edges = thr + width * np.arange(k_lo, k_hi + 1)
    rows = []
    for name, g in df.groupby("tranche", sort=False):
        v = np.clip(g["value"].to_numpy(), edges[0], edges[-1])
        counts, _ = np.histogram(v, edges)
        share = counts / max(1, len(v))
        p_loss = float(g["prob_loss"].iloc[0])
        label = f"{name} · P(loss) {p_loss:.1%}"
        for a, b, s in zip(edges[:-1], edges[1:], share):
            rows.append({
                "tranche": name, "label": label, "seniority": int(g["seniority"].iloc[0]),
                "bin_start": a, "bin_end": b, "share": s,
                "region": spec["loss"] if b <= thr + 1e-12 else spec["gain"],
            })
    return pd.DataFrame(rows)


def ecdf_frame(df: pd.DataFrame, what: str = "multiple", points: int = 301) -> pd.DataFrame:
    """The empirical CDF of a :func:`distribution_frame` per tranche on a grid of ``points``
    probabilities: ``tranche``, ``label``, ``seniority``, ``value``, ``cum_share``."""
    spec = _WHAT[what]
    lo, hi = _display_range(df["value"].to_numpy(), spec["threshold"], spec.get("floor"))
    rows = []
    for name, g in df.groupby("tranche", sort=False):
        v = np.sort(g["value"].to_numpy())
        if not len(v):
            continue
        p = np.linspace(0, 1, points)
        x = np.quantile(v, p, method="inverted_cdf")
        # Share of paths at or below each x (exact at the grid values).
        cum = np.searchsorted(v, x, side="right") / len(v)
        x = np.clip(np.concatenate([[lo], x, [hi]]), lo, hi)
        cum = np.concatenate([[0.0], cum, [1.0]])
        p_loss = float(g["prob_loss"].iloc[0])
        rows.append(pd.DataFrame({
            "tranche": name, "label": f"{name} · P(loss) {p_loss:.1%}", "seniority": int(g["seniority"].iloc[0]),
            "value": x, "cum_share": cum,
        }))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["tranche", "label", "seniority", "value", "cum_share"])


def distribution_chart(
    data: Results | pd.DataFrame, what: Literal["multiple", "irr"] = "multiple",
    kind: Literal["histogram", "ecdf"] = "histogram", width: int = 380,
) -> alt.Chart:
    """Risk distribution of each tranche's multiple of money or IRR, with the loss region marked.

    ``histogram``: one row per tranche (seniority order), share of paths per bin, loss bins in
    red. ``ecdf``: one line per tranche, share of paths at or below each value, the loss region
    shaded; where a line crosses the loss line is the tranche's probability of loss.
    ``data``: a Results, or a :func:`distribution_frame`. ``width``: of each histogram panel in
    pixels (a faceted chart cannot stretch to its container); the ECDF stretches."""
    if what not in _WHAT:
        raise ValueError(f"what: must be 'multiple' or 'irr' (got {what!r})")
    spec = _WHAT[what]
    df = _frame_of(data, distribution_frame, what)
    thr = spec["threshold"]
    lo, hi = _display_range(df["value"].to_numpy(), thr, spec.get("floor"))
    x_scale = alt.Scale(domain=[lo, hi], nice=False, zero=False)
    x_axis = alt.Axis(title=_axis_title(what, df["value"].to_numpy()), format=spec["format"])
    if kind == "histogram":
        h = histogram_frame(df, what)
        labels = list(dict.fromkeys(h.sort_values("seniority")["label"]))
        bars = alt.Chart().mark_bar(stroke="white", strokeWidth=0.3).encode(
            x=alt.X("bin_start:Q", scale=x_scale, axis=x_axis),
            x2="bin_end:Q",
            y=alt.Y("share:Q", title="Share of paths", axis=alt.Axis(format=".0%", tickCount=3)),
            y2=alt.datum(0),
            color=alt.Color(
                "region:N", title=None,
                scale=alt.Scale(domain=[spec["loss"], spec["gain"]], range=[LOSS, GAIN]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("tranche:N", title="Tranche"),
                alt.Tooltip("bin_start:Q", title="From", format=spec["format"]),
                alt.Tooltip("bin_end:Q", title="To", format=spec["format"]),
                alt.Tooltip("share:Q", title="Share of paths", format=".1%"),
            ],
        )
        rule = alt.Chart().mark_rule(color=LOSS, strokeDash=[4, 3]).encode(x=alt.datum(thr))
        return (
            alt.layer(bars, rule, data=h)
            .properties(height=110, width=width)
            .facet(row=alt.Row("label:N", sort=labels, title=None, header=alt.Header(labelAngle=0, labelAlign="left", labelAnchor="start", labelOrient="top", labelFontWeight="bold")))
            .resolve_scale(y="independent")
        )
    if kind != "ecdf":
        raise ValueError(f"kind: must be 'histogram' or 'ecdf' (got {kind!r})")
    e = ecdf_frame(df, what)
    labels = list(dict.fromkeys(e.sort_values("seniority")["label"]))
    region = alt.Chart(pd.DataFrame({"x": [lo], "x2": [thr], "region": [spec["loss"]]})).mark_rect(
        color=LOSS, opacity=0.10
    ).encode(x=alt.X("x:Q", scale=x_scale), x2="x2:Q")
    region_text = alt.Chart(pd.DataFrame({"x": [lo], "t": [spec["loss"]]})).mark_text(
        align="left", baseline="top", dx=4, dy=4, color=LOSS, fontWeight="bold"
    ).encode(x=alt.X("x:Q", scale=x_scale), y=alt.value(0), text="t:N")
    rule = alt.Chart(pd.DataFrame({"x": [thr]})).mark_rule(color=LOSS, strokeDash=[4, 3]).encode(x=alt.X("x:Q", scale=x_scale))
    lines = alt.Chart(e).mark_line(interpolate="step-after", strokeWidth=2).encode(
        x=alt.X("value:Q", scale=x_scale, axis=x_axis),
        y=alt.Y("cum_share:Q", title="Share of paths at or below", axis=alt.Axis(format=".0%"), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("label:N", title="Tranche (seniority order)", sort=labels, scale=alt.Scale(domain=labels, range=SERIES),
                        legend=alt.Legend(orient="bottom", columns=1, labelLimit=400)),
        tooltip=[
            alt.Tooltip("tranche:N", title="Tranche"),
            alt.Tooltip("value:Q", title=spec["axis"], format=spec["format"]),
            alt.Tooltip("cum_share:Q", title="Share of paths at or below", format=".1%"),
        ],
    )
    # The height includes the legend below the plot (Streamlit fits the chart to it).
    return alt.layer(region, rule, lines, region_text).properties(height=380 + 18 * len(labels))


# --------------------------------------------------------------------------------------------
# Fan charts over time

_FAN = {
    "commissioner_paid": "Cumulative outcome payments",
    "investor_net": "Investors' net position",
}


def fan_frame(results: Results, what: str = "commissioner_paid") -> pd.DataFrame:
    """``Results.fan(what)`` as a plain frame: ``period_start``, ``year``, ``q05`` ... ``q95``
    (currency, cumulative), ``what`` and ``currency``."""
    df = results.fan(what).reset_index()
    df["what"] = what
    df["currency"] = results.scenario.currency
    return df


def fan_chart(data: Results | pd.DataFrame, what: str = "commissioner_paid", currency: str | None = None,
              title: str | None = None) -> alt.Chart:
    """5-95% and 25-75% bands and the median over time of a cumulative money series.
    ``data``: a Results, or ``Results.fan(what)`` (with or without its index reset)."""
    if what not in _FAN:
        raise ValueError(f"what: must be one of {sorted(_FAN)} (got {what!r})")
    df = _frame_of(data, fan_frame, what)
    if "period_start" not in df.columns:
        df = df.reset_index()
    currency = currency or (str(df["currency"].iloc[0]) if "currency" in df else "GBP")
    bands = pd.concat([
        pd.DataFrame({"period_start": df["period_start"], "lo": df["q05"], "hi": df["q95"], "band": "5–95% of paths"}),
        pd.DataFrame({"period_start": df["period_start"], "lo": df["q25"], "hi": df["q75"], "band": "25–75% of paths"}),
    ], ignore_index=True)
    top = float(np.nanmax(np.abs(df[["q05", "q95"]].to_numpy()))) if len(df) else 1.0
    y_title = f"{_FAN[what]} ({currency})"
    x = alt.X("period_start:T", title="Period starting", axis=alt.Axis(format="%Y", tickCount="year"))
    area = alt.Chart(bands).mark_area(opacity=0.85).encode(
        x=x,
        y=alt.Y("lo:Q", axis=_money_axis(y_title, currency, top, titleLimit=360)),
        y2="hi:Q",
        color=alt.Color("band:N", title=None,
                        scale=alt.Scale(domain=["5–95% of paths", "25–75% of paths", "Median"],
                                        range=[BAND_OUTER, BAND_INNER, MEDIAN]),
                        legend=alt.Legend(orient="top")),
    )
    med = df.assign(band="Median")
    line = alt.Chart(med).mark_line(strokeWidth=2.5).encode(
        x=x, y="q50:Q", color=alt.Color("band:N"),
        tooltip=[
            alt.Tooltip("period_start:T", title="Period starting", format="%b %Y"),
            alt.Tooltip("q05:Q", title=f"5th percentile ({currency})", format=",.0f"),
            alt.Tooltip("q50:Q", title=f"Median ({currency})", format=",.0f"),
            alt.Tooltip("q95:Q", title=f"95th percentile ({currency})", format=",.0f"),
        ],
    )
    layers = [area, line]
    if what == "investor_net":
        layers.append(alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="#555", strokeDash=[4, 3]).encode(y="y:Q"))
    chart = alt.layer(*layers).properties(height=300)
    return chart.properties(title=title) if title else chart


# --------------------------------------------------------------------------------------------
# Outcomes over time: the slow start


def outcomes_frame(results: Results) -> pd.DataFrame:
    """Mean outcomes verified per period, attributed to partners: ``period_start``, ``year``,
    ``partner``, ``outcomes`` (count per period), ``period`` (month/quarter/year).

    ``Results.period_mean["achieved"]`` counts outcomes by enrolment period; each outcome is
    verified ``lag`` later, and a delivery unit's outcomes are attributed to partners as the
    payments are (``cib_sim.engine.payments.attribution_weights``)."""
    from cib_sim.engine.payments import attribution_weights

    s = results.scenario
    h = s.horizon
    ach = results.period_mean["achieved"]  # (T, U, O) by enrolment period
    T = ach.shape[0]
    verified = np.zeros(ach.shape[:2])  # (T, U)
    for o, out in enumerate(s.outcomes):
        lag = h.to_periods(out.lag)
        if lag < T:
            verified[lag:] += ach[: T - lag, :, o]
    by_partner = verified @ attribution_weights(s)  # (T, P)
    idx = results.period_index
    rows = [
        pd.DataFrame({"period_start": idx, "year": np.arange(T) / h.periods_per_year, "partner": name,
                      "outcomes": by_partner[:, p]})
        for p, name in enumerate(s.partner_names)
    ]
    df = pd.concat(rows, ignore_index=True)
    df["period"] = h.period
    return df


def outcomes_chart(data: Results | pd.DataFrame, title: str | None = None) -> alt.Chart:
    """Stacked areas of the mean outcomes verified per period, by partner: nothing until the
    first lags pass, then a slow rise as partners mature."""
    df = _frame_of(data, outcomes_frame)
    period = str(df["period"].iloc[0]) if "period" in df and len(df) else "quarter"
    partners = list(dict.fromkeys(df["partner"]))
    df = df.assign(partner_order=df["partner"].map({p: i for i, p in enumerate(partners)}))
    chart = alt.Chart(df).mark_area(opacity=0.9, line={"color": "white", "strokeWidth": 0.5}).encode(
        x=alt.X("period_start:T", title="Period starting", axis=alt.Axis(format="%Y", tickCount="year")),
        y=alt.Y("outcomes:Q", stack="zero", title=f"Outcomes verified per {PERIOD_WORD.get(period, period)} (mean)"),
        color=alt.Color("partner:N", title="Partner (attributed)", sort=partners, scale=alt.Scale(domain=partners, range=SERIES),
                        legend=alt.Legend(orient="top", columns=2, labelLimit=260)),
        order=alt.Order("partner_order:Q"),
        tooltip=[
            alt.Tooltip("period_start:T", title="Period starting", format="%b %Y"),
            alt.Tooltip("partner:N", title="Partner"),
            alt.Tooltip("outcomes:Q", title="Outcomes verified (mean)", format=",.1f"),
        ],
    ).properties(height=360)
    return chart.properties(title=title) if title else chart


def uplift_frame(results: Results) -> pd.DataFrame:
    """Outcomes above the no-intervention baseline (count outcomes: events avoided) per
    participant enrolled, by enrolment period: the partners' maturity as the contract sees it. Columns ``period_start``, ``year``,
    ``series`` (an outcome in the zone model, a partner in the pipelines model), ``series_kind``,
    ``uplift`` (outcomes per participant), ``enrolled``, ``period``. Periods with no enrolment
    are left out."""
    s = results.scenario
    h = s.horizon
    ach = results.period_mean["achieved"]  # (T, U, O)
    enr = results.period_mean["enrolled"]  # (T, U)
    base = np.array([o.baseline_events for o in s.outcomes])
    above = ach - enr[:, :, None] * base[None, None, :]
    # A count outcome counts events: what is above the baseline is the events avoided.
    is_count = np.array([o.kind == "count" for o in s.outcomes])
    above = np.where(is_count[None, None, :], -above, above)
    idx = results.period_index
    T = ach.shape[0]
    parts = []
    if s.delivery.model == "zone":
        tot_enr = enr.sum(axis=1)
        for o, name in enumerate(s.outcome_names):
            with np.errstate(divide="ignore", invalid="ignore"):
                u = above[:, :, o].sum(axis=1) / tot_enr
            parts.append(pd.DataFrame({"period_start": idx, "year": np.arange(T) / h.periods_per_year,
                                       "series": name, "series_kind": "Outcome", "uplift": u, "enrolled": tot_enr}))
    else:
        for p, name in enumerate(s.partner_names):
            with np.errstate(divide="ignore", invalid="ignore"):
                u = above[:, p, :].sum(axis=1) / enr[:, p]
            parts.append(pd.DataFrame({"period_start": idx, "year": np.arange(T) / h.periods_per_year,
                                       "series": name, "series_kind": "Partner", "uplift": u, "enrolled": enr[:, p]}))
    df = pd.concat(parts, ignore_index=True)
    df = df[(df["enrolled"] > 1e-9) & np.isfinite(df["uplift"])]
    # Outcomes nobody can improve on (baseline 1, e.g. sign-up) add a flat line at zero: leave out.
    moving = df.groupby("series")["uplift"].transform(lambda u: u.abs().max() > 1e-9)
    df = df[moving].reset_index(drop=True)
    df["period"] = h.period
    return df


def uplift_chart(data: Results | pd.DataFrame, title: str | None = None) -> alt.Chart:
    """Lines of outcomes above baseline per participant, by enrolment period (see
    :func:`uplift_frame`): low for the first cohorts, rising as partners reach full effect."""
    df = _frame_of(data, uplift_frame)
    kind = str(df["series_kind"].iloc[0]) if len(df) else "Outcome"
    period = str(df["period"].iloc[0]) if len(df) else "quarter"
    chart = alt.Chart(df).mark_line(point=alt.OverlayMarkDef(size=20), strokeWidth=2).encode(
        x=alt.X("period_start:T", title=f"Enrolled in the {PERIOD_WORD.get(period, period)} starting",
                axis=alt.Axis(format="%Y", tickCount="year")),
        y=alt.Y("uplift:Q", title="Outcomes above baseline per participant"),
        color=alt.Color("series:N", title=kind, sort=list(dict.fromkeys(df["series"])),
                        scale=alt.Scale(domain=list(dict.fromkeys(df["series"])), range=SERIES),
                        legend=alt.Legend(orient="top", columns=3, labelLimit=200)),
        tooltip=[
            alt.Tooltip("period_start:T", title="Enrolled from", format="%b %Y"),
            alt.Tooltip("series:N", title=kind),
            alt.Tooltip("uplift:Q", title="Outcomes above baseline per participant", format=".3f"),
            alt.Tooltip("enrolled:Q", title="Enrolled (mean)", format=",.0f"),
        ],
    ).properties(height=360)
    return chart.properties(title=title) if title else chart


# --------------------------------------------------------------------------------------------
# Base against edited scenario


def comparison_frame(base: Results | pd.DataFrame, edited: Results | pd.DataFrame) -> pd.DataFrame:
    """Per tranche, the 5th/50th/95th percentile multiple and P(loss) of both scenarios, from
    their summaries (``Results.summary()``): ``scenario`` (Base/Edited), ``tranche``, ``p5``,
    ``p50``, ``p95``, ``prob_loss``, ``seniority``."""
    rows = []
    for label, data in (("Base", base), ("Edited", edited)):
        summ = data if isinstance(data, pd.DataFrame) else data.summary()
        tr = summ[summ["group"] == "tranche"]
        names = list(dict.fromkeys(tr["name"]))
        for i, name in enumerate(names):
            g = tr[tr["name"] == name].set_index("metric")["value"]
            rows.append({"scenario": label, "tranche": name, "seniority": i + 1,
                         "p5": g.get("multiple_p5", np.nan), "p50": g.get("multiple_p50", np.nan),
                         "p95": g.get("multiple_p95", np.nan), "prob_loss": g.get("prob_loss", np.nan)})
    return pd.DataFrame(rows)


def comparison_chart(df: pd.DataFrame) -> alt.Chart:
    """Per tranche, the 5-95% range of the multiple of money (line) and its median (dot), base
    and edited side by side, over the loss region."""
    order = list(dict.fromkeys(df.sort_values(["seniority"])["tranche"]))
    hi = float(np.nanmax(df[["p95"]].to_numpy())) if len(df) else 2.0
    hi = max(hi, 1.0) * 1.08
    x_scale = alt.Scale(domain=[0, hi], nice=False)
    y = alt.Y("tranche:N", sort=order, title=None, axis=alt.Axis(labelLimit=260))
    y_off = alt.YOffset("scenario:N", sort=["Base", "Edited"])
    colour = alt.Color("scenario:N", title=None, scale=alt.Scale(domain=list(SCENARIO_COLOURS), range=list(SCENARIO_COLOURS.values())),
                       legend=alt.Legend(orient="top"))
    region = alt.Chart(pd.DataFrame({"x": [0.0], "x2": [1.0]})).mark_rect(color=LOSS, opacity=0.08).encode(
        x=alt.X("x:Q", scale=x_scale), x2="x2:Q")
    rule1 = alt.Chart(pd.DataFrame({"x": [1.0]})).mark_rule(color=LOSS, strokeDash=[4, 3]).encode(x=alt.X("x:Q", scale=x_scale))
    tooltip = [alt.Tooltip("scenario:N", title="Scenario"), alt.Tooltip("tranche:N", title="Tranche"),
               alt.Tooltip("p5:Q", title="Multiple, 5th percentile", format=".2f"),
               alt.Tooltip("p50:Q", title="Multiple, median", format=".2f"),
               alt.Tooltip("p95:Q", title="Multiple, 95th percentile", format=".2f"),
               alt.Tooltip("prob_loss:Q", title="P(loss)", format=".1%")]
    rng = alt.Chart(df).mark_rule(strokeWidth=3).encode(
        y=y, yOffset=y_off, color=colour,
        x=alt.X("p5:Q", scale=x_scale, title="Multiple of money (x): 5–95% range and median"), x2="p95:Q", tooltip=tooltip)
    dot = alt.Chart(df).mark_point(filled=True, size=90).encode(y=y, yOffset=y_off, color=colour, x=alt.X("p50:Q", scale=x_scale), tooltip=tooltip)
    return alt.layer(region, rule1, rng, dot).properties(height=alt.Step(22))
