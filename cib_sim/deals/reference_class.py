"""Reference-class priors: the unpublished parts of a deal, fitted to how INDIGO's deals paid.

Every project with an actual payment series (:func:`cib_sim.deals.payments.payment_projects`, 28
UK Life Chances Fund projects in the May 2025 snapshot) is built into a scenario by
:func:`cib_sim.deals.builder.indigo_build`; one prior (:data:`GRID`'s parameters, the rest at
:data:`cib_sim.deals.builder.DEFAULT_PRIOR`) is shared by all. Its fit:

- **Targets.** Per project, the observed cumulative share of the maximum outcome payment paid by
  months 12, 24, 36 and 48 since service started (those the record reaches) and by the record's
  last month (``final``: the share paid by the last published payment, compared with the
  simulated share by the same month, so a project still paying is not compared with a finished
  simulation).
- **Score.** The continuous ranked probability score (CRPS) of each observed share under the
  project's simulated ensemble (``n_paths`` paths), averaged over every target of every project.
  CRPS is proper: it is smallest when the simulated distribution is the one the observations come
  from, so it fits level, timing and spread together.
- **Fit.** A small grid over the parameters in :data:`GRID`; every grid point is simulated for
  every project once (common random numbers: the same seed everywhere), and the fit is the grid
  point with the smallest mean CRPS.
- **Cross-validation.** Leave one project out: the grid point is chosen on the other projects and
  the held-out project is scored with it: CRPS, the PIT (the simulated distribution function at
  the observation, randomised where the ensemble has ties, e.g. many paths at zero or at the cap)
  and whether the observation lies in the central 50% and 80% predictive intervals. The naive
  baseline predicts, for the same target, the empirical distribution of the other projects'
  observed shares (leave-one-out as well).

``python scripts/fit_reference_class.py`` (or ``python -m cib_sim.deals.reference_class``) recomputes everything and writes
``cib_sim/data/indigo/reference_class.json`` (about 40 minutes on one core);
:func:`load_reference_class` reads it.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cib_sim.deals.payments import HORIZON_MONTHS, payment_projects, payment_series

__all__ = [
    "GRID",
    "ReferenceClass",
    "coverage",
    "cross_validate",
    "crps_ensemble",
    "how_similar_deals_paid",
    "load_reference_class",
    "observed_targets",
    "pit_values",
    "reference_curves",
    "simulate_shares",
]

#: The grid searched: the prior's uncertain parameters that most move the timing and level of
#: payments. Everything else stays at :data:`cib_sim.deals.builder.DEFAULT_PRIOR`.
GRID: dict[str, tuple[float, ...]] = {
    "achievement": (1.0, 1.2),
    "achievement_sd": (0.15, 0.3),
    "referral_ratio": (1.3, 1.6),
    "referral_sd": (0.3, 0.6),
    "half_maturity": (0.0, 0.5),
    "maturity_delay_sd": (0.5, 1.0, 1.5),
    "lag": (0.35, 0.5),
}
#: How a grid point is chosen: ``crps`` (the smallest mean CRPS) or ``calibrated`` (mean CRPS plus
#: :data:`COVERAGE_WEIGHT` x the misses of the 50% and 80% coverage on the fitting projects).
OBJECTIVES = ("crps", "calibrated")
OBJECTIVE = "calibrated"
COVERAGE_WEIGHT = 0.02
#: Paths per project and grid point in the shipped fit.
N_PATHS = 200
SEED = 20250513
JSON_NAME = "reference_class.json"


# ---------------------------------------------------------------------------------------------
# Scores


def crps_ensemble(samples: np.ndarray, y: float | np.ndarray) -> np.ndarray:
    """CRPS of observation(s) ``y`` under the empirical distribution of ``samples`` (last axis):
    ``E|X - y| - E|X - X'| / 2``. ``samples`` (..., n), ``y`` broadcast to ``samples.shape[:-1]``.
    NaN where ``y`` is NaN. Zero when every sample equals y."""
    x = np.sort(np.asarray(samples, dtype=float), axis=-1)
    y = np.asarray(y, dtype=float)
    n = x.shape[-1]
    term1 = np.mean(np.abs(x - y[..., None]), axis=-1)
    # E|X - X'| from sorted samples: (2 / n^2) * sum_i (2i - n - 1) x_(i)
    w = 2 * np.arange(1, n + 1) - n - 1
    term2 = (2.0 / n**2) * np.sum(w * x, axis=-1)
    return term1 - 0.5 * term2


def pit_values(samples: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """Randomised PIT: F(y-) + V (F(y) - F(y-)), V uniform, F the ensemble's distribution (last
    axis of ``samples``). Uniform on [0, 1] when y comes from the same distribution, ties (mass at
    zero or at the cap) included."""
    rng = np.random.default_rng(0) if rng is None else rng
    x = np.asarray(samples, dtype=float)
    y = np.asarray(y, dtype=float)[..., None]
    below = np.mean(x < y, axis=-1)
    at_or_below = np.mean(x <= y, axis=-1)
    v = rng.uniform(size=below.shape)
    return below + v * (at_or_below - below)


def coverage(pit: np.ndarray, level: float) -> float:
    """Share of PIT values inside the central ``level`` interval: |PIT - 1/2| <= level / 2."""
    p = np.asarray(pit, dtype=float)
    p = p[np.isfinite(p)]
    return float(np.mean(np.abs(p - 0.5) <= level / 2)) if p.size else math.nan


# ---------------------------------------------------------------------------------------------
# Observations and simulations


def observed_targets(months: Sequence[int] = HORIZON_MONTHS) -> pd.DataFrame:
    """One row per project and target: ``project_id, target`` (``m12`` ... or ``final``),
    ``month`` (when it is measured), ``share`` (observed). Months beyond a record are left out."""
    rows = []
    for _, p in payment_projects().iterrows():
        s = payment_series(p["project_id"]).set_index("month")["share"]
        last = int(p["last_month"])
        for m in months:
            if m <= last:
                rows.append((p["project_id"], f"m{m}", m, float(s[m])))
        rows.append((p["project_id"], "final", last, float(s[last])))
    return pd.DataFrame(rows, columns=["project_id", "target", "month", "share"])


def simulate_shares(project_id: str, months: Sequence[int], prior: Mapping[str, float] | None = None,
                    n_paths: int = N_PATHS, seed: int = SEED) -> np.ndarray:
    """Simulated cumulative share of the maximum outcome payment paid by each month (months since
    service started, as in :mod:`cib_sim.deals.payments`): array (len(months), n_paths)."""
    from cib_sim.deals.builder import indigo_build

    s = indigo_build(project_id, prior).scenario
    return scenario_shares(s, months, n_paths, seed)


def scenario_shares(s: Any, months: Sequence[int], n_paths: int = N_PATHS, seed: int = SEED) -> np.ndarray:
    """(len(months), n_paths): a monthly scenario's cumulative payments by each month over the sum
    of its payers' caps (or, without caps, over the most paid on any path)."""
    from cib_sim.run.simulation import simulate

    r = simulate(s, n_paths=n_paths, seed=seed, keep_paths=n_paths, path_store="memory")
    paid = r.kept["commissioner_paid"].sum(axis=2)  # (paths, periods)
    cum = np.cumsum(paid, axis=1)
    caps = [c.total_cap for c in s.commissioners]
    total = float(sum(caps)) if all(c is not None for c in caps) else float(cum[:, -1].max() or 1.0)
    per_month = 12 // s.horizon.periods_per_year
    out = np.empty((len(months), cum.shape[0]))
    for k, m in enumerate(months):
        i = int(m) // per_month  # periods wholly within the first m months
        out[k] = 0.0 if i <= 0 else cum[:, min(i, cum.shape[1]) - 1] / total
    return out


def reference_curves(months: Sequence[int]) -> pd.DataFrame:
    """The reference class's observed cumulative shares: one row per month, one column per project
    (NaN where a record does not reach the month)."""
    cols = {}
    for pid in payment_projects()["project_id"]:
        s = payment_series(pid).set_index("month")["share"]
        cols[pid] = s.reindex(list(months))
    return pd.DataFrame(cols, index=pd.Index(list(months), name="month"))


def how_similar_deals_paid(s: Any, months: Sequence[int] = (6, 12, 18, 24, 30, 36, 42, 48, 54, 60),
                           n_paths: int = 1000, seed: int = 1) -> pd.DataFrame:
    """A scenario's predicted cumulative payments (share of its payers' caps, by month since its
    horizon starts) beside how the reference class actually paid by the same month.

    One row per month: the scenario's ``q05, q25, q50, q75, q95``; the reference class's
    ``ref_q25, ref_q50, ref_q75`` and ``ref_n`` (projects whose record reaches the month); and
    ``percentile``: where the scenario's median sits among the real shares (0-100, ties half).
    """
    from cib_sim.deals.indigo import mid_percentile

    sh = scenario_shares(s, months, n_paths, seed)
    ref = reference_curves(months)
    rows = []
    for k, m in enumerate(months):
        q = np.quantile(sh[k], [0.05, 0.25, 0.5, 0.75, 0.95])
        real = ref.loc[m].dropna().to_numpy(float)
        rq = np.quantile(real, [0.25, 0.5, 0.75]) if real.size else [math.nan] * 3
        rows.append({"month": int(m), "q05": q[0], "q25": q[1], "q50": q[2], "q75": q[3], "q95": q[4],
                     "ref_q25": rq[0], "ref_q50": rq[1], "ref_q75": rq[2], "ref_n": int(real.size),
                     "percentile": mid_percentile(float(q[2]), real)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# The grid, the fit and its cross-validation


def grid_points(grid: Mapping[str, Sequence[float]] = GRID) -> list[dict[str, float]]:
    keys = list(grid)
    return [dict(zip(keys, vals)) for vals in itertools.product(*(grid[k] for k in keys))]


def simulate_grid(points: list[dict[str, float]], obs: pd.DataFrame, n_paths: int = N_PATHS, seed: int = SEED,
                  progress: bool = False) -> np.ndarray:
    """(G, len(obs), n_paths): simulated shares for every grid point and observed target."""
    out = np.empty((len(points), len(obs), n_paths))
    groups = list(obs.groupby("project_id", sort=False).indices.items())
    t0 = time.time()
    for g, pt in enumerate(points):
        for pid, idx in groups:
            out[g, idx] = simulate_shares(pid, obs["month"].to_numpy()[idx], pt, n_paths, seed)
        if progress and (g + 1) % 10 == 0:
            print(f"  grid {g + 1}/{len(points)}  {time.time() - t0:.0f}s", flush=True)
    return out


def baseline_samples(obs: pd.DataFrame, i: int) -> np.ndarray:
    """The naive baseline for observation ``i``: the other projects' observed shares for the same
    target (leave-one-out)."""
    row = obs.iloc[i]
    others = obs[(obs["target"] == row["target"]) & (obs["project_id"] != row["project_id"])]
    return others["share"].to_numpy(float)


def _losses(crps: np.ndarray, pit_all: np.ndarray, keep: np.ndarray, objective: str) -> np.ndarray:
    """(G,) the fitting loss of every grid point on the observations ``keep``."""
    loss = crps[:, keep].mean(axis=1)
    if objective == "calibrated":
        p = np.abs(pit_all[:, keep] - 0.5)
        miss = np.abs((p <= 0.25).mean(axis=1) - 0.5) + np.abs((p <= 0.40).mean(axis=1) - 0.8)
        loss = loss + COVERAGE_WEIGHT * miss
    elif objective != "crps":
        raise ValueError(f"objective must be one of {OBJECTIVES}")
    return loss


def cross_validate(sims: np.ndarray, obs: pd.DataFrame, points: list[dict[str, float]],
                   rng_seed: int = 0, objective: str = OBJECTIVE) -> dict[str, Any]:
    """Leave-one-project-out: choose the grid point on the other projects, score the held-out one.

    ``sims`` (G, len(obs), n) from :func:`simulate_grid`. Returns per-observation ``table``
    (project, target, month, share, crps, crps_baseline, pit, pit_baseline, in50, in80, chosen grid
    index) and ``summary`` (coverage of the 50% and 80% intervals, mean CRPS of model and
    baseline, and the in-sample fit)."""
    y = obs["share"].to_numpy(float)
    crps = crps_ensemble(sims, y[None, :])  # (G, n_obs)
    pids = obs["project_id"].to_numpy()
    pit_all = pit_values(sims, y[None, :], np.random.default_rng(rng_seed + 2))  # (G, n_obs), for fitting
    rng = np.random.default_rng(rng_seed)
    chosen: dict[str, int] = {}
    for pid in pd.unique(pids):
        held = pids == pid
        g = int(np.argmin(_losses(crps, pit_all, ~held, objective)))
        chosen[pid] = g
    pit = np.empty(len(obs))
    pit_b = np.empty(len(obs))
    crps_b = np.empty(len(obs))
    crps_m = np.empty(len(obs))
    for i in range(len(obs)):
        g = chosen[pids[i]]
        crps_m[i] = crps[g, i]
        pit[i] = pit_values(sims[g, i], y[i], rng)
        b = baseline_samples(obs, i)
        crps_b[i] = crps_ensemble(b, y[i]) if b.size else math.nan
        pit_b[i] = pit_values(b, y[i], rng) if b.size else math.nan
    table = obs.copy()
    table["crps"] = crps_m
    table["crps_baseline"] = crps_b
    table["pit"] = pit
    table["pit_baseline"] = pit_b
    table["in50"] = np.abs(pit - 0.5) <= 0.25
    table["in80"] = np.abs(pit - 0.5) <= 0.40
    table["grid_index"] = [chosen[p] for p in pids]
    g_all = int(np.argmin(_losses(crps, pit_all, np.ones(len(obs), bool), objective)))
    pit_in = pit_values(sims[g_all], y, np.random.default_rng(rng_seed + 1))
    summary = {
        "objective": objective,
        "n_projects": len(chosen),
        "n_targets": len(obs),
        "coverage50": coverage(pit, 0.5),
        "coverage80": coverage(pit, 0.8),
        "coverage50_baseline": coverage(pit_b, 0.5),
        "coverage80_baseline": coverage(pit_b, 0.8),
        "crps": float(np.nanmean(crps_m)),
        "crps_baseline": float(np.nanmean(crps_b)),
        "crps_skill": float(1 - np.nanmean(crps_m) / np.nanmean(crps_b)),
        "in_sample_crps": float(crps[g_all].mean()),
        "in_sample_coverage50": coverage(pit_in, 0.5),
        "in_sample_coverage80": coverage(pit_in, 0.8),
        "fit_index": g_all,
        "folds_choosing_the_fit": int(sum(1 for g in chosen.values() if g == g_all)),
    }
    by_target = (
        table.groupby("target", sort=False)
        .agg(n=("share", "size"), coverage50=("in50", "mean"), coverage80=("in80", "mean"),
             crps=("crps", "mean"), crps_baseline=("crps_baseline", "mean"))
        .reset_index()
    )
    return {"table": table, "summary": summary, "by_target": by_target, "crps_grid": crps,
            "chosen": chosen}


# ---------------------------------------------------------------------------------------------
# The shipped result


@dataclass(frozen=True)
class ReferenceClass:
    """The shipped fit: ``prior`` (every prior parameter, fitted or default), ``grid`` searched,
    ``summary`` of the leave-one-out cross-validation, ``by_target`` and per-observation ``table``
    (DataFrames), and the settings (``n_paths``, ``seed``, snapshot)."""

    prior: dict[str, float]
    grid: dict[str, list[float]]
    summary: dict[str, Any]
    by_target: pd.DataFrame
    table: pd.DataFrame
    settings: dict[str, Any]

    def pit_histogram(self, bins: int = 10, baseline: bool = False) -> pd.DataFrame:
        """Counts of the out-of-sample PIT values in ``bins`` equal bins of [0, 1]."""
        col = "pit_baseline" if baseline else "pit"
        counts, edges = np.histogram(self.table[col].dropna(), bins=bins, range=(0, 1))
        return pd.DataFrame({"lo": edges[:-1], "hi": edges[1:], "count": counts})


def _json_path() -> Path:
    return Path(str(resources.files("cib_sim").joinpath("data", "indigo", JSON_NAME)))


@lru_cache(maxsize=1)
def _load(path: str) -> ReferenceClass:
    with open(path, encoding="utf-8") as fh:
        d = json.load(fh)
    return ReferenceClass(
        prior=d["prior"], grid=d["grid"], summary=d["summary"], by_target=pd.DataFrame(d["by_target"]),
        table=pd.DataFrame(d["table"]), settings=d["settings"],
    )


def load_reference_class(path: str | Path | None = None) -> ReferenceClass:
    """The shipped reference-class fit (``cib_sim/data/indigo/reference_class.json``)."""
    p = Path(path) if path is not None else _json_path()
    if not p.exists():
        raise FileNotFoundError(p)
    return _load(str(p))


def fit(n_paths: int = N_PATHS, seed: int = SEED, grid: Mapping[str, Sequence[float]] = GRID,
        progress: bool = True, objective: str = OBJECTIVE, sims_path: str | None = None) -> dict[str, Any]:
    """Simulate the grid, fit and cross-validate; the JSON-ready result (``sims_path``: also save
    the simulated shares, (grid points, targets, paths), as a NumPy file)."""
    from cib_sim.deals.builder import DEFAULT_PRIOR

    obs = observed_targets()
    points = grid_points(grid)
    # The fit must not read a previous fit: every grid point gives all of its parameters, and the
    # rest come from DEFAULT_PRIOR.
    full = [{**DEFAULT_PRIOR, **pt} for pt in points]
    sims = simulate_grid(full, obs, n_paths, seed, progress)
    if sims_path:
        np.save(sims_path, sims.astype(np.float32))
    cvs = {o: cross_validate(sims, obs, points, objective=o) for o in OBJECTIVES}
    cv = cvs[objective]
    best = full[cv["summary"]["fit_index"]]
    table = cv["table"].copy()
    for c in ("in50", "in80"):
        table[c] = table[c].astype(bool)
    return {
        "about": "Reference-class prior for cib_sim.deals.scenario_from_indigo, fitted to INDIGO actual outcome "
                 "payments (Government Outcomes Lab, University of Oxford, May 2025 snapshot) by "
                 "cib_sim.deals.reference_class; regenerate with `python scripts/fit_reference_class.py`.",
        "prior": {k: float(v) for k, v in best.items()},
        "grid": {k: [float(x) for x in v] for k, v in grid.items()},
        "summary": cv["summary"],
        "summary_by_objective": {o: c["summary"] for o, c in cvs.items()},
        "prior_by_objective": {o: {k: float(v) for k, v in full[c["summary"]["fit_index"]].items()} for o, c in cvs.items()},
        "by_target": cv["by_target"].to_dict(orient="records"),
        "table": table.to_dict(orient="records"),
        "settings": {"n_paths": n_paths, "seed": seed, "months": list(HORIZON_MONTHS), "cv": "leave one project out",
                     "objective": objective, "coverage_weight": COVERAGE_WEIGHT,
                     "baseline": "the other projects' observed shares for the same target"},
    }


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=N_PATHS)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", default=str(_json_path()))
    ap.add_argument("--sims", default=None, help="also save the simulated grid here (.npy)")
    a = ap.parse_args(argv)
    res = fit(a.paths, a.seed, sims_path=a.sims)
    Path(a.out).write_text(json.dumps(res, indent=1, default=float) + "\n", encoding="utf-8")
    s = res["summary"]
    print(json.dumps(res["prior"]))
    print(f"coverage 50% {s['coverage50']:.2f}  80% {s['coverage80']:.2f}  CRPS {s['crps']:.4f} vs baseline "
          f"{s['crps_baseline']:.4f}  ({s['n_projects']} projects, {s['n_targets']} targets) -> {a.out}")


if __name__ == "__main__":
    main()
