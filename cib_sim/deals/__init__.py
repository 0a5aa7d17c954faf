"""Real deals: the INDIGO impact-bond data shipped with the package, a scenario's headline terms
compared with them, how they actually paid (:mod:`~cib_sim.deals.payments`), scenarios built from
their records (:mod:`~cib_sim.deals.builder`) and the reference-class prior fitted to their
payments (:mod:`~cib_sim.deals.reference_class`)."""

from cib_sim.deals.builder import (
    DEFAULT_PRIOR,
    IndigoBuild,
    indigo_build,
    scenario_from_indigo,
)
from cib_sim.deals.headline import (
    expected_participants,
    headline_terms,
    max_outcome_payment,
)
from cib_sim.deals.indigo import (
    HEADLINE_KEYS,
    MEASURES,
    USD_PER_UNIT,
    DealComparison,
    compare_to_deals,
    deal_terms,
    load_deals,
    load_pricings,
    mid_percentile,
    parse_number,
    parse_return,
)
from cib_sim.deals.payments import (
    HORIZON_MONTHS,
    load_payments,
    payment_projects,
    payment_series,
    shares_at,
)
from cib_sim.deals.reference_class import (
    ReferenceClass,
    how_similar_deals_paid,
    load_reference_class,
)

__all__ = [
    "DEFAULT_PRIOR",
    "HEADLINE_KEYS",
    "HORIZON_MONTHS",
    "MEASURES",
    "USD_PER_UNIT",
    "DealComparison",
    "IndigoBuild",
    "ReferenceClass",
    "compare_to_deals",
    "deal_terms",
    "expected_participants",
    "headline_terms",
    "how_similar_deals_paid",
    "indigo_build",
    "load_deals",
    "load_payments",
    "load_pricings",
    "load_reference_class",
    "max_outcome_payment",
    "mid_percentile",
    "parse_number",
    "parse_return",
    "payment_projects",
    "payment_series",
    "scenario_from_indigo",
    "shares_at",
]
