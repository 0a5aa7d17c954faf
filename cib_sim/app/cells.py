"""Numbers typed by a person: read them exactly, or say why not.

Every number the app's editors take (table cells and single fields) is a text cell, read here,
so that nothing typed is silently changed: a browser's number field turns ``1e3`` into ``13`` and
``1,5OO`` into ``15``; here the first is 1000 and the second is an error that names the cell.

Accepted (spaces around are ignored; ``−`` counts as a minus sign)::

    1500   1500.25   .5   -3   +3
    1,500   1,500,000.5          commas only between groups of three digits
    1e3   2.5E-2                 scientific notation
    1.5k   2m   1.2bn            thousand, million, billion (any case)
    25%                          a hundredth: 0.25
    £1,500   $2m   €300          a currency sign in front is ignored

Anything else (``1,5``, ``1.5.2``, ``abc``, ``nan``, ``inf``, ``1,5OO``) is "not a number".
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd

_NUMBER = re.compile(
    r"""^(?P<sign>[+\-\u2212]?)\s*
        (?:[£$€]\s*)?
        (?P<int>\d{1,3}(?:,\d{3})+|\d+)?
        (?P<frac>\.\d*)?
        (?P<exp>[eE][+\-]?\d+)?
        \s*(?P<suffix>k|m|bn|%)?$""",
    re.VERBOSE | re.IGNORECASE,
)
_SCALE = {"": Decimal(1), "k": Decimal(10) ** 3, "m": Decimal(10) ** 6, "bn": Decimal(10) ** 9, "%": Decimal(1) / 100}
HINT = "write it as 1500, 1,500, 1.5k or 1.5e3"


class NotANumber(ValueError):
    """A cell's text that is not a number; ``str()`` is the message to show."""


def is_blank(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if v is pd.NA:
        return True
    return isinstance(v, str) and not v.strip()


def parse_number(v: Any) -> float | None:
    """The number in a cell, None when it is empty; raises :class:`NotANumber` otherwise.

    Numbers pass through (finite ones); text is read by the rules in the module docstring."""
    if is_blank(v):
        return None
    if isinstance(v, bool):
        raise NotANumber(f"{v!r} is not a number")
    if isinstance(v, (int, float, np.integer, np.floating)):
        x = float(v)
        if not math.isfinite(x):
            raise NotANumber(f"{v!r} is not a finite number")
        return x
    text = str(v).strip()
    m = _NUMBER.match(text)
    if m is None or (m.group("int") is None and (m.group("frac") or ".") == "."):
        raise NotANumber(f'"{text}" is not a number ({HINT})')
    digits = (m.group("int") or "0").replace(",", "") + (m.group("frac") or "") + (m.group("exp") or "")
    try:  # in decimal, so that 1.1k is 1100 exactly
        x = float(Decimal(digits) * _SCALE[(m.group("suffix") or "").lower()])
    except (InvalidOperation, OverflowError):  # pragma: no cover - the pattern admits only numbers
        raise NotANumber(f'"{text}" is not a number ({HINT})') from None
    if m.group("sign") in ("-", "\u2212"):
        x = -x
    if not math.isfinite(x):
        raise NotANumber(f'"{text}" is too large')
    return x


def format_number(v: Any) -> str | None:
    """A number as a cell shows it, read back by :func:`parse_number` to the same float:
    thousands separated by commas, no exponent, the shortest digits that round-trip
    (``1500000.0`` -> ``"1,500,000"``, ``0.25`` -> ``"0.25"``). None for an empty cell; text
    that is not a number is returned as it is (so what was typed stays on screen)."""
    if is_blank(v):
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    x = float(v)
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    text = np.format_float_positional(x, trim="-", unique=True)
    sign = "-" if text.startswith("-") else ""
    int_part, _, frac = text.lstrip("-").partition(".")
    grouped = f"{int(int_part):,}"
    return sign + grouped + (f".{frac}" if frac else "")


def clean(v: Any) -> Any:
    """A table cell as a plain Python value: NaN/NA/empty text -> None, numpy scalars -> Python,
    text stripped."""
    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, str):
        v = v.strip()
        return v or None
    return v


def number_or_nan(v: Any) -> float:
    """A cell as a float; NaN when empty or not a number (for sorting, never for the scenario)."""
    try:
        x = parse_number(clean(v))
    except NotANumber:
        return math.nan
    return math.nan if x is None else x


class CellReader:
    """Reads number cells, collecting ``(path, "... is not a number")`` in :attr:`problems` for
    those that are not. A cell that is not a number keeps its text (so a saved draft has it)."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def num(self, v: Any, path: str) -> Any:
        try:
            return parse_number(clean(v))
        except NotANumber as exc:
            self.problems.append((path, str(exc)))
            return str(v).strip()
