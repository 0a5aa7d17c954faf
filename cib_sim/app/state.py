"""The app's working scenario as plain data: tables to edit, and back to a scenario dict.

Nothing here imports Streamlit, so all of it is tested directly. The app (``app.py``) keeps:

- ``editor_base``: a scenario dict from which the editors were built (the loaded scenario, or
  the working scenario at the last *restructure*, see below);
- the editors' own state (Streamlit keeps each ``st.data_editor``'s edits against its base
  table, and each input's value, under versioned keys);
- ``working``: the dict composed on every rerun from ``editor_base``, the inputs and the edited
  tables by :func:`compose`. It is validated with :func:`cib_sim.scenario.parse_scenario`; a bad
  value stays in ``working`` (and in its widget) with its error shown next to its section.

Entity tables (outcomes, partners, commissioners, tranches) carry a hidden ``_id`` column: the
row's position in ``editor_base``. Matrices that depend on them (partner effects, commissioner
shares, the fixed attribution split) and the tiers table refer to rows by that id, so renaming
an outcome carries its column of effects and shares with it. When rows are added, deleted,
renamed or reordered, :func:`structure` changes, and the app *restructures*: ``editor_base``
becomes ``working`` and every editor is rebuilt from it under a new version, so nothing typed is
lost and the matrices get rows and columns for the new entities.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from cib_sim.app.cells import NotANumber, format_number, parse_number
from cib_sim.scenario import (
    Backbone,
    Commissioner,
    CountMeasure,
    Delivery,
    Horizon,
    Maturity,
    Outcome,
    Partner,
    PartnerContract,
    Scenario,
    ScenarioError,
    Terms,
    Tranche,
    Uncertainty,
    library_folder,
    parse_scenario,
    parse_yaml,
    scenario_to_yaml,
)

LIBRARY = library_folder()
DEFAULT_SCENARIO = "west_london_zone.yaml"


# --------------------------------------------------------------------------------------------
# The scenario library and uploads


def library(folder: Path | str = LIBRARY) -> dict[str, Path]:
    """Scenario files in ``folder``: label (``name (file)``) -> path, the default first."""
    folder = Path(folder)
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    files.sort(key=lambda p: (p.name != DEFAULT_SCENARIO, p.name))
    out: dict[str, Path] = {}
    for p in files:
        name = None
        try:
            data = parse_yaml(p.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                name = data.get("name")
        except (OSError, UnicodeDecodeError, ScenarioError):
            pass
        out[f"{name} ({p.name})" if name else p.name] = p
    return out


def read_yaml(text: str | bytes) -> tuple[dict | None, list[tuple[str, str]]]:
    """A scenario dict from YAML text, and its validation errors (``[]`` if valid).

    Returns ``(None, errors)`` when the text is not YAML or not a mapping: nothing to edit."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        data = parse_yaml(text)  # duplicate keys and deep nesting are errors, as on load
    except ScenarioError as exc:
        return None, list(exc.errors)
    if not isinstance(data, dict):
        return None, [("", f"a scenario must be a mapping of fields, not {type(data).__name__}")]
    try:
        s = parse_scenario(data)
    except ScenarioError as exc:
        # Unknown (misspelt) fields have no place in the editor: drop them and say so; keep
        # every other value, valid or not, for the user to fix in the app.
        data = _jsonable(data)
        out = []
        for path, reason in exc.errors:
            if reason.startswith("unknown field") and _drop_path(data, path):
                out.append((path, f"{reason}; left out"))
            else:
                out.append((path, reason))
        return data, out
    return scenario_dict(s), []


def _drop_path(d: Any, path: str) -> bool:
    """Delete ``outcomes[0].prise`` from ``d``; True if it was there."""
    import re

    keys: list[Any] = [int(i) if i else k for k, i in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path)]
    try:
        for k in keys[:-1]:
            d = d[k]
        del d[keys[-1]]
        return True
    except (KeyError, IndexError, TypeError):
        return False


def scenario_dict(s: Scenario) -> dict:
    """The scenario as a plain (JSON-able) dict with every field."""
    return s.model_dump(mode="json")


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (dt.date, dt.datetime)):
        return x.isoformat()
    return x


# --------------------------------------------------------------------------------------------
# Table specifications: column, kind, label, help. Labels with units; ``{cur}`` is the currency.


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
    Col("kind", "select", "Kind", "binary: achieved or not, per participant; count: events per participant "
        "(baseline rate in events, price per event avoided)", _opts(Outcome, "kind")),
    Col("schedule_per", "select", "Lump sum per", "lump_sum: the schedule pays per cohort or once for the programme",
        _opts(Outcome, "schedule_per")),
    Col("schedule", "yaml", "Lump-sum schedule", "lump_sum: steps of improvement -> amount, e.g. "
        "[{min_improvement: 0.05, amount: 100000}, {min_improvement: 0.1, amount: 250000}]"),
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
_OPTIONAL_SUBS = {"count": lambda item: item.get("kind") == "count",
                  "comparison": lambda item: bool((item.get("comparison") or {}).get("kind"))}
ENTITY_COLS = {"outcomes": OUTCOME_COLS, "partners": PARTNER_COLS, "commissioners": COMMISSIONER_COLS, "tranches": TRANCHE_COLS}
ENTITY_MODEL = {"outcomes": Outcome, "partners": Partner, "commissioners": Commissioner, "tranches": Tranche}
_REQUIRED = {k: [f for f, info in m.model_fields.items() if info.is_required()] for k, m in ENTITY_MODEL.items()}
# Entity fields edited outside the entity's own table (in the tiers table and the matrices).
EDITED_ELSEWHERE = {"outcomes": {"tiers"}, "partners": {"effect"}, "commissioners": {"shares"}, "tranches": set()}


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
        Field_("terms.deferred_fees", "yaml", "Deferred fees", "Paid from income behind a tranche, e.g. "
               "[{name: margin, amount: 200000, behind: Senior, payee: partners}]"),
        Field_("breaks", "yaml", "Break clauses", "At a review, stop enrolment or the contract if a result is below "
               "a trigger, e.g. [{at: 2, measure: earned, trigger: 1000000, action: stop_enrolment}]"),
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


def _defaults(model) -> dict[str, Any]:
    out = {}
    for name, f in model.model_fields.items():
        if f.default_factory is not None:
            out[name] = _jsonable(f.default_factory().model_dump(mode="json") if hasattr(f.default_factory(), "model_dump") else f.default_factory())
        elif not f.is_required():
            out[name] = _jsonable(f.default)
    return out


_SUB_DEFAULTS = {"maturity": _defaults(Maturity), "contract": _defaults(PartnerContract),
                 "count": _defaults(CountMeasure), "comparison": {}}


def yaml_text(v: Any) -> str:
    """A list field (a schedule, deferred fees, break clauses) as one line of YAML."""
    if v in (None, [], ""):
        return ""
    if isinstance(v, str):
        return v
    return yaml.safe_dump(_jsonable(v), default_flow_style=True, sort_keys=False, width=10_000).strip()


def yaml_value(text: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    """The list typed as YAML in a cell or box (``[]`` when empty); text that is not YAML is kept
    as typed and named in ``problems``, so nothing is lost and the scenario does not run."""
    if isinstance(text, list):
        return text
    text = _clean(text)
    if text is None:
        return []
    try:
        v = parse_yaml(str(text))
    except ScenarioError as exc:
        problems.append((path, exc.errors[0][1] if exc.errors else "not valid YAML"))
        return str(text)
    return [] if v is None else v
_ENTITY_DEFAULTS = {k: _defaults(m) for k, m in {"outcomes": Outcome, "partners": Partner, "commissioners": Commissioner,
                                                 "tranches": Tranche}.items()}


def get_path(d: dict, path: str, default: Any = None) -> Any:
    cur: Any = d
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def set_path(d: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    cur = d
    for part in parts[:-1]:
        if not isinstance(cur.get(part), dict):
            cur[part] = {}
        cur = cur[part]
    cur[parts[-1]] = value


_SECTION_MODEL = {"horizon": Horizon, "delivery": Delivery, "backbone": Backbone, "terms": Terms, "uncertainty": Uncertainty}


def scalar_default(d: dict, path: str) -> Any:
    """A scalar field's value in ``d``, else the model's default."""
    v = get_path(d, path, None)
    if v is not None or "." not in path:
        return v
    head, tail = path.split(".", 1)
    model = _SECTION_MODEL.get(head)
    if model is not None and get_path(d, path, "__missing__") == "__missing__":
        return _defaults(model).get(tail)
    return v


# --------------------------------------------------------------------------------------------
# Dict -> tables


def _clean(v: Any) -> Any:
    """A table cell as a plain Python value: NaN/NA/empty text -> None, numpy scalars -> Python."""
    if v is None:
        return None
    if isinstance(v, (np.generic,)):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, str):
        v = v.strip()
        return v or None
    return v


def _num(v: Any) -> float:
    """A cell as a float; NaN when empty or not a number (for sorting, never for the scenario)."""
    try:
        x = parse_number(_clean(v))
    except NotANumber:
        return np.nan
    return np.nan if x is None else x


def _text_col(values) -> pd.Series:
    return pd.Series(list(values), dtype="object")


def _rows_from_one(df: pd.DataFrame) -> pd.DataFrame:
    """Rows labelled 1, 2, ... as the fixed tables show them (and as messages count them)."""
    df.index = pd.RangeIndex(1, len(df) + 1)
    return df


def _cells(values) -> pd.Series:
    """Numbers as the editors show them (text, read back exactly; see :mod:`cib_sim.app.cells`)."""
    return _text_col(format_number(_clean(v)) for v in values)


def entity_frame(kind: str, items: list[dict]) -> pd.DataFrame:
    """One entity list (``outcomes`` ...) as a table with a hidden ``_id`` column. Number cells
    are text (``"1,500"``), so that what is typed reaches :func:`compose` as typed."""
    cols = ENTITY_COLS[kind]
    defaults = _defaults(ENTITY_MODEL[kind])
    data: dict[str, list] = {"_id": [], **{c.field: [] for c in cols}}
    for i, item in enumerate(items or []):
        item = item if isinstance(item, dict) else {}
        data["_id"].append(i)
        for c in cols:
            if c.field == "seniority":
                v = i + 1
            elif "." in c.field:
                head, tail = c.field.split(".", 1)
                sub = item.get(head) if isinstance(item.get(head), dict) else {}
                v = sub.get(tail, _SUB_DEFAULTS[head].get(tail))
            else:
                v = item.get(c.field, defaults.get(c.field))
            if c.kind == "yaml":
                v = yaml_text(v)
            if c.kind == "tri":
                v = "by kind" if v is None else ("yes" if v else "no")
            data[c.field].append(v)
    df = pd.DataFrame({k: _text_col(v) for k, v in data.items()})
    for c in cols:
        if c.kind in NUMERIC_KINDS:
            df[c.field] = _cells(df[c.field])
        else:
            df[c.field] = _text_col(None if v is None else str(v) for v in df[c.field])
    df["_id"] = df["_id"].astype("float64")  # new rows come back as NaN
    return df  # rows from 0: a table that takes new rows needs Streamlit's own index


def _names(items: list) -> list[str]:
    return [str(it.get("name")) if isinstance(it, dict) and it.get("name") is not None else f"(row {i + 1})"
            for i, it in enumerate(items or [])]


def matrix_frame(row_kind: str, rows: list[dict], outcomes: list[dict], value) -> pd.DataFrame:
    """A rows x outcomes table: ``_id`` (row position), a read-only label column named after the
    row kind, one text (number) column per outcome, ``o<j>`` for the j-th outcome.
    ``value(row, outcome_name)``."""
    out_names = _names(outcomes)
    label = {"partners": "Partner", "commissioners": "Commissioner"}[row_kind]
    data: dict[str, list] = {"_id": [], label: []}
    cols: dict[str, list] = {f"o{j}": [] for j in range(len(out_names))}
    for i, r in enumerate(rows or []):
        r = r if isinstance(r, dict) else {}
        data["_id"].append(float(i))
        data[label].append(_names(rows)[i])
        for j, o in enumerate(out_names):
            cols[f"o{j}"].append(value(r, o))
    df = pd.DataFrame({"_id": pd.Series(data["_id"], dtype="float64"), label: _text_col(data[label]),
                       **{k: _cells(v) for k, v in cols.items()}})
    return _rows_from_one(df)


def _effect_value(which: str):
    def f(partner: dict, outcome: str):
        eff = partner.get("effect") or {}
        e = eff.get(outcome)
        if not isinstance(e, dict):
            return None
        return e.get(which, 0.0 if which == "sd" else None)
    return f


MATRICES = ("tiers", "effect_mean", "effect_sd", "shares", "split")
"""Tables that depend on the entity lists: rebuilt (from the working dict) when those change."""


def build_matrices(d: dict) -> dict[str, pd.DataFrame]:
    """The tables of :data:`MATRICES` for a scenario dict."""
    outcomes = d.get("outcomes") or []
    partners = d.get("partners") or []
    commissioners = d.get("commissioners") or []
    tiers: dict[str, list] = {"outcome_id": [], "outcome": [], "min_improvement": [], "price": []}
    for j, o in enumerate(outcomes):
        for t in (o.get("tiers") or []) if isinstance(o, dict) else []:
            t = t if isinstance(t, dict) else {}
            tiers["outcome_id"].append(float(j))
            tiers["outcome"].append(_names(outcomes)[j])
            tiers["min_improvement"].append(t.get("min_improvement"))
            tiers["price"].append(t.get("price"))
    frames = {"tiers": pd.DataFrame({
        "outcome_id": pd.Series(tiers["outcome_id"], dtype="float64"),
        "outcome": _text_col(tiers["outcome"]),
        "min_improvement": _cells(tiers["min_improvement"]),
        "price": _cells(tiers["price"]),
    })}
    frames["effect_mean"] = matrix_frame("partners", partners, outcomes, _effect_value("mean"))
    frames["effect_sd"] = matrix_frame("partners", partners, outcomes, _effect_value("sd"))
    frames["shares"] = matrix_frame("commissioners", commissioners, outcomes,
                                    lambda c, o: (c.get("shares") or {}).get(o))
    split = get_path(d, "delivery.split", {}) or {}
    split = split if isinstance(split, dict) else {}
    frames["split"] = pd.DataFrame({
        "_id": pd.Series([float(i) for i in range(len(partners))], dtype="float64"),
        "Partner": _text_col(_names(partners)),
        "share": _cells(split.get(n) for n in _names(partners)),
    })
    return {k: (v if k == "tiers" else _rows_from_one(v)) for k, v in frames.items()}


def build_frames(d: dict) -> dict[str, pd.DataFrame]:
    """Every editable table of a scenario dict (see :func:`compose` for the way back)."""
    frames = {k: entity_frame(k, d.get(k) or []) for k in ENTITY_COLS}
    frames.update(build_matrices(d))
    return frames


def matrix_columns(d: dict) -> dict[str, str]:
    """Matrix column key (``o0`` ...) -> outcome name, for the editors' column labels."""
    return {f"o{j}": n for j, n in enumerate(_names(d.get("outcomes") or []))}


def apply_edits(frame: pd.DataFrame, state: Any) -> pd.DataFrame:
    """``frame`` with a ``st.data_editor``'s edits applied, as the editor will return it: its
    state ``{"edited_rows": {row: {column: value}}, "added_rows": [{column: value}],
    "deleted_rows": [row]}`` (rows by position). Lets the app read every table, and so know
    every error, before it draws the editors (the tabs' labels carry their error counts)."""
    if not isinstance(state, dict) or not any(state.get(k) for k in ("edited_rows", "added_rows", "deleted_rows")):
        return frame  # unedited (callers do not change it)
    df = frame.copy()
    for r, change in (state.get("edited_rows") or {}).items():
        try:
            i = int(r)
        except (TypeError, ValueError):
            continue
        if 0 <= i < len(df) and isinstance(change, dict):
            for col, v in change.items():
                if col in df.columns:
                    df.iat[i, df.columns.get_loc(col)] = v
    deleted = {int(i) for i in (state.get("deleted_rows") or []) if isinstance(i, (int, float, str)) and str(i).lstrip("-").isdigit()}
    if deleted:
        df = df.drop(index=[df.index[i] for i in sorted(deleted) if 0 <= i < len(df)])
    added = [a for a in (state.get("added_rows") or []) if isinstance(a, dict)]
    if added:
        new = pd.DataFrame([{c: a.get(c) for c in df.columns} for a in added], columns=df.columns)
        df = pd.concat([df, new.astype(df.dtypes.to_dict(), errors="ignore")], ignore_index=True)
    df = df.reset_index(drop=True)
    for c in df.columns:
        if df[c].dtype == "float64":
            continue
        df[c] = df[c].astype("object")
    return df


# --------------------------------------------------------------------------------------------
# Tables -> dict


def _row_id(v: Any) -> int | None:
    v = _clean(v)
    if v is None:
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


class _Reader:
    """Reads number cells, collecting ``(path, "... is not a number")`` for those that are not.
    A cell that is not a number keeps its text in the working dict (so a saved draft has it)."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def num(self, v: Any, path: str) -> Any:
        try:
            return parse_number(_clean(v))
        except NotANumber as exc:
            self.problems.append((path, str(exc)))
            return str(v).strip()


def _entity_rows(kind: str, df: pd.DataFrame, base_items: list[dict], reader: _Reader | None = None,
                 ) -> tuple[list[dict], list[int]]:
    """Entity dicts from an edited table, starting from the base item of each row (so fields
    the table does not show are kept), and each row's id: its position in ``base_items``, or
    for a new row ``len(base_items)`` + its place among the new rows."""
    reader = reader or _Reader()
    cols = ENTITY_COLS[kind]
    items, ids = [], []
    n_new = 0
    for pos, (_, row) in enumerate(df.iterrows()):
        rid = _row_id(row.get("_id"))
        known = rid is not None and 0 <= rid < len(base_items) and isinstance(base_items[rid], dict)
        if not known and all(_clean(row.get(c.field)) is None for c in cols if c.kind not in ("tri",)):
            continue  # a new row still blank (being typed into): not part of the scenario yet
        item = copy.deepcopy(base_items[rid]) if known else {}
        if not known:
            rid = len(base_items) + n_new
            n_new += 1
        for c in cols:
            if c.field == "seniority":
                continue
            v = _clean(row.get(c.field))
            if c.kind in NUMERIC_KINDS:
                v = reader.num(v, f"{kind}[{pos}].{c.field}")
            if c.kind == "yaml":
                v = yaml_value(v, f"{kind}[{pos}].{c.field}", reader.problems)
            if v is None and not known:
                # A new row: an empty cell takes the model's default (flagged by `suspicious`).
                if "." in c.field:
                    head, tail = c.field.split(".", 1)
                    v = _SUB_DEFAULTS[head].get(tail)
                else:
                    v = _ENTITY_DEFAULTS[kind].get(c.field)
            if c.kind == "tri":
                v = None if v in (None, "by kind") else (v == "yes")
            if "." in c.field:
                head, tail = c.field.split(".", 1)
                sub = dict(item.get(head) or {})
                if v is None:
                    sub.pop(tail, None)
                else:
                    sub[tail] = v
                item[head] = sub
            else:
                item[c.field] = v
        for head, applies in _OPTIONAL_SUBS.items():
            if head in item and kind == "outcomes" and not applies(item):
                del item[head]
        # An empty required field is left out, so the error says "required".
        for f in _REQUIRED[kind]:
            if item.get(f, 0) is None:
                del item[f]
        items.append(item)
        ids.append(rid)
    return items, ids


def _match_rows(df: pd.DataFrame, label_col: str | None, names: list, ids: list[int]) -> list[tuple[int, Any]]:
    """Rows of a dependent table matched to current entities: ``(position, row)``.

    A row carries the id and the name its entity had when the table was built. The name is
    tried first (so deleting a new row does not hand its effects to the next one), then the
    id (so renaming keeps them); an entity takes at most one row."""
    pos_by_id = {rid: i for i, rid in enumerate(ids)}
    pos_by_name = {n: i for i, n in enumerate(names) if n is not None}
    rows = list(df.iterrows())
    taken: dict[int, Any] = {}
    rest = []
    for _, row in rows:
        label = _clean(row.get(label_col)) if label_col else None
        if label is not None and label in pos_by_name and pos_by_name[label] not in taken:
            taken[pos_by_name[label]] = row
        else:
            rest.append(row)
    for row in rest:
        rid = _row_id(row.get("_id"))
        if rid in pos_by_id and pos_by_id[rid] not in taken:
            taken[pos_by_id[rid]] = row
    return sorted(taken.items(), key=lambda t: t[0])


def _outcome_cols(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if isinstance(c, str) and c.startswith("o") and c[1:].isdigit()]


def compose(editor_base: dict, scalars: dict[str, Any], tables: dict[str, pd.DataFrame],
            problems: list[tuple[str, str]] | None = None, column_names: dict[str, str] | None = None) -> dict:
    """The working scenario dict: ``editor_base`` with the inputs' values (``path -> value``)
    and the edited tables (as :func:`build_frames` made them, after the user's edits).

    Cells that are not numbers are appended to ``problems`` as ``(path, reason)`` and keep their
    text in the dict. ``column_names``: matrix column (``o<j>``) -> the outcome's name when the
    matrices were built (default: the outcomes of ``editor_base``)."""
    reader = _Reader()
    d = copy.deepcopy(editor_base)
    for path, v in scalars.items():
        v = _clean(v) if not isinstance(v, bool) else v
        if isinstance(v, (dt.date, dt.datetime)):
            v = v.isoformat()
        if SCALAR_KIND.get(path) == "yaml":
            v = yaml_value(v, path, reader.problems)
        elif SCALAR_KIND.get(path) == "number" or (isinstance(v, (int, float)) and not isinstance(v, bool)):
            v = reader.num(v, path)
        if path == "description" and v is None:
            v = ""
        set_path(d, path, v)
        if v is None and path in _REQUIRED_SCALARS:
            _drop_path(d, path)  # so the error says "required"

    base_out = editor_base.get("outcomes") or []

    # Entity tables
    outcomes, out_ids = _entity_rows("outcomes", tables["outcomes"], base_out, reader)
    partners, part_ids = _entity_rows("partners", tables["partners"], editor_base.get("partners") or [], reader)
    commissioners, comm_ids = _entity_rows("commissioners", tables["commissioners"],
                                           editor_base.get("commissioners") or [], reader)
    tdf = tables["tranches"].copy()
    sort_key = []
    for i, v in enumerate(tdf["seniority"]):
        x = reader.num(v, f"tranches[{i}].seniority")
        sort_key.append(x if isinstance(x, float) else np.inf)
    tdf["_sort"] = sort_key
    tdf = tdf.sort_values("_sort", kind="stable")
    tranches, _ = _entity_rows("tranches", tdf, editor_base.get("tranches") or [], reader)

    out_names = [o.get("name") for o in outcomes]
    part_names = [p.get("name") for p in partners]
    comm_names = [c.get("name") for c in commissioners]
    out_pos_by_id = {rid: i for i, rid in enumerate(out_ids)}
    built_names = column_names if column_names is not None else matrix_columns(editor_base)

    def col_outcome(col: str) -> str | None:
        """The outcome a matrix column now stands for: by its name when built, else its id."""
        was = built_names.get(col)
        if was is not None and was in out_names:
            return was
        pos = out_pos_by_id.get(int(col[1:]))
        return None if pos is None else out_names[pos]

    # Tiers: every outcome's tiers come from the tiers table.
    tiers_by_pos: dict[int, list[dict]] = {}
    for _, row in tables["tiers"].iterrows():
        label = _clean(row.get("outcome"))
        oid = _row_id(row.get("outcome_id"))
        if label is not None and label in out_names:
            pos = out_names.index(label)
        elif label is None and oid in out_pos_by_id:
            pos = out_pos_by_id[oid]
        else:
            continue  # not attached to an outcome: reported by table_problems
        j = len(tiers_by_pos.get(pos, []))
        tiers_by_pos.setdefault(pos, []).append({
            "min_improvement": reader.num(row.get("min_improvement"), f"outcomes[{pos}].tiers[{j}].min_improvement"),
            "price": reader.num(row.get("price"), f"outcomes[{pos}].tiers[{j}].price")})
    for i, o in enumerate(outcomes):
        o["tiers"] = tiers_by_pos.get(i, [])

    # Partner effects from the two matrices.
    for p in partners:
        p["effect"] = {}
    mean_df, sd_df = tables["effect_mean"], tables["effect_sd"]
    sd_rows = dict(_match_rows(sd_df, "Partner", part_names, part_ids))
    for pos, row in _match_rows(mean_df, "Partner", part_names, part_ids):
        p = partners[pos]
        sd_row = sd_rows.get(pos)
        for col in _outcome_cols(mean_df):
            oname = col_outcome(col)
            if oname is None:
                continue
            m = reader.num(row.get(col), f"partners[{pos}].effect.{oname}.mean")
            s = reader.num(sd_row.get(col), f"partners[{pos}].effect.{oname}.sd") if sd_row is not None else None
            if m is None and s is None:
                continue
            e: dict[str, Any] = {}
            if m is not None:
                e["mean"] = m
            if s is not None:
                e["sd"] = s
            p["effect"][oname] = e

    # Commissioner shares.
    for c in commissioners:
        c["shares"] = {}
    for pos, row in _match_rows(tables["shares"], "Commissioner", comm_names, comm_ids):
        c = commissioners[pos]
        for col in _outcome_cols(tables["shares"]):
            oname = col_outcome(col)
            if oname is None:
                continue
            v = reader.num(row.get(col), f"commissioners[{pos}].shares.{oname}")
            if v is not None:
                c["shares"][oname] = v

    # Fixed attribution split, by partner.
    split: dict[str, Any] = {}
    for pos, row in _match_rows(tables["split"], "Partner", part_names, part_ids):
        name = partners[pos].get("name")
        v = reader.num(row.get("share"), f"delivery.split.{name}")
        if v is not None and name is not None:
            split[str(name)] = v
    if not isinstance(d.get("delivery"), dict):
        d["delivery"] = {}
    d["delivery"]["split"] = split

    d["outcomes"], d["partners"], d["commissioners"], d["tranches"] = outcomes, partners, commissioners, tranches
    if problems is not None:
        problems.extend(reader.problems)
    return _ordered(d)


def table_problems(working: dict, tables: dict[str, pd.DataFrame]) -> list[tuple[str, str]]:
    """Problems the scenario model cannot see because :func:`compose` could not place a row:
    a tier whose outcome is not chosen. As ``(path, reason)``, like validation errors."""
    names = _names(working.get("outcomes") or [])
    out = []
    for i, (_, row) in enumerate(tables["tiers"].iterrows()):
        label = _clean(row.get("outcome"))
        oid = _row_id(row.get("outcome_id"))
        if label is None and oid is None:
            out.append(("outcomes.tiers", f"tier row {i + 1}: choose the outcome it belongs to"))
        elif label is not None and label not in names:
            out.append(("outcomes.tiers", f"tier row {i + 1}: unknown outcome {label!r}"))
    return out


_ORDER = list(Scenario.model_fields)
_REQUIRED_SCALARS = {"name", "currency", "horizon.years"}


def _ordered(d: dict) -> dict:
    """Top-level keys in the model's order (so YAML reads the way the model is documented)."""
    out = {k: d[k] for k in _ORDER if k in d}
    out.update({k: v for k, v in d.items() if k not in out})
    return out


def entity_names(d: dict) -> tuple:
    """What the dependent tables (:data:`MATRICES`) are built on: each entity list's names in
    order. When it changes (a row added, deleted, renamed), they are rebuilt."""
    return tuple(tuple(_names(d.get(k) or [])) for k in ENTITY_COLS)


def structure(d: dict) -> tuple:
    """What the editors' shape depends on: entity names in order, and the currency (labels)."""
    return (*entity_names(d), str(d.get("currency")))


def tables_restructured(tables: dict[str, pd.DataFrame]) -> bool:
    """True if any entity table has a new or deleted row, or the tranches were re-ranked."""
    return bool(tables_with_deletions(tables)) or _reranked(tables) or any(
        _row_id(v) is None for k in ENTITY_COLS for v in tables[k]["_id"])


def _reranked(tables: dict[str, pd.DataFrame]) -> bool:
    sen = [_num(v) for v in tables["tranches"]["seniority"]]
    ids = [_row_id(v) for v in tables["tranches"]["_id"]]
    known = [x for x, i in zip(sen, ids) if i is not None]
    return known != [float(i + 1) for i in range(len(known))]


def tables_with_deletions(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Entity tables from which a loaded row was deleted (their ids are no longer 0, 1, ...)."""
    out = []
    for k in ENTITY_COLS:
        ids = [i for i in (_row_id(v) for v in tables[k]["_id"]) if i is not None]
        if ids != list(range(len(ids))):
            out.append(k)
    return out


def rebuild_needed(tables: dict[str, pd.DataFrame], working: dict, editor_base: dict, matrices_built_on: tuple) -> str | None:
    """What the app must rebuild after an edit: ``"all"`` (rows deleted, tranches re-ranked or
    the currency changed: every editor, from the working dict), ``"matrices"`` (rows added or
    renamed: only the tables that depend on them, so the table being typed into is left alone
    and nothing typed into a new row is lost), or None."""
    if tables_with_deletions(tables) or _reranked(tables) or str(working.get("currency")) != str(editor_base.get("currency")):
        return "all"
    if entity_names(working) != matrices_built_on:
        return "matrices"
    return None


# --------------------------------------------------------------------------------------------
# Validation and where its errors belong


def validate(d: dict) -> tuple[Scenario | None, list[tuple[str, str]]]:
    """The scenario, or None and the errors as ``(field path, reason)``. Never raises."""
    try:
        return parse_scenario(d), []
    except ScenarioError as exc:
        return None, list(exc.errors)
    except Exception as exc:  # noqa: BLE001 - the app must never fall over on a bad edit
        return None, [("", f"could not read the scenario: {exc}")]


def check(d: dict, cell_problems: list[tuple[str, str]] = ()) -> tuple[Scenario | None, list[tuple[str, str]]]:
    """:func:`validate`, with the cells that are not numbers: the scenario is None while any is
    left, and the model's own message for such a cell gives way to "not a number"."""
    scenario, errors = validate(d)
    cells = list(cell_problems)
    bad = {p for p, _ in cells}
    errors = cells + [(p, r) for p, r in errors if p not in bad]
    return (scenario if not cells else None), errors


def section_of(path: str) -> str:
    """The app section an error path belongs to (``outcomes[0].price`` -> ``outcomes``)."""
    head = path.split(".", 1)[0].split("[", 1)[0]
    if head in SECTIONS:
        return head
    if head == "terms":
        return "backbone"
    return "general"


def errors_by_section(errors: list[tuple[str, str]], d: dict | None = None) -> dict[str, list[str]]:
    """Errors grouped by section, each a line naming the row (from 1) and the column."""
    out: dict[str, list[str]] = {}
    for path, reason in errors:
        out.setdefault(section_of(path), []).append(describe_error(path, reason, d, with_section=False))
    return out


_COL_LABEL = {k: {c.field: c.label for c in cols} for k, cols in ENTITY_COLS.items()}
_TIER_LABEL = {c.field: c.label for c in TIER_COLS}
_SCALAR_LABEL = {f.path: f.label for fs in SCALARS.values() for f in fs}
SCALAR_KIND = {f.path: f.kind for fs in SCALARS.values() for f in fs}


def _field_label(kind: str, rest: str, cur: str) -> str:
    if rest in _COL_LABEL.get(kind, {}):
        return _COL_LABEL[kind][rest].format(cur=cur)
    if rest.startswith("effect."):
        outcome, _, which = rest[len("effect."):].rpartition(".")
        if which in ("mean", "sd") and outcome:
            return f"Effect on {outcome}" + (" (sd)" if which == "sd" else "")
        return f"Effect on {rest[len('effect.'):]}"
    if rest.startswith("shares."):
        return f"Share of {rest[len('shares.'):]}"
    if rest.startswith("tiers["):
        j, _, field = rest[len("tiers["):].partition("].")
        label = _TIER_LABEL.get(field, field).format(cur=cur)
        return f"Tier {int(j) + 1 if j.isdigit() else j}, {label}"
    return rest


def describe_error(path: str, reason: str, d: dict | None = None, with_section: bool = True) -> str:
    """A problem in words, rows counted from 1: ``Partners · row 5 (Mentoring) · Cost
    (GBP/participant): must be >= 0``; a single field: ``Horizon · Contract length (years): ...``."""
    import re

    cur = str((d or {}).get("currency") or "GBP")
    section = SECTIONS.get(section_of(path), "Scenario") if path else "Scenario"
    parts = [section] if with_section else []
    m = re.match(r"^(outcomes|partners|commissioners|tranches)\[(\d+)\](?:\.(.*))?$", path or "")
    if m:
        kind, i, rest = m.group(1), int(m.group(2)), m.group(3) or ""
        items = (d or {}).get(kind) or []
        name = items[i].get("name") if 0 <= i < len(items) and isinstance(items[i], dict) else None
        parts.append(f"row {i + 1}" + (f" ({name})" if isinstance(name, str) and name else ""))
        if rest:
            parts.append(_field_label(kind, rest, cur))
    elif path in _SCALAR_LABEL:
        parts.append(_SCALAR_LABEL[path].format(cur=cur))
    elif path.startswith("delivery.split."):
        parts.append(f"Fixed split, {path[len('delivery.split.'):]}")
    elif path and path not in ("outcomes.tiers",):
        parts.append(path)
    return " · ".join(parts) + f": {reason}"


def suspicious(d: dict, known: dict | None = None) -> list[tuple[str, str]]:
    """Values that are allowed but probably not meant, as ``(path, reason)``: mostly the model's
    defaults that a new row takes for its empty cells. ``known``: the scenario as loaded (rows
    whose names it has are not new)."""
    def names(k: str) -> set:
        return {x.get("name") for x in ((known or {}).get(k) or []) if isinstance(x, dict)}

    out: list[tuple[str, str]] = []
    zone = get_path(d, "delivery.model") == "zone"
    old_p = names("partners")
    for i, p in enumerate(d.get("partners") or []):
        if not isinstance(p, dict) or p.get("name") in old_p:
            continue
        if p.get("cost") == 0:
            out.append((f"partners[{i}].cost", "0 for a new partner: is the cost per participant left empty?"))
        if zone and p.get("reach") == 1:
            out.append((f"partners[{i}].reach", "1: every participant in the zone gets this partner; is that meant?"))
        if not any(isinstance(e, dict) and e.get("mean") for e in (p.get("effect") or {}).values()):
            out.append((f"partners[{i}]", "a new partner with no effect on any outcome (Effect at full maturity, below)"))
    old_c = names("commissioners")
    for i, c in enumerate(d.get("commissioners") or []):
        if isinstance(c, dict) and c.get("name") not in old_c and not any((c.get("shares") or {}).values()):
            out.append((f"commissioners[{i}]", "a new commissioner that pays no share of any outcome"))
    old_o = names("outcomes")
    for i, o in enumerate(d.get("outcomes") or []):
        if isinstance(o, dict) and o.get("name") not in old_o and o.get("price") == 0 and o.get("payment_basis") != "tiered":
            out.append((f"outcomes[{i}].price", "0 for a new outcome: is the price left empty?"))
    return out


# --------------------------------------------------------------------------------------------
# Results as tables and files


def summary_wide(summary: pd.DataFrame, group: str) -> pd.DataFrame:
    """One row per entity of ``group`` (tranche, commissioner ...), one column per metric."""
    g = summary[summary["group"] == group]
    if g.empty:
        return pd.DataFrame()
    order = list(dict.fromkeys(g["name"]))
    wide = g.pivot(index="name", columns="metric", values="value").reindex(order)
    wide.index.name = group
    return wide


def _pct(v: float, digits: int = 1) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.{digits}%}"


def _x(v: float) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.2f}x"


def _trio(a: float, b: float, c: float, f) -> str:
    return f"{f(a)} · {f(b)} · {f(c)}"


def tranche_table(summary: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """The investors' headline table, as display text: one row per capital tranche, in
    seniority order, with P(loss), expected loss and the 5th · 50th · 95th percentile IRR and
    multiple of money."""
    from cib_sim.charts import fmt_money

    cur = scenario.currency
    w = summary_wide(summary, "tranche")
    kinds = {t.name: t.kind for t in scenario.tranches}
    commit = {t.name: t.commitment for t in scenario.tranches}
    rows = []
    for n, r in w.iterrows():
        rows.append({
            "Tranche": f"{n} ({kinds.get(n, '').replace('_', ' ')})",
            f"Drawn, mean ({cur})": f"{fmt_money(r['capital_drawn_mean'], cur)} of {fmt_money(commit.get(n, np.nan), cur)}",
            "P(loss)": _pct(r["prob_loss"]),
            f"Expected loss ({cur})": fmt_money(r["expected_loss"], cur),
            "IRR /year: p5 · p50 · p95": _trio(r["irr_p5"], r["irr_p50"], r["irr_p95"], _pct),
            "Multiple: p5 · p50 · p95": _trio(r["multiple_p5"], r["multiple_p50"], r["multiple_p95"], _x),
        })
    return pd.DataFrame(rows)


def commissioner_table(summary: pd.DataFrame, currency: str = "GBP") -> pd.DataFrame:
    """The payers' headline table, as display text: expected and 95th percentile spend, cost per
    outcome, value for money, chance of reaching a cap, and money lost to withdrawal."""
    from cib_sim.charts import fmt_money

    w = summary_wide(summary, "commissioner")
    rows = []
    for n, r in w.iterrows():
        rows.append({
            "Commissioner": n,
            f"Expected spend ({currency})": fmt_money(r["paid_mean"], currency),
            f"95th pct spend ({currency})": fmt_money(r["paid_p95"], currency),
            f"Cost per outcome ({currency})": fmt_money(r["cost_per_outcome"], currency),
            "Value for money": _x(r["value_for_money"]),
            "P(cap reached)": _pct(r["prob_cap_hit"]),
            f"Rebate, mean ({currency})": fmt_money(r["rebate_mean"], currency),
        })
    return pd.DataFrame(rows)


def contract_metrics(summary: pd.DataFrame) -> dict[str, float]:
    """The contract-level summary values: ``metric -> value``."""
    g = summary[summary["group"] == "contract"]
    return dict(zip(g["metric"], g["value"].astype(float)))


COMPARE_METRICS = (
    ("contract", "outcome_payments_mean", "Expected outcome payments", "money"),
    ("contract", "outcome_payments_p95", "95th pct outcome payments", "money"),
    ("contract", "value_for_money", "Value for money (fiscal value ÷ paid)", "x"),
    ("contract", "prob_delivery_stopped", "P(delivery stopped for lack of funds)", "prob"),
    ("tranche", "prob_loss", "P(loss)", "prob"),
    ("tranche", "multiple_p50", "Median multiple", "x"),
    ("tranche", "irr_p50", "Median IRR", "pct"),
    ("tranche", "irr_p5", "5th pct IRR", "pct"),
    ("commissioner", "paid_mean", "Expected spend", "money"),
    ("commissioner", "paid_p95", "95th pct spend", "money"),
)


def comparison_table(base: pd.DataFrame, edited: pd.DataFrame, currency: str = "GBP") -> pd.DataFrame:
    """Headline measures of two summaries side by side: ``Measure``, ``Base``, ``Edited``,
    ``Change`` as display text, plus the raw ``base``/``edited`` values."""
    from cib_sim.charts import fmt_money

    def fmt(v: float, kind: str) -> str:
        if v is None or not np.isfinite(v):
            return "n/a"
        return {"money": fmt_money(v, currency), "x": f"{v:.2f}x", "prob": f"{v:.1%}", "pct": f"{v:.1%}"}[kind]

    def fmt_delta(a: float, b: float, kind: str) -> str:
        if not (np.isfinite(a) and np.isfinite(b)):
            return "n/a"
        dlt = b - a
        if abs(dlt) < 1e-12:
            return "–"
        sign = "+" if dlt > 0 else "−"
        if kind == "money":
            return sign + fmt_money(abs(dlt), currency)
        if kind == "x":
            return f"{sign}{abs(dlt):.2f}x"
        return f"{sign}{abs(dlt) * 100:.1f} pp"

    rows = []
    for group, metric, label, kind in COMPARE_METRICS:
        b = base[(base.group == group) & (base.metric == metric)]
        e = edited[(edited.group == group) & (edited.metric == metric)]
        names = list(dict.fromkeys(list(b["name"]) + list(e["name"])))
        for name in names:
            bv = b.loc[b["name"] == name, "value"]
            ev = e.loc[e["name"] == name, "value"]
            bv = float(bv.iloc[0]) if len(bv) else np.nan
            ev = float(ev.iloc[0]) if len(ev) else np.nan
            who = "" if group == "contract" else f"{name}: "
            rows.append({"Measure": who + label, "Base": fmt(bv, kind), "Edited": fmt(ev, kind),
                         "Change": fmt_delta(bv, ev, kind), "base": bv, "edited": ev})
    return pd.DataFrame(rows)


def scenario_yaml_bytes(s: Scenario) -> bytes:
    """The scenario as YAML (``scenario_to_yaml``), which loads back to an equal scenario."""
    return scenario_to_yaml(s).encode("utf-8")


def summary_csv_bytes(summary: pd.DataFrame) -> bytes:
    return summary.to_csv(index=False).encode("utf-8")


def results_parquet_bytes(results) -> bytes:
    """The path table (one row per path) as Parquet bytes, with the scenario and seed in its
    metadata, as ``Results.to_parquet`` writes to a file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(results.path_table(), preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta.update({b"cib_sim.scenario": scenario_to_yaml(results.scenario).encode(), b"cib_sim.seed": str(results.seed).encode()})
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), buf)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# The scenario among real deals (INDIGO): no simulation needed


@dataclass(frozen=True)
class RealDeals:
    """What the app's "Compared with real deals" section shows for one set of headline terms.

    ``terms``: the scenario's (``Scenario.headline_terms()``); ``comparison``:
    :func:`cib_sim.deals.compare_to_deals` of them; ``points``: every deal with both sizes known,
    in the comparison's currency (:func:`cib_sim.charts.deals_scatter_frame`); ``n_deals``: deals
    in the library; ``note``: a caveat to show, or ``""``."""

    terms: dict
    comparison: Any
    points: pd.DataFrame
    n_deals: int
    note: str = ""


def real_deals(terms: dict, k_nearest: int = 5) -> RealDeals:
    """Compare headline terms with the INDIGO deals, converting deals in other currencies into
    the scenario's; for a currency with no known rate, only deals in that currency are compared
    on money (and drawn)."""
    from cib_sim.charts import deals_scatter_frame
    from cib_sim.deals import USD_PER_UNIT, compare_to_deals, load_deals

    deals = load_deals()
    currency = str(terms.get("currency") or "GBP").upper()
    terms = {**terms, "currency": currency}
    mode, note = "convert", ""
    if currency not in USD_PER_UNIT:
        mode = "same"
        note = (f"There is no exchange rate for {currency}, so only deals published in {currency} are compared on "
                "money (capital, payments, capital per participant) and drawn.")
    comp = compare_to_deals(terms, deals, k_nearest=k_nearest, currency_mode=mode)
    points = deals_scatter_frame(deals, currency, mode)
    return RealDeals(terms, comp, points, len(deals), note)


# measure -> (label, kind); labels take the currency.
DEAL_MEASURE_LABELS = {
    "capital": ("Capital committed ({cur})", "money"),
    "max_outcome_payment": ("Maximum outcome payments ({cur})", "money"),
    "outcome_to_capital": ("Max outcome payments ÷ capital (x)", "x"),
    "participants": ("Participants", "count"),
    "capital_per_participant": ("Capital per participant ({cur})", "money"),
    "duration_years": ("Service duration (years)", "years"),
    "max_return": ("Maximum return (/year)", "pct"),
}


def _deal_value(v: float, kind: str, currency: str) -> str:
    from cib_sim.charts import fmt_money

    if v is None or not np.isfinite(v):
        return "n/a"
    return {"money": lambda: fmt_money(v, currency), "x": lambda: f"{v:.1f}x", "count": lambda: f"{v:,.0f}",
            "years": lambda: f"{v:.1f}", "pct": lambda: f"{v:.1%}"}[kind]()


def deal_percentile_table(comparison) -> pd.DataFrame:
    """Where the scenario sits on each measure, for display: ``Measure`` (with units),
    ``This scenario`` and ``Median of real deals`` (text), ``Percentile among real deals``
    (0-100, a number so it can be drawn as a bar; None where unknown) and ``Deals compared``
    (deals with the measure known)."""
    cur = comparison.currency
    rows = []
    for _, r in comparison.percentiles.iterrows():
        label, kind = DEAL_MEASURE_LABELS.get(r["measure"], (r["measure"], "count"))
        p = float(r["percentile"])
        rows.append({
            "Measure": label.format(cur=cur),
            "This scenario": _deal_value(float(r["value"]), kind, cur),
            "Percentile among real deals": round(p, 1) if np.isfinite(p) else None,
            "Deals compared": int(r["n_deals"]),
            "Median of real deals": _deal_value(float(r["median"]), kind, cur),
        })
    return pd.DataFrame(rows)


def nearest_deals_table(comparison) -> pd.DataFrame:
    """The nearest deals by size, for display: ``Project`` (INDIGO id), ``Name``, ``Sector``,
    ``Country``, capital and maximum outcome payments in the scenario's currency (followed by the
    published amount when the deal is in another currency) and their ratio."""
    from cib_sim.charts import fmt_money

    cur = comparison.currency
    n = comparison.nearest

    def money(v_cmp: float, v_own: float, own: Any) -> str:
        text = fmt_money(float(v_cmp), cur)
        if isinstance(own, str) and own != cur and np.isfinite(v_own):
            text += f" ({fmt_money(float(v_own), own)})"
        return text

    def text(v: Any) -> str:
        return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else str(v)

    rows = []
    for _, r in n.iterrows():
        cap, mop = float(r.get("capital_cmp", np.nan)), float(r.get("max_outcome_payment_cmp", np.nan))
        rows.append({
            "Project": text(r.get("project_id")),
            "Name": text(r.get("name")),
            "Sector": text(r.get("sector")),
            "Country": text(r.get("country")),
            f"Capital ({cur})": money(cap, float(r.get("capital", np.nan)), r.get("currency")),
            f"Max payments ({cur})": money(mop, float(r.get("max_outcome_payment", np.nan)), r.get("currency")),
            "Payments ÷ capital": _deal_value(mop / cap if cap > 0 else np.nan, "x", cur),
        })
    cols = ["Project", "Name", "Sector", "Country", f"Capital ({cur})", f"Max payments ({cur})", "Payments ÷ capital"]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------------------------
# A draft, saved whatever its errors


def file_stem(name: Any) -> str:
    """A file name from a scenario's name: ``West London Zone CIB (LCF)`` -> ``west_london_zone_cib_lcf``."""
    import re

    stem = re.sub(r"[^a-z0-9]+", "_", str(name or "").lower()).strip("_")
    return stem[:60] or "scenario"


def _merge_into(node: Any, new: Any, old: Any) -> Any:
    """``new`` written into ``node`` (a ruamel round-trip node of the source file), so that the
    file's comments and layout stay: values equal to the file's are left as written, keys the
    file did not have are added only when they differ from ``old`` (the scenario as loaded, with
    every default), keys no longer in ``new`` are removed. Returns the node to store."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap) and isinstance(new, dict):
        old = old if isinstance(old, dict) else {}
        for key in [k for k in node if k not in new]:
            del node[key]
        for key, value in new.items():
            if key in node:
                node[key] = _merge_into(node[key], value, old.get(key))
            elif value != old.get(key, object()):
                node[key] = value
        return node
    if isinstance(node, CommentedSeq) and isinstance(new, list):
        old = old if isinstance(old, list) else []
        del node[len(new):]
        for i, value in enumerate(new):
            if i < len(node):
                node[i] = _merge_into(node[i], value, old[i] if i < len(old) else None)
            else:
                node.append(value)
        return node
    if type(node) is not bool and type(new) is not bool and node == new:
        return node
    if isinstance(node, (dt.date, dt.datetime)) and isinstance(new, str) and node.isoformat()[:len(new)] == new:
        return node
    if isinstance(new, float) and new.is_integer() and type(node) is int:
        return int(new)  # 1500 stays 1500, not 1500.0
    return new


def draft_yaml(working: dict, source_text: str | None = None, loaded: dict | None = None) -> bytes:
    """The scenario being edited as YAML, errors and all (a cell that is not a number keeps its
    text), to be loaded again later. With ``source_text`` (the file it was loaded from) and
    ``loaded`` (that file as read), the file's comments and order are kept and only what
    changed is rewritten; otherwise every field is written."""
    import yaml

    if source_text:
        try:
            from ruamel.yaml import YAML

            ry = YAML()
            ry.preserve_quotes = True
            ry.width = 4096
            ry.indent(mapping=2, sequence=4, offset=2)
            doc = ry.load(source_text)
            doc = _merge_into(doc, _jsonable(working), _jsonable(loaded or {}))
            buf = io.StringIO()
            ry.dump(doc, buf)
            return buf.getvalue().encode("utf-8")
        except Exception:  # noqa: BLE001 - fall back to a plain dump: a draft must always be saved
            pass
    return yaml.safe_dump(_jsonable(working), sort_keys=False, allow_unicode=True, width=100).encode("utf-8")
