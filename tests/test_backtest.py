"""Back-tests: fresh output of fixed runs against stored CSVs, compared exactly.

A move inside the package must not change one bit of what users see. See
``tests/backtest/cases.py`` for the cases and how to regenerate them after a deliberate change.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "backtest"))
from cases import CASES, normalise, read_stored  # noqa: E402


@pytest.mark.parametrize("name", sorted(CASES))
def test_fresh_output_matches_stored_backtest(name):
    fresh = normalise(CASES[name]())
    pd.testing.assert_frame_equal(fresh, read_stored(name), check_exact=True)


def test_every_shipped_scenario_has_a_backtest():
    from cib_sim.scenario import shipped_scenarios

    stems = set(shipped_scenarios())  # file stem -> path
    assert stems and stems <= {name.removeprefix("summary_") for name in CASES}
