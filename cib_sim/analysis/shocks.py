"""Named, composable shocks for stress tests and sensitivity.

A shock changes a scenario (``apply_scenario``) and/or the random draws of every path
(``apply_draws``), always the same way for every path, so that a shocked run and the base run use
the same random numbers (common random numbers: a difference between them is the shock, not
noise). Events at a fixed time that are not scenario fields — a partner exiting in year 3, a
commissioner withdrawing in year 2 — are draw shocks: they bring forward ``Draws.exit_period`` /
``Draws.withdraw_period`` on every path (a hazard may still end them earlier).

Shocks compose with ``+``: ``MaturityDelay(1) + ScaleEffects(0.75)`` applies both, left to right.
Every shock has a ``label`` for tables (a default is written from its parameters).

Text form, for the CLI and quick use (:func:`parse_shock`), ``+`` joining shocks::

    delay:1            maturity delayed 1 year (every partner)
    effects:0.75       effects (mean and sd) scaled by 0.75
    exit:Mentoring@2   partner Mentoring stops delivering 2 years from the start
    withdraw:Schools@3 commissioner Schools stops paying 3 years from the start
    referrals:0.8      referrals scaled by 0.8
    rho:0.8            correlation of the common shock set to 0.8
    price_cut:0.1      every price cut by 10%
    prices:1.2         every price scaled by 1.2
    set:outcomes.engagement.price=1500   any field (see cib_sim.analysis.fields)
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from cib_sim.analysis.fields import (
    check_names,
    locate,
    parse_value,
    scale_effects,
    scale_prices,
    scale_referrals,
    set_fields,
    updated,
)
from cib_sim.engine.sample import Draws
from cib_sim.errors import InputError
from cib_sim.scenario import Scenario


def _fmt(x: float) -> str:
    return f"{x:g}"


def _names(x: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...] | None:
    if x is None:
        return None
    return (x,) if isinstance(x, str) else tuple(x)


@dataclass(frozen=True)
class Shock:
    """Base class: no change. Subclasses override ``apply_scenario`` and/or ``apply_draws``."""

    label: str | None = field(default=None, kw_only=True, compare=False)

    @property
    def name(self) -> str:
        return self.label or self.describe()

    def describe(self) -> str:
        return "no change"

    def apply_scenario(self, s: Scenario) -> Scenario:
        return s

    def apply_draws(self, s: Scenario, draws: Draws) -> Draws:
        """``s`` is the scenario after :meth:`apply_scenario`; ``draws`` its draws for a block."""
        return draws

    def check(self, s: Scenario) -> None:
        """Raise bad input if the shock cannot apply to ``s`` (the scenario after
        :meth:`apply_scenario`): a name it does not have, a time outside its contract. Called
        before anything runs (:func:`cib_sim.analysis.runner.make_job`), so a shock that would
        quietly change nothing is refused instead."""

    def _refuse(self, reason: str) -> InputError:
        return InputError([(f"shock {self.name!r}", reason)])

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.type in ("float", float) and not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)):
                raise self._refuse(f"{f.name} must be a finite number (got {v!r})")

    def __add__(self, other: "Shock") -> "Combined":
        parts = (self.parts if isinstance(self, Combined) else (self,)) + (
            other.parts if isinstance(other, Combined) else (other,)
        )
        return Combined(parts)


BASE = Shock(label="base")
"""The base case: a shock that changes nothing."""


@dataclass(frozen=True)
class Combined(Shock):
    """Several shocks, applied left to right."""

    parts: tuple[Shock, ...] = ()

    def describe(self) -> str:
        return " + ".join(p.name for p in self.parts) or "no change"

    def apply_scenario(self, s: Scenario) -> Scenario:
        for p in self.parts:
            s = p.apply_scenario(s)
        return s

    def apply_draws(self, s: Scenario, draws: Draws) -> Draws:
        for p in self.parts:
            draws = p.apply_draws(s, draws)
        return draws

    def check(self, s: Scenario) -> None:
        for p in self.parts:
            p.check(s)


@dataclass(frozen=True)
class MaturityDelay(Shock):
    """Each partner's maturity curve starts ``years`` later: half-maturity + years. A partner at
    full effect from day one (``immediate``) gets no effect for ``years``, then all of it."""

    years: float
    partners: tuple[str, ...] | None = None

    def describe(self) -> str:
        who = f" ({', '.join(self.partners)})" if self.partners else ""
        return f"maturity delayed {_fmt(self.years)} year{'s' if self.years != 1 else ''}{who}"

    def apply_scenario(self, s: Scenario) -> Scenario:
        check_names("partner", self.partners, s.partner_names)
        out = []
        for p in s.model_dump()["partners"]:
            if self.partners is None or p["name"] in self.partners:
                m = p["maturity"]
                if m["kind"] == "immediate":
                    if self.years > 0:
                        m.update(kind="logistic", half_maturity=self.years, steepness=0.01)
                else:
                    m["half_maturity"] = min(20.0, max(0.0, m["half_maturity"] + self.years))
            out.append(p)
        return updated(s, partners=out)


@dataclass(frozen=True)
class ScaleEffects(Shock):
    """Effects scaled by ``factor``: the mean and the sd of each effect (so the drawn effect is
    ``factor`` times what it would have been), for the named partners and outcomes (default all)."""

    factor: float
    partners: tuple[str, ...] | None = None
    outcomes: tuple[str, ...] | None = None

    def describe(self) -> str:
        return f"effects x{_fmt(self.factor)}"

    def apply_scenario(self, s: Scenario) -> Scenario:
        return scale_effects(s, self.factor, self.partners, self.outcomes)


@dataclass(frozen=True)
class ScaleReferrals(Shock):
    """Expected referrals scaled by ``factor``: the zone's, or each named partner's (default all)."""

    factor: float
    partners: tuple[str, ...] | None = None

    def describe(self) -> str:
        return f"referrals x{_fmt(self.factor)}"

    def apply_scenario(self, s: Scenario) -> Scenario:
        return scale_referrals(s, self.factor, self.partners)


@dataclass(frozen=True)
class ScalePrices(Shock):
    """Every price on the rate card (tier prices too) scaled by ``factor``, for the named outcomes
    (default all). Caps (per participant, budgets, totals) are contract terms and stay."""

    factor: float
    outcomes: tuple[str, ...] | None = None

    def describe(self) -> str:
        return f"prices x{_fmt(self.factor)}"

    def apply_scenario(self, s: Scenario) -> Scenario:
        return scale_prices(s, self.factor, self.outcomes)


@dataclass(frozen=True)
class PriceCut(Shock):
    """Every price (of the named outcomes) cut by ``share`` (0.1: ten per cent)."""

    share: float
    outcomes: tuple[str, ...] | None = None

    def describe(self) -> str:
        return f"prices cut {_fmt(100 * self.share)}%"

    def apply_scenario(self, s: Scenario) -> Scenario:
        return scale_prices(s, 1.0 - self.share, self.outcomes)


@dataclass(frozen=True)
class Correlation(Shock):
    """The common shock's correlation across partners set to ``rho``."""

    rho: float

    def describe(self) -> str:
        return f"correlation rho={_fmt(self.rho)}"

    def apply_scenario(self, s: Scenario) -> Scenario:
        return updated(s, uncertainty={**s.uncertainty.model_dump(), "rho": self.rho})


@dataclass(frozen=True)
class PartnerExit(Shock):
    """Partner ``partner`` stops delivering at ``year`` (years from the start) on every path."""

    partner: str
    year: float

    def describe(self) -> str:
        return f"{self.partner} exits at year {_fmt(self.year)}"

    def check(self, s: Scenario) -> None:
        check_names("partner", (self.partner,), s.partner_names, where=f"shock {self.name!r}")
        _check_within(self, s, self.year)

    def apply_draws(self, s: Scenario, draws: Draws) -> Draws:
        self.check(s)
        k = s.partner_names.index(self.partner)
        return replace(draws, exit_period=_event_by(draws.exit_period, k, s.horizon.to_periods(self.year)))


@dataclass(frozen=True)
class CommissionerWithdrawal(Shock):
    """Commissioner ``commissioner`` stops paying at ``year`` (years from the start) on every path."""

    commissioner: str
    year: float

    def describe(self) -> str:
        return f"{self.commissioner} withdraws at year {_fmt(self.year)}"

    def check(self, s: Scenario) -> None:
        check_names("commissioner", (self.commissioner,), [c.name for c in s.commissioners], where=f"shock {self.name!r}")
        _check_within(self, s, self.year)

    def apply_draws(self, s: Scenario, draws: Draws) -> Draws:
        self.check(s)
        k = [c.name for c in s.commissioners].index(self.commissioner)
        return replace(draws, withdraw_period=_event_by(draws.withdraw_period, k, s.horizon.to_periods(self.year)))


def _check_within(shock: Shock, s: Scenario, year: float) -> None:
    """Refuse an event time outside the contract's periods: it would change nothing."""
    h = s.horizon
    if not 0 <= h.to_periods(year) < h.n_periods:
        last = (h.n_periods - 1) / h.periods_per_year
        raise shock._refuse(
            f"year {year:g} is outside the contract (it runs {h.years:g} years: events from year 0 to {last:g}), "
            "so the shock would change nothing"
        )


def _event_by(periods: np.ndarray, k: int, period: int) -> np.ndarray:
    """Event periods (paths, entities) with entity ``k``'s event at ``period`` at the latest."""
    out = periods.copy()
    out[:, k] = np.minimum(out[:, k], period)
    return out


@dataclass(frozen=True)
class SetField(Shock):
    """Any field set by dotted path (see :mod:`cib_sim.analysis.fields`)."""

    path: str
    value: Any

    def describe(self) -> str:
        return f"{self.path}={self.value}"

    def apply_scenario(self, s: Scenario) -> Scenario:
        return set_fields(s, {self.path: self.value})


@dataclass(frozen=True)
class ScaleField(Shock):
    """Numeric fields at a dotted path (``*`` for every item) scaled by ``factor``; unset (None)
    fields stay unset. E.g. ``ScaleField("partners.*.exit_hazard", 2)``."""

    path: str
    factor: float

    def describe(self) -> str:
        return f"{self.path} x{_fmt(self.factor)}"

    def apply_scenario(self, s: Scenario) -> Scenario:
        from cib_sim.scenario import parse_scenario

        data = s.model_dump()
        for container, key in locate(data, self.path):
            present = key in container if isinstance(container, dict) else True
            if present and container[key] is not None:
                container[key] = container[key] * self.factor
        return parse_scenario(data)


# --------------------------------------------------------------------------------------------
# Text form and defaults

_SPLIT = re.compile(r"\+(?=\s*[a-z_]+:)")


def parse_shock(text: str) -> Shock:
    """A shock from its text form (see the module docstring); ``+`` joins several."""
    if not isinstance(text, str):
        raise InputError([("shock", f"must be text such as 'delay:1' or a Shock (got {text!r})")])
    parts = [p.strip() for p in _SPLIT.split(text) if p.strip()]
    if not parts:
        raise InputError([(f"shock {text!r}", "empty shock: expected KIND:ARGS, e.g. delay:1")])
    shocks = [_parse_one(p, parse_value) for p in parts]
    return shocks[0] if len(shocks) == 1 else Combined(tuple(shocks))


_KINDS = ("delay", "effects", "exit", "withdraw", "referrals", "rho", "price_cut", "prices", "set")


def _parse_one(text: str, parse_value) -> Shock:
    kind, sep, arg = text.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in _KINDS:
        near = difflib.get_close_matches(kind, _KINDS, n=2, cutoff=0.4)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise InputError([(f"shock {text!r}", f"expected KIND:ARGS with KIND one of {', '.join(_KINDS)}{hint}")])
    arg = arg.strip()
    try:
        if kind in ("exit", "withdraw"):
            who, at, year = arg.rpartition("@")
            if not at or not who:
                raise ValueError(f"expected NAME@YEAR (e.g. {kind}:{'Mentoring' if kind == 'exit' else 'Schools'}@2)")
            return PartnerExit(who.strip(), float(year)) if kind == "exit" else CommissionerWithdrawal(who.strip(), float(year))
        if kind == "set":
            path, eq, value = arg.partition("=")
            if not eq:
                raise ValueError("expected PATH=VALUE")
            return SetField(path.strip(), parse_value(value))
        x = float(arg)
        return {
            "delay": MaturityDelay, "effects": ScaleEffects, "referrals": ScaleReferrals, "rho": Correlation,
            "price_cut": PriceCut, "prices": ScalePrices,
        }[kind](x)
    except InputError as exc:  # a shock's own check (a number not finite): name the text given
        raise InputError([(f"shock {text!r}", r) for _, r in exc.errors]) from None
    except ValueError as exc:
        raise InputError([(f"shock {text!r}", str(exc))]) from None


def as_shock(x: Shock | str) -> Shock:
    if isinstance(x, Shock):
        return x
    return parse_shock(x)


def default_shocks(s: Scenario) -> list[Shock]:
    """A standard battery for a funder: delay, weaker effects, fewer referrals, higher
    correlation, a price cut, the largest partner exiting and the largest payer withdrawing
    half-way through, and delay with weaker effects together."""
    mid = round(s.horizon.years / 2, 1)
    if s.delivery.model == "zone":
        weight = [p.cost * p.reach for p in s.partners]
    else:
        weight = [p.cost * (p.referrals or 0.0) for p in s.partners]
    partner = s.partners[int(np.argmax(weight))].name
    payer = max(s.commissioners, key=lambda c: sum(c.shares.values())).name
    rho = min(0.95, max(0.8, s.uncertainty.rho + 0.3))
    return [
        MaturityDelay(1.0),
        ScaleEffects(0.75),
        ScaleReferrals(0.8),
        Correlation(rho),
        PriceCut(0.1),
        PartnerExit(partner, mid),
        CommissionerWithdrawal(payer, mid),
        MaturityDelay(1.0) + ScaleEffects(0.75),
    ]
