"""Charts of a fund of bonds (:class:`~cib_sim.portfolio.PortfolioResults`): the top-up pot over
time, a payer's liability by year, the investor fund's distribution after fees and carry, and the
diversification sweep. Each ``*_chart`` takes the results (or the frame its ``*_frame`` gives)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from cib_sim.charts.style import BAND_INNER, BAND_OUTER, GAIN, LOSS, MEDIAN, _money_axis
from cib_sim.portfolio import PortfolioResults

_BANDS = ["5–95% of paths", "25–75% of paths", "Median"]


def _fan(df: pd.DataFrame, x: alt.X, y_title: str, currency: str) -> list:
    bands = pd.concat([
        pd.DataFrame({"x": df["x"], "lo": df["p5"], "hi": df["p95"], "band": _BANDS[0]}),
        pd.DataFrame({"x": df["x"], "lo": df["p25"], "hi": df["p75"], "band": _BANDS[1]}),
    ], ignore_index=True)
    top = float(np.nanmax(np.abs(df[["p5", "p95"]].to_numpy()))) if len(df) else 1.0
    colour = alt.Color("band:N", title=None, scale=alt.Scale(domain=_BANDS, range=[BAND_OUTER, BAND_INNER, MEDIAN]),
                       legend=alt.Legend(orient="top"))
    area = alt.Chart(bands).mark_area(opacity=0.85).encode(
        x=x, y=alt.Y("lo:Q", axis=_money_axis(y_title, currency, max(top, 1.0), titleLimit=360)), y2="hi:Q", color=colour)
    line = alt.Chart(df.assign(band=_BANDS[2])).mark_line(strokeWidth=2.5).encode(
        x=x, y="p50:Q", color=alt.Color("band:N"),
        tooltip=[alt.Tooltip("p5:Q", title=f"5th percentile ({currency})", format=",.0f"),
                 alt.Tooltip("p50:Q", title=f"Median ({currency})", format=",.0f"),
                 alt.Tooltip("p95:Q", title=f"95th percentile ({currency})", format=",.0f")])
    return [area, line]


def pot_frame(results: PortfolioResults, fund: int | str = 0) -> pd.DataFrame:
    return results.pot(fund).rename(columns={"date": "x"})


def pot_chart(data: PortfolioResults | pd.DataFrame, fund: int | str = 0, currency: str | None = None) -> alt.Chart:
    """The pot's balance over time (bands across paths) with the share of paths on which it has
    run out (right axis, red)."""
    df = pot_frame(data, fund) if isinstance(data, PortfolioResults) else data
    currency = currency or (data.currency if isinstance(data, PortfolioResults) else "GBP")
    x = alt.X("x:T", title="Period starting", axis=alt.Axis(format="%Y", tickCount="year"))
    fan = alt.layer(*_fan(df, x, f"Left in the pot ({currency})", currency))
    ex = alt.Chart(df).mark_line(color=LOSS, strokeDash=[5, 3]).encode(
        x=x, y=alt.Y("prob_exhausted:Q", title="Share of paths with the pot run out", axis=alt.Axis(format="%", titleColor=LOSS),
                     scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("x:T", title="Period starting", format="%b %Y"),
                 alt.Tooltip("prob_exhausted:Q", title="P(run out by then)", format=".1%")])
    return alt.layer(fan, ex).resolve_scale(y="independent").properties(height=300)


def liability_frame(results: PortfolioResults, payer: str) -> pd.DataFrame:
    df = results.liability(payer)
    return df.assign(x=pd.to_datetime(df["year"].astype(str) + "-01-01"))


def liability_chart(data: PortfolioResults | pd.DataFrame, payer: str | None = None, currency: str | None = None) -> alt.Chart:
    """One payer's liability by calendar year: bands across paths and the median."""
    if isinstance(data, PortfolioResults):
        currency = currency or data.currency
        df = liability_frame(data, payer or data.layout.payers[0])
    else:
        df = data
    currency = currency or "GBP"
    x = alt.X("x:T", title="Year", axis=alt.Axis(format="%Y", tickCount="year"))
    return alt.layer(*_fan(df, x, f"Paid in the year ({currency})", currency)).properties(height=300)


def fund_frame(results: PortfolioResults, fund: int | str = 0, bins: int = 40) -> pd.DataFrame:
    """Histogram of the fund investors' multiple after fees and carry (and before, the stakes')."""
    f = results.fund(fund)
    rows = []
    vals = np.concatenate([f.multiple.dropna().to_numpy(), f.gross_multiple.dropna().to_numpy()])
    if not len(vals):
        return pd.DataFrame(columns=["lo", "hi", "share", "what"])
    lo, hi = float(np.quantile(vals, 0.001)), float(np.quantile(vals, 0.999))
    if hi <= lo:
        lo, hi = lo - 0.05, hi + 0.05
    edges = np.linspace(lo, hi, bins + 1)
    for col, what in (("multiple", "After fees and carry"), ("gross_multiple", "Before fees (the stakes)")):
        v = f[col].dropna().to_numpy()
        counts, _ = np.histogram(np.clip(v, lo, hi), edges)
        rows.append(pd.DataFrame({"lo": edges[:-1], "hi": edges[1:], "share": counts / max(len(v), 1), "what": what}))
    return pd.concat(rows, ignore_index=True)


def fund_chart(data: PortfolioResults | pd.DataFrame, fund: int | str = 0) -> alt.Chart:
    """The investor fund's multiple of money across paths, after fees and carry and before."""
    df = fund_frame(data, fund) if isinstance(data, PortfolioResults) else data
    bars = alt.Chart(df).mark_bar(opacity=0.7, binSpacing=0).encode(
        x=alt.X("lo:Q", title="Multiple of money (x)"), x2="hi:Q",
        y=alt.Y("share:Q", title="Share of paths", axis=alt.Axis(format="%"), stack=None),
        color=alt.Color("what:N", title=None, scale=alt.Scale(range=[GAIN, "#9e9e9e"]), legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("what:N"), alt.Tooltip("lo:Q", format=".2f", title="from"), alt.Tooltip("hi:Q", format=".2f", title="to"),
                 alt.Tooltip("share:Q", format=".1%")])
    rule = alt.Chart(pd.DataFrame({"x": [1.0]})).mark_rule(color=LOSS, strokeDash=[4, 3]).encode(x="x:Q")
    return alt.layer(bars, rule).properties(height=260)


def sweep_chart(df: pd.DataFrame) -> alt.Chart:
    """:func:`~cib_sim.portfolio.diversification_sweep`: the fund's P(loss) and the stakes' mean
    P(loss) against the scale of the correlation."""
    long = pd.concat([
        pd.DataFrame({"loading_scale": df.loading_scale, "prob_loss": df.prob_loss_before_fees, "what": "Fund, before fees"}),
        pd.DataFrame({"loading_scale": df.loading_scale, "prob_loss": df.prob_loss, "what": "Fund investors, after fees"}),
        pd.DataFrame({"loading_scale": df.loading_scale, "prob_loss": df.stakes_prob_loss_mean, "what": "Stakes on their own (mean)"}),
    ], ignore_index=True)
    return alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("loading_scale:Q", title="Correlation between members (x the file's loadings)"),
        y=alt.Y("prob_loss:Q", title="P(loss)", axis=alt.Axis(format="%")),
        color=alt.Color("what:N", title=None, legend=alt.Legend(orient="top")),
        tooltip=["what:N", alt.Tooltip("loading_scale:Q", format=".2f"), alt.Tooltip("prob_loss:Q", format=".1%")],
    ).properties(height=260)
