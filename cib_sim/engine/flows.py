"""The registry of the flows the engine records each period: one place that says what each is.

Every flow the period loop hands to its sink (:mod:`cib_sim.engine.reduce`) is named here with
its trailing shape, unit, and, for money, who pays whom. The reducer, :class:`~cib_sim.results.Results`,
the charts, the engine's conservation check and the conservation tests all read this table; a
name that is not in it raises :class:`UnknownFlowError` (a misspelt flow must never vanish).

Parties. Outside the contract: ``commissioners`` (outcome payers), ``investors`` (capital
tranches), ``guarantors``, ``partners`` (delivery charities), ``backbone`` (the backbone
organisation), ``intermediary`` (the fund manager; also the payee of deferred fees). Inside: the ``fund`` (the special-purpose vehicle's cash, which can hold a
balance) and the ``contract`` (a pass-through: an outcome payment is split at once between
partners' contingent shares, the backbone's fee and the fund's income; a guarantee call goes
straight to the covered tranche). Conservation, per path and period::

    change in fund cash = sum(flows into the fund) - sum(flows out of the fund)
    0                   = sum(flows into the contract) - sum(flows out of the contract)

so the cash moves by money in from outside less money out to outside.

Axes: ``O`` outcomes, ``C`` commissioners, ``P`` partners, ``K`` capital tranches (order of
seniority), ``G`` guarantees, ``F`` deferred fees, ``U`` delivery units. Money is currency per period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from cib_sim.engine.sample import n_units
from cib_sim.scenario import Scenario

INSIDE = ("fund", "contract")
OUTSIDE = ("commissioners", "investors", "guarantors", "partners", "backbone", "intermediary")

Unit = Literal["currency", "participants", "flag"]


class UnknownFlowError(KeyError):
    """A flow name that is not in the registry (a bug in the engine or a caller)."""


@dataclass(frozen=True)
class Flow:
    """One recorded flow.

    ``axes``: the trailing axes after (paths, periods), e.g. ``"K"`` or ``"UO"``. ``payer`` and
    ``payee`` are parties for money that moves; both empty for a figure that moves nothing (a
    due, an allocation, a balance, a count). ``summed``: totals per path are kept; ``averaged``:
    period means over all paths (and full rows of kept paths) are kept.
    """

    name: str
    axes: str
    unit: Unit
    payer: str
    payee: str
    summed: bool
    averaged: bool
    doc: str

    @property
    def moves_money(self) -> bool:
        return bool(self.payer)

    @property
    def sign(self) -> int:
        """+1 into the contract from outside, -1 out of it to outside, 0 inside or not money."""
        if not self.moves_money:
            return 0
        if self.payer in OUTSIDE and self.payee in INSIDE:
            return 1
        if self.payer in INSIDE and self.payee in OUTSIDE:
            return -1
        return 0


def _f(name, axes, unit, payer, payee, doc, summed=True, averaged=True) -> Flow:
    return Flow(name, axes, unit, payer, payee, summed, averaged, doc)


FLOWS: dict[str, Flow] = {
    f.name: f
    for f in (
        _f("drawn", "K", "currency", "investors", "fund", "capital called from each tranche"),
        _f("partner_upfront", "P", "currency", "fund", "partners", "service fees for participants in service"),
        _f("partner_fixed", "P", "currency", "fund", "partners", "partners' fixed costs"),
        _f("backbone_cost", "", "currency", "fund", "backbone", "the backbone organisation's running cost"),
        _f("commissioner_paid", "C", "currency", "commissioners", "contract", "outcome payments made"),
        _f("partner_contingent", "P", "currency", "contract", "partners", "partners' shares of outcome payments"),
        _f("backbone_fee", "", "currency", "contract", "backbone", "the backbone's success fee on outcome payments"),
        _f("intermediary_fee", "", "currency", "contract", "intermediary", "the intermediary's share of outcome payments"),
        _f("income", "", "currency", "contract", "fund", "outcome payments net of contingent shares and fees", summed=False),
        _f("coupon", "K", "currency", "fund", "investors", "coupon (interest) paid to each tranche"),
        _f("capital", "K", "currency", "fund", "investors", "capital repaid to each tranche"),
        _f("upside", "K", "currency", "fund", "investors", "return above capital and coupon, within caps"),
        _f("deferred_fee", "F", "currency", "fund", "intermediary", "deferred fees paid from income, to their payee"),
        _f("guarantee_call", "G", "currency", "guarantors", "contract", "money each guarantee pays in"),
        _f("guarantee_received", "K", "currency", "contract", "investors", "guarantee money each tranche receives"),
        _f("commissioner_rebate", "C", "currency", "fund", "commissioners", "excess returned to payers"),
        _f("partner_bonus", "P", "currency", "fund", "partners", "excess paid to partners as a bonus"),
        # Figures that move no money of their own.
        _f("earned", "O", "currency", "", "", "outcome payments earned (verified), before lags and caps"),
        _f("attributed", "P", "currency", "", "", "outcome payments attributed to each partner's work"),
        _f("excess", "", "currency", "", "", "cash left after the investors: rebates plus bonuses"),
        _f("cash", "", "currency", "", "", "the fund's cash at the end of the period", summed=False),
        _f("funded", "", "flag", "", "", "delivery not yet stopped by a funding shortfall", summed=False, averaged=False),
        _f("enrolled", "U", "participants", "", "", "participants enrolled, by enrolment period", summed=False),
        _f("achieved", "UO", "participants", "", "", "outcomes achieved, by enrolment period", summed=False),
    )
}

# Flows the period loop records row by row (the cohorts come at the end, by enrolment period).
PERIOD_FLOWS = tuple(n for n in FLOWS if n not in ("enrolled", "achieved"))
TOTALS = tuple(n for n, f in FLOWS.items() if f.summed)
AVERAGED = tuple(n for n, f in FLOWS.items() if f.averaged)
TO_INVESTORS = tuple(n for n, f in FLOWS.items() if f.payee == "investors")
MONEY_IN = tuple(n for n, f in FLOWS.items() if f.sign > 0)
MONEY_OUT = tuple(n for n, f in FLOWS.items() if f.sign < 0)
INTO_FUND = tuple(n for n, f in FLOWS.items() if f.payee == "fund")
OUT_OF_FUND = tuple(n for n, f in FLOWS.items() if f.payer == "fund")


def flow(name: str) -> Flow:
    """The registry's entry for ``name``; raises :class:`UnknownFlowError` if there is none."""
    try:
        return FLOWS[name]
    except KeyError:
        raise UnknownFlowError(f"{name!r} is not a flow the engine records (see cib_sim.engine.flows)") from None


def check_names(names) -> None:
    """Raise :class:`UnknownFlowError` for the first name not in the registry."""
    for name in names:
        flow(name)


def axis_sizes(s: Scenario) -> dict[str, int]:
    """The size of each axis letter for scenario ``s``."""
    return {
        "O": len(s.outcomes), "C": len(s.commissioners), "P": len(s.partners), "K": len(s.capital_tranches),
        "G": sum(t.kind == "guarantee" for t in s.tranches), "F": len(s.terms.deferred_fees), "U": n_units(s),
    }


def flow_shapes(s: Scenario) -> dict[str, tuple[int, ...]]:
    """Trailing shape of each flow per period (``()``: one value a path)."""
    size = axis_sizes(s)
    return {name: tuple(size[a] for a in f.axes) for name, f in FLOWS.items()}


def total_of(row: dict[str, np.ndarray], names: tuple[str, ...], n_paths: int) -> np.ndarray:
    """(N,) sum over ``names`` (and over each flow's own axes) of the flows in ``row``; a flow
    left out of the row is nil."""
    out = np.zeros(n_paths)
    for name in names:
        v = row.get(name)
        if v is not None:
            out = out + (v if v.ndim == 1 else v.reshape(n_paths, -1).sum(axis=1))
    return out
