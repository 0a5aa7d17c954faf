"""Dotted paths to any scenario field, for sweeps, stress tests and the solver.

A path names fields with dots; a list item by its ``name`` or its index, a mapping entry by its key::

    outcomes.engagement.price                  # the outcome named "engagement"
    partners.Mentoring.effect.engagement.mean  # an effect, by partner name then outcome
    commissioners.Schools.shares.engagement    # a commissioner's share of one outcome
    tranches[0].commitment  or  tranches.0.commitment
    partners.*.exit_hazard                     # every partner at once (setting only)

Names may contain spaces (``tranches.Senior social lender.commitment``) and dots (the longest
matching name wins). Setting values revalidates the whole scenario with
:func:`cib_sim.scenario.parse_scenario`, so a bad value is a :class:`~cib_sim.scenario.ScenarioError`
naming the field path and the reason. An unknown path is a :class:`FieldPathError` naming the
nearest valid paths.

Besides field paths, a few *multipliers* scale a group of fields at once (``price_multiplier``:
every outcome price and tier price; ``effect_multiplier``; ``referral_multiplier``); they are
defined here (:data:`MULTIPLIERS`) and accepted wherever a path is (see :func:`apply`); the
shocks of :mod:`cib_sim.analysis.shocks` use them too.
"""

from __future__ import annotations

import copy
import difflib
import re
from typing import Any, Callable

import numpy as np

from cib_sim.errors import InputError
from cib_sim.scenario import Scenario, ScenarioError, parse_scenario


class FieldPathError(InputError, KeyError):
    """A dotted path that names no field of the scenario; the message lists the nearest ones.
    Bad input (an :class:`~cib_sim.errors.InputError` with one ``(path, reason)`` pair), and a
    ``KeyError`` as it always was."""

    def __init__(self, path: str, reason: str, suggestions: list[str]):
        self.path, self.reason, self.suggestions = path, reason, list(suggestions)
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__([(path, f"{reason}{hint}")])

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]

    def __reduce__(self):
        return (type(self), (self.path, self.reason, self.suggestions))


_TOKEN = re.compile(r"\[([^\]]*)\]")


def _split(path: str) -> list[str]:
    """``"tranches[0].commitment"`` -> ``["tranches", "0", "commitment"]``."""
    if not isinstance(path, str) or not path.strip():
        raise FieldPathError(str(path), "empty path", [])
    return [part for part in _TOKEN.sub(r".\1", path.strip()).split(".") if part != ""]


def _list_index(items: list, parts: list[str], i: int) -> tuple[list[int], int]:
    """Indices of the list items ``parts[i:]`` starts with, and how many parts the name used."""
    token = parts[i]
    if token == "*":
        return list(range(len(items))), 1
    names = [it.get("name") if isinstance(it, dict) else None for it in items]
    # Longest name first, so "a.b" wins over "a" for a name containing a dot.
    for used in range(len(parts) - i, 0, -1):
        cand = ".".join(parts[i : i + used])
        if cand in names:
            return [names.index(cand)], used
    if re.fullmatch(r"-?\d+", token):
        k = int(token)
        if -len(items) <= k < len(items):
            return [k % len(items)], 1
    return [], 1


def locate(data: dict, path: str, extra: list[str] | None = None) -> list[tuple[Any, Any]]:
    """``(container, key)`` for every field ``path`` names in ``data`` (a model dump), so that
    ``container[key]`` is the value. ``extra``: other valid names, offered as suggestions."""
    parts = _split(path)
    root = {"_": data}
    targets: list[tuple[Any, Any]] = [(root, "_")]
    i = 0
    while i < len(parts):
        nxt: list[tuple[Any, Any]] = []
        used = 1
        for container, key in targets:
            node, token = container[key], parts[i]
            if isinstance(node, list):
                idx, used = _list_index(node, parts, i)
                nxt.extend((node, k) for k in idx)
            elif isinstance(node, dict):
                if token == "*":
                    nxt.extend((node, k) for k in node)
                elif token in node:
                    nxt.append((node, token))
                elif i == len(parts) - 1 and _is_mapping_field(parts[:i]):
                    nxt.append((node, token))  # a new key of a free mapping (shares, effect, split)
        if not nxt:
            prefix = ".".join(parts[:i])
            raise FieldPathError(path, f"no field {parts[i]!r} at {prefix or 'the top level'}", _nearest(path, data, extra))
        targets, i = nxt, i + used
    return targets


_FREE_MAPPINGS = {("commissioners", "shares"), ("delivery", "split"), ("partners", "effect")}


def _is_mapping_field(parts: list[str]) -> bool:
    """Is the node at ``parts`` a mapping keyed by outcome or partner names, to which a new
    entry may be added (``commissioners.Schools.shares.new_outcome``)?"""
    return bool(parts) and (parts[0], parts[-1]) in _FREE_MAPPINGS


def field_paths(scenario: Scenario | dict, leaves_only: bool = True) -> list[str]:
    """Every valid dotted path of ``scenario``, list items by name (or index where unnamed)."""
    data = scenario.model_dump() if isinstance(scenario, Scenario) else scenario
    out: list[str] = []

    def rec(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            if prefix and not leaves_only:
                out.append(prefix)
            for k, v in node.items():
                rec(v, f"{prefix}.{k}" if prefix else str(k))
        elif isinstance(node, list) and node and isinstance(node[0], dict):
            if not leaves_only:
                out.append(prefix)
            for j, item in enumerate(node):
                label = item.get("name", j)
                rec(item, f"{prefix}.{label}")
        else:
            out.append(prefix)

    rec(data, "")
    return out


def _nearest(path: str, data: dict, extra: list[str] | None = None) -> list[str]:
    return difflib.get_close_matches(path, field_paths(data, leaves_only=False) + (extra or []), n=3, cutoff=0.4)


def get_field(scenario: Scenario, path: str) -> Any:
    """The value at ``path`` (a list of values for a ``*`` path)."""
    data = scenario.model_dump()
    hits = locate(data, path)
    for c, k in hits:
        if isinstance(c, dict) and k not in c:
            raise FieldPathError(path, f"no entry {k!r}", _nearest(path, data))
    vals = [c[k] for c, k in hits]
    return vals if "*" in _split(path) else vals[0]


def check_path(scenario: Scenario, path: str) -> None:
    """Raise :class:`FieldPathError` unless ``path`` is a field path or a known multiplier."""
    if path in MULTIPLIERS:
        return
    data = scenario.model_dump()
    locate(data, path, extra=list(MULTIPLIERS))


def set_fields(scenario: Scenario, values: dict[str, Any]) -> Scenario:
    """A new scenario with each ``path: value`` set (or multiplier applied), revalidated.

    Raises :class:`FieldPathError` for an unknown path and :class:`ScenarioError` (field path and
    reason, prefixed with what was being set) for a value the scenario rejects.
    """
    data = scenario.model_dump()
    multipliers = []
    for path, value in values.items():
        if path in MULTIPLIERS:
            multipliers.append((path, value))
            continue
        for container, key in locate(data, path, extra=list(MULTIPLIERS)):
            container[key] = copy.deepcopy(value)
    try:
        out = parse_scenario(data)
    except ScenarioError as exc:
        what = ", ".join(f"{p}={v!r}" for p, v in values.items())
        raise ScenarioError([(p, f"{m} (after setting {what})") for p, m in exc.errors]) from None
    for path, value in multipliers:
        out = MULTIPLIERS[path](out, value)
    return out


def apply(scenario: Scenario, path: str, value: Any) -> Scenario:
    """``set_fields(scenario, {path: value})``."""
    return set_fields(scenario, {path: value})


def parse_value(text: str) -> Any:
    """A CLI value: a number if it reads as one, ``true``/``false``/``null``, else the text."""
    t = text.strip()
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "none", "~"):
        return None
    return t


# --------------------------------------------------------------------------------------------
# Edits that span fields: revalidated copies, and the levers that scale a group of fields


def check_names(kind: str, given: tuple[str, ...] | None, known: list[str], where: str | None = None) -> None:
    """Raise :class:`FieldPathError` for a name in ``given`` that is not in ``known``, naming
    ``where`` the name came from (default: the name itself)."""
    for name in given or ():
        if name not in known:
            near = difflib.get_close_matches(name, known, n=3, cutoff=0.4)
            if where is None:
                raise FieldPathError(name, f"unknown {kind} (known: {', '.join(known)})", near)
            raise FieldPathError(where, f"no {kind} named {name!r} (known: {', '.join(known)})", near)


def updated(s: Scenario, **changes: Any) -> Scenario:
    """A copy of ``s`` with top-level changes, revalidated (cross-field checks included); a bad
    value is a :class:`~cib_sim.scenario.ScenarioError` naming the field."""
    return parse_scenario({**s.model_dump(), **changes})


def scale_prices(s: Scenario, factor: float, outcomes: tuple[str, ...] | None = None) -> Scenario:
    """Every price on the rate card (tier prices too) times ``factor``, for the named outcomes
    (default all). Caps (per participant, budgets, totals) are contract terms and stay."""
    check_names("outcome", outcomes, s.outcome_names)
    out = []
    for o in s.model_dump()["outcomes"]:
        if outcomes is None or o["name"] in outcomes:
            o["price"] *= factor
            for t in o["tiers"]:
                t["price"] *= factor
        out.append(o)
    return updated(s, outcomes=out)


def scale_effects(
    s: Scenario, factor: float, partners: tuple[str, ...] | None = None, outcomes: tuple[str, ...] | None = None
) -> Scenario:
    """Effects times ``factor``: the mean and the sd of each (so the drawn effect is ``factor``
    times what it would have been), for the named partners and outcomes (default all)."""
    check_names("partner", partners, s.partner_names)
    check_names("outcome", outcomes, s.outcome_names)
    out = []
    for p in s.model_dump()["partners"]:
        if partners is None or p["name"] in partners:
            for o, e in p["effect"].items():
                if outcomes is None or o in outcomes:
                    e["mean"] = float(np.clip(e["mean"] * factor, -1.0, 1.0))
                    e["sd"] = float(min(1.0, e["sd"] * abs(factor)))
        out.append(p)
    return updated(s, partners=out)


def scale_referrals(s: Scenario, factor: float, partners: tuple[str, ...] | None = None) -> Scenario:
    """Expected referrals times ``factor``: the zone's, or each named partner's (default all)."""
    check_names("partner", partners, s.partner_names)
    if s.delivery.model == "zone":
        d = s.delivery.model_dump()
        d["referrals"] = (d["referrals"] or 0.0) * factor
        return updated(s, delivery=d)
    out = []
    for p in s.model_dump()["partners"]:
        if (partners is None or p["name"] in partners) and p["referrals"] is not None:
            p["referrals"] *= factor
        out.append(p)
    return updated(s, partners=out)


MULTIPLIERS: dict[str, Callable[[Scenario, float], Scenario]] = {
    "price_multiplier": scale_prices,
    "effect_multiplier": scale_effects,
    "referral_multiplier": scale_referrals,
}
"""Levers that scale a group of fields, usable wherever a field path is (sweeps, the solver)."""
