"""Observed data: what a bond has reported so far, in a tidy table, validated against a scenario.

The format (CSV with a header, or a DataFrame; ``#`` lines in a CSV are comments) has one row per
record; which columns are filled says what the row records:

=========================  ==================================  ====================================
row kind                   keys                                values
=========================  ==================================  ====================================
enrolment                  ``period``, ``partner``             ``enrolled`` (required); ``dropped``,
                                                               ``waiting``, ``ended`` (optional)
outcome (by cohort)        ``period``, ``partner``,            ``achieved`` (required); ``enrolled``
                           ``outcome``                         may be repeated here instead of an
                                                               enrolment row (it must agree)
payment                    ``period``, ``commissioner``        ``payments_received`` (required),
                                                               ``ended`` (optional)
stop                       ``period``                          ``ended`` = 1: delivery stopped for
                                                               lack of funds from this period
=========================  ==================================  ====================================

- ``period``: the contract period, a whole number from 0 (the period starting ``horizon.start``)
  to ``horizon.n_periods - 1``; or the start date of a period (``2024-04-01`` for a quarterly
  contract starting 2024-01-01 means period 1).
- ``partner``: a partner's name in the ``pipelines`` model. In the ``zone`` model participants
  enrol into the whole partnership, so enrolment and outcome rows name the unit ``zone``.
- ``enrolled``: participants who started in ``period`` (whole number >= 0).
- ``dropped``: of those, how many left before completing (optional; drawn by the model if absent).
- ``waiting``: referrals still waiting for a place at the end of the period (optional). Without
  it the nowcast infers the waiting list: empty after a period that enrolled fewer than the free
  places (everyone waiting was taken), otherwise the model's.
- ``achieved``: how many of the participants **enrolled in** ``period`` (the enrolment cohort)
  achieved ``outcome``. The engine verifies a cohort's outcome ``lag`` after the cohort closes
  (each period is a cohort, or ``cohort_years`` for assessment cohorts), so the achieved count of
  the cohort of period t is reported once the report reaches period ``t + lag``; the row's
  ``period`` is still t. Keying outcomes by cohort is what makes "achieved above enrolled" a
  check on one cohort, and is how cohort SIBs report.
- ``payments_received``: cash received from ``commissioner`` in ``period`` (currency >= 0). If the
  table has no payment rows at all, payments in reported periods are the ones the contract's terms
  give for the reported outcomes; if it has any, a missing (period, commissioner) means nothing
  was paid.
- ``ended``: 1 on an enrolment row: the partner stopped delivering from this period (an exit; it
  enrols nobody from then on); on a payment row: the commissioner stopped paying from this period
  (a withdrawal). In the zone model a row ``period, partner, ended`` marks a partner's exit. A row
  with only ``period`` and ``ended=1`` says the fund ran out and delivery stopped for good (no
  new enrolments, no partner or backbone costs) from that period.

The report runs to the **last reported period** ``as_of - 1``: the latest period with an
enrolment or payment row (or ``as_of`` given explicitly, for quiet quarters after enrolment has
closed). Within it, every unit must report enrolment for each period of its enrolment window
(write 0 if nobody enrolled), and every verified cohort with participants must report each
outcome. Validation lists every problem, naming the line of the file (or the DataFrame's row
label), e.g. ``line 9: partner 'X' is not in the scenario (known: A, B)``.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cib_sim.engine.cohorts import CohortClock, cohort_clocks
from cib_sim.engine.delivery import unit_plan
from cib_sim.engine.sample import n_units
from cib_sim.scenario import Scenario

COLUMNS = ("period", "partner", "outcome", "commissioner", "enrolled", "dropped", "waiting", "achieved", "payments_received", "ended")
"""Every column the format knows, in the order :func:`observed_frame` writes them."""

ZONE_UNIT = "zone"
MAX_ERRORS = 60


class ObservedDataError(ValueError):
    """Observed data failed validation; ``errors`` lists one message per problem, each naming
    the line (CSV) or row (DataFrame) at fault where there is one."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        shown = errors[:MAX_ERRORS]
        more = f"\n... and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
        super().__init__("\n".join(shown) + more)


@dataclass(frozen=True)
class Observed:
    """Validated observed data as arrays on the engine's axes.

    K = ``as_of`` reported periods (0..K-1); U units (partners, or the zone); O outcomes; C
    commissioners; P partners.

    enrolled: (K, U) participants enrolled per period.
    dropped: (K, U) dropouts, NaN where not reported.
    waiting: (K, U) waiting list at the end of each period, NaN where not reported.
    achieved: (K, U, O) outcomes achieved by the cohort enrolled in each period, NaN where the
      cohort's outcome is not verified by the last reported period.
    verified: (K, U, O) bool, where ``achieved`` is known.
    paid: (K, C) payments received, or None when the table has no payment rows.
    partner_ended: (P,) first period a partner no longer delivers (-1: still delivering).
    commissioner_ended: (C,) first period a commissioner no longer pays (-1: still paying).
    stopped: first period delivery stopped for lack of funds (-1: not stopped).
    table: the validated tidy table (period as a whole number; one row per record).
    """

    scenario_name: str
    as_of: int
    enrolled: np.ndarray
    dropped: np.ndarray
    waiting: np.ndarray
    achieved: np.ndarray
    verified: np.ndarray
    paid: np.ndarray | None
    partner_ended: np.ndarray
    commissioner_ended: np.ndarray
    table: pd.DataFrame
    stopped: int = -1

    @property
    def n_verified(self) -> int:
        """How many (cohort, unit, outcome) counts are known."""
        return int(self.verified.sum())

    def summary(self) -> str:
        """One line: what the data covers."""
        return (
            f"{self.as_of} periods reported; {self.enrolled.sum():,.0f} enrolled; "
            f"{np.nansum(self.achieved):,.0f} outcomes in {self.n_verified} verified cohort counts"
            + (f"; {self.paid.sum():,.0f} received" if self.paid is not None else "")
        )


def empty_observed(s: Scenario) -> Observed:
    """No data at all (the prior): ``as_of`` 0."""
    U, O, C, P = n_units(s), len(s.outcomes), len(s.commissioners), len(s.partners)
    return Observed(
        s.name, 0, np.zeros((0, U)), np.zeros((0, U)), np.zeros((0, U)), np.zeros((0, U, O)), np.zeros((0, U, O), dtype=bool),
        None, np.full(P, -1), np.full(C, -1), pd.DataFrame(columns=list(COLUMNS)),
    )


# --------------------------------------------------------------------------------------------
# Reading


def _read_csv_text(text: str) -> tuple[pd.DataFrame, list[str]]:
    """Rows of a CSV as strings, skipping blank and ``#`` lines; labels ``line N`` (file lines)."""
    lines = text.splitlines()
    keep: list[tuple[int, str]] = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")]
    if not keep:
        raise ObservedDataError(["the file has no header and no rows"])
    reader = csv.reader([ln for _, ln in keep])
    rows = list(reader)
    header = [h.strip() for h in rows[0]]
    body, labels = [], []
    errors = []
    for (line_no, _), row in zip(keep[1:], rows[1:]):
        if len(row) > len(header):
            errors.append(f"line {line_no}: {len(row)} fields but the header has {len(header)}")
            continue
        body.append([c.strip() for c in row] + [""] * (len(header) - len(row)))
        labels.append(f"line {line_no}")
    if errors:
        raise ObservedDataError(errors)
    return pd.DataFrame(body, columns=header, dtype=object), labels


def load_table(source: Any) -> tuple[pd.DataFrame, list[str]]:
    """The raw table and a label per row (``line N`` for a CSV, ``row LABEL`` for a DataFrame).

    ``source``: a path, CSV text (containing a newline), bytes, a binary or text file object (a
    Streamlit upload), or a DataFrame.
    """
    if isinstance(source, pd.DataFrame):
        df = source.copy()
        df.columns = [str(c).strip() for c in df.columns]
        return df.reset_index(drop=True), [f"row {lab}" for lab in source.index]
    if isinstance(source, (bytes, bytearray)):
        return _read_csv_text(bytes(source).decode("utf-8-sig"))
    if hasattr(source, "read"):
        data = source.read()
        return _read_csv_text(data.decode("utf-8-sig") if isinstance(data, bytes) else data)
    if isinstance(source, str) and "\n" in source:
        return _read_csv_text(source)
    p = Path(source)
    if not p.exists():
        raise ObservedDataError([f"{p}: no such file"])
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:  # a folder, unreadable, not text
        raise ObservedDataError([f"{p}: cannot read as CSV text ({exc})"]) from None
    return _read_csv_text(text)


def read_observed(source: Any, scenario: Scenario, as_of: int | None = None) -> Observed:
    """Read and validate observed data against ``scenario``; raise :class:`ObservedDataError`
    listing every problem. ``as_of``: number of reported periods (default: one past the latest
    enrolment or payment row)."""
    df, labels = load_table(source)
    return validate_observed(df, scenario, as_of=as_of, labels=labels)


# --------------------------------------------------------------------------------------------
# Validation


def _blank(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, str) and v.strip() == ""


def period_starts(s: Scenario) -> pd.DatetimeIndex:
    """Start date of each period (as ``Results.period_index``)."""
    h = s.horizon
    return pd.date_range(pd.Timestamp(h.start), periods=h.n_periods, freq=pd.DateOffset(months=12 // h.periods_per_year))


def verification_period(s: Scenario, unit: int, cohort_period: int, outcome: int) -> int:
    """Period in which the engine verifies ``outcome`` for participants enrolled in
    ``cohort_period`` by ``unit``: ``lag`` after the assessment cohort closes."""
    return _verified_in(cohort_clocks(s)[outcome][unit], cohort_period, s.horizon.to_periods(s.outcomes[outcome].lag))


def verification_periods(s: Scenario) -> np.ndarray:
    """(T, U, O) :func:`verification_period` of every enrolment period, unit and outcome, the
    cohorts worked out once."""
    T = s.horizon.n_periods
    clocks = cohort_clocks(s)
    out = np.empty((T, len(clocks[0]) if clocks else 0, len(clocks)), dtype=np.int64)
    for k, row in enumerate(clocks):
        lag = s.horizon.to_periods(s.outcomes[k].lag)
        for u, clock in enumerate(row):
            out[:, u, k] = [_verified_in(clock, t, lag) for t in range(T)]
    return out


def _verified_in(clock: CohortClock, t: int, lag: int) -> int:
    """Verification period (lag after its cohort closes) of enrolment period ``t`` on ``clock``."""
    return (t if t >= clock.end else int(clock.close(t))) + lag


def unit_names(s: Scenario) -> list[str]:
    return [ZONE_UNIT] if s.delivery.model == "zone" else s.partner_names


def validate_observed(df: pd.DataFrame, s: Scenario, as_of: int | None = None, labels: list[str] | None = None) -> Observed:
    """Check a raw observed table against ``s`` and convert it (see the module docstring)."""
    labels = labels or [f"row {i}" for i in range(len(df))]
    errors: list[str] = []
    unknown = [c for c in df.columns if c not in COLUMNS]
    if unknown:
        errors.append(
            f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(repr(c) for c in unknown)} "
            f"(known: {', '.join(COLUMNS)})"
        )
    if "period" not in df.columns:
        errors.append("missing column 'period'")
    if errors:
        raise ObservedDataError(errors)
    df = df.copy()
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = None

    T = s.horizon.n_periods
    zone = s.delivery.model == "zone"
    units = unit_names(s)
    partners, outcomes, comms = s.partner_names, s.outcome_names, [c.name for c in s.commissioners]
    starts = period_starts(s)
    start_of = {d.date(): i for i, d in enumerate(starts)}
    U, O, C, P = len(units), len(outcomes), len(comms), len(partners)

    def known(names: list[str]) -> str:
        return f"(known: {', '.join(names)})"

    def parse_period(lab: str, v: Any) -> int | None:
        if _blank(v):
            errors.append(f"{lab}: period is missing")
            return None
        text = str(v).strip()
        try:
            x = float(text)
        except ValueError:
            try:
                d = pd.Timestamp(text).date()
            except (ValueError, TypeError):
                errors.append(f"{lab}: period {text!r} is neither a period number nor a date")
                return None
            if d not in start_of:
                errors.append(
                    f"{lab}: period {text!r} is not the start of a period (periods start "
                    f"{starts[0].date()}, {starts[1].date() if T > 1 else ''}, ...)"
                )
                return None
            return start_of[d]
        if not x.is_integer():
            errors.append(f"{lab}: period {text!r} must be a whole number")
            return None
        t = int(x)
        if t < 0:
            errors.append(f"{lab}: period {t} must be >= 0")
            return None
        if t >= T:
            errors.append(f"{lab}: period {t} is beyond the horizon (periods 0-{T - 1}, {s.horizon.years:g} years)")
            return None
        return t

    def parse_number(lab: str, col: str, v: Any, whole: bool) -> float | None:
        if _blank(v):
            return None
        try:
            x = float(str(v).strip().replace(",", "")) if not isinstance(v, (int, float, np.number)) else float(v)
        except ValueError:
            errors.append(f"{lab}: {col} {v!r} is not a number")
            return math.nan
        if not math.isfinite(x):
            errors.append(f"{lab}: {col} {v!r} is not a finite number")
            return math.nan
        if x < 0:
            errors.append(f"{lab}: {col} {x:g} must be >= 0")
            return math.nan
        if whole and not float(x).is_integer():
            errors.append(f"{lab}: {col} {x:g} must be a whole number")
            return math.nan
        return x

    def parse_flag(lab: str, v: Any) -> bool:
        if _blank(v):
            return False
        text = str(v).strip().lower()
        if text in ("1", "1.0", "true", "yes", "y"):
            return True
        if text in ("0", "0.0", "false", "no", "n"):
            return False
        errors.append(f"{lab}: ended {v!r} must be 1 or 0 (or blank)")
        return False

    enrol_rows: dict[tuple[int, int], tuple[str, float]] = {}  # (t, u) -> (label, enrolled)
    enrol_from_outcome: dict[tuple[int, int], tuple[str, float]] = {}
    drop_rows: dict[tuple[int, int], tuple[str, float]] = {}
    wait_rows: dict[tuple[int, int], float] = {}
    ach_rows: dict[tuple[int, int, int], tuple[str, float]] = {}
    pay_rows: dict[tuple[int, int], tuple[str, float]] = {}
    partner_end: dict[int, tuple[str, int]] = {}
    comm_end: dict[int, tuple[str, int]] = {}
    seen: dict[tuple, str] = {}
    report_periods: list[int] = []
    stop_row: tuple[str, int] | None = None
    clean_rows: list[dict[str, Any]] = []

    for i, row in enumerate(df.itertuples(index=False)):
        r = row._asdict()
        lab = labels[i]
        t = parse_period(lab, r["period"])
        partner = None if _blank(r["partner"]) else str(r["partner"]).strip()
        outcome = None if _blank(r["outcome"]) else str(r["outcome"]).strip()
        comm = None if _blank(r["commissioner"]) else str(r["commissioner"]).strip()
        n_enr = parse_number(lab, "enrolled", r["enrolled"], True)
        n_drop = parse_number(lab, "dropped", r["dropped"], True)
        n_wait = parse_number(lab, "waiting", r["waiting"], True)
        n_ach = parse_number(lab, "achieved", r["achieved"], True)
        paid = parse_number(lab, "payments_received", r["payments_received"], False)
        ended = parse_flag(lab, r["ended"])
        bad = False

        if comm is not None:  # payment row
            if comm not in comms:
                errors.append(f"{lab}: commissioner {comm!r} is not in the scenario {known(comms)}")
                bad = True
            extra = [c for c, v in (("partner", partner), ("outcome", outcome)) if v is not None]
            extra += [c for c, v in (("enrolled", n_enr), ("dropped", n_drop), ("waiting", n_wait), ("achieved", n_ach)) if v is not None]
            if extra:
                errors.append(f"{lab}: a payment row (it names a commissioner) must leave {', '.join(extra)} blank")
                bad = True
            if paid is None and not ended:
                errors.append(f"{lab}: payments_received is missing for commissioner {comm!r}")
                bad = True
            if bad or t is None:
                continue
            c = comms.index(comm)
            key = ("pay", t, c)
            if key in seen:
                errors.append(f"{lab}: duplicate of {seen[key]} (period {t}, commissioner {comm!r})")
                continue
            seen[key] = lab
            report_periods.append(t)
            if paid is not None and not math.isnan(paid):
                pay_rows[(t, c)] = (lab, paid)
            if ended:
                if c in comm_end:
                    errors.append(f"{lab}: commissioner {comm!r} already ended at {comm_end[c][0]}")
                else:
                    comm_end[c] = (lab, t)
            clean_rows.append({"period": t, "commissioner": comm, "payments_received": paid, "ended": int(ended) if ended else None})
            continue

        if partner is None and outcome is None and ended and all(
                v is None for v in (n_enr, n_drop, n_wait, n_ach, paid)):  # the fund stopped delivery
            if t is None:
                continue
            if stop_row is not None:
                errors.append(f"{lab}: delivery already stopped at {stop_row[0]}")
                continue
            stop_row = (lab, t)
            report_periods.append(t)
            clean_rows.append({"period": t, "ended": 1})
            continue
        if partner is None:
            errors.append(f"{lab}: name a partner (enrolment or outcome row) or a commissioner (payment row), "
                          "or write only period and ended=1 for a stop of delivery")
            continue
        if paid is not None:
            errors.append(f"{lab}: payments_received belongs on a payment row, which names a commissioner and no partner")
            bad = True

        # A zone partner's exit: 'period, partner, ended'.
        if zone and partner in partners and partner != ZONE_UNIT:
            if outcome is not None or any(v is not None for v in (n_enr, n_drop, n_ach)) or not ended:
                errors.append(
                    f"{lab}: in the zone model enrolment and outcomes are reported for the whole zone: "
                    f"write partner {ZONE_UNIT!r} (a row naming partner {partner!r} may only carry ended=1)"
                )
                continue
            if t is None:
                continue
            p = partners.index(partner)
            if p in partner_end:
                errors.append(f"{lab}: partner {partner!r} already ended at {partner_end[p][0]}")
                continue
            partner_end[p] = (lab, t)
            clean_rows.append({"period": t, "partner": partner, "ended": 1})
            continue
        if partner not in units:
            hint = f" (known: {ZONE_UNIT}, or a partner name with ended=1)" if zone else f" {known(units)}"
            errors.append(f"{lab}: partner {partner!r} is not in the scenario{hint}")
            continue
        u = units.index(partner)

        if outcome is not None:  # outcome row
            if outcome not in outcomes:
                errors.append(f"{lab}: outcome {outcome!r} is not in the scenario {known(outcomes)}")
                bad = True
            if n_ach is None and n_enr is None:
                errors.append(f"{lab}: achieved is missing for outcome {outcome!r}")
                bad = True
            if n_drop is not None or n_wait is not None or ended:
                errors.append(f"{lab}: dropped, waiting and ended belong on the enrolment row (no outcome)")
                bad = True
            if bad or t is None:
                continue
            k = outcomes.index(outcome)
            key = ("ach", t, u, k)
            if key in seen:
                errors.append(f"{lab}: duplicate of {seen[key]} (period {t}, partner {partner!r}, outcome {outcome!r})")
                continue
            seen[key] = lab
            if n_ach is not None and not math.isnan(n_ach):  # blank: not verified yet (flat layout)
                ach_rows[(t, u, k)] = (lab, n_ach)
            if n_enr is not None and not math.isnan(n_enr):
                prev = enrol_from_outcome.get((t, u))
                if prev is not None and prev[1] != n_enr:
                    errors.append(f"{lab}: enrolled {n_enr:g} differs from {prev[0]} ({prev[1]:g}) for partner {partner!r}, period {t}")
                else:
                    enrol_from_outcome.setdefault((t, u), (lab, n_enr))
            clean_rows.append({"period": t, "partner": partner, "outcome": outcome, "achieved": n_ach})
            continue

        # Enrolment row.
        if n_ach is not None:
            errors.append(f"{lab}: achieved needs an outcome")
            bad = True
        if n_enr is None and not ended:
            errors.append(f"{lab}: enrolled is missing for partner {partner!r}")
            bad = True
        if bad or t is None:
            continue
        key = ("enr", t, u)
        if key in seen:
            errors.append(f"{lab}: duplicate of {seen[key]} (period {t}, partner {partner!r})")
            continue
        seen[key] = lab
        report_periods.append(t)
        if n_enr is not None and not math.isnan(n_enr):
            enrol_rows[(t, u)] = (lab, n_enr)
        if n_drop is not None and not math.isnan(n_drop):
            drop_rows[(t, u)] = (lab, n_drop)
        if n_wait is not None and not math.isnan(n_wait):
            wait_rows[(t, u)] = n_wait
        if ended:
            if zone:
                errors.append(f"{lab}: the zone cannot end; mark a partner's exit with its own row")
            elif u in partner_end:
                errors.append(f"{lab}: partner {partner!r} already ended at {partner_end[u][0]}")
            else:
                partner_end[u] = (lab, t)
        clean_rows.append({"period": t, "partner": partner, "enrolled": n_enr, "dropped": n_drop, "waiting": n_wait,
                           "ended": 1 if ended else None})

    # Enrolment given only on outcome rows counts as reported (the brief's flat layout).
    for key, (lab, n) in enrol_from_outcome.items():
        if key in enrol_rows:
            if enrol_rows[key][1] != n:
                errors.append(f"{lab}: enrolled {n:g} differs from {enrol_rows[key][0]} ({enrol_rows[key][1]:g})")
        else:
            enrol_rows[key] = (lab, n)
            report_periods.append(key[0])
            clean_rows.append({"period": key[0], "partner": units[key[1]], "enrolled": n})

    # How far the report runs.
    K = (max(report_periods) + 1) if report_periods else 0
    if as_of is not None:
        if not 0 <= as_of <= T:
            errors.append(f"as_of: {as_of} must be between 0 and {T} (the number of periods)")
            raise ObservedDataError(errors)
        if as_of < K:
            errors.append(f"as_of: {as_of} reported periods, but the data has rows for period {K - 1}")
            raise ObservedDataError(errors)
        K = as_of
    # Row problems do not stop the checks between rows; they do stop the completeness checks,
    # whose complaints would only echo them (a misspelt partner's enrolment looks missing).
    row_errors = bool(errors)
    if K == 0 and (ach_rows or drop_rows):
        raise ObservedDataError(["no enrolment or payment rows: cannot tell which periods the report covers"])

    plan = unit_plan(s)
    enrolled = np.zeros((K, U))
    dropped = np.full((K, U), np.nan)
    waiting = np.full((K, U), np.nan)
    for (t, u), n in wait_rows.items():
        waiting[t, u] = n
    achieved = np.full((K, U, O), np.nan)
    verified = np.zeros((K, U, O), dtype=bool)
    paid_arr = np.zeros((K, C)) if pay_rows or comm_end else None
    for (t, u), (_, n) in enrol_rows.items():
        enrolled[t, u] = n
    for (t, u), (lab, d) in drop_rows.items():
        dropped[t, u] = d
        if d > enrolled[t, u]:
            errors.append(f"{lab}: dropped {d:g} is above enrolled {enrolled[t, u]:g} (partner {units[u]!r}, period {t})")
    verify_at = verification_periods(s)  # (T, U, O); every reported period is below T
    verified[:] = verify_at[:K] <= K - 1
    for (t, u, k), (lab, a) in ach_rows.items():
        v = int(verify_at[t, u, k])
        if t >= K or v > K - 1:
            errors.append(
                f"{lab}: outcome {outcomes[k]!r} of the cohort enrolled in period {t} is verified in period {v} "
                f"(lag {s.outcomes[k].lag:g} years), after the last reported period {K - 1}"
            )
            continue
        if (t, u) not in enrol_rows and row_errors:
            continue  # its enrolment row is among the bad rows: say nothing more
        if a > enrolled[t, u] and s.outcomes[k].kind != "count":  # a count outcome counts events
            errors.append(
                f"{lab}: achieved {a:g} is above enrolled {enrolled[t, u]:g} (partner {units[u]!r}, "
                f"period {t}, outcome {outcomes[k]!r})"
            )
        achieved[t, u, k] = a
    for (t, c), (_, x) in pay_rows.items():
        paid_arr[t, c] = x  # type: ignore[index]

    # Exits and withdrawals: nothing enrolled or paid from then on.
    partner_ended = np.full(P, -1)
    for p, (lab, e) in partner_end.items():
        partner_ended[p] = e
        if not zone:
            late = [t for t in range(e, K) if enrolled[t, p] > 0]
            if late:
                errors.append(f"{lab}: partner {partners[p]!r} ended in period {e} but enrolled participants in period {late[0]}")
    stopped = -1
    if stop_row is not None:
        lab, stopped = stop_row
        late = [t for t in range(stopped, K) if enrolled[t].sum() > 0]
        if late:
            errors.append(f"{lab}: delivery stopped in period {stopped} but participants enrolled in period {late[0]}")
    comm_ended = np.full(C, -1)
    for c, (lab, e) in comm_end.items():
        comm_ended[c] = e
        late = [t for t in range(e, K) if paid_arr is not None and paid_arr[t, c] > 0]
        if late:
            errors.append(f"{lab}: commissioner {comms[c]!r} ended in period {e} but paid in period {late[0]}")

    # Completeness: enrolment in every open period, outcomes of every verified cohort.
    for u in range(U if not row_errors else 0):
        stop = partner_ended[u] if (not zone and partner_ended[u] >= 0) else T
        stop = min(stop, stopped) if stopped >= 0 else stop
        missing = [t for t in range(int(plan.start[u]), min(int(plan.end[u]), K, stop)) if (t, u) not in enrol_rows]
        if missing:
            errors.append(
                f"partner {units[u]!r}: no enrolment reported for period{'s' if len(missing) > 1 else ''} "
                f"{_ranges(missing)} (within its enrolment window; write enrolled 0 if nobody enrolled)"
            )
        for k in range(O):
            miss = [t for t in range(K) if verified[t, u, k] and enrolled[t, u] > 0 and (t, u, k) not in ach_rows]
            if miss:
                errors.append(
                    f"partner {units[u]!r}, outcome {outcomes[k]!r}: no achieved count for the cohort"
                    f"{'s' if len(miss) > 1 else ''} enrolled in period{'s' if len(miss) > 1 else ''} {_ranges(miss)}, "
                    f"verified by period {K - 1}"
                )
            for t in range(K):
                if verified[t, u, k] and enrolled[t, u] == 0 and (t, u, k) not in ach_rows:
                    achieved[t, u, k] = 0.0
    if errors:
        raise ObservedDataError(errors)

    table = pd.DataFrame(clean_rows, columns=list(COLUMNS)).sort_values(["period", "commissioner", "partner", "outcome"], na_position="first")
    return Observed(
        s.name, K, enrolled, dropped, waiting, achieved, verified, paid_arr, partner_ended, comm_ended, table.reset_index(drop=True),
        stopped,
    )


def _ranges(ts: list[int]) -> str:
    """``[1, 2, 3, 7]`` as ``1-3, 7``."""
    out, i = [], 0
    while i < len(ts):
        j = i
        while j + 1 < len(ts) and ts[j + 1] == ts[j] + 1:
            j += 1
        out.append(f"{ts[i]}" if i == j else f"{ts[i]}-{ts[j]}")
        i = j + 1
    return ", ".join(out)


# --------------------------------------------------------------------------------------------
# Writing, and observations of a simulated world


def observed_frame(
    s: Scenario,
    flows: dict[str, np.ndarray],
    as_of: int,
    path: int = 0,
    exit_period: np.ndarray | None = None,
    withdraw_period: np.ndarray | None = None,
    payments: bool = True,
    dropouts: bool = True,
) -> pd.DataFrame:
    """What a simulated world (one path of ``cib_sim.engine.loop.run_paths`` flows) would report by
    the end of period ``as_of - 1``, in the observed format: enrolment rows for each open period,
    outcome rows for each verified cohort, payment rows for each period and commissioner.

    ``exit_period`` (P,) / ``withdraw_period`` (C,): the world's exits and withdrawals (from its
    ``Draws``), reported as ``ended`` where they happened before ``as_of``.
    """
    T = s.horizon.n_periods
    if not 0 < as_of <= T:
        raise ValueError(f"as_of: must be between 1 and {T} (got {as_of})")
    units, zone = unit_names(s), s.delivery.model == "zone"
    rows: list[dict[str, Any]] = []
    enrolled, achieved = flows["enrolled"][path], flows["achieved"][path]
    dropped = flows.get("dropped")
    for t in range(as_of):
        for u, name in enumerate(units):
            ended = (not zone and exit_period is not None and int(exit_period[u]) == t)
            row: dict[str, Any] = {"period": t, "partner": name, "enrolled": float(enrolled[t, u])}
            if dropouts and dropped is not None:
                row["dropped"] = float(dropped[path][t, u])
            if ended:
                row["ended"] = 1
            rows.append(row)
        if zone and exit_period is not None:
            for p, pname in enumerate(s.partner_names):
                if int(exit_period[p]) == t:
                    rows.append({"period": t, "partner": pname, "ended": 1})
    stop = int(flows["stop_period"][path]) if "stop_period" in flows else s.horizon.n_periods
    if stop < as_of:
        rows.append({"period": stop, "ended": 1})
    verify_at = verification_periods(s)
    for t in range(as_of):
        for u, name in enumerate(units):
            for k, oname in enumerate(s.outcome_names):
                if verify_at[t, u, k] <= as_of - 1:
                    rows.append({"period": t, "partner": name, "outcome": oname, "achieved": float(achieved[t, u, k])})
    if payments:
        paid = flows["commissioner_paid"][path]
        for t in range(as_of):
            for c, com in enumerate(s.commissioners):
                row = {"period": t, "commissioner": com.name, "payments_received": round(float(paid[t, c]), 2)}
                if withdraw_period is not None and int(withdraw_period[c]) == t:
                    row["ended"] = 1
                rows.append(row)
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    return df.dropna(axis=1, how="all") if len(df) else df


def write_observed(df: pd.DataFrame | Observed, path: str | Path, comment: str | None = None) -> Path:
    """Write observed data as CSV (blank cells for empty fields), with ``comment`` lines on top."""
    table = df.table if isinstance(df, Observed) else df
    table = table.dropna(axis=1, how="all")
    buf = io.StringIO()
    if comment:
        for line in comment.splitlines():
            buf.write(f"# {line}\n".replace("# \n", "#\n"))
    out = table.copy()
    for col in ("period", "enrolled", "dropped", "waiting", "achieved", "ended"):
        if col in out:
            out[col] = out[col].map(lambda v: "" if _blank(v) else f"{int(v)}")
    out.to_csv(buf, index=False)
    Path(path).write_text(buf.getvalue(), encoding="utf-8")
    return Path(path)
