"""Validation of the working dict, and its errors in words: by section (the tabs that carry
their counts), rows counted from 1, columns by their labels; values allowed but probably not
meant (:func:`suspicious`)."""

from __future__ import annotations

import re

from cib_sim.app.columns import (
    ENTITY_COLS,
    LIST_LABELS,
    LIST_TABLES,
    SCALARS,
    SECTIONS,
    STEP_COLS,
    TIER_COLS,
)
from cib_sim.app.dicts import get_path
from cib_sim.scenario import Scenario, ScenarioError, parse_scenario


def validate(d: dict) -> tuple[Scenario | None, list[tuple[str, str]]]:
    """The scenario, or None and the errors as ``(field path, reason)``. Never raises."""
    try:
        return parse_scenario(d), []
    except ScenarioError as exc:
        return None, list(exc.errors)
    except Exception as exc:  # noqa: BLE001 - the app must never fall over on a bad edit
        return None, [("", f"could not read the scenario: {exc}")]


def check(d: dict, cell_problems: list[tuple[str, str]] = ()) -> tuple[Scenario | None, list[tuple[str, str]]]:
    """:func:`validate`, with the cells that are not numbers: the scenario is None while any is
    left, and the model's own message for such a cell gives way to "not a number"."""
    scenario, errors = validate(d)
    cells = list(cell_problems)
    bad = {p for p, _ in cells}
    errors = cells + [(p, r) for p, r in errors if p not in bad]
    return (scenario if not cells else None), errors


def section_of(path: str) -> str:
    """The app section an error path belongs to (``outcomes[0].price`` -> ``outcomes``)."""
    head = path.split(".", 1)[0].split("[", 1)[0]
    if head in SECTIONS:
        return head
    if head in ("terms", "breaks"):
        return "backbone"
    return "general"


def errors_by_section(errors: list[tuple[str, str]], d: dict | None = None) -> dict[str, list[str]]:
    """Errors grouped by section, each a line naming the row (from 1) and the column."""
    out: dict[str, list[str]] = {}
    for path, reason in errors:
        out.setdefault(section_of(path), []).append(describe_error(path, reason, d, with_section=False))
    return out


_COL_LABEL = {k: {c.field: c.label for c in cols} for k, cols in ENTITY_COLS.items()}
_STEP_LABEL = {"tiers": ("Tier", {c.field: c.label for c in TIER_COLS}),
               "schedule": ("Lump-sum step", {c.field: c.label for c in STEP_COLS})}
_LIST_LABEL = {path: (LIST_LABELS[k], {c.field: c.label for c in cols}) for k, (path, cols) in LIST_TABLES.items()}
_SCALAR_LABEL = {f.path: f.label for fs in SCALARS.values() for f in fs}


def _field_label(kind: str, rest: str, cur: str) -> str:
    if rest in _COL_LABEL.get(kind, {}):
        return _COL_LABEL[kind][rest].format(cur=cur)
    if rest.startswith("effect."):
        outcome, _, which = rest[len("effect."):].rpartition(".")
        if which in ("mean", "sd") and outcome:
            return f"Effect on {outcome}" + (" (sd)" if which == "sd" else "")
        return f"Effect on {rest[len('effect.'):]}"
    if rest.startswith("shares."):
        return f"Share of {rest[len('shares.'):]}"
    for steps, (what, labels) in _STEP_LABEL.items():
        if rest.startswith(f"{steps}["):
            j, _, field = rest[len(steps) + 1:].partition("]")
            label = labels.get(field.lstrip("."), field.lstrip(".")).format(cur=cur)
            return f"{what} {int(j) + 1 if j.isdigit() else j}" + (f", {label}" if label else "")
    if rest == "schedule":
        return "Lump-sum schedule"
    if rest == "tiers":
        return "Tiers"
    return rest


def describe_error(path: str, reason: str, d: dict | None = None, with_section: bool = True) -> str:
    """A problem in words, rows counted from 1: ``Partners · row 5 (Mentoring) · Cost
    (GBP/participant): must be >= 0``; a single field: ``Horizon · Contract length (years): ...``."""
    cur = str((d or {}).get("currency") or "GBP")
    section = SECTIONS.get(section_of(path), "Scenario") if path else "Scenario"
    parts = [section] if with_section else []
    m = re.match(r"^(outcomes|partners|commissioners|tranches)\[(\d+)\](?:\.(.*))?$", path or "")
    if m:
        kind, i, rest = m.group(1), int(m.group(2)), m.group(3) or ""
        items = (d or {}).get(kind) or []
        name = items[i].get("name") if 0 <= i < len(items) and isinstance(items[i], dict) else None
        parts.append(f"row {i + 1}" + (f" ({name})" if isinstance(name, str) and name else ""))
        if rest:
            parts.append(_field_label(kind, rest, cur))
    elif path in _SCALAR_LABEL:
        parts.append(_SCALAR_LABEL[path].format(cur=cur))
    elif (lm := re.match(r"^(terms\.deferred_fees|breaks)(?:\[(\d+)\])?(?:\.(.*))?$", path or "")):
        title, labels = _LIST_LABEL[lm.group(1)]
        parts.append(title)
        if lm.group(2) is not None:
            j = int(lm.group(2))
            items = get_path(d or {}, lm.group(1)) or []
            item = items[j] if isinstance(items, list) and 0 <= j < len(items) and isinstance(items[j], dict) else {}
            name = item.get("name")
            parts.append(f"row {j + 1}" + (f" ({name})" if isinstance(name, str) and name else ""))
        if lm.group(3):
            parts.append(labels.get(lm.group(3), lm.group(3)).format(cur=cur))
    elif path.startswith("delivery.split."):
        parts.append(f"Fixed split, {path[len('delivery.split.'):]}")
    elif path and path not in ("outcomes.tiers", "outcomes.schedule"):
        parts.append(path)
    return " · ".join(parts) + f": {reason}" if parts else reason


def suspicious(d: dict, known: dict | None = None) -> list[tuple[str, str]]:
    """Values that are allowed but probably not meant, as ``(path, reason)``: mostly the model's
    defaults that a new row takes for its empty cells. ``known``: the scenario as loaded (rows
    whose names it has are not new)."""
    def names(k: str) -> set:
        return {x.get("name") for x in ((known or {}).get(k) or []) if isinstance(x, dict)}

    out: list[tuple[str, str]] = []
    zone = get_path(d, "delivery.model") == "zone"
    old_p = names("partners")
    for i, p in enumerate(d.get("partners") or []):
        if not isinstance(p, dict) or p.get("name") in old_p:
            continue
        if p.get("cost") == 0:
            out.append((f"partners[{i}].cost", "0 for a new partner: is the cost per participant left empty?"))
        if zone and p.get("reach") == 1:
            out.append((f"partners[{i}].reach", "1: every participant in the zone gets this partner; is that meant?"))
        if not any(isinstance(e, dict) and e.get("mean") for e in (p.get("effect") or {}).values()):
            out.append((f"partners[{i}]", "a new partner with no effect on any outcome (Effect at full maturity, below)"))
    old_c = names("commissioners")
    for i, c in enumerate(d.get("commissioners") or []):
        if isinstance(c, dict) and c.get("name") not in old_c and not any((c.get("shares") or {}).values()):
            out.append((f"commissioners[{i}]", "a new commissioner that pays no share of any outcome"))
    old_o = names("outcomes")
    for i, o in enumerate(d.get("outcomes") or []):
        if isinstance(o, dict) and o.get("name") not in old_o and o.get("price") == 0 and o.get("payment_basis") != "tiered":
            out.append((f"outcomes[{i}].price", "0 for a new outcome: is the price left empty?"))
    return out
