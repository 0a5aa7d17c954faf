"""The editors' tables and inputs -> the working scenario dict (:func:`compose`).

Every number cell is read exactly (:class:`cib_sim.app.cells.CellReader`); a cell that is not a
number keeps its text in the dict and is reported as ``(path, reason)``, paths counting rows from
0 as the model does (messages count them from 1, :mod:`cib_sim.app.validation`). Each entity row
starts from its base item (so fields the table does not show are kept); a new row's empty cells
take the model's defaults; a new row still blank is not part of the scenario yet.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from cib_sim.app.cells import CellReader, clean
from cib_sim.app.columns import (
    ENTITY_COLS,
    ENTITY_DEFAULTS,
    LIST_TABLES,
    NUMERIC_KINDS,
    OPTIONAL_SUBS,
    REQUIRED,
    REQUIRED_SCALARS,
    SCALAR_KIND,
    SUB_DEFAULTS,
    Col,
)
from cib_sim.app.dicts import drop_path, ordered, set_path
from cib_sim.app.tables import STEP_TABLES, matrix_columns, names_of, row_id


def _entity_rows(kind: str, df: pd.DataFrame, base_items: list[dict], reader: CellReader | None = None,
                 ) -> tuple[list[dict], list[int]]:
    """Entity dicts from an edited table, starting from the base item of each row (so fields
    the table does not show are kept), and each row's id: its position in ``base_items``, or
    for a new row ``len(base_items)`` + its place among the new rows."""
    reader = reader or CellReader()
    cols = ENTITY_COLS[kind]
    items, ids = [], []
    n_new = 0
    for pos, (_, row) in enumerate(df.iterrows()):
        rid = row_id(row.get("_id"))
        known = rid is not None and 0 <= rid < len(base_items) and isinstance(base_items[rid], dict)
        if not known and all(clean(row.get(c.field)) is None for c in cols if c.kind not in ("tri",)):
            continue  # a new row still blank (being typed into): not part of the scenario yet
        item = copy.deepcopy(base_items[rid]) if known else {}
        if not known:
            rid = len(base_items) + n_new
            n_new += 1
        for c in cols:
            if c.field == "seniority":
                continue
            v = clean(row.get(c.field))
            if c.kind in NUMERIC_KINDS:
                v = reader.num(v, f"{kind}[{pos}].{c.field}")
            if v is None and not known:
                # A new row: an empty cell takes the model's default (flagged by `suspicious`).
                if "." in c.field:
                    head, tail = c.field.split(".", 1)
                    v = SUB_DEFAULTS[head].get(tail)
                else:
                    v = ENTITY_DEFAULTS[kind].get(c.field)
            if c.kind == "tri":
                v = None if v in (None, "by kind") else (v == "yes")
            if "." in c.field:
                head, tail = c.field.split(".", 1)
                sub = dict(item.get(head) or {})
                if v is None:
                    sub.pop(tail, None)
                else:
                    sub[tail] = v
                item[head] = sub
            else:
                item[c.field] = v
        for head, applies in OPTIONAL_SUBS.items():
            if head in item and kind == "outcomes" and not applies(item):
                del item[head]
        # An empty required field is left out, so the error says "required".
        for f in REQUIRED[kind]:
            if item.get(f, 0) is None:
                del item[f]
        items.append(item)
        ids.append(rid)
    return items, ids


def _match_rows(df: pd.DataFrame, label_col: str | None, names: list, ids: list[int]) -> list[tuple[int, Any]]:
    """Rows of a dependent table matched to current entities: ``(position, row)``.

    A row carries the id and the name its entity had when the table was built. The name is
    tried first (so deleting a new row does not hand its effects to the next one), then the
    id (so renaming keeps them); an entity takes at most one row."""
    pos_by_id = {rid: i for i, rid in enumerate(ids)}
    pos_by_name = {n: i for i, n in enumerate(names) if n is not None}
    rows = list(df.iterrows())
    taken: dict[int, Any] = {}
    rest = []
    for _, row in rows:
        label = clean(row.get(label_col)) if label_col else None
        if label is not None and label in pos_by_name and pos_by_name[label] not in taken:
            taken[pos_by_name[label]] = row
        else:
            rest.append(row)
    for row in rest:
        rid = row_id(row.get("_id"))
        if rid in pos_by_id and pos_by_id[rid] not in taken:
            taken[pos_by_id[rid]] = row
    return sorted(taken.items(), key=lambda t: t[0])


def _outcome_cols(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if isinstance(c, str) and c.startswith("o") and c[1:].isdigit()]


def compose(editor_base: dict, scalars: dict[str, Any], tables: dict[str, pd.DataFrame],
            problems: list[tuple[str, str]] | None = None, column_names: dict[str, str] | None = None) -> dict:
    """The working scenario dict: ``editor_base`` with the inputs' values (``path -> value``)
    and the edited tables (as :func:`build_frames` made them, after the user's edits).

    Cells that are not numbers are appended to ``problems`` as ``(path, reason)`` and keep their
    text in the dict. ``column_names``: matrix column (``o<j>``) -> the outcome's name when the
    matrices were built (default: the outcomes of ``editor_base``)."""
    reader = CellReader()
    d = copy.deepcopy(editor_base)
    for path, v in scalars.items():
        v = clean(v) if not isinstance(v, bool) else v
        if isinstance(v, (dt.date, dt.datetime)):
            v = v.isoformat()
        if SCALAR_KIND.get(path) == "number" or (isinstance(v, (int, float)) and not isinstance(v, bool)):
            v = reader.num(v, path)
        if path == "description" and v is None:
            v = ""
        set_path(d, path, v)
        if v is None and path in REQUIRED_SCALARS:
            drop_path(d, path)  # so the error says "required"

    base_out = editor_base.get("outcomes") or []

    # Entity tables
    outcomes, out_ids = _entity_rows("outcomes", tables["outcomes"], base_out, reader)
    partners, part_ids = _entity_rows("partners", tables["partners"], editor_base.get("partners") or [], reader)
    commissioners, comm_ids = _entity_rows("commissioners", tables["commissioners"],
                                           editor_base.get("commissioners") or [], reader)
    tdf = tables["tranches"].copy()
    sort_key = []
    for i, v in enumerate(tdf["seniority"]):
        x = reader.num(v, f"tranches[{i}].seniority")
        sort_key.append(x if isinstance(x, float) else np.inf)
    tdf["_sort"] = sort_key
    tdf = tdf.sort_values("_sort", kind="stable")
    tranches, _ = _entity_rows("tranches", tdf, editor_base.get("tranches") or [], reader)

    out_names = [o.get("name") for o in outcomes]
    part_names = [p.get("name") for p in partners]
    comm_names = [c.get("name") for c in commissioners]
    out_pos_by_id = {rid: i for i, rid in enumerate(out_ids)}
    built_names = column_names if column_names is not None else matrix_columns(editor_base)

    def col_outcome(col: str) -> str | None:
        """The outcome a matrix column now stands for: by its name when built, else its id."""
        was = built_names.get(col)
        if was is not None and was in out_names:
            return was
        pos = out_pos_by_id.get(int(col[1:]))
        return None if pos is None else out_names[pos]

    # Tiers and lump-sum schedules: every outcome's steps come from their table.
    for table, money in STEP_TABLES.items():
        steps = _steps_by_outcome(tables[table], table, money, out_names, out_pos_by_id, reader)
        for i, o in enumerate(outcomes):
            o[table] = steps.get(i, [])

    # List terms: deferred fees, break clauses.
    for table, (path, cols) in LIST_TABLES.items():
        if table in tables:
            set_path(d, path, _list_rows(tables[table], cols, path, reader))

    # Partner effects from the two matrices.
    for p in partners:
        p["effect"] = {}
    mean_df, sd_df = tables["effect_mean"], tables["effect_sd"]
    sd_rows = dict(_match_rows(sd_df, "Partner", part_names, part_ids))
    for pos, row in _match_rows(mean_df, "Partner", part_names, part_ids):
        p = partners[pos]
        sd_row = sd_rows.get(pos)
        for col in _outcome_cols(mean_df):
            oname = col_outcome(col)
            if oname is None:
                continue
            m = reader.num(row.get(col), f"partners[{pos}].effect.{oname}.mean")
            s = reader.num(sd_row.get(col), f"partners[{pos}].effect.{oname}.sd") if sd_row is not None else None
            if m is None and s is None:
                continue
            e: dict[str, Any] = {}
            if m is not None:
                e["mean"] = m
            if s is not None:
                e["sd"] = s
            p["effect"][oname] = e

    # Commissioner shares.
    for c in commissioners:
        c["shares"] = {}
    for pos, row in _match_rows(tables["shares"], "Commissioner", comm_names, comm_ids):
        c = commissioners[pos]
        for col in _outcome_cols(tables["shares"]):
            oname = col_outcome(col)
            if oname is None:
                continue
            v = reader.num(row.get(col), f"commissioners[{pos}].shares.{oname}")
            if v is not None:
                c["shares"][oname] = v

    # Fixed attribution split, by partner.
    split: dict[str, Any] = {}
    for pos, row in _match_rows(tables["split"], "Partner", part_names, part_ids):
        name = partners[pos].get("name")
        v = reader.num(row.get("share"), f"delivery.split.{name}")
        if v is not None and name is not None:
            split[str(name)] = v
    if not isinstance(d.get("delivery"), dict):
        d["delivery"] = {}
    d["delivery"]["split"] = split

    d["outcomes"], d["partners"], d["commissioners"], d["tranches"] = outcomes, partners, commissioners, tranches
    if problems is not None:
        problems.extend(reader.problems)
    return ordered(d)


def _blank(row: Any, cols: list[str]) -> bool:
    return all(clean(row.get(c)) is None for c in cols)


def _steps_by_outcome(df: pd.DataFrame, field: str, money: str, out_names: list, out_pos_by_id: dict[int, int],
                      reader: CellReader) -> dict[int, list[dict]]:
    """A steps table (tiers or lump-sum schedules) as each outcome's steps, by the outcome's
    position: a row goes to the outcome named in it, else to the outcome it was built for. Rows
    not attached to an outcome are left out (:func:`table_problems` names them); blank new rows
    too."""
    out: dict[int, list[dict]] = {}
    for _, row in df.iterrows():
        label = clean(row.get("outcome"))
        oid = row_id(row.get("outcome_id"))
        if label is not None and label in out_names:
            pos = out_names.index(label)
        elif label is None and oid in out_pos_by_id:
            pos = out_pos_by_id[oid]
        else:
            continue
        j = len(out.get(pos, []))
        out.setdefault(pos, []).append({
            "min_improvement": reader.num(row.get("min_improvement"), f"outcomes[{pos}].{field}[{j}].min_improvement"),
            money: reader.num(row.get(money), f"outcomes[{pos}].{field}[{j}].{money}")})
    return out


def _list_rows(df: pd.DataFrame, cols: tuple[Col, ...], path: str, reader: CellReader) -> list[dict]:
    """A list term's table as its items: numbers read exactly (``path[i].field`` named when not
    a number), empty cells left out (so the model's default applies, or its error says
    "required"), blank rows (a new row not typed into yet) skipped."""
    items: list[dict] = []
    for _, row in df.iterrows():
        if _blank(row, [c.field for c in cols]):
            continue
        item: dict[str, Any] = {}
        for c in cols:
            v = clean(row.get(c.field))
            if c.kind in NUMERIC_KINDS:
                v = reader.num(v, f"{path}[{len(items)}].{c.field}")
            if v is not None:
                item[c.field] = v
        items.append(item)
    return items


def table_problems(working: dict, tables: dict[str, pd.DataFrame]) -> list[tuple[str, str]]:
    """Problems the scenario model cannot see because :func:`compose` could not place a row:
    a tier or lump-sum step whose outcome is not chosen. As ``(path, reason)``, like validation
    errors."""
    names = names_of(working.get("outcomes") or [])
    out = []
    for table, money in STEP_TABLES.items():
        what = {"tiers": "tier", "schedule": "lump-sum step"}[table]
        for i, (_, row) in enumerate(tables[table].iterrows()):
            label = clean(row.get("outcome"))
            oid = row_id(row.get("outcome_id"))
            if label is None and oid is None:
                if not _blank(row, ["min_improvement", money]):
                    out.append((f"outcomes.{table}", f"{what} row {i + 1}: choose the outcome it belongs to"))
            elif label is not None and label not in names:
                out.append((f"outcomes.{table}", f"{what} row {i + 1}: unknown outcome {label!r}"))
    return out
