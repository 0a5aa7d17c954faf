"""Random draws for a block of paths: everything random the engine needs, drawn up front.

The engine is a deterministic function of a :class:`Draws` (QuantEcon's split: draw a block's
randomness at once, then run pure arithmetic). Each block of paths is drawn from its own
``SeedSequence`` (the run planner, :mod:`cib_sim.run.plan`, says which), so results do not depend
on how blocks are grouped into chunks or spread over workers.

Shapes: N paths in the block, T periods, P partners, U delivery units (P for ``pipelines``, 1 for
``zone``), O outcomes, C commissioners.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from cib_sim.scenario import MAX_PEOPLE, Scenario

MAX_REFERRALS_PER_PERIOD = 10 * MAX_PEOPLE
"""The most referrals a unit expects in a period on any path: a path's referral multiplier is
capped there. No unit has more than ``MAX_PEOPLE`` places, so from far below this level every
place is taken every period and more referrals change nothing but the length of the waiting
list; above about 3e10 scipy's Poisson inverse CDF (``exact`` counts) returns NaN, which stopped
delivery on the path (enrolments 0 where approximate counts filled every place)."""


@dataclass
class Draws:
    """Per-path parameters and per-period noise for a block of paths.

    effect: (N, P, O) uplift in probability at full maturity.
    half_maturity: (N, P) years to half effect, after the path's delay.
    referral_multiplier: (N, U) multiplier on expected referrals (mean 1; capped so that a unit
      expects at most :data:`MAX_REFERRALS_PER_PERIOD` referrals a period).
    exit_period: (N, P) first period a partner no longer delivers (T: never).
    withdraw_period: (N, C) first period a commissioner no longer pays (T: never).
    z_referrals: (E, N, U), z_dropouts: (E, N, U), z_outcomes: (E, N, U, O): standard normals
      that become counts (see ``cib_sim.engine.delivery.count_from_normal``), for the E periods from
      ``z_first`` in which some unit may enrol (see :func:`enrolment_window`); use
      :meth:`noise`. Period-first, so that each period's slice is contiguous.
    z_outcomes_dropped: (E, N, U, O) or None: extra normals, only for ``exact`` counts.
    z_first: the period of the first row of the noise arrays.
    drift: (N, O) or None: each outcome's drift a year of the rate without the intervention
      (None: no outcome drifts).
    z_control: (T, N, U, O) or None: standard normals for the control group of the assessment
      cohort that closes in each period (None: no outcome has a control group).

    ``drift`` and ``z_control`` come from their own stream (:data:`OUTCOME_STREAM`), so adding
    them leaves every other draw, and so every existing result, unchanged.
    """

    effect: np.ndarray
    half_maturity: np.ndarray
    referral_multiplier: np.ndarray
    exit_period: np.ndarray
    withdraw_period: np.ndarray
    z_referrals: np.ndarray
    z_dropouts: np.ndarray
    z_outcomes: np.ndarray
    z_outcomes_dropped: np.ndarray | None = None
    z_first: int = 0
    drift: np.ndarray | None = None
    z_control: np.ndarray | None = None

    def noise(self, name: str, t: int) -> np.ndarray:
        """Period t's row of the noise array ``z_<name>`` (zeros outside the enrolment window,
        where there is nobody to count)."""
        z = getattr(self, "z_" + name)
        if 0 <= t - self.z_first < z.shape[0]:
            return z[t - self.z_first]
        return np.zeros(z.shape[1:])

    @property
    def n_paths(self) -> int:
        return self.effect.shape[0]

    def subset(self, index: np.ndarray | slice) -> "Draws":
        """The draws of some paths (e.g. one path for the reference model)."""
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "z_first":
                kw[f.name] = v
                continue
            kw[f.name] = None if v is None else (v[:, index] if f.name.startswith("z_") else v[index])
        return Draws(**kw)

    @classmethod
    def concatenate(cls, parts: list["Draws"]) -> "Draws":
        if len(parts) == 1:
            return parts[0]
        kw = {}
        for f in fields(cls):
            vals = [getattr(p, f.name) for p in parts]
            if f.name == "z_first":
                kw[f.name] = vals[0]
                continue
            axis = 1 if f.name.startswith("z_") else 0
            kw[f.name] = None if vals[0] is None else np.concatenate(vals, axis=axis)
        return cls(**kw)


def n_units(s: Scenario) -> int:
    return 1 if s.delivery.model == "zone" else len(s.partners)


def enrolment_window(s: Scenario) -> tuple[int, int]:
    """``(first, stop)``: the periods ``first <= t < stop`` in which some unit may enrol (the
    only periods that need count noise)."""
    h = s.horizon
    units = [s.delivery] if s.delivery.model == "zone" else s.partners
    first = min(h.to_periods(u.enrolment_start) for u in units)
    stop = max(h.n_periods if u.enrolment_end is None else min(h.n_periods, h.to_periods(u.enrolment_end)) for u in units)
    first = min(first, h.n_periods)
    return first, max(first, stop)


OUTCOME_STREAM = 0xC0A7
"""Spawn-key element of the stream for measurement draws (drift, control groups), separate from
the block's main stream so that scenarios without them draw exactly what they always drew."""


def has_measurement_draws(s: Scenario) -> tuple[bool, bool]:
    """``(drift, control)``: whether some outcome drifts, whether some has a control group."""
    drift = any(o.comparison is not None and (o.comparison.drift != 0 or o.comparison.drift_sd > 0) for o in s.outcomes)
    control = any(o.control_size is not None for o in s.outcomes)
    return drift, control


def _measurement_draws(
    s: Scenario, seed: np.random.SeedSequence, n: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(drift (n, O), z_control (T, n, U, O))`` from the block's measurement stream."""
    want_drift, want_control = has_measurement_draws(s)
    if not (want_drift or want_control):
        return None, None
    sub = np.random.SeedSequence(seed.entropy, spawn_key=tuple(seed.spawn_key) + (OUTCOME_STREAM,))
    rng = np.random.Generator(np.random.PCG64(sub))
    O, T, U = len(s.outcomes), s.horizon.n_periods, n_units(s)
    mean = np.array([o.drift[0] for o in s.outcomes])
    sd = np.array([o.drift[1] for o in s.outcomes])
    on = s.uncertainty.enabled
    eps = rng.standard_normal((n, O))
    drift = (mean + sd * eps if on else np.broadcast_to(mean, (n, O)).copy()) if want_drift else None
    z_control = None
    if want_control:
        z_control = rng.standard_normal((T, n, U, O)) if on else np.zeros((T, n, U, O))
    return drift, z_control


def _event_period(rng: np.random.Generator, hazard: np.ndarray, shape: tuple[int, ...], ppy: int, T: int) -> np.ndarray:
    """First period at or after an exponential event time with rate ``hazard`` per year."""
    e = rng.standard_exponential(shape)
    with np.errstate(divide="ignore"):
        years = np.where(hazard > 0, e / np.where(hazard > 0, hazard, 1.0), np.inf)
    return np.minimum(np.floor(years * ppy), T).astype(np.int64)


def sample_block(
    s: Scenario, seed: np.random.SeedSequence, n: int, exact: bool = False,
    factor: tuple[np.ndarray, float] | None = None,
) -> Draws:
    """Draw everything random for ``n`` paths from one block's seed.

    The order of draws is fixed: adding an optional array appends to the stream, so ``exact`` and
    approximate counts share the same random numbers path by path.

    ``factor``: ``(f, w)``, an outside shock ``f`` (n,) of standard normals and its weight ``w`` in
    [0, 1] (a portfolio's shocks shared across bonds, :mod:`cib_sim.portfolio`). Each path-level
    standard normal that moves effects, maturity and referrals becomes ``sqrt(w) f + sqrt(1 - w)
    x``, where ``x`` mixes the bond's common shock and the partner's own with the common shock's
    weight lowered so that partners stay correlated at ``uncertainty.rho``: with ``w <= rho`` the
    bond's own joint distribution is exactly what it was (only its link to ``f`` is new); with
    ``w > rho`` its partners (and effect, maturity and referrals) are correlated at ``w``. Every
    marginal stays standard normal. No stream changes; ``None`` leaves every result as it was.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    u = s.uncertainty
    P, O, C, U = len(s.partners), len(s.outcomes), len(s.commissioners), n_units(s)
    T, ppy = s.horizon.n_periods, s.horizon.periods_per_year
    names = s.outcome_names

    mean = np.array([[p.effect[o].mean if o in p.effect else 0.0 for o in names] for p in s.partners])
    sd = np.array([[p.effect[o].sd if o in p.effect else 0.0 for o in names] for p in s.partners])
    half = np.array([p.maturity.half_maturity for p in s.partners])

    # Gaussian copula: one common shock per path moves all partners together.
    common = rng.standard_normal(n)
    a, b = np.sqrt(u.rho), np.sqrt(1.0 - u.rho)
    eps_effect = rng.standard_normal((n, P, O))
    eps_delay = rng.standard_normal((n, P))
    eps_ref = rng.standard_normal((n, U))
    exit_h = np.array([p.exit_hazard for p in s.partners])
    wd_h = np.array([c.withdrawal_hazard for c in s.commissioners])
    exit_period = _event_period(rng, exit_h, (n, P), ppy, T)
    withdraw_period = _event_period(rng, wd_h, (n, C), ppy, T)
    first, stop = enrolment_window(s)
    E = stop - first
    z_ref = rng.standard_normal((E, n, U))
    z_drop = rng.standard_normal((E, n, U))
    z_out = rng.standard_normal((E, n, U, O))
    z_out_d = rng.standard_normal((E, n, U, O)) if exact else None

    drift, z_control = _measurement_draws(s, seed, n)
    if not u.enabled:
        return Draws(
            effect=np.broadcast_to(mean, (n, P, O)).copy(),
            half_maturity=np.broadcast_to(half, (n, P)).copy(),
            referral_multiplier=np.ones((n, U)),
            exit_period=np.full((n, P), T, dtype=np.int64),
            withdraw_period=np.full((n, C), T, dtype=np.int64),
            z_referrals=np.zeros((E, n, U)),
            z_dropouts=np.zeros((E, n, U)),
            z_outcomes=np.zeros((E, n, U, O)),
            z_outcomes_dropped=np.zeros((E, n, U, O)) if exact else None,
            z_first=first,
            drift=drift,
            z_control=z_control,
        )

    shock = common[:, None]
    if factor is not None:
        # A shock shared with other bonds (a portfolio's) takes weight w; the bond's own common
        # shock gives up as much, so its partners stay correlated at rho (at w if w > rho).
        w = float(factor[1])
        a = np.sqrt(max(0.0, (u.rho - w) / (1.0 - w))) if w < 1 else 0.0
        b = np.sqrt(1.0 - a * a)
    x_effect = a * common[:, None, None] + b * eps_effect
    x_delay = a * shock + b * eps_delay
    x_ref = a * shock + b * eps_ref
    if factor is not None:
        f = np.asarray(factor[0], dtype=float)
        g, h = np.sqrt(w), np.sqrt(1.0 - w)
        x_effect = g * f[:, None, None] + h * x_effect
        x_delay = g * f[:, None] + h * x_delay
        x_ref = g * f[:, None] + h * x_ref
    effect = mean + sd * x_effect
    # A good common shock means stronger effects, earlier maturity and more referrals.
    half_m = np.maximum(0.0, half - u.maturity_delay_sd * x_delay)
    sig = u.referral_sd
    ref_mult = np.exp(sig * x_ref - 0.5 * sig * sig)
    units = [s.delivery] if s.delivery.model == "zone" else s.partners
    per_period = np.array([(unit.referrals or 0.0) / ppy for unit in units])
    with np.errstate(divide="ignore", over="ignore"):  # a vanishing referral rate: no bound (inf)
        ref_mult = np.minimum(ref_mult, np.where(per_period > 0, MAX_REFERRALS_PER_PERIOD / per_period, np.inf))
    return Draws(effect, half_m, ref_mult, exit_period, withdraw_period, z_ref, z_drop, z_out, z_out_d, first, drift, z_control)


def sample(s: Scenario, seeds: list[np.random.SeedSequence], sizes: list[int], exact: bool = False) -> Draws:
    """Draws for several consecutive blocks, concatenated along the path axis."""
    return Draws.concatenate([sample_block(s, sd, n, exact) for sd, n in zip(seeds, sizes)])
