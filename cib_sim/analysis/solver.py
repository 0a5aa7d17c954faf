"""The payment-term solver: the value of one lever at which a target holds.

    solve(s, "price_multiplier", "tranche/0/prob_loss=0.05", bounds=(0.5, 2.0))

finds the multiplier on every price at which the senior tranche's probability of loss is 5%.
Levers: ``price_multiplier`` (every price, tier prices too), any dotted field path
(``"outcomes.engagement.price"``, ``"tranches.Senior social lender.commitment"``), or a function
``(scenario, x) -> scenario``. Targets: any metric of :mod:`cib_sim.analysis` with a value, e.g.
``tranche/0/irr_p50=0.06`` (median IRR 6%) or ``contract/outcome_payments_p95=12e6`` (the
commissioners' 95th percentile spend equals a budget).

Method. Every evaluation runs the same paths (one seed: common random numbers), so the objective
``metric(x) - target`` is a deterministic function of ``x``: continuous for quantiles and means,
a step function (steps of 1/paths) for a probability of loss. A coarse scan over the bounds
(``scan`` points, run together, so in parallel on a cluster) finds the first sign change; Brent's
method (:func:`scipy.optimize.brentq`) then narrows it to ``xtol``. On a step function that
converges to the step where the target is crossed, which is the answer to within one path. No sign
change in the scan: the result has ``status="no_solution"`` and says what range the metric
covered (``strict=True`` raises :class:`NoSolution` instead).

Monte Carlo error of the solution, ``error=``:

- ``"bootstrap"`` (default; two extra runs): the metric's standard error at the solution, by
  resampling paths (they are independent), divided by the objective's slope there (a secant over
  a small step either side): the delta method.
- ``"reseed"``: the solve repeated on ``n_reseeds`` independent seeds; the error is the standard
  deviation of those solutions (honest also where the slope is rough, at ``n_reseeds`` times the
  cost).
- ``None``: no error estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy import optimize

from cib_sim.analysis.fields import MULTIPLIERS, check_path, set_fields
from cib_sim.analysis.metrics import (
    MetricSpec,
    bootstrap_se,
    path_metric,
    resolve_metrics,
)
from cib_sim.analysis.runner import Job, check_run_options, run_many
from cib_sim.errors import bad
from cib_sim.results import Results
from cib_sim.scenario import Scenario

Lever = str | Callable[[Scenario, float], Scenario]


class NoSolution(ValueError):
    """No value of the lever within the bounds meets the target (``strict=True``)."""

    def __init__(self, result: "SolveResult"):
        self.result = result
        super().__init__(result.message)


@dataclass(frozen=True)
class Target:
    """``metric`` (one spec, see :mod:`cib_sim.analysis`) should equal ``value``."""

    metric: str
    value: float

    @classmethod
    def parse(cls, x: "Target | str | tuple[str, float]") -> "Target":
        if isinstance(x, Target):
            return x.checked()
        if isinstance(x, tuple) and len(x) == 2:
            metric, value = x
        else:
            metric, eq, value = str(x).rpartition("=")
            if not eq or not metric.strip():
                raise bad("target", f"expected 'group/name/metric=value' (e.g. 'tranche/0/prob_loss=0.05'; got {x!r})")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad("target", f"the value must be a number (got {value!r} in {x!r})") from None
        return cls(str(metric).strip(), number).checked()

    def checked(self) -> "Target":
        """The target if its value can be met: a finite number, a probability within [0, 1]."""
        v, kind = self.value, self.metric.rsplit("/", 1)[-1]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise bad("target", f"{self.metric}: the value must be a finite number (got {v!r})")
        if (kind.startswith("prob_") or kind == "irr_undefined") and not 0.0 <= v <= 1.0:
            raise bad("target", f"{self.metric}: a probability must be between 0 and 1 (got {v:g})")
        return self

    @classmethod
    def prob_loss(cls, tranche: str | int = 0, value: float = 0.05) -> "Target":
        return cls(f"tranche/{tranche}/prob_loss", value)

    @classmethod
    def median_irr(cls, tranche: str | int = 0, value: float = 0.06) -> "Target":
        return cls(f"tranche/{tranche}/irr_p50", value)

    @classmethod
    def spend_quantile(cls, budget: float, q: float = 0.95, commissioner: str | None = None) -> "Target":
        """The ``q`` quantile over paths of outcome payments (all commissioners, or one) = ``budget``."""
        pct = f"{100 * q:g}"
        if commissioner is None:
            return cls(f"contract/outcome_payments_p{pct}", budget)
        return cls(f"commissioner/{commissioner}/paid_p{pct}", budget)


@dataclass
class SolveResult:
    """What :func:`solve` found. ``value`` is NaN unless ``status == "solved"``."""

    status: str  # "solved" | "no_solution" | "not_converged"
    lever: str
    metric: str
    target: float
    value: float
    achieved: float
    std_error: float
    bounds: tuple[float, float]
    n_paths: int
    seed: Any
    message: str
    error_method: str | None = None
    evaluations: pd.DataFrame = field(default_factory=pd.DataFrame)
    reseeded: list[float] = field(default_factory=list)
    scenario: Scenario | None = None

    @property
    def ok(self) -> bool:
        return self.status == "solved"

    @property
    def ci95(self) -> tuple[float, float]:
        """``value +- 1.96 std_error`` (NaN if either is)."""
        return (self.value - 1.96 * self.std_error, self.value + 1.96 * self.std_error)

    def raise_for_status(self) -> "SolveResult":
        if not self.ok:
            raise NoSolution(self)
        return self

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "lever": self.lever, "metric": self.metric, "target": self.target,
            "value": self.value, "std_error": self.std_error, "ci95_low": self.ci95[0], "ci95_high": self.ci95[1],
            "achieved": self.achieved, "n_paths": self.n_paths, "seed": self.seed, "error_method": self.error_method,
            "evaluations": len(self.evaluations), "message": self.message,
        }


# --------------------------------------------------------------------------------------------
# The solver


def _metric_value(s: Scenario, spec: MetricSpec, res: Results) -> float:
    fn = path_metric(s, spec)
    return fn(res.path) if fn is not None else spec(res)


def _lever_fn(scenario: Scenario, lever: Lever) -> tuple[str, Callable[[float], Scenario]]:
    if callable(lever):
        return getattr(lever, "__name__", "lever"), lambda x: lever(scenario, x)
    check_path(scenario, lever)
    return lever, lambda x: set_fields(scenario, {lever: float(x)})


def solve(
    scenario: Scenario,
    lever: Lever,
    target: Target | str | tuple[str, float],
    bounds: tuple[float, float] | None = None,
    n_paths: int = 4096,
    seed: Any = 1,
    *,
    xtol: float | None = None,
    maxiter: int = 60,
    scan: int = 5,
    error: str | None = "bootstrap",
    n_boot: int = 200,
    n_reseeds: int = 4,
    strict: bool = False,
    **run_options: Any,
) -> SolveResult:
    """The lever value in ``bounds`` at which ``target`` holds (see the module docstring).

    lever: ``"price_multiplier"`` (also ``effect_multiplier``, ``referral_multiplier``), a
      dotted field path, or ``f(scenario, x) -> scenario``.
    target: ``Target``, ``"group/name/metric=value"`` or ``(metric, value)``.
    bounds: ``(low, high)``; default ``(0.25, 4)`` for multipliers, required otherwise.
    xtol: absolute tolerance on the lever; default ``1e-5 * (high - low)``.
    run_options: ``counts``, ``chunk_size``, ``executor``, ``address``, ``workers``,
      ``cluster_kwargs`` (see :func:`cib_sim.analysis.runner.run_many`).
    """
    opts = check_run_options(run_options)
    opts.pop("progress", None)
    if error not in ("bootstrap", "reseed", None):
        raise bad("error", f"must be 'bootstrap', 'reseed' or None (got {error!r})")
    tgt = Target.parse(target)
    specs = resolve_metrics(scenario, tgt.metric)
    if len(specs) != 1:
        raise bad("target", f"{tgt.metric!r} names {len(specs)} metrics; name one (e.g. 'tranche/0/prob_loss')")
    spec = specs[0]
    name, at = _lever_fn(scenario, lever)
    if bounds is None:
        if isinstance(lever, str) and lever in MULTIPLIERS:
            bounds = (0.25, 4.0)
        else:
            raise bad("bounds", f"give (low, high) for lever {name!r}")
    try:
        lo, hi = float(bounds[0]), float(bounds[1])
    except (TypeError, ValueError, IndexError):
        raise bad("bounds", f"must be two numbers (low, high) (got {bounds!r})") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise bad("bounds", f"must be finite numbers (got {bounds!r})")
    if not lo < hi:
        raise bad("bounds", f"low must be below high (got {bounds})")
    if isinstance(scan, bool) or not isinstance(scan, int) or scan < 2:
        raise bad("scan", f"at least 2 points (the bounds) (got {scan!r})")
    xtol = xtol if xtol is not None else 1e-5 * (hi - lo)

    core = _solve_once(scenario, at, spec, tgt.value, lo, hi, n_paths, seed, xtol, maxiter, scan, opts)
    res = SolveResult(
        status=core["status"], lever=name, metric=spec.label, target=tgt.value, value=core["x"],
        achieved=core["achieved"], std_error=math.nan, bounds=(lo, hi), n_paths=n_paths, seed=seed,
        message="", error_method=error, evaluations=core["evaluations"],
    )
    if res.ok:
        res.scenario = at(res.value)
        if error == "bootstrap":
            res.std_error = _delta_error(core, at, spec, scenario, n_paths, seed, lo, hi, n_boot, opts)
        elif error == "reseed":
            sols = []
            for r in range(n_reseeds):
                sub = np.random.SeedSequence([_seed_int(seed), 0xC1B5, r])
                again = _solve_once(scenario, at, spec, tgt.value, lo, hi, n_paths, sub, xtol, maxiter, scan, opts)
                sols.append(again["x"] if again["status"] == "solved" else math.nan)
            res.reseeded = sols
            finite = [x for x in sols if np.isfinite(x)]
            res.std_error = float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan
    res.message = _message(res, core)
    if strict and not res.ok:
        raise NoSolution(res)
    return res


def _seed_int(seed: Any) -> int:
    if isinstance(seed, (int, np.integer)):
        return int(seed)
    if isinstance(seed, np.random.SeedSequence):
        return int(seed.generate_state(1)[0])
    raise TypeError(f"seed: an int or SeedSequence (got {type(seed).__name__})")


def _solve_once(scenario, at, spec, target, lo, hi, n_paths, seed, xtol, maxiter, scan, opts) -> dict[str, Any]:
    cache: dict[float, tuple[float, Results]] = {}

    def evaluate(xs: list[float]) -> None:
        todo = [x for x in xs if x not in cache]
        if todo:
            results = run_many([Job(at(x), None, f"{x:g}") for x in todo], n_paths, seed, **opts)
            for x, r in zip(todo, results):
                cache[x] = (_metric_value(r.scenario, spec, r), r)

    def f(x: float) -> float:
        evaluate([x])
        return cache[x][0] - target

    grid = [float(x) for x in np.linspace(lo, hi, scan)]
    evaluate(grid)
    vals = [cache[x][0] - target for x in grid]
    out: dict[str, Any] = {"status": "no_solution", "x": math.nan, "achieved": math.nan, "cache": cache, "bracket": None}
    bracket = None
    for a, b, fa, fb in zip(grid, grid[1:], vals, vals[1:]):
        if fa == 0:
            bracket = (a, a)
            break
        if np.isfinite(fa) and np.isfinite(fb) and (fb == 0 or np.sign(fa) != np.sign(fb)):
            bracket = (a, b)
            break
    if bracket is not None:
        a, b = bracket
        if a == b or f(b) == 0:
            x = a if a == b else b
            out.update(status="solved", x=x)
        else:
            try:
                x, info = optimize.brentq(f, a, b, xtol=xtol, maxiter=maxiter, full_output=True, disp=False)
                out.update(status="solved" if info.converged else "not_converged", x=float(x))
            except RuntimeError:  # pragma: no cover - disp=False returns instead
                out.update(status="not_converged")
        out["bracket"] = (a, b)
        if np.isfinite(out["x"]):
            out["achieved"] = cache[out["x"]][0] if out["x"] in cache else f(out["x"]) + target
    finite = [cache[x][0] for x in grid if np.isfinite(cache[x][0])]
    out["range"] = (min(finite), max(finite)) if finite else (math.nan, math.nan)
    out["evaluations"] = pd.DataFrame(
        [{"x": x, "metric": v} for x, (v, _) in sorted(cache.items())]
    )
    return out


def _delta_error(core, at, spec, scenario, n_paths, seed, lo, hi, n_boot, opts) -> float:
    """Delta method: bootstrap SE of the metric at the solution / |slope| of the metric there."""
    x = core["x"]
    res = core["cache"][x][1]
    fn = path_metric(res.scenario, spec)
    if fn is None:
        return math.nan
    se_metric = bootstrap_se(fn, res.path, n_boot=n_boot)
    if se_metric == 0:
        return 0.0
    a, b = core["bracket"]
    step = max((b - a) / 10, 1e-6 * (hi - lo))
    x1, x2 = max(lo, x - step), min(hi, x + step)
    runs = run_many([Job(at(x1)), Job(at(x2))], n_paths, seed, **opts)
    m1, m2 = (_metric_value(r.scenario, spec, r) for r in runs)
    slope = (m2 - m1) / (x2 - x1)
    return float(se_metric / abs(slope)) if slope != 0 and np.isfinite(slope) else math.inf


def _message(res: SolveResult, core: dict[str, Any]) -> str:
    lo, hi = res.bounds
    if res.status == "no_solution":
        a, b = core["range"]
        return (
            f"no solution: {res.metric} = {res.target:g} is not reached for {res.lever} in [{lo:g}, {hi:g}] "
            f"({res.metric} ranges over [{a:.6g}, {b:.6g}] there); widen the bounds or change the target"
        )
    if res.status == "not_converged":
        return f"not converged: {res.lever} for {res.metric} = {res.target:g} within [{lo:g}, {hi:g}]"
    err = ""
    if res.error_method and np.isfinite(res.std_error):
        err = f" +- {res.std_error:.3g} (Monte Carlo s.e., {res.error_method})"
    elif res.error_method:
        err = " (Monte Carlo error not available)"
    return (
        f"{res.lever} = {res.value:.6g}{err} gives {res.metric} = {res.achieved:.6g} "
        f"(target {res.target:g}; {res.n_paths} paths, seed {res.seed})"
    )
