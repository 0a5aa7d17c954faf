"""The nowcast: the whole contract simulated with the reported periods fixed and the rest drawn
from the posterior (:func:`nowcast`), through the engine's own loop with observed delivery and
payments plugged in."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cib_sim.engine import run_paths
from cib_sim.engine.delivery import DeliveryState
from cib_sim.engine.payments import CommissionerLedger
from cib_sim.engine.reduce import reduce_chunk
from cib_sim.engine.sample import Draws, sample_block
from cib_sim.learning.events import path_events
from cib_sim.learning.observed import Observed
from cib_sim.learning.posterior import DEFAULT_DRAWS, Posterior, as_observed, fit
from cib_sim.results import Results
from cib_sim.run.plan import BLOCK, RunPlan, check_n_paths, root_sequence
from cib_sim.scenario import Scenario


class ObservedDelivery(DeliveryState):
    """Delivery whose reported periods are what was observed: enrolments, dropouts where
    reported, and each cohort's outcomes once verified. Cohorts enrolled but not yet verified
    draw their outcomes from the path's (posterior) effect; later periods run as the model."""

    def __init__(self, s: Scenario, draws: Draws, mode: str, obs: Observed):
        super().__init__(s, draws, mode)
        self.obs = obs
        self.K = obs.as_of

    def propose(self, t: int, stopped: np.ndarray) -> np.ndarray:
        pending = super().propose(t, stopped)  # referrals arrive and wait as the model says
        if t >= self.K:
            return pending
        enrol = np.broadcast_to(self.obs.enrolled[t], pending.shape).astype(np.float64)
        # The waiting list is not observed, but a period that enrolled fewer than its free places
        # took everyone waiting: then nobody is left. Otherwise keep the model's list (at least
        # as long as the enrolments it supplied). Without this, model arrivals that exceed the
        # reported enrolments would pile up as a phantom waiting list.
        bound = enrol >= self.free_places() - 1e-9
        self.waiting = np.where(bound, np.maximum(self.waiting, enrol), enrol)
        self.replace_pending(enrol)
        return enrol

    def service_costs(self, t: int, enrol: np.ndarray) -> np.ndarray:
        costs = super().service_costs(t, enrol)
        if t == self.obs.stopped and enrol is self.pending:
            # The reported stop: the fund could not pay for this period's delivery. Costs no fund
            # can meet make the engine stop delivery here, as it did.
            return np.full_like(costs, np.inf)
        return costs

    def commit(self, t: int, funded: np.ndarray) -> None:
        if t >= self.K:
            return super().commit(t, funded)
        # Reported enrolments happened, whatever the model's fund says.
        enrol = self.pending
        assert enrol is not None
        self.waiting = np.maximum(self.waiting - enrol, 0.0)
        seen_waiting = self.obs.waiting[t]
        self.waiting = np.where(np.isnan(seen_waiting), self.waiting, seen_waiting)
        drop = self.draw_dropouts(t, enrol)
        seen = self.obs.dropped[t]
        drop = np.where(np.isnan(seen), drop, seen)
        x = self.draw_outcomes(t, enrol, drop)
        v = self.obs.verified[t]
        self.record_cohort(t, enrol, drop, np.where(v, np.nan_to_num(self.obs.achieved[t]), x))


class ObservedLedger(CommissionerLedger):
    """Commissioners pay exactly what was observed in reported periods (when the data has
    payment rows); dues falling then are settled by those payments, and observed payments count
    towards annual budgets and total caps. Later periods run as the model."""

    def __init__(self, s: Scenario, draws: Draws, n_paths: int, obs: Observed):
        super().__init__(s, draws, n_paths)
        self.obs = obs
        self.K = obs.as_of if obs.paid is not None else 0
        self.reported_until = self.K

    def step(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        if t >= self.K:
            return super().step(t)
        due_cu = self.take_due(t)
        N, C, U = due_cu.shape
        pay = np.broadcast_to(self.obs.paid[t], (N, C)).astype(np.float64)  # type: ignore[index]
        due = due_cu.sum(axis=2, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            split = np.where(due > 0, due_cu / np.where(due > 0, due, 1.0), 1.0 / U)
        self.replaced += due[:, :, 0] - pay
        self.book_payment(pay)
        self.cap_hit |= (self.paid_total >= self.total * (1 - 1e-9)) | (self.paid_year >= self.annual * (1 - 1e-9))
        return pay, pay[:, :, None] * split


def posterior_draws(post: Posterior, draws: Draws, rng: np.random.Generator) -> Draws:
    """``draws`` (prior noise for counts and events) with the uncertain inputs from the
    posterior, and exits / withdrawals conditioned on the report: those reported happen when
    reported; otherwise none happened before the report (hazards are memoryless, so a path whose
    drawn event fell earlier draws it afresh from the end of the report)."""
    s = post.prior
    obs = post.observed
    K, T, ppy = obs.as_of, s.horizon.n_periods, s.horizon.periods_per_year
    n = draws.n_paths
    out = Draws(**{k: getattr(draws, k) for k in draws.__dataclass_fields__})
    u = s.uncertainty
    if post.space.dim > 0:
        z = post.resample(n, rng)
        out.effect, out.half_maturity = post.space.params(z)
        if u.referral_sd > 0 and (post.space.common or post.space.units):
            fresh = rng.standard_normal(draws.referral_multiplier.shape)
            out.referral_multiplier = post.space.referral_multiplier(z, fill=fresh)

    def condition(drawn: np.ndarray, hazards: np.ndarray, ended: np.ndarray) -> np.ndarray:
        res = drawn.copy()
        for j, h in enumerate(hazards):
            if ended[j] >= 0:
                res[:, j] = ended[j]
                continue
            early = res[:, j] < K
            if early.any() and h > 0 and u.enabled:
                e = rng.standard_exponential(int(early.sum()))
                res[early, j] = np.minimum(K + np.floor(e / h * ppy), T).astype(np.int64)
            elif early.any():
                res[early, j] = T
        return res

    out.exit_period = condition(draws.exit_period, np.array([p.exit_hazard for p in s.partners]), obs.partner_ended)
    out.withdraw_period = condition(
        draws.withdraw_period, np.array([c.withdrawal_hazard for c in s.commissioners]), obs.commissioner_ended
    )
    return out


def nowcast(
    scenario: Scenario,
    observed: Any,
    n_paths: int = 4096,
    seed: int = 1,
    posterior: Posterior | None = None,
    n_draws: int = DEFAULT_DRAWS,
    mode: str = "approx",
    keep_paths: int = 2000,
    as_of: int | None = None,
) -> Results:
    """Simulate the whole contract with the reported periods fixed and the rest drawn from the
    posterior. Returns :class:`~cib_sim.results.Results` over the full horizon (so totals,
    IRRs and losses count what has already happened), with ``extra``: ``as_of``, ``observed``,
    ``posterior``, ``events`` (a DataFrame of per-path early-warning events, see
    :func:`path_events`).

    The same ``seed`` gives the same results; the posterior fit uses its own stream, so passing
    ``posterior=fit(...)`` with a matching seed gives the same numbers.
    """
    check_n_paths(n_paths)
    obs = as_observed(scenario, observed, as_of)
    fit_ss, path_ss = root_sequence(seed).spawn(2)
    post = posterior if posterior is not None else fit(scenario, obs, n_draws=n_draws, seed=fit_ss)
    if post.observed is not obs and post.observed.as_of != obs.as_of:
        raise ValueError("posterior: fitted to other data (a different number of reported periods)")
    if not scenario.uncertainty.enabled:
        mode = "expected"
    parts, events = [], []
    # One seeded block at a time (run_paths keeps the full history, which path_events needs).
    for chunk in RunPlan.make(n_paths, path_ss, chunk_size=BLOCK, keep_paths=keep_paths).chunks:
        (block,) = chunk.blocks
        ss, size = block.seed, block.size
        draws = sample_block(scenario, ss, size, exact=(mode == "exact"))
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + (7,))))
        draws = posterior_draws(post, draws, rng)
        flows = run_paths(
            scenario, draws, mode,  # type: ignore[arg-type]
            delivery=ObservedDelivery(scenario, draws, mode, obs),
            ledger=ObservedLedger(scenario, draws, size, obs),
        )
        parts.append(reduce_chunk(scenario, flows, chunk.keep, [size]))
        events.append(path_events(scenario, flows))
    r = Results.from_chunks(scenario, parts, seed=seed, mode=mode, engine="nowcast")
    r.extra.update(as_of=obs.as_of, observed=obs, posterior=post, events=pd.concat(events, ignore_index=True))
    return r


