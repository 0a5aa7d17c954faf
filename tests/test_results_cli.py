"""Results views and the core CLI commands (validate, run, summary) as a user meets them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cib_sim import load_scenario, simulate
from cib_sim.cli import main
from cib_sim.scenario import scenario_from_yaml

WLZ = Path(__file__).resolve().parents[1] / "scenarios" / "west_london_zone.yaml"


@pytest.fixture(scope="module")
def results():
    return simulate(load_scenario(WLZ), n_paths=3000, seed=4, keep_paths=500)


def test_waterfall_balances_money_in_and_out(results):
    for stat in ("mean", "median"):
        w = results.waterfall(stat)
        inflow = w.loc[w.direction == "in", "amount"].sum()
        assert inflow > 0
        # Everything that came in went somewhere (cash is nil at the end).
        assert w.amount.sum() == pytest.approx(0.0, abs=1e-6 * inflow)


def test_quantiles_cover_every_per_path_measure_including_flags(results):
    q = results.quantiles((0.05, 0.5, 0.95))
    table = results.path_table()
    assert set(q.index) == set(table.columns) - {"path"}
    assert ((q[0.05] <= q[0.5]) & (q[0.5] <= q[0.95])).all()
    assert table.filter(like="cap_hit").isin([0.0, 1.0]).all().all()


def test_cashflows_pick_the_path_at_a_quantile(results):
    low, mid, high = (results.cashflows(quantile=q) for q in (0.05, 0.5, 0.95))
    totals = [df.outcome_payments.sum() for df in (low, mid, high)]
    assert totals[0] <= totals[1] <= totals[2]
    with pytest.raises(IndexError):
        results.cashflows(path=results.n_kept)


def test_parquet_keeps_one_row_per_path_and_the_scenario(results, tmp_path):
    out = results.to_parquet(tmp_path / "r.parquet")
    table = pq.read_table(out)
    assert table.num_rows == results.n_paths
    meta = table.schema.metadata
    assert scenario_from_yaml(meta[b"cib_sim.scenario"].decode()) == results.scenario
    assert meta[b"cib_sim.seed"] == b"4"
    df = table.to_pandas()
    np.testing.assert_array_equal(df["tranche_in[Senior social lender]"], results.path["tranche_in"][:, 0])


def test_cli_validate_run_and_summary(tmp_path, capsys):
    assert main(["validate", str(WLZ)]) == 0
    assert "valid scenario" in capsys.readouterr().out
    out = tmp_path / "paths.csv"
    assert main(["run", str(WLZ), "--paths", "500", "--seed", "3", "--out", str(out), "--quiet", "--summary"]) == 0
    df = pd.read_csv(out)
    assert len(df) == 500 and "tranche_irr[Senior social lender]" in df.columns
    # The same seed through the API gives the same numbers, per path and in the summary.
    r = simulate(load_scenario(WLZ), 500, seed=3)
    np.testing.assert_allclose(df["commissioner_paid[Schools]"], r.path["commissioner_paid"][:, 2])
    written = pd.read_csv(tmp_path / "paths_summary.csv", keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(written, r.summary(), check_exact=False, rtol=1e-12)
    assert main(["summary", str(WLZ), "--paths", "500", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "TRANCHES" in text and "prob_loss=" in text and "GBP" in text


def test_cli_run_writes_an_excel_workbook_of_the_run(tmp_path, capsys):
    """``--out results.xlsx`` writes the workbook (cib_sim.report): its sheets, and its Summary
    numbers equal to the summary of the same run through the API."""
    from openpyxl import load_workbook

    out = tmp_path / "results.xlsx"
    assert main(["run", str(WLZ), "--paths", "400", "--seed", "2", "--out", str(out), "--quiet"]) == 0
    assert f"wrote a workbook of 400 paths to {out}" in capsys.readouterr().out
    wb = load_workbook(out)
    assert wb.sheetnames == ["Terms", "Assumptions", "Summary", "Cash flows"]
    ws = wb["Summary"]
    h = next(i for i, row in enumerate(ws.iter_rows(values_only=True), start=1) if row[0] == "group")
    got = {(row[0], row[1], row[2]): row[3] for row in ws.iter_rows(min_row=h + 1, values_only=True) if row[0]}
    summary = simulate(load_scenario(WLZ), 400, seed=2).summary()
    assert len(got) == len(summary)
    for rec in summary.itertuples():
        v = got[(rec.group, rec.name, rec.metric)]
        assert (v is None and not np.isfinite(rec.value)) or v == pytest.approx(rec.value, rel=1e-12)
    # A workbook that cannot be written is refused before anything runs: exit 2, the flag named.
    assert main(["run", str(WLZ), "--out", str(tmp_path / "no_such_folder" / "r.xlsx"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "no folder" in err and "Traceback" not in err
    assert main(["run", str(WLZ), "--out", str(tmp_path / "results.xls"), "--quiet"]) == 2
    assert ".xlsx" in capsys.readouterr().err


def test_cli_bad_input_exits_2_with_the_field_and_no_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(WLZ.read_text().replace("price: 1600", "price: -1600"), encoding="utf-8")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "outcomes[2].price: must be >= 0" in err and "Traceback" not in err
    assert main(["run", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "x.parquet")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["run", str(WLZ), "--out", str(tmp_path / "x.txt"), "--quiet"]) == 2
    assert "--out" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["run", str(WLZ), "--paths", "0", "--out", str(tmp_path / "x.csv")])
    assert exc.value.code == 2
