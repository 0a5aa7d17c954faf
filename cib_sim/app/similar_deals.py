"""How similar deals actually paid (issue 13, item 5), for the app: the scenario's predicted
cumulative payments as a share of its maximum, by month, beside the real payment records of its
reference class (the INDIGO Life Chances Fund projects), and its percentile among them.

:func:`similar_deals` simulates (a few thousand paths: a fraction of a second) and shapes what the
tab shows; the app computes it only when the tab is open (and, with "Run automatically" off, on
request), and keeps it while the scenario is unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from cib_sim.deals.reference_class import how_similar_deals_paid, reference_curves
from cib_sim.scenario import Scenario

STEP_MONTHS = 6
MIN_PROJECTS = 10  # the headline month: the latest that at least this many records reach


def months_for(s: Scenario, last_observed: int, step: int = STEP_MONTHS) -> tuple[int, ...]:
    """Months to compare: every ``step`` months (whole periods of the scenario) up to the end of
    its horizon or of the longest real record, whichever comes first."""
    per = 12 // s.horizon.periods_per_year
    step = max(step, per) // per * per
    end = min(int(round(s.horizon.years * 12)), int(last_observed))
    return tuple(range(step, end + 1, step)) or (step,)


def headline_row(fan: pd.DataFrame, min_projects: int = MIN_PROJECTS) -> pd.Series | None:
    """The row the one-line summary quotes: the latest month that at least ``min_projects`` real
    records reach (or, if none does, the one most reach); None without any real record."""
    have = fan[fan["ref_n"] > 0]
    if have.empty:
        return None
    enough = have[have["ref_n"] >= min_projects]
    return enough.iloc[-1] if len(enough) else have.loc[have["ref_n"].idxmax()]


def _ordinal(p: float) -> str:
    n = int(round(p))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def headline_text(fan: pd.DataFrame, min_projects: int = MIN_PROJECTS) -> str:
    """One line: by month m, the scenario's median path has paid x% of its maximum: the p-th
    percentile among the n real projects whose record reaches month m."""
    row = headline_row(fan, min_projects)
    if row is None or not math.isfinite(float(row["percentile"])):
        return "No real payment record reaches this scenario's months: nothing to compare with."
    m, n = int(row["month"]), int(row["ref_n"])
    return (f"By month {m}, this scenario's median path has paid {row['q50']:.0%} of its maximum: the "
            f"{_ordinal(float(row['percentile']))} percentile among the {n} real projects whose record reaches "
            f"month {m} (they paid {row['ref_q50']:.0%} at the median; 50 is a typical deal, above it pays sooner "
            "or more than most).")


@dataclass(frozen=True)
class SimilarDeals:
    """What the tab shows: ``fan`` (:func:`cib_sim.deals.how_similar_deals_paid`), ``curves``
    (the real records, :func:`cib_sim.deals.reference_class.reference_curves`), ``text`` (one
    line), ``n_paths`` and ``seed``."""

    fan: pd.DataFrame
    curves: pd.DataFrame
    text: str
    n_paths: int
    seed: int

    def percentile_table(self) -> pd.DataFrame:
        """By month: the scenario's median share, the real projects' median, how many reach it,
        and the scenario's percentile among them (display text)."""
        f = self.fan[self.fan["ref_n"] > 0]
        return pd.DataFrame({
            "Month": f["month"].astype(int),
            "This scenario (median of paths)": f["q50"].map("{:.0%}".format),
            "Real projects (median)": f["ref_q50"].map("{:.0%}".format),
            "Projects reaching the month": f["ref_n"].astype(int),
            "Percentile among them": f["percentile"].round(0),
        }).reset_index(drop=True)


def similar_deals(s: Scenario, n_paths: int = 2000, seed: int = 1) -> SimilarDeals:
    """Simulate ``s`` (``n_paths``, ``seed``) and place it among the real payment records."""
    everything = reference_curves(tuple(range(0, 241, 1)))
    reached = everything.notna().any(axis=1)
    last = int(everything.index[reached].max()) if reached.any() else STEP_MONTHS
    months = months_for(s, last)
    fan = how_similar_deals_paid(s, months, n_paths=n_paths, seed=seed)
    curves = everything.loc[: months[-1]]
    return SimilarDeals(fan, curves, headline_text(fan), n_paths, seed)
