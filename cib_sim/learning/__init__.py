"""Learning as results arrive: update the scenario from observed data, nowcast, early warning.

Four steps, each usable alone::

    fit(scenario, observed)       -> Posterior   (weighted draws of the uncertain inputs given the data)
    update(scenario, observed)    -> Scenario    (the posterior, moment-matched back to a scenario)
    nowcast(scenario, observed)   -> Results     (the whole contract, reported periods fixed)
    early_warning(scenario, observed, previous_observed) -> DataFrame

``observed`` is an :class:`~cib_sim.learning.observed.Observed`, a DataFrame or a CSV in the format of
:mod:`cib_sim.learning.observed`.

**The model being updated** is the scenario's own. Each path draws, once, standard normals: a
common shock ``c``, one ``e`` per partner and outcome, one ``d`` per partner (maturity delay) and
one ``r`` per delivery unit (referral volume); effect = mean + sd (sqrt(rho) c + sqrt(1 - rho) e),
half-maturity = half - delay_sd (sqrt(rho) c + sqrt(1 - rho) d), referral multiplier =
exp(referral_sd (sqrt(rho) c + sqrt(1 - rho) r) - referral_sd^2 / 2) (see :mod:`cib_sim.engine.sample`).
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

from cib_sim.learning.events import (
    GROUP_ORDER,
    path_events,
)
from cib_sim.learning.nowcast import (
    ObservedDelivery,
    ObservedLedger,
    nowcast,
    posterior_draws,
)
from cib_sim.learning.observed import Observed, ObservedDataError, read_observed
from cib_sim.learning.posterior import (
    DEFAULT_DRAWS,
    ESS_STEP,
    MIN_ESS,
    LatentSpace,
    Likelihood,
    NothingToLearnWarning,
    Posterior,
    PosteriorCollapseWarning,
    adaptive_importance_sampling,
    as_observed,
    fit,
    update,
)
from cib_sim.learning.warning import (
    early_warning,
    event_probabilities,
    fan_frame,
    headline,
    interval,
)
from cib_sim.learning.worlds import (
    World,
    simulate_world,
)

__all__ = [
    "DEFAULT_DRAWS",
    "ESS_STEP",
    "MIN_ESS",
    "PosteriorCollapseWarning",
    "NothingToLearnWarning",
    "LatentSpace",
    "Likelihood",
    "adaptive_importance_sampling",
    "Posterior",
    "as_observed",
    "fit",
    "update",
    "ObservedDelivery",
    "ObservedLedger",
    "posterior_draws",
    "nowcast",
    "GROUP_ORDER",
    "path_events",
    "event_probabilities",
    "early_warning",
    "headline",
    "interval",
    "fan_frame",
    "World",
    "simulate_world",
    "Observed",
    "ObservedDataError",
    "read_observed",
]
