"""cib_sim: Monte Carlo simulation of Collective Impact Bonds and other outcomes-based contracts.

The pipeline reads top to bottom::

    Scenario --sample--> Draws --deliver--> Outcomes --pay--> Payments --distribute--> Flows --> Results

Public API: ``load_scenario``, ``save_scenario``, ``simulate``, ``Scenario``, ``Results``; funds of
bonds: ``load_portfolio``, ``simulate_portfolio`` (:mod:`cib_sim.portfolio`).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# Lazy attributes keep `import cib_sim` cheap (the CLI's `validate` should not pay for pandas).
_LAZY = {
    "Scenario": "cib_sim.scenario",
    "load_scenario": "cib_sim.scenario",
    "save_scenario": "cib_sim.scenario",
    "ScenarioError": "cib_sim.scenario",
    "simulate": "cib_sim.run",
    "Results": "cib_sim.results",
    "simulate_des": "cib_sim.reference",
    "journeys": "cib_sim.reference",
    "sweep": "cib_sim.analysis",
    "stress": "cib_sim.analysis",
    "tornado": "cib_sim.analysis",
    "solve": "cib_sim.analysis",
    "simulate_portfolio": "cib_sim.portfolio",
    "load_portfolio": "cib_sim.portfolio",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cib_sim' has no attribute {name!r}")
