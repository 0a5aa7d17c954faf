"""A scenario from an INDIGO record: what the dataset publishes, and the reference-class prior for
the rest.

:func:`scenario_from_indigo` gives a :class:`~cib_sim.scenario.Scenario`; :func:`indigo_build`
gives the scenario with ``sources``, a mapping from each field path it set to where the number
came from (``indigo: ...`` published in the dataset, ``prior: ...`` the reference-class prior of
:mod:`cib_sim.deals.reference_class`, ``assumed: ...`` a modelling convention of this builder).

What INDIGO publishes and how it is used:

- ``max_outcome_payment`` -> the payers' total caps sum to it (the contract's maximum);
- ``participants`` (targeted service users) -> the referral and capacity scale;
- ``duration_years`` (anticipated service provision) -> the service window; the horizon adds the
  outcome lags and a payment tail;
- ``service_start`` -> ``horizon.start`` (month 0 of :mod:`cib_sim.deals.payments`);
- outcome metrics (``projects_outcome_metrics.csv``) -> one outcome each, in published order,
  with the metric's targeted users as its share of participants;
- published prices (``projects_outcome_pricings.csv``) -> those outcomes' prices; metrics
  without a price share the maximum equally: price = max outcome payment / (sum over metrics of
  targeted users), so that every target met pays the maximum;
- payers (``Payer Organisation ID`` of the actual payments) -> one commissioner each, paying its
  share of the actual payments (all of them where there is one payer);
- ``capital`` -> one investor tranche of that commitment (with ``max_return`` as its IRR cap;
  where none is published, the median of the maximum IRRs INDIGO's deals publish: an uncapped
  tranche would take every surplus).

What the prior supplies (the calibrated part; see :data:`DEFAULT_PRIOR`):
``achievement`` (the chance an enrolled participant meets a metric, relative to the metric's
target share) and its spread across paths ``achievement_sd``, the referral volume relative to the
target (``referral_ratio``, ``referral_sd``), maturity (``half_maturity``, ``steepness``,
``maturity_delay_sd``), the mean outcome ``lag``, ``payment_lag``, ``dropout``, the partner's
``exit_hazard`` and the payers' ``withdrawal_hazard``; and the shape of delivery
(``enrolment_share`` of the service duration in which participants enrol, ``service_length``).

Delivery is one provider (``pipelines``): INDIGO names no delivery partners by role or amount.
Costs are set from capital (80% per participant, 20% fixed over the service years); they do not
affect what the payers pay. Payments beyond the investors' capped return stay with the provider
(``excess_to: partners``): they pay for the delivery the capital-sized costs leave out, so payers
get no rebates, as in the published deals.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd

from cib_sim.deals.indigo import _read_csv, load_deals, load_pricings
from cib_sim.deals.payments import load_payments
from cib_sim.scenario import Scenario, parse_scenario

__all__ = ["DEFAULT_PRIOR", "PRIOR_KEYS", "IndigoBuild", "indigo_build", "scenario_from_indigo"]

#: The prior's parameters and their default values, used where no fitted prior is shipped (the
#: fitted values live in ``cib_sim/data/indigo/reference_class.json``).
DEFAULT_PRIOR: dict[str, float] = {
    "achievement": 0.85,  # P(enrolled participant meets metric i) = achievement x target_i / participants
    "achievement_sd": 0.15,  # sd across paths, same scale
    "referral_ratio": 1.1,  # expected referrals / the target's rate over the enrolment window
    "referral_sd": 0.3,  # log-sd of the referral multiplier across paths
    "half_maturity": 1.0,  # years from service start to half the full effect
    "steepness": 0.4,  # years
    "maturity_delay_sd": 0.5,  # years
    "lag": 1.0,  # mean years from enrolment to a metric's verification (spread over metrics)
    "payment_lag": 0.25,  # years from verification to payment
    "dropout": 0.1,
    "exit_hazard": 0.02,  # per year, the provider stops delivering
    "withdrawal_hazard": 0.0,  # per year, a payer stops paying
    "enrolment_share": 0.85,  # share of the service duration in which participants enrol
    "service_length": 1.0,  # years a participant is in service
    "duration_years": 5.0,  # used only where INDIGO gives no duration
    "capital_to_max": 0.25,  # capital / max outcome payment, only where INDIGO gives no capital
}
PRIOR_KEYS = tuple(DEFAULT_PRIOR)


@dataclass(frozen=True)
class IndigoBuild:
    """A scenario built from an INDIGO record, with where each number came from."""

    project_id: str
    scenario: Scenario
    sources: dict[str, str] = field(default_factory=dict)
    prior: dict[str, float] = field(default_factory=dict)


REFERENCE_CLASS_JSON = "reference_class.json"  # the shipped fit, in cib_sim/data/indigo/


def _fitted_prior() -> dict[str, float]:
    """The shipped reference-class fit's prior (read here, not through the fitting module, which
    builds scenarios with this one), or :data:`DEFAULT_PRIOR` without one."""
    path = resources.files("cib_sim").joinpath("data", "indigo", REFERENCE_CLASS_JSON)
    try:
        return {**DEFAULT_PRIOR, **json.loads(path.read_text(encoding="utf-8"))["prior"]}
    except (FileNotFoundError, KeyError, ValueError):
        return dict(DEFAULT_PRIOR)


@lru_cache(maxsize=1)
@lru_cache(maxsize=1)
def published_irr_cap() -> tuple[int, float]:
    """``(n, median)``: how many INDIGO deals publish their maximum potential return as an IRR,
    and the median of those returns (a fraction a year)."""
    d = load_deals()
    irr = d.loc[(d["max_return"] > 0) & (d["max_return_type"] == "IRR"), "max_return"]
    return int(irr.size), round(float(irr.median()), 6)


def _metrics_raw() -> pd.DataFrame:
    return _read_csv("projects_outcome_metrics.csv")


def _metrics(project_id: str) -> pd.DataFrame:
    raw = _metrics_raw()
    m = raw[raw["Project ID"].str.strip() == project_id]
    out = pd.DataFrame(
        {
            "metric_id": m["Id"].str.strip(),
            "definition": m["Outcome Definition - (Value)"],
            "targeted": pd.to_numeric(
                m["Targeted number of service users Or beneficiaries (total) - (Value)"].astype(str).str.replace(",", ""),
                errors="coerce",
            ),
        }
    ).dropna(subset=["metric_id"]).drop_duplicates("metric_id")
    num = out["metric_id"].str.extract(r"(\d+)$")[0].astype(float)
    return out.assign(_n=num).sort_values(["_n", "metric_id"]).drop(columns="_n").reset_index(drop=True)


def _month_start(text: Any) -> _dt.date | None:
    if not isinstance(text, str):
        return None
    m = re.match(r"^\s*(\d{4})(?:-(\d{1,2}))?", text)
    if not m:
        return None
    return _dt.date(int(m.group(1)), int(m.group(2) or 1), 1)


def _round(x: float, digits: int = 6) -> float:
    return float(f"{x:.{digits}g}")


def indigo_build(project_id: str, prior: Mapping[str, float] | None = None, name: str | None = None) -> IndigoBuild:
    """The scenario for one INDIGO project and the source of each number (see the module).

    ``prior``: values for some or all of :data:`PRIOR_KEYS`; the rest come from the shipped
    reference-class fit (or :data:`DEFAULT_PRIOR` without one). Raises ``KeyError`` for an unknown
    project and ``ValueError`` for one without a maximum outcome payment.
    """
    base = _fitted_prior()
    pr = {**base, **(dict(prior) if prior else {})}
    unknown = set(pr) - set(PRIOR_KEYS)
    if unknown:
        raise ValueError(f"unknown prior parameters {sorted(unknown)}; expected among {PRIOR_KEYS}")
    deals = load_deals().set_index("project_id")
    if project_id not in deals.index:
        raise KeyError(f"no INDIGO project {project_id!r}")
    d = deals.loc[project_id]
    src: dict[str, str] = {}
    P = lambda k: f"prior: {k} = {pr[k]:g}"

    mop = float(d["max_outcome_payment"])
    if not (math.isfinite(mop) and mop > 0):
        raise ValueError(f"{project_id}: INDIGO gives no maximum outcome payment; nothing to scale the contract by")
    currency = d["currency"] if isinstance(d["currency"], str) and len(d["currency"]) == 3 else "GBP"
    src["currency"] = "indigo: currency" if isinstance(d["currency"], str) else "assumed: GBP"

    # People and time
    metrics = _metrics(project_id)
    participants = float(d["participants"]) if d["participants"] > 0 else float("nan")
    if math.isfinite(participants):
        src["participants"] = "indigo: targeted service users"
    else:
        t = metrics["targeted"].max() if len(metrics) else float("nan")
        participants = float(t) if t > 0 else 100.0
        src["participants"] = "indigo: largest metric target" if t > 0 else "assumed: 100"
    duration = float(d["duration_years"]) if d["duration_years"] > 0 else pr["duration_years"]
    src["duration_years"] = (
        f"indigo: anticipated duration ({d['duration_basis']})" if d["duration_years"] > 0 else P("duration_years")
    )
    start = _month_start(d["service_start"]) or _month_start(d["contract_signed"]) or _dt.date(2020, 1, 1)
    src["horizon.start"] = "indigo: start of service provision" if _month_start(d["service_start"]) else "indigo/assumed: contract signed or 2020-01"

    service_length = min(pr["service_length"], duration)
    enrol_end = max(1.0 / 12, min(duration, pr["enrolment_share"] * duration))
    src["partners[0].enrolment_end"] = f"prior: enrolment_share {pr['enrolment_share']:g} x duration"
    src["partners[0].service_length"] = P("service_length")

    # Outcomes: one per published metric (or one in all), lags spread around the prior's mean
    if len(metrics) == 0:
        metrics = pd.DataFrame({"metric_id": ["outcomes"], "definition": ["(no metrics published)"], "targeted": [participants]})
        src["outcomes"] = "assumed: one outcome (INDIGO publishes no metrics)"
    else:
        src["outcomes"] = f"indigo: {len(metrics)} outcome metrics, in published order"
    targeted = metrics["targeted"].where(metrics["targeted"] > 0, participants).clip(upper=participants).to_numpy(float)
    share = targeted / participants
    prices = load_pricings()
    prices = prices[prices["project_id"] == project_id].drop_duplicates("metric_id").set_index("metric_id")["price_per_unit"]
    uniform = mop / targeted.sum()
    n = len(metrics)
    outcomes, effects = [], {}
    for i, row in metrics.iterrows():
        oname = re.sub(r"^outcomemetric", "metric_", str(row["metric_id"]))
        lag = pr["lag"] * (0.25 + 1.5 * i / (n - 1)) if n > 1 else pr["lag"]
        published = prices.get(row["metric_id"], float("nan"))
        price = float(published) if published > 0 else uniform
        outcomes.append({"name": oname, "baseline_rate": 0.0, "lag": _round(min(lag, 20.0)), "price": round(price, 2)})
        src[f"outcomes[{i}].price"] = (
            "indigo: published price" if published > 0 else "assumed: max outcome payment / sum of metric targets"
        )
        src[f"outcomes[{i}].lag"] = f"prior: lag {pr['lag']:g} spread x{0.25 + 1.5 * i / (n - 1) if n > 1 else 1:.2f}"
        mean = min(1.0, pr["achievement"] * share[i])
        effects[oname] = {"mean": _round(mean), "sd": _round(min(1.0, pr["achievement_sd"] * share[i]))}
    src["outcomes[*].baseline_rate"] = "assumed: 0 (rate card: every verified outcome is paid)"
    src["partners[0].effect"] = "prior: achievement, achievement_sd x metric target / participants"

    # Payers: from the actual payments' payer ids
    pay = load_payments()
    act = pay[(pay["project_id"] == project_id) & (pay["type"] == "Actual") & pay["amount"].notna()]
    by_payer = act.groupby(act["payer"].fillna("unnamed payer"))["amount"].sum()
    by_payer = by_payer[by_payer > 0]
    if len(by_payer) == 0:
        by_payer = pd.Series({"Outcome payer": 1.0})
        src["commissioners"] = "assumed: one payer (INDIGO names none)"
    else:
        src["commissioners"] = "indigo: payer organisation ids of the actual payments, shares of the amounts paid"
    payer_share = (by_payer / by_payer.sum()).to_numpy()
    onames = [o["name"] for o in outcomes]
    commissioners = []
    for (payer, _), sh in zip(by_payer.items(), payer_share):
        c = {"name": str(payer), "shares": {o: _round(float(sh)) for o in onames}, "total_cap": round(mop * float(sh), 2),
             "payment_lag": pr["payment_lag"]}
        if pr["withdrawal_hazard"] > 0:
            c["withdrawal_hazard"] = pr["withdrawal_hazard"]
        commissioners.append(c)
    # shares rounded: make sure they do not sum above 1
    tot = sum(commissioners[k]["shares"][onames[0]] for k in range(len(commissioners)))
    if tot > 1:
        for c in commissioners:
            c["shares"] = {o: v / tot for o, v in c["shares"].items()}
    src["commissioners[*].total_cap"] = "indigo: max outcome payment (x payer's share)"
    src["commissioners[*].payment_lag"] = P("payment_lag")
    src["commissioners[*].withdrawal_hazard"] = P("withdrawal_hazard")

    # Capital
    capital = float(d["capital"]) if d["capital"] > 0 else pr["capital_to_max"] * mop
    src["tranches[0].commitment"] = f"indigo: capital ({d['capital_basis']})" if d["capital"] > 0 else P("capital_to_max") + " x max outcome payment"
    tranche = {"name": "Investors", "kind": "subordinated", "commitment": round(capital, 2)}
    if d["max_return"] > 0:
        tranche["cap_irr"] = float(min(2.0, d["max_return"]))
        src["tranches[0].cap_irr"] = "indigo: maximum potential return"
    else:  # unpublished: an uncapped tranche would take every surplus, which no published deal allows
        n_irr, cap = published_irr_cap()
        tranche["cap_irr"] = cap
        src["tranches[0].cap_irr"] = f"prior: median maximum IRR of the {n_irr} INDIGO deals that publish one"

    # Delivery: one provider
    enrol_years = enrol_end
    referrals = pr["referral_ratio"] * participants / enrol_years
    capacity = max(1.0, 1.5 * participants * service_length / enrol_years)
    src["partners[0].referrals"] = "prior: referral_ratio x participants / enrolment years"
    src["partners[0].capacity"] = "assumed: 1.5 x participants x service_length / enrolment years (not binding on average)"
    for k in ("dropout", "exit_hazard"):
        src[f"partners[0].{k}"] = P(k)
    src["partners[0].maturity"] = f"prior: half_maturity {pr['half_maturity']:g}, steepness {pr['steepness']:g}"
    src["uncertainty"] = f"prior: referral_sd {pr['referral_sd']:g}, maturity_delay_sd {pr['maturity_delay_sd']:g}"
    partner = {
        "name": "Provider",
        "referrals": _round(referrals),
        "capacity": _round(capacity),
        "enrolment_start": 0.0,
        "enrolment_end": _round(enrol_end),
        "service_length": _round(service_length),
        "dropout": pr["dropout"],
        "cost": _round(0.8 * capital / participants),
        "fixed_cost": _round(0.2 * capital / duration),
        "effect": effects,
        "maturity": {"kind": "logistic", "half_maturity": pr["half_maturity"], "steepness": pr["steepness"]},
        "exit_hazard": pr["exit_hazard"],
    }
    src["partners[0].cost"] = "assumed: 80% of capital per participant, 20% fixed over the service years"

    max_lag = max(o["lag"] for o in outcomes)
    years = math.ceil(max(duration, enrol_end + service_length) + max_lag + pr["payment_lag"] + 0.5)
    src["horizon.years"] = "indigo duration + prior lags + half a year, rounded up to whole years"
    src["terms.excess_to"] = "assumed: payments beyond the investors' capped return stay with the provider"
    data = {
        "name": name or f"{d['name']} ({project_id})"[:200],
        "description": f"Built from INDIGO record {project_id} by cib_sim.deals.scenario_from_indigo; "
        "unpublished parameters from the reference-class prior.",
        "currency": currency,
        "horizon": {"years": float(min(50, years)), "period": "month", "start": start.isoformat()},
        "outcomes": outcomes,
        "delivery": {"model": "pipelines"},
        "partners": [partner],
        "commissioners": commissioners,
        "tranches": [tranche],
        # The builder's delivery costs are only those capital finances; the payments beyond them
        # and the investors' capped return pay for delivery it does not model, so they stay with
        # the provider (INDIGO records no rebates to payers).
        "terms": {"excess_to": "partners"},
        "uncertainty": {
            "enabled": True,
            "rho": 0.0,
            "maturity_delay_sd": pr["maturity_delay_sd"],
            "referral_sd": pr["referral_sd"],
        },
    }
    return IndigoBuild(project_id, parse_scenario(data), src, {k: float(v) for k, v in pr.items()})


def scenario_from_indigo(project_id: str, prior: Mapping[str, float] | None = None) -> Scenario:
    """A :class:`~cib_sim.scenario.Scenario` for one INDIGO project: published terms where INDIGO
    has them, the reference-class prior for the rest (see :func:`indigo_build` for the sources)."""
    return indigo_build(project_id, prior).scenario
