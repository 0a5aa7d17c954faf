"""Delivery: referrals, waiting lists, enrolment within capacity, dropout, and outcomes achieved.

A *delivery unit* is a partner in the ``pipelines`` model, or the whole partnership in the
``zone`` model. Each period, per unit and path: referrals arrive (Poisson), join the waiting list
(which loses ``abandonment`` a year), and enrol as far as free places allow; enrolled participants
stay ``service_length`` (dropouts half of it), occupy a place and cost ``cost / service length``
each period in service. The cohort enrolled in period t achieves each outcome with probability
``baseline + effect x maturity(t + 1/2)``, maturity at the middle of the period (dropouts:
baseline).

Counts come from standard normals (:func:`count_from_normal`):

- ``approx`` (default): a Cornish-Fisher (skew-corrected) normal quantile, rounded and clipped to
  the support. Exact in mean up to rounding; see README for the measured error against exact
  binomial counts. About ten times faster than numpy's binomial sampler.
- ``exact``: the same normals through the binomial / Poisson inverse CDF (scipy), so both modes
  share random numbers path by path. Slow; for tests and the reference comparison.
- ``expected``: counts are their expectations (floats); used when uncertainty is switched off.

Approximations kept on purpose (and shared by the reference model):
- dropouts leave after half the service length (rounded down, at least one period) and cost
  that share of the service;
- abandonment from the waiting list is rounded to whole people, not drawn;
- in the ``zone`` model each participant's package is drawn independently, so each outcome's
  count is exactly Binomial(n, package-averaged probability); what the aggregate leaves out is
  the correlation of one participant's several outcomes through its package (with the West
  London Zone parameters it adds about 20% to the participant-level variance of payments, which
  is itself small next to the variance between paths);
- a zone partner is paid ``reach`` x the participants in service (its expected share), not for
  the participants it actually serves: same mean, less noise, so funding stops in very thin
  funds are slightly understated (the reference model's ``zone_costs="served"`` measures it);
- when a ``pipelines`` partner exits, its participants already in service complete (and cost);
  a ``zone`` partner that exits stops serving (and costing) at once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from cib_sim.engine.arrays import rowsum
from cib_sim.engine.kernels import counts as count_kernels
from cib_sim.engine.kernels import enrolment as enrolment_kernels
from cib_sim.engine.kernels import zone as zone_kernels
from cib_sim.engine.sample import Draws, n_units
from cib_sim.scenario import Scenario


def count_from_normal(
    z: np.ndarray, mean: np.ndarray, var: np.ndarray, k3: np.ndarray, upper: np.ndarray | None, mode: str
) -> np.ndarray:
    """A count with the given mean, variance and third cumulant from standard normal ``z``.

    Clipped to ``[0, upper]`` (``upper`` None: no upper bound). Shapes broadcast together.
    Compiled: :func:`cib_sim.engine.kernels.counts.count_value`.
    """
    if mode == "expected":
        return mean
    args = [np.asarray(a, dtype=np.float64) for a in (z, mean, var, k3, np.inf if upper is None else upper)]
    shape = np.broadcast_shapes(*(a.shape for a in args))
    flat = [np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1) for a in args]
    return count_kernels.counts.for_paths(shape[0] if shape else 1)(*flat).reshape(shape)


def binomial_from_normal(z: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Exact Binomial(n, p) count by inverse CDF of ``Phi(z)``."""
    u = special.ndtr(z)
    return np.where(n > 0, stats.binom.ppf(u, np.maximum(n, 0), np.clip(p, 0, 1)), 0.0)


def poisson_from_normal(z: np.ndarray, lam: np.ndarray) -> np.ndarray:
    u = special.ndtr(z)
    return np.where(lam > 0, stats.poisson.ppf(u, np.maximum(lam, 1e-300)), 0.0)


def nbinom_from_normal(z: np.ndarray, n: np.ndarray, mu: np.ndarray, shape: float | None) -> np.ndarray:
    """Exact total count of ``n`` participants, each negative binomial with mean ``mu`` and
    ``shape`` (Poisson when None), by inverse CDF of ``Phi(z)``: NB(n shape, mean n mu)."""
    u = special.ndtr(z)
    lam = np.maximum(n, 0) * np.maximum(mu, 0)
    if shape is None:
        return np.where(lam > 0, stats.poisson.ppf(u, np.maximum(lam, 1e-300)), 0.0)
    r = np.maximum(n, 0) * shape
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(lam > 0, r / (r + lam), 1.0)
    return np.where(lam > 0, stats.nbinom.ppf(u, np.maximum(r, 1e-300), p), 0.0)


def count_cumulants(n: np.ndarray, mu: np.ndarray, shape: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, variance and third cumulant of the total count of ``n`` participants, each negative
    binomial with mean ``mu`` and ``shape`` (Poisson when None)."""
    if shape is None:
        m = n * mu
        return m, m, m
    mu2 = mu * mu
    return n * mu, n * (mu + mu2 / shape), n * (mu + 3.0 * mu2 / shape + 2.0 * mu2 * mu / (shape * shape))


def years_at(t: int | np.ndarray, ppy: int) -> np.ndarray | float:
    """Years from the contract start to the middle of period t (when its enrolments happen, on
    average)."""
    return (t + 0.5) / ppy


def counterfactual_rate(s: Scenario, drift: np.ndarray | None, years: float | np.ndarray) -> np.ndarray:
    """(N, O) (or (O,) without drift) outcomes per participant without the intervention, for a
    participant enrolled ``years`` after the contract start: the baseline probability, moved by
    the path's ``drift`` a year and clipped to [0, 1] (binary), or the baseline events over the
    tracking window times ``max(0, 1 + drift x years)`` (count)."""
    base = np.array([o.baseline_events for o in s.outcomes])
    if drift is None:
        return base
    is_count = np.array([o.kind == "count" for o in s.outcomes])
    shift = drift * years
    return np.where(is_count, base * np.maximum(0.0, 1.0 + shift), np.clip(base + shift, 0.0, 1.0))


def needs_counterfactual(s: Scenario, draws: Draws) -> bool:
    """Whether the outcomes above the counterfactual need :func:`counterfactual_outcomes` (a
    count outcome, or a drift): otherwise they are achieved less baseline x enrolled."""
    return draws.drift is not None or any(o.kind == "count" for o in s.outcomes)


def counterfactual_outcomes(s: Scenario, drift: np.ndarray | None, enrolled: np.ndarray) -> np.ndarray:
    """(N, O) outcomes (count outcomes: events) the participants enrolled (``enrolled`` (N, T,
    U)) would have had without the intervention, summed over cohorts."""
    by_period = enrolled.sum(axis=2)  # (N, T)
    if drift is None:
        return by_period.sum(axis=1)[:, None] * counterfactual_rate(s, None, 0.0)
    ppy = s.horizon.periods_per_year
    out = np.zeros((enrolled.shape[0], len(s.outcomes)))
    for t in range(enrolled.shape[1]):
        out += by_period[:, t, None] * counterfactual_rate(s, drift, years_at(t, ppy))
    return out


def maturity(years_since_start: np.ndarray | float, half: np.ndarray, steepness: float, kind: str) -> np.ndarray:
    """Share of the full effect reached, 0..1. ``half`` (N, ...) in years."""
    if kind == "immediate":
        return np.ones_like(half)
    return special.expit((years_since_start - half) / steepness)


@dataclass(frozen=True)
class UnitPlan:
    """Per-unit parameters in periods. Arrays of shape (U,)."""

    referrals: np.ndarray  # expected referrals per period
    capacity: np.ndarray
    start: np.ndarray  # first enrolment period
    end: np.ndarray  # first period with no enrolment
    service: np.ndarray  # periods in service (completers)
    dropout_stay: np.ndarray  # periods a dropout occupies a place
    dropout: np.ndarray  # probability
    keep_waiting: np.ndarray  # share of the waiting list still waiting next period


def unit_plan(s: Scenario) -> UnitPlan:
    h = s.horizon
    ppy, T = h.periods_per_year, h.n_periods
    units = [s.delivery] if s.delivery.model == "zone" else s.partners
    service = np.array([max(1, h.to_periods(u.service_length)) for u in units], dtype=np.int64)
    return UnitPlan(
        referrals=np.array([(u.referrals or 0.0) / ppy for u in units]),
        capacity=np.array([float(u.capacity or 0.0) for u in units]),
        start=np.array([h.to_periods(u.enrolment_start) for u in units]),
        end=np.array([T if u.enrolment_end is None else min(T, h.to_periods(u.enrolment_end)) for u in units]),
        service=service,
        dropout_stay=np.maximum(1, service // 2),
        dropout=np.array([u.dropout for u in units]),
        keep_waiting=np.array([(1.0 - u.abandonment) ** (1.0 / ppy) for u in units]),
    )


def delivery_end_period(s: Scenario) -> int:
    """First period after every unit's last participant finishes service."""
    plan = unit_plan(s)
    # The last cohort enrols in period end - 1 and stays ``service`` periods.
    return int(min(s.horizon.n_periods, np.max(plan.end - 1 + plan.service)))


class DeliveryState:
    """Delivery for a block of N paths, stepped one period at a time.

    ``propose(t)`` gives the enrolments the partners would make; the engine checks they can be
    funded, then ``commit(t, funded)`` fixes them (zero where unfunded) and draws the cohort's
    outcomes. History arrays, all (N, T, U): ``enrolled``, ``dropped``; (N, T, U, O): ``achieved``
    by enrolment period.
    """

    def __init__(self, s: Scenario, draws: Draws, mode: str):
        self.s, self.d, self.mode = s, draws, mode
        self.plan = unit_plan(s)
        N, T, U, O = draws.n_paths, s.horizon.n_periods, n_units(s), len(s.outcomes)
        self.zone = s.delivery.model == "zone"
        self.ppy = s.horizon.periods_per_year
        self.waiting = np.zeros((N, U))
        # Stored period-first so that each period's slice is contiguous; exposed as (N, T, ...) views.
        self.enrolled = np.zeros((T, N, U)).transpose(1, 0, 2)
        self.dropped = np.zeros((T, N, U)).transpose(1, 0, 2)
        self.achieved = np.zeros((T, N, U, O)).transpose(1, 0, 2, 3)
        # Count outcomes: the success "probability" is computed with a baseline of 0, so that it
        # is the share of events avoided (clipped to [0, 1]); their rates are separate.
        self.baseline = np.array([0.0 if o.kind == "count" else o.baseline_rate for o in s.outcomes])
        self.count_k = [k for k, o in enumerate(s.outcomes) if o.kind == "count"]
        self.binary_drift = draws.drift is not None and any(o.kind == "binary" for o in s.outcomes)
        self.reach = np.array([p.reach for p in s.partners])
        self.cost = np.array([p.cost for p in s.partners])
        self.upfront = np.array([p.contract.upfront_share for p in s.partners])
        self.fixed = np.array([p.fixed_cost for p in s.partners]) / self.ppy
        self.partner_start = (
            np.full(len(s.partners), self.plan.start[0]) if self.zone else self.plan.start
        )
        self._pending: np.ndarray | None = None
        # Outcome-first (O, N) per partner, for the zone model's package average.
        self._effect_by_partner = [np.ascontiguousarray(draws.effect[:, i, :].T) for i in range(len(s.partners))]
        self._uplift = np.empty((len(s.partners), O, N)) if self.zone else None  # reused each period
        self._occupied = np.zeros((N, U))
        self._alive_at = -1
        unit_of_partner = np.zeros(len(s.partners), dtype=int) if self.zone else np.arange(len(s.partners))
        self.service_periods = self.plan.service[unit_of_partner].astype(np.float64)

    # ---- per period
    def alive(self, t: int) -> np.ndarray:
        """(N, P) partners still delivering in period t (shared within a period: do not modify)."""
        if self._alive_at != t:  # asked for several times a period
            self._alive, self._alive_at = t < self.d.exit_period, t
        return self._alive

    def open_units(self, t: int) -> np.ndarray:
        """(N, U) units accepting referrals in period t (window and, for partners, not exited)."""
        p = self.plan
        window = (p.start <= t) & (t < p.end)
        alive = self.alive(t)
        if not self.zone:
            return window[None, :] & alive
        if not window[0]:
            return np.zeros((alive.shape[0], 1), dtype=bool)
        # The zone is open while any partner delivers (column by column: P is small).
        units_alive = alive[:, 0].copy()
        for i in range(1, alive.shape[1]):
            units_alive |= alive[:, i]
        return units_alive[:, None]

    def occupied(self, t: int) -> np.ndarray:
        """(N, U) places taken at the start of period t by earlier cohorts (compiled:
        :func:`cib_sim.engine.kernels.enrolment.occupied_places`)."""
        p = self.plan
        history = (self.enrolled.transpose(1, 0, 2), self.dropped.transpose(1, 0, 2))  # (T, N, U), contiguous
        return enrolment_kernels.occupied_places.for_paths(self.waiting.shape[0])(*history, t, p.service, p.dropout_stay)

    def propose(self, t: int, stopped: np.ndarray) -> np.ndarray:
        """(N, U) enrolments the units would make in period t; updates the waiting list."""
        p = self.plan
        open_ = self.open_units(t) & ~stopped[:, None]
        self._occupied = self.occupied(t)
        if not open_.any():  # every unit closed: no referrals, the waiting list is let go
            self.waiting = np.zeros_like(self.waiting)
            self._pending = np.zeros_like(self.waiting)
            return self._pending
        lam = p.referrals * self.d.referral_multiplier
        z = self.d.noise("referrals", t)
        if self.mode == "exact":
            arrivals = poisson_from_normal(z, lam)
        else:
            arrivals = count_from_normal(z, lam, lam, lam, None, self.mode)
        kept = self.waiting * p.keep_waiting
        if self.mode != "expected":
            kept = np.rint(kept)
        self.waiting = np.where(open_, kept + arrivals, 0.0)
        self._pending = np.where(open_, np.minimum(self.waiting, self.free_places()), 0.0)
        return self._pending

    def free_places(self) -> np.ndarray:
        """(N, U) places free in the period being proposed (whole places unless counts are
        expectations)."""
        free = np.maximum(0.0, self.plan.capacity - self._occupied)
        return free if self.mode == "expected" else np.floor(free)

    @property
    def pending(self) -> np.ndarray | None:
        """(N, U) the enrolments proposed for this period and not yet committed (None after)."""
        return self._pending

    def replace_pending(self, enrol: np.ndarray) -> None:
        """Propose ``enrol`` (N, U) instead of the model's enrolments (e.g. reported ones)."""
        self._pending = enrol

    def record_cohort(self, t: int, enrol: np.ndarray, drop: np.ndarray, achieved: np.ndarray) -> None:
        """Fix period t's cohort: enrolments, dropouts (N, U) and outcomes achieved (N, U, O)."""
        self._pending = None
        self.enrolled[:, t, :] = enrol
        self.dropped[:, t, :] = drop
        self.achieved[:, t] = achieved

    def service_costs(self, t: int, enrol: np.ndarray) -> np.ndarray:
        """(N, P) payments to partners for participants in service in period t, currency.

        A participant's ``cost`` is spread evenly over the service length (a dropout's over its
        stay), times the partner's ``upfront_share``; ``enrol`` (N, U) are period t's enrolments.
        In the zone model a partner pays for its ``reach`` of each participant while it delivers.
        """
        per_period = self.cost * self.upfront / self.service_periods  # (P,)
        rate = self.reach * per_period if self.zone else per_period
        return enrolment_kernels.service_costs.for_paths(enrol.shape[0])(
            self._occupied, np.ascontiguousarray(enrol, dtype=np.float64), rate, self.d.exit_period, t, self.zone)

    def fixed_costs(self, t: int, stopped: np.ndarray) -> np.ndarray:
        """(N, P) partners' fixed costs in period t, currency."""
        p = self.plan
        if self.zone:
            active = (p.start[0] <= t) & (t < p.end[0] - 1 + p.service[0])
            window = np.full(len(self.s.partners), active)
        else:
            window = (p.start <= t) & (t < p.end - 1 + p.service)
        return enrolment_kernels.fixed_costs.for_paths(stopped.shape[0])(
            self.fixed, np.ascontiguousarray(window), self.d.exit_period, t, np.ascontiguousarray(stopped))

    def commit(self, t: int, funded: np.ndarray) -> None:
        """Fix period t's enrolments (none where ``funded`` (N,) is False) and draw outcomes."""
        assert self._pending is not None
        enrol = np.where(funded[:, None], self._pending, 0.0)
        self.waiting = self.waiting - enrol
        self._pending = None
        if not enrol.any():  # outside enrolment windows: no cohort, nothing to draw
            return
        drop = self.draw_dropouts(t, enrol)
        self.record_cohort(t, enrol, drop, self.draw_outcomes(t, enrol, drop))

    def draw_dropouts(self, t: int, enrol: np.ndarray) -> np.ndarray:
        """(N, U) dropouts among period t's enrolments ``enrol`` (N, U)."""
        p = self.plan
        zd = self.d.noise("dropouts", t)
        if self.mode == "exact":
            return binomial_from_normal(zd, enrol, p.dropout)
        v = enrol * p.dropout * (1 - p.dropout)
        return count_from_normal(zd, enrol * p.dropout, v, v * (1 - 2 * p.dropout), enrol, self.mode)

    def draw_outcomes(self, t: int, enrol: np.ndarray, drop: np.ndarray) -> np.ndarray:
        """(N, U, O) outcomes achieved by period t's cohort: completers at the success
        probability, dropouts at the baseline."""
        p1 = self.success_probability(t)  # (N, U, O)
        share_avoided = p1[..., self.count_k] if self.count_k else None
        p0 = self.baseline
        if self.binary_drift:  # the drift moves every participant's probability, treated or not
            shift = self.d.drift * years_at(t, self.ppy)
            shift[:, self.count_k] = 0.0
            p1 = np.clip(p1 + shift[:, None, :], 0.0, 1.0)
            p0 = np.clip(p0 + shift[:, None, :], 0.0, 1.0)
        n1, n0 = (enrol - drop)[..., None], drop[..., None]
        z = self.d.noise("outcomes", t)
        if self.mode == "exact":
            out = binomial_from_normal(z, n1, p1) + binomial_from_normal(self.d.noise("outcomes_dropped", t), n0, p0)
        elif self.mode == "expected":
            out = n1 * p1 + n0 * p0
        else:
            p0 = np.broadcast_to(p0, p1.shape)
            out = count_kernels.cohort_outcomes.for_paths(z.shape[0])(z, p1, p0, n1[..., 0], n0[..., 0])
        if self.count_k:
            out = self._draw_counts(t, out, share_avoided, n1[..., 0], n0[..., 0], z)
        return out

    def _draw_counts(self, t: int, out: np.ndarray, avoided: np.ndarray, n1: np.ndarray, n0: np.ndarray,
                     z: np.ndarray) -> np.ndarray:
        """``out`` with its count outcomes' columns replaced by the events of period t's cohort
        over the tracking window: completers at the baseline rate times (1 - ``avoided``),
        dropouts at the baseline rate; ``n1``, ``n0`` (N, U) completers and dropouts."""
        out = np.array(out, dtype=np.float64, copy=True)
        rate0 = counterfactual_rate(self.s, self.d.drift, years_at(t, self.ppy))  # (O,) or (N, O)
        for j, k in enumerate(self.count_k):
            o = self.s.outcomes[k]
            shape = o.count.dispersion
            m0 = rate0[..., k] if rate0.ndim == 1 else rate0[:, k][:, None]
            m1 = m0 * (1.0 - avoided[..., j])
            if self.mode == "exact":
                zd = self.d.noise("outcomes_dropped", t)[..., k]
                out[..., k] = nbinom_from_normal(z[..., k], n1, m1, shape) + nbinom_from_normal(zd, n0, m0, shape)
                continue
            a1, v1, c1 = count_cumulants(n1, m1, shape)
            a0, v0, c0 = count_cumulants(n0, m0, shape)
            out[..., k] = count_from_normal(z[..., k], a1 + a0, v1 + v0, c1 + c0, None, self.mode)
        return out

    def success_probability(self, t: int) -> np.ndarray:
        """(N, U, O) probability that a completer enrolled in period t achieves each outcome."""
        # Participants enrol through the period: take the partners' maturity at its middle
        # (at its start understated outcomes by about 1% while partners mature; see the DES checks).
        years = (t + 0.5 - self.partner_start) / self.ppy  # (P,)
        m = [
            maturity(years[i], self.d.half_maturity[:, i], p.maturity.steepness, p.maturity.kind)
            for i, p in enumerate(self.s.partners)
        ]  # P arrays (N,)
        b = self.baseline
        if not self.zone:
            uplift = self.d.effect * np.stack(m, axis=1)[:, :, None]  # (N, P, O)
            return np.clip(b + uplift, 0.0, 1.0)
        # Zone: average over packages S (each partner reaches a participant independently).
        uplift = self._uplift
        for i in range(len(m)):
            np.multiply(self._effect_by_partner[i], m[i], out=uplift[i])
        return self._zone_average(uplift, self.reach * self.alive(t))

    def _zone_average(self, uplift: np.ndarray, r: np.ndarray) -> np.ndarray:
        """(N, 1, O) package-averaged success probability. ``uplift`` (P, O, N): each partner's
        uplift at this period's maturity (outcome-first: each outcome's paths are contiguous);
        ``r`` (N, P): the chance each partner serves a participant. Compiled, path by path
        (:func:`cib_sim.engine.kernels.zone.package_average`)."""
        gamma = self.s.delivery.interaction
        P = uplift.shape[0]
        # Without clipping the average is linear in the uplifts:
        # E[1{i in S} (1 + gamma (|S| - 1))] = r_i (1 + gamma * sum_{j != i} r_j).
        weight = np.ascontiguousarray((r * (1.0 + gamma * (rowsum(r)[:, None] - r))).T)  # (P, N)
        factor = package_factors(P, gamma)
        average = zone_kernels.package_average.for_paths(r.shape[0])
        avg = average(np.ascontiguousarray(uplift, dtype=np.float64), weight, np.ascontiguousarray(r, dtype=np.float64),
                      self.baseline, factor)
        return avg[:, None, :]


@functools.lru_cache(maxsize=32)
def package_factors(n_partners: int, gamma: float) -> np.ndarray:
    """(2**P,) each package's interaction factor ``1 + gamma (|S| - 1)`` (partner i is bit i of
    package S): worked out once per zone, not each period. Read-only."""
    size = np.array([bin(k).count("1") for k in range(1 << n_partners)], dtype=np.float64)
    factor = 1.0 + gamma * np.maximum(size - 1.0, 0.0)
    factor.flags.writeable = False
    return factor
