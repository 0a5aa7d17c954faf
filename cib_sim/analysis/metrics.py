"""Metrics of a run, named ``"group/name/metric"`` after :meth:`cib_sim.results.Results.summary`.

``"tranche/Senior social lender/prob_loss"``: ``name`` may be an index (``"tranche/0/irr_p50"``)
or ``*`` for every member of the group; the contract's own measures need no name
(``"contract/outcome_payments_p95"``). Columns are labelled ``metric[name]``
(``prob_loss[Senior social lender]``), or ``metric`` for the contract.

:func:`path_metric` gives the common ones as functions of the per-path arrays, so that they can be
bootstrapped over paths (:func:`bootstrap_se`) for the solver's Monte Carlo error.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from cib_sim.engine import metrics as mx
from cib_sim.errors import bad
from cib_sim.results import Results
from cib_sim.scenario import Scenario

GROUPS = ("tranche", "guarantee", "commissioner", "partner", "outcome", "contract")


@dataclass(frozen=True)
class MetricSpec:
    """One summary value: ``Results.metric(group, name, metric)``, labelled for a column."""

    group: str
    name: str
    metric: str

    @property
    def label(self) -> str:
        return self.metric if self.group == "contract" else f"{self.metric}[{self.name}]"

    def __call__(self, results: Results) -> float:
        name = results.scenario.name if self.group == "contract" else self.name
        return results.metric(self.group, name, self.metric)


def _group_names(s: Scenario, group: str) -> list[str]:
    return {
        "tranche": [t.name for t in s.capital_tranches],
        "guarantee": [t.name for t in s.tranches if t.kind == "guarantee"],
        "commissioner": [c.name for c in s.commissioners],
        "partner": s.partner_names,
        "outcome": s.outcome_names,
        "contract": [s.name],
    }[group]


def resolve_metrics(s: Scenario, metrics: Any) -> list[MetricSpec]:
    """Metric specs from strings ``"group/name/metric"``, tuples, or :class:`MetricSpec`.

    ``name`` may be ``*`` (every member) or an index. Unknown groups or names raise ValueError
    listing the valid ones. A metric name is checked when the first result is read.
    """
    if metrics is None:
        metrics = default_metrics(s)
    if isinstance(metrics, (str, MetricSpec, tuple)):
        metrics = [metrics]
    out: list[MetricSpec] = []
    for m in metrics:
        if isinstance(m, MetricSpec):
            out.append(m)
            continue
        parts = _metric_parts(s, m)
        if len(parts) != 3 or not all(str(p).strip() for p in parts):
            raise bad(f"metric {m!r}", "expected 'group/name/metric' (e.g. 'tranche/0/prob_loss')")
        group, name, metric = (str(p).strip() for p in parts)
        if group not in GROUPS:
            raise bad(f"metric {m!r}", f"unknown group {group!r} (one of {', '.join(GROUPS)})")
        names = _group_names(s, group)
        if name == "*":
            chosen = names
        elif name in names:
            chosen = [name]
        elif name.lstrip("-").isdigit() and -len(names) <= int(name) < len(names):
            chosen = [names[int(name)]]
        elif group == "contract":
            chosen = names
        else:
            raise bad(f"metric {m!r}", f"no {group} named {name!r} (known: {', '.join(names)})")
        out.extend(MetricSpec(group, n, metric) for n in chosen)
    return out


def _metric_parts(s: Scenario, m: Any) -> list[Any]:
    """``"group/name/metric"`` as its three parts. The name is everything between the first and
    the last ``/``, so a name containing ``/`` stays whole; ``"contract/metric"`` names the
    contract."""
    if not isinstance(m, str):
        return list(m) if isinstance(m, (tuple, list)) else [m]
    group, sep, rest = m.partition("/")
    name, sep2, metric = rest.rpartition("/")
    if sep and not sep2 and group.strip() == "contract":
        return ["contract", s.name, rest]
    return [group, name, metric] if sep and sep2 else [m]


def default_metrics(s: Scenario) -> list[str]:
    """Probability of loss and median IRR per capital tranche; commissioners' spend (mean and
    95th percentile over paths, all commissioners together, and each one's mean)."""
    return [
        "tranche/*/prob_loss",
        "tranche/*/irr_p50",
        "contract/outcome_payments_mean",
        "contract/outcome_payments_p95",
        "commissioner/*/paid_mean",
    ]


def evaluate(results: Results, metrics: Sequence[MetricSpec]) -> dict[str, float]:
    """``{label: value}`` of each metric for ``results``."""
    out = {}
    for m in metrics:
        try:
            out[m.label] = m(results)
        except KeyError:
            known = sorted(set(results.summary().query("group == @m.group").metric))
            raise bad(f"metric '{m.group}/{m.name}/{m.metric}'", f"unknown (known for {m.group}: {', '.join(known)})") from None
    return out


# --------------------------------------------------------------------------------------------
# Per-path metrics (so a metric can be bootstrapped over paths)

_QUANT = re.compile(r"^(irr|multiple|paid|outcome_payments)_p(\d+(?:\.\d+)?)$")


def path_metric(s: Scenario, spec: MetricSpec) -> Callable[[dict[str, np.ndarray]], float] | None:
    """The metric as a function of ``Results.path`` arrays (restricted to any subset of paths),
    agreeing with :meth:`Results.metric`; None for metrics not covered (no bootstrap for them)."""
    m, group = spec.metric, spec.group
    q = _QUANT.match(m)
    quant = float(q.group(2)) / 100 if q else None
    kind = q.group(1) if q else m
    if group == "tranche":
        k = [t.name for t in s.capital_tranches].index(spec.name)

        def multiple(p: dict) -> np.ndarray:
            tin, tout = p["tranche_in"][:, k], p["tranche_out"][:, k]
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(tin > 0, tout / tin, np.nan)

        if m in ("prob_loss", "expected_loss"):
            return lambda p: mx.loss_statistics(p["tranche_in"][:, k], p["tranche_out"][:, k])[m]
        if m == "multiple_mean":
            return lambda p: float(np.nanmean(multiple(p))) if np.isfinite(multiple(p)).any() else math.nan
        if m == "capital_drawn_mean":
            return lambda p: float(p["tranche_in"][:, k].mean())
        if quant is not None and kind == "multiple":
            return lambda p: float(mx.quantiles(multiple(p), [quant])[0])
        if quant is not None and kind == "irr":
            return lambda p: float(mx.quantiles(p["tranche_irr"][:, k], [quant])[0])
    elif group == "commissioner":
        c = [x.name for x in s.commissioners].index(spec.name)
        if m == "paid_mean":
            return lambda p: float(p["commissioner_paid"][:, c].mean())
        if quant is not None and kind == "paid":
            return lambda p: float(np.quantile(p["commissioner_paid"][:, c], quant))
    elif group == "contract":
        if m == "outcome_payments_mean":
            return lambda p: float(p["commissioner_paid"].sum(axis=1).mean())
        if quant is not None and kind == "outcome_payments":
            return lambda p: float(np.quantile(p["commissioner_paid"].sum(axis=1), quant))
    return None


def bootstrap_se(fn: Callable[[dict[str, np.ndarray]], float], path: dict[str, np.ndarray], n_boot: int = 200, seed: int = 0) -> float:
    """Standard error of ``fn`` by resampling paths with replacement (paths are independent)."""
    n = next(iter(path.values())).shape[0]
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        vals.append(fn({k: v[idx] for k, v in path.items()}))
    v = np.asarray(vals, dtype=float)
    v = v[np.isfinite(v)]
    return float(np.std(v, ddof=1)) if v.size > 1 else math.nan
