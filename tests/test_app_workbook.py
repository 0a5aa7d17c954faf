"""The Excel workbook (:func:`cib_sim.report.build_workbook`): opened with openpyxl and
checked against the Results it was built from."""

from __future__ import annotations

import io

import numpy as np
import pytest
from openpyxl import load_workbook

from cib_sim import simulate
from cib_sim.app import state as A
from cib_sim.app import studies as SD
from cib_sim.report import build_workbook, cashflow_table
from cib_sim.scenario import load_scenario

WLZ = A.library()[next(iter(A.library()))]


@pytest.fixture(scope="module")
def run():
    s = load_scenario(WLZ)
    return s, simulate(s, n_paths=600, seed=5, keep_paths=300)


def _rows(ws):
    return [[c.value for c in row] for row in ws.iter_rows()]


def _header_row(ws, first: str) -> int:
    return next(i for i, row in enumerate(ws.iter_rows(values_only=True), start=1) if row[0] == first)


def test_workbook_sheets_and_values_match_the_results(run):
    s, r = run
    cases = SD.cases_frame(["Base", "Down"], SD.run_cases(s, [("Base", SD.Shock()), ("Down", SD.parse_shock("effects:0.5"))], 300, 5))
    data = build_workbook(s, r, cases=cases, sensitivity={"One-way: prices": SD.pd.DataFrame({"x": [0.9, 1.1], "y": [0.1, 0.2]})})
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Terms", "Assumptions", "Summary", "Cash flows", "Cases", "Sensitivity"]

    # Summary: every value of Results.summary(), formatted by its unit.
    ws = wb["Summary"]
    h = _header_row(ws, "group")
    got = {(row[0], row[1], row[2]): row[3] for row in ws.iter_rows(min_row=h + 1, values_only=True) if row[0]}
    summary = r.summary()
    for rec in summary.itertuples():
        v = got[(rec.group, rec.name, rec.metric)]
        assert (v is None and not np.isfinite(rec.value)) or v == pytest.approx(rec.value)
    row = next(row for row in ws.iter_rows(min_row=h + 1) if row[2].value == "prob_loss")
    assert row[3].number_format == "0.0%"
    row = next(row for row in ws.iter_rows(min_row=h + 1) if row[2].value == "outcome_payments_mean")
    assert row[3].number_format.startswith("#,##0")
    assert ws.column_dimensions["C"].width > 10

    # Cash flows: per tranche and per payer, mean and 10th/50th/90th percentiles, by period.
    ws = wb["Cash flows"]
    h = _header_row(ws, "period_start")
    header = [c.value for c in ws[h]]
    payer = r.commissioner_names[0]
    tranche = r.tranche_names[0]
    for stat in ("mean", "p10", "p50", "p90"):
        assert f"{payer}: paid {stat}" in header and f"{tranche}: received {stat}" in header
        assert f"{tranche}: drawn {stat}" in header
    col = header.index(f"{payer}: paid mean")
    values = [row[col] for row in ws.iter_rows(min_row=h + 1, values_only=True)]
    assert len(values) == s.horizon.n_periods
    assert sum(values) == pytest.approx(r.period_mean["commissioner_paid"][:, 0].sum())
    total_paid = sum(sum(row[header.index(f"{c}: paid mean")] for row in ws.iter_rows(min_row=h + 1, values_only=True))
                     for c in r.commissioner_names)
    assert total_paid == pytest.approx(r.metric("contract", s.name, "outcome_payments_mean"), rel=1e-9)
    p10, p90 = header.index(f"{payer}: paid p10"), header.index(f"{payer}: paid p90")
    assert all(row[p10] <= row[p90] + 1e-9 for row in ws.iter_rows(min_row=h + 1, values_only=True))
    assert ws.cell(h + 1, col + 1).number_format.startswith("#,##0")

    # Terms and assumptions name the deal's parts; cases carry their values.
    terms = [v for row in _rows(wb["Terms"]) for v in row if v is not None]
    assert s.name in terms and all(p.name in terms for p in s.partners) and all(t.name in terms for t in s.tranches)
    fields = {row[0]: row[1] for row in _rows(wb["Assumptions"])}
    assert fields["horizon.years"] == s.horizon.years and fields["run.paths"] == 600
    cases_rows = {row[0]: row[1:] for row in _rows(wb["Cases"])}
    assert cases_rows["Measure"][:2] == ("Base", "Down") or list(cases_rows["Measure"][:2]) == ["Base", "Down"]
    assert list(cases_rows[f"{tranche}: P(loss)"][:2]) == pytest.approx(list(cases[cases.Measure == f"{tranche}: P(loss)"][["Base", "Down"]].iloc[0]))


def test_cashflow_table_means_match_mean_flows(run):
    s, r = run
    cf = cashflow_table(r)
    flows = r.mean_flows()
    drawn = sum(cf[f"{t}: drawn mean"] for t in r.tranche_names)
    assert np.allclose(drawn.to_numpy(), flows["capital_drawn"].to_numpy())
