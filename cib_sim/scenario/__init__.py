"""The scenario: one outcomes contract as a validated model, read from and written to YAML.

The bottom layer of the package: it knows nothing of the engine or anything above it.
"""

from cib_sim.scenario.library import library_folder, load_shipped, shipped_scenarios
from cib_sim.scenario.model import (
    MAX_MONEY,
    MAX_PEOPLE,
    MAX_RATIO,
    PERIODS_PER_YEAR,
    Backbone,
    BreakClause,
    Commissioner,
    Comparison,
    CountMeasure,
    DeferredFee,
    Delivery,
    Effect,
    FieldErrors,
    Horizon,
    Maturity,
    Outcome,
    Partner,
    PartnerContract,
    Scenario,
    ScenarioError,
    Step,
    Terms,
    Tier,
    Tranche,
    Uncertainty,
    check_shares,
    errors_from_validation,
    load_scenario,
    parse_scenario,
    parse_yaml,
    save_scenario,
    scenario_from_yaml,
    scenario_to_yaml,
)

__all__ = [
    "MAX_MONEY", "MAX_PEOPLE", "MAX_RATIO", "FieldErrors",
    "PERIODS_PER_YEAR", "Backbone", "BreakClause", "DeferredFee", "Commissioner", "Delivery", "Effect", "Horizon", "Maturity", "Outcome",
    "Partner", "PartnerContract", "Scenario", "ScenarioError", "Step", "Terms", "Tier", "Comparison", "CountMeasure", "Tranche", "Uncertainty",
    "check_shares", "errors_from_validation", "load_scenario", "parse_scenario", "parse_yaml", "save_scenario", "scenario_from_yaml",
    "scenario_to_yaml", "library_folder", "load_shipped", "shipped_scenarios",
]
