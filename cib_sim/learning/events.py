"""Per-path events of a simulated contract, for early warning: a loss, a threshold missed, a cap
hit, delivery stopped, each by path (:func:`path_events`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cib_sim.engine.cohorts import cohort_clocks
from cib_sim.engine.delivery import unit_plan
from cib_sim.engine.metrics import LOSS_RTOL
from cib_sim.engine.payments import improvement, measured_improvement
from cib_sim.engine.reduce import investor_flows
from cib_sim.learning.observed import unit_names
from cib_sim.scenario import Scenario

GROUP_ORDER = ("tranche", "guarantee", "outcome", "commissioner", "contract")
"""Order of the early-warning table: investors first, then thresholds, caps and delivery."""


def _event_key(group: str, name: str, event: str) -> str:
    return f"{group}|{name}|{event}"


def _cohort_improvement(o, flows: dict[str, np.ndarray], u: int, k: int, lo: int, hi: int) -> np.ndarray:
    """(N,) improvement of the participants unit u enrolled in periods lo..hi-1 on outcome k
    (NaN where nobody enrolled), as the contract measures it (against the baseline: a control
    group's drawn rate is not seen here)."""
    a = flows["achieved"][:, lo:hi, u, k].sum(axis=1)
    n = flows["enrolled"][:, lo:hi, u].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, a / np.where(n > 0, n, 1.0), 0.0)
    if o.kind == "count" or o.payment_basis == "lump_sum":
        # Against the baseline: a control group's draw is not in the flows.
        imp = measured_improvement(rate, o.baseline_events, o.improvement, o.kind == "count")
        return np.where(n > 0, imp, np.nan)
    return np.where(n > 0, improvement(rate, o.baseline_rate, o.improvement), np.nan)


def _at_least(x: np.ndarray, threshold: float) -> np.ndarray:
    return np.where(np.isnan(x), np.nan, x >= threshold - 1e-12)


def path_events(s: Scenario, flows: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per path (rows), whether each early-warning event happens (columns ``group|name|event``,
    NaN where the event does not apply to a path, e.g. a loss on a tranche never drawn):

    - each payment threshold: per assessment cohort when the outcome has ``cohort_years``,
      else for all cohorts together; each tier of a tiered outcome; the overall threshold;
    - each commissioner's total cap and annual budget being reached;
    - each capital tranche losing money (as :func:`cib_sim.engine.metrics.loss_statistics`), each
      guarantee being called; delivery stopping for lack of funds.
    """
    h = s.horizon
    T = flows["cash"].shape[1]
    cols: dict[str, np.ndarray] = {}
    units = unit_names(s)
    plan = unit_plan(s)
    clocks = cohort_clocks(s)
    for k, o in enumerate(s.outcomes):
        if o.payment_basis == "rate_card":
            continue
        levels: list[tuple[str, float]] = []
        if o.payment_basis == "above_baseline" and o.threshold > 0:
            levels.append((f"meets the {o.threshold:.3g} threshold", o.threshold))
        for tier in o.tiers:
            levels.append((f"reaches the {tier.min_improvement:.3g} tier", tier.min_improvement))
        for step in o.schedule:
            levels.append((f"reaches the {step.min_improvement:.3g} step", step.min_improvement))
        for u, uname in enumerate(units):
            start, end = int(plan.start[u]), int(plan.end[u])
            label = o.name if len(units) == 1 else f"{o.name} / {uname}"
            if o.cohort_years is not None:
                for j, (lo, last) in enumerate(clocks[k][u].bounds(), start=1):
                    hi = last + 1
                    x = _cohort_improvement(o, flows, u, k, lo, hi)
                    for text, thr in levels:
                        cols[_event_key("outcome", label, f"cohort {j} (periods {lo}-{hi - 1}) {text}")] = _at_least(x, thr)
            else:
                x = _cohort_improvement(o, flows, u, k, start, end)
                for text, thr in levels:
                    cols[_event_key("outcome", label, f"all cohorts together {text}")] = _at_least(x, thr)
            if o.overall_threshold is not None:
                x = _cohort_improvement(o, flows, u, k, start, end)
                cols[_event_key("outcome", label, f"meets the {o.overall_threshold:.3g} overall threshold")] = _at_least(
                    x, o.overall_threshold)
    paid = flows["commissioner_paid"]  # (N, T, C)
    ppy = h.periods_per_year
    n_years = -(-T // ppy)
    for c, com in enumerate(s.commissioners):
        if com.total_cap is not None:
            cols[_event_key("commissioner", com.name, "total cap reached")] = (
                paid[:, :, c].sum(axis=1) >= com.total_cap * (1 - 1e-6)).astype(float)
        if com.annual_budget is not None:
            yearly = np.stack([paid[:, y * ppy : (y + 1) * ppy, c].sum(axis=1) for y in range(n_years)], axis=1)
            cols[_event_key("commissioner", com.name, "annual budget reached in some year")] = (
                (yearly >= com.annual_budget * (1 - 1e-6)).any(axis=1).astype(float))
    paid_in, paid_out = (x.sum(axis=1) for x in investor_flows(flows))
    for k, t in enumerate(s.capital_tranches):
        if t.kind == "grant":
            continue
        i, o_ = paid_in[:, k], paid_out[:, k]
        cols[_event_key("tranche", t.name, "loses money")] = np.where(i > 0, (i - o_) > LOSS_RTOL * i, np.nan)
    guar = [t for t in s.tranches if t.kind == "guarantee"]
    for g, t in enumerate(guar):
        cols[_event_key("guarantee", t.name, "is called")] = (flows["guarantee_call"][:, :, g].sum(axis=1) > 0).astype(float)
    cols[_event_key("contract", s.name, "delivery stops for lack of funds")] = (flows["stop_period"] < T).astype(float)
    return pd.DataFrame(cols)
