"""Plain scenario dicts: dotted paths in and out, JSON-able values, the model's key order."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from cib_sim.scenario import Scenario

_ORDER = list(Scenario.model_fields)


def jsonable(x: Any) -> Any:
    """``x`` with string keys, lists for tuples and ISO text for dates."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (dt.date, dt.datetime)):
        return x.isoformat()
    return x


def get_path(d: dict, path: str, default: Any = None) -> Any:
    """``d["horizon"]["years"]`` for ``"horizon.years"``; ``default`` when any part is missing."""
    cur: Any = d
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def set_path(d: dict, path: str, value: Any) -> None:
    """Set ``"horizon.years"`` in ``d``, creating the mappings on the way."""
    parts = path.split(".")
    cur = d
    for part in parts[:-1]:
        if not isinstance(cur.get(part), dict):
            cur[part] = {}
        cur = cur[part]
    cur[parts[-1]] = value


def drop_path(d: Any, path: str) -> bool:
    """Delete ``outcomes[0].prise`` from ``d``; True if it was there."""
    keys: list[Any] = [int(i) if i else k for k, i in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path)]
    try:
        for k in keys[:-1]:
            d = d[k]
        del d[keys[-1]]
        return True
    except (KeyError, IndexError, TypeError):
        return False


def ordered(d: dict) -> dict:
    """Top-level keys in the model's order (so YAML reads the way the model is documented)."""
    out = {k: d[k] for k in _ORDER if k in d}
    out.update({k: v for k, v in d.items() if k not in out})
    return out
