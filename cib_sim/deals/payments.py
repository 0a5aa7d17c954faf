"""How real impact bonds paid: INDIGO's actual outcome payments, per project, by month.

Reads ``projects_outcome_payments.csv`` (shipped unmodified under ``cib_sim/data/indigo/``; see
the README there for the source and citation).

Public functions:

- :func:`load_payments` -- one tidy row per payment record (project, plan, metric, period start
  and end, payer, type ``Actual`` / ``Planned``, amount in the project's currency).
- :func:`payment_series` -- per project with an actual payment series, the cumulative actual
  payments by month since the first service date, and their share of the project's maximum
  outcome payment.
- :func:`payment_projects` -- the projects that have such a series, with their totals.
- :func:`shares_at` -- the observed cumulative share of the maximum by given months (NaN where
  the record does not reach that month).

Rules, in one place:

- **Month 0** is the month service provision started (INDIGO's "Start date of service
  provision", ``YYYY-MM``); when that is blank, the month the first actual payment period
  starts. ``month m`` means "after m whole months of service": the cumulative payment *by month
  m* counts every actual payment whose period **ends** in months 0 .. m-1 since the start.
  INDIGO gives the period a payment is for, not the date it was paid; a payment is counted at the
  end of its period (it cannot have been paid for outcomes not yet over). A period that ends
  before month 0 (a few records start a month before service) counts from month 1.
- Only ``Type = Actual`` rows count; ``Planned`` rows are kept in :func:`load_payments` for
  reference. Rows with no amount are dropped; zero amounts are kept (they are periods in which
  nothing was paid).
- A project has a **payment series** when its maximum outcome payment is known and its actual
  payments fall in at least two distinct periods (a single lump over several years, as for the
  three Bristol/Lewisham care-leaver projects ``INDIGO-POJ-0121..0123``, says nothing about the
  timing and is left out).
- The record **reaches** month ``last_month`` = (month index of the last actual period's end)
  + 1: the cumulative share by any month up to it is observed; later months are unknown (the
  project had not published further payments by the May 2025 snapshot), never assumed zero.
- ``share`` is the cumulative actual payment over the project's maximum potential outcome
  payment (``load_deals().max_outcome_payment``). It can exceed 1 where a project paid above its
  stated maximum (``INDIGO-POJ-0176`` paid 109%).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import pandas as pd

from cib_sim.deals.indigo import (
    _clean_text,
    _numbers,
    _read_csv,
    _year_month,
    load_deals,
)

__all__ = ["HORIZON_MONTHS", "load_payments", "payment_projects", "payment_series", "shares_at"]

#: The months at which the calibration compares cumulative shares with simulated ones.
HORIZON_MONTHS: tuple[int, ...] = (12, 24, 36, 48)

_PAY_COLS = {
    "project_id": "Project ID",
    "plan": "Outcome Payment Plan Id - (Value)",
    "metric_id": "Outcome Metric Id - (Value)",
    "period_start": "Period - Start - (Value)",
    "period_end": "Period - End - (Value)",
    "payer": "Payer Organisation ID - (Value)",
    "recipient": "Recipient Organisation ID - (Value)",
    "type": "Type - (Value)",
    "currency": "Payments - Currency - (Value)",
    "amount": "Payments - Amount - (Value)",
    "amount_usd": "Payments - Amount USD - (Value)",
    "notes": "Notes",
}


@lru_cache(maxsize=1)
def _payments_cached() -> pd.DataFrame:
    raw = _read_csv("projects_outcome_payments.csv")
    out = pd.DataFrame({k: _clean_text(raw[v]) for k, v in _PAY_COLS.items() if k not in ("amount", "amount_usd")})
    out["amount"] = _numbers(raw[_PAY_COLS["amount"]])
    out["amount_usd"] = _numbers(raw[_PAY_COLS["amount_usd"]])
    for side in ("start", "end"):
        y, m = _year_month(raw[_PAY_COLS[f"period_{side}"]])
        out[f"{side}_ym"] = (y * 12 + (m.fillna(1) - 1)).astype("float64")  # months since year 0
    cols = ["project_id", "plan", "metric_id", "period_start", "period_end", "start_ym", "end_ym", "payer",
            "recipient", "type", "currency", "amount", "amount_usd", "notes"]
    return out[cols].reset_index(drop=True)


def load_payments() -> pd.DataFrame:
    """Every outcome-payment record (2,232 rows in the May 2025 snapshot), tidy.

    Columns: ``project_id, plan, metric_id, period_start, period_end`` (``YYYY-MM`` text),
    ``start_ym, end_ym`` (the same as months since year 0: year x 12 + month - 1), ``payer,
    recipient`` (``INDIGO-ORG-nnnn`` ids), ``type`` (``Actual``, ``Planned`` or NaN), ``currency,
    amount, amount_usd`` (NaN where blank), ``notes``.
    """
    return _payments_cached().copy()


def _start_month(deals: pd.DataFrame, actual: pd.DataFrame) -> pd.Series:
    """Month 0 of each project (months since year 0): service start, else first actual period."""
    y, m = _year_month(deals.set_index("project_id")["service_start"])
    start = (y * 12 + (m.fillna(1) - 1)).astype("float64")
    first = actual.groupby("project_id")["start_ym"].min()
    return start.reindex(first.index).fillna(first)


@lru_cache(maxsize=1)
def _series_cached() -> tuple[pd.DataFrame, pd.DataFrame]:
    pay = _payments_cached()
    deals = load_deals()
    actual = pay[(pay["type"] == "Actual") & pay["amount"].notna() & pay["end_ym"].notna()].copy()
    mop = deals.set_index("project_id")["max_outcome_payment"]
    periods = actual.groupby("project_id")["end_ym"].nunique()
    keep = [p for p in periods.index if periods[p] >= 2 and np.isfinite(mop.get(p, np.nan)) and mop[p] > 0]
    actual = actual[actual["project_id"].isin(keep)]
    start = _start_month(deals, actual)
    actual["month"] = np.maximum(actual["end_ym"] - actual["project_id"].map(start) + 1, 1).astype(int)

    rows = []
    info = []
    names = deals.set_index("project_id")
    for pid, g in actual.groupby("project_id", sort=True):
        by_month = g.groupby("month")["amount"].sum()
        last = int(by_month.index.max())
        months = np.arange(0, last + 1)
        cum = by_month.reindex(months, fill_value=0.0).cumsum().to_numpy()
        total = float(mop[pid])
        rows.append(pd.DataFrame({"project_id": pid, "month": months, "paid": cum, "share": cum / total}))
        s = int(start[pid])
        d = names.loc[pid]
        info.append({
            "project_id": pid,
            "name": d["name"],
            "stage": d["stage"],
            "start": f"{s // 12:04d}-{s % 12 + 1:02d}",
            "start_basis": "service_start" if isinstance(d["service_start"], str) else "first_payment",
            "last_month": last,
            "n_periods": int(g["end_ym"].nunique()),
            "n_payers": int(g["payer"].nunique()),
            "paid": float(cum[-1]),
            "max_outcome_payment": total,
            "final_share": float(cum[-1] / total),
            "currency": d["currency"],
            "capital": d["capital"],
            "participants": d["participants"],
            "duration_years": d["duration_years"],
        })
    series = pd.concat(rows, ignore_index=True)
    projects = pd.DataFrame(info)
    return series, projects


def payment_series(project_id: str | None = None) -> pd.DataFrame:
    """Cumulative actual payments by month since the first service date.

    One row per project and month ``0 .. last_month``: ``project_id, month, paid`` (cumulative, in
    the project's currency), ``share`` (of its maximum outcome payment). With ``project_id``, that
    project's rows only (``KeyError`` if it has no payment series). See the module's rules.
    """
    series, _ = _series_cached()
    if project_id is None:
        return series.copy()
    out = series[series["project_id"] == project_id]
    if out.empty:
        raise KeyError(f"no actual payment series for {project_id!r}")
    return out.reset_index(drop=True)


def payment_projects() -> pd.DataFrame:
    """The projects with an actual payment series (28 in the May 2025 snapshot), one row each:
    ``project_id, name, stage, start`` (month 0, ``YYYY-MM``), ``start_basis``, ``last_month``
    (months the record reaches), ``n_periods, n_payers, paid, max_outcome_payment, final_share``
    (share by ``last_month``), ``currency, capital, participants, duration_years``."""
    _, projects = _series_cached()
    return projects.copy()


def shares_at(project_id: str, months: Iterable[int] = HORIZON_MONTHS) -> dict[int, float]:
    """Observed cumulative share of the maximum by each month; NaN beyond the record's reach."""
    s = payment_series(project_id)
    last = int(s["month"].max())
    by = dict(zip(s["month"], s["share"]))
    return {int(m): (float(by[int(m)]) if 0 <= m <= last else float("nan")) for m in months}
