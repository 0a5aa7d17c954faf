"""Colours and money formats: one meaning each, used the same way in every chart."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import altair as alt
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    pass

# Colours: one meaning each, used the same way in every chart.
LOSS = "#c0392b"        # loss region and loss bars
GAIN = "#2e6f9e"        # capital back or more
BAND_OUTER = "#9ecae1"  # 5-95% band
BAND_INNER = "#4292c6"  # 25-75% band
MEDIAN = "#08306b"
CATEGORY_COLOURS = {
    "Money in": "#2a9d8f",
    "Guarantee": "#8ab17d",
    "Delivery and backbone": "#e9a23b",
    "Investors: capital back": "#4292c6",
    "Investors: return": "#08519c",
    "Excess above caps": "#9b7fbf",
    "Left in the fund": "#7f7f7f",
}
SCENARIO_COLOURS = {"Base": "#9e9e9e", "Edited": "#e76f51"}
# Series (partners, outcomes, tranches): ColorBrewer Dark2, no pure red (red means loss here).
SERIES = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
PERIOD_WORD = {"month": "month", "quarter": "quarter", "year": "year"}

CURRENCY_SYMBOL = {"GBP": "£", "USD": "$", "EUR": "€", "AUD": "A$", "CAD": "C$", "NZD": "NZ$", "JPY": "¥", "INR": "₹"}


# --------------------------------------------------------------------------------------------
# Formatting helpers


def money_scale(max_abs: float) -> tuple[float, str]:
    """The divisor and suffix that make ``max_abs`` readable: (1e6, "m"), (1e3, "k") or (1, "")."""
    if max_abs >= 1e6:
        return 1e6, "m"
    if max_abs >= 1e4:
        return 1e3, "k"
    return 1.0, ""


def fmt_money(value: float, currency: str = "GBP", digits: int | None = None) -> str:
    """``1_234_567`` -> ``£1.23m``; ``-4_500`` -> ``-£4.5k``; NaN -> ``n/a``."""
    if value is None or not math.isfinite(value):
        return "n/a"
    sym = CURRENCY_SYMBOL.get(currency, currency + " ")
    div, suffix = money_scale(abs(value))
    x = abs(value) / div
    if digits is None:
        digits = 2 if suffix == "m" else (1 if suffix == "k" and x < 100 else 0)
    sign = "-" if value < 0 else ""
    return f"{sign}{sym}{x:,.{digits}f}{suffix}"


def _money_axis(title: str, currency: str, max_abs: float, **kw) -> alt.Axis:
    """An axis whose labels read '£1.5m' (scaled to the data), titled with the currency."""
    div, suffix = money_scale(max_abs)
    sym = CURRENCY_SYMBOL.get(currency, currency + " ").replace("'", "\\'")
    digits = 1 if suffix else 0
    expr = (
        f"(datum.value < 0 ? '-' : '') + '{sym}' + format(abs(datum.value) / {div:g}, ',.{digits}f') + '{suffix}'"
    )
    return alt.Axis(title=title, labelExpr=expr, **kw)


def _frame_of(data, builder, *args, **kwargs) -> pd.DataFrame:
    """``data`` as a frame: a DataFrame as is, a Results through ``builder``."""
    if isinstance(data, pd.DataFrame):
        return data
    return builder(data, *args, **kwargs)
