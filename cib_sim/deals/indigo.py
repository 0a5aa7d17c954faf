"""Real impact bonds from the INDIGO dataset, and how a scenario's terms compare with them.

The package ships a snapshot (May 2025) of the INDIGO impact bond dataset, Government Outcomes Lab,
University of Oxford (open data) under ``cib_sim/data/indigo/``; see the README there.

Public functions:

- :func:`load_deals` -- one tidy row per project (capital, maximum outcome payment, participants,
  duration, maximum return, ...). A blank in the source stays NaN (unknown), never zero.
- :func:`load_pricings` -- one row per published outcome price, with the metric's definition.
- :func:`deal_terms` -- the headline terms of one named project, keyed like
  ``headline_terms(scenario)``.
- :func:`compare_to_deals` -- where a scenario's headline terms sit among real deals
  (percentiles) and which deals are closest in size (nearest on log capital and log maximum
  outcome payment).

Rules, in one place:

- ``capital`` is the total investment commitment in the project's currency: the exact amount when
  given, else the maximum, else the minimum (``capital_basis`` says which). ``capital_usd`` is the
  dataset's own USD figure on the same basis.
- ``currency`` is the investment currency (ISO code, normalised from names such as "Japanese
  Yen"), else the outcome-payment currency. All local money columns are in ``currency``. In the two
  projects whose maximum outcome payment is quoted in another currency, it is converted into
  ``currency`` through the dataset's own USD figures.
- USD columns use the dataset's USD figures where given; otherwise the local amount times the
  project's implied rate (``usd_rate``: USD per unit of ``currency``, taken from the dataset's own
  conversions of that project), otherwise times :data:`USD_PER_UNIT`.
- ``duration_years`` is the anticipated duration of service provision, stated in the data in
  months, divided by 12 (``duration_basis='stated'``). When blank, it is the months from the start
  of service provision to its anticipated end, counting both months (2022-09 to 2025-08 is 36
  months, as the dataset itself states for such projects), provided both dates give a month
  (``duration_basis='dates'``).
- ``max_return`` is the overall maximum potential return as a fraction (0.066 = 6.6%); where the
  source gives text with percentages ("3% to 5%", "Maximum 12.5% p.a. ..."), the largest percentage.
  ``max_return_type`` keeps the stated type (IRR, ROI, ARR, ...), NaN when not stated.
- ``start_year`` is the year service provision started, else the year the outcomes contract was
  signed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from cib_sim.scenario import Scenario

__all__ = [
    "HEADLINE_KEYS",
    "MEASURES",
    "USD_PER_UNIT",
    "DealComparison",
    "compare_to_deals",
    "deal_terms",
    "load_deals",
    "load_pricings",
    "mid_percentile",
    "parse_number",
    "parse_return",
]

DATA_PACKAGE = "cib_sim"
DATA_DIR = ("data", "indigo")

#: Measures compared by :func:`compare_to_deals`, in report order.
MEASURES: tuple[str, ...] = (
    "capital",
    "max_outcome_payment",
    "outcome_to_capital",
    "participants",
    "capital_per_participant",
    "duration_years",
    "max_return",
)
#: Keys of a headline-terms dict (``headline_terms(scenario)``, :func:`deal_terms`).
HEADLINE_KEYS: tuple[str, ...] = MEASURES + ("currency",)
#: Measures in money; the others (ratios, counts, years) need no currency conversion.
MONEY_MEASURES = frozenset({"capital", "max_outcome_payment", "capital_per_participant"})

#: Approximate USD per unit of each currency: rounded medians of the rates implied by INDIGO's own
#: USD conversions (which span contracts signed 2010-2024). Used to bring foreign deals into a
#: scenario's currency, and as a last resort for deals the dataset did not convert. Not market
#: rates.
USD_PER_UNIT: dict[str, float] = {
    "USD": 1.0,
    "GBP": 1.33,
    "EUR": 1.13,
    "CHF": 1.06,
    "AUD": 0.77,
    "CAD": 0.75,
    "NZD": 0.71,
    "DKK": 0.159,
    "SEK": 0.117,
    "AED": 0.272,
    "ILS": 0.259,
    "ZAR": 0.053,
    "RUB": 0.0132,
    "JPY": 0.0091,
    "KRW": 0.00070,
    "ARS": 0.041,
    "CLP": 0.00125,
    "COP": 0.00032,
}

# Currency names as they appear in INDIGO, mapped to ISO 4217 codes.
_CURRENCY_NAMES = {
    "russian ruble": "RUB",
    "russian rubles": "RUB",
    "japanese yen": "JPY",
    "israeli new shekels": "ILS",
    "south african rand": "ZAR",
    "south korean won": "KRW",
    "nz dollar": "NZD",
    "swedish": "SEK",
    "swedish krona": "SEK",
    "swiss francs": "CHF",
    "swiss franc": "CHF",
    "pound sterling": "GBP",
    "euro": "EUR",
    "us dollar": "USD",
}

_PF = "Overall project finance - "
_COLS = {
    "id": "ID",
    "name": "Impact Bond Name - (Value)",
    "stage": "Stage of Development - (Value)",
    "sector": "Purpose and classifications - Policy sector - (Value)",
    "country": "Countries",
    "signed": "Dates - Date outcomes contract signed - (Value)",
    "start": "Dates - Start date of service provision - (Value)",
    "end_anticipated": "Dates - Anticipated end date of service provision - (Value)",
    "duration_months": "Dates - Anticipated duration of service provision - (Value)",
    "cap_currency": _PF + "Total investment commitment - Currency - (Value)",
    "mop_currency": _PF + "Maximum potential outcome payment - Currency - (Value)",
    "mop": _PF + "Maximum potential outcome payment - Amount - (Value)",
    "mop_usd": _PF + "Maximum potential outcome payment - Amount USD - (Value)",
    "return_type": _PF + "Maximum potential return type - (Value)",
    "return": _PF + "Maximum potential return - (Value)",
    "participants": "Service and beneficiaries - Targeted number of unique service users or "
    "beneficiaries (total) - (Value)",
    "participants_unit": "Service and beneficiaries - Unit type of targeted service users or "
    "beneficiaries - (Value)",
    "participants_actual": "Service and beneficiaries - Actual number of unique service users or "
    "beneficiaries engaged (total) - (Value)",
}
_CAPITAL_BASES = ("Exact", "Max", "Min")  # order of preference


def _cap_col(basis: str, usd: bool) -> str:
    return f"{_PF}Total investment commitment - Amount{' USD' if usd else ''} - {basis} - (Value)"


# ---------------------------------------------------------------------------------------------
# Parsing helpers
# ---------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_SUFFIX = {"k": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}


def parse_number(value: Any) -> float:
    """One amount from a cell: ``"1,815,000"``, ``" 2.5m "``, ``"£1.2 million"``, ``12`` -> float.

    Thousands separators, currency symbols or codes and surrounding text like "approx." are
    dropped; a k/m/bn/million suffix scales. Anything else (blank, free text, a range) -> NaN.
    """
    if value is None:
        return math.nan
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip().lower()
    if not text or text in {"nan", "none", "n/a", "na", "-", "unknown"}:
        return math.nan
    text = re.sub(r"\b(approx|approximately|about|circa|gbp|usd|eur)\b\.?", "", text)
    text = re.sub(r"[£$€¥,\s]", "", text)
    m = re.fullmatch(r"(.+?)(k|mn|m|million|bn|billion)?", text)
    if m is None:  # pragma: no cover - the pattern always matches a non-empty string
        return math.nan
    number, suffix = m.group(1), m.group(2)
    if not _NUMBER.match(number):
        return math.nan
    return float(number) * (_SUFFIX[suffix] if suffix else 1.0)


def _numbers(s: pd.Series) -> pd.Series:
    return pd.Series([parse_number(v) for v in s], index=s.index, dtype="float64")


def parse_return(value: Any) -> float:
    """Maximum return as a fraction: ``"0.066"`` -> 0.066, ``"3% to 5%"`` -> 0.05,
    ``"Maximum 12.5% p.a. ..."`` -> 0.125 (the largest percentage in the text)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    text = str(value)
    pcts = re.findall(r"(\d+(?:\.\d+)?)\s*%", text)
    if pcts:
        return max(float(p) for p in pcts) / 100.0
    return parse_number(text)


def _currency_code(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return np.nan
    text = " ".join(str(value).split())
    if not text:
        return np.nan
    if re.fullmatch(r"[A-Za-z]{3}", text):
        return text.upper()
    return _CURRENCY_NAMES.get(text.lower(), text)


def _clean_text(s: pd.Series) -> pd.Series:
    """Collapse runs of whitespace (including newlines); blanks -> NaN."""
    out = s.astype("object").map(lambda v: " ".join(str(v).split()) if isinstance(v, str) else v)
    return out.replace("", np.nan)


def _year_month(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """'2019-08' -> (2019, 8); '2019' -> (2019, NaN); blank -> (NaN, NaN)."""
    parts = s.astype("object").str.extract(r"^\s*(\d{4})(?:-(\d{1,2}))?")
    return pd.to_numeric(parts[0]).astype("float64"), pd.to_numeric(parts[1]).astype("float64")


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def _read_csv(name: str) -> pd.DataFrame:
    """Read a shipped CSV as text (every column ``object``; blanks NaN)."""
    path = resources.files(DATA_PACKAGE).joinpath(*DATA_DIR, name)
    with path.open("rb") as fh:
        return pd.read_csv(fh, dtype=object, keep_default_na=True, encoding="utf-8")


def _build_deals(raw: pd.DataFrame) -> pd.DataFrame:
    c = _COLS
    out = pd.DataFrame(index=raw.index)
    out["project_id"] = _clean_text(raw[c["id"]])
    out["name"] = _clean_text(raw[c["name"]])
    out["stage"] = _clean_text(raw[c["stage"]])
    out["sector"] = _clean_text(raw[c["sector"]])
    out["country"] = _clean_text(raw[c["country"]])

    cap_cur = raw[c["cap_currency"]].map(_currency_code)
    mop_cur = raw[c["mop_currency"]].map(_currency_code)
    out["currency"] = cap_cur.where(cap_cur.notna(), mop_cur)

    # Capital: exact, else max, else min; USD on the same basis.
    capital = pd.Series(np.nan, index=raw.index)
    capital_usd = pd.Series(np.nan, index=raw.index)
    basis = pd.Series(np.nan, index=raw.index, dtype="object")
    for b in _CAPITAL_BASES:
        local = _numbers(raw[_cap_col(b, usd=False)])
        usd = _numbers(raw[_cap_col(b, usd=True)])
        take = capital.isna() & local.notna()
        capital[take] = local[take]
        capital_usd[take] = usd[take]
        basis[take] = b.lower()
    mop_raw = _numbers(raw[c["mop"]])
    mop_usd = _numbers(raw[c["mop_usd"]])

    # USD per unit of `currency`, from the project's own conversions, else the fixed table.
    rate_cap = capital_usd / capital
    same_cur = mop_cur.isna() | (mop_cur == out["currency"])
    rate_mop = (mop_usd / mop_raw).where(same_cur)
    table = out["currency"].map(USD_PER_UNIT).astype("float64")
    usd_rate = rate_cap.where(np.isfinite(rate_cap) & (rate_cap > 0))
    usd_rate = usd_rate.fillna(rate_mop.where(np.isfinite(rate_mop) & (rate_mop > 0))).fillna(table)
    out["usd_rate"] = usd_rate

    # Maximum outcome payment in `currency` (converted via USD where quoted in another currency).
    mop_rate = (mop_usd / mop_raw).where(lambda r: np.isfinite(r) & (r > 0))
    mop_rate = mop_rate.fillna(mop_cur.map(USD_PER_UNIT).astype("float64"))
    mop_local = mop_raw.where(same_cur, mop_raw * mop_rate / usd_rate)

    out["capital"] = capital
    out["capital_basis"] = basis
    out["capital_usd"] = capital_usd.fillna(capital * usd_rate)
    out["max_outcome_payment"] = mop_local
    out["max_outcome_payment_usd"] = mop_usd.fillna(mop_local * usd_rate)
    out["outcome_to_capital"] = out["max_outcome_payment"] / out["capital"]

    participants = _numbers(raw[c["participants"]])
    out["participants"] = participants.where(participants > 0)
    out["participants_unit"] = _clean_text(raw[c["participants_unit"]])
    actual = _numbers(raw[c["participants_actual"]])
    out["participants_actual"] = actual.where(actual > 0)
    out["capital_per_participant"] = out["capital"] / out["participants"]

    # Duration: stated months / 12, else start..anticipated end counting both months.
    stated = _numbers(raw[c["duration_months"]])
    sy, sm = _year_month(raw[c["start"]])
    ey, em = _year_month(raw[c["end_anticipated"]])
    from_dates = (ey - sy) * 12 + (em - sm) + 1
    from_dates = from_dates.where(from_dates > 0)
    months = stated.where(stated > 0)
    out["duration_years"] = months.fillna(from_dates) / 12.0
    dur_basis = pd.Series(np.nan, index=raw.index, dtype="object")
    dur_basis[from_dates.notna()] = "dates"
    dur_basis[months.notna()] = "stated"
    out["duration_basis"] = dur_basis

    out["max_return"] = raw[c["return"]].map(parse_return).astype("float64")
    out["max_return_type"] = _clean_text(raw[c["return_type"]])

    signed_year, _ = _year_month(raw[c["signed"]])
    out["start_year"] = sy.fillna(signed_year).astype("Int64")
    out["service_start"] = _clean_text(raw[c["start"]])
    out["service_end_anticipated"] = _clean_text(raw[c["end_anticipated"]])
    out["contract_signed"] = _clean_text(raw[c["signed"]])
    return out.reset_index(drop=True)


@lru_cache(maxsize=1)
def _deals_cached() -> pd.DataFrame:
    return _build_deals(_read_csv("projects.csv"))


def load_deals() -> pd.DataFrame:
    """All INDIGO projects, one row each (319 in the May 2025 snapshot).

    Columns: ``project_id, name, stage, sector, country, currency, usd_rate, capital,
    capital_basis, capital_usd, max_outcome_payment, max_outcome_payment_usd, outcome_to_capital,
    participants, participants_unit, participants_actual, capital_per_participant,
    duration_years, duration_basis, max_return, max_return_type, start_year, service_start,
    service_end_anticipated, contract_signed``. Money is in ``currency`` unless the name ends
    ``_usd``; ``participants`` is the targeted number of unique service users
    (``participants_unit``: "Individual" or "Other", e.g. families or villages); unknown values
    are NaN. The rules are in the module docstring. Returns a fresh copy each call (the parse
    itself is cached).
    """
    return _deals_cached().copy()


@lru_cache(maxsize=1)
def _pricings_cached() -> pd.DataFrame:
    raw = _read_csv("projects_outcome_pricings.csv")
    metrics = _read_csv("projects_outcome_metrics.csv")
    out = pd.DataFrame(
        {
            "project_id": _clean_text(raw["Project ID"]),
            "metric_id": _clean_text(raw["Outcome Metric Id - (Value)"]),
            "currency": raw["Currency - (Value)"].map(_currency_code),
            "price_per_unit": _numbers(raw["Price Per Unit - Amount - (Value)"]),
            "price_per_unit_usd": _numbers(raw["Price Per Unit - Amount USD - (Value)"]),
            "max_price": _numbers(raw["Maximum Price if all targets achieved - Amount - (Value)"]),
            "price_description": _clean_text(raw["Price Description - (Value)"]),
            "notes": _clean_text(raw["Notes"]),
        }
    )
    m = pd.DataFrame(
        {
            "project_id": _clean_text(metrics["Project ID"]),
            "metric_id": _clean_text(metrics["Id"]),
            "definition": _clean_text(metrics["Outcome Definition - (Value)"]),
            "metric_targeted_users": _numbers(
                metrics["Targeted number of service users Or beneficiaries (total) - (Value)"]
            ),
        }
    )
    # A few (project, metric) keys repeat in the metrics file; keep the first so the join is 1:1.
    m = m.dropna(subset=["metric_id"]).drop_duplicates(["project_id", "metric_id"])
    out = out.merge(m, on=["project_id", "metric_id"], how="left", validate="many_to_one")
    cols = ["project_id", "metric_id", "definition", "metric_targeted_users", "currency",
            "price_per_unit", "price_per_unit_usd", "max_price", "price_description", "notes"]
    return out[cols]


def load_pricings() -> pd.DataFrame:
    """Published outcome prices, one row per (project, outcome metric) price (385 rows).

    Columns: ``project_id, metric_id, definition, metric_targeted_users, currency,
    price_per_unit, price_per_unit_usd, max_price, price_description, notes``. ``definition`` and
    ``metric_targeted_users`` come from ``projects_outcome_metrics.csv``; ``max_price`` is the
    dataset's "maximum price if all targets achieved" (often a per-person cap, see ``notes``).
    """
    return _pricings_cached().copy()


# ---------------------------------------------------------------------------------------------
# Headline terms and comparison
# ---------------------------------------------------------------------------------------------


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def deal_terms(project_id: str, deals: pd.DataFrame | None = None) -> dict[str, Any]:
    """Headline terms of one project, keyed like ``headline_terms(scenario)``.

    Money is in the project's own ``currency``; unknown values are ``math.nan``.
    Raises ``KeyError`` for an unknown project id.
    """
    deals = load_deals() if deals is None else deals
    rows = deals.loc[deals["project_id"] == project_id]
    if rows.empty:
        raise KeyError(f"no deal with project_id {project_id!r}")
    row = rows.iloc[0]
    terms: dict[str, Any] = {}
    for k in MEASURES:
        v = row.get(k, math.nan)
        terms[k] = math.nan if _is_missing(v) else float(v)
    cur = row.get("currency", None)
    terms["currency"] = None if _is_missing(cur) else str(cur)
    return terms


def _terms_dict(terms: Any) -> dict[str, Any]:
    if isinstance(terms, Scenario):
        from cib_sim.deals.headline import (
            headline_terms,  # runs the engine: only when needed
        )

        terms = headline_terms(terms)
    elif hasattr(terms, "headline_terms"):
        terms = terms.headline_terms()
    if not isinstance(terms, Mapping):
        raise TypeError("terms must be a Scenario, a mapping or have a headline_terms() method")
    unknown = set(terms) - set(HEADLINE_KEYS)
    if unknown:
            raise ValueError(
            f"unknown headline terms {sorted(unknown)}; expected keys among {HEADLINE_KEYS}"
        )
    out: dict[str, Any] = {}
    for k in MEASURES:
        v = terms.get(k)
        out[k] = math.nan if _is_missing(v) else float(v)
    # Derive the ratios when only their parts were given.
    if math.isnan(out["outcome_to_capital"]) and out["capital"] > 0:
        out["outcome_to_capital"] = out["max_outcome_payment"] / out["capital"]
    if math.isnan(out["capital_per_participant"]) and out["participants"] > 0:
        out["capital_per_participant"] = out["capital"] / out["participants"]
    cur = terms.get("currency")
    out["currency"] = None if _is_missing(cur) else str(cur).upper()
    return out


def _deal_factor(deals: pd.DataFrame, currency: str, mode: str) -> pd.Series:
    """Multiplier taking each deal's local money into ``currency``; NaN where not comparable."""
    deal_cur = deals["currency"] if "currency" in deals else pd.Series(np.nan, index=deals.index)
    same = deal_cur == currency
    if mode == "same":
        return pd.Series(np.where(same, 1.0, np.nan), index=deals.index)
    target = USD_PER_UNIT.get(currency)
    if target is None:
        raise ValueError(
            f"no USD rate for currency {currency!r}; use currency_mode='same' or one of "
            f"{sorted(USD_PER_UNIT)}"
        )
    if "usd_rate" in deals:
        rate = pd.to_numeric(deals["usd_rate"], errors="coerce").astype("float64")
    else:
        rate = pd.Series(np.nan, index=deals.index)
    rate = rate.fillna(deal_cur.map(USD_PER_UNIT).astype("float64"))
    return pd.Series(np.where(same, 1.0, rate / target), index=deals.index)


def mid_percentile(value: float, sample: np.ndarray, rtol: float = 1e-9) -> float:
    """Percent of ``sample`` at or below ``value``, ties counted half.

    ``100 * (n_below + n_equal / 2) / n``: the mean of the strict-below and at-or-below shares.
    A value below every deal gives 0, above every deal 100, equal to the only deal 50; equality
    uses a relative tolerance ``rtol`` so values that went through a currency conversion match.
    """
    sample = np.asarray(sample, dtype="float64")
    sample = sample[np.isfinite(sample)]
    if sample.size == 0 or not np.isfinite(value):
        return math.nan
    equal = np.isclose(sample, value, rtol=rtol, atol=0.0)
    below = (sample < value) & ~equal
    return 100.0 * (below.sum() + 0.5 * equal.sum()) / sample.size


@dataclass(frozen=True)
class DealComparison:
    """Where a set of headline terms sits among real deals.

    ``percentiles``: one row per measure -- ``measure, value`` (the scenario's, in ``currency``
    for money), ``percentile`` (0-100, see :func:`mid_percentile`), ``n_deals`` (deals with that
    measure known and comparable), ``median`` (of those deals, same units).
    ``nearest``: the ``k_nearest`` deals closest on natural-log capital and log maximum outcome
    payment (Euclidean), sorted by ``distance``, with the deal's ids, own currency and values,
    and ``capital_cmp`` / ``max_outcome_payment_cmp`` in ``currency``.
    """

    percentiles: pd.DataFrame
    nearest: pd.DataFrame
    currency: str
    currency_mode: str


def compare_to_deals(
    terms: Any,
    deals: pd.DataFrame | None = None,
    measures: Sequence[str] = MEASURES,
    k_nearest: int = 5,
    currency_mode: str = "convert",
    default_currency: str = "GBP",
) -> DealComparison:
    """Percentiles of ``terms`` among real deals, and the nearest deals by size.

    ``terms``: a dict with keys among :data:`HEADLINE_KEYS`, or an object with
    ``headline_terms()`` (e.g. ``Scenario``). Missing or NaN measures are reported with NaN
    percentile. ``outcome_to_capital`` and ``capital_per_participant`` are derived from their parts
    when absent. Without a ``currency`` the terms are taken to be in ``default_currency``.

    Currency: money measures are compared in the scenario's currency. With
    ``currency_mode='convert'`` (default) a deal in the same currency is used as is, and a deal in
    another currency is converted through its USD rate (``usd_rate``: the dataset's own USD
    conversion for that project) and the fixed :data:`USD_PER_UNIT` rate of the scenario's
    currency. With ``currency_mode='same'`` only deals in the scenario's currency count for money
    measures (and for ``nearest``). Ratios, counts, years and returns ignore currency.

    ``deals`` defaults to :func:`load_deals`; a hand-built frame needs ``project_id``, ``name``,
    ``currency`` and the measure columns (``usd_rate`` optional).
    """
    if currency_mode not in ("convert", "same"):
        raise ValueError("currency_mode must be 'convert' or 'same'")
    bad = [m for m in measures if m not in MEASURES]
    if bad:
        raise ValueError(f"unknown measures {bad}; choose among {MEASURES}")
    t = _terms_dict(terms)
    currency = t["currency"] or default_currency.upper()
    deals = load_deals() if deals is None else deals.reset_index(drop=True)
    factor = _deal_factor(deals, currency, currency_mode)

    def column(m: str) -> pd.Series:
        if m not in deals:
            return pd.Series(np.nan, index=deals.index, dtype="float64")
        s = pd.to_numeric(deals[m], errors="coerce").astype("float64")
        return s * factor if m in MONEY_MEASURES else s

    rows = []
    for m in measures:
        sample = column(m).to_numpy()
        sample = sample[np.isfinite(sample)]
        v = t[m]
        rows.append(
            {
                "measure": m,
                "value": v,
                "percentile": mid_percentile(v, sample),
                "n_deals": int(sample.size),
                "median": float(np.median(sample)) if sample.size else math.nan,
            }
        )
    cols = ["measure", "value", "percentile", "n_deals", "median"]
    percentiles = pd.DataFrame(rows, columns=cols)

    nearest = _nearest(deals, column, t, k_nearest)
    return DealComparison(percentiles, nearest, currency, currency_mode)


_NEAREST_COLS = ["project_id", "name", "stage", "sector", "country", "currency", "capital",
                 "max_outcome_payment", "participants", "duration_years", "max_return"]


def _nearest(deals: pd.DataFrame, column: Any, t: dict[str, Any], k: int) -> pd.DataFrame:
    """k nearest deals on the log-size dimensions the terms have (capital, max outcome payment).

    Only deals with every used dimension known and positive are candidates. Ties in distance are
    broken by ``project_id``. Empty when the terms give neither dimension.
    """
    dims = [d for d in ("capital", "max_outcome_payment") if t[d] > 0]
    keep = [c for c in _NEAREST_COLS if c in deals]
    cmp_cols = ["capital_cmp", "max_outcome_payment_cmp"]
    if not dims or k <= 0:
        return pd.DataFrame(columns=keep + cmp_cols + ["distance"])
    cmp = pd.DataFrame({f"{d}_cmp": column(d) for d in ("capital", "max_outcome_payment")})
    ok = pd.Series(True, index=deals.index)
    sq = pd.Series(0.0, index=deals.index)
    for d in dims:
        x = cmp[f"{d}_cmp"]
        ok &= x > 0
        sq = sq + (np.log(x.where(x > 0)) - math.log(t[d])) ** 2
    out = deals.loc[ok, keep].copy()
    out[cmp_cols] = cmp.loc[ok, cmp_cols]
    out["distance"] = np.sqrt(sq[ok])
    out = out.sort_values(["distance", "project_id"], kind="mergesort").head(k)
    return out.reset_index(drop=True)
