"""The app's summary strip: the figures a designer watches while editing, each with its change
against the base run (the pinned scenario, same paths and seed).

Plain data (no Streamlit): :func:`strip_cards` returns the cards; :func:`strip_html` draws them
as one compact row for the app to keep in view at the top of the page.
"""

from __future__ import annotations

import html
import math
import weakref
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


_LOOKUPS: dict[int, tuple] = {}


def _lookup(summary: pd.DataFrame) -> tuple[dict, dict]:
    """``{(group, name, metric): value}`` and ``{(group, metric): first value}`` of a summary,
    built once per table (a few recent tables are remembered, by identity)."""
    hit = _LOOKUPS.get(id(summary))
    if hit is not None and hit[0]() is summary:
        return hit[1]
    full, first = {}, {}
    for g, n, m, v in zip(summary["group"], summary["name"], summary["metric"], summary["value"]):
        full[(g, n, m)] = float(v)
        first.setdefault((g, m), float(v))
    if len(_LOOKUPS) > 16:
        _LOOKUPS.clear()
    _LOOKUPS[id(summary)] = (weakref.ref(summary), (full, first))
    return full, first


def value_of(summary: pd.DataFrame | None, group: str, name: str | None, metric: str) -> float:
    """One value of a :meth:`Results.summary` table (NaN when absent); ``name`` None: the first."""
    if summary is None:
        return math.nan
    full, first = _lookup(summary)
    return first.get((group, metric), math.nan) if name is None else full.get((group, name, metric), math.nan)


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
        # One card a tranche: P(loss) and median IRR, coloured by the change in P(loss).
        p, irr = value_of(summary, "tranche", t, "prob_loss"), value_of(summary, "tranche", t, "irr_p50")
        p0 = value_of(base, "tranche", t, "prob_loss") if base is not None else math.nan
        i0 = value_of(base, "tranche", t, "irr_p50") if base is not None else math.nan
        dp, di = _delta(p, p0, "prob", currency), _delta(irr, i0, "pct", currency)
        delta = None
        if base is not None and (dp or di):
            if (dp or "").startswith("no change") and (di or "").startswith("no change"):
                delta = "no change vs base"
            else:
                delta = " · ".join(x.replace(" vs base", "") for x in (dp or "n/a", di or "n/a")) + " vs base"
        good = None if not dp or dp.startswith("no change") else p < p0
        cards.append(Card(f"{t}: P(loss) · median IRR", f"{_fmt(p, 'prob', currency)} · {_fmt(irr, 'pct', currency)}",
                          delta, good, "Share of paths where the tranche gets back less than it put in · median over "
                          "paths of its IRR per year"))
    gross = value_of(summary, "contract", None, "outcome_payments_mean")
    rebates = sum(v for (g, _, m), v in _lookup(summary)[0].items() if g == "commissioner" and m == "rebate_mean")
    net = f" (net {fmt_money(gross - rebates, currency)})" if rebates > 0.5 else ""
    card("Payments expected" + (" (net of rebates)" if net else ""), "contract", None, "outcome_payments_mean", "money", None,
         "Mean over paths of all commissioners' outcome payments (gross; rebates of cash above the caps come back to "
         "them)", net)
    card("Payments, 95th pct", "contract", None, "outcome_payments_p95", "money", None,
         "Payers' bad case: 1 path in 20 pays more")
    card("Value for money", "contract", None, "value_for_money", "x", True,
         "Fiscal value of the outcomes above the baseline ÷ outcome payments (see Results)")
    return cards


def strip_html(cards: list[Card], note: str = "", stale: bool = False) -> str:
    """The cards as one row of small boxes (HTML; the app keeps it in view with CSS)."""
    boxes = []
    for c in cards:
        colour = {True: "#1a7f37", False: "#cf222e", None: "#57606a"}[c.good]
        delta = f'<div class="cib-delta" style="color:{colour}">{html.escape(c.delta)}</div>' if c.delta else ""
        boxes.append(
            f'<div class="cib-card" title="{html.escape(c.help)}"><div class="cib-label">{html.escape(c.label)}</div>'
            f'<div class="cib-value">{html.escape(c.value)}</div>{delta}</div>')
    tail = f'<div class="cib-note{" cib-stale" if stale else ""}">{html.escape(note)}</div>' if note else ""
    return f'<div class="cib-strip">{"".join(boxes)}</div>{tail}'


STRIP_CSS = """
<style>
div:has(> .st-key-summary_strip) {position: sticky; top: 3.75rem; z-index: 990; background-color: white;}
.st-key-summary_strip {background-color: white; padding: 0.3rem 0 0.9rem 0; border-bottom: 1px solid #d0d7de;}
[data-testid="stMainBlockContainer"] {padding-top: 4rem;}
.cib-title {font-size: 1.7rem; font-weight: 700; margin: 0;}
.cib-strip {display: flex; flex-wrap: wrap; gap: 0.4rem;}
.cib-card {border: 1px solid #d0d7de; border-radius: 0.4rem; padding: 0.15rem 0.5rem; min-width: 7rem; max-width: 16rem;}
.cib-label {font-size: 0.7rem; color: #57606a; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;}
.cib-value {font-size: 1rem; font-weight: 600; white-space: nowrap;}
.cib-delta {font-size: 0.72rem; white-space: nowrap;}
.cib-note {font-size: 0.75rem; color: #57606a; margin-top: 0.2rem; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis;}
.cib-stale {color: #9a6700; font-weight: 600;}
</style>
"""
