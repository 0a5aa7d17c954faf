"""The scenario: one outcomes contract, as a validated pydantic model.

All money is in ``Scenario.currency``. Times (lags, service lengths, enrolment windows) are in
years from the start of the contract; rates (hazards, coupons, referrals) are per year. The engine
converts both to its period (month, quarter or year) and rounds times to whole periods.

Validation errors name the field path and the reason, e.g. ``partners[2].capacity: must be > 0``;
:class:`ScenarioError` carries them as a list so the CLI and the app can show each one.

Every number must be finite (no inf or nan) and a number (``true``/``false`` are refused); counts
of people are at most ``MAX_PEOPLE``, money amounts at most ``MAX_MONEY``. A validated scenario
stays valid: its parts (outcomes, partners, ...) are frozen, ``model_copy(update=...)`` validates
the copy, and assigning a field of the scenario itself validates the whole scenario again (and
leaves it unchanged if that fails). To change a part, copy it and put the copy in a copy of the
scenario: ``s.model_copy(update={"partners": [s.partners[0].model_copy(update={"capacity": 50})]})``.
Changing a list or a dict in place (``s.partners.append(...)``, ``c.shares["job"] = 5``) is not
seen; don't.
"""

from __future__ import annotations

import copy
import datetime as _dt
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from cib_sim.errors import InputError

PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}

# Upper limits where a larger value cannot be meant (a slip of units or of the keyboard).
MAX_PEOPLE = 1e9  # referrals per year, participants at once
MAX_MONEY = 1e13  # any amount of money: prices, costs, budgets, caps, commitments
MAX_RATIO = 1e6  # improvements (as fractions) and multiples of capital
_LIMIT_NOTES = {MAX_PEOPLE: "the limit on numbers of people", MAX_MONEY: "the limit on amounts of money",
                MAX_RATIO: "the limit on improvements and multiples"}


class ScenarioError(InputError):
    """A scenario failed validation (or could not be read); ``errors`` lists ``(path, reason)``
    and ``source`` names the file it came from, if any."""

    def __init__(self, errors: list[tuple[str, str]], source: str | None = None):
        self.errors = errors
        self.source = source
        lead = f"{source}: " if source else ""
        ValueError.__init__(self, "\n".join(f"{lead}{p}: {m}" if p else f"{lead}{m}" for p, m in errors))

    def __reduce__(self):
        return (type(self), (self.errors, self.source))


class FieldErrors(ValueError):
    """Raised by a model's own checks: ``errors`` lists ``(path, reason)``, each path relative
    to the model that raised it ("" for the model itself). Pydantic keeps the exception in the
    error's context, so :func:`errors_from_validation` reads the pairs back as they were."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = list(errors)
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in self.errors))


def check_shares(shares: dict[str, float]) -> dict[str, float]:
    """``shares`` (name -> fraction) unchanged if every one is in [0, 1]; else
    :class:`FieldErrors` naming each that is not."""
    bad = [(name, "must be between 0 and 1") for name, share in shares.items() if not 0 <= share <= 1]
    if bad:
        raise FieldErrors(bad)
    return shares


_NOT_BOOL = "must be a number, not true/false"


def _number_kind(annotation: Any) -> str | None:
    """``"number"`` for a float field (optional or not), ``"mapping"`` for a mapping to floats,
    else None (booleans are valid only where neither)."""
    if annotation is float or annotation is int:
        return "number"
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is dict and len(args) == 2:
        return "mapping" if _number_kind(args[1]) == "number" else None
    if origin in (Union, types.UnionType) and bool not in args:
        kinds = {_number_kind(a) for a in args if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    return None


_NUMBER_KINDS: dict[tuple[type, str], str | None] = {}


class _Model(BaseModel):
    # extra="forbid": a misspelt field is an error, not a silently ignored default.
    # allow_inf_nan=False: inf and nan (YAML .inf, .nan, or 1e400) are refused wherever a number
    # is, values of mappings included. frozen: the parts of a scenario cannot be changed in place
    # (the scenario's cross-field checks could not see it); the Scenario itself is not frozen, and
    # validate_assignment checks an assignment to it. model_copy(update=...) validates the copy.
    model_config = ConfigDict(
        extra="forbid", validate_default=True, allow_inf_nan=False, validate_assignment=True, frozen=True
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """``true``/``false`` where a number is meant (pydantic would read them as 1 and 0)."""
        if isinstance(value, (bool, dict)) and info.field_name is not None:
            key = (cls, info.field_name)
            if key not in _NUMBER_KINDS:
                _NUMBER_KINDS[key] = _number_kind(cls.model_fields[info.field_name].annotation)
            kind = _NUMBER_KINDS[key]
            if kind == "number" and isinstance(value, bool):
                raise PydanticCustomError("bool_not_number", _NOT_BOOL)
            if kind == "mapping" and isinstance(value, dict):
                bad = [(str(k), _NOT_BOOL) for k, v in value.items() if isinstance(v, bool)]
                if bad:
                    raise FieldErrors(bad)
        return value

    def _refuse(self, name: str, value: Any, kind: str, message: str) -> ValidationError:
        return ValidationError.from_exception_data(
            type(self).__name__, [{"type": PydanticCustomError(kind, message), "loc": (name,), "input": value}]
        )

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in type(self).model_fields:
            super().__setattr__(name, value)  # pydantic's own error for an unknown name
            return
        if self.model_config.get("frozen"):
            raise self._refuse(
                name, value, "frozen_part",
                f"cannot be changed in place (a {type(self).__name__} is part of a validated scenario): "
                "make a changed copy with model_copy(update=...) and put it into a copy of the scenario, "
                "made with the scenario's model_copy(update=...)",
            )
        # validate_assignment runs the model's own checks after setting the value; if they fail,
        # put the old values back, so that a failed assignment changes nothing.
        before, fields_set = self.__dict__.copy(), set(self.__pydantic_fields_set__)
        try:
            super().__setattr__(name, value)
        except ValidationError:
            object.__setattr__(self, "__dict__", before)
            object.__setattr__(self, "__pydantic_fields_set__", fields_set)
            raise

    def __delattr__(self, name: str) -> None:
        if name in type(self).model_fields:
            raise self._refuse(name, None, "field_not_deletable", "a field cannot be deleted; assign a value instead")
        super().__delattr__(name)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update``, validated as a whole (checks across fields included), so an
        invalid update raises :class:`pydantic.ValidationError` naming the field. Values in
        ``update`` are used as given (a model instance is kept, not copied); with ``deep``, the
        other fields are deep copies."""
        if not update:
            return super().model_copy(deep=deep)
        data = {k: (copy.deepcopy(v) if deep and k not in update else v) for k, v in self.__dict__.items()}
        data.update(update)
        out = type(self).model_validate(data)
        object.__setattr__(out, "__pydantic_fields_set__", self.__pydantic_fields_set__ | set(update))
        return out


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

    min_improvement: float = Field(ge=0, le=MAX_RATIO, description="Improvement against the baseline, as a fraction")
    price: float = Field(ge=0, le=MAX_MONEY, description="Currency per outcome above the baseline")


class Step(_Model):
    """One step of a lump-sum schedule: a measured improvement at or above ``min_improvement``
    earns ``amount`` (a lump sum, not a price per outcome)."""

    min_improvement: float = Field(ge=0, le=MAX_RATIO, description="Measured improvement, as a fraction (or absolute)")
    amount: float = Field(ge=0, le=MAX_MONEY, description="Currency paid when the improvement reaches this step")


class CountMeasure(_Model):
    """How a ``count`` outcome is measured: events or days per participant (reconviction events,
    bed days, days in care, school absences, years of special education).

    The outcome's ``baseline_rate`` is then the expected number of events per participant without
    the intervention, ``per`` year of the tracking window or over the whole ``window_years``. Each
    participant's count is Poisson, or negative binomial with shape ``dispersion`` (variance
    mean + mean^2 / dispersion: smaller is more over-dispersed). A partner's ``effect`` on a count
    outcome is the proportional reduction of the rate at full maturity (0.1: 10% fewer events;
    a negative effect is clipped: the rate never rises above the baseline). The window's events
    are measured once and paid in ``instalments`` equal parts: the first ``lag`` after enrolment
    (after the cohort closes), the others every ``window_years / instalments`` after it.
    """

    per: Literal["year", "window"] = Field("year", description="baseline_rate is events per participant per year of the window, or per window")
    window_years: float = Field(1.0, gt=0, le=30, description="Years of tracking after which events are counted")
    instalments: int = Field(1, ge=1, le=360, description="Equal payments spread over the tracking window")
    dispersion: float | None = Field(
        None, gt=0, le=MAX_RATIO, description="Negative binomial shape (variance mean + mean^2 / dispersion); None: Poisson"
    )

    def per_participant(self, baseline_rate: float) -> float:
        """Expected events per participant over the whole window at ``baseline_rate``."""
        return baseline_rate * (self.window_years if self.per == "year" else 1.0)


class Comparison(_Model):
    """The counterfactual a cohort's result is measured against.

    - ``historical`` (the default when no ``comparison`` is given): the fixed ``baseline_rate``.
      With ``drift`` (and ``drift_sd``: drawn once per path, Normal(drift, drift_sd)), the true
      rate without the intervention moves by ``drift`` a year from the contract start (binary
      outcomes: by that much probability a year; count outcomes: by that share of the baseline a
      year), while the contract still pays against the fixed baseline.
    - ``randomised`` or ``matched``: each assessment cohort is compared with its own control group
      of ``size`` people, whose outcome rate is drawn (binomial from the counterfactual rate; for a
      count outcome a negative binomial or Poisson total), so the measured improvement carries
      sampling error. An overall threshold compares all cohorts with all their control groups.
      With uncertainty off the control group's rate is the counterfactual rate exactly.
    """

    kind: Literal["historical", "randomised", "matched"] = "historical"
    size: float | None = Field(None, gt=0, le=MAX_PEOPLE, description="People in each cohort's control group (randomised, matched)")
    drift: float = Field(0.0, ge=-1, le=1, description="Change a year of the rate without the intervention (count outcomes: a share of the baseline)")
    drift_sd: float = Field(0.0, ge=0, le=1, description="Sd across paths of the drift a year")

    @model_validator(mode="after")
    def _check_kind(self) -> "Comparison":
        if self.kind == "historical" and self.size is not None:
            raise FieldErrors([("size", "only a randomised or matched comparison has a control group size")])
        if self.kind != "historical" and self.size is None:
            raise FieldErrors([("size", f"a {self.kind} comparison needs the size of each cohort's control group")])
        return self


class Outcome(_Model):
    """An outcome metric, its counterfactual, its lag and its price on the rate card.

    ``kind``: ``binary`` (each enrolled participant achieves the outcome at most once, with a
    probability) or ``count`` (events or days per participant over a tracking window, see
    :class:`CountMeasure`; the outcome pays per event *avoided* against the counterfactual, and
    ``achieved`` counts the events recorded). ``payment_basis``:

    - ``rate_card``: every verified outcome is paid ``price`` (count outcomes: every event
      avoided against the baseline);
    - ``above_baseline``: per assessment cohort, only outcomes above ``baseline_rate`` x enrolled
      are paid, and only if the cohort's improvement reaches ``threshold``;
    - ``tiered``: as ``above_baseline``, but the price per outcome is that of the highest tier
      whose ``min_improvement`` the cohort reached (nothing below the first tier);
    - ``lump_sum``: the ``schedule``'s amount for the highest step whose ``min_improvement`` the
      measured improvement reached (nothing below the first step), per assessment cohort
      (``schedule_per: cohort``) or once for the whole programme (``programme``: all cohorts of
      all delivery units together, assessed ``lag`` after the last enrolment and attributed to
      units pro rata to their enrolments).

    With ``overall_threshold`` (above_baseline only), when the last cohort is assessed, an
    improvement across all cohorts together at or above it earns the outcomes above baseline
    across all cohorts, less what the cohorts were already paid (Peterborough's 7.5% rule).

    ``improvement`` says how the improvement of achieved rate ``a`` over baseline ``b`` is
    measured: ``relative`` (a-b)/b, ``absolute`` a-b, or ``relative_reduction`` (a-b)/(1-b), the
    relative fall in the rate of the bad event. For a count outcome the improvement is the fall in
    events per participant: ``relative`` and ``relative_reduction`` (b-a)/b, ``absolute`` b-a.

    ``comparison`` (see :class:`Comparison`): what the cohort is measured against; a control group
    of its own, drawn, or the historical baseline, perhaps with the world drifting away from it.
    """

    name: str = Field(min_length=1)
    kind: Literal["binary", "count"] = Field("binary", description="binary: achieved or not; count: events per participant")
    baseline_rate: float = Field(
        ge=0, le=MAX_RATIO, description="Probability per participant without the intervention (count: events per participant, see count.per)"
    )
    lag: float = Field(ge=0, le=20, description="Years from enrolment until the outcome is verified (count: the first instalment)")
    price: float = Field(ge=0, le=MAX_MONEY, description="Currency per outcome (rate card; count: per event avoided)")
    fiscal_value: float = Field(0.0, ge=0, le=MAX_MONEY, description="Currency of public value per outcome achieved (count: per event avoided)")
    max_per_participant: float | None = Field(
        None, gt=0, le=MAX_MONEY, description="Cap on this outcome's payment, currency per enrolled participant, per cohort"
    )
    payment_basis: Literal["rate_card", "above_baseline", "tiered", "lump_sum"] = "rate_card"
    threshold: float = Field(0.0, ge=0, le=MAX_RATIO, description="Minimum improvement for any payment (above_baseline)")
    overall_threshold: float | None = Field(
        None, ge=0, le=MAX_RATIO, description="above_baseline: if all cohorts together reach this improvement, the "
        "outcomes above baseline across all cohorts are paid at the end (less what cohorts were paid)"
    )
    tiers: list[Tier] = Field(default_factory=list)
    schedule: list[Step] = Field(default_factory=list, description="lump_sum: improvement -> amount, by increasing improvement")
    schedule_per: Literal["cohort", "programme"] = Field(
        "cohort", description="lump_sum: each assessment cohort earns a lump sum, or the whole programme once"
    )
    improvement: Literal["relative", "absolute", "relative_reduction"] = "relative"
    cohort_years: float | None = Field(
        None, gt=0, le=50, description="Length of an assessment cohort in years (above_baseline, tiered, lump_sum, count); "
        "None: each period's enrolments are a cohort"
    )
    cohorts_from: Literal["enrolment_start", "contract_start"] = Field(
        "enrolment_start", description="Where cohorts of cohort_years are counted from: each delivery unit's "
        "enrolment start (cohort 1 is its first cohort_years of enrolments) or the contract start"
    )
    count: CountMeasure | None = Field(None, description="How a count outcome is measured (kind: count)")
    comparison: Comparison | None = Field(None, description="What the result is measured against; None: the fixed baseline")

    @model_validator(mode="after")
    def _check_basis(self) -> "Outcome":
        errs: list[tuple[str, str]] = []
        if self.payment_basis == "tiered":
            if not self.tiers:
                errs.append(("tiers", "a tiered outcome needs at least one tier"))
            levels = [t.min_improvement for t in self.tiers]
            if levels != sorted(levels) or len(set(levels)) != len(levels):
                errs.append(("tiers", "min_improvement must be strictly increasing"))
        elif self.tiers:
            errs.append(("tiers", f"only used when payment_basis is 'tiered' (it is {self.payment_basis!r})"))
        if self.payment_basis == "lump_sum":
            if not self.schedule:
                errs.append(("schedule", "a lump_sum outcome needs at least one step (min_improvement, amount)"))
            for i in range(1, len(self.schedule)):
                a, b = self.schedule[i - 1], self.schedule[i]
                if b.min_improvement <= a.min_improvement:
                    errs.append((f"schedule[{i}].min_improvement", f"must be above the step before ({a.min_improvement:g}): "
                                 "steps go by strictly increasing improvement"))
                if b.amount < a.amount:
                    errs.append((f"schedule[{i}].amount", f"must not be below the step before ({a.amount:g}): "
                                 "a larger improvement cannot earn less"))
        else:
            if self.schedule:
                errs.append(("schedule", f"only used when payment_basis is 'lump_sum' (it is {self.payment_basis!r})"))
            if self.schedule_per != "cohort":
                errs.append(("schedule_per", f"only used when payment_basis is 'lump_sum' (it is {self.payment_basis!r})"))
        if self.overall_threshold is not None and self.payment_basis != "above_baseline":
            errs.append(("overall_threshold", "only used when payment_basis is 'above_baseline'"))
        if self.kind == "binary":
            if self.baseline_rate > 1:
                errs.append(("baseline_rate", "must be <= 1 (a probability; only a count outcome's baseline can be larger)"))
            if self.count is not None:
                errs.append(("count", "only used when kind is 'count'"))
        elif self.count is None:
            errs.append(("count", "a count outcome needs its measurement (window_years, per, instalments, dispersion)"))
        if (self.comparison is not None and self.comparison.kind != "historical" and self.kind == "binary"
                and self.payment_basis == "rate_card"):
            errs.append(("comparison", "a rate_card outcome pays every outcome whatever a control group does: use "
                         "above_baseline, tiered or lump_sum to pay on the measured difference"))
        if errs:
            raise FieldErrors(errs)
        return self

    @property
    def top_price(self) -> float:
        """The most this outcome can pay per outcome achieved (count: per participant, every
        baseline event avoided)."""
        top = max([self.price] + [t.price for t in self.tiers])
        if self.count is not None:
            return top * self.count.per_participant(self.baseline_rate)
        return top

    @property
    def baseline_events(self) -> float:
        """Expected outcomes per participant without the intervention: ``baseline_rate`` for a
        binary outcome, the events over the whole tracking window for a count outcome."""
        return self.baseline_rate if self.count is None else self.count.per_participant(self.baseline_rate)

    @property
    def control_size(self) -> float | None:
        """People in each cohort's control group, or None (measured against the baseline)."""
        return None if self.comparison is None else self.comparison.size

    @property
    def drift(self) -> tuple[float, float]:
        """``(drift, drift_sd)`` a year of the rate without the intervention."""
        c = self.comparison
        return (0.0, 0.0) if c is None else (c.drift, c.drift_sd)


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
    referrals: float | None = Field(None, ge=0, le=MAX_PEOPLE, description="Expected referrals per year (pipelines)")
    capacity: float | None = Field(None, gt=0, le=MAX_PEOPLE, description="Participants in service at once (pipelines)")
    enrolment_start: float = Field(0.0, ge=0, description="Years from contract start")
    enrolment_end: float | None = Field(None, gt=0, description="Years from contract start; None: horizon")
    service_length: float = Field(1.0, gt=0, le=20, description="Years a participant is in service")
    dropout: float = Field(0.0, ge=0, lt=1, description="Probability a participant leaves before completing")
    abandonment: float = Field(0.0, ge=0, le=1, description="Probability per year a waiting referral gives up")
    reach: float = Field(1.0, gt=0, le=1, description="Share of zone participants this partner serves (zone)")
    cost: float = Field(0.0, ge=0, le=MAX_MONEY, description="Currency per participant served, spread over the service")
    fixed_cost: float = Field(0.0, ge=0, le=MAX_MONEY, description="Currency per year while delivering")
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
    referrals: float | None = Field(None, ge=0, le=MAX_PEOPLE, description="Zone referrals per year")
    capacity: float | None = Field(None, gt=0, le=MAX_PEOPLE, description="Zone participants at once")
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
    annual_budget: float | None = Field(None, gt=0, le=MAX_MONEY, description="Currency per contract year")
    total_cap: float | None = Field(None, gt=0, le=MAX_MONEY, description="Currency over the contract")
    payment_lag: float = Field(0.0, ge=0, le=10, description="Years from verification to payment")
    withdrawal_hazard: float = Field(0.0, ge=0, le=5, description="Probability rate per year of stopping paying")
    budget_overflow: Literal["lost", "carry"] = Field(
        "lost", description="Dues above the annual budget: lost, or carried to the next contract year"
    )

    @field_validator("shares")
    @classmethod
    def _check_shares(cls, shares: dict[str, float]) -> dict[str, float]:
        return check_shares(shares)


class Tranche(_Model):
    """An investor tranche. Seniority is ``rank`` (1 is most senior; tranches of equal rank are
    *pari passu*: paid pro rata to what each is owed), by default the list order.

    ``coupon`` (per year, simple, on outstanding capital) is paid before capital. Once all capital
    and coupons are repaid, tranches with ``upside`` share the rest pro rata to commitment, each up
    to its return cap (``cap_multiple`` of money drawn, or of money committed with ``cap_basis:
    committed``; and/or ``cap_irr`` a year). ``grant`` capital funds delivery and expects nothing
    back; a ``recoverable_grant`` is repaid, without return, in its rank, if income allows. A
    ``guarantee`` is not drawn for delivery: when the contract ends it pays the ``covers``
    tranche's loss of principal (capital drawn less everything it received), up to
    ``commitment`` and, with ``share_of_drawn``, to that share of the capital drawn.
    """

    name: str = Field(min_length=1)
    kind: Literal["senior", "subordinated", "first_loss", "grant", "recoverable_grant", "guarantee"] = "senior"
    commitment: float = Field(gt=0, le=MAX_MONEY, description="Currency")
    rank: int | None = Field(None, ge=1, le=100, description="Seniority, 1 most senior; equal ranks are pari passu")
    coupon: float = Field(0.0, ge=0, le=1, description="Coupon or hurdle rate per year")
    cap_multiple: float | None = Field(None, ge=1, le=MAX_RATIO, description="Most cash back as a multiple of capital")
    cap_basis: Literal["drawn", "committed"] = Field("drawn", description="What cap_multiple multiplies")
    cap_irr: float | None = Field(None, ge=0, le=2, description="Most return, as an IRR per year")
    upside: bool | None = Field(None, description="Shares the upside; default: subordinated and first_loss do")
    covers: str | None = Field(None, description="Name of the tranche a guarantee covers")
    share_of_drawn: float | None = Field(
        None, gt=0, le=1, description="A guarantee covers at most this share of the covered tranche's capital drawn"
    )

    @property
    def has_upside(self) -> bool:
        if self.upside is not None:
            return self.upside and self.kind not in ("grant", "recoverable_grant", "guarantee")
        return self.kind in ("subordinated", "first_loss")


class DeferredFee(_Model):
    """A fee paid only from outcome income, in the waterfall right behind tranche ``behind``
    (after it and every more senior tranche are settled, before any junior one): e.g. a
    provider's deferred margin or an intermediary's deferred management fee."""

    name: str = Field(min_length=1)
    amount: float = Field(gt=0, le=MAX_MONEY, description="Currency")
    behind: str = Field(description="Name of the tranche it ranks behind")
    payee: Literal["intermediary", "partners"] = "intermediary"


class BreakClause(_Model):
    """At review date ``at`` (years), if the measured result is below ``trigger``: ``stop_enrolment``
    (no new participants; those in service finish and are paid for; fixed and backbone costs
    stop) or ``stop_contract`` (delivery stops at once: no more costs, undrawn capital is
    cancelled). Either way outcomes of participants already enrolled are still verified and paid
    as they fall due, and the contract ends, with its final distribution and guarantee calls,
    once nothing more can come.

    ``measure``: ``earned`` (currency of outcome payments earned so far, of ``outcome`` or of all
    outcomes) or ``achievement_rate`` (outcomes achieved per participant in the cohorts of
    ``outcome`` verified by the review date).
    """

    at: float = Field(gt=0, le=50, description="Years from the start")
    measure: Literal["earned", "achievement_rate"] = "earned"
    outcome: str | None = Field(None, description="The outcome measured (required for achievement_rate)")
    trigger: float = Field(ge=0, le=MAX_MONEY, description="Below this, the clause applies")
    action: Literal["stop_enrolment", "stop_contract"] = "stop_enrolment"


class Backbone(_Model):
    """The backbone organisation: coordination, data and evaluation, funded from capital."""

    cost: float = Field(0.0, ge=0, le=MAX_MONEY, description="Currency per year")
    success_fee: float = Field(0.0, ge=0, le=1, description="Share of outcome payments received")


class Terms(_Model):
    """Contract terms between the fund, its investors and its payers.

    ``draw_order``: how capital is called for costs: ``pro_rata`` to commitment, ``senior_first``
    or ``junior_first`` (by rank, pro rata within a rank), or ``upfront`` (all commitments at the
    start, held in the fund until spent). ``max_outcome_payments``: a cap on all payers' outcome
    payments together (pro rata to their dues once it binds). ``intermediary_fee``: the
    intermediary's share of each outcome payment. ``deferred_fees``: fees paid from income in the
    waterfall behind a named tranche.
    """

    recycling: bool = Field(
        False, description="Outcome payments fund further delivery; distributions wait for delivery to end"
    )
    distribution_frequency: Literal["period", "year", "end"] = "period"
    excess_to: Literal["commissioners", "partners", "split"] = "commissioners"
    excess_split: float = Field(0.5, ge=0, le=1, description="Share of excess to commissioners when 'split'")
    draw_order: Literal["pro_rata", "senior_first", "junior_first", "upfront"] = "pro_rata"
    max_outcome_payments: float | None = Field(None, gt=0, le=MAX_MONEY, description="Currency, all payers together")
    intermediary_fee: float = Field(0.0, ge=0, le=1, description="Share of outcome payments to the intermediary")
    deferred_fees: list[DeferredFee] = Field(default_factory=list)


class Uncertainty(_Model):
    """What is drawn once per path, and the correlation between partners.

    Effects are Normal(mean, sd) per partner and outcome; a common shock with correlation ``rho``
    (a Gaussian copula) moves every partner's effect, maturity delay and referral volume together.
    ``enabled: false`` switches all randomness off: parameters at their means, counts at their
    expectations, control groups' rates at the counterfactual rate, drifts at their means, no
    exits or withdrawals, so a hand calculation can check the engine.
    """

    enabled: bool = True
    rho: float = Field(0.3, ge=0, lt=1, description="Correlation of the common shock across partners")
    maturity_delay_sd: float = Field(0.0, ge=0, le=10, description="Years, sd of the delay in half-maturity")
    referral_sd: float = Field(0.0, ge=0, le=3, description="Log-sd of the referral volume multiplier")


class Scenario(_Model):
    """One outcomes contract: measurement, delivery, payers, investors and terms."""

    # Not frozen, unlike its parts: assigning a field validates the whole scenario again.
    model_config = ConfigDict(frozen=False)

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
    breaks: list[BreakClause] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross_check(self) -> "Scenario":
        errors = _cross_field_errors(self)
        if errors:
            raise FieldErrors(errors)
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
    # The engine's per-path sums over payers and delivery units add at most this many terms.
    for name, items in (("partners", s.partners), ("commissioners", s.commissioners)):
        if len(items) > 128:
            errs.append((name, f"at most 128 {name} (got {len(items)})"))
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


    for i, c in enumerate(s.commissioners):
        for o in c.shares:
            if o not in known:
                errs.append((f"commissioners[{i}].shares.{o}", f"unknown outcome {o!r} (known: {known_txt})"))
            # (each share between 0 and 1: Commissioner checks it)
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
        if t.share_of_drawn is not None and t.kind != "guarantee":
            errs.append((f"tranches[{i}].share_of_drawn", "only a guarantee has a share_of_drawn"))
        if t.rank is not None and t.kind == "guarantee":
            errs.append((f"tranches[{i}].rank", "a guarantee is not drawn and has no rank"))
    capital = [t for t in s.tranches if t.kind != "guarantee"]
    if any(t.rank is not None for t in capital) and any(t.rank is None for t in capital):
        errs.append(("tranches", "give every capital tranche a rank, or none (then the list order is seniority)"))
    capital_names = {t.name for t in capital}
    for i, f in enumerate(s.terms.deferred_fees):
        if f.behind not in capital_names:
            errs.append((f"terms.deferred_fees[{i}].behind", f"{f.behind!r} is not a capital tranche"))
    fee_names = [f.name for f in s.terms.deferred_fees]
    for i, n in enumerate(fee_names):
        if n in fee_names[:i]:
            errs.append((f"terms.deferred_fees[{i}].name", f"duplicate name {n!r}"))
    shares = s.terms.intermediary_fee + s.backbone.success_fee
    for i, p in enumerate(s.partners):
        if p.contract.outcome_share + shares > 1 + 1e-12:
            fees = f"the backbone's success_fee ({s.backbone.success_fee:g})"
            if s.terms.intermediary_fee:
                fees += f" and the intermediary_fee ({s.terms.intermediary_fee:g})"
            errs.append((f"partners[{i}].contract.outcome_share", f"with {fees} it passes on more than all of the outcome payments"))
    for i, b in enumerate(s.breaks):
        if b.at >= years:
            errs.append((f"breaks[{i}].at", f"must be before the end of the horizon ({years} years)"))
        if b.outcome is not None and b.outcome not in known:
            errs.append((f"breaks[{i}].outcome", f"unknown outcome {b.outcome!r} (known: {known_txt})"))
        if b.measure == "achievement_rate":
            if b.outcome is None:
                errs.append((f"breaks[{i}].outcome", "required when measure is 'achievement_rate'"))
            if b.trigger > 1:
                errs.append((f"breaks[{i}].trigger", "an achievement rate is between 0 and 1"))
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
    "finite_number": "must be a finite number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
}


def _fmt_number(v: Any) -> Any:
    """A float in a reason: ``0.5``, ``50``, ``1e13`` (not ``1e+13``)."""
    return re.sub(r"e\+0*(\d)", r"e\1", f"{v:g}") if isinstance(v, float) else v


def _join_path(path: str, sub: str) -> str:
    if not path or not sub:
        return path or sub
    return path + sub if sub.startswith("[") else f"{path}.{sub}"


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
            # Our own checks raise FieldErrors: (path, reason) pairs relative to the model.
            err = ctx.get("error")
            if isinstance(err, FieldErrors):
                out.extend((_join_path(path, sub), reason) for sub, reason in err.errors)
            else:
                out.append((path, str(err) if err is not None else e["msg"]))
            continue
        template = _REASONS.get(e["type"])
        if template and e["type"] == "too_short" and ctx.get("min_length", 1) > 1:
            template = None
        if e["type"] == "float_type" and isinstance(e.get("input"), int) and not isinstance(e.get("input"), bool):
            template = _REASONS["finite_number"]  # an integer too large for a float
        nice = {k: _fmt_number(v) for k, v in ctx.items()}
        reason = template.format(**nice) if template else e["msg"][0].lower() + e["msg"][1:]
        if e["type"] == "less_than_equal" and ctx.get("le") in _LIMIT_NOTES:
            reason += f", {_LIMIT_NOTES[ctx['le']]}"
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


_MAX_YAML_DEPTH = 100  # a scenario nests about 5 levels deep


class _ScenarioLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (the last would win
    silently), nesting deeper than ``_MAX_YAML_DEPTH`` (PyYAML would recurse until Python's
    RecursionError) and dates that do not exist (a ValueError without a line number), each as a
    YAML error with its line and column."""

    def __init__(self, stream: Any):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > _MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested too deeply (more than {_MAX_YAML_DEPTH} levels)", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # keys merged in with << may be overridden; that is what << is for
                key = self.construct_object(key_node, deep=True)
                try:
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            "while reading a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark
                        )
                    seen.add(key)
                except TypeError:
                    pass  # an unhashable key: the safe loader itself refuses it
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: Any) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"not a valid date or time {node.value!r} ({exc})", node.start_mark
            ) from None


_ScenarioLoader.add_constructor("tag:yaml.org,2002:timestamp", _ScenarioLoader.construct_yaml_timestamp)


def parse_yaml(text: str) -> Any:
    """Parse YAML text as a scenario file is parsed (keys given twice and nesting that is too deep
    are errors); raise :class:`ScenarioError` with the line and column of the problem."""
    try:
        return yaml.load(text, Loader=_ScenarioLoader)  # a SafeLoader: builds no Python objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError([("", f"not valid YAML{where}: {problem}")]) from None
    except RecursionError:
        raise ScenarioError([("", "not valid YAML: nested too deeply")]) from None
    except (ValueError, TypeError, OverflowError) as exc:  # a value the safe loader cannot build
        raise ScenarioError([("", f"not valid YAML: {exc}")]) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario from YAML; errors name the file, the field path and the reason."""
    p = Path(path)
    if not p.exists():
        raise ScenarioError([("", "no such file")], source=str(p))
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([("", f"cannot read: {exc}")], source=str(p)) from None
    try:
        data = parse_yaml(text)
    except ScenarioError as exc:
        raise ScenarioError(exc.errors, source=str(p)) from None
    try:
        return parse_scenario(data)
    except ScenarioError as exc:
        raise ScenarioError(exc.errors, source=str(p)) from None


def scenario_to_yaml(s: Scenario) -> str:
    """The scenario as YAML text, every field written, so that loading it gives ``s`` again."""
    body = yaml.safe_dump(s.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100)
    return body


def scenario_from_yaml(text: str) -> Scenario:
    return parse_scenario(parse_yaml(text))


def save_scenario(s: Scenario, path: str | Path) -> None:
    """Write ``s`` as YAML; ``load_scenario(path) == s``."""
    Path(path).write_text(scenario_to_yaml(s), encoding="utf-8")
