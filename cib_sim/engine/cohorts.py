"""Assessment cohorts: which enrolment periods of a delivery unit are assessed together.

A cohort of an outcome is ``cohort_years`` of one unit's enrolments (default: one period),
counted from the unit's enrolment start (``cohorts_from: enrolment_start``, the default, as
contracts number their cohorts: "cohort 1 is those enrolled in the first two years") or from the
contract start (``contract_start``), and cut at the unit's last enrolment period. A cohort is
verified ``lag`` after the period it closes.

The one place the engine, the learning section and the headline terms take cohorts from (the
reference model writes the same rule again as plain loops, on purpose, to cross-check it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cib_sim.engine.delivery import unit_plan
from cib_sim.scenario.model import Scenario


@dataclass(frozen=True)
class CohortClock:
    """The cohorts of one outcome at one unit, in periods.

    ``group``: periods per cohort; ``origin``: a period where a cohort begins (the unit's first
    enrolment period, or 0 when counted from the contract start); ``start``/``end``: the unit's
    first enrolment period and its first period with no enrolment."""

    group: int
    origin: int
    start: int
    end: int

    def first(self, t: int) -> int:
        """First enrolment period of the cohort holding enrolment period ``t`` (within the window)."""
        return max(self.start, t - (t - self.origin) % self.group)

    def close(self, t: np.ndarray | int) -> np.ndarray | int:
        """Period in which the cohort holding enrolment period ``t`` (int or array) closes: its
        last period, or the unit's last enrolment period if that comes first."""
        last = t - (t - self.origin) % self.group + self.group - 1
        return np.minimum(last, self.end - 1) if isinstance(t, np.ndarray) else min(last, self.end - 1)

    def closes_at(self, t: int) -> bool:
        """Whether a cohort with enrolment periods in the unit's window closes in period ``t``."""
        return self.start <= t < self.end and self.close(t) == t

    def bounds(self) -> list[tuple[int, int]]:
        """``(first, last)`` enrolment periods of every cohort in the unit's window, in order."""
        out = []
        t = self.start
        while t < self.end:
            last = int(self.close(t))
            out.append((t, last))
            t = last + 1
        return out


def cohort_clocks(s: Scenario) -> list[list[CohortClock]]:
    """``clocks[k][u]``: the cohorts of outcome ``k`` at delivery unit ``u``."""
    h = s.horizon
    plan = unit_plan(s)
    out = []
    for o in s.outcomes:
        group = max(1, h.to_periods(o.cohort_years)) if o.cohort_years is not None else 1
        row = []
        for start, end in zip(plan.start, plan.end):
            origin = int(start) if o.cohorts_from == "enrolment_start" else 0
            row.append(CohortClock(group, origin, int(start), int(end)))
        out.append(row)
    return out
