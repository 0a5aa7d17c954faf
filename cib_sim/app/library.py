"""Scenarios in: the shipped library and uploaded YAML, as plain dicts for the editors."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from cib_sim.app.dicts import drop_path, jsonable
from cib_sim.scenario import (
    Scenario,
    ScenarioError,
    library_folder,
    parse_scenario,
    parse_yaml,
)

LIBRARY = library_folder()
DEFAULT_SCENARIO = "west_london_zone.yaml"


def library(folder: Path | str = LIBRARY) -> dict[str, Path]:
    """Scenario files in ``folder``: label (``name (file)``) -> path, the default first.

    Each file is read once (the labels are kept while its size and time stamp are unchanged):
    the app asks for the library on every rerun."""
    folder = Path(folder)
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    files.sort(key=lambda p: (p.name != DEFAULT_SCENARIO, p.name))
    stamps = []
    for p in files:
        try:
            st = p.stat()
            stamps.append((str(p), st.st_mtime_ns, st.st_size))
        except OSError:
            stamps.append((str(p), 0, 0))
    return {label: Path(path) for label, path in _labels(tuple(stamps))}


@lru_cache(maxsize=16)
def _labels(stamps: tuple[tuple[str, int, int], ...]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for path, _, _ in stamps:
        p = Path(path)
        name = None
        try:
            data = parse_yaml(p.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                name = data.get("name")
        except (OSError, UnicodeDecodeError, ScenarioError):
            pass
        out.append((f"{name} ({p.name})" if name else p.name, path))
    return tuple(out)


def read_yaml(text: str | bytes) -> tuple[dict | None, list[tuple[str, str]]]:
    """A scenario dict from YAML text, and its validation errors (``[]`` if valid).

    Returns ``(None, errors)`` when the text is not YAML or not a mapping: nothing to edit."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        data = parse_yaml(text)  # duplicate keys and deep nesting are errors, as on load
    except ScenarioError as exc:
        return None, list(exc.errors)
    if not isinstance(data, dict):
        return None, [("", f"a scenario must be a mapping of fields, not {type(data).__name__}")]
    try:
        s = parse_scenario(data)
    except ScenarioError as exc:
        # Unknown (misspelt) fields have no place in the editor: drop them and say so; keep
        # every other value, valid or not, for the user to fix in the app.
        data = jsonable(data)
        out = []
        for path, reason in exc.errors:
            if reason.startswith("unknown field") and drop_path(data, path):
                out.append((path, f"{reason}; left out"))
            else:
                out.append((path, reason))
        return data, out
    return scenario_dict(s), []


def scenario_dict(s: Scenario) -> dict:
    """The scenario as a plain (JSON-able) dict with every field."""
    return s.model_dump(mode="json")
