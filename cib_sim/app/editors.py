"""The Design tab's table editors: ``st.data_editor`` calls with their column configurations.

Every number column is a text column (read exactly by :mod:`cib_sim.app.cells`); tables that take
new rows hide their index (a row number column would be the one a new row starts in, and it
cannot be typed into), fixed tables show rows counted from 1, as the messages count them.
``st`` is the Streamlit module, passed in so that this module imports no Streamlit itself.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cib_sim.app.columns import NUMERIC_KINDS, Col

NUMBER_HINT = " (a number: 1500, 1,500, 1.5k, 1e3)"


def row_column(st: Any) -> Any:
    return st.column_config.NumberColumn("Row", help="Rows are counted from 1, as in the messages", width=45)


def column_config(st: Any, cols: tuple[Col, ...], cur: str, options: dict[str, list[str]] | None = None,
                  hidden: tuple[str, ...] = ("_id",)) -> dict:
    """Column configuration for ``cols``: labels with the currency, help, number columns as text,
    select columns with their options (``options`` overrides them, e.g. the outcomes' names)."""
    cfg: dict = {h: None for h in hidden}
    cfg["_index"] = row_column(st)
    for c in cols:
        label = c.label.format(cur=cur)
        if c.kind in NUMERIC_KINDS:
            cfg[c.field] = st.column_config.TextColumn(label, help=(c.help or "") + NUMBER_HINT)
        elif c.kind in ("select", "tri"):
            opts = list((options or {}).get(c.field, c.options))
            cfg[c.field] = st.column_config.SelectboxColumn(label, options=opts, help=c.help or None)
        else:
            cfg[c.field] = st.column_config.TextColumn(label, help=c.help or None)
    return cfg


def dynamic_table(st: Any, container: Any, frame: pd.DataFrame, key: str, cols: tuple[Col, ...], cur: str,
                  options: dict[str, list[str]] | None = None, hidden: tuple[str, ...] = ("_id",)) -> None:
    """A table that takes new rows (type into the empty last row) and deletes selected ones."""
    container.data_editor(frame, key=key, num_rows="dynamic", hide_index=True, width="stretch", placeholder="—",
                          column_config=column_config(st, cols, cur, options, hidden))
