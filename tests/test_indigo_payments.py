"""INDIGO's actual outcome payments, by month since service started: figures checked by hand
against rows of ``projects_outcome_payments.csv``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cib_sim.deals.payments import (
    load_payments,
    payment_projects,
    payment_series,
    shares_at,
)

WLZ = "INDIGO-POJ-0184"  # service from 2019-08; max outcome payment 16,244,960
MOTHERS = "INDIGO-POJ-0180"  # recurrent care proceedings; service from 2019-04; max 1,598,983


def test_payments_table_is_shipped_whole():
    pay = load_payments()
    assert len(pay) == 2232
    assert set(pay["type"].dropna()) == {"Actual", "Planned"}
    assert pay.loc[pay["project_id"] == WLZ, "type"].value_counts()["Actual"] == 12


def test_wlz_paid_15_15m_by_december_2023():
    s = payment_series(WLZ)
    # Eleven non-zero actual payments, 2019-09..2020-03 to 2023-10..2023-12, sum to 15,147,230.
    assert s["paid"].iloc[-1] == pytest.approx(15_147_230)
    # 2023-12 is month index 52 after 2019-08, so the record reaches month 53.
    assert s["month"].iloc[-1] == 53
    assert s["share"].iloc[-1] == pytest.approx(15_147_230 / 16_244_960)
    # By month 12 (periods ending by 2020-07): the first payment, 739,200 for 2019-09..2020-03.
    # By month 24 (ending by 2021-07): + 600,225 (2020-07..09) + 440,160 (2020-10..12).
    sh = shares_at(WLZ, (8, 12, 24))
    assert sh[8] == pytest.approx(739_200 / 16_244_960)  # 2020-03 is month index 7: counted by month 8
    assert sh[12] == pytest.approx(739_200 / 16_244_960)
    assert sh[24] == pytest.approx(1_779_585 / 16_244_960)
    assert shares_at(WLZ, (7,))[7] == 0.0


def test_mothers_project_by_hand():
    # 2019-04..2020-12 364,582; 2021-01..03 235,316; then quarterly to 2023-04..06 6,268.
    sh = shares_at(MOTHERS, (12, 24, 36, 48, 60))
    mop = 1_598_983
    assert sh[12] == 0.0
    assert sh[24] == pytest.approx((364_582 + 235_316) / mop)  # 2021-03 is month index 23
    assert sh[36] == pytest.approx(817_786 / mop)
    assert sh[48] == pytest.approx(1_592_715 / mop)
    assert math.isnan(sh[60])  # beyond the record (last period ends 2023-06, month 51)
    assert payment_series(MOTHERS)["paid"].iloc[-1] == pytest.approx(mop)


def test_series_are_cumulative_and_projects_consistent():
    projects = payment_projects()
    assert len(projects) == 28
    assert projects["project_id"].is_unique
    s = payment_series()
    for pid, g in s.groupby("project_id"):
        assert (np.diff(g["paid"].to_numpy()) >= 0).all(), pid
        assert g["month"].iloc[0] == 0 and (np.diff(g["month"]) == 1).all(), pid
    last = s.groupby("project_id")["share"].last()
    assert np.allclose(projects.set_index("project_id")["final_share"], last)
    # a single lump over four years is not a series; a project without a maximum is left out
    assert "INDIGO-POJ-0121" not in set(projects["project_id"])
    assert "INDIGO-POJ-0014" not in set(projects["project_id"])


def test_unknown_project_raises():
    with pytest.raises(KeyError):
        payment_series("INDIGO-POJ-0153")
