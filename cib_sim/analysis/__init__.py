"""Analysis for funders and analysts: sweeps, stress tests, tornado sensitivity and the
payment-term solver, on one process or a Dask cluster.

Every function here runs all its variants on the same paths and seed (common random numbers), so
differences between rows are the change, not Monte Carlo noise; and each accepts ``executor=``
(see :mod:`cib_sim.analysis.runner`): ``"dask"`` for a local cluster, plus ``address=`` for a real
one; results are identical to a single process for the same seed.

- :func:`sweep`: any fields over a grid (or zipped lists) of values -> one row per point.
- :func:`stress`: named shocks (:mod:`cib_sim.analysis.shocks`) against the base -> one row each.
- :func:`tornado`: a metric at each uncertain input's low and high value -> one row per input.
- :func:`solve` (:mod:`cib_sim.analysis.solver`): the payment term at which a target holds.

Fields are named by dotted paths (:mod:`cib_sim.analysis.fields`: ``"outcomes.engagement.price"``),
metrics as ``"group/name/metric"`` (:mod:`cib_sim.analysis.metrics`: ``"tranche/0/prob_loss"``), and
shocks by objects or text (:mod:`cib_sim.analysis.shocks`: ``"exit:Mentoring@2"``).
"""

from cib_sim.analysis.fields import FieldPathError, field_paths, get_field, set_fields
from cib_sim.analysis.metrics import (
    MetricSpec,
    default_metrics,
    evaluate,
    resolve_metrics,
)
from cib_sim.analysis.runner import run, run_many
from cib_sim.analysis.shocks import (
    BASE,
    CommissionerWithdrawal,
    Correlation,
    MaturityDelay,
    PartnerExit,
    PriceCut,
    ScaleEffects,
    ScaleField,
    ScalePrices,
    ScaleReferrals,
    SetField,
    Shock,
    as_shock,
    default_shocks,
    parse_shock,
)
from cib_sim.analysis.solver import NoSolution, SolveResult, Target, solve
from cib_sim.analysis.studies import (
    SensitivityInput,
    sensitivity_inputs,
    stress,
    sweep,
    tornado,
)

__all__ = [
    "sweep", "stress", "tornado", "solve", "run", "run_many",
    "default_metrics", "default_shocks", "sensitivity_inputs", "resolve_metrics", "evaluate",
    "SensitivityInput", "MetricSpec", "Target", "SolveResult", "NoSolution", "field_paths", "get_field", "set_fields", "FieldPathError",
    "Shock", "BASE", "MaturityDelay", "ScaleEffects", "PartnerExit", "CommissionerWithdrawal",
    "ScaleReferrals", "Correlation", "PriceCut", "ScalePrices", "SetField", "ScaleField", "parse_shock", "as_shock",
]
