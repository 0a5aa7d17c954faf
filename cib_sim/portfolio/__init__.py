"""Funds of bonds: several bonds run together on the same paths, linked by shared shocks, with
shared payers (top-up funds paying from one pot) and shared investors (funds with stakes in
members' tranches, their own fees, hurdle and carry). See ``docs/PORTFOLIO.md``.

    load_portfolio(file) -> simulate_portfolio(p, n_paths, seed) -> PortfolioResults

It sits above the run planner and the INDIGO builder (members may be built from INDIGO records)
and below the charts, the CLI and the app.
"""

from cib_sim.portfolio.funds import fund_waterfall, pot_fill
from cib_sim.portfolio.model import (
    Factor,
    InvestorFund,
    Member,
    Portfolio,
    PortfolioError,
    ResolvedPortfolio,
    Stake,
    TopUpFund,
    load_portfolio,
    parse_portfolio,
    resolve,
    shipped_portfolios,
)
from cib_sim.portfolio.results import PortfolioResults
from cib_sim.portfolio.simulate import simulate_portfolio
from cib_sim.portfolio.sweep import diversification_sweep

__all__ = [
    "Factor", "InvestorFund", "Member", "Portfolio", "PortfolioError", "PortfolioResults", "ResolvedPortfolio", "Stake",
    "TopUpFund", "diversification_sweep", "fund_waterfall", "load_portfolio", "parse_portfolio", "pot_fill", "resolve",
    "shipped_portfolios", "simulate_portfolio",
]
