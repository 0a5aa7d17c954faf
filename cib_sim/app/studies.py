"""Cases and sensitivity tables for the app, from :mod:`cib_sim.analysis` (no Streamlit here).

- Cases: named variants of the scenario (base, upside, downside and the user's own), each a set
  of shocks in the package's text form (:func:`cib_sim.analysis.parse_shock`: ``delay:1 +
  effects:0.75``, ``set:outcomes.engagement.price=1500`` for any field), run on the same paths
  and seed (common random numbers), so differences between cases are the cases, not noise.
- Sensitivity: one-way and two-way tables (:func:`cib_sim.analysis.sweep`), the tornado
  (:func:`cib_sim.analysis.tornado`) and the break-even solver (:func:`cib_sim.analysis.solve`).

Every user-facing problem comes back as text naming the row (from 1) or the input; nothing
here is meant to raise on what a user types.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from cib_sim.analysis import Shock, parse_shock
from cib_sim.analysis.fields import MULTIPLIERS, field_paths
from cib_sim.analysis.runner import make_job, run_many
from cib_sim.app.cells import NotANumber, parse_number
from cib_sim.results import Results
from cib_sim.scenario import Scenario

Progress = Callable[[int, int], None] | None

# --------------------------------------------------------------------------------------------
# Cases

DEFAULT_CASES = pd.DataFrame({
    "Case": ["Base", "Upside", "Downside"],
    "Changes": ["", "effects:1.2 + referrals:1.1", "delay:1 + effects:0.75 + referrals:0.8"],
    "Description": ["The scenario as edited", "Effects 20% stronger, 10% more referrals",
                    "Partners mature a year later, effects 25% weaker, 20% fewer referrals"],
})

CHANGES_HELP = (
    "Shocks joined by `+`: `delay:1` (maturity a year later), `effects:0.75`, `referrals:0.8`, `prices:1.1`, "
    "`price_cut:0.1`, `rho:0.8`, `exit:Partner@2` (a partner stops in year 2), `withdraw:Payer@3`, and any field "
    "`set:outcomes.engagement.price=1500`. Empty: the scenario as it is.")


def parse_cases(df: pd.DataFrame, scenario: Scenario | None = None) -> tuple[list[tuple[str, Shock]], list[str]]:
    """``[(case name, shock)]`` from the cases table, and the problems (rows from 1). With a
    scenario, each case is also applied to it, so an unknown partner or a bad value is
    reported here rather than when the cases run."""
    out: list[tuple[str, Shock]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for i, row in enumerate(df.to_dict("records")):
        name = str(row.get("Case") or "").strip()
        changes = str(row.get("Changes") or "").strip()
        if not name and not changes:
            continue
        where = f"Cases row {i + 1}" + (f" ({name})" if name else "")
        if not name:
            problems.append(f"{where}: give the case a name")
            continue
        if name in seen:
            problems.append(f"{where}: another case has this name")
            continue
        seen.add(name)
        try:
            shock = parse_shock(changes) if changes else Shock()
            if scenario is not None and changes:
                shock.apply_scenario(scenario)
                _check_draw_names(shock, scenario)
        except Exception as exc:  # noqa: BLE001 - any bad text is the user's to fix, not a crash
            problems.append(f"{where}: {exc}")
            continue
        out.append((name, shock))
    if not out and not problems:
        problems.append("Cases: add at least one case")
    return out, problems


def _check_draw_names(shock: Shock, s: Scenario) -> None:
    from cib_sim.analysis.shocks import Combined, CommissionerWithdrawal, PartnerExit

    parts = shock.parts if isinstance(shock, Combined) else (shock,)
    for p in parts:
        if isinstance(p, PartnerExit) and p.partner not in s.partner_names:
            raise ValueError(f"unknown partner {p.partner!r} (partners: {', '.join(s.partner_names)})")
        if isinstance(p, CommissionerWithdrawal) and p.commissioner not in [c.name for c in s.commissioners]:
            raise ValueError(f"unknown commissioner {p.commissioner!r} (commissioners: "
                             f"{', '.join(c.name for c in s.commissioners)})")


def run_cases(scenario: Scenario, cases: list[tuple[str, Shock]], n_paths: int, seed: int,
              progress: Progress = None) -> list[Results]:
    """Every case on the same paths and seed; one :class:`Results` each, in order."""
    jobs = [make_job(scenario, shock, name) for name, shock in cases]
    return run_many(jobs, n_paths, seed, keep_paths=0, progress=progress)


@dataclass(frozen=True)
class Measure:
    key: str    # "group/name/metric" for cib_sim.analysis.metrics
    label: str
    kind: str   # money | prob | pct | x | count


def measures(s: Scenario) -> list[Measure]:
    """The measures cases and sensitivity tables report: per capital tranche P(loss) and median
    IRR, payments (mean and 95th percentile), value for money, P(delivery stops)."""
    out = []
    for k, t in enumerate(s.capital_tranches):
        out.append(Measure(f"tranche/{k}/prob_loss", f"{t.name}: P(loss)", "prob"))
        out.append(Measure(f"tranche/{k}/irr_p50", f"{t.name}: median IRR", "pct"))
    out += [
        Measure("contract/outcome_payments_mean", "Payments expected", "money"),
        Measure("contract/outcome_payments_p95", "Payments, 95th pct", "money"),
        Measure("contract/value_for_money", "Value for money", "x"),
        Measure("contract/prob_delivery_stopped", "P(delivery stops)", "prob"),
        Measure("contract/enrolled_mean", "Enrolled (mean)", "count"),
    ]
    return out


def _value(r: Results, m: Measure) -> float:
    from cib_sim.analysis import resolve_metrics

    spec = resolve_metrics(r.scenario, m.key)[0]
    try:
        return float(spec(r))
    except KeyError:
        return math.nan


def cases_frame(names: list[str], results: list[Results]) -> pd.DataFrame:
    """One row per measure, one column per case (numbers), plus ``kind`` (money, prob ...)."""
    ms = measures(results[0].scenario)
    data = {"Measure": [m.label for m in ms], "kind": [m.kind for m in ms]}
    for name, r in zip(names, results):
        data[name] = [_value(r, m) for m in ms]
    return pd.DataFrame(data)


def fmt_value(v: float, kind: str, currency: str) -> str:
    from cib_sim.charts.style import fmt_money

    if v is None or not isinstance(v, (int, float)) or not math.isfinite(v):
        return "n/a"
    return {"money": lambda: fmt_money(v, currency), "prob": lambda: f"{v:.1%}", "pct": lambda: f"{v:.1%}",
            "x": lambda: f"{v:.2f}x", "count": lambda: f"{v:,.0f}"}.get(kind, lambda: f"{v:.4g}")()


def display_frame(df: pd.DataFrame, currency: str, value_cols: list[str] | None = None) -> pd.DataFrame:
    """A numeric table with a ``kind`` column as display text (the page's formats)."""
    cols = value_cols if value_cols is not None else [c for c in df.columns if c not in ("Measure", "kind")]
    out = df.drop(columns=["kind"]).copy()
    for c in cols:
        out[c] = [fmt_value(v, k, currency) for v, k in zip(df[c], df["kind"])]
    return out


# --------------------------------------------------------------------------------------------
# Sensitivity


LEVER_LABELS = {
    "price_multiplier": "Prices (× every price on the rate card)",
    "effect_multiplier": "Effects (× every partner's effect)",
    "referral_multiplier": "Referrals (× expected referrals)",
}


def levers(s: Scenario) -> dict[str, str]:
    """Label -> lever: the multipliers, then every numeric field of the scenario by its path."""
    out = {label: key for key, label in LEVER_LABELS.items() if key in MULTIPLIERS}
    for p in field_paths(s):
        try:
            from cib_sim.analysis.fields import get_field

            v = get_field(s, p)
        except Exception:  # noqa: BLE001
            continue
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[p] = p
    return out


def lever_base(s: Scenario, lever: str) -> float:
    if lever in MULTIPLIERS:
        return 1.0
    from cib_sim.analysis.fields import get_field

    return float(get_field(s, lever))


def grid(start: Any, stop: Any, steps: int, what: str) -> list[float]:
    """``steps`` values from ``start`` to ``stop`` (typed text, read by
    :func:`cib_sim.app.cells.parse_number`); raises ValueError naming ``what``."""
    try:
        a, b = parse_number(start), parse_number(stop)
    except NotANumber as exc:
        raise ValueError(f"{what}: {exc}") from None
    if a is None or b is None:
        raise ValueError(f"{what}: give both ends of the range")
    if not 2 <= int(steps) <= 25:
        raise ValueError(f"{what}: between 2 and 25 steps")
    return [float(x) for x in np.linspace(a, b, int(steps))]


STUDIES_RUN_ON = "threads"
"""The app's studies (sweeps, two-way tables, the tornado) run their variants on a thread per core
(:mod:`cib_sim.run.executors`): the same results as one at a time, sooner (a 20-input tornado at
10,000 paths of West London Zone: 7.3 s one at a time, 5.0 s on two cores' threads), with no
worker processes to start from the app's server."""


def one_way(s: Scenario, lever: str, values: list[float], ms: list[Measure], n_paths: int, seed: int,
            progress: Progress = None) -> pd.DataFrame:
    """One row per value of the lever, one column per measure (numbers)."""
    from cib_sim.analysis import sweep

    df = sweep(s, {lever: values}, n_paths=n_paths, seed=seed, metrics=[m.key for m in ms], progress=progress,
               executor=STUDIES_RUN_ON)
    labels = df.attrs.get("metrics", [])
    out = pd.DataFrame({lever: df[lever]})
    for m, col in zip(ms, labels):
        out[m.label] = df[col].astype(float)
    return out


def two_way(s: Scenario, lever_x: str, xs: list[float], lever_y: str, ys: list[float], m: Measure, n_paths: int,
            seed: int, progress: Progress = None) -> pd.DataFrame:
    """The measure at every (x, y): long form, columns ``x``, ``y``, ``value``."""
    from cib_sim.analysis import sweep

    if lever_x == lever_y:
        raise ValueError("choose two different inputs for a two-way table")
    df = sweep(s, {lever_y: ys, lever_x: xs}, n_paths=n_paths, seed=seed, metrics=[m.key], progress=progress,
               executor=STUDIES_RUN_ON)
    col = df.attrs["metrics"][0]
    return pd.DataFrame({"x": df[lever_x].astype(float), "y": df[lever_y].astype(float), "value": df[col].astype(float)})


def two_way_table(long: pd.DataFrame, x_label: str, y_label: str) -> pd.DataFrame:
    """The long two-way frame as a table: one row per y, one column per x."""
    t = long.pivot(index="y", columns="x", values="value")
    t.index.name = f"{y_label} ↓ / {x_label} →"
    t.columns = [f"{x:.4g}" for x in t.columns]
    return t.reset_index()


def tornado_table(s: Scenario, m: Measure, n_paths: int, seed: int, progress: Progress = None) -> pd.DataFrame:
    from cib_sim.analysis import tornado

    df = tornado(s, m.key, n_paths=n_paths, seed=seed, progress=progress, executor=STUDIES_RUN_ON)
    df.attrs["metric"] = m.label
    return df


@dataclass
class BreakEven:
    value: float
    std_error: float
    achieved: float
    status: str
    message: str
    evaluations: pd.DataFrame


def break_even(s: Scenario, lever: str, m: Measure, target: float, bounds: tuple[float, float], n_paths: int,
               seed: int) -> BreakEven:
    """The lever value within ``bounds`` at which the measure equals ``target``, with its Monte
    Carlo standard error (bootstrap over paths, delta method)."""
    from cib_sim.analysis import solve

    r = solve(s, lever, (m.key, float(target)), bounds=bounds, n_paths=n_paths, seed=seed, error="bootstrap")
    return BreakEven(float(r.value), float(r.std_error), float(r.achieved), r.status, r.message, r.evaluations)
