"""What the editors show: every table's columns and every single field, with labels (units;
``{cur}`` is the currency), help text and kinds, and the scenario model's defaults they fall back
on. A new contract term gets its input here (docs/ARCHITECTURE.md, "Where a new contract term goes").

Kinds of a column or field: ``number`` and ``int`` (typed as text, read by :mod:`cib_sim.app.cells`),
``text``, ``textarea``, ``select`` (``options``), ``tri`` (by kind / yes / no), ``bool``, ``date``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cib_sim.app.dicts import get_path, jsonable
from cib_sim.scenario import (
    Backbone,
    BreakClause,
    Commissioner,
    CountMeasure,
    DeferredFee,
    Delivery,
    Horizon,
    Maturity,
    Outcome,
    Partner,
    PartnerContract,
    Step,
    Terms,
    Tranche,
    Uncertainty,
)


@dataclass(frozen=True)
class Col:
    field: str             # dotted path inside the entity (``maturity.kind``)
    kind: str              # number | text | select | tri | int
    label: str
    help: str = ""
    options: tuple[str, ...] = ()


def _desc(model, field: str) -> str:
    f = model.model_fields.get(field)
    return (f.description or "") if f is not None else ""


def _opts(model, field: str) -> tuple[str, ...]:
    ann = model.model_fields[field].annotation
    return tuple(getattr(ann, "__args__", ()))


OUTCOME_COLS = (
    Col("name", "text", "Outcome", "Name used by partners' effects and commissioners' shares"),
    Col("price", "number", "Price ({cur}/outcome)", _desc(Outcome, "price")),
    Col("payment_basis", "select", "Payment basis", "rate_card: every verified outcome; above_baseline: only above the "
        "counterfactual, if the threshold is met; tiered: price by improvement tier (tiers table below)",
        _opts(Outcome, "payment_basis")),
    Col("baseline_rate", "number", "Baseline rate (0–1)", _desc(Outcome, "baseline_rate")),
    Col("lag", "number", "Lag (years)", _desc(Outcome, "lag")),
    Col("fiscal_value", "number", "Fiscal value ({cur}/outcome)", _desc(Outcome, "fiscal_value")),
    Col("max_per_participant", "number", "Cap ({cur}/participant)", _desc(Outcome, "max_per_participant")),
    Col("threshold", "number", "Threshold (improvement)", _desc(Outcome, "threshold")),
    Col("overall_threshold", "number", "Overall threshold (all cohorts)", _desc(Outcome, "overall_threshold")),
    Col("improvement", "select", "Improvement measure", "relative (a-b)/b, absolute a-b, or relative_reduction (a-b)/(1-b)",
        _opts(Outcome, "improvement")),
    Col("cohort_years", "number", "Cohort length (years)", _desc(Outcome, "cohort_years")),
    Col("cohorts_from", "select", "Cohorts counted from", _desc(Outcome, "cohorts_from"), _opts(Outcome, "cohorts_from")),
    Col("kind", "select", "Kind", "binary: achieved or not, per participant; count: events per participant "
        "(baseline rate in events, price per event avoided)", _opts(Outcome, "kind")),
    Col("schedule_per", "select", "Lump sum per", "lump_sum: the schedule pays per cohort or once for the programme",
        _opts(Outcome, "schedule_per")),
    Col("count.per", "select", "Counted per", "count outcomes: baseline events per year or per window", ("year", "window")),
    Col("count.window_years", "number", "Tracking window (years)", "count outcomes: years events are tracked"),
    Col("count.instalments", "int", "Paid in instalments", "count outcomes: payments spread over this many"),
    Col("count.dispersion", "number", "Over-dispersion", "count outcomes: negative binomial dispersion; empty: Poisson"),
    Col("comparison.kind", "select", "Compared with", "historical baseline (optionally drifting), or a randomised "
        "or matched control group drawn each cohort", ("", "historical", "randomised", "matched")),
    Col("comparison.size", "int", "Control group size", "randomised or matched comparison"),
    Col("comparison.drift", "number", "Baseline drift (/year)", "the no-intervention rate's drift per year"),
    Col("comparison.drift_sd", "number", "Drift sd (/year)", "uncertainty of the drift, drawn per path"),
)
TIER_COLS = (
    Col("outcome", "select", "Outcome", "The tiered outcome this step belongs to"),
    Col("min_improvement", "number", "Min improvement (fraction)", "At or above this improvement against baseline"),
    Col("price", "number", "Price ({cur}/outcome above baseline)", "Paid per outcome above the baseline"),
)
STEP_COLS = (
    Col("outcome", "select", "Outcome", "The lump_sum outcome this step belongs to"),
    Col("min_improvement", "number", "Min improvement", _desc(Step, "min_improvement")),
    Col("amount", "number", "Amount ({cur})", _desc(Step, "amount")),
)
# List terms, each edited as its own table: table name -> (path in the scenario, columns).
FEE_COLS = (
    Col("name", "text", "Fee", "A name for the fee"),
    Col("amount", "number", "Amount ({cur})", _desc(DeferredFee, "amount")),
    Col("behind", "select", "Ranks behind (tranche)", "Paid from outcome income right behind this tranche (after it "
        "and every more senior tranche are settled)"),
    Col("payee", "select", "Paid to", "the intermediary, or the partners", _opts(DeferredFee, "payee")),
)
BREAK_COLS = (
    Col("at", "number", "Review at (years)", _desc(BreakClause, "at")),
    Col("measure", "select", "Measure", "earned: outcome payments earned so far (money); achievement_rate: outcomes "
        "achieved per participant in the verified cohorts of the outcome", _opts(BreakClause, "measure")),
    Col("outcome", "select", "Outcome", "The outcome measured (required for achievement_rate; empty: all outcomes)"),
    Col("trigger", "number", "Trigger", "Below this (money earned, or a rate 0–1), the clause applies"),
    Col("action", "select", "Action", "stop_enrolment: no new participants; stop_contract: delivery stops at once",
        _opts(BreakClause, "action")),
)
LIST_TABLES: dict[str, tuple[str, tuple[Col, ...]]] = {
    "fees": ("terms.deferred_fees", FEE_COLS),
    "breaks": ("breaks", BREAK_COLS),
}
LIST_LABELS = {"fees": "Deferred fees", "breaks": "Break clauses"}
PARTNER_COLS = (
    Col("name", "text", "Partner"),
    Col("cost", "number", "Cost ({cur}/participant)", _desc(Partner, "cost")),
    Col("fixed_cost", "number", "Fixed cost ({cur}/year)", _desc(Partner, "fixed_cost")),
    Col("reach", "number", "Reach (zone, 0–1)", _desc(Partner, "reach")),
    Col("referrals", "number", "Referrals (/year, pipelines)", _desc(Partner, "referrals")),
    Col("capacity", "number", "Capacity (participants, pipelines)", _desc(Partner, "capacity")),
    Col("enrolment_start", "number", "Enrol from (years)", _desc(Partner, "enrolment_start")),
    Col("enrolment_end", "number", "Enrol until (years)", _desc(Partner, "enrolment_end")),
    Col("service_length", "number", "Service (years)", _desc(Partner, "service_length")),
    Col("dropout", "number", "Dropout (0–1)", _desc(Partner, "dropout")),
    Col("abandonment", "number", "Waiting-list loss (/year)", _desc(Partner, "abandonment")),
    Col("exit_hazard", "number", "Exit hazard (/year)", _desc(Partner, "exit_hazard")),
    Col("maturity.kind", "select", "Maturity curve", "logistic ramp to full effect, or immediate", _opts(Maturity, "kind")),
    Col("maturity.half_maturity", "number", "Half maturity (years)", _desc(Maturity, "half_maturity")),
    Col("maturity.steepness", "number", "Ramp steepness (years)", _desc(Maturity, "steepness")),
    Col("contract.upfront_share", "number", "Paid as delivered (share of cost)", "Share of each participant's cost paid while in service; the rest is at risk"),
    Col("contract.outcome_share", "number", "Outcome share (contingent)", "Share of attributed outcome payments passed to the partner"),
)
COMMISSIONER_COLS = (
    Col("name", "text", "Commissioner"),
    Col("annual_budget", "number", "Annual budget ({cur}/year)", _desc(Commissioner, "annual_budget")),
    Col("total_cap", "number", "Total cap ({cur})", _desc(Commissioner, "total_cap")),
    Col("payment_lag", "number", "Payment lag (years)", _desc(Commissioner, "payment_lag")),
    Col("withdrawal_hazard", "number", "Withdrawal hazard (/year)", _desc(Commissioner, "withdrawal_hazard")),
    Col("budget_overflow", "select", "Over the annual budget", _desc(Commissioner, "budget_overflow"),
        _opts(Commissioner, "budget_overflow")),
)
TRANCHE_COLS = (
    Col("seniority", "int", "Seniority (1 = most senior)",
        "Change the numbers to reorder (2.5 goes between 2 and 3); the table re-sorts"),
    Col("name", "text", "Tranche"),
    Col("kind", "select", "Kind", "senior, subordinated and first_loss are repaid in seniority order; grant expects "
        "nothing back; a guarantee pays the covered tranche's unrepaid capital at the end", _opts(Tranche, "kind")),
    Col("commitment", "number", "Commitment ({cur})", _desc(Tranche, "commitment")),
    Col("coupon", "number", "Coupon (/year)", _desc(Tranche, "coupon")),
    Col("cap_multiple", "number", "Cap (multiple, x)", _desc(Tranche, "cap_multiple")),
    Col("cap_irr", "number", "Cap (IRR /year)", _desc(Tranche, "cap_irr")),
    Col("upside", "tri", "Shares upside", "by kind: subordinated and first_loss share the upside", ("by kind", "yes", "no")),
    Col("covers", "text", "Guarantee covers", "Name of the tranche a guarantee covers"),
    Col("rank", "int", "Pari passu rank", "Optional: tranches with the same rank are paid pro rata (1 most "
        "senior); give every capital tranche a rank or none"),
    Col("cap_basis", "select", "Cap multiplies", _desc(Tranche, "cap_basis"), _opts(Tranche, "cap_basis")),
    Col("share_of_drawn", "number", "Guarantee: share of drawn", _desc(Tranche, "share_of_drawn")),
)
NUMERIC_KINDS = ("number", "int")
# Outcome sub-sections written only when they apply (a count section on a binary outcome is an error).
OPTIONAL_SUBS = {"count": lambda item: item.get("kind") == "count",
                  "comparison": lambda item: bool((item.get("comparison") or {}).get("kind"))}
ENTITY_COLS = {"outcomes": OUTCOME_COLS, "partners": PARTNER_COLS, "commissioners": COMMISSIONER_COLS, "tranches": TRANCHE_COLS}
ENTITY_MODEL = {"outcomes": Outcome, "partners": Partner, "commissioners": Commissioner, "tranches": Tranche}
REQUIRED = {k: [f for f, info in m.model_fields.items() if info.is_required()] for k, m in ENTITY_MODEL.items()}
# Entity fields edited outside the entity's own table (in the tiers and schedule tables and the matrices).
EDITED_ELSEWHERE = {"outcomes": {"tiers", "schedule"}, "partners": {"effect"}, "commissioners": {"shares"}, "tranches": set()}


@dataclass(frozen=True)
class Field_:
    path: str
    kind: str  # number | text | textarea | select | bool | date
    label: str
    help: str = ""
    options: tuple[str, ...] = ()


SCALARS: dict[str, tuple[Field_, ...]] = {
    "general": (
        Field_("name", "text", "Scenario name"),
        Field_("currency", "text", "Currency (3 letters)", "All money in the scenario is in this currency"),
        Field_("description", "textarea", "Description"),
    ),
    "horizon": (
        Field_("horizon.years", "number", "Contract length (years)", _desc(Horizon, "years")),
        Field_("horizon.period", "select", "Time step", "The engine's period", _opts(Horizon, "period")),
        Field_("horizon.start", "date", "Start date", "For labels only"),
        Field_("horizon.discount_rate", "number", "Discount rate (/year)", _desc(Horizon, "discount_rate")),
    ),
    "delivery": (
        Field_("delivery.model", "select", "Delivery model", "pipelines: each partner recruits and serves its own "
               "participants; zone: participants enrol once and get a package from several partners",
               _opts(Delivery, "model")),
        Field_("delivery.referrals", "number", "Zone referrals (/year)", _desc(Delivery, "referrals")),
        Field_("delivery.capacity", "number", "Zone capacity (participants)", _desc(Delivery, "capacity")),
        Field_("delivery.enrolment_start", "number", "Zone enrols from (years)"),
        Field_("delivery.enrolment_end", "number", "Zone enrols until (years)", "Empty: to the end of the horizon"),
        Field_("delivery.service_length", "number", "Zone programme (years)"),
        Field_("delivery.dropout", "number", "Zone dropout (0–1)"),
        Field_("delivery.abandonment", "number", "Zone waiting-list loss (/year)"),
        Field_("delivery.interaction", "number", "Interaction (synergy > 0, overlap < 0)",
               "Effect multiplier per extra partner in a participant's package"),
        Field_("delivery.attribution", "select", "Attribute payments to partners by",
               "cost x reach, reach, or a fixed split (table below)", _opts(Delivery, "attribution")),
    ),
    "backbone": (
        Field_("backbone.cost", "number", "Backbone cost ({cur}/year)", _desc(Backbone, "cost")),
        Field_("backbone.success_fee", "number", "Backbone success fee (share)", _desc(Backbone, "success_fee")),
    ),
    "terms": (
        Field_("terms.recycling", "bool", "Recycle outcome payments into delivery", _desc(Terms, "recycling")),
        Field_("terms.distribution_frequency", "select", "Distributions to investors",
               "Every period, every year, or only at the end", _opts(Terms, "distribution_frequency")),
        Field_("terms.excess_to", "select", "Cash above every cap goes to",
               "commissioners as a rebate, partners as a bonus, or a split", _opts(Terms, "excess_to")),
        Field_("terms.excess_split", "number", "Share of excess to commissioners (split)", _desc(Terms, "excess_split")),
        Field_("terms.draw_order", "select", "Capital drawn", "pro rata to commitment, senior or junior tranches "
               "first, or all up front", _opts(Terms, "draw_order")),
        Field_("terms.max_outcome_payments", "number", "Cap on all outcome payments ({cur})", _desc(Terms, "max_outcome_payments")),
        Field_("terms.intermediary_fee", "number", "Intermediary fee (share of payments)", _desc(Terms, "intermediary_fee")),
    ),
    "uncertainty": (
        Field_("uncertainty.enabled", "bool", "Uncertainty on", "Off: every parameter at its mean, counts at expectations"),
        Field_("uncertainty.rho", "number", "Common shock correlation ρ (0–1)", _desc(Uncertainty, "rho")),
        Field_("uncertainty.maturity_delay_sd", "number", "Maturity delay sd (years)", _desc(Uncertainty, "maturity_delay_sd")),
        Field_("uncertainty.referral_sd", "number", "Referral volume log-sd", _desc(Uncertainty, "referral_sd")),
    ),
}

SECTIONS = {
    "general": "Scenario",
    "horizon": "Horizon",
    "outcomes": "Outcomes & rate card",
    "delivery": "Delivery model",
    "partners": "Partners",
    "commissioners": "Commissioners",
    "tranches": "Investors (tranches)",
    "backbone": "Backbone & terms",
    "uncertainty": "Uncertainty",
}


def model_defaults(model) -> dict[str, Any]:
    """A pydantic model's defaults as JSON-able values (required fields left out)."""
    out = {}
    for name, f in model.model_fields.items():
        if f.default_factory is not None:
            out[name] = jsonable(f.default_factory().model_dump(mode="json") if hasattr(f.default_factory(), "model_dump") else f.default_factory())
        elif not f.is_required():
            out[name] = jsonable(f.default)
    return out


SUB_DEFAULTS = {"maturity": model_defaults(Maturity), "contract": model_defaults(PartnerContract),
                 "count": model_defaults(CountMeasure), "comparison": {}}


ENTITY_DEFAULTS = {k: model_defaults(m) for k, m in {"outcomes": Outcome, "partners": Partner, "commissioners": Commissioner,
                                                 "tranches": Tranche}.items()}


_SECTION_MODEL = {"horizon": Horizon, "delivery": Delivery, "backbone": Backbone, "terms": Terms, "uncertainty": Uncertainty}


def scalar_default(d: dict, path: str) -> Any:
    """A scalar field's value in ``d``, else the model's default."""
    v = get_path(d, path, None)
    if v is not None or "." not in path:
        return v
    head, tail = path.split(".", 1)
    model = _SECTION_MODEL.get(head)
    if model is not None and get_path(d, path, "__missing__") == "__missing__":
        return model_defaults(model).get(tail)
    return v


SCALAR_KIND = {f.path: f.kind for fs in SCALARS.values() for f in fs}
REQUIRED_SCALARS = {"name", "currency", "horizon.years"}
