"""The app's summary strip: the figures a designer watches while editing, each with its change
against the base run (the pinned scenario, same paths and seed).

Plain data (no Streamlit): :func:`strip_cards` returns the cards; :func:`strip_html` draws them
as one compact row for the app to keep in view at the top of the page.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import pandas as pd

from cib_sim.charts.style import fmt_money


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    delta: str | None = None  # "+1.2 pp vs base"
    good: bool | None = None  # is the change good news (green) or bad (red)? None: neutral
    help: str = ""


def value_of(summary: pd.DataFrame | None, group: str, name: str | None, metric: str) -> float:
    """One value of a :meth:`Results.summary` table (NaN when absent); ``name`` None: the first."""
    if summary is None:
        return math.nan
    hit = summary[(summary.group == group) & (summary.metric == metric)]
    if name is not None:
        hit = hit[hit.name == name]
    return float(hit.value.iloc[0]) if len(hit) else math.nan


def _fmt(v: float, kind: str, cur: str) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    return {"money": lambda: fmt_money(v, cur), "x": lambda: f"{v:.2f}x", "prob": lambda: f"{v:.1%}",
            "pct": lambda: f"{v:.1%}"}[kind]()


def _delta(now: float, was: float, kind: str, cur: str) -> str | None:
    if not (math.isfinite(now) and math.isfinite(was)):
        return None
    d = now - was
    tol = {"money": 0.5, "x": 0.005, "prob": 0.0005, "pct": 0.0005}[kind]
    if abs(d) < tol:
        return "no change vs base"
    sign = "+" if d > 0 else "−"
    if kind == "money":
        return f"{sign}{fmt_money(abs(d), cur)} vs base"
    if kind == "x":
        return f"{sign}{abs(d):.2f}x vs base"
    return f"{sign}{abs(d) * 100:.1f} pp vs base"


def strip_cards(summary: pd.DataFrame, base: pd.DataFrame | None, tranches: list[str], currency: str) -> list[Card]:
    """Per capital tranche: P(loss) and median IRR; payments: expected (gross, and net of
    rebates) and 95th percentile; value for money. ``base``: the base run's summary (or None)."""
    cards: list[Card] = []

    def card(label: str, group: str, name: str | None, metric: str, kind: str, up_is_good: bool | None, help_: str,
             extra: str = "") -> None:
        now = value_of(summary, group, name, metric)
        was = value_of(base, group, name, metric) if base is not None else math.nan
        delta = _delta(now, was, kind, currency) if base is not None else None
        good = None
        if delta and not delta.startswith("no change") and up_is_good is not None:
            good = (now > was) == up_is_good
        cards.append(Card(label, _fmt(now, kind, currency) + extra, delta, good, help_))

    for t in tranches:
        card(f"{t}: P(loss)", "tranche", t, "prob_loss", "prob", False,
             "Share of paths where the tranche gets back less than it put in")
        card(f"{t}: median IRR", "tranche", t, "irr_p50", "pct", True, "Median over paths of the tranche's IRR per year")
    gross = value_of(summary, "contract", None, "outcome_payments_mean")
    rebates = summary[(summary.group == "commissioner") & (summary.metric == "rebate_mean")].value.sum()
    net = f" (net of rebates {fmt_money(gross - rebates, currency)})" if rebates > 0.5 else ""
    card("Payments expected", "contract", None, "outcome_payments_mean", "money", None,
         "Mean over paths of all commissioners' outcome payments (gross; rebates of cash above the caps come back to "
         "them)", net)
    card("Payments, 95th pct", "contract", None, "outcome_payments_p95", "money", None,
         "Payers' bad case: 1 path in 20 pays more")
    card("Value for money", "contract", None, "value_for_money", "x", True,
         "Fiscal value of the outcomes above the baseline ÷ outcome payments (see Results)")
    return cards


def strip_html(cards: list[Card], note: str = "") -> str:
    """The cards as one row of small boxes (HTML; the app keeps it in view with CSS)."""
    boxes = []
    for c in cards:
        colour = {True: "#1a7f37", False: "#cf222e", None: "#57606a"}[c.good]
        delta = f'<div class="cib-delta" style="color:{colour}">{html.escape(c.delta)}</div>' if c.delta else ""
        boxes.append(
            f'<div class="cib-card" title="{html.escape(c.help)}"><div class="cib-label">{html.escape(c.label)}</div>'
            f'<div class="cib-value">{html.escape(c.value)}</div>{delta}</div>')
    tail = f'<div class="cib-note">{html.escape(note)}</div>' if note else ""
    return f'<div class="cib-strip">{"".join(boxes)}</div>{tail}'


STRIP_CSS = """
<style>
.st-key-summary_strip {position: sticky; top: 3.75rem; z-index: 990; background: var(--background-color, #fff);
  background-color: white; padding: 0.3rem 0 0.4rem 0; border-bottom: 1px solid #d0d7de;}
.cib-strip {display: flex; flex-wrap: wrap; gap: 0.4rem;}
.cib-card {border: 1px solid #d0d7de; border-radius: 0.4rem; padding: 0.2rem 0.55rem; min-width: 8.5rem;}
.cib-label {font-size: 0.72rem; color: #57606a; white-space: nowrap;}
.cib-value {font-size: 1.05rem; font-weight: 600; white-space: nowrap;}
.cib-delta {font-size: 0.72rem; white-space: nowrap;}
.cib-note {font-size: 0.75rem; color: #57606a; margin-top: 0.2rem;}
</style>
"""
