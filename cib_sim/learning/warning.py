"""Early warning: per-path events of a nowcast (losses, thresholds missed, caps hit, delivery
stopped), their probabilities, and how they moved since the last report."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from cib_sim.learning.events import GROUP_ORDER
from cib_sim.learning.nowcast import nowcast
from cib_sim.learning.observed import Observed
from cib_sim.learning.posterior import DEFAULT_DRAWS, Posterior
from cib_sim.results import Results
from cib_sim.scenario import Scenario


def event_probabilities(r: Results) -> pd.DataFrame:
    """Probabilities of the early-warning events of a nowcast (or of :func:`prior_run`):
    group, name, event, probability, se (Monte Carlo standard error)."""
    ev: pd.DataFrame = r.extra["events"]
    post: Posterior | None = r.extra.get("posterior")
    ess = post.ess if post is not None and post.space.dim > 0 else math.inf
    rows = []
    for key in ev.columns:
        group, name, event = key.split("|", 2)
        x = ev[key].to_numpy(dtype=float)
        valid = ~np.isnan(x)
        n = int(valid.sum())
        p = float(x[valid].mean()) if n else math.nan
        n_eff = 1.0 / (1.0 / max(n, 1) + 1.0 / ess)
        se = math.sqrt(p * (1 - p) / n_eff) if n else math.nan
        rows.append({"group": group, "name": name, "event": event, "probability": p, "se": se})
    df = pd.DataFrame(rows, columns=["group", "name", "event", "probability", "se"])
    order = {g: i for i, g in enumerate(GROUP_ORDER)}
    df["_o"] = df["group"].map(order).fillna(len(order))
    return df.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)


def early_warning(
    scenario: Scenario,
    observed: Any,
    previous_observed: Any = None,
    n_paths: int = 4096,
    seed: int = 1,
    n_draws: int = DEFAULT_DRAWS,
    results: Results | None = None,
    previous_results: Results | None = None,
    prior_results: Results | None = None,
) -> pd.DataFrame:
    """The probability, now, of each threshold and cap being met, each tranche losing money,
    each guarantee being called and delivery stopping, and how it moved.

    Columns: group, name, event; ``prior`` (before any data: the scenario as written);
    ``previous`` (given ``previous_observed``, else NaN) and ``now``; ``change`` (now minus
    previous, or minus the prior when there is no previous report); ``se`` (Monte Carlo standard
    error of ``now``; a change smaller than about 2 se is noise). All runs share ``seed``
    (common random numbers). ``attrs``: ``as_of``, ``previous_as_of``.

    ``results`` / ``previous_results`` / ``prior_results``: nowcasts already run (of
    ``observed``, ``previous_observed`` and of no data), so they are not run again.
    """
    now_r = results if results is not None else nowcast(scenario, observed, n_paths=n_paths, seed=seed, n_draws=n_draws)
    prior_r = prior_results if prior_results is not None else nowcast(scenario, None, n_paths=n_paths, seed=seed, n_draws=n_draws)
    prev_r = previous_results
    if prev_r is None and previous_observed is not None:
        prev_r = nowcast(scenario, previous_observed, n_paths=n_paths, seed=seed, n_draws=n_draws)
    now = event_probabilities(now_r).rename(columns={"probability": "now"})
    prior = event_probabilities(prior_r)[["group", "name", "event", "probability"]].rename(columns={"probability": "prior"})
    df = prior.merge(now, on=["group", "name", "event"], how="right")
    if prev_r is not None:
        prev = event_probabilities(prev_r)[["group", "name", "event", "probability"]].rename(columns={"probability": "previous"})
        df = df.merge(prev, on=["group", "name", "event"], how="left")
        df["change"] = df["now"] - df["previous"]
    else:
        df["previous"] = math.nan
        df["change"] = df["now"] - df["prior"]
    df = df[["group", "name", "event", "prior", "previous", "now", "change", "se"]]
    df.attrs["as_of"] = now_r.extra["as_of"]
    df.attrs["previous_as_of"] = prev_r.extra["as_of"] if prev_r is not None else None
    return df


def headline(r: Results) -> pd.DataFrame:
    """The headline risk figures of a run: per tranche P(loss), expected loss and median
    multiple; total outcome payments (mean, 5%, 50%, 95%); P(delivery stops). Columns: group,
    name, metric, value, unit."""
    s = r.scenario
    sm = r.summary()
    keep = {
        "tranche": ["prob_loss", "expected_loss", "multiple_p50"],
        "contract": ["outcome_payments_mean", "prob_delivery_stopped"],
        "commissioner": ["paid_mean", "prob_cap_hit"],
    }
    parts = [sm[(sm.group == g) & sm.metric.isin(m)] for g, m in keep.items()]
    total = r.path["commissioner_paid"].sum(axis=1)
    extra = pd.DataFrame([
        {"group": "contract", "name": s.name, "metric": f"outcome_payments_p{q:02d}", "value": float(np.quantile(total, q / 100)), "unit": s.currency}
        for q in (5, 50, 95)
    ])
    return pd.concat(parts + [extra], ignore_index=True)


def interval(r: Results, q: float = 0.9, what: str = "outcome_payments") -> tuple[float, float]:
    """Central ``q`` interval over paths of a total: ``outcome_payments`` (all commissioners),
    or ``tranche_out[NAME]`` style names of :meth:`Results.path_table`."""
    if what == "outcome_payments":
        x = r.path["commissioner_paid"].sum(axis=1)
    else:
        x = r.path_table()[what].to_numpy()
    lo, hi = np.quantile(x, [(1 - q) / 2, 1 - (1 - q) / 2])
    return float(lo), float(hi)


def fan_frame(r: Results, qs: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> pd.DataFrame:
    """Cumulative outcome payments over time split into observed and projected: quantiles over
    kept paths per period (``q05`` ... ``q95``), ``period``, ``period_start``, ``observed`` (the
    cumulative amount received for reported periods, NaN after) and ``phase``
    (``observed``/``projected``)."""
    df = r.fan("commissioner_paid", qs).reset_index()
    K = r.extra.get("as_of", 0)
    obs: Observed | None = r.extra.get("observed")
    df.insert(0, "period", np.arange(len(df)))
    df["phase"] = np.where(df["period"] < K, "observed", "projected")
    seen = np.full(len(df), np.nan)
    if obs is not None and K:
        if obs.paid is not None:
            seen[:K] = np.cumsum(obs.paid.sum(axis=1))
        else:  # payments follow from the reported outcomes: the same on every path
            seen[:K] = np.cumsum(r.kept["commissioner_paid"][0, :K].sum(axis=1))
    df["observed"] = seen
    df["currency"] = r.scenario.currency
    return df


