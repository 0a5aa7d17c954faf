"""Argument types, exit statuses and error reports shared by every ``cib-sim`` command.

Exit statuses: 0 done; 1 a fault (not the input's: a full disk, a worker process killed, a bug),
with a short message; 2 bad input, one ``error: where: reason`` line per problem; 130
interrupted (Ctrl-C); 143 terminated (SIGTERM). No traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

EXIT_FAULT = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

DEBUG_HINT = "run again with --debug for the traceback"

# The API's argument names, as the CLI spells them (an error names what the user typed).
FLAGS = {
    "n_paths": "--paths", "seed": "--seed", "workers": "--workers", "target": "--target", "bounds": "--bounds",
    "lever": "--lever", "error": "--error", "shock": "--shock", "shocks": "--shock", "metric": "--metric",
    "metrics": "--metric", "values": "--set", "as_of": "--as-of", "n_draws": "--draws", "draws": "--draws",
}
_LEADING_NAME = re.compile(r"[a-z_]+(?=$|[\s\[])")


def whole_number(minimum: int):
    """argparse type: a whole number >= ``minimum`` (underscores allowed, as in 100_000)."""

    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number (got {text!r})") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum} (got {value})")
        return value

    parse.__name__ = "whole number"
    return parse


positive_int = whole_number(1)
"""argparse type: a whole number >= 1."""

seed_int = whole_number(0)
"""argparse type: a seed, a whole number >= 0."""


def flag_for(where: str) -> str:
    """``"n_paths"`` -> ``"--paths"``; ``"shock 'delay:x'"`` -> ``"--shock 'delay:x'"``; other text as it is."""
    m = _LEADING_NAME.match(where)
    if m and m.group(0) in FLAGS:
        return FLAGS[m.group(0)] + where[m.end():]
    return where


def bad_input_lines(exc: BaseException) -> list[str] | None:
    """One line per problem if ``exc`` is bad input (``where: reason``), else None."""
    from cib_sim.errors import InputError
    from cib_sim.scenario import ScenarioError

    if isinstance(exc, ScenarioError):
        lead = f"{exc.source}: " if exc.source else ""
        return [f"{lead}{p}: {m}" if p else f"{lead}{m}" for p, m in exc.errors]
    if isinstance(exc, InputError):
        return [f"{flag_for(w)}: {r}" if w else r for w, r in exc.errors]
    if type(exc).__name__ == "ObservedDataError":  # learning's: messages already name the line
        # An API argument it names (``as_of: ...``) is the flag the user typed (``--as-of: ...``).
        return [_flag_prefix(str(m)) for m in exc.errors]  # type: ignore[attr-defined]
    return None


def _flag_prefix(message: str) -> str:
    """``"as_of: 3 ..."`` -> ``"--as-of: 3 ..."``; a message not led by an argument name as it is."""
    name, sep, rest = message.partition(":")
    return f"{FLAGS[name]}:{rest}" if sep and name in FLAGS else message


def fault_message(exc: BaseException) -> str:
    """A short line for a failure that is not the input's fault."""
    from concurrent.futures.process import BrokenProcessPool

    from cib_sim.results.path_store import DiskFullError

    if isinstance(exc, DiskFullError):
        return str(exc)
    if isinstance(exc, BrokenProcessPool):
        return ("a worker process stopped unexpectedly (killed, perhaps for want of memory): run again with fewer "
                f"--workers or --paths, or {DEBUG_HINT}")
    if isinstance(exc, MemoryError):
        return f"out of memory: run again with fewer --paths or --workers, or {DEBUG_HINT}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    what = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or what}: {exc.filename}"
    return f"internal fault ({what}); {DEBUG_HINT}"


def report(exc: BaseException) -> int:
    """Print ``exc`` the CLI's way on stderr (no traceback) and return the exit status."""
    if isinstance(exc, KeyboardInterrupt):
        print("cib-sim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if isinstance(exc, Terminated):
        print("cib-sim: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else EXIT_FAULT
    lines = bad_input_lines(exc)
    if lines is not None:
        for line in lines:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"error: {fault_message(exc)}", file=sys.stderr)
    return EXIT_FAULT


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so that ``finally`` blocks and finalizers run
    (temporary folders of a run are removed) before the process exits with status 143."""


def add_debug_flags(parser: argparse.ArgumentParser, subparsers) -> None:
    """``--debug`` (let errors through with their traceback) on ``parser`` and on each of its
    commands, so that it works before or after the command's name."""
    help_ = "show the traceback of an error instead of a one-line message"
    parser.add_argument("--debug", action="store_true", default=False, help=help_)
    for command in subparsers.choices.values():  # set only when given: the top one's default stays
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=help_)


OUTPUT_KINDS = {".csv": "CSV", ".json": "JSON", ".xlsx": "Excel", ".parquet": "Parquet"}


def check_out(path: Path | str | None, kinds: tuple[str, ...] = tuple(OUTPUT_KINDS), flag: str = "--out") -> None:
    """Refuse, before anything runs, an output file of a kind that cannot be written here (an
    unknown extension, Excel without ``openpyxl``, Parquet without ``pyarrow``) or in a folder
    that does not exist."""
    from cib_sim.errors import bad

    if path is None:
        return
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in kinds:
        known = ", ".join(kinds)
        raise bad(flag, f"cannot write {p.name!r}: the file name must end in {known}")
    needs = {".xlsx": "openpyxl", ".parquet": "pyarrow"}.get(suffix)
    if needs:
        try:
            __import__(needs)
        except ImportError:
            raise bad(flag, f"writing {suffix} needs the {needs} package (pip install {needs}); "
                            f"or write {', '.join(k for k in kinds if k not in ('.xlsx', '.parquet'))}") from None
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise bad(flag, f"cannot write {str(p)!r}: no folder {str(folder)!r}")
    if p.is_dir():
        raise bad(flag, f"cannot write {str(p)!r}: it is a folder")
    if not os.access(folder, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise bad(flag, f"cannot write {str(p)!r}: no permission to write there")


def dispatch(parser: argparse.ArgumentParser, argv) -> int:
    """Parse ``argv`` and run the command it names: the exit status, errors reported by
    :func:`report` (re-raised with ``--debug``). SIGTERM becomes :class:`Terminated` while the
    command runs, so its temporary folders are removed. argparse's own errors exit 2 as usual."""
    import signal
    import threading

    args = parser.parse_args(argv)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.func(args) or 0)
    except BaseException as exc:
        if getattr(args, "debug", False):
            raise
        return report(exc)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _terminate(signum, frame) -> None:
    raise Terminated()
