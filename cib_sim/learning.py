"""Learning as results arrive: update the scenario from observed data, nowcast, early warning.

Four steps, each usable alone::

    fit(scenario, observed)       -> Posterior   (weighted draws of the uncertain inputs given the data)
    update(scenario, observed)    -> Scenario    (the posterior, moment-matched back to a scenario)
    nowcast(scenario, observed)   -> Results     (the whole contract, reported periods fixed)
    early_warning(scenario, observed, previous_observed) -> DataFrame

``observed`` is an :class:`~cib_sim.observed.Observed`, a DataFrame or a CSV in the format of
:mod:`cib_sim.observed`.

**The model being updated** is the scenario's own. Each path draws, once, standard normals: a
common shock ``c``, one ``e`` per partner and outcome, one ``d`` per partner (maturity delay) and
one ``r`` per delivery unit (referral volume); effect = mean + sd (sqrt(rho) c + sqrt(1 - rho) e),
half-maturity = half - delay_sd (sqrt(rho) c + sqrt(1 - rho) d), referral multiplier =
exp(referral_sd (sqrt(rho) c + sqrt(1 - rho) r) - referral_sd^2 / 2) (see :mod:`cib_sim.sample`).
The latent vector z of those that are uncertain has a standard normal prior. Given z:

- the cohort enrolled in period t by unit u achieves outcome o as Binomial(n, p), p = (1 -
  dropout) x (baseline + effect x maturity(t)) + dropout x baseline (reported dropouts replace
  the dropout rate; in the zone model p is the engine's package average). p comes from the
  engine's own :meth:`DeliveryState.success_probability`, so learning and simulation share one
  model;
- new referrals are Poisson, seen through enrolments where the waiting list is known (see
  :class:`Likelihood`).

**The update** is importance sampling in z. With little data the prior's draws reweighted by the
likelihood already have a large effective sample size (ESS): plain importance reweighting of
prior draws. As data accumulate that would collapse, so the sampler tempers: it raises the
likelihood's power beta from 0 to 1 in steps that halve the ESS, refitting a heavy-tailed
(Student t) proposal to the weighted draws at each step (adaptive annealed importance sampling).
The final weights are exact importance weights for the posterior (prior x likelihood /
proposal); their ESS is reported, and a :class:`PosteriorCollapseWarning` is raised when it is
small. Checked against quadrature (one effect) and against reweighting two million prior draws.

Early data barely move the effect posterior: cohorts served before the partnership matures say
little about the full effect, and the update knows it because maturity(t) multiplies the effect
in the likelihood. Effect and maturity trade off until the ramp-up is seen; the posterior keeps
that correlation in its draws, and ``nowcast`` uses the draws, not the moment-matched scenario.

**The nowcast** runs the engine with :class:`ObservedDelivery` (reported enrolments, dropouts and
verified outcomes; outcomes of cohorts not yet verified drawn from the posterior) and
:class:`ObservedLedger` (reported payments), from the posterior draws; exits and withdrawals
before the report are those reported, and none other.

**Not learnt** (taken from the scenario): dropout rates, exit and withdrawal hazards, prices and
terms. The model has no variation between cohorts beyond the binomial: if real cohorts vary more,
the posterior is too confident (widen the effects' ``sd``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from cib_sim.delivery import DeliveryState, unit_plan
from cib_sim.engine import run_paths
from cib_sim.metrics import LOSS_RTOL
from cib_sim.observed import Observed, empty_observed, read_observed, unit_names
from cib_sim.payments import CommissionerLedger, improvement
from cib_sim.reduce import investor_flows
from cib_sim.results import Results, reduce_chunk
from cib_sim.sample import BLOCK, Draws, block_seeds, n_units, sample_block
from cib_sim.scenario import Effect, Scenario

DEFAULT_DRAWS = 8000
ESS_STEP = 0.5
"""Each tempering step keeps the effective sample size at this share of the draws."""
MIN_ESS = 200.0
"""Below this effective sample size the posterior is flagged as collapsed."""


class PosteriorCollapseWarning(UserWarning):
    """The importance weights rest on few draws: the posterior (and anything built on it) is
    unreliable. Raise ``n_draws``, or check the data against the scenario."""


class NothingToLearnWarning(UserWarning):
    """The scenario has no uncertainty to update (``uncertainty.enabled`` is false or every sd
    is zero): the posterior is the prior."""


# --------------------------------------------------------------------------------------------
# The latent space of uncertain inputs


@dataclass(frozen=True)
class LatentSpace:
    """Which of the prior's standard normals the data can inform, and how they map to inputs.

    Columns of z: ``c`` (the common shock, if rho > 0 and anything uncertain depends on it), one
    per (partner, outcome) effect with sd > 0, one per logistic-maturity partner with a delay sd,
    one per delivery unit with referrals when the referral volume is uncertain.
    """

    s: Scenario
    common: bool
    cells: tuple[tuple[int, int], ...]
    delays: tuple[int, ...]
    units: tuple[int, ...] = ()

    @classmethod
    def of(cls, s: Scenario) -> LatentSpace:
        u = s.uncertainty
        if not u.enabled:
            return cls(s, False, (), ())
        names = s.outcome_names
        cells = tuple(
            (p, k) for p, part in enumerate(s.partners) for k, o in enumerate(names) if o in part.effect and part.effect[o].sd > 0
        )
        delays = tuple(
            p for p, part in enumerate(s.partners) if u.maturity_delay_sd > 0 and part.maturity.kind == "logistic"
        )
        unit_refs = [s.delivery.referrals] if s.delivery.model == "zone" else [p.referrals for p in s.partners]
        units = tuple(i for i, r in enumerate(unit_refs) if u.referral_sd > 0 and (r or 0) > 0)
        common = u.rho > 0 and bool(cells or delays or units)
        return cls(s, common, cells, delays, units)

    @property
    def dim(self) -> int:
        return int(self.common) + len(self.cells) + len(self.delays) + len(self.units)

    @property
    def labels(self) -> list[str]:
        s = self.s
        out = ["common shock"] if self.common else []
        out += [f"effect[{s.partners[p].name}][{s.outcome_names[k]}]" for p, k in self.cells]
        out += [f"delay[{s.partners[p].name}]" for p in self.delays]
        out += [f"referrals[{unit_names(s)[u]}]" for u in self.units]
        return out

    def referral_multiplier(self, z: np.ndarray, fill: np.ndarray | None = None) -> np.ndarray:
        """(M, U) referral volume multipliers (mean 1 under the prior) for latent draws z;
        units outside the latent space use ``fill`` (M, U) standard normals (default: 0)."""
        M = z.shape[0]
        u = self.s.uncertainty
        rho = u.rho if u.enabled else 0.0
        a, b = math.sqrt(rho), math.sqrt(1.0 - rho)
        c = z[:, 0] if self.common else np.zeros(M)
        eps = np.zeros((M, n_units(self.s))) if fill is None else fill.copy()
        j = int(self.common) + len(self.cells) + len(self.delays)
        for unit in self.units:
            eps[:, unit] = z[:, j]
            j += 1
        sig = u.referral_sd if u.enabled else 0.0
        return np.exp(sig * (a * c[:, None] + b * eps) - 0.5 * sig * sig)

    def prior_means(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        s = self.s
        names = s.outcome_names
        mean = np.array([[p.effect[o].mean if o in p.effect else 0.0 for o in names] for p in s.partners])
        sd = np.array([[p.effect[o].sd if o in p.effect else 0.0 for o in names] for p in s.partners])
        half = np.array([p.maturity.half_maturity for p in s.partners])
        return mean, sd, half, np.full(len(s.partners), s.uncertainty.maturity_delay_sd)

    def common_shock(self, z: np.ndarray) -> np.ndarray | None:
        return z[:, 0] if self.common else None

    def params(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """effect (M, P, O) and half-maturity (M, P) for latent draws z (M, D), as
        :func:`cib_sim.sample.sample_block` computes them."""
        M = z.shape[0]
        mean, sd, half, dsd = self.prior_means()
        rho = self.s.uncertainty.rho if self.s.uncertainty.enabled else 0.0
        a, b = math.sqrt(rho), math.sqrt(1.0 - rho)
        c = z[:, 0] if self.common else np.zeros(M)
        effect = np.broadcast_to(mean, (M,) + mean.shape).copy()
        j = int(self.common)
        for p, k in self.cells:
            effect[:, p, k] = mean[p, k] + sd[p, k] * (a * c + b * z[:, j])
            j += 1
        half_m = np.broadcast_to(half, (M, len(half))).copy()
        for p in self.delays:
            half_m[:, p] = np.maximum(0.0, half[p] - dsd[p] * (a * c + b * z[:, j]))
            j += 1
        return effect, half_m


# --------------------------------------------------------------------------------------------
# The likelihood of the verified cohort counts


def _placeholder_draws(s: Scenario, effect: np.ndarray, half: np.ndarray, exit_period: np.ndarray) -> Draws:
    """Draws carrying only what ``success_probability`` reads (the noise arrays are unused)."""
    M = effect.shape[0]
    empty = np.zeros((s.horizon.n_periods, 0))
    return Draws(
        effect=effect, half_maturity=half, referral_multiplier=np.ones((M, n_units(s))),
        exit_period=np.broadcast_to(exit_period, (M, len(s.partners))).copy(),
        withdraw_period=np.full((M, len(s.commissioners)), s.horizon.n_periods, dtype=np.int64),
        z_referrals=empty, z_dropouts=empty, z_outcomes=empty,
    )


class Likelihood:
    """Log-likelihood of the observed data as a function of latent z (M, D): the verified cohort
    counts (Binomial given effect and maturity) and, where the referral volume is uncertain, the
    enrolments (Poisson referrals given the volume).

    Referrals are seen through enrolments when the waiting list before a period is known: at the
    unit's first open period, after a period that enrolled fewer than its free places (which
    emptied the list) or where ``waiting`` is reported. Then new referrals = enrolled - those
    still waiting from before, exactly when the period did not fill its free places, and at least
    that when it did. Periods when no unit enrolled anyone (a stop or a pause) are left out.
    """

    CHUNK = 4096

    def __init__(self, s: Scenario, obs: Observed, space: LatentSpace):
        self.s, self.obs, self.space = s, obs, space
        T = s.horizon.n_periods
        # Partners delivering during the report: those not reported as ended (zone reach).
        ended = obs.partner_ended
        self.exit_period = np.where(ended >= 0, ended, T).astype(np.int64)
        self.baseline = np.array([o.baseline_rate for o in s.outcomes])
        dropout = np.array([s.delivery.dropout] if s.delivery.model == "zone" else [p.dropout for p in s.partners])
        self.terms = []  # per cohort period: (t, mask (U, O), x (U, O), n (U,), completer share (U,))
        for t in range(obs.as_of):
            mask = obs.verified[t] & (obs.enrolled[t][:, None] > 0)
            if not mask.any():
                continue
            n = obs.enrolled[t]
            d = obs.dropped[t]
            with np.errstate(divide="ignore", invalid="ignore"):
                share_drop = np.where(np.isnan(d), dropout, d / np.where(n > 0, n, 1.0))
            x = np.where(mask, np.nan_to_num(obs.achieved[t]), 0.0)
            self.terms.append((t, mask, x, n, 1.0 - share_drop))
        self.referral_terms = self._referral_terms(dropout)

    def _referral_terms(self, dropout: np.ndarray) -> list[tuple[int, float, float, int, list[float]]]:
        """Per unit with uncertain referrals: (unit, expected referrals per period, sum of exact
        counts, number of exact counts, lower bounds)."""
        s, obs = self.s, self.obs
        K = obs.as_of
        if not self.space.units or K == 0:
            return []
        plan = unit_plan(s)
        P, O = len(s.partners), len(s.outcomes)
        dl = DeliveryState(s, _placeholder_draws(s, np.zeros((1, P, O)), np.zeros((1, P)), self.exit_period), "approx")
        est_drop = np.where(np.isnan(obs.dropped), np.rint(obs.enrolled * dropout), obs.dropped)
        dl.enrolled[0, :K] = obs.enrolled
        dl.dropped[0, :K] = est_drop
        paused = obs.enrolled.sum(axis=1) == 0
        zone = s.delivery.model == "zone"
        out = []
        for u in self.space.units:
            exact, bounds = [], []
            known: float | None = 0.0  # nobody waits before a unit opens
            for t in range(K):
                ended = obs.partner_ended[u] if not zone else -1
                if not (plan.start[u] <= t < plan.end[u]) or 0 <= ended <= t:
                    known = 0.0  # a closed unit lets its waiting list go
                    continue
                if paused[t]:
                    known = None
                    continue
                free = math.floor(max(0.0, plan.capacity[u] - dl.occupied(t)[0, u]))
                e = float(obs.enrolled[t, u])
                if known is not None:
                    x = e - float(np.rint(known * plan.keep_waiting[u]))
                    if x >= 0:
                        (exact if e < free else bounds).append(x)
                seen = obs.waiting[t, u]
                known = float(seen) if not np.isnan(seen) else (0.0 if e < free else None)
            if exact or bounds:
                out.append((u, float(plan.referrals[u]), float(sum(exact)), len(exact), bounds))
        return out

    @property
    def informative(self) -> bool:
        return bool(self.terms or self.referral_terms)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        out = np.zeros(z.shape[0])
        for lo in range(0, z.shape[0], self.CHUNK):
            out[lo : lo + self.CHUNK] = self._chunk(z[lo : lo + self.CHUNK])
        return out

    def _chunk(self, z: np.ndarray) -> np.ndarray:
        ll = np.zeros(z.shape[0])
        if self.referral_terms:
            m = self.space.referral_multiplier(z)
            for u, lam0, total, count, bounds in self.referral_terms:
                lam = lam0 * m[:, u]
                ll += total * np.log(lam) - count * lam  # Poisson, constants dropped
                for x in bounds:  # P(referrals >= x)
                    ll += np.log(np.maximum(special.pdtrc(x - 1.0, lam), 1e-300)) if x > 0 else 0.0
        if not self.terms:
            return ll
        effect, half = self.space.params(z)
        dl = DeliveryState(self.s, _placeholder_draws(self.s, effect, half, self.exit_period), "approx")
        b = self.baseline
        eps = 1e-12
        for t, mask, x, n, w1 in self.terms:
            p1 = dl.success_probability(t)  # (M, U, O)
            p = w1[None, :, None] * p1 + (1.0 - w1)[None, :, None] * b[None, None, :]
            p = np.clip(p, eps, 1.0 - eps)
            contrib = x * np.log(p) + (n[:, None] - x) * np.log1p(-p)
            ll += np.where(mask, contrib, 0.0).reshape(z.shape[0], -1).sum(axis=1)
        return ll


# --------------------------------------------------------------------------------------------
# Adaptive annealed importance sampling


def _ess(logw: np.ndarray) -> float:
    w = np.exp(logw - logw.max())
    return float(w.sum() ** 2 / (w * w).sum())


def _normalise(logw: np.ndarray) -> np.ndarray:
    w = np.exp(logw - logw.max())
    return w / w.sum()


def _weighted_gaussian(z: np.ndarray, w: np.ndarray, inflate: float) -> tuple[np.ndarray, np.ndarray]:
    mean = w @ z
    dz = z - mean
    cov = (dz * w[:, None]).T @ dz
    cov = 0.5 * (cov + cov.T) * inflate
    D = z.shape[1]
    jitter = 1e-10
    while True:
        try:
            return mean, np.linalg.cholesky(cov + jitter * np.eye(D))
        except np.linalg.LinAlgError:
            jitter *= 10
            if jitter > 1.0:
                return mean, np.eye(D)


def adaptive_importance_sampling(
    loglik, dim: int, n_draws: int, rng: np.random.Generator, ess_step: float = ESS_STEP,
    inflate: float = 1.1, df: float | None = 20.0, max_stages: int = 60, final_refits: int = 3,
) -> dict[str, Any]:
    """Importance sample the posterior N(0, I) x exp(loglik) in ``dim`` dimensions.

    Stage 0 draws from the prior. Each stage raises the temperature beta as far as keeps the
    effective sample size at ``ess_step`` of what it was at the current beta (or straight to 1
    if the ESS at 1 is still half the draws), fits a proposal to the draws weighted for that
    beta, and draws afresh from it: a multivariate Student t with ``df`` degrees of freedom (None:
    a Gaussian) with the weighted mean and covariance x ``inflate``. Tails a little heavier than
    a Gaussian's guard the posterior's tails; much heavier ones (small ``df``) waste draws in
    twenty-odd dimensions (measured: df 7 lost most of the ESS with 2,000 draws). At
    beta = 1 the proposal is refitted up to ``final_refits`` times while that raises the ESS.
    Returns z (n, dim), normalised weights, ess, betas (one per stage) and the draws'
    log-likelihoods.
    """
    mean, chol = np.zeros(dim), np.eye(dim)
    beta = 0.0
    betas: list[float] = []
    best: dict[str, Any] | None = None
    refits = 0
    for stage in range(max_stages):
        eps = rng.standard_normal((n_draws, dim))
        sq = np.einsum("ij,ij->i", eps, eps)
        if stage == 0 or df is None:  # the prior itself first, then Gaussian refits
            log_q = -0.5 * sq
        else:  # Student t: a Gaussian scaled by sqrt(df / chi2(df)); constants cancel
            scale = np.sqrt(df / rng.chisquare(df, n_draws))
            eps = eps * scale[:, None]
            log_q = -0.5 * (df + dim) * np.log1p(sq * scale * scale / df)
        z = mean + eps @ chol.T
        log_q = log_q - np.log(np.diag(chol)).sum()
        log_p = -0.5 * np.einsum("ij,ij->i", z, z)
        ll = loglik(z)
        ll = np.where(np.isfinite(ll), ll, -np.inf)
        if not np.isfinite(ll).any():
            raise ValueError("the observed data are impossible under every draw of the scenario")
        base = log_p - log_q

        def ess_at(b: float, base: np.ndarray = base, ll: np.ndarray = ll) -> float:
            return _ess(base + b * ll)

        if beta >= 1.0 or ess_at(1.0) >= 0.5 * n_draws:
            new_beta = 1.0
        else:
            target = ess_step * ess_at(beta)
            lo, hi = beta, 1.0
            for _ in range(50):
                mid = 0.5 * (lo + hi)
                if ess_at(mid) >= target:
                    lo = mid
                else:
                    hi = mid
            new_beta = lo
        betas.append(new_beta)
        if new_beta >= 1.0:
            logw = base + ll
            cand = {"z": z, "weights": _normalise(logw), "ess": _ess(logw), "loglik": ll}
            improved = best is None or cand["ess"] > best["ess"]
            if improved:
                best = cand
            if best["ess"] >= 0.8 * n_draws or refits >= final_refits or (beta >= 1.0 and not improved):
                break
            refits += 1
        w = _normalise(base + new_beta * ll)
        # A t's covariance is df / (df - 2) times its scale matrix: match the fitted covariance.
        mean, chol = _weighted_gaussian(z, w, inflate * ((df - 2) / df if df is not None and df > 2 else 1.0))
        beta = new_beta
    if best is None:  # never reached beta = 1: weights of the last draws at beta = 1
        logw = base + ll
        best = {"z": z, "weights": _normalise(logw), "ess": _ess(logw), "loglik": ll}
    best["betas"] = betas
    return best


# --------------------------------------------------------------------------------------------
# The posterior


@dataclass
class Posterior:
    """Weighted draws of the uncertain inputs given the observed data.

    z: (M, D) latent draws (see :class:`LatentSpace`); weights: (M,) summing to 1; ess: their
    effective sample size; betas: the tempering schedule (one stage each; ``[1.0]``: the prior's
    draws reweighted).
    """

    prior: Scenario
    observed: Observed
    space: LatentSpace
    z: np.ndarray
    weights: np.ndarray
    ess: float
    betas: list[float] = field(default_factory=list)

    @property
    def n_draws(self) -> int:
        return self.z.shape[0]

    @property
    def as_of(self) -> int:
        return self.observed.as_of

    @cached_property
    def _params(self) -> tuple[np.ndarray, np.ndarray]:
        return self.space.params(self.z)

    @cached_property
    def referral_multiplier(self) -> np.ndarray:
        """(M, U) referral volume multiplier draws (1: as planned)."""
        return self.space.referral_multiplier(self.z)

    @property
    def effect(self) -> np.ndarray:
        """(M, P, O) effect draws."""
        return self._params[0]

    @property
    def half_maturity(self) -> np.ndarray:
        """(M, P) half-maturity draws, years."""
        return self._params[1]

    def resample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, D) latent draws resampled by weight (systematic resampling, then shuffled)."""
        cum = np.cumsum(self.weights)
        cum[-1] = 1.0
        u = (rng.random() + np.arange(n)) / n
        idx = np.searchsorted(cum, u, side="left")
        return self.z[rng.permutation(idx)]

    def _wq(self, x: np.ndarray, qs: tuple[float, ...]) -> list[float]:
        order = np.argsort(x, kind="stable")
        cw = np.cumsum(self.weights[order])
        return [float(x[order][min(len(x) - 1, np.searchsorted(cw, q))]) for q in qs]

    def table(self) -> pd.DataFrame:
        """Prior and posterior of each uncertain input: one row per partner and outcome effect,
        per partner half-maturity (years) and per unit referral volume (a multiplier of the
        plan's), where uncertain: prior mean and sd, posterior mean, sd, 5% and 95% quantiles,
        and the shift of the mean in prior sds."""
        s, w = self.prior, self.weights
        mean, sd, _, _ = self.space.prior_means()
        rows = []
        for p, k in self.space.cells:
            x = self.effect[:, p, k]
            m = float(w @ x)
            v = float(w @ (x - m) ** 2)
            q05, q95 = self._wq(x, (0.05, 0.95))
            rows.append({
                "partner": s.partners[p].name, "parameter": f"effect on {s.outcome_names[k]}",
                "prior_mean": mean[p, k], "prior_sd": sd[p, k], "posterior_mean": m, "posterior_sd": math.sqrt(v),
                "posterior_q05": q05, "posterior_q95": q95, "shift_in_prior_sd": (m - mean[p, k]) / sd[p, k],
            })
        prior_half_sd = self._prior_half_sd()
        for p in self.space.delays:
            x = self.half_maturity[:, p]
            m = float(w @ x)
            v = float(w @ (x - m) ** 2)
            q05, q95 = self._wq(x, (0.05, 0.95))
            psd = prior_half_sd[p]
            rows.append({
                "partner": s.partners[p].name, "parameter": "half_maturity (years)",
                "prior_mean": self._prior_half_mean[p], "prior_sd": psd, "posterior_mean": m, "posterior_sd": math.sqrt(v),
                "posterior_q05": q05, "posterior_q95": q95,
                "shift_in_prior_sd": (m - self._prior_half_mean[p]) / psd if psd > 0 else math.nan,
            })
        sig = s.uncertainty.referral_sd
        prior_sd = math.sqrt(math.expm1(sig * sig))
        for unit in self.space.units:
            x = self.referral_multiplier[:, unit]
            m = float(w @ x)
            q05, q95 = self._wq(x, (0.05, 0.95))
            rows.append({
                "partner": unit_names(s)[unit], "parameter": "referrals (x plan)", "prior_mean": 1.0, "prior_sd": prior_sd,
                "posterior_mean": m, "posterior_sd": math.sqrt(float(w @ (x - m) ** 2)), "posterior_q05": q05,
                "posterior_q95": q95, "shift_in_prior_sd": (m - 1.0) / prior_sd,
            })
        cols = ["partner", "parameter", "prior_mean", "prior_sd", "posterior_mean", "posterior_sd", "posterior_q05",
                "posterior_q95", "shift_in_prior_sd"]
        return pd.DataFrame(rows, columns=cols)

    @cached_property
    def _prior_half(self) -> np.ndarray:
        z = np.random.default_rng(0).standard_normal((20000, self.space.dim))
        return self.space.params(z)[1]

    @property
    def _prior_half_mean(self) -> np.ndarray:
        return self._prior_half.mean(axis=0)

    def _prior_half_sd(self) -> np.ndarray:
        return self._prior_half.std(axis=0)

    @cached_property
    def scenario(self) -> Scenario:
        """The posterior moment-matched back to a scenario: each effect Normal(posterior mean,
        posterior sd); each uncertain partner's ``half_maturity`` at its posterior mean and
        ``maturity_delay_sd`` the root mean square of the partners' posterior sds (one number
        in the scenario); each unit's ``referrals`` scaled by its posterior mean multiplier and
        ``referral_sd`` the root mean square of the posterior sds of the log multipliers. ``rho``
        is kept. A summary for reading and saving: a scenario cannot
        hold the posterior's correlations (effect against maturity), so :func:`nowcast` uses the
        draws themselves, not this scenario."""
        s = self.prior
        if self.space.dim == 0:
            return s
        w = self.weights
        data = s.model_dump(mode="python")
        for p, k in self.space.cells:
            x = self.effect[:, p, k]
            m = float(w @ x)
            sd = math.sqrt(max(0.0, float(w @ (x - m) ** 2)))
            data["partners"][p]["effect"][s.outcome_names[k]] = Effect(mean=min(1.0, max(-1.0, m)), sd=min(1.0, sd)).model_dump()
        if self.space.delays:
            sds = []
            for p in self.space.delays:
                x = self.half_maturity[:, p]
                m = float(w @ x)
                sds.append(float(w @ (x - m) ** 2))
                data["partners"][p]["maturity"]["half_maturity"] = min(20.0, max(0.0, m))
            data["uncertainty"]["maturity_delay_sd"] = min(10.0, math.sqrt(float(np.mean(sds))))
        if self.space.units:
            sds = []
            for unit in self.space.units:
                x = self.referral_multiplier[:, unit]
                target = data["delivery"] if s.delivery.model == "zone" else data["partners"][unit]
                target["referrals"] = float(target["referrals"]) * float(w @ x)
                lx = np.log(x)
                sds.append(float(w @ (lx - w @ lx) ** 2))
            data["uncertainty"]["referral_sd"] = min(3.0, math.sqrt(float(np.mean(sds))))
        K = self.as_of
        when = f"period {K - 1}" if K else "no data"
        data["name"] = f"{s.name} (posterior, data to {when})"
        data["description"] = (
            f"Posterior of '{s.name}' given observed data to {when}: effects and maturity moment-matched "
            f"from {self.n_draws:,} importance-sampling draws (effective sample size {self.ess:,.0f}). "
            + (s.description or "")
        ).strip()
        return Scenario.model_validate(data)


def _as_observed(s: Scenario, observed: Any, as_of: int | None = None) -> Observed:
    if isinstance(observed, Observed):
        return observed
    if observed is None:
        return empty_observed(s)
    return read_observed(observed, s, as_of=as_of)


def _seed_sequence(seed: Any) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    return np.random.SeedSequence(seed)


def fit(
    scenario: Scenario, observed: Any, n_draws: int = DEFAULT_DRAWS, seed: Any = 0, min_ess: float = MIN_ESS,
    as_of: int | None = None, retries: int = 2,
) -> Posterior:
    """The posterior of the scenario's uncertain inputs given ``observed`` (an :class:`Observed`,
    a DataFrame or a CSV path in the format of :mod:`cib_sim.observed`).

    When the effective sample size falls below ``min_ess`` the sampler runs again with twice the
    draws, up to ``retries`` times; if it is still below, a :class:`PosteriorCollapseWarning`.
    :class:`NothingToLearnWarning` when the scenario has no uncertainty to update.
    """
    obs = _as_observed(scenario, observed, as_of)
    space = LatentSpace.of(scenario)
    rng = np.random.Generator(np.random.PCG64(_seed_sequence(seed)))
    if space.dim == 0:
        if obs.as_of > 0:
            warnings.warn(
                "the scenario has no uncertainty to update (uncertainty switched off or every sd zero): "
                "the posterior is the scenario itself", NothingToLearnWarning, stacklevel=2,
            )
        return Posterior(scenario, obs, space, np.zeros((1, 0)), np.ones(1), 1.0, [1.0])
    lik = Likelihood(scenario, obs, space)
    if not lik.informative:
        z = rng.standard_normal((n_draws, space.dim))
        return Posterior(scenario, obs, space, z, np.full(n_draws, 1.0 / n_draws), float(n_draws), [1.0])
    n = n_draws
    for attempt in range(retries + 1):
        res = adaptive_importance_sampling(lik, space.dim, n, rng)
        if res["ess"] >= min_ess or attempt == retries:
            break
        n *= 2
    post = Posterior(scenario, obs, space, res["z"], res["weights"], res["ess"], res["betas"])
    if post.ess < min_ess:
        warnings.warn(
            f"posterior collapse: effective sample size {post.ess:,.0f} of {n:,} draws (below {min_ess:,.0f}) "
            f"after {len(post.betas)} tempering stages. The posterior rests on a few draws and the figures built on "
            "it are unreliable: raise n_draws, or check the data against the scenario (outcomes far outside what "
            "its effect and maturity distributions allow).",
            PosteriorCollapseWarning, stacklevel=2,
        )
    return post


def update(scenario: Scenario, observed: Any, n_draws: int = DEFAULT_DRAWS, seed: Any = 0, as_of: int | None = None) -> Scenario:
    """The posterior scenario: effect (and, where the scenario lets it vary, maturity)
    distributions per partner and outcome conditioned on the observed data (see
    :attr:`Posterior.scenario`). For the posterior draws themselves use :func:`fit`."""
    return fit(scenario, observed, n_draws=n_draws, seed=seed, as_of=as_of).scenario


# --------------------------------------------------------------------------------------------
# Simulating the rest of the contract with the reported periods fixed


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
        free = np.maximum(0.0, self.plan.capacity - self._occupied)
        if self.mode != "expected":
            free = np.floor(free)
        bound = enrol >= free - 1e-9
        self.waiting = np.where(bound, np.maximum(self.waiting, enrol), enrol)
        self._pending = enrol
        return self._pending

    def service_costs(self, t: int, enrol: np.ndarray) -> np.ndarray:
        costs = super().service_costs(t, enrol)
        if t == self.obs.stopped and enrol is self._pending:
            # The reported stop: the fund could not pay for this period's delivery. Costs no fund
            # can meet make the engine stop delivery here, as it did.
            return np.full_like(costs, np.inf)
        return costs

    def commit(self, t: int, funded: np.ndarray) -> None:
        if t >= self.K:
            return super().commit(t, funded)
        # Reported enrolments happened, whatever the model's fund says.
        assert self._pending is not None
        enrol = self._pending
        self.waiting = np.maximum(self.waiting - enrol, 0.0)
        seen_waiting = self.obs.waiting[t]
        self.waiting = np.where(np.isnan(seen_waiting), self.waiting, seen_waiting)
        self._pending = None
        drop = self.draw_dropouts(t, enrol)
        seen = self.obs.dropped[t]
        drop = np.where(np.isnan(seen), drop, seen)
        self.enrolled[:, t, :] = enrol
        self.dropped[:, t, :] = drop
        x = self.draw_outcomes(t, enrol, drop)
        v = self.obs.verified[t]
        self.achieved[:, t] = np.where(v, np.nan_to_num(self.obs.achieved[t]), x)


class ObservedLedger(CommissionerLedger):
    """Commissioners pay exactly what was observed in reported periods (when the data has
    payment rows); dues falling then are settled by those payments, and observed payments count
    towards annual budgets and total caps. Later periods run as the model."""

    def __init__(self, s: Scenario, draws: Draws, n_paths: int, obs: Observed):
        super().__init__(s, draws, n_paths)
        self.obs = obs
        self.K = obs.as_of if obs.paid is not None else 0

    def step(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        if t >= self.K:
            return super().step(t)
        if t % self.ppy == 0:
            self.paid_year[:] = 0.0
        slot = t % self.ring
        due_cu = self.due[slot].copy()
        self.due[slot] = 0.0
        N, C, U = due_cu.shape
        pay = np.broadcast_to(self.obs.paid[t], (N, C)).astype(np.float64)  # type: ignore[index]
        due = due_cu.sum(axis=2, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            split = np.where(due > 0, due_cu / np.where(due > 0, due, 1.0), 1.0 / U)
        self.paid_year += pay
        self.paid_total += pay
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
    if not isinstance(n_paths, (int, np.integer)) or n_paths < 1:
        raise ValueError(f"n_paths: must be a whole number >= 1 (got {n_paths!r})")
    obs = _as_observed(scenario, observed, as_of)
    fit_ss, path_ss = _seed_sequence(seed).spawn(2)
    post = posterior if posterior is not None else fit(scenario, obs, n_draws=n_draws, seed=fit_ss)
    if post.observed is not obs and post.observed.as_of != obs.as_of:
        raise ValueError("posterior: fitted to other data (a different number of reported periods)")
    if not scenario.uncertainty.enabled:
        mode = "expected"
    seeds = block_seeds(path_ss, n_paths)
    parts, events = [], []
    left = keep_paths
    for i, ss in enumerate(seeds):
        size = min(BLOCK, n_paths - i * BLOCK)
        draws = sample_block(scenario, ss, size, exact=(mode == "exact"))
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + (7,))))
        draws = posterior_draws(post, draws, rng)
        flows = run_paths(
            scenario, draws, mode,  # type: ignore[arg-type]
            delivery=ObservedDelivery(scenario, draws, mode, obs),
            ledger=ObservedLedger(scenario, draws, size, obs),
        )
        keep = min(left, size)
        left -= keep
        parts.append(reduce_chunk(scenario, flows, keep, [size]))
        events.append(path_events(scenario, flows))
    r = Results.from_chunks(scenario, parts, seed=seed, mode=mode, engine="nowcast")
    r.extra.update(as_of=obs.as_of, observed=obs, posterior=post, events=pd.concat(events, ignore_index=True))
    return r


# --------------------------------------------------------------------------------------------
# Early warning


GROUP_ORDER = ("tranche", "guarantee", "outcome", "commissioner", "contract")
"""Order of the early-warning table: investors first, then thresholds, caps and delivery."""


def _event_key(group: str, name: str, event: str) -> str:
    return f"{group}|{name}|{event}"


def _cohort_improvement(o, flows: dict[str, np.ndarray], u: int, k: int, lo: int, hi: int) -> np.ndarray:
    """(N,) improvement of the participants unit u enrolled in periods lo..hi-1 on outcome k
    (NaN where nobody enrolled), as the contract measures it."""
    a = flows["achieved"][:, lo:hi, u, k].sum(axis=1)
    n = flows["enrolled"][:, lo:hi, u].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, a / np.where(n > 0, n, 1.0), 0.0)
    return np.where(n > 0, improvement(rate, o.baseline_rate, o.improvement), np.nan)


def _at_least(x: np.ndarray, threshold: float) -> np.ndarray:
    return np.where(np.isnan(x), np.nan, x >= threshold - 1e-12)


def path_events(s: Scenario, flows: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per path (rows), whether each early-warning event happens (columns ``group|name|event``,
    NaN where the event does not apply to a path, e.g. a loss on a tranche never drawn):

    - each payment threshold: per assessment cohort when the outcome has ``cohort_years``,
      else for all cohorts together; each tier of a tiered outcome; the overall threshold;
    - each commissioner's total cap and annual budget being reached;
    - each capital tranche losing money (as :func:`cib_sim.metrics.loss_statistics`), each
      guarantee being called; delivery stopping for lack of funds.
    """
    h = s.horizon
    T = flows["cash"].shape[1]
    cols: dict[str, np.ndarray] = {}
    units = unit_names(s)
    plan = unit_plan(s)
    for k, o in enumerate(s.outcomes):
        if o.payment_basis == "rate_card":
            continue
        levels: list[tuple[str, float]] = []
        if o.payment_basis == "above_baseline" and o.threshold > 0:
            levels.append((f"meets the {o.threshold:.3g} threshold", o.threshold))
        for tier in o.tiers:
            levels.append((f"reaches the {tier.min_improvement:.3g} tier", tier.min_improvement))
        for u, uname in enumerate(units):
            start, end = int(plan.start[u]), int(plan.end[u])
            label = o.name if len(units) == 1 else f"{o.name} / {uname}"
            if o.cohort_years is not None:
                G = max(1, h.to_periods(o.cohort_years))
                for j, lo in enumerate(range(start - start % G, end, G), start=1):
                    lo, hi = max(lo, start), min(lo + G, end)
                    x = _cohort_improvement(o, flows, u, k, lo, hi)
                    for text, thr in levels:
                        cols[_event_key("outcome", label, f"cohort {j} (periods {lo}-{hi - 1}) {text}")] = _at_least(x, thr)
            else:
                x = _cohort_improvement(o, flows, u, k, start, end)
                for text, thr in levels:
                    cols[_event_key("outcome", label, f"all cohorts together {text}")] = _at_least(x, thr)
            if o.overall_threshold is not None:
                x = _cohort_improvement(o, flows, u, k, start, end)
                cols[_event_key("outcome", label, f"meets the {o.overall_threshold:.3g} overall threshold")] = _at_least(
                    x, o.overall_threshold)
    paid = flows["commissioner_paid"]  # (N, T, C)
    ppy = h.periods_per_year
    n_years = -(-T // ppy)
    for c, com in enumerate(s.commissioners):
        if com.total_cap is not None:
            cols[_event_key("commissioner", com.name, "total cap reached")] = (
                paid[:, :, c].sum(axis=1) >= com.total_cap * (1 - 1e-6)).astype(float)
        if com.annual_budget is not None:
            yearly = np.stack([paid[:, y * ppy : (y + 1) * ppy, c].sum(axis=1) for y in range(n_years)], axis=1)
            cols[_event_key("commissioner", com.name, "annual budget reached in some year")] = (
                (yearly >= com.annual_budget * (1 - 1e-6)).any(axis=1).astype(float))
    paid_in, paid_out = (x.sum(axis=1) for x in investor_flows(flows))
    for k, t in enumerate(s.capital_tranches):
        if t.kind == "grant":
            continue
        i, o_ = paid_in[:, k], paid_out[:, k]
        cols[_event_key("tranche", t.name, "loses money")] = np.where(i > 0, (i - o_) > LOSS_RTOL * i, np.nan)
    guar = [t for t in s.tranches if t.kind == "guarantee"]
    for g, t in enumerate(guar):
        cols[_event_key("guarantee", t.name, "is called")] = (flows["guarantee_call"][:, :, g].sum(axis=1) > 0).astype(float)
    cols[_event_key("contract", s.name, "delivery stops for lack of funds")] = (flows["stop_period"] < T).astype(float)
    return pd.DataFrame(cols)


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


# --------------------------------------------------------------------------------------------
# A simulated "true" world, for tests, examples and the notebook


@dataclass
class World:
    """One path of a scenario played out in full: the truth that observations are taken from.

    flows: ``run_paths`` flows of the one path; draws: its :class:`Draws` (effect (1, P, O),
    half_maturity (1, P), exits, withdrawals).
    """

    scenario: Scenario
    flows: dict[str, np.ndarray]
    draws: Draws

    @property
    def effect(self) -> np.ndarray:
        """(P, O) the world's true effects."""
        return self.draws.effect[0]

    @property
    def half_maturity(self) -> np.ndarray:
        """(P,) the world's true half-maturities, years."""
        return self.draws.half_maturity[0]

    @property
    def total_paid(self) -> float:
        """Outcome payments over the whole contract, all commissioners."""
        return float(self.flows["commissioner_paid"][0].sum())

    def observed(self, as_of: int, payments: bool = True, dropouts: bool = True) -> pd.DataFrame:
        """What the world has reported by the end of period ``as_of - 1`` (observed format)."""
        from cib_sim.observed import observed_frame

        return observed_frame(
            self.scenario, self.flows, as_of, exit_period=self.draws.exit_period[0],
            withdraw_period=self.draws.withdraw_period[0], payments=payments, dropouts=dropouts,
        )


def simulate_world(
    s: Scenario, seed: Any = 0, effect: np.ndarray | float | None = None, effect_scale: float | None = None,
    half_maturity: np.ndarray | float | None = None, mode: str = "approx",
) -> World:
    """Draw one world from the scenario (inputs from its prior, or fixed): ``effect`` (P, O) or
    a number for every partner and outcome; ``effect_scale`` multiplies the scenario's mean
    effects; ``half_maturity`` (P,) or a number, years. Counts are drawn as in the engine."""
    draws = sample_block(s, _seed_sequence(seed), 1, exact=(mode == "exact"))
    if effect_scale is not None:
        mean = LatentSpace.of(s).prior_means()[0] if s.uncertainty.enabled else draws.effect[0]
        draws.effect = (np.asarray(mean) * effect_scale)[None].copy()
    if effect is not None:
        draws.effect = np.broadcast_to(np.asarray(effect, dtype=float), draws.effect.shape[1:])[None].copy()
    if half_maturity is not None:
        draws.half_maturity = np.broadcast_to(np.asarray(half_maturity, dtype=float), draws.half_maturity.shape[1:])[None].copy()
    flows = run_paths(s, draws, mode)  # type: ignore[arg-type]
    return World(s, flows, draws)
