"""The scenarios shipped with the package, found through :mod:`importlib.resources`, so the library
is there after a plain (non-editable) install as well as in a checkout (where ``scenarios/`` at
the top of the repository is a link to the same folder)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cib_sim.scenario.model import Scenario, load_scenario

PACKAGE = "cib_sim"
FOLDER = ("data", "scenarios")


def library_folder() -> Path:
    """The folder of shipped scenario files (``*.yaml``) and their observed-data examples
    (``observed/*.csv``). Packages installed from a wheel are unpacked, so this is a real folder."""
    return Path(str(resources.files(PACKAGE).joinpath(*FOLDER)))


def shipped_scenarios() -> dict[str, Path]:
    """Shipped scenario files by stem (``"west_london_zone"``), in name order."""
    return {p.stem: p for p in sorted(library_folder().glob("*.yaml"))}


def load_shipped(name: str) -> Scenario:
    """A shipped scenario by stem, e.g. ``load_shipped("peterborough")``; a KeyError names the
    ones there are."""
    files = shipped_scenarios()
    if name not in files:
        raise KeyError(f"no shipped scenario {name!r} (shipped: {', '.join(files)})")
    return load_scenario(files[name])
