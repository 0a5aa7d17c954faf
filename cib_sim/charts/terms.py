"""Charts of the deal's terms, from the scenario before any simulation: the capital stack,
the maturity curves, and the deal among real impact bonds (INDIGO)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import altair as alt
import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from cib_sim.scenario import Scenario

from cib_sim.charts.style import (
    CURRENCY_SYMBOL,
    GAIN,
    SCENARIO_COLOURS,
    SERIES,
    _money_axis,
    fmt_money,
)

# --------------------------------------------------------------------------------------------
# The deal's terms (from the scenario, before any simulation)


def capital_stack_frame(scenario: Scenario) -> pd.DataFrame:
    """Tranches in seniority order: ``seniority``, ``tranche``, ``kind``, ``commitment``,
    ``start``/``end`` (cumulative, currency), ``label``, ``currency``. Guarantees are listed
    after the capital they stand behind."""
    rows, cum = [], 0.0
    cur = scenario.currency
    ordered = list(scenario.capital_tranches) + [t for t in scenario.tranches if t.kind == "guarantee"]
    for i, t in enumerate(ordered):
        rows.append({
            "seniority": i + 1, "tranche": t.name, "kind": t.kind, "commitment": t.commitment,
            "start": cum, "end": cum + t.commitment,
            "label": f"{t.name} ({t.kind.replace('_', ' ')}): {fmt_money(t.commitment, cur)}",
            "currency": cur,
        })
        cum += t.commitment
    return pd.DataFrame(rows)


KIND_COLOURS = {"senior": "#08519c", "subordinated": "#4292c6", "first_loss": "#e9a23b", "grant": "#8ab17d", "recoverable_grant": "#b5cf6b", "guarantee": "#bdbdbd"}


def capital_stack_chart(df: pd.DataFrame) -> alt.Chart:
    """One horizontal bar per tranche, most senior at the top, length = commitment."""
    currency = str(df["currency"].iloc[0]) if len(df) else "GBP"
    top = float(df["commitment"].max()) if len(df) else 1.0
    kinds = [k for k in KIND_COLOURS if k in set(df["kind"])]
    y = alt.Y("label:N", sort=list(df["label"]), title=None, axis=alt.Axis(labelLimit=420))
    bars = alt.Chart(df).mark_bar(height={"band": 0.7}).encode(
        y=y,
        x=alt.X("commitment:Q", axis=_money_axis(f"Commitment ({currency})", currency, top)),
        color=alt.Color("kind:N", title="Kind", scale=alt.Scale(domain=kinds, range=[KIND_COLOURS[k] for k in kinds]),
                        legend=alt.Legend(orient="right")),
        tooltip=[alt.Tooltip("tranche:N", title="Tranche"), alt.Tooltip("kind:N", title="Kind"),
                 alt.Tooltip("commitment:Q", title=f"Commitment ({currency})", format=",.0f")],
    )
    return bars.properties(height=alt.Step(30))


def maturity_frame(scenario: Scenario, points: int = 121) -> pd.DataFrame:
    """Each partner's share of its full effect by year of the contract (logistic maturity from
    when it starts delivering): ``partner``, ``year``, ``share``."""
    from scipy.special import expit

    years = np.linspace(0, scenario.horizon.years, points)
    zone = scenario.delivery.model == "zone"
    rows = []
    for p in scenario.partners:
        start = scenario.delivery.enrolment_start if zone else p.enrolment_start
        t = years - start
        if p.maturity.kind == "immediate":
            share = np.where(t >= 0, 1.0, 0.0)
        else:
            share = np.where(t >= 0, expit((t - p.maturity.half_maturity) / p.maturity.steepness), 0.0)
        rows.append(pd.DataFrame({"partner": p.name, "year": years, "share": share}))
    return pd.concat(rows, ignore_index=True)


def maturity_chart(df: pd.DataFrame) -> alt.Chart:
    """Lines of each partner's share of full effect over the contract years."""
    partners = list(dict.fromkeys(df["partner"]))
    return alt.Chart(df).mark_line(strokeWidth=2.5).encode(
        x=alt.X("year:Q", title="Years from contract start", axis=alt.Axis(tickMinStep=0.5)),
        y=alt.Y("share:Q", title="Share of full effect", axis=alt.Axis(format=".0%", tickCount=5), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("partner:N", title="Partner", sort=partners, scale=alt.Scale(domain=partners, range=SERIES),
                        legend=alt.Legend(orient="right", labelLimit=240)),
        tooltip=[alt.Tooltip("partner:N", title="Partner"), alt.Tooltip("year:Q", title="Year", format=".2f"),
                 alt.Tooltip("share:Q", title="Share of full effect", format=".0%")],
    ).properties(height=260)


# --------------------------------------------------------------------------------------------
# The deal among real impact bonds (INDIGO), from the scenario's terms (no simulation)

#: Groups of points in :func:`deals_scatter_chart`: colour and shape.
DEAL_GROUPS = {
    "This scenario": (SCENARIO_COLOURS["Edited"], "diamond"),
    "Nearest by size": (GAIN, "circle"),
    "Other real deals": ("#a3a3a3", "circle"),
}
#: Diagonals of :func:`deals_scatter_chart`: maximum outcome payments = ratio × capital.
DEAL_RATIOS = (1.0, 3.0, 10.0)


def deals_scatter_frame(deals: pd.DataFrame | None = None, currency: str = "GBP",
                        currency_mode: str = "convert") -> pd.DataFrame:
    """INDIGO deals with capital and maximum outcome payment both known and positive, with both
    in ``currency``: ``project_id``, ``name``, ``sector``, ``country``, ``stage``,
    ``deal_currency`` (as published), ``capital``, ``max_outcome_payment`` (in ``currency``),
    ``outcome_to_capital`` and ``currency``; sorted by ``project_id``.

    The conversion is :func:`cib_sim.deals.compare_to_deals`'s own (``currency_mode``:
    ``convert`` or ``same``): the frame is its list of nearest deals to a unit deal, made long
    enough to hold every deal, so the points sit exactly where the comparison puts them.
    ``deals`` defaults to :func:`cib_sim.deals.load_deals`.
    """
    from cib_sim.deals import compare_to_deals, load_deals

    deals = load_deals() if deals is None else deals
    unit = {"capital": 1.0, "max_outcome_payment": 1.0, "currency": currency}
    near = compare_to_deals(unit, deals, measures=("capital",), k_nearest=len(deals),
                            currency_mode=currency_mode).nearest
    out = pd.DataFrame({
        c: near[c] if c in near else pd.Series(np.nan, index=near.index, dtype="object")
        for c in ("project_id", "name", "sector", "country", "stage")
    })
    out["deal_currency"] = near["currency"] if "currency" in near else np.nan
    out["capital"] = near["capital_cmp"].astype("float64")
    out["max_outcome_payment"] = near["max_outcome_payment_cmp"].astype("float64")
    out = out[(out["capital"] > 0) & (out["max_outcome_payment"] > 0)]
    out["outcome_to_capital"] = out["max_outcome_payment"] / out["capital"]
    out["currency"] = currency.upper()
    return out.sort_values("project_id", kind="mergesort").reset_index(drop=True)


def _log_money_axis(title: str, currency: str, values: list[float]) -> alt.Axis:
    """A log axis with ticks at ``values`` labelled '£30k', '£1m', '£3bn'."""
    sym = CURRENCY_SYMBOL.get(currency, currency + " ").replace("\\", "\\\\").replace("'", "\\'")
    v = "datum.value"
    expr = (f"{v} >= 1e9 ? '{sym}' + format({v} / 1e9, ',~r') + 'bn' : "
            f"{v} >= 1e6 ? '{sym}' + format({v} / 1e6, '~r') + 'm' : "
            f"{v} >= 1e3 ? '{sym}' + format({v} / 1e3, '~r') + 'k' : '{sym}' + format({v}, '~r')")
    return alt.Axis(title=title, values=values, labelExpr=expr, labelOverlap=True, titleLimit=500)


def _log_domain(values: np.ndarray) -> tuple[float, float, list[float]]:
    """Powers of ten enclosing the positive ``values``, and ticks at 1, 3, 10, 30 ... in between."""
    v = values[np.isfinite(values) & (values > 0)]
    lo_exp = math.floor(math.log10(v.min())) if len(v) else 4
    hi_exp = math.ceil(math.log10(v.max())) if len(v) else 8
    if hi_exp <= lo_exp:
        hi_exp = lo_exp + 1
    ticks = [m * 10.0**e for e in range(lo_exp, hi_exp) for m in (1, 3)] + [10.0**hi_exp]
    return 10.0**lo_exp, 10.0**hi_exp, ticks


def deals_scatter_chart(deals_frame: pd.DataFrame, scenario_terms: dict, nearest_ids=(),
                        height: int = 460) -> alt.LayerChart:
    """Capital against maximum outcome payments of real deals (log scales, money in the
    scenario's currency), with the scenario marked (an orange diamond on dashed cross-hairs) and
    the deals in ``nearest_ids`` highlighted; faint dashed diagonals labelled "1×", "3×", "10×"
    mark maximum outcome payments of that many times the capital. Tooltips name each deal
    (project id, name, sector, country).

    ``deals_frame``: :func:`deals_scatter_frame`. ``scenario_terms``: a headline-terms dict
    (``Scenario.headline_terms()``: ``capital``, ``max_outcome_payment``, ``currency``); when
    either size is missing or not positive, the scenario cannot sit on log scales and only the
    deals are drawn. ``height``: of the whole chart in pixels, legend and axes included (Streamlit
    fits the chart into it).
    """
    currency = str(scenario_terms.get("currency") or (deals_frame["currency"].iloc[0] if len(deals_frame) else "GBP"))
    df = deals_frame.copy()
    nearest = set(nearest_ids)
    df["group"] = np.where(df["project_id"].isin(nearest), "Nearest by size", "Other real deals")

    def _num(key: str) -> float:
        try:
            x = float(scenario_terms.get(key))
        except (TypeError, ValueError):
            return math.nan
        return x if math.isfinite(x) and x > 0 else math.nan

    cap, mop = _num("capital"), _num("max_outcome_payment")
    has_scenario = math.isfinite(cap) and math.isfinite(mop)
    xs = np.append(df["capital"].to_numpy(dtype="float64"), cap)
    ys = np.append(df["max_outcome_payment"].to_numpy(dtype="float64"), mop)
    x_lo, x_hi, x_ticks = _log_domain(xs)
    y_lo, y_hi, y_ticks = _log_domain(ys)
    x_scale = alt.Scale(type="log", domain=[x_lo, x_hi], nice=False)
    y_scale = alt.Scale(type="log", domain=[y_lo, y_hi], nice=False)
    x = alt.X("capital:Q", scale=x_scale,
              axis=_log_money_axis(f"Capital committed ({currency}, log scale)", currency, x_ticks))
    y = alt.Y("max_outcome_payment:Q", scale=y_scale,
              axis=_log_money_axis(f"Maximum outcome payments ({currency}, log scale)", currency, y_ticks))
    groups = list(DEAL_GROUPS) if has_scenario else list(DEAL_GROUPS)[1:]
    colour = alt.Color("group:N", title=None, scale=alt.Scale(domain=groups, range=[DEAL_GROUPS[g][0] for g in groups]),
                       legend=alt.Legend(orient="top", symbolSize=160, labelFontSize=12))
    shape = alt.Shape("group:N", title=None, scale=alt.Scale(domain=groups, range=[DEAL_GROUPS[g][1] for g in groups]))
    tooltip = [
        alt.Tooltip("project_id:N", title="Project"),
        alt.Tooltip("name:N", title="Name"),
        alt.Tooltip("sector:N", title="Sector"),
        alt.Tooltip("country:N", title="Country"),
        alt.Tooltip("capital:Q", title=f"Capital ({currency})", format=",.0f"),
        alt.Tooltip("max_outcome_payment:Q", title=f"Max payments ({currency})", format=",.0f"),
        alt.Tooltip("outcome_to_capital:Q", title="Payments ÷ capital", format=".1f"),
        alt.Tooltip("deal_currency:N", title="Published in"),
    ]

    # Diagonals: payments = r × capital, clipped to the plot, labelled near their upper end.
    rows, labels = [], []
    for r in DEAL_RATIOS:
        a, b = max(x_lo, y_lo / r), min(x_hi, y_hi / r)
        if b <= a * 1.01:
            continue
        rows += [{"ratio": r, "capital": a, "max_outcome_payment": a * r},
                 {"ratio": r, "capital": b, "max_outcome_payment": b * r}]
        at = a * (b / a) ** 0.93  # near the end, inside the plot
        labels.append({"capital": at, "max_outcome_payment": at * r, "text": f"{r:g}×"})
    diag = alt.Chart(pd.DataFrame(rows)).mark_line(color="#c8c8c8", strokeDash=[5, 4], strokeWidth=1).encode(
        x=x, y=y, detail="ratio:N")
    diag_text = alt.Chart(pd.DataFrame(labels)).mark_text(
        align="right", baseline="bottom", dx=-4, dy=-2, color="#8a8a8a", fontSize=11).encode(x=x, y=y, text="text:N")

    others = alt.Chart(df[df["group"] == "Other real deals"]).mark_point(
        filled=True, size=46, opacity=0.75, stroke="white", strokeWidth=0.5).encode(
        x=x, y=y, color=colour, shape=shape, tooltip=tooltip)
    near = alt.Chart(df[df["group"] == "Nearest by size"]).mark_point(
        filled=True, size=110, opacity=1.0, stroke="#08306b", strokeWidth=1.2).encode(
        x=x, y=y, color=colour, shape=shape, tooltip=tooltip)
    layers = [diag, diag_text, others, near]
    if has_scenario:
        point = pd.DataFrame([{"group": "This scenario",
                               "capital": cap, "max_outcome_payment": mop, "outcome_to_capital": mop / cap}])
        hair = alt.Chart(point).mark_rule(color=DEAL_GROUPS["This scenario"][0], strokeDash=[3, 3], opacity=0.7)
        layers += [
            hair.encode(x=x),
            hair.encode(y=y),
            alt.Chart(point).mark_point(filled=True, size=320, opacity=1.0, stroke="white", strokeWidth=1.5).encode(
                x=x, y=y, color=colour, shape=shape,
                tooltip=[
                    alt.Tooltip("group:N", title="Scenario"),
                    alt.Tooltip("capital:Q", title=f"Capital ({currency})", format=",.0f"),
                    alt.Tooltip("max_outcome_payment:Q", title=f"Max payments ({currency})", format=",.0f"),
                    alt.Tooltip("outcome_to_capital:Q", title="Payments ÷ capital", format=".1f"),
                ]),
        ]
    return alt.layer(*layers).properties(height=height)
