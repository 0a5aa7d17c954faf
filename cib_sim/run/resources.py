"""Will a run fit? The memory and disk a run needs, against what this machine has, before it starts.

A run keeps a few dozen numbers a path (its per-path measures, in memory or in a temporary folder:
see :mod:`cib_sim.results.path_store`) and works on one chunk of paths at a time per process, each
chunk holding every flow of every period of its paths. Both sizes are measured on one path of the
scenario (a run of one path takes a fraction of a second), so a run of ``--paths 1000000000000``
is refused at once, with what it would need and what there is, rather than failing hours later.

Runs of at most :data:`CHECK_ABOVE` paths (all variants together) are not checked: they need
little and start at once. Memory: ``psutil`` if installed, else ``MemAvailable`` of
``/proc/meminfo``, else ``os.sysconf``; where none is known, memory is not checked.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cib_sim.errors import bad
from cib_sim.results.path_store import TMPDIR_ENV, bytes_per_path, choose_backend
from cib_sim.run.plan import BLOCK, DEFAULT_CHUNK
from cib_sim.scenario import Scenario

CHECK_ABOVE = 50_000
"""Runs of more paths than this (all variants together) are measured and checked first."""

CHUNK_OVERHEAD = 1.5
"""A chunk's peak memory over the bytes of its paths' flows (measured: 0.5 to 1.2 on the shipped
scenarios, exact counts included)."""


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now, or None where it cannot be told."""
    try:
        import psutil
    except ImportError:
        pass
    else:
        return int(psutil.virtual_memory().available)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def temp_parent() -> Path:
    """The folder a disk path store is made in: ``$CIB_SIM_TMPDIR``, else the system's."""
    return Path(os.environ.get(TMPDIR_ENV) or tempfile.gettempdir())


def free_disk(folder: Path) -> int | None:
    """Bytes free on the disk holding ``folder``, or None where it cannot be told."""
    try:
        return int(shutil.disk_usage(folder).free)
    except OSError:
        return None


def size_text(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class PathSize:
    """Bytes a path takes: ``measures`` kept for the whole run, ``flows`` while its chunk runs."""

    measures: int
    flows: int


def measure(s: Scenario, mode: str = "approx") -> PathSize:
    """Run one path of ``s`` and weigh it."""
    from cib_sim.engine import run_chunk
    from cib_sim.engine.sample import sample

    seeds = [np.random.SeedSequence(0)]
    part = run_chunk(s, sample(s, seeds, [1], exact=(mode == "exact")), mode, 1, [1])  # type: ignore[arg-type]
    return PathSize(bytes_per_path(part.path), bytes_per_path(part.kept))


def check_fits(
    s: Scenario,
    n_paths: int,
    *,
    chunk_size: int | None = None,
    workers: int = 1,
    mode: str = "approx",
    store: str | None = "auto",
    variants: int = 1,
    argument: str = "n_paths",
) -> None:
    """Refuse (bad input naming ``argument``) a run that cannot fit in memory or on disk.

    ``variants`` runs of ``n_paths`` paths each (an analysis's points or shocks); ``store``: where
    the measures are kept (see :func:`cib_sim.results.path_store.choose_backend`), or None when
    every chunk's results are held in memory until the end and then copied into the results (as
    :func:`cib_sim.analysis.runner.run_many` does). ``workers`` processes each work on a chunk
    of ``chunk_size`` paths at once.
    """
    if n_paths * variants <= CHECK_ABOVE:
        return
    size = measure(s, mode)
    chunk = min(n_paths, -(-(chunk_size or DEFAULT_CHUNK) // BLOCK) * BLOCK)
    n_chunks = -(-n_paths // chunk)
    working = CHUNK_OVERHEAD * size.flows * chunk * max(1, min(workers, n_chunks))
    measures = float(n_paths) * variants * size.measures
    what = f"{n_paths:,} paths" + (f" x {variants} variants" if variants > 1 else "")
    per = f"{size_text(size.measures)} a path"
    if store is not None and choose_backend(store, n_paths * variants, size.measures) == "disk":
        folder = temp_parent()
        free = free_disk(folder)
        if free is not None and measures > free:
            raise bad(argument, (
                f"{what} need about {size_text(measures)} on disk for their per-path measures ({per}), "
                f"but the temporary folder {folder} has {size_text(free)} free: use fewer paths, or set "
                f"{TMPDIR_ENV} to a folder on a disk with more room"
            ))
        in_memory = working
    else:
        in_memory = (1.0 if store is not None else 2.0) * measures + working
    memory = available_memory()
    if memory is not None and in_memory > memory:
        chunks_matter = working > in_memory / 2
        hint = "use fewer paths" + (", fewer variants" if variants > 1 else "") + (
            ", fewer workers" if workers > 1 and chunks_matter else "") + (
            ", a smaller chunk size" if chunk > BLOCK and chunks_matter else "")
        if store is not None and store != "disk":
            hint += f", or keep the per-path measures on disk (path_store='disk'; temporary folder {temp_parent()}, set by {TMPDIR_ENV})"
        raise bad(argument, (
            f"{what} need about {size_text(in_memory)} of memory (per-path measures {per}, and "
            f"{size_text(working)} for the chunks being worked on), but {size_text(memory)} is available: {hint}"
        ))
