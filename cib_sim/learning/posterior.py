"""The update: the posterior of a scenario's uncertain inputs given observed data (:func:`fit`),
and the scenario moment-matched to it (:func:`update`). How it works is told in
:mod:`cib_sim.learning`."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from cib_sim.engine.delivery import DeliveryState, unit_plan
from cib_sim.engine.sample import Draws, n_units
from cib_sim.errors import InputError
from cib_sim.learning.observed import (
    Observed,
    empty_observed,
    read_observed,
    unit_names,
)
from cib_sim.run.plan import root_sequence
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
        :func:`cib_sim.engine.sample.sample_block` computes them."""
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
        self.count_k = [k for k, o in enumerate(s.outcomes) if o.kind == "count"]
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
            for k in self.count_k:  # events: Poisson or negative binomial totals, not binomial
                contrib[..., k] = self._count_loglik(k, x[:, k], n, w1, p1[..., k])
            ll += np.where(mask, contrib, 0.0).reshape(z.shape[0], -1).sum(axis=1)
        return ll

    def _count_loglik(self, k: int, x: np.ndarray, n: np.ndarray, w1: np.ndarray, avoided: np.ndarray) -> np.ndarray:
        """(M, U) log-likelihood of ``x`` (U,) events of a count outcome from ``n`` (U,)
        participants, a share ``w1`` of them completers who avoid ``avoided`` (M, U) of the
        baseline events (constants in the parameters dropped)."""
        o = self.s.outcomes[k]
        mu = n[None, :] * o.baseline_events * (w1[None, :] * (1.0 - avoided) + (1.0 - w1)[None, :])
        mu = np.maximum(mu, 1e-12)
        shape = o.count.dispersion
        if shape is None:
            return x[None, :] * np.log(mu) - mu
        r = np.maximum(n, 1e-12)[None, :] * shape
        return r * np.log(r / (r + mu)) + x[None, :] * np.log(mu / (r + mu))


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
            raise InputError([("observed data", "impossible under every draw of the scenario")])
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


def as_observed(s: Scenario, observed: Any, as_of: int | None = None) -> Observed:
    if isinstance(observed, Observed):
        return observed
    if observed is None:
        return empty_observed(s)
    return read_observed(observed, s, as_of=as_of)


def fit(
    scenario: Scenario, observed: Any, n_draws: int = DEFAULT_DRAWS, seed: Any = 0, min_ess: float = MIN_ESS,
    as_of: int | None = None, retries: int = 2,
) -> Posterior:
    """The posterior of the scenario's uncertain inputs given ``observed`` (an :class:`Observed`,
    a DataFrame or a CSV path in the format of :mod:`cib_sim.learning.observed`).

    When the effective sample size falls below ``min_ess`` the sampler runs again with twice the
    draws, up to ``retries`` times; if it is still below, a :class:`PosteriorCollapseWarning`.
    :class:`NothingToLearnWarning` when the scenario has no uncertainty to update.
    """
    obs = as_observed(scenario, observed, as_of)
    space = LatentSpace.of(scenario)
    rng = np.random.Generator(np.random.PCG64(root_sequence(seed)))
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


