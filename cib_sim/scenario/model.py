"""The scenario: one outcomes contract, as a validated pydantic model.

All money is in ``Scenario.currency``. Times (lags, service lengths, enrolment windows) are in
years from the start of the contract; rates (hazards, coupons, referrals) are per year. The engine
converts both to its period (month, quarter or year) and rounds times to whole periods.

Validation errors name the field path and the reason, e.g. ``partners[2].capacity: must be > 0``;
:class:`ScenarioError` carries them as a list so the CLI and the app can show each one.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}


class ScenarioError(ValueError):
    """A scenario failed validation (or could not be read); ``errors`` lists ``(path, reason)``
    and ``source`` names the file it came from, if any."""

    def __init__(self, errors: list[tuple[str, str]], source: str | None = None):
        self.errors = errors
        self.source = source
        lead = f"{source}: " if source else ""
        super().__init__("\n".join(f"{lead}{p}: {m}" if p else f"{lead}{m}" for p, m in errors))


class _Model(BaseModel):
    # extra="forbid": a misspelt field is an error, not a silently ignored default.
    model_config = ConfigDict(extra="forbid", validate_default=True)


# --------------------------------------------------------------------------------------------
# Horizon


class Horizon(_Model):
    """Contract length and the engine's time step."""

    years: float = Field(gt=0, le=50, description="Contract length in years, delivery and payments")
    period: Literal["month", "quarter", "year"] = "quarter"
    start: _dt.date = _dt.date(2020, 1, 1)
    discount_rate: float = Field(
        0.035, ge=0, le=1, description="Per year, for present values (HM Treasury Green Book 3.5%)"
    )

    @property
    def periods_per_year(self) -> int:
        return PERIODS_PER_YEAR[self.period]

    @property
    def n_periods(self) -> int:
        return max(1, round(self.years * self.periods_per_year))

    def to_periods(self, years: float) -> int:
        """A duration in years as a whole number of periods (rounded to nearest)."""
        return int(round(years * self.periods_per_year))


# --------------------------------------------------------------------------------------------
# Outcomes: the shared measurement framework and the rate card


class Tier(_Model):
    """One step of a tiered schedule: at or above ``min_improvement``, each outcome above the
    baseline is paid ``price``."""

    min_improvement: float = Field(ge=0, description="Improvement against the baseline, as a fraction")
    price: float = Field(ge=0, description="Currency per outcome above the baseline")


class Outcome(_Model):
    """An outcome metric, its counterfactual, its lag and its price on the rate card.

    Each enrolled participant achieves each outcome at most once. ``payment_basis``:

    - ``rate_card``: every verified outcome is paid ``price``;
    - ``above_baseline``: per assessment cohort, only outcomes above ``baseline_rate`` x enrolled
      are paid, and only if the cohort's improvement reaches ``threshold``;
    - ``tiered``: as ``above_baseline``, but the price per outcome is that of the highest tier
      whose ``min_improvement`` the cohort reached (nothing below the first tier).

    With ``overall_threshold`` (above_baseline only), when the last cohort is assessed, an
    improvement across all cohorts together at or above it earns the outcomes above baseline
    across all cohorts, less what the cohorts were already paid (Peterborough's 7.5% rule).

    ``improvement`` says how the improvement of achieved rate ``a`` over baseline ``b`` is
    measured: ``relative`` (a-b)/b, ``absolute`` a-b, or ``relative_reduction`` (a-b)/(1-b), the
    relative fall in the rate of the bad event (Peterborough's "10% fewer reconvictions").
    """

    name: str = Field(min_length=1)
    baseline_rate: float = Field(ge=0, le=1, description="Probability per participant without the intervention")
    lag: float = Field(ge=0, le=20, description="Years from enrolment until the outcome is verified")
    price: float = Field(ge=0, description="Currency per outcome (rate card)")
    fiscal_value: float = Field(0.0, ge=0, description="Currency of public value per outcome achieved")
    max_per_participant: float | None = Field(
        None, gt=0, description="Cap on this outcome's payment, currency per enrolled participant, per cohort"
    )
    payment_basis: Literal["rate_card", "above_baseline", "tiered"] = "rate_card"
    threshold: float = Field(0.0, ge=0, description="Minimum improvement for any payment (above_baseline)")
    overall_threshold: float | None = Field(
        None, ge=0, description="above_baseline: if all cohorts together reach this improvement, the "
        "outcomes above baseline across all cohorts are paid at the end (less what cohorts were paid)"
    )
    tiers: list[Tier] = Field(default_factory=list)
    improvement: Literal["relative", "absolute", "relative_reduction"] = "relative"
    cohort_years: float | None = Field(
        None, gt=0, description="Length of an assessment cohort in years (above_baseline, tiered); "
        "None: each period's enrolments are a cohort"
    )

    @model_validator(mode="after")
    def _check_basis(self) -> "Outcome":
        if self.payment_basis == "tiered":
            if not self.tiers:
                raise ValueError("tiers: a tiered outcome needs at least one tier")
            levels = [t.min_improvement for t in self.tiers]
            if levels != sorted(levels) or len(set(levels)) != len(levels):
                raise ValueError("tiers: min_improvement must be strictly increasing")
        elif self.tiers:
            raise ValueError(f"tiers: only used when payment_basis is 'tiered' (it is {self.payment_basis!r})")
        if self.overall_threshold is not None and self.payment_basis != "above_baseline":
            raise ValueError("overall_threshold: only used when payment_basis is 'above_baseline'")
        return self

    @property
    def top_price(self) -> float:
        """The most this outcome can pay per outcome achieved."""
        return max([self.price] + [t.price for t in self.tiers])


# --------------------------------------------------------------------------------------------
# Delivery partners


class Effect(_Model):
    """Uplift in an outcome's probability at full maturity: Normal(mean, sd) across paths."""

    mean: float = Field(ge=-1, le=1)
    sd: float = Field(0.0, ge=0, le=1)


class Maturity(_Model):
    """How fast a partner reaches full effect: ``logistic`` m(t) = 1 / (1 + exp(-(t - h) / s)),
    t in years since the partner starts delivering; ``immediate`` is full effect from day one."""

    kind: Literal["logistic", "immediate"] = "logistic"
    half_maturity: float = Field(2.0, ge=0, le=20, description="Years to reach half the full effect")
    steepness: float = Field(0.5, gt=0, le=10, description="Years; larger is a slower ramp")


class PartnerContract(_Model):
    """How the backbone pays a partner: ``upfront_share`` of its cost per participant, paid as
    the service is delivered, plus ``outcome_share`` of the outcome payments attributed to it
    (the contingent part through which a CIB passes risk down to charities)."""

    upfront_share: float = Field(1.0, ge=0, le=1)
    outcome_share: float = Field(0.0, ge=0, le=1)


class Partner(_Model):
    """A delivery partner (a charity). Referral, capacity and window fields are used in the
    ``pipelines`` delivery model; ``reach`` in the ``zone`` model."""

    name: str = Field(min_length=1)
    referrals: float | None = Field(None, ge=0, description="Expected referrals per year (pipelines)")
    capacity: float | None = Field(None, gt=0, description="Participants in service at once (pipelines)")
    enrolment_start: float = Field(0.0, ge=0, description="Years from contract start")
    enrolment_end: float | None = Field(None, gt=0, description="Years from contract start; None: horizon")
    service_length: float = Field(1.0, gt=0, le=20, description="Years a participant is in service")
    dropout: float = Field(0.0, ge=0, lt=1, description="Probability a participant leaves before completing")
    abandonment: float = Field(0.0, ge=0, le=1, description="Probability per year a waiting referral gives up")
    reach: float = Field(1.0, gt=0, le=1, description="Share of zone participants this partner serves (zone)")
    cost: float = Field(0.0, ge=0, description="Currency per participant served, spread over the service")
    fixed_cost: float = Field(0.0, ge=0, description="Currency per year while delivering")
    effect: dict[str, Effect] = Field(default_factory=dict)
    maturity: Maturity = Field(default_factory=Maturity)
    exit_hazard: float = Field(0.0, ge=0, le=5, description="Probability rate per year of stopping delivery")
    contract: PartnerContract = Field(default_factory=PartnerContract)


class Delivery(_Model):
    """How partners work together.

    - ``pipelines``: each partner recruits and serves its own participants (a rate-card fund).
    - ``zone``: participants enrol once into the partnership (within ``capacity``); each receives
      a package: partner i serves a share ``reach`` of them, independently. A participant served
      by the set S of partners achieves an outcome with probability
      ``baseline + (sum of effect x maturity over S) x (1 + interaction x (|S| - 1))``, clipped to
      [0, 1]; ``interaction`` > 0 is synergy between mutually reinforcing activities, < 0 overlap.
      Outcome payments are attributed to partners pro rata to ``cost`` (cost x reach), ``reach``,
      or a ``fixed`` split.
    """

    model: Literal["pipelines", "zone"] = "pipelines"
    referrals: float | None = Field(None, ge=0, description="Zone referrals per year")
    capacity: float | None = Field(None, gt=0, description="Zone participants at once")
    enrolment_start: float = Field(0.0, ge=0)
    enrolment_end: float | None = Field(None, gt=0)
    service_length: float = Field(1.0, gt=0, le=20)
    dropout: float = Field(0.0, ge=0, lt=1)
    abandonment: float = Field(0.0, ge=0, le=1)
    interaction: float = Field(0.0, ge=-1, le=2)
    attribution: Literal["cost", "reach", "fixed"] = "cost"
    split: dict[str, float] = Field(default_factory=dict, description="Fixed attribution shares by partner")


# --------------------------------------------------------------------------------------------
# Commissioners, investors, backbone, terms, uncertainty


class Commissioner(_Model):
    """An outcome payer: pays ``shares[outcome]`` of each verified outcome's price."""

    name: str = Field(min_length=1)
    shares: dict[str, float] = Field(description="Share of each outcome's price, 0..1")
    annual_budget: float | None = Field(None, gt=0, description="Currency per contract year")
    total_cap: float | None = Field(None, gt=0, description="Currency over the contract")
    payment_lag: float = Field(0.0, ge=0, le=10, description="Years from verification to payment")
    withdrawal_hazard: float = Field(0.0, ge=0, le=5, description="Probability rate per year of stopping paying")


class Tranche(_Model):
    """An investor tranche. The list order is seniority: first is most senior.

    ``coupon`` (per year, simple, on outstanding capital) is paid before capital. Once all capital
    and coupons are repaid, tranches with ``upside`` share the rest pro rata to commitment, each up
    to its return cap (``cap_multiple`` of money drawn, and/or ``cap_irr`` a year). ``grant``
    capital funds delivery and expects nothing back. A ``guarantee`` is not drawn for delivery:
    at the end it pays the ``covers`` tranche's unrepaid capital, up to ``commitment``.
    """

    name: str = Field(min_length=1)
    kind: Literal["senior", "subordinated", "first_loss", "grant", "guarantee"] = "senior"
    commitment: float = Field(gt=0, description="Currency")
    coupon: float = Field(0.0, ge=0, le=1, description="Coupon or hurdle rate per year")
    cap_multiple: float | None = Field(None, ge=1, description="Most cash back as a multiple of capital drawn")
    cap_irr: float | None = Field(None, ge=0, le=2, description="Most return, as an IRR per year")
    upside: bool | None = Field(None, description="Shares the upside; default: subordinated and first_loss do")
    covers: str | None = Field(None, description="Name of the tranche a guarantee covers")

    @property
    def has_upside(self) -> bool:
        if self.upside is not None:
            return self.upside and self.kind not in ("grant", "guarantee")
        return self.kind in ("subordinated", "first_loss")


class Backbone(_Model):
    """The backbone organisation: coordination, data and evaluation, funded from capital."""

    cost: float = Field(0.0, ge=0, description="Currency per year")
    success_fee: float = Field(0.0, ge=0, le=1, description="Share of outcome payments received")


class Terms(_Model):
    """Contract terms between the fund, its investors and its payers."""

    recycling: bool = Field(
        False, description="Outcome payments fund further delivery; distributions wait for delivery to end"
    )
    distribution_frequency: Literal["period", "year", "end"] = "period"
    excess_to: Literal["commissioners", "partners", "split"] = "commissioners"
    excess_split: float = Field(0.5, ge=0, le=1, description="Share of excess to commissioners when 'split'")


class Uncertainty(_Model):
    """What is drawn once per path, and the correlation between partners.

    Effects are Normal(mean, sd) per partner and outcome; a common shock with correlation ``rho``
    (a Gaussian copula) moves every partner's effect, maturity delay and referral volume together.
    ``enabled: false`` switches all randomness off: parameters at their means, counts at their
    expectations, no exits or withdrawals, so a hand calculation can check the engine.
    """

    enabled: bool = True
    rho: float = Field(0.3, ge=0, lt=1, description="Correlation of the common shock across partners")
    maturity_delay_sd: float = Field(0.0, ge=0, le=10, description="Years, sd of the delay in half-maturity")
    referral_sd: float = Field(0.0, ge=0, le=3, description="Log-sd of the referral volume multiplier")


class Scenario(_Model):
    """One outcomes contract: measurement, delivery, payers, investors and terms."""

    name: str = Field(min_length=1)
    description: str = ""
    currency: str = Field("GBP", min_length=3, max_length=3)
    horizon: Horizon
    outcomes: list[Outcome] = Field(min_length=1)
    delivery: Delivery = Field(default_factory=Delivery)
    partners: list[Partner] = Field(min_length=1)
    commissioners: list[Commissioner] = Field(min_length=1)
    tranches: list[Tranche] = Field(min_length=1)
    backbone: Backbone = Field(default_factory=Backbone)
    terms: Terms = Field(default_factory=Terms)
    uncertainty: Uncertainty = Field(default_factory=Uncertainty)

    @model_validator(mode="after")
    def _cross_check(self) -> "Scenario":
        errors = _cross_field_errors(self)
        if errors:
            raise ValueError("; ".join(f"{p}: {m}" for p, m in errors))
        return self

    # ---- derived views used across the package
    @property
    def outcome_names(self) -> list[str]:
        return [o.name for o in self.outcomes]

    @property
    def partner_names(self) -> list[str]:
        return [p.name for p in self.partners]

    @property
    def capital_tranches(self) -> list[Tranche]:
        """Tranches drawn to fund delivery (all but guarantees), in seniority order."""
        return [t for t in self.tranches if t.kind != "guarantee"]

    def unfunded_shares(self) -> dict[str, float]:
        """Per outcome, the share of its price no commissioner pays (only those > 0)."""
        out = {}
        for o in self.outcomes:
            funded = sum(c.shares.get(o.name, 0.0) for c in self.commissioners)
            if funded < 1 - 1e-9:
                out[o.name] = 1 - funded
        return out

    def service_years(self) -> float:
        """Years from the first enrolment to the end of the last participant's service."""
        units = [self.delivery] if self.delivery.model == "zone" else self.partners
        start = min(u.enrolment_start for u in units)
        end = max((u.enrolment_end if u.enrolment_end is not None else self.horizon.years) + u.service_length for u in units)
        return min(end, self.horizon.years) - start


def _cross_field_errors(s: Scenario) -> list[tuple[str, str]]:
    """Checks that span fields: names, references between entities, windows, shares."""
    errs: list[tuple[str, str]] = []
    for field in ("outcomes", "partners", "commissioners", "tranches"):
        seen: set[str] = set()
        for i, item in enumerate(getattr(s, field)):
            if item.name in seen:
                errs.append((f"{field}[{i}].name", f"duplicate name {item.name!r}"))
            seen.add(item.name)
    known = set(s.outcome_names)
    known_txt = ", ".join(sorted(known))
    years = s.horizon.years
    zone = s.delivery.model == "zone"

    def check_window(path: str, start: float, end: float | None) -> None:
        if end is not None and end <= start:
            errs.append((f"{path}.enrolment_end", f"must be after enrolment_start ({start})"))
        if end is not None and end > years + 1e-9:
            errs.append((f"{path}.enrolment_end", f"must be within the horizon ({years} years)"))
        if start >= years:
            errs.append((f"{path}.enrolment_start", f"must be before the end of the horizon ({years} years)"))

    for i, p in enumerate(s.partners):
        for o in p.effect:
            if o not in known:
                errs.append((f"partners[{i}].effect.{o}", f"unknown outcome {o!r} (known: {known_txt})"))
        if not zone:
            for f in ("referrals", "capacity"):
                if getattr(p, f) is None:
                    errs.append((f"partners[{i}].{f}", "required when delivery.model is 'pipelines'"))
            check_window(f"partners[{i}]", p.enrolment_start, p.enrolment_end)
    if zone:
        d = s.delivery
        for f in ("referrals", "capacity"):
            if getattr(d, f) is None:
                errs.append((f"delivery.{f}", "required when delivery.model is 'zone'"))
        check_window("delivery", d.enrolment_start, d.enrolment_end)
        if len(s.partners) > 8:
            errs.append(("partners", "the zone model supports at most 8 partners (packages are enumerated)"))
    if s.delivery.attribution == "fixed":
        names = set(s.partner_names)
        for k in s.delivery.split:
            if k not in names:
                errs.append((f"delivery.split.{k}", f"unknown partner {k!r}"))
        total = sum(s.delivery.split.values())
        if abs(total - 1) > 1e-6:
            errs.append(("delivery.split", f"shares must sum to 1 (they sum to {total:g})"))
        if any(v < 0 for v in s.delivery.split.values()):
            errs.append(("delivery.split", "shares must be >= 0"))

    for i, p in enumerate(s.partners):
        if p.contract.outcome_share + s.backbone.success_fee > 1 + 1e-12:
            errs.append((f"partners[{i}].contract.outcome_share", f"with the backbone's success_fee "
                         f"({s.backbone.success_fee:g}) it passes on more than all of the outcome payments"))

    for i, c in enumerate(s.commissioners):
        for o, share in c.shares.items():
            if o not in known:
                errs.append((f"commissioners[{i}].shares.{o}", f"unknown outcome {o!r} (known: {known_txt})"))
            if not 0 <= share <= 1:
                errs.append((f"commissioners[{i}].shares.{o}", "must be between 0 and 1"))
    for o in s.outcomes:
        total = sum(c.shares.get(o.name, 0.0) for c in s.commissioners)
        if total > 1 + 1e-9:
            errs.append(("commissioners", f"shares of outcome {o.name!r} sum to {total:g}, above 1"))

    tranche_names = {t.name: t for t in s.tranches}
    if not s.capital_tranches:
        errs.append(("tranches", "need at least one tranche that provides capital (not a guarantee)"))
    for i, t in enumerate(s.tranches):
        if t.kind == "guarantee":
            if t.covers is None:
                errs.append((f"tranches[{i}].covers", "a guarantee must name the tranche it covers"))
            elif t.covers not in tranche_names or tranche_names[t.covers].kind in ("guarantee", "grant"):
                errs.append((f"tranches[{i}].covers", f"{t.covers!r} is not a senior, subordinated or first_loss tranche"))
        elif t.covers is not None:
            errs.append((f"tranches[{i}].covers", "only a guarantee covers another tranche"))
    return errs


# --------------------------------------------------------------------------------------------
# Reading, writing, error messages

_REASONS = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "missing": "required",
    "extra_forbidden": "unknown field (check the spelling)",
    "too_short": "must not be empty",
}


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def errors_from_validation(exc: ValidationError) -> list[tuple[str, str]]:
    """Pydantic's errors as ``(field path, reason)`` pairs in our wording."""
    out: list[tuple[str, str]] = []
    for e in exc.errors():
        path = _loc_to_path(tuple(e["loc"]))
        ctx = e.get("ctx") or {}
        if e["type"] == "value_error":
            # Our cross-field checks already carry their own 'path: reason' parts.
            msg = str(ctx.get("error", e["msg"]))
            for part in msg.split("; "):
                sub, _, reason = part.partition(": ")
                if reason:
                    full = f"{path}.{sub}" if path and not sub.startswith(path) else sub
                    out.append((full, reason))
                else:
                    out.append((path, part))
            continue
        template = _REASONS.get(e["type"])
        if template and e["type"] == "too_short" and ctx.get("min_length", 1) > 1:
            template = None
        nice = {k: (f"{v:g}" if isinstance(v, float) else v) for k, v in ctx.items()}
        reason = template.format(**nice) if template else e["msg"][0].lower() + e["msg"][1:]
        out.append((path, reason))
    return out


def parse_scenario(data: Any) -> Scenario:
    """Validate a plain dict into a :class:`Scenario`, raising :class:`ScenarioError`."""
    if data is None:
        raise ScenarioError([("", "the scenario is empty")])
    if not isinstance(data, dict):
        raise ScenarioError([("", f"a scenario must be a mapping of fields, not {type(data).__name__}")])
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(errors_from_validation(exc)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario from YAML; errors name the file, the field path and the reason."""
    p = Path(path)
    if not p.exists():
        raise ScenarioError([("", "no such file")], source=str(p))
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([("", f"cannot read: {exc}")], source=str(p)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError([("", f"not valid YAML{where}: {problem}")], source=str(p)) from None
    try:
        return parse_scenario(data)
    except ScenarioError as exc:
        raise ScenarioError(exc.errors, source=str(p)) from None


def scenario_to_yaml(s: Scenario) -> str:
    """The scenario as YAML text, every field written, so that loading it gives ``s`` again."""
    body = yaml.safe_dump(s.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100)
    return body


def scenario_from_yaml(text: str) -> Scenario:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError([("", f"not valid YAML: {exc}")]) from None
    return parse_scenario(data)


def save_scenario(s: Scenario, path: str | Path) -> None:
    """Write ``s`` as YAML; ``load_scenario(path) == s``."""
    Path(path).write_text(scenario_to_yaml(s), encoding="utf-8")
