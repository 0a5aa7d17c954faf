"""Argument types and exit statuses shared by every ``cib-sim`` command."""

from __future__ import annotations

import argparse

EXIT_BAD_INPUT = 2


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (underscores allowed, as in 100_000)."""
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (got {value})")
    return value
