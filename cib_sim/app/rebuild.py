"""When the editors must be rebuilt after an edit (:func:`rebuild_needed`).

The app keeps ``editor_base`` (the dict the editors were built from) and Streamlit keeps each
editor's edits against its base table under versioned keys. Rows added or renamed change
:func:`entity_names`: only the tables that depend on them are rebuilt, so the table being typed
into keeps its state. Rows deleted, tranches re-ranked or the currency changed: every editor is
rebuilt from the working dict under a new version, so nothing typed is lost.
"""

from __future__ import annotations

import pandas as pd

from cib_sim.app.cells import number_or_nan
from cib_sim.app.columns import ENTITY_COLS
from cib_sim.app.tables import names_of, row_id


def entity_names(d: dict) -> tuple:
    """What the dependent tables (:data:`MATRICES`) are built on: each entity list's names in
    order. When it changes (a row added, deleted, renamed), they are rebuilt."""
    return tuple(tuple(names_of(d.get(k) or [])) for k in ENTITY_COLS)


def structure(d: dict) -> tuple:
    """What the editors' shape depends on: entity names in order, and the currency (labels)."""
    return (*entity_names(d), str(d.get("currency")))


def tables_restructured(tables: dict[str, pd.DataFrame]) -> bool:
    """True if any entity table has a new or deleted row, or the tranches were re-ranked."""
    return bool(tables_with_deletions(tables)) or _reranked(tables) or any(
        row_id(v) is None for k in ENTITY_COLS for v in tables[k]["_id"])


def _reranked(tables: dict[str, pd.DataFrame]) -> bool:
    sen = [number_or_nan(v) for v in tables["tranches"]["seniority"]]
    ids = [row_id(v) for v in tables["tranches"]["_id"]]
    known = [x for x, i in zip(sen, ids) if i is not None]
    return known != [float(i + 1) for i in range(len(known))]


def tables_with_deletions(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Entity tables from which a loaded row was deleted (their ids are no longer 0, 1, ...)."""
    out = []
    for k in ENTITY_COLS:
        ids = [i for i in (row_id(v) for v in tables[k]["_id"]) if i is not None]
        if ids != list(range(len(ids))):
            out.append(k)
    return out


def rebuild_needed(tables: dict[str, pd.DataFrame], working: dict, editor_base: dict, matrices_built_on: tuple) -> str | None:
    """What the app must rebuild after an edit: ``"all"`` (rows deleted, tranches re-ranked or
    the currency changed: every editor, from the working dict), ``"matrices"`` (rows added or
    renamed: only the tables that depend on them, so the table being typed into is left alone
    and nothing typed into a new row is lost), or None."""
    if tables_with_deletions(tables) or _reranked(tables) or str(working.get("currency")) != str(editor_base.get("currency")):
        return "all"
    if entity_names(working) != matrices_built_on:
        return "matrices"
    return None
