"""The app's working scenario as plain data: one import for ``app.py`` and the tests.

Nothing here (or in the modules it gathers) imports Streamlit, so all of it is tested directly.
Each job has its own module:

- :mod:`~cib_sim.app.library`: the shipped scenarios and uploaded YAML, as dicts;
- :mod:`~cib_sim.app.columns`: what the editors show (columns, fields, labels, defaults);
- :mod:`~cib_sim.app.tables`: dict -> the editors' tables, and an editor's edits applied;
- :mod:`~cib_sim.app.compose`: the tables and inputs -> the working dict (scenario assembly);
- :mod:`~cib_sim.app.cells`: number cells read exactly, or "not a number" naming the cell;
- :mod:`~cib_sim.app.rebuild`: when the editors must be rebuilt after an edit;
- :mod:`~cib_sim.app.validation`: errors by section in words, suspicious values;
- :mod:`~cib_sim.app.display`: results as display tables;
- :mod:`~cib_sim.app.downloads`: the draft YAML (with the file's comments), CSV, Parquet;
- :mod:`~cib_sim.app.real_deals`: the scenario among the INDIGO deals.

The app (``app.py``) keeps:

- ``editor_base``: a scenario dict from which the editors were built (the loaded scenario, or
  the working scenario at the last *restructure*);
- the editors' own state (Streamlit keeps each ``st.data_editor``'s edits against its base
  table, and each input's value, under versioned keys);
- ``working``: the dict composed on every rerun from ``editor_base``, the inputs and the edited
  tables by :func:`compose`. It is validated with :func:`cib_sim.scenario.parse_scenario`; a bad
  value stays in ``working`` (and in its widget) with its error shown next to its section.
"""

from __future__ import annotations

from cib_sim.app.columns import (
    BREAK_COLS,
    EDITED_ELSEWHERE,
    ENTITY_COLS,
    ENTITY_MODEL,
    FEE_COLS,
    LIST_LABELS,
    LIST_TABLES,
    NUMERIC_KINDS,
    SCALAR_KIND,
    SCALARS,
    SECTIONS,
    STEP_COLS,
    TIER_COLS,
    Col,
    Field_,
    scalar_default,
)
from cib_sim.app.compose import compose, table_problems
from cib_sim.app.dicts import get_path, set_path
from cib_sim.app.display import (
    COMPARE_METRICS,
    commissioner_table,
    comparison_table,
    contract_metrics,
    summary_wide,
    tranche_table,
)
from cib_sim.app.downloads import (
    draft_yaml,
    file_stem,
    results_parquet_bytes,
    scenario_yaml_bytes,
    summary_csv_bytes,
)
from cib_sim.app.library import (
    DEFAULT_SCENARIO,
    LIBRARY,
    library,
    read_yaml,
    scenario_dict,
)
from cib_sim.app.real_deals import (
    DEAL_MEASURE_LABELS,
    RealDeals,
    deal_percentile_table,
    nearest_deals_table,
    real_deals,
)
from cib_sim.app.rebuild import (
    entity_names,
    rebuild_needed,
    structure,
    tables_restructured,
    tables_with_deletions,
)
from cib_sim.app.tables import (
    MATRICES,
    STEP_TABLES,
    apply_edits,
    build_frames,
    build_matrices,
    entity_frame,
    list_frame,
    matrix_columns,
    matrix_frame,
    steps_frame,
)
from cib_sim.app.validation import (
    check,
    describe_error,
    errors_by_section,
    section_of,
    suspicious,
    validate,
)

__all__ = [
    "COMPARE_METRICS", "DEAL_MEASURE_LABELS", "DEFAULT_SCENARIO", "EDITED_ELSEWHERE", "ENTITY_COLS", "ENTITY_MODEL",
    "LIBRARY", "MATRICES", "NUMERIC_KINDS", "SCALARS", "SCALAR_KIND", "SECTIONS", "TIER_COLS", "Col", "Field_",
    "RealDeals", "apply_edits", "build_frames", "build_matrices", "check", "commissioner_table", "comparison_table",
    "compose", "contract_metrics", "deal_percentile_table", "describe_error", "draft_yaml", "entity_frame",
    "entity_names", "errors_by_section", "file_stem", "get_path", "library", "matrix_columns", "matrix_frame",
    "nearest_deals_table", "read_yaml", "real_deals", "rebuild_needed", "results_parquet_bytes", "scalar_default",
    "scenario_dict", "scenario_yaml_bytes", "section_of", "set_path", "structure", "summary_csv_bytes",
    "summary_wide", "suspicious", "table_problems", "tables_restructured", "tables_with_deletions", "tranche_table",
    "validate", "BREAK_COLS", "FEE_COLS", "LIST_LABELS", "LIST_TABLES", "STEP_COLS", "STEP_TABLES", "list_frame",
    "steps_frame",
]
