"""Back-test cases: fixed scenarios, seeds and path counts whose output is stored under
``tests/backtest/`` and compared exactly by ``tests/test_backtest.py``.

A refactor must leave every stored frame bit-identical. A deliberate change of behaviour
regenerates them (``python tests/backtest/cases.py``) in the same commit, saying why.
Only public entry points are used, so the cases survive moves inside the package.
"""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path
from typing import Callable

import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCENARIOS = ROOT / "scenarios"

# (file stem, paths, seed): the summary of every shipped scenario.
SUMMARIES = [
    ("west_london_zone", 6000, 11),
    ("peterborough", 6000, 12),
    ("rate_card_fund", 6000, 13),
    ("stress_slow_start", 6000, 14),
    ("chicago_child_parent_center", 6000, 15),
    ("utah_preschool", 6000, 16),
]


def _load(stem: str):
    from cib_sim import load_scenario

    return load_scenario(SCENARIOS / f"{stem}.yaml")


def summary_case(stem: str, n_paths: int, seed: int) -> Callable[[], pd.DataFrame]:
    def run() -> pd.DataFrame:
        from cib_sim import simulate

        return simulate(_load(stem), n_paths, seed=seed).summary()

    return run


def des_case() -> pd.DataFrame:
    """The participant-level reference model on a few paths of the rate-card fund."""
    from cib_sim import simulate_des

    return simulate_des(_load("rate_card_fund"), 6, seed=5).summary()


def nowcast_case() -> pd.DataFrame:
    """A nowcast of the slow-start scenario after eight reported quarters."""
    from cib_sim.learning import nowcast

    s = _load("stress_slow_start")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = nowcast(s, SCENARIOS / "observed" / "stress_slow_start_q8.csv", n_paths=600, seed=3, n_draws=800)
    return r.summary()


def sweep_case() -> pd.DataFrame:
    """A two-point price sweep of West London Zone with common random numbers."""
    from cib_sim import sweep

    df = sweep(_load("west_london_zone"), {"price_multiplier": [0.8, 1.2]}, n_paths=1500, seed=9)
    df.attrs = {}
    return df


CASES: dict[str, Callable[[], pd.DataFrame]] = {
    **{f"summary_{stem}": summary_case(stem, n, seed) for stem, n, seed in SUMMARIES},
    "des_rate_card_fund": des_case,
    "nowcast_stress_slow_start": nowcast_case,
    "sweep_west_london_zone": sweep_case,
}


def stored_path(name: str) -> Path:
    return HERE / f"{name}.csv"


# Floats must read back to the same bits they were written from: pandas 3 does so by default
# (and deprecates the option), older pandas only with float_precision="round_trip".
_READ = dict(keep_default_na=False, na_values=[""])
if int(pd.__version__.split(".")[0]) < 3:
    _READ["float_precision"] = "round_trip"


def read_stored(name: str) -> pd.DataFrame:
    return pd.read_csv(stored_path(name), **_READ)


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    """The frame as it reads back from CSV (so a fresh frame and a stored one compare exactly)."""
    return pd.read_csv(io.StringIO(df.to_csv(index=False)), **_READ)


def write(names: list[str] | None = None) -> None:
    for name in names or list(CASES):
        CASES[name]().to_csv(stored_path(name), index=False)
        print("wrote", stored_path(name).relative_to(ROOT))


if __name__ == "__main__":
    write(sys.argv[1:] or None)
