"""Scenario builders shared by the tests: a small scenario builder and a deterministic runner.

A plain module (tests import it as ``from scenario_builders import ...``), not ``conftest.py``:
pytest loads conftest itself, and importing it from a test loads it a second time.

``make_scenario(**overrides)`` starts from :func:`base_dict` (one partner, one outcome, one
commissioner, one senior tranche, yearly periods, uncertainty switched off, so every count is its
expectation and a hand calculation can check the engine) and applies overrides:

- a top-level key (``horizon=...``, ``terms=...``) is merged into the base: dicts merge key by key
  (recursively), lists and scalars replace;
- a dotted path (``**{"outcomes[0].price": 50.0}``) sets one value deep inside, lists included.

``run(s)`` runs :func:`cib_sim.engine.loop.run_paths` on one path (or a few) and returns the flow dict.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import numpy as np

from cib_sim.engine import run_paths
from cib_sim.engine.sample import sample_block
from cib_sim.scenario import Scenario, parse_scenario


def base_dict() -> dict[str, Any]:
    """The hand-checkable base scenario, as a plain dict (a fresh copy each call).

    Five yearly periods. The partner enrols its 10 referrals a year in years 0 and 1 (capacity
    100, one-year service, GBP 500 each, paid over the service); each completer achieves ``job``
    with probability 0.2 + 0.3 = 0.5, verified one year after enrolment and paid GBP 1,000 in full
    by one commissioner with no lag. One senior tranche of GBP 100,000, no coupon.
    """
    return {
        "name": "hand",
        "horizon": {"years": 5, "period": "year"},
        "outcomes": [{"name": "job", "baseline_rate": 0.2, "lag": 1.0, "price": 1000.0}],
        "partners": [
            {
                "name": "P",
                "referrals": 10.0,
                "capacity": 100.0,
                "enrolment_end": 2.0,
                "service_length": 1.0,
                "cost": 500.0,
                "effect": {"job": {"mean": 0.3}},
                "maturity": {"kind": "immediate"},
            }
        ],
        "commissioners": [{"name": "C", "shares": {"job": 1.0}}],
        "tranches": [{"name": "S", "kind": "senior", "commitment": 100_000.0}],
        "uncertainty": {"enabled": False},
    }


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _set_path(d: Any, path: str, value: Any) -> None:
    keys: list[Any] = [int(i) if i else k for k, i in _TOKEN.findall(path)]
    for k in keys[:-1]:
        if isinstance(k, str) and k not in d:
            d[k] = {}
        d = d[k]
    d[keys[-1]] = value


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


def scenario_dict(**overrides: Any) -> dict[str, Any]:
    """:func:`base_dict` with ``overrides`` applied (see the module docstring), as a dict."""
    d = base_dict()
    for key, value in overrides.items():
        if "." in key or "[" in key:
            _set_path(d, key, copy.deepcopy(value))
        else:
            d[key] = _merge(d[key], value) if key in d else copy.deepcopy(value)
    return d


def make_scenario(**overrides: Any) -> Scenario:
    """A validated :class:`Scenario`: the base with ``overrides`` applied."""
    return parse_scenario(scenario_dict(**overrides))


def run(s: Scenario, n_paths: int = 1, seed: int = 0, mode: str = "approx") -> dict[str, np.ndarray]:
    """Flows of ``n_paths`` paths from one seeded block (see ``cib_sim.engine.loop.run_paths``)."""
    draws = sample_block(s, np.random.SeedSequence(seed), n_paths, exact=(mode == "exact"))
    return run_paths(s, draws, mode)  # type: ignore[arg-type]
