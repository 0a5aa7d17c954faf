"""Scenario dict -> the editors' tables, and the editors' edits applied to a table.

Entity tables (outcomes, partners, commissioners, tranches) carry a hidden ``_id`` column: the
row's position in the dict they were built from (``editor_base``). The tables that depend on the
entity lists (:data:`MATRICES`: tiers, partner effects, commissioner shares, the fixed split)
refer to rows by that id and by name, so renaming an outcome carries its column of effects and
shares with it. Number cells are text (``"1,500"``), so that what is typed reaches
:func:`cib_sim.app.compose.compose` as typed. The way back is :mod:`cib_sim.app.compose`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cib_sim.app.cells import clean, format_number
from cib_sim.app.columns import (
    ENTITY_COLS,
    ENTITY_MODEL,
    LIST_TABLES,
    NUMERIC_KINDS,
    SUB_DEFAULTS,
    Col,
    model_defaults,
)
from cib_sim.app.dicts import get_path


def _text_col(values) -> pd.Series:
    return pd.Series(list(values), dtype="object")


def _rows_from_one(df: pd.DataFrame) -> pd.DataFrame:
    """Rows labelled 1, 2, ... as the fixed tables show them (and as messages count them)."""
    df.index = pd.RangeIndex(1, len(df) + 1)
    return df


def _cells(values) -> pd.Series:
    """Numbers as the editors show them (text, read back exactly; see :mod:`cib_sim.app.cells`)."""
    return _text_col(format_number(clean(v)) for v in values)


def entity_frame(kind: str, items: list[dict]) -> pd.DataFrame:
    """One entity list (``outcomes`` ...) as a table with a hidden ``_id`` column. Number cells
    are text (``"1,500"``), so that what is typed reaches :func:`compose` as typed."""
    cols = ENTITY_COLS[kind]
    defaults = model_defaults(ENTITY_MODEL[kind])
    data: dict[str, list] = {"_id": [], **{c.field: [] for c in cols}}
    for i, item in enumerate(items or []):
        item = item if isinstance(item, dict) else {}
        data["_id"].append(i)
        for c in cols:
            if c.field == "seniority":
                v = i + 1
            elif "." in c.field:
                head, tail = c.field.split(".", 1)
                sub = item.get(head) if isinstance(item.get(head), dict) else {}
                v = sub.get(tail, SUB_DEFAULTS[head].get(tail))
            else:
                v = item.get(c.field, defaults.get(c.field))
            if c.kind == "tri":
                v = "by kind" if v is None else ("yes" if v else "no")
            data[c.field].append(v)
    df = pd.DataFrame({k: _text_col(v) for k, v in data.items()})
    for c in cols:
        if c.kind in NUMERIC_KINDS:
            df[c.field] = _cells(df[c.field])
        else:
            df[c.field] = _text_col(None if v is None else str(v) for v in df[c.field])
    df["_id"] = df["_id"].astype("float64")  # new rows come back as NaN
    return df  # rows from 0: a table that takes new rows needs Streamlit's own index


def names_of(items: list) -> list[str]:
    """Each entity's name, ``(row i)`` (from 1) for a row without one."""
    return [str(it.get("name")) if isinstance(it, dict) and it.get("name") is not None else f"(row {i + 1})"
            for i, it in enumerate(items or [])]


def matrix_frame(row_kind: str, rows: list[dict], outcomes: list[dict], value) -> pd.DataFrame:
    """A rows x outcomes table: ``_id`` (row position), a read-only label column named after the
    row kind, one text (number) column per outcome, ``o<j>`` for the j-th outcome.
    ``value(row, outcome_name)``."""
    out_names = names_of(outcomes)
    label = {"partners": "Partner", "commissioners": "Commissioner"}[row_kind]
    data: dict[str, list] = {"_id": [], label: []}
    cols: dict[str, list] = {f"o{j}": [] for j in range(len(out_names))}
    for i, r in enumerate(rows or []):
        r = r if isinstance(r, dict) else {}
        data["_id"].append(float(i))
        data[label].append(names_of(rows)[i])
        for j, o in enumerate(out_names):
            cols[f"o{j}"].append(value(r, o))
    df = pd.DataFrame({"_id": pd.Series(data["_id"], dtype="float64"), label: _text_col(data[label]),
                       **{k: _cells(v) for k, v in cols.items()}})
    return _rows_from_one(df)


def _effect_value(which: str):
    def f(partner: dict, outcome: str):
        eff = partner.get("effect") or {}
        e = eff.get(outcome)
        if not isinstance(e, dict):
            return None
        return e.get(which, 0.0 if which == "sd" else None)
    return f


MATRICES = ("tiers", "schedule", "effect_mean", "effect_sd", "shares", "split")
"""Tables that depend on the entity lists: rebuilt (from the working dict) when those change."""


STEP_TABLES = {"tiers": "price", "schedule": "amount"}
"""Outcomes' step lists, each one table over all outcomes: table -> the step's money column."""


def steps_frame(outcomes: list, field: str, money: str) -> pd.DataFrame:
    """Every outcome's ``field`` steps (``tiers`` or a lump-sum ``schedule``) as one table:
    ``outcome_id`` (hidden: the outcome's row, so a renamed outcome keeps its steps), ``outcome``
    (its name), ``min_improvement`` and ``money`` (``price`` or ``amount``) as text cells."""
    data: dict[str, list] = {"outcome_id": [], "outcome": [], "min_improvement": [], money: []}
    for j, o in enumerate(outcomes):
        for t in (o.get(field) or []) if isinstance(o, dict) and isinstance(o.get(field), list) else []:
            t = t if isinstance(t, dict) else {}
            data["outcome_id"].append(float(j))
            data["outcome"].append(names_of(outcomes)[j])
            data["min_improvement"].append(t.get("min_improvement"))
            data[money].append(t.get(money))
    return pd.DataFrame({
        "outcome_id": pd.Series(data["outcome_id"], dtype="float64"),
        "outcome": _text_col(data["outcome"]),
        "min_improvement": _cells(data["min_improvement"]),
        money: _cells(data[money]),
    })


def list_frame(items: Any, cols: tuple[Col, ...]) -> pd.DataFrame:
    """A list term (deferred fees, break clauses) as a table, one row per item, numbers as text
    cells. Rows from 0: the table takes new rows."""
    items = [it if isinstance(it, dict) else {} for it in (items if isinstance(items, list) else [])]
    df = pd.DataFrame({c.field: _text_col(it.get(c.field) for it in items) for c in cols})
    for c in cols:
        if c.kind in NUMERIC_KINDS:
            df[c.field] = _cells(df[c.field])
        else:
            df[c.field] = _text_col(None if v is None else str(v) for v in df[c.field])
    return df


def build_matrices(d: dict) -> dict[str, pd.DataFrame]:
    """The tables of :data:`MATRICES` for a scenario dict."""
    outcomes = d.get("outcomes") or []
    partners = d.get("partners") or []
    commissioners = d.get("commissioners") or []
    frames = {"tiers": steps_frame(outcomes, "tiers", "price"), "schedule": steps_frame(outcomes, "schedule", "amount")}
    frames["effect_mean"] = matrix_frame("partners", partners, outcomes, _effect_value("mean"))
    frames["effect_sd"] = matrix_frame("partners", partners, outcomes, _effect_value("sd"))
    frames["shares"] = matrix_frame("commissioners", commissioners, outcomes,
                                    lambda c, o: (c.get("shares") or {}).get(o))
    split = get_path(d, "delivery.split", {}) or {}
    split = split if isinstance(split, dict) else {}
    frames["split"] = pd.DataFrame({
        "_id": pd.Series([float(i) for i in range(len(partners))], dtype="float64"),
        "Partner": _text_col(names_of(partners)),
        "share": _cells(split.get(n) for n in names_of(partners)),
    })
    return {k: (v if k in STEP_TABLES else _rows_from_one(v)) for k, v in frames.items()}


def build_frames(d: dict) -> dict[str, pd.DataFrame]:
    """Every editable table of a scenario dict (see :func:`compose` for the way back)."""
    frames = {k: entity_frame(k, d.get(k) or []) for k in ENTITY_COLS}
    frames.update({k: list_frame(get_path(d, path), cols) for k, (path, cols) in LIST_TABLES.items()})
    frames.update(build_matrices(d))
    return frames


def matrix_columns(d: dict) -> dict[str, str]:
    """Matrix column key (``o0`` ...) -> outcome name, for the editors' column labels."""
    return {f"o{j}": n for j, n in enumerate(names_of(d.get("outcomes") or []))}


def apply_edits(frame: pd.DataFrame, state: Any) -> pd.DataFrame:
    """``frame`` with a ``st.data_editor``'s edits applied, as the editor will return it: its
    state ``{"edited_rows": {row: {column: value}}, "added_rows": [{column: value}],
    "deleted_rows": [row]}`` (rows by position). Lets the app read every table, and so know
    every error, before it draws the editors (the tabs' labels carry their error counts)."""
    if not isinstance(state, dict) or not any(state.get(k) for k in ("edited_rows", "added_rows", "deleted_rows")):
        return frame  # unedited (callers do not change it)
    df = frame.copy()
    for r, change in (state.get("edited_rows") or {}).items():
        try:
            i = int(r)
        except (TypeError, ValueError):
            continue
        if 0 <= i < len(df) and isinstance(change, dict):
            for col, v in change.items():
                if col in df.columns:
                    df.iat[i, df.columns.get_loc(col)] = v
    deleted = {int(i) for i in (state.get("deleted_rows") or []) if isinstance(i, (int, float, str)) and str(i).lstrip("-").isdigit()}
    if deleted:
        df = df.drop(index=[df.index[i] for i in sorted(deleted) if 0 <= i < len(df)])
    added = [a for a in (state.get("added_rows") or []) if isinstance(a, dict)]
    if added:
        new = pd.DataFrame([{c: a.get(c) for c in df.columns} for a in added], columns=df.columns)
        df = pd.concat([df, new.astype(df.dtypes.to_dict(), errors="ignore")], ignore_index=True)
    df = df.reset_index(drop=True)
    for c in df.columns:
        if df[c].dtype == "float64":
            continue
        df[c] = df[c].astype("object")
    return df




def row_id(v: Any) -> int | None:
    """A table's ``_id`` cell as a row position; None for a new row."""
    v = clean(v)
    if v is None:
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None
