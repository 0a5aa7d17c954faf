"""Results as display tables: investors, commissioners, contract measures, base against edited."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cib_sim.charts import fmt_money
from cib_sim.scenario import Scenario


def summary_wide(summary: pd.DataFrame, group: str) -> pd.DataFrame:
    """One row per entity of ``group`` (tranche, commissioner ...), one column per metric."""
    g = summary[summary["group"] == group]
    if g.empty:
        return pd.DataFrame()
    order = list(dict.fromkeys(g["name"]))
    wide = g.pivot(index="name", columns="metric", values="value").reindex(order)
    wide.index.name = group
    return wide


def _pct(v: float, digits: int = 1) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.{digits}%}"


def _x(v: float) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.2f}x"


def _trio(a: float, b: float, c: float, f) -> str:
    return f"{f(a)} · {f(b)} · {f(c)}"


def tranche_table(summary: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """The investors' headline table, as display text: one row per capital tranche, in
    seniority order, with P(loss), expected loss and the 5th · 50th · 95th percentile IRR and
    multiple of money."""
    cur = scenario.currency
    w = summary_wide(summary, "tranche")
    kinds = {t.name: t.kind for t in scenario.tranches}
    commit = {t.name: t.commitment for t in scenario.tranches}
    rows = []
    for n, r in w.iterrows():
        rows.append({
            "Tranche": f"{n} ({kinds.get(n, '').replace('_', ' ')})",
            f"Drawn, mean ({cur})": f"{fmt_money(r['capital_drawn_mean'], cur)} of {fmt_money(commit.get(n, np.nan), cur)}",
            "P(loss)": _pct(r["prob_loss"]),
            f"Expected loss ({cur})": fmt_money(r["expected_loss"], cur),
            "IRR /year: p5 · p50 · p95": _trio(r["irr_p5"], r["irr_p50"], r["irr_p95"], _pct),
            "Multiple: p5 · p50 · p95": _trio(r["multiple_p5"], r["multiple_p50"], r["multiple_p95"], _x),
        })
    return pd.DataFrame(rows)


def commissioner_table(summary: pd.DataFrame, currency: str = "GBP") -> pd.DataFrame:
    """The payers' headline table, as display text: expected and 95th percentile spend, cost per
    outcome, value for money, chance of reaching a cap, and money lost to withdrawal."""
    w = summary_wide(summary, "commissioner")
    rows = []
    for n, r in w.iterrows():
        rows.append({
            "Commissioner": n,
            f"Expected spend ({currency})": fmt_money(r["paid_mean"], currency),
            f"95th pct spend ({currency})": fmt_money(r["paid_p95"], currency),
            f"Cost per outcome ({currency})": fmt_money(r["cost_per_outcome"], currency),
            "Value for money": _x(r["value_for_money"]),
            "P(cap reached)": _pct(r["prob_cap_hit"]),
            f"Rebate, mean ({currency})": fmt_money(r["rebate_mean"], currency),
        })
    return pd.DataFrame(rows)


def contract_metrics(summary: pd.DataFrame) -> dict[str, float]:
    """The contract-level summary values: ``metric -> value``."""
    g = summary[summary["group"] == "contract"]
    return dict(zip(g["metric"], g["value"].astype(float)))


COMPARE_METRICS = (
    ("contract", "outcome_payments_mean", "Expected outcome payments", "money"),
    ("contract", "outcome_payments_p95", "95th pct outcome payments", "money"),
    ("contract", "value_for_money", "Value for money (fiscal value ÷ paid)", "x"),
    ("contract", "prob_delivery_stopped", "P(delivery stopped for lack of funds)", "prob"),
    ("tranche", "prob_loss", "P(loss)", "prob"),
    ("tranche", "multiple_p50", "Median multiple", "x"),
    ("tranche", "irr_p50", "Median IRR", "pct"),
    ("tranche", "irr_p5", "5th pct IRR", "pct"),
    ("commissioner", "paid_mean", "Expected spend", "money"),
    ("commissioner", "paid_p95", "95th pct spend", "money"),
)


def comparison_table(base: pd.DataFrame, edited: pd.DataFrame, currency: str = "GBP") -> pd.DataFrame:
    """Headline measures of two summaries side by side: ``Measure``, ``Base``, ``Edited``,
    ``Change`` as display text, plus the raw ``base``/``edited`` values."""
    def fmt(v: float, kind: str) -> str:
        if v is None or not np.isfinite(v):
            return "n/a"
        return {"money": fmt_money(v, currency), "x": f"{v:.2f}x", "prob": f"{v:.1%}", "pct": f"{v:.1%}"}[kind]

    def fmt_delta(a: float, b: float, kind: str) -> str:
        if not (np.isfinite(a) and np.isfinite(b)):
            return "n/a"
        dlt = b - a
        if abs(dlt) < 1e-12:
            return "–"
        sign = "+" if dlt > 0 else "−"
        if kind == "money":
            return sign + fmt_money(abs(dlt), currency)
        if kind == "x":
            return f"{sign}{abs(dlt):.2f}x"
        return f"{sign}{abs(dlt) * 100:.1f} pp"

    rows = []
    for group, metric, label, kind in COMPARE_METRICS:
        b = base[(base.group == group) & (base.metric == metric)]
        e = edited[(edited.group == group) & (edited.metric == metric)]
        names = list(dict.fromkeys(list(b["name"]) + list(e["name"])))
        for name in names:
            bv = b.loc[b["name"] == name, "value"]
            ev = e.loc[e["name"] == name, "value"]
            bv = float(bv.iloc[0]) if len(bv) else np.nan
            ev = float(ev.iloc[0]) if len(ev) else np.nan
            who = "" if group == "contract" else f"{name}: "
            rows.append({"Measure": who + label, "Base": fmt(bv, kind), "Edited": fmt(ev, kind),
                         "Change": fmt_delta(bv, ev, kind), "base": bv, "edited": ev})
    return pd.DataFrame(rows)
