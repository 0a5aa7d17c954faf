"""The scenario among real deals (INDIGO): its headline terms compared, no simulation needed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cib_sim.charts import fmt_money


@dataclass(frozen=True)
class RealDeals:
    """What the app's "Compared with real deals" section shows for one set of headline terms.

    ``terms``: the scenario's (``Scenario.headline_terms()``); ``comparison``:
    :func:`cib_sim.deals.compare_to_deals` of them; ``points``: every deal with both sizes known,
    in the comparison's currency (:func:`cib_sim.charts.deals_scatter_frame`); ``n_deals``: deals
    in the library; ``note``: a caveat to show, or ``""``."""

    terms: dict
    comparison: Any
    points: pd.DataFrame
    n_deals: int
    note: str = ""


def real_deals(terms: dict, k_nearest: int = 5) -> RealDeals:
    """Compare headline terms with the INDIGO deals, converting deals in other currencies into
    the scenario's; for a currency with no known rate, only deals in that currency are compared
    on money (and drawn)."""
    from cib_sim.charts import deals_scatter_frame
    from cib_sim.deals import USD_PER_UNIT, compare_to_deals, load_deals

    deals = load_deals()
    currency = str(terms.get("currency") or "GBP").upper()
    terms = {**terms, "currency": currency}
    mode, note = "convert", ""
    if currency not in USD_PER_UNIT:
        mode = "same"
        note = (f"There is no exchange rate for {currency}, so only deals published in {currency} are compared on "
                "money (capital, payments, capital per participant) and drawn.")
    comp = compare_to_deals(terms, deals, k_nearest=k_nearest, currency_mode=mode)
    points = deals_scatter_frame(deals, currency, mode)
    return RealDeals(terms, comp, points, len(deals), note)


# measure -> (label, kind); labels take the currency.
DEAL_MEASURE_LABELS = {
    "capital": ("Capital committed ({cur})", "money"),
    "max_outcome_payment": ("Maximum outcome payments ({cur})", "money"),
    "outcome_to_capital": ("Max outcome payments ÷ capital (x)", "x"),
    "participants": ("Participants", "count"),
    "capital_per_participant": ("Capital per participant ({cur})", "money"),
    "duration_years": ("Service duration (years)", "years"),
    "max_return": ("Maximum return (/year)", "pct"),
}


def _deal_value(v: float, kind: str, currency: str) -> str:
    if v is None or not np.isfinite(v):
        return "n/a"
    return {"money": lambda: fmt_money(v, currency), "x": lambda: f"{v:.1f}x", "count": lambda: f"{v:,.0f}",
            "years": lambda: f"{v:.1f}", "pct": lambda: f"{v:.1%}"}[kind]()


def deal_percentile_table(comparison) -> pd.DataFrame:
    """Where the scenario sits on each measure, for display: ``Measure`` (with units),
    ``This scenario`` and ``Median of real deals`` (text), ``Percentile among real deals``
    (0-100, a number so it can be drawn as a bar; None where unknown) and ``Deals compared``
    (deals with the measure known)."""
    cur = comparison.currency
    rows = []
    for _, r in comparison.percentiles.iterrows():
        label, kind = DEAL_MEASURE_LABELS.get(r["measure"], (r["measure"], "count"))
        p = float(r["percentile"])
        rows.append({
            "Measure": label.format(cur=cur),
            "This scenario": _deal_value(float(r["value"]), kind, cur),
            "Percentile among real deals": round(p, 1) if np.isfinite(p) else None,
            "Deals compared": int(r["n_deals"]),
            "Median of real deals": _deal_value(float(r["median"]), kind, cur),
        })
    return pd.DataFrame(rows)


def nearest_deals_table(comparison) -> pd.DataFrame:
    """The nearest deals by size, for display: ``Project`` (INDIGO id), ``Name``, ``Sector``,
    ``Country``, capital and maximum outcome payments in the scenario's currency (followed by the
    published amount when the deal is in another currency) and their ratio."""
    cur = comparison.currency
    n = comparison.nearest

    def money(v_cmp: float, v_own: float, own: Any) -> str:
        text = fmt_money(float(v_cmp), cur)
        if isinstance(own, str) and own != cur and np.isfinite(v_own):
            text += f" ({fmt_money(float(v_own), own)})"
        return text

    def text(v: Any) -> str:
        return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else str(v)

    rows = []
    for _, r in n.iterrows():
        cap, mop = float(r.get("capital_cmp", np.nan)), float(r.get("max_outcome_payment_cmp", np.nan))
        rows.append({
            "Project": text(r.get("project_id")),
            "Name": text(r.get("name")),
            "Sector": text(r.get("sector")),
            "Country": text(r.get("country")),
            f"Capital ({cur})": money(cap, float(r.get("capital", np.nan)), r.get("currency")),
            f"Max payments ({cur})": money(mop, float(r.get("max_outcome_payment", np.nan)), r.get("currency")),
            "Payments ÷ capital": _deal_value(mop / cap if cap > 0 else np.nan, "x", cur),
        })
    cols = ["Project", "Name", "Sector", "Country", f"Capital ({cur})", f"Max payments ({cur})", "Payments ÷ capital"]
    return pd.DataFrame(rows, columns=cols)
