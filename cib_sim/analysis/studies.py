"""Sweeps, stress tests and tornado sensitivity: variants of a scenario on common random numbers."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from cib_sim.analysis.fields import check_path, set_fields
from cib_sim.analysis.metrics import evaluate, resolve_metrics
from cib_sim.analysis.runner import Job, check_run_options, make_job, run_many
from cib_sim.analysis.shocks import (
    BASE,
    Correlation,
    ScaleField,
    ScaleReferrals,
    SetField,
    Shock,
    as_shock,
    default_shocks,
)
from cib_sim.errors import bad
from cib_sim.scenario import Scenario

# --------------------------------------------------------------------------------------------
# Sweeps


def sweep(
    scenario: Scenario,
    values: Mapping[str, Any],
    n_paths: int = 4096,
    seed: Any = 1,
    mode: str = "grid",
    metrics: Any = None,
    **run_options: Any,
) -> pd.DataFrame:
    """Simulate the scenario at every point of a grid of field values: one row per point.

    values: ``{path: [v1, v2, ...]}`` with dotted field paths (``"outcomes.engagement.price"``,
      ``"tranches.Senior social lender.commitment"``, see :mod:`cib_sim.analysis.fields`) or
      multipliers (``"price_multiplier"``); a scalar is a one-value list.
    mode: ``grid`` (every combination, the first path varying slowest) or ``zip`` (the i-th
      value of each path together; the lists must be the same length).
    metrics: metric specs (see the module docstring); default :func:`default_metrics`.
    run_options: ``counts``, ``chunk_size``, ``executor``, ``address``, ``workers``,
      ``cluster_kwargs``, ``progress`` (see :func:`cib_sim.analysis.runner.run_many`).

    Every point uses the same ``seed`` (common random numbers). Every path and every point's
    scenario is checked before anything runs: an unknown path raises
    :class:`~cib_sim.analysis.fields.FieldPathError` naming the nearest valid paths, a bad value
    a :class:`~cib_sim.scenario.ScenarioError` naming the field and the reason.
    Returns columns ``point``, one per path, one per metric; ``attrs`` hold ``n_paths``, ``seed``.
    """
    opts = check_run_options(run_options)
    if not values:
        raise bad("values", "give at least one path to sweep")
    paths = list(values)
    lists = [list(v) if isinstance(v, (list, tuple, np.ndarray, pd.Series, range)) else [v] for v in values.values()]
    for p in paths:
        check_path(scenario, p)
    for p, v in zip(paths, lists):
        if not v:
            raise bad(f"values[{p!r}]", "no values to sweep (an empty list would give no points)")
    if mode == "grid":
        points = list(itertools.product(*lists))
    elif mode == "zip":
        lengths = {p: len(v) for p, v in zip(paths, lists)}
        if len(set(lengths.values())) > 1:
            raise bad("values", f"mode='zip' needs lists of one length (got {lengths})")
        points = list(zip(*lists))
    else:
        raise bad("mode", f"must be 'grid' or 'zip' (got {mode!r})")
    specs = resolve_metrics(scenario, metrics)
    jobs = [
        Job(set_fields(scenario, dict(zip(paths, pt))), None, ", ".join(f"{p}={v}" for p, v in zip(paths, pt)))
        for pt in points
    ]
    results = run_many(jobs, n_paths, seed, **opts)
    rows = []
    for i, (pt, res) in enumerate(zip(points, results)):
        rows.append({"point": i, **dict(zip(paths, pt)), **evaluate(res, specs)})
    df = pd.DataFrame(rows)
    df.attrs.update(n_paths=n_paths, seed=seed, metrics=[m.label for m in specs])
    return df


# --------------------------------------------------------------------------------------------
# Stress tests


def stress(
    scenario: Scenario,
    shocks: Any = None,
    n_paths: int = 4096,
    seed: Any = 1,
    metrics: Any = None,
    relative: bool = False,
    **run_options: Any,
) -> pd.DataFrame:
    """Each shock against the base, on the same paths: one row per shock, the base first.

    shocks: a list of :class:`~cib_sim.analysis.shocks.Shock` or their text form
      (``"delay:1"``, ``"exit:Mentoring@2+effects:0.8"``), or ``{label: shock}``; default
      :func:`~cib_sim.analysis.shocks.default_shocks`.
    metrics: as :func:`sweep`; default probability of loss and median IRR per tranche and the
      commissioners' spend.
    relative: report each shock's change from the base instead of its level (the base row is 0).

    Returns a DataFrame indexed by ``shock`` (labels), one column per metric; ``attrs["shocks"]``
    holds the shock objects.
    """
    opts = check_run_options(run_options)
    if shocks is None:
        items = [(None, sh) for sh in default_shocks(scenario)]
    elif isinstance(shocks, Mapping):
        items = [(label, as_shock(sh)) for label, sh in shocks.items()]
    else:
        items = [(None, as_shock(sh)) for sh in ([shocks] if isinstance(shocks, (str, Shock)) else shocks)]
    jobs = [make_job(scenario, BASE)] + [make_job(scenario, sh, label) for label, sh in items]
    labels = [j.label for j in jobs]
    if len(set(labels)) != len(labels):
        dup = sorted({x for x in labels if labels.count(x) > 1})
        raise bad("shocks", f"labels must differ (repeated: {', '.join(dup)}); give {{label: shock}}")
    specs = resolve_metrics(scenario, metrics)
    results = run_many(jobs, n_paths, seed, **opts)
    df = pd.DataFrame([evaluate(r, specs) for r in results], index=pd.Index(labels, name="shock"))
    if relative:
        df = df - df.iloc[0]
    df.attrs.update(n_paths=n_paths, seed=seed, shocks=[j.shock for j in jobs], relative=relative)
    return df


# --------------------------------------------------------------------------------------------
# Sensitivity


@dataclass(frozen=True)
class SensitivityInput:
    """An uncertain input of the tornado: shocks setting it to its low and its high value."""

    name: str
    low: Shock
    high: Shock
    low_text: str
    high_text: str


def sensitivity_inputs(
    s: Scenario, referrals: float = 0.2, maturity_years: float = 1.0, hazard_factor: float = 2.0
) -> list[SensitivityInput]:
    """The default tornado inputs: each effect mean +- 1 sd (+-25% where sd is 0), each
    logistic half-maturity +- ``maturity_years``, referrals +- ``referrals``, the correlation
    rho +- 0.3 (within [0, 0.95]), and exit / withdrawal hazards x0 and x``hazard_factor``."""
    out: list[SensitivityInput] = []
    for p in s.partners:
        for o, e in p.effect.items():
            if e.mean == 0 and e.sd == 0:
                continue
            d = e.sd if e.sd > 0 else 0.25 * abs(e.mean)
            lo, hi = max(-1.0, e.mean - d), min(1.0, e.mean + d)
            path = f"partners.{p.name}.effect.{o}.mean"
            out.append(SensitivityInput(f"effect: {p.name} / {o}", SetField(path, lo), SetField(path, hi), f"{lo:.3g}", f"{hi:.3g}"))
    for p in s.partners:
        if p.maturity.kind == "logistic":
            h = p.maturity.half_maturity
            lo, hi = max(0.0, h - maturity_years), min(20.0, h + maturity_years)
            path = f"partners.{p.name}.maturity.half_maturity"
            out.append(SensitivityInput(f"half maturity: {p.name}", SetField(path, lo), SetField(path, hi), f"{lo:g} y", f"{hi:g} y"))
    out.append(
        SensitivityInput(
            "referrals", ScaleReferrals(1 - referrals), ScaleReferrals(1 + referrals),
            f"-{100 * referrals:g}%", f"+{100 * referrals:g}%",
        )
    )
    if s.uncertainty.enabled:
        r = s.uncertainty.rho
        lo, hi = max(0.0, r - 0.3), min(0.95, r + 0.3)
        out.append(SensitivityInput("correlation rho", Correlation(lo), Correlation(hi), f"{lo:.2g}", f"{hi:.2g}"))
        if any(p.exit_hazard > 0 for p in s.partners):
            out.append(
                SensitivityInput(
                    "partner exit hazard", ScaleField("partners.*.exit_hazard", 0.0),
                    ScaleField("partners.*.exit_hazard", hazard_factor), "x0", f"x{hazard_factor:g}",
                )
            )
        if any(c.withdrawal_hazard > 0 for c in s.commissioners):
            out.append(
                SensitivityInput(
                    "commissioner withdrawal hazard", ScaleField("commissioners.*.withdrawal_hazard", 0.0),
                    ScaleField("commissioners.*.withdrawal_hazard", hazard_factor), "x0", f"x{hazard_factor:g}",
                )
            )
    return out


def tornado(
    scenario: Scenario,
    metric: Any = None,
    inputs: Sequence[SensitivityInput] | None = None,
    n_paths: int = 4096,
    seed: Any = 1,
    **run_options: Any,
) -> pd.DataFrame:
    """One metric at each input's low and high value, everything else at base, same paths.

    metric: one metric spec; default the most senior tranche's mean multiple of money
      (``"tranche/0/multiple_mean"``).
    inputs: default :func:`sensitivity_inputs`.

    Returns one row per input, largest swing first: ``input``, ``low_setting``,
    ``high_setting``, ``low`` and ``high`` (the metric there), ``base``, ``swing`` (|high - low|).
    ``attrs["metric"]`` is the metric's label. Chart it with
    :func:`cib_sim.charts.tornado_chart`.
    """
    opts = check_run_options(run_options)
    specs = resolve_metrics(scenario, metric if metric is not None else "tranche/0/multiple_mean")
    if len(specs) != 1:
        raise bad("metric", f"a tornado shows one metric (got {len(specs)}: {', '.join(m.label for m in specs)})")
    spec = specs[0]
    inputs = list(inputs) if inputs is not None else sensitivity_inputs(scenario)
    if not inputs:
        raise bad("inputs", "nothing to vary")
    jobs = [make_job(scenario, BASE)]
    for inp in inputs:
        jobs += [make_job(scenario, inp.low, f"{inp.name} low"), make_job(scenario, inp.high, f"{inp.name} high")]
    values = [spec(r) for r in run_many(jobs, n_paths, seed, **opts)]
    base = values[0]
    rows = []
    for i, inp in enumerate(inputs):
        lo, hi = values[1 + 2 * i], values[2 + 2 * i]
        rows.append({
            "input": inp.name, "low_setting": inp.low_text, "high_setting": inp.high_text,
            "low": lo, "high": hi, "base": base, "swing": abs(hi - lo),
        })
    df = pd.DataFrame(rows).sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)
    df.attrs.update(metric=spec.label, n_paths=n_paths, seed=seed)
    return df
