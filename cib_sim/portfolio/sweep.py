"""The diversification sweep: a portfolio's investor fund run on the same paths with its members'
correlation scaled from none to as written."""

from __future__ import annotations

from typing import Any

import pandas as pd

from cib_sim.portfolio.simulate import simulate_portfolio
from cib_sim.run.plan import root_sequence


def diversification_sweep(
    portfolio: Any, scales=(0.0, 0.25, 0.5, 0.75, 1.0), n_paths: int = 4096, seed: Any = 1, fund: int | str = 0, **kw: Any
) -> pd.DataFrame:
    """How the investor fund's risk moves with the correlation between members: the portfolio run
    on the same paths with every loading multiplied by each of ``scales`` (0: independent
    members, 1: as written). One row per scale: the fund's P(loss) before and after fees, the sd
    of its multiple, and the stakes' own mean P(loss). That last one moves only where a member's
    loadings exceed its own ``rho`` (an INDIGO-built member has ``rho`` 0): then the shared shocks
    also tie its partners together and widen its own spread (see docs/PORTFOLIO.md).

    ``seed`` is turned into one root sequence first, so every scale runs on the same paths even
    when it is a Generator."""
    seed = root_sequence(seed)
    rows = []
    for k in scales:
        r = simulate_portfolio(portfolio, n_paths, seed, loading_scale=float(k), **kw)
        d = r.diversification(fund)
        stakes = d[d.kind == "stake"]
        fund_rows = d[d.kind == "fund"]
        rows.append({"loading_scale": float(k), "prob_loss_before_fees": float(fund_rows.prob_loss.iloc[0]),
                     "prob_loss": float(fund_rows.prob_loss.iloc[1]), "multiple_sd": float(fund_rows.multiple_sd.iloc[1]),
                     "multiple_sd_before_fees": float(fund_rows.multiple_sd.iloc[0]),
                     "stakes_prob_loss_mean": float(stakes.prob_loss.mean())})
    return pd.DataFrame(rows)
