"""The reference model: a participant-level discrete-event simulation (simpy) of a Scenario.

The fast engine (:mod:`cib_sim.engine.delivery`) aggregates participants into counts per period. This
module simulates them one by one, so that the aggregation can be checked (DESIGN.md §3):

- per delivery unit (a partner in ``pipelines``, the partnership in ``zone``) referrals arrive
  as a Poisson process at the path's rate (``referrals x referral_multiplier`` a year) while the
  unit is open: inside its enrolment window, not exited (zone: some partner still delivering),
  and delivery not stopped for lack of funds;
- a referral takes a place if one is free (a simpy ``Resource`` with the unit's capacity), or
  queues for one; a queued referral gives up at the scenario's ``abandonment`` rate, and is turned
  away when the unit closes;
- an enrolled participant stays ``service_length`` (rounded to whole periods, as the engine
  does), or, with probability ``dropout``, drops out and stays half of that (rounded down, at least
  one period: the engine's documented rule); the place is then freed for the next in the queue;
- at enrolment each participant draws its outcomes: each with probability
  ``baseline + effect x maturity`` (dropouts: the baseline). In the ``zone`` model it first draws
  its package S, each partner still delivering reaching it independently with probability
  ``reach``, and achieves each outcome with probability
  ``clip(baseline + sum_{i in S} effect_i maturity_i x (1 + interaction (|S| - 1)))``;
- an outcome is verified ``lag`` after enrolment (whole periods); commissioners pay their share
  after their payment lag within thresholds, tiers and caps.

Time inside simpy is continuous, in periods (period t is ``[t, t + 1)``). What the contract counts
is bucketed by period exactly as the engine defines it: a participant belongs to the cohort of the
period it enrolled in; outcomes are verified in period ``enrolment period + lag``; costs are paid
per period in service.

The money side is written once: :class:`ParticipantDelivery` has the interface of
:class:`cib_sim.engine.delivery.DeliveryState` and is passed to :func:`cib_sim.engine.loop.run_paths`, which
runs the engine's rate card, commissioner ledger and waterfall on the participants' counts, and
stops delivery when the fund cannot pay (enrolments of that period are then cancelled, as in the
engine). A second, participant-level account of verification and payment
(:func:`contract_payments`) is kept for :func:`journeys` and to check the engine's payments exactly,
path by path.

Randomness: per-path parameters (effects, maturity, referral volume, exits, withdrawals) are the
engine's own draws (:func:`cib_sim.engine.sample.sample_block`, same seed, same blocks), so
``simulate_des(s, n, seed)`` path i has the same parameters as ``simulate(s, n, seed)`` path i.
Participant-level randomness comes from its own stream per path (a ``SeedSequence`` with the
block's spawn key extended by ``(DES_STREAM, i)``): results are the same whatever the number of
workers, and the two engines agree in distribution, not path by path.

Where the engine approximates, the reference model does not (:class:`DesOptions` can switch it to
the engine's rule, to measure the approximation):

- ``maturity_at``: a participant's success probability uses the partners' maturity at its own
  enrolment time; the engine uses the start of its enrolment period, which understates outcomes
  while partners mature (about 1% of outcome payments on the West London Zone scenario);
- the waiting list: each queued referral gives up with the period's probability at each period
  start, drawn person by person (the engine rounds the expected loss to whole people);
- ``zone_costs``: a zone partner is paid for the participants it actually serves; the engine
  pays ``reach`` of everyone in service, which has the same mean but no noise, so it understates
  the chance that a thin fund runs out (on a West London Zone contract scaled to 150 children,
  delivery stopped on 6.7% of paths against the engine's 5.4%).
  ``abandonment="continuous"`` is an alternative behaviour (exponential patience in continuous
  time, so a referral can give up within its first period), for sensitivity.

Speed: a Python loop over paths and participants (a few tens of microseconds an event). See
``benchmarks/bench_des.py``.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import simpy

from cib_sim.engine import run_paths
from cib_sim.engine.reduce import ChunkResult, reduce_chunk
from cib_sim.engine.sample import Draws, sample_block
from cib_sim.results import Results
from cib_sim.run.plan import BLOCK, RunPlan, block_seeds
from cib_sim.scenario import Outcome, Scenario

DES_STREAM = 0xDE5
"""Spawn-key element that separates the reference model's participant stream from the engine's."""

DES_SLICE = 64  # paths per piece of work: the participant-level model is slow (see RunPlan.slices)
"""Paths per job when work is spread over processes (results do not depend on it)."""


@dataclass(frozen=True)
class DesOptions:
    """How the reference model treats what the engine approximates, plus deliberately wrong
    variants used to show that the cross-check has teeth.

    maturity_at: ``enrolment`` (a participant's own enrolment time) or ``period_start`` (the
      start of its enrolment period, as the engine does).
    abandonment: ``period`` (each queued referral gives up with probability
      ``1 - (1 - abandonment) ** (1 / periods_per_year)`` at each period start, as the engine's
      waiting list does, but drawn per person rather than rounded) or ``continuous``
      (exponential patience with the same chance of giving up within a year, at any time).
    zone_costs: ``served`` (a zone partner is paid for the participants in its packages, as
      ``Partner.cost`` is per participant served) or ``expected`` (for ``reach`` of every
      participant in service, as the engine does: the same on average, without the noise of who
      was actually served, which matters when a thin fund may run out).
    ignore_capacity: WRONG on purpose: every referral is enrolled at once (for the test that
      the cross-check has teeth).
    """

    maturity_at: Literal["enrolment", "period_start"] = "enrolment"
    abandonment: Literal["period", "continuous"] = "period"
    zone_costs: Literal["served", "expected"] = "served"
    ignore_capacity: bool = False


# --------------------------------------------------------------------------------------------
# The contract in periods


@dataclass(frozen=True)
class UnitPlan:
    """Per-unit parameters in periods, arrays of shape (U,). Same names as
    :class:`cib_sim.engine.delivery.UnitPlan` (the rate card reads ``end``), derived independently."""

    referrals: np.ndarray  # expected referrals per period (before the path's multiplier)
    capacity: np.ndarray  # places
    start: np.ndarray  # first enrolment period
    end: np.ndarray  # first period with no enrolment
    service: np.ndarray  # periods in service (completers)
    dropout_stay: np.ndarray  # periods a dropout stays
    dropout: np.ndarray  # probability
    abandonment: np.ndarray  # probability a year


def plan_units(s: Scenario) -> UnitPlan:
    h = s.horizon
    ppy, T = h.periods_per_year, h.n_periods
    units = [s.delivery] if s.delivery.model == "zone" else list(s.partners)

    def periods(years: float) -> int:
        return round(years * ppy)

    service = np.array([max(1, periods(u.service_length)) for u in units], dtype=np.int64)
    return UnitPlan(
        referrals=np.array([(u.referrals or 0.0) / ppy for u in units]),
        capacity=np.array([math.floor((u.capacity or 0.0) + 1e-9) for u in units], dtype=np.int64),
        start=np.array([periods(u.enrolment_start) for u in units], dtype=np.int64),
        end=np.array([T if u.enrolment_end is None else min(T, periods(u.enrolment_end)) for u in units], dtype=np.int64),
        service=service,
        dropout_stay=np.maximum(1, service // 2),
        dropout=np.array([u.dropout for u in units]),
        abandonment=np.array([u.abandonment for u in units]),
    )


# --------------------------------------------------------------------------------------------
# One path: the simpy model


class _Person:
    """One referral and, if enrolled, participant. Times in periods from the contract start."""

    __slots__ = ("dropped", "outcomes", "package", "period", "pid", "status", "stay", "t_end", "t_ref", "unit")

    WAITING, ENROLLED, ABANDONED, TURNED_AWAY = "waiting", "enrolled", "abandoned", "turned_away"

    def __init__(self, pid: int, unit: int, t_ref: float):
        self.pid, self.unit, self.t_ref = pid, unit, t_ref
        self.t_end = math.nan  # enrolment time, or the time it left the queue
        self.status = _Person.WAITING
        self.period = -1  # enrolment period
        self.dropped = False
        self.stay = 0  # periods in service
        self.package: tuple[int, ...] = ()  # partners serving it
        self.outcomes: list[bool] | None = None  # one per outcome


class _Unit:
    __slots__ = ("close_at", "closed", "lam", "open", "queue", "res", "u")

    def __init__(self, u: int):
        self.u = u
        self.res: simpy.Resource | None = None
        self.open = False
        self.closed: simpy.Event | None = None
        self.queue: dict[int, _Person] = {}
        self.lam = 0.0
        self.close_at = 0


class _Path:
    """The participant-level simulation of one path, stepped a period at a time."""

    BUFFER = 1024  # uniforms drawn at a time

    def __init__(self, dl: ParticipantDelivery, n: int, rng: np.random.Generator):
        self.dl, self.n, self.rng = dl, n, rng
        self.env = simpy.Environment()
        self.people: list[_Person] = []
        self.pending: list[_Person] = []  # enrolled in the period being proposed
        self.stopped = False
        self._buf: list[float] = []
        self._pos = 0
        m = dl
        d = m.draws
        P, O = m.P, m.O
        self.effect = d.effect[n].tolist()  # [P][O]
        self.drift = None if d.drift is None else d.drift[n].tolist()  # [O]
        self.half = d.half_maturity[n].tolist()  # [P]
        self.exit = d.exit_period[n].tolist()  # [P]
        plan = m.plan
        self.units = []
        for u in range(m.U):
            unit = _Unit(u)
            unit.lam = float(plan.referrals[u] * d.referral_multiplier[n, u])
            exit_u = max(self.exit) if m.zone else self.exit[u]
            unit.close_at = int(min(plan.end[u], exit_u))
            cap = int(plan.capacity[u]) if not m.opts.ignore_capacity else 10**9
            unit.res = simpy.Resource(self.env, capacity=cap) if cap > 0 else None
            unit.closed = self.env.event()
            self.units.append(unit)
            if unit.close_at > plan.start[u]:
                self.env.process(self._open(unit, int(plan.start[u])))
        # Maturity of each partner at the start of each period (maturity_at="period_start").
        self.maturity_period = [[self._maturity(i, (t - m.partner_start[i]) / m.ppy) for i in range(P)] for t in range(m.T)]
        # This period's counts: enrolled, dropped (U); achieved (U, O); served by each partner,
        # completers and dropouts (P).
        self.c_enrolled = [0] * m.U
        self.c_dropped = [0] * m.U
        self.c_achieved = [[0] * O for _ in range(m.U)]
        self.c_served = [0] * P
        self.c_served_dropped = [0] * P

    def _uniform(self) -> float:
        if self._pos >= len(self._buf):
            self._buf = self.rng.random(self.BUFFER).tolist()
            self._pos = 0
        x = self._buf[self._pos]
        self._pos += 1
        return x

    def _exponential(self, scale: float) -> float:
        return -math.log1p(-self._uniform()) * scale

    def _maturity(self, i: int, years: float) -> float:
        """Share of partner i's full effect ``years`` after it started delivering."""
        m = self.dl
        if m.immediate[i]:
            return 1.0
        x = (years - self.half[i]) / m.steepness[i]
        return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0

    # ---- processes
    def _open(self, unit: _Unit, start: int):
        env = self.env
        if start > 0:
            yield env.timeout(start)
        unit.open = True
        env.process(self._close(unit))
        if unit.lam <= 0:
            return
        scale = 1.0 / unit.lam
        while True:
            yield env.timeout(self._exponential(scale))
            if not unit.open:
                return
            env.process(self._referral(unit))

    def _close(self, unit: _Unit):
        yield self.env.timeout(unit.close_at - self.env.now)
        unit.open = False
        unit.closed.succeed()  # wakes every queued referral: turned away

    def _patience(self, unit: _Unit) -> float | None:
        """Periods a referral who has to queue waits before giving up (None: for ever)."""
        a = float(self.dl.plan.abandonment[unit.u])
        if a <= 0:
            return None
        if a >= 1:
            keep = 0.0
        else:
            keep = (1.0 - a) ** (1.0 / self.dl.ppy)  # chance to still be waiting a period later
        if self.dl.opts.abandonment == "continuous":
            return 0.0 if keep <= 0 else self._exponential(-1.0 / math.log(keep))
        # "period": at each period start a queued referral gives up with probability 1 - keep,
        # so the number of period starts until it does is geometric.
        k = 1 if keep <= 0 else 1 + math.floor(math.log1p(-self._uniform()) / math.log(keep))
        now = self.env.now
        return math.floor(now) + k - now

    def _referral(self, unit: _Unit):
        env = self.env
        p = _Person(len(self.people), unit.u, env.now)
        self.people.append(p)
        if unit.res is None:  # no places at all: wait to give up or be turned away
            req = None
            events = [unit.closed]
        else:
            req = unit.res.request()
            events = None if req.triggered else [req, unit.closed]
        if events is not None:
            patience = self._patience(unit)
            if patience is not None:
                events.append(env.timeout(patience))
            unit.queue[p.pid] = p
            yield env.any_of(events)
            del unit.queue[p.pid]
            if req is None or not req.triggered or not unit.open:
                if req is not None:
                    if req.triggered:
                        unit.res.release(req)
                    else:
                        req.cancel()
                p.status = _Person.TURNED_AWAY if unit.closed.triggered else _Person.ABANDONED
                p.t_end = env.now
                return
        self._enrol(p, unit)
        yield env.timeout(p.stay)
        unit.res.release(req)

    def _enrol(self, p: _Person, unit: _Unit) -> None:
        m = self.dl
        plan = m.plan
        x = self.env.now
        e = int(x)
        u = unit.u
        p.status, p.t_end, p.period = _Person.ENROLLED, x, e
        p.dropped = self._uniform() < plan.dropout[u]
        p.stay = int(plan.dropout_stay[u] if p.dropped else plan.service[u])
        if m.zone:
            exits, reach = self.exit, m.reach
            p.package = tuple(i for i in range(m.P) if self._uniform() < reach[i] and e < exits[i])
        else:
            p.package = (u,)
        baseline = m.baseline
        if p.dropped:
            prob = baseline
            if m.count_k:
                prob = list(prob)
        else:
            if m.opts.maturity_at == "enrolment":
                mat = [self._maturity(i, (x - m.partner_start[i]) / m.ppy) for i in p.package]
            else:
                row = self.maturity_period[e]
                mat = [row[i] for i in p.package]
            factor = 1.0 + m.interaction * (len(p.package) - 1) if m.zone and len(p.package) > 1 else 1.0
            prob = []
            for k in range(m.O):
                total = 0.0
                for i, mi in zip(p.package, mat):
                    total += self.effect[i][k] * mi
                prob.append(min(1.0, max(0.0, baseline[k] + total * factor)))
        if m.drift is not None or m.count_k:
            p.outcomes = self._draw_outcomes(p, prob, x)
        else:
            p.outcomes = [self._uniform() < prob[k] for k in range(m.O)]
        self.pending.append(p)
        self._count(p, +1)

    def _draw_outcomes(self, p: _Person, prob: list[float], x: float) -> list:
        """A participant's outcomes with count outcomes or a drift: a binary outcome's
        probability moves by the path's drift (to the participant's enrolment time) and is drawn
        as usual; a count outcome's events over its tracking window are Poisson, or gamma-Poisson
        (negative binomial), at the baseline rate (moved by the drift) times one less the share
        avoided (``prob``, computed with a baseline of 0; dropouts avoid nothing)."""
        m = self.dl
        years = x / m.ppy
        out: list = []
        for k in range(m.O):
            d = 0.0 if m.drift is None else self.drift[k] * years
            if k not in m.count_set:
                out.append(self._uniform() < min(1.0, max(0.0, prob[k] + d)))
                continue
            avoided = 0.0 if p.dropped else prob[k]
            mu = m.events0[k] * max(0.0, 1.0 + d) * (1.0 - avoided)
            shape = m.dispersion[k]
            if mu <= 0:
                out.append(0)
                continue
            lam = mu if shape is None else self.rng.gamma(shape, mu / shape)
            out.append(int(self.rng.poisson(lam)))
        return out

    def _count(self, p: _Person, sign: int) -> None:
        u = p.unit
        self.c_enrolled[u] += sign
        ach = self.c_achieved[u]
        for k, hit in enumerate(p.outcomes):
            if hit:
                ach[k] += sign * hit
        if p.dropped:
            self.c_dropped[u] += sign
            for i in p.package:
                self.c_served_dropped[i] += sign
        else:
            for i in p.package:
                self.c_served[i] += sign

    # ---- stepping
    def run_period(self, t: int) -> None:
        """Simulate period t; its counts are left in the ``c_*`` lists."""
        m = self.dl
        self.pending = []
        self.c_enrolled = [0] * m.U
        self.c_dropped = [0] * m.U
        self.c_achieved = [[0] * m.O for _ in range(m.U)]
        self.c_served = [0] * m.P
        self.c_served_dropped = [0] * m.P
        self.env.run(until=t + 1)

    def stop(self, t: int) -> None:
        """Delivery stopped in period t for lack of funds: that period's enrolments are
        cancelled and everyone queued is turned away at its end."""
        for p in self.pending:
            p.status, p.t_end, p.period, p.outcomes, p.package = _Person.TURNED_AWAY, float(t + 1), -1, None, ()
        self.pending = []
        for unit in self.units:
            for p in unit.queue.values():
                p.status, p.t_end = _Person.TURNED_AWAY, float(t + 1)
            unit.queue.clear()
            unit.open = False
        self.stopped = True

    def queued(self) -> list[int]:
        return [len(unit.queue) for unit in self.units]


# --------------------------------------------------------------------------------------------
# The delivery interface the engine's run_paths expects


class ParticipantDelivery:
    """Participant-level delivery for a block of N paths, with the interface of
    :class:`cib_sim.engine.delivery.DeliveryState`: ``propose(t, stopped)`` simulates period t and
    returns the enrolments it made (N, U); ``service_costs``/``fixed_costs`` are (N, P) currency;
    ``commit(t, funded)`` keeps them, or cancels them where unfunded (delivery then stops).

    History arrays: ``enrolled``, ``dropped`` (N, T, U) and ``achieved`` (N, T, U, O) by
    enrolment period; ``served``, ``served_dropped`` (N, T, P) participants each partner took on
    (completers, dropouts) by enrolment period; ``waiting`` (N, U) queued at the end of the last
    period run. ``paths[n].people`` lists every referral of path n (see :func:`journeys`).
    """

    def __init__(self, s: Scenario, draws: Draws, seeds: list[np.random.SeedSequence], options: DesOptions | None = None):
        self.s, self.draws = s, draws
        self.opts = options or DesOptions()
        self.plan = plan_units(s)
        h = s.horizon
        self.T, self.ppy = h.n_periods, h.periods_per_year
        self.zone = s.delivery.model == "zone"
        P, O = len(s.partners), len(s.outcomes)
        U = 1 if self.zone else P
        N = draws.effect.shape[0]
        self.N, self.P, self.O, self.U = N, P, O, U
        self.partner_unit = np.zeros(P, dtype=np.int64) if self.zone else np.arange(P)
        self.partner_start = self.plan.start[self.partner_unit].astype(np.float64).tolist()  # [P]
        # Count outcomes: the probability is the share of events avoided (baseline 0, as the engine).
        self.baseline = [0.0 if o.kind == "count" else o.baseline_rate for o in s.outcomes]
        self.count_k = [k for k, o in enumerate(s.outcomes) if o.kind == "count"]
        self.count_set = set(self.count_k)
        self.events0 = [o.baseline_events for o in s.outcomes]
        self.dispersion = [o.count.dispersion if o.count is not None else None for o in s.outcomes]
        self.drift = draws.drift
        self.reach = [p.reach for p in s.partners]
        self.interaction = s.delivery.interaction
        self.immediate = [p.maturity.kind == "immediate" for p in s.partners]
        self.steepness = [p.maturity.steepness for p in s.partners]
        self.service_p = self.plan.service[self.partner_unit]  # (P,) periods
        self.stay_p = self.plan.dropout_stay[self.partner_unit]  # (P,)
        self.cost_per_period = np.array([p.cost * p.contract.upfront_share for p in s.partners]) / self.service_p
        self.fixed_per_period = np.array([p.fixed_cost for p in s.partners]) / self.ppy
        T = self.T
        # Stored period-first like the engine's DeliveryState; exposed as (N, T, ...) views.
        self.enrolled = np.zeros((T, N, U)).transpose(1, 0, 2)
        self.dropped = np.zeros((T, N, U)).transpose(1, 0, 2)
        self.achieved = np.zeros((T, N, U, O)).transpose(1, 0, 2, 3)
        self.served = np.zeros((T, N, P)).transpose(1, 0, 2)
        self.served_dropped = np.zeros((T, N, P)).transpose(1, 0, 2)
        self.waiting = np.zeros((N, U))
        self.paths = [_Path(self, n, np.random.Generator(np.random.PCG64(seeds[n]))) for n in range(N)]

    def alive(self, t: int) -> np.ndarray:
        """(N, P) partners still delivering in period t."""
        return t < self.draws.exit_period

    def propose(self, t: int, stopped: np.ndarray) -> np.ndarray:
        """(N, U) participants the units enrolled in period t (simulated, not yet committed)."""
        for n, path in enumerate(self.paths):
            if stopped[n] or path.stopped:
                continue
            path.run_period(t)
            self.enrolled[n, t] = path.c_enrolled
            self.dropped[n, t] = path.c_dropped
            self.achieved[n, t] = path.c_achieved
            self.served[n, t] = path.c_served
            self.served_dropped[n, t] = path.c_served_dropped
            self.waiting[n] = path.queued()
        return self.enrolled[:, t].copy()

    def in_service(self, t: int, through: int) -> np.ndarray:
        """(N, P) participants each partner serves in period t among those enrolled in periods
        before ``through`` (a completer enrolled in e is served in e .. e + service - 1, a dropout
        in e .. e + dropout stay - 1)."""
        out = np.zeros((self.N, self.P))
        for i in range(self.P):
            lo_c = max(0, t - int(self.service_p[i]) + 1)
            lo_d = max(0, t - int(self.stay_p[i]) + 1)
            out[:, i] = self.served[:, lo_c:through, i].sum(axis=1) + self.served_dropped[:, lo_d:through, i].sum(axis=1)
        return out

    def caseload(self, t: int) -> np.ndarray:
        """(N, U) participants in service in period t among those enrolled before t."""
        p = self.plan
        out = np.zeros((self.N, self.U))
        for u in range(self.U):
            lo_c, lo_d = max(0, t - int(p.service[u]) + 1), max(0, t - int(p.dropout_stay[u]) + 1)
            completers = self.enrolled[:, lo_c:t, u].sum(axis=1) - self.dropped[:, lo_c:t, u].sum(axis=1)
            out[:, u] = completers + self.dropped[:, lo_d:t, u].sum(axis=1)
        return out

    def service_costs(self, t: int, enrol: np.ndarray) -> np.ndarray:
        """(N, P) payments to partners for the participants they serve in period t: those
        enrolled earlier and still in service, plus the share ``enrol / proposed`` of period t's
        enrolments. In the zone model a partner is paid for the participants in its package while
        it delivers (``zone_costs="expected"``: for ``reach`` of all of them); in pipelines for
        its caseload (the engine's rule, also after an exit)."""
        proposed = self.enrolled[:, t]
        if self.zone and self.opts.zone_costs == "expected":
            serving = (self.caseload(t) + enrol)[:, self.partner_unit] * np.asarray(self.reach)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = np.where(proposed > 0, enrol / np.where(proposed > 0, proposed, 1.0), 0.0)
            new = (self.served[:, t] + self.served_dropped[:, t]) * frac[:, self.partner_unit]
            serving = self.in_service(t, t) + new
        if self.zone:
            serving = serving * self.alive(t)
        return serving * self.cost_per_period

    def fixed_costs(self, t: int, stopped: np.ndarray) -> np.ndarray:
        """(N, P) fixed costs in period t: from a partner's (zone: the zone's) first enrolment
        period until the service of its last possible cohort (enrolled in the window's last
        period) ends, while it delivers and is funded."""
        p = self.plan
        u = self.partner_unit
        window = (p.start[u] <= t) & (t < p.end[u] - 1 + p.service[u])  # (P,)
        return self.fixed_per_period * (window[None, :] & self.alive(t) & ~stopped[:, None])

    def commit(self, t: int, funded: np.ndarray) -> None:
        """Keep period t's enrolments; where unfunded, cancel them and stop delivery for good."""
        for n in np.flatnonzero(~funded):
            path = self.paths[n]
            if path.stopped:
                continue
            path.stop(t)
            for arr in (self.enrolled, self.dropped, self.achieved, self.served, self.served_dropped):
                arr[n, t] = 0.0
            self.waiting[n] = 0.0


# --------------------------------------------------------------------------------------------
# Verification and payment, participant by participant (an independent account of payments.py)


def _improvement(rate: float, baseline: float, measure: str, count: bool = False) -> float:
    diff = baseline - rate if count else rate - baseline
    if measure == "absolute":
        return diff
    denom = baseline if (measure == "relative" or count) else 1.0 - baseline
    if denom <= 0:
        return math.inf if diff > 0 else 0.0
    return diff / denom


def cohort_value(o: Outcome, achieved: float, enrolled: float, baseline: float | None = None) -> tuple[float, float]:
    """``(payable, before the per-participant cap)`` for one assessment cohort, currency, measured
    against ``baseline`` outcomes per participant (default the outcome's own; a control group's
    rate). A count outcome's ``achieved`` is its events; it pays per event avoided."""
    count = o.kind == "count"
    b = o.baseline_events if baseline is None else baseline
    if o.payment_basis == "rate_card" and not count:
        value = o.price * achieved
    elif enrolled <= 0:
        value = 0.0
    else:
        imp = _improvement(achieved / enrolled, b, o.improvement, count)
        above = max(0.0, b * enrolled - achieved) if count else max(0.0, achieved - b * enrolled)
        if o.payment_basis == "rate_card":
            value = o.price * above
        elif o.payment_basis == "above_baseline":
            value = (o.price if imp >= o.threshold - 1e-12 else 0.0) * above
        elif o.payment_basis == "tiered":
            reached = [t.price for t in o.tiers if imp >= t.min_improvement - 1e-12]
            value = (reached[-1] if reached else 0.0) * above
        else:
            steps = [st.amount for st in o.schedule if imp >= st.min_improvement - 1e-12]
            value = steps[-1] if steps else 0.0
    capped = value if o.max_per_participant is None else min(value, o.max_per_participant * enrolled)
    return capped, value


def control_outcomes(s: Scenario, o: Outcome, z: float, rate: float) -> tuple[float, float]:
    """``(outcomes, people)`` of a control group of ``o.comparison.size`` (rounded) whose rate
    per person is ``rate``, from the standard normal ``z``: the exact binomial, or negative
    binomial (Poisson) total, by inverse CDF; with uncertainty off, its expectation."""
    from scipy import special, stats

    m = float(max(1, round(o.control_size)))
    if not s.uncertainty.enabled or rate <= 0:
        return m * rate, m
    u = float(special.ndtr(z))
    if o.kind == "binary":
        return float(stats.binom.ppf(u, m, min(1.0, rate))), m
    shape = o.count.dispersion
    if shape is None:
        return float(stats.poisson.ppf(u, m * rate)), m
    r = m * shape
    return float(stats.nbinom.ppf(u, r, r / (r + m * rate))), m


def _no_intervention_rate(s: Scenario, k: int, drift: float | None, enrolled: np.ndarray) -> float:
    """Outcomes per person without the intervention for a cohort enrolled ``enrolled`` (periods,)
    in periods 0.. : the baseline, or moved by ``drift`` a year to the middle of each period of
    enrolment, weighted by enrolments."""
    o = s.outcomes[k]
    b = o.baseline_events
    if drift is None:
        return b
    ppy = s.horizon.periods_per_year

    def at(t: int) -> float:
        d = drift * (t + 0.5) / ppy
        return b * max(0.0, 1.0 + d) if o.kind == "count" else min(1.0, max(0.0, b + d))

    periods = np.flatnonzero(enrolled > 0)
    if periods.size == 0:
        return at(len(enrolled) - 1)
    return float(sum(enrolled[t] * at(t) for t in periods) / enrolled[periods].sum())


def payment_offsets(o: Outcome, ppy: int) -> list[int]:
    """Periods from a cohort's last enrolment period to each payment: ``lag``, then for a count
    outcome in ``instalments`` equal parts, one every ``window_years / instalments``."""
    lag = verification_lag(o, ppy)
    if o.count is None:
        return [lag]
    n, w = o.count.instalments, o.count.window_years
    return [lag + round(j * w * ppy / n) for j in range(n)]


def verification_lag(o: Outcome, ppy: int) -> int:
    """Periods from a cohort's last enrolment period to its verification: ``lag`` rounded to
    whole periods. With 0 the cohort is verified in its own enrolment period, once that period's
    enrolments are known (in a period, delivery and its costs come first, then verification and
    payment, so what is paid in period t never funds period t's own enrolments)."""
    return round(o.lag * ppy)


def replace_outcome(o: Outcome, **changes: Any) -> Outcome:
    return o.model_copy(update=changes)


@dataclass
class PathPayments:
    """One path's verification and payments. ``earned`` (T, O) by verification period;
    ``paid`` (T, C) cash from each commissioner; ``paid_fraction`` (T, C) of what fell due;
    ``earned_after_horizon`` (O,) verified after the horizon; ``due_after_horizon``,
    ``lost_to_caps``, ``lost_to_withdrawal`` (C,); ``cohorts``: one row per (unit, outcome,
    assessment cohort), with its period of verification."""

    earned: np.ndarray
    paid: np.ndarray
    paid_fraction: np.ndarray
    earned_after_horizon: np.ndarray
    due_after_horizon: np.ndarray
    lost_to_caps: np.ndarray
    lost_to_withdrawal: np.ndarray
    cohorts: list[dict[str, Any]]


def contract_payments(
    s: Scenario, enrolled: np.ndarray, achieved: np.ndarray, withdraw_period: np.ndarray,
    draws: Draws | None = None, path: int = 0,
) -> PathPayments:
    """Verification and payment for one path from its cohorts, written from the contract's
    rules (see :mod:`cib_sim.engine.payments`) as plain loops. ``enrolled`` (T, U), ``achieved``
    (T, U, O) by enrolment period; ``withdraw_period`` (C,).

    A cohort of outcome k is the enrolments of ``cohort_years`` (default one period), counted
    from the unit's enrolment start (``cohorts_from``: or the contract start) and cut at the unit's
    last enrolment period; it is verified ``lag`` periods
    after its last period (:func:`verification_lag`; the last cohort also earns any ``overall_threshold`` top-up: all
    cohorts together, less what they earned) and commissioner c pays ``share[c, k]`` of its value
    ``payment_lag`` later, within its annual budget (contract years) and total cap, unless
    withdrawn; what a cap or withdrawal stops, or what falls due after the horizon (recorded), is
    never paid.

    Count outcomes pay in instalments over their tracking window; a ``lump_sum`` for the
    ``programme`` is assessed once, after the last enrolment, and attributed to units pro rata to
    their enrolments. With a control group (or a drift) ``draws`` (the path's engine draws, path
    ``path``) give its normals and the drift; its outcomes are recomputed here by exact inverse CDF.
    """
    h = s.horizon
    T, ppy = h.n_periods, h.periods_per_year
    plan = plan_units(s)
    U, O, C = enrolled.shape[1], len(s.outcomes), len(s.commissioners)
    earned = np.zeros((T, O))
    due = np.zeros((T, C))
    after = np.zeros(C)
    earned_after = np.zeros(O)
    cohorts = []
    lags_c = [round(c.payment_lag * ppy) for c in s.commissioners]

    def book(k: int, o: Outcome, row: dict, value: float) -> None:
        """Earn ``value`` of cohort ``row`` in its instalments and book commissioners' dues."""
        offsets = payment_offsets(o, ppy)
        for off in offsets:
            part = value / len(offsets) if len(offsets) > 1 else value
            verified = row["last"] + off
            if verified < T:
                earned[verified, k] += part
            else:
                earned_after[k] += part
            for c, com in enumerate(s.commissioners):
                amount = part * com.shares.get(o.name, 0.0)
                when = verified + lags_c[c]
                if when >= T:
                    after[c] += amount
                else:
                    due[when, c] += amount

    drift_n = None if draws is None or draws.drift is None else draws.drift[path]
    for k, o in enumerate(s.outcomes):
        lag = verification_lag(o, ppy)
        group = max(1, round(o.cohort_years * ppy)) if o.cohort_years is not None else 1
        d_k = None if drift_n is None else float(drift_n[k])

        def measured(u: int | None, first: int, last: int) -> tuple[float | None, float, float]:
            if o.control_size is None:
                return None, 0.0, 0.0
            n_t = enrolled[: last + 1].sum(axis=1) if u is None else enrolled[: last + 1, u]
            n_t = np.where(np.arange(last + 1) >= first, n_t, 0.0)
            rate = _no_intervention_rate(s, k, d_k, n_t)
            c, m = control_outcomes(s, o, float(draws.z_control[last, path, 0 if u is None else u, k]), rate)
            return c / m, c, m

        if o.schedule_per == "programme":
            last = int(plan.end.max()) - 1
            n = float(enrolled[: last + 1].sum())
            a = float(achieved[: last + 1, :, k].sum())
            b, _, _ = measured(None, 0, last)
            value, uncapped = cohort_value(o, a, n, b)
            for u in range(U):
                n_u = float(enrolled[: last + 1, u].sum())
                share = n_u / n if n > 0 else 0.0
                row = {"unit": u, "outcome": k, "first": 0, "last": last, "verified": last + lag,
                       "enrolled": n_u, "achieved": float(achieved[: last + 1, u, k].sum()), "value": value * share,
                       "uncapped": uncapped * share}
                cohorts.append(row)
                book(k, o, row, value * share)
            continue
        for u in range(U):
            start, end = int(plan.start[u]), int(plan.end[u])
            controls, people = 0.0, 0.0
            # Cohorts are counted from the unit's enrolment start (or the contract start).
            origin = start if o.cohorts_from == "enrolment_start" else 0
            for first in range(start - (start - origin) % group, end, group):
                last = min(first + group, end) - 1
                first = max(first, start)
                verified = last + lag
                n = float(enrolled[first : last + 1, u].sum())
                a = float(achieved[first : last + 1, u, k].sum())
                b, c_out, c_people = measured(u, first, last)
                controls, people = controls + c_out, people + c_people
                value, uncapped = cohort_value(o, a, n, b)
                if o.overall_threshold is not None and last == end - 1:
                    # The last cohort's assessment also looks at all cohorts together (and at all
                    # their control groups together).
                    everyone = replace_outcome(o, threshold=o.overall_threshold)
                    total, _ = cohort_value(everyone, float(achieved[: last + 1, u, k].sum()),
                                            float(enrolled[: last + 1, u].sum()), None if b is None else controls / people)
                    already = sum(c["value"] for c in cohorts if c["unit"] == u and c["outcome"] == k)
                    top_up = max(0.0, total - already - value)
                    value, uncapped = value + top_up, uncapped + top_up
                row = {"unit": u, "outcome": k, "first": first, "last": last, "verified": verified,
                       "enrolled": n, "achieved": a, "value": value, "uncapped": uncapped}
                cohorts.append(row)
                book(k, o, row, value)
    paid = np.zeros((T, C))
    frac = np.zeros((T, C))
    lost_caps, lost_wd = np.zeros(C), np.zeros(C)
    for c, com in enumerate(s.commissioners):
        annual = com.annual_budget if com.annual_budget is not None else math.inf
        total = com.total_cap if com.total_cap is not None else math.inf
        this_year = so_far = 0.0
        for t in range(T):
            if t % ppy == 0:
                this_year = 0.0
            if due[t, c] <= 0:
                continue
            if t >= withdraw_period[c]:
                lost_wd[c] += due[t, c]
                continue
            x = min(due[t, c], max(0.0, min(annual - this_year, total - so_far)))
            lost_caps[c] += due[t, c] - x
            paid[t, c], frac[t, c] = x, x / due[t, c]
            this_year += x
            so_far += x
    return PathPayments(earned, paid, frac, earned_after, after, lost_caps, lost_wd, cohorts)


# --------------------------------------------------------------------------------------------
# Running it


def path_seeds(block_seed: np.random.SeedSequence, n: int) -> list[np.random.SeedSequence]:
    """Participant-level seeds for the ``n`` paths of one block, independent of the engine's."""
    return [
        np.random.SeedSequence(block_seed.entropy, spawn_key=tuple(block_seed.spawn_key) + (DES_STREAM, i))
        for i in range(n)
    ]


def run_block(
    s: Scenario, block_seed: np.random.SeedSequence, size: int, paths: range | None = None,
    options: DesOptions | None = None,
) -> tuple[dict[str, np.ndarray], ParticipantDelivery]:
    """Run paths ``paths`` (default all) of a block of ``size`` paths through the reference
    model and the engine's payments and waterfall. Returns ``run_paths``' flows and the delivery
    object (participants in ``.paths[i].people``)."""
    paths = range(size) if paths is None else paths
    draws = sample_block(s, block_seed, size)
    idx = np.arange(paths.start, paths.stop)
    if len(idx) != size:
        draws = draws.subset(idx)
    seeds = path_seeds(block_seed, size)[paths.start : paths.stop]
    dl = ParticipantDelivery(s, draws, seeds, options)
    flows = run_paths(s, draws, "exact", delivery=dl)  # type: ignore[arg-type]
    return flows, dl


def _job(payload: tuple) -> ChunkResult:
    text, seed, size, start, stop, options, keep = payload
    s = Scenario.model_validate_json(text)
    flows, _ = run_block(s, seed, size, range(start, stop), options)
    # One "block" a path: period sums then add up in path order, whatever the chunks.
    return reduce_chunk(s, flows, keep, [1] * (stop - start))


def simulate_des(
    scenario: Scenario,
    n_paths: int = 200,
    seed: int = 1,
    *,
    workers: int = 1,
    keep_paths: int = 2_000,
    options: DesOptions | None = None,
    chunk_size: int = DES_SLICE,
) -> Results:
    """Monte Carlo over ``n_paths`` paths of the participant-level reference model.

    Returns the same :class:`~cib_sim.results.Results` as :func:`cib_sim.run.simulation.simulate`
    (``engine="des"``, ``mode="participant"``); path i has the engine's parameter draws for
    ``simulate(scenario, n_paths, seed)`` path i. ``workers`` processes share the paths in chunks
    of ``chunk_size``; results do not depend on either. About a thousand times slower than the
    fast engine: use hundreds or a few thousand paths.
    """
    if not isinstance(n_paths, (int, np.integer)) or n_paths < 1:
        raise ValueError(f"n_paths: must be a whole number >= 1 (got {n_paths!r})")
    if workers < 1:
        raise ValueError(f"workers: must be >= 1 (got {workers})")
    # The run planner's blocks and seeds, in pieces of chunk_size paths (the model is slow).
    text = scenario.model_dump_json()
    plan = RunPlan.make(n_paths, seed)
    jobs = [(text, b.seed, b.size, start, stop, options, keep) for b, start, stop, keep in plan.slices(chunk_size, keep_paths)]
    if workers == 1 or len(jobs) == 1:
        parts = [_job(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=min(workers, os.cpu_count() or 1, len(jobs))) as ex:
            parts = list(ex.map(_job, jobs))
    res = Results.from_chunks(scenario, parts, seed=seed, mode="participant", engine="des")
    res.extra["des_options"] = options or DesOptions()
    return res


def journeys(scenario: Scenario, seed: int = 1, path: int = 0, n_paths: int | None = None,
             options: DesOptions | None = None) -> pd.DataFrame:
    """Every event of one path, participant by participant: path ``path`` of
    ``simulate_des(scenario, n_paths, seed)`` (``n_paths`` default ``path + 1``).

    Columns: ``participant`` (id; -1 for a cohort's payment), ``unit`` (partner, or ``zone``),
    ``event`` (``referred``, ``enrolled``, ``abandoned``, ``turned_away`` (the unit closed, or
    delivery stopped, while queued), ``dropped_out``, ``completed``, ``outcome_achieved``,
    ``paid``), ``time`` (years from the start), ``period`` (the contract period it counts in),
    ``outcome``, ``commissioner`` and ``amount`` (currency, for ``paid``). An outcome is dated at
    its verification (enrolment + lag). ``paid`` rows: per participant for binary ``rate_card``
    outcomes (its share of the commissioner's payment after caps); per cohort (participant -1)
    for the other bases and for count outcomes (one row per instalment). A count outcome's
    ``outcome_achieved`` row marks a participant with at least one event.
    """
    n_paths = path + 1 if n_paths is None else n_paths
    if not 0 <= path < n_paths:
        raise IndexError(f"path: {path} is not one of the {n_paths} paths")
    b, i = divmod(path, BLOCK)
    sd = block_seeds(seed, n_paths)[b]
    size = min(BLOCK, n_paths - b * BLOCK)
    flows, dl = run_block(scenario, sd, size, range(i, i + 1), options)
    s = scenario
    ppy = s.horizon.periods_per_year
    units = ["zone"] if dl.zone else s.partner_names
    pay = contract_payments(s, dl.enrolled[0], dl.achieved[0], dl.draws.withdraw_period[0], dl.draws, 0)
    rows: list[tuple] = []

    def add(pid, unit, event, t, period=None, outcome=None, com=None, amount=math.nan):
        rows.append((pid, units[unit], event, t / ppy, math.floor(t) if period is None else period, outcome, com, amount))

    lags = [verification_lag(o, ppy) for o in s.outcomes]
    lag_c = [round(c.payment_lag * ppy) for c in s.commissioners]
    # Rate-card payments per participant: its outcome's price after the cohort's cap, times the
    # share of what fell due that the commissioner paid in that period.
    cohort_of = {(c["unit"], c["outcome"], c["first"]): c for c in pay.cohorts}
    group = [max(1, round(o.cohort_years * ppy)) if o.cohort_years is not None else 1 for o in s.outcomes]
    starts = plan_units(s).start

    def cohort_first(u: int, k: int, t: int) -> int:
        """First enrolment period of the cohort holding unit u's enrolment period t."""
        start = int(starts[u])
        origin = start if s.outcomes[k].cohorts_from == "enrolment_start" else 0
        return max(start, t - (t - origin) % group[k])

    T = s.horizon.n_periods
    for p in dl.paths[0].people:
        add(p.pid, p.unit, "referred", p.t_ref)
        if p.status != _Person.ENROLLED:
            if p.status in (_Person.ABANDONED, _Person.TURNED_AWAY):
                add(p.pid, p.unit, p.status, p.t_end)
            continue
        add(p.pid, p.unit, "enrolled", p.t_end)
        add(p.pid, p.unit, "dropped_out" if p.dropped else "completed", p.t_end + p.stay)
        for k in np.flatnonzero(p.outcomes):
            o = s.outcomes[k]
            when = p.t_end + lags[k]
            add(p.pid, p.unit, "outcome_achieved", when, p.period + lags[k], o.name)
            cohort = cohort_of.get((p.unit, k, cohort_first(p.unit, k, p.period)))
            if (o.payment_basis != "rate_card" or o.kind == "count" or cohort is None or cohort["uncapped"] <= 0
                    or cohort["verified"] >= T):
                continue  # cohort-level payment, or verified after the horizon
            f = cohort["value"] / cohort["uncapped"]
            for c, com in enumerate(s.commissioners):
                share = com.shares.get(o.name, 0.0)
                tp = cohort["verified"] + lag_c[c]
                if share <= 0 or tp >= T or pay.paid_fraction[tp, c] <= 0:
                    continue
                add(p.pid, p.unit, "paid", max(float(tp), when + lag_c[c]), tp, o.name, com.name,
                    o.price * share * f * pay.paid_fraction[tp, c])
    for c_row in pay.cohorts:
        o = s.outcomes[c_row["outcome"]]
        if (o.payment_basis == "rate_card" and o.kind != "count") or c_row["value"] <= 0:
            continue
        offsets = payment_offsets(o, ppy)
        for off in offsets:
            for c, com in enumerate(s.commissioners):
                share = com.shares.get(o.name, 0.0)
                tp = c_row["last"] + off + lag_c[c]
                if share <= 0 or tp >= s.horizon.n_periods or pay.paid_fraction[tp, c] <= 0:
                    continue
                add(-1, c_row["unit"], "paid", float(tp), tp, o.name, com.name,
                    c_row["value"] / len(offsets) * share * pay.paid_fraction[tp, c])
    df = pd.DataFrame(rows, columns=["participant", "unit", "event", "time", "period", "outcome", "commissioner", "amount"])
    order = {e: i for i, e in enumerate(["referred", "enrolled", "abandoned", "turned_away", "dropped_out", "completed", "outcome_achieved", "paid"])}
    df["_o"] = df["event"].map(order)
    df = df.sort_values(["time", "_o", "participant"], kind="stable").drop(columns="_o").reset_index(drop=True)
    df.attrs.update(path=path, seed=seed, n_paths=n_paths, stop_period=int(flows["stop_period"][0]))
    return df


# --------------------------------------------------------------------------------------------
# Comparing two engines


def _senior_index(s: Scenario) -> int:
    caps = s.capital_tranches
    for k, t in enumerate(caps):
        if t.kind == "senior":
            return k
    return 0


def comparison_measures(r: Results) -> dict[str, np.ndarray]:
    """Per-path measures (paths,) the cross-check compares: outcomes achieved per outcome, total
    commissioner payments, the senior tranche's multiple (NaN where it drew nothing) and, where
    every path was kept, the payment-weighted mean time of outcome payments in years (NaN where
    nothing was paid), which is sensitive to lags."""
    s = r.scenario
    out = {f"achieved[{o}]": r.path["achieved"][:, k] for k, o in enumerate(s.outcome_names)}
    out["commissioner_paid"] = r.path["commissioner_paid"].sum(axis=1)
    out["senior_multiple"] = r.multiple[:, _senior_index(s)]
    if r.n_kept == r.n_paths:
        paid = r.kept["commissioner_paid"].sum(axis=2)  # (N, T)
        t = np.arange(paid.shape[1]) / s.horizon.periods_per_year
        tot = paid.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["payment_time"] = np.where(tot > 0, (paid * t).sum(axis=1) / tot, np.nan)
    return out


def cross_check(a: Results, b: Results, z_max: float = 4.0, p_min: float = 1e-3) -> pd.DataFrame:
    """Do ``a`` and ``b`` (independent runs, e.g. different seeds) agree in distribution?

    One row per measure of :func:`comparison_measures`: means and standard deviations, ``z`` the
    difference of means in standard errors of the difference, ``ks_p`` the two-sample
    Kolmogorov-Smirnov p-value (conservative for counts, which have ties), and
    ``ok = |z| <= z_max and ks_p > p_min``. NaN values (e.g. a multiple where nothing was drawn)
    are left out of both samples.
    """
    from scipy import stats

    ma, mb = comparison_measures(a), comparison_measures(b)
    rows = []
    for name in ma:
        if name not in mb:
            continue
        x, y = ma[name][~np.isnan(ma[name])], mb[name][~np.isnan(mb[name])]
        if len(x) < 2 or len(y) < 2:
            continue
        se = math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
        z = _z(float(x.mean() - y.mean()), se, max(abs(x.mean()), abs(y.mean())))
        ks = float(stats.ks_2samp(x, y).pvalue) if se > 0 else (1.0 if z == 0 else 0.0)
        rows.append({"measure": name, "mean_a": float(x.mean()), "mean_b": float(y.mean()), "sd_a": float(x.std(ddof=1)),
                         "sd_b": float(y.std(ddof=1)), "n_a": len(x), "n_b": len(y), "z": z, "ks_p": ks,
                         "ok": bool(abs(z) <= z_max and ks > p_min)})
    return pd.DataFrame(rows)


def paired_check(a: Results, b: Results, z_max: float = 4.0) -> pd.DataFrame:
    """Mean difference per path between two runs with the same ``n_paths`` and ``seed`` (e.g.
    :func:`simulate_des` and :func:`cib_sim.run.simulation.simulate`), where path i shares its parameter
    draws: the difference then only carries the participant-level (or count) noise, so the test
    sees biases far smaller than the spread between paths. One row per measure of
    :func:`comparison_measures`: ``z`` the mean difference over its standard error, and
    ``ok = |z| <= z_max``. Paths where either value is NaN are left out."""
    if a.n_paths != b.n_paths or a.seed != b.seed:
        raise ValueError("paired_check: the two runs need the same n_paths and seed")
    ma, mb = comparison_measures(a), comparison_measures(b)
    rows = []
    for name in ma:
        if name not in mb:
            continue
        d = ma[name] - mb[name]
        d = d[~np.isnan(d)]
        if len(d) < 2:
            continue
        se = float(d.std(ddof=1) / math.sqrt(len(d)))
        scale = float(np.nanmax(np.abs(ma[name]))) if np.isfinite(ma[name]).any() else 1.0
        z = _z(float(d.mean()), se, scale)
        rows.append({"measure": name, "mean_diff": float(d.mean()), "se": se, "n": len(d), "z": z, "ok": bool(abs(z) <= z_max)})
    return pd.DataFrame(rows)


def _z(diff: float, se: float, scale: float) -> float:
    """``diff / se``; with no spread at all, 0 if the difference is rounding, else infinite."""
    if se > 1e-12 * max(scale, 1.0):
        return diff / se
    return 0.0 if abs(diff) <= 1e-9 * max(scale, 1.0) else math.copysign(math.inf, diff)


__all__ = [
    "DesOptions",
    "ParticipantDelivery",
    "PathPayments",
    "comparison_measures",
    "contract_payments",
    "cross_check",
    "journeys",
    "paired_check",
    "plan_units",
    "run_block",
    "simulate_des",
    "verification_lag",
]
