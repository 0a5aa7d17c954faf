"""An Excel workbook of a run, for designers used to deal models in Excel (openpyxl).

    from cib_sim.report import build_workbook
    data = build_workbook(scenario, results)            # bytes of an .xlsx file
    Path("results.xlsx").write_bytes(data)

Sheets: **Terms** (headline terms and every entity table: outcomes, partners, commissioners,
tranches), **Assumptions** (every other field, and the run's paths and seed), **Summary**
(:meth:`Results.summary`, formatted by unit), **Cash flows** (per period, per capital tranche:
capital drawn and cash received; per commissioner: outcome payments; each as the mean over all
paths and the 10th, 50th and 90th percentile over the kept paths), and, when given, **Cases**
and **Sensitivity** (the app's tables). ``cib-sim run --out results.xlsx`` writes it too. Number formats and column widths are set.

A pure function: scenario and results in, bytes out.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from cib_sim.results import Results
from cib_sim.scenario import Scenario

QUANTILES = (0.10, 0.50, 0.90)
MONEY = '#,##0;[Red]-#,##0'
PCT = '0.0%'
MULT = '0.00"x"'
GENERAL = 'General'
HEADER_FILL = "DDEBF7"

# Summary units -> number formats
UNIT_FORMATS = {"probability": PCT, "share of paths": PCT, "per year": PCT, "x": MULT, "years": '0.00',
                "participants": '#,##0', "outcomes": '#,##0'}


def _fmt_for_unit(unit: str, currency: str) -> str:
    if unit == currency:
        return MONEY
    return UNIT_FORMATS.get(unit, GENERAL)


def _cell(v: Any) -> Any:
    """A value Excel can hold: numbers (NaN/inf -> empty), text, dates; the rest as JSON text."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, (str, dt.date, dt.datetime)):
        return v
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return json.dumps(v, default=str)


class _Sheet:
    """Writes tables down a worksheet, tracking widths and formats."""

    def __init__(self, ws):
        self.ws = ws
        self.row = 1
        self.widths: dict[int, int] = {}

    def _note_width(self, col: int, v: Any, fmt: str | None = None) -> None:
        if isinstance(v, float):
            n = len(f"{v:,.2f}") + 1
        elif isinstance(v, (dt.date, dt.datetime)):
            n = 11
        else:
            n = len(str(v)) if v is not None else 0
        self.widths[col] = max(self.widths.get(col, 8), min(60, n + 2))

    def title(self, text: str, note: str = "") -> None:
        from openpyxl.styles import Font

        c = self.ws.cell(self.row, 1, text)
        c.font = Font(bold=True, size=13)
        self.row += 1
        if note:
            self.ws.cell(self.row, 1, note).font = Font(italic=True, color="555555")
            self.row += 1

    def table(self, df: pd.DataFrame, formats: dict[str, str] | None = None, row_formats: list[str] | None = None,
              index: bool = False) -> tuple[int, int]:
        """Write ``df`` with a bold header; returns (first data row, last data row)."""
        from openpyxl.styles import Font, PatternFill

        formats = formats or {}
        d = df.reset_index() if index else df
        for j, name in enumerate(d.columns, start=1):
            c = self.ws.cell(self.row, j, str(name))
            c.font = Font(bold=True)
            c.fill = PatternFill("solid", fgColor=HEADER_FILL)
            self._note_width(j, str(name))
        first = self.row + 1
        for i, rec in enumerate(d.itertuples(index=False)):
            r = first + i
            for j, v in enumerate(rec, start=1):
                c = self.ws.cell(r, j, _cell(v))
                fmt = formats.get(d.columns[j - 1]) or (row_formats[i] if row_formats and isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else None)
                if fmt:
                    c.number_format = fmt
                self._note_width(j, c.value, fmt)
        self.row = first + len(d) + 1
        return first, first + len(d) - 1

    def finish(self, freeze: str | None = None) -> None:
        from openpyxl.utils import get_column_letter

        for j, w in self.widths.items():
            self.ws.column_dimensions[get_column_letter(j)].width = w
        if freeze:
            self.ws.freeze_panes = freeze


# --------------------------------------------------------------------------------------------
# Tables


def terms_tables(s: Scenario) -> dict[str, pd.DataFrame]:
    """The entity lists as tables: one row each, nested fields as ``a.b`` columns (the effects
    and shares as one column per outcome)."""
    d = s.model_dump(mode="json")
    out = {}
    for kind in ("outcomes", "partners", "commissioners", "tranches"):
        rows = []
        for item in d.get(kind) or []:
            flat: dict[str, Any] = {}
            for k, v in item.items():
                if k == "effect" and isinstance(v, dict):
                    for o, e in v.items():
                        flat[f"effect.{o}.mean"] = (e or {}).get("mean")
                        flat[f"effect.{o}.sd"] = (e or {}).get("sd")
                elif k == "shares" and isinstance(v, dict):
                    for o, x in v.items():
                        flat[f"share.{o}"] = x
                elif isinstance(v, dict):
                    for k2, v2 in v.items():
                        flat[f"{k}.{k2}"] = v2
                elif isinstance(v, list):
                    flat[k] = json.dumps(v) if v else None
                else:
                    flat[k] = v
            rows.append(flat)
        out[kind] = pd.DataFrame(rows)
    return out


def assumptions_table(s: Scenario, results: Results | None = None) -> pd.DataFrame:
    """Every field outside the entity lists, by dotted path, and the run's settings."""
    d = s.model_dump(mode="json")
    rows = []

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict) and v:
            for k2, v2 in v.items():
                walk(f"{prefix}.{k2}" if prefix else k2, v2)
        else:
            rows.append({"Field": prefix, "Value": json.dumps(v) if isinstance(v, (dict, list)) else v})

    for k, v in d.items():
        if k in ("outcomes", "partners", "commissioners", "tranches"):
            continue
        walk(k, v)
    if results is not None:
        rows += [{"Field": "run.paths", "Value": results.n_paths}, {"Field": "run.seed", "Value": str(results.seed)},
                 {"Field": "run.count_mode", "Value": results.mode}, {"Field": "run.kept_paths", "Value": results.n_kept}]
    return pd.DataFrame(rows)


def cashflow_table(r: Results, quantiles: tuple[float, ...] = QUANTILES) -> pd.DataFrame:
    """Per period: for each capital tranche, capital drawn and cash received (coupon, capital
    back, upside, guarantee received); for each commissioner, outcome payments. Each series as
    ``<name>: <flow> mean`` (over all paths) and ``p10``, ``p50``, ``p90`` (over kept paths)."""
    from cib_sim.engine.reduce import investor_flows

    s = r.scenario
    cols: dict[str, Any] = {"period_start": [ts.to_pydatetime().date() for ts in r.period_index],
                            "year": np.arange(s.horizon.n_periods) / s.horizon.periods_per_year}
    drawn_m, out_m = investor_flows(r.period_mean)       # (T, K)
    drawn_k, out_k = investor_flows(r.kept)              # (kept, T, K)

    def series(label: str, mean: np.ndarray, kept: np.ndarray) -> None:
        cols[f"{label} mean"] = mean
        qs = np.quantile(kept, quantiles, axis=0) if kept.shape[0] else np.full((len(quantiles), len(mean)), np.nan)
        for q, v in zip(quantiles, qs):
            cols[f"{label} p{int(round(q * 100))}"] = v

    for k, name in enumerate(r.tranche_names):
        series(f"{name}: drawn", drawn_m[:, k], drawn_k[:, :, k])
        series(f"{name}: received", out_m[:, k], out_k[:, :, k])
    for c, name in enumerate(r.commissioner_names):
        series(f"{name}: paid", r.period_mean["commissioner_paid"][:, c], r.kept["commissioner_paid"][:, :, c])
    return pd.DataFrame(cols)


# --------------------------------------------------------------------------------------------
# The workbook


def build_workbook(scenario: Scenario, results: Results, summary: pd.DataFrame | None = None,
                   cases: pd.DataFrame | None = None, sensitivity: dict[str, pd.DataFrame] | None = None) -> bytes:
    """The workbook as ``.xlsx`` bytes (see the module docstring). ``summary``: the results'
    summary if already computed; ``cases``: :func:`cib_sim.app.studies.cases_frame`;
    ``sensitivity``: titled tables (one-way, two-way, tornado ...)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    s = scenario
    cur = s.currency
    summary = summary if summary is not None else results.summary()
    wb = Workbook()

    # Terms
    ws = _Sheet(wb.active)
    wb.active.title = "Terms"
    ws.title(s.name, s.description or "")
    try:
        from cib_sim.deals import headline_terms

        terms = headline_terms(s)
        ht = pd.DataFrame([
            {"Term": f"Capital committed ({cur})", "Value": terms.get("capital")},
            {"Term": f"Maximum outcome payments ({cur})", "Value": terms.get("max_outcome_payment")},
            {"Term": "Max outcome payments ÷ capital", "Value": terms.get("outcome_to_capital")},
            {"Term": "Participants (expected)", "Value": terms.get("participants")},
            {"Term": "Service duration (years)", "Value": terms.get("duration_years")},
        ])
        ws.table(ht, row_formats=[MONEY, MONEY, MULT, '#,##0', '0.00'])
    except Exception:  # noqa: BLE001 - headline terms are a convenience
        pass
    for kind, df in terms_tables(s).items():
        ws.title(kind.capitalize())
        fmts = {c: MONEY for c in df.columns if c in ("price", "fiscal_value", "max_per_participant", "cost", "fixed_cost",
                                                       "annual_budget", "total_cap", "commitment")}
        ws.table(df, fmts)
    ws.finish()

    # Assumptions
    ws = _Sheet(wb.create_sheet("Assumptions"))
    ws.title("Assumptions", "Every field outside the tables of the Terms sheet, by its path in the scenario file")
    ws.table(assumptions_table(s, results))
    ws.finish()

    # Summary
    ws = _Sheet(wb.create_sheet("Summary"))
    ws.title("Summary", f"{results.n_paths:,} paths, seed {results.seed}; money in {cur}")
    sm = summary[["group", "name", "metric", "value", "unit"]].reset_index(drop=True)
    ws.table(sm, row_formats=[_fmt_for_unit(u, cur) for u in sm["unit"]])
    ws.finish(freeze="A4")

    # Cash flows
    ws = _Sheet(wb.create_sheet("Cash flows"))
    ws.title(f"Cash flows per {s.horizon.period} ({cur})",
             f"Mean over all {results.n_paths:,} paths; 10th, 50th and 90th percentiles over the {results.n_kept:,} "
             "kept paths (each period's percentile on its own: the columns are not one path)")
    cf = cashflow_table(results)
    ws.table(cf, {c: MONEY for c in cf.columns if c not in ("period_start", "year")} | {"year": "0.00",
                                                                                       "period_start": "yyyy-mm-dd"})
    ws.finish(freeze="C4")

    # Cases
    if cases is not None and len(cases):
        ws = _Sheet(wb.create_sheet("Cases"))
        ws.title("Cases", "Each case on the same paths and seed (common random numbers)")
        kinds = list(cases["kind"]) if "kind" in cases.columns else []
        fmt_kind = {"money": MONEY, "prob": PCT, "pct": PCT, "x": MULT, "count": '#,##0'}
        ws.table(cases.drop(columns=["kind"], errors="ignore"), row_formats=[fmt_kind.get(k_, GENERAL) for k_ in kinds])
        ws.finish()

    # Sensitivity
    if sensitivity:
        ws = _Sheet(wb.create_sheet("Sensitivity"))
        for title, df in sensitivity.items():
            ws.title(title)
            ws.table(df.reset_index(drop=True))
        ws.finish()

    for sheet in wb.worksheets:
        sheet.sheet_view.zoomScale = 100
        for row in sheet.iter_rows(min_row=1, max_row=1):
            for c in row:
                if c.value and c.font and not c.font.bold:
                    c.font = Font(bold=True, size=13)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
