"""Checks of the options of a run (``simulate``, :func:`cib_sim.analysis.run` and the analyses),
each a bad-input error naming the argument: ``n_paths: must be a whole number >= 1 (got 2.5)``."""

from __future__ import annotations

from typing import Any

import numpy as np

from cib_sim.errors import bad

COUNT_MODES = ("approx", "exact", "expected")


def whole_number(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int if it is a whole number (not a bool, not a float) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise bad(name, f"must be a whole number >= {minimum} (got {value!r})")
    return int(value)


def count_mode(name: str, mode: Any) -> str:
    """``mode`` if it names a way of counting (``approx``, ``exact``, ``expected``)."""
    if not isinstance(mode, str) or mode not in COUNT_MODES:
        raise bad(name, f"must be one of {', '.join(map(repr, COUNT_MODES))} (got {mode!r})")
    return mode


def progress_option(progress: Any) -> Any:
    """``progress`` if it is None, True, False or a callable ``(done, total)``."""
    if progress is None or isinstance(progress, bool) or callable(progress):
        return progress
    raise bad("progress", f"must be True, False, None or a callable (done, total) (got {progress!r})")
