"""Altair charts of a scenario and its results, for the app and for notebooks.

Every chart has two halves: a ``*_frame`` function that turns a :class:`~cib_sim.results.Results`
(or a :class:`~cib_sim.scenario.Scenario`) into a tidy DataFrame, and a ``*_chart`` function that
turns that DataFrame into an ``alt.Chart``. Chart functions also accept the Results directly::

    from cib_sim import load_scenario, simulate
    from cib_sim import charts

    r = simulate(load_scenario("scenarios/west_london_zone.yaml"), n_paths=2_000)
    charts.waterfall_chart(r.waterfall("median"))
    charts.distribution_chart(r, "multiple", kind="ecdf")
    charts.fan_chart(r, "investor_net")

Frames are small (pre-binned histograms, ECDFs on a grid of quantiles), so a chart of 100,000
paths is as light as one of 1,000. Money axes say the currency; rates say "per year".
"""

from __future__ import annotations

from cib_sim.charts.analysis import (  # noqa: F401
    stress_chart,
    sweep_chart,
    tornado_chart,
)
from cib_sim.charts.paid import (  # noqa: F401
    paid_bands_frame,
    paid_curves_frame,
    similar_deals_paid_chart,
)
from cib_sim.charts.results import (  # noqa: F401
    comparison_chart,
    comparison_frame,
    distribution_chart,
    distribution_frame,
    ecdf_frame,
    fan_chart,
    fan_frame,
    histogram_frame,
    outcomes_chart,
    outcomes_frame,
    uplift_chart,
    uplift_frame,
    waterfall_chart,
    waterfall_frame,
)
from cib_sim.charts.style import (  # noqa: F401
    BAND_INNER,
    BAND_OUTER,
    CATEGORY_COLOURS,
    CURRENCY_SYMBOL,
    GAIN,
    LOSS,
    MEDIAN,
    PERIOD_WORD,
    SCENARIO_COLOURS,
    SERIES,
    fmt_money,
    money_scale,
)
from cib_sim.charts.terms import (  # noqa: F401
    DEAL_GROUPS,
    DEAL_RATIOS,
    KIND_COLOURS,
    capital_stack_chart,
    capital_stack_frame,
    deals_scatter_chart,
    deals_scatter_frame,
    maturity_chart,
    maturity_frame,
)
