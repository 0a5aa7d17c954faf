"""``simulate``: a Monte Carlo run of the fast engine, planned by :mod:`cib_sim.run.plan`.

Each chunk of seeded blocks is sampled, run and reduced (:func:`cib_sim.engine.run_chunk`) in
this process or in a pool (:func:`cib_sim.run.executors.in_order`), and folded into
:class:`~cib_sim.results.Results` in chunk order as it arrives, so memory holds one chunk at a time
and per-path measures go to a :class:`~cib_sim.results.path_store.PathStore` (on disk for large
runs). The result is bit-identical whatever the chunk size or number of workers.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from cib_sim.engine import CountMode, run_chunk
from cib_sim.engine.reduce import ChunkResult
from cib_sim.engine.sample import sample
from cib_sim.results import Results
from cib_sim.results.path_store import check_backend
from cib_sim.run.executors import in_order, progress_callback
from cib_sim.run.options import count_mode, progress_option, whole_number
from cib_sim.run.plan import RunPlan, check_plan
from cib_sim.run.resources import check_fits
from cib_sim.scenario import Scenario


def _run_chunk(s: Scenario, seeds: list, sizes: list[int], mode: CountMode, keep: int) -> ChunkResult:
    """Sample, run and reduce one chunk of seeded blocks."""
    draws = sample(s, seeds, sizes, exact=(mode == "exact"))
    return run_chunk(s, draws, mode, keep, sizes)


def _run_chunk_payload(payload: tuple[Scenario, list, list[int], str, int]) -> ChunkResult:
    """:func:`_run_chunk` in a worker process. The scenario travels pickled, as it is: no
    round trip through text and no second validation that could change a value."""
    return _run_chunk(*payload)  # type: ignore[arg-type]


def simulate(
    scenario: Scenario,
    n_paths: int = 10_000,
    seed: Any = 1,
    chunk_size: int | None = None,
    workers: int = 1,
    mode: CountMode = "approx",
    keep_paths: int = 2_000,
    progress: Callable[[int, int], None] | bool | None = None,
    path_store: str = "auto",
) -> Results:
    """Monte Carlo over ``n_paths`` paths of ``scenario``.

    seed: the root of every random stream (an int, a SeedSequence or a Generator: see
      :mod:`cib_sim.run.plan`); the same seed gives the same results whatever ``chunk_size`` or
      ``workers``.
    chunk_size: paths run at once (rounded up to whole blocks of ``BLOCK``); bounds memory.
    workers: processes to use (1: this process).
    mode: ``approx`` counts (fast, see :mod:`cib_sim.engine.delivery`), ``exact`` counts, or
      ``expected`` counts (no sampling noise).
    keep_paths: how many paths keep their full period-by-period flows (for cash-flow views).
    progress: a callback ``(paths_done, n_paths)``, or True for a progress bar.
    path_store: where per-path measures are held: ``memory``, ``disk`` (a temporary folder, so
      memory stays bounded at any number of paths), or ``auto`` (disk for large runs); see
      :mod:`cib_sim.results.path_store`.

    A bad argument raises :class:`~cib_sim.errors.InputError` (a ValueError) naming it; so does a
    run too big for this machine's memory or disk, before it starts (:mod:`cib_sim.run.resources`).
    """
    if not isinstance(scenario, Scenario):
        raise TypeError(f"scenario: must be a Scenario (from load_scenario or parse_scenario), not {type(scenario).__name__}")
    n = check_plan(n_paths, seed, chunk_size, keep_paths)
    workers = whole_number("workers", workers, 1)
    mode = count_mode("mode", mode)  # type: ignore[assignment]
    progress_option(progress)
    check_backend(path_store)
    # Before the plan: a run too big for this machine is refused at once, not hours later.
    check_fits(scenario, n, chunk_size=chunk_size, workers=workers, mode=mode, store=path_store)
    plan = RunPlan.make(n, seed, chunk_size, keep_paths)
    chunks = plan.chunks
    callback = progress_callback(progress, plan.n_paths)

    def here(i: int) -> ChunkResult:
        c = chunks[i]
        return _run_chunk(scenario, c.seeds, c.sizes, mode, c.keep)

    def run_all():
        done = 0
        if workers == 1 or len(chunks) == 1:
            parts = (here(i) for i in range(len(chunks)))
        else:
            payloads = [(scenario, c.seeds, c.sizes, mode, c.keep) for c in chunks]
            parts = in_order(_run_chunk_payload, payloads, here, min(workers, os.cpu_count() or 1, len(chunks)))
        for part in parts:
            done += part.n
            callback(done)
            yield part

    # Chunks are folded into the results as they arrive, so memory holds one chunk at a time.
    results = Results.from_chunks(scenario, run_all(), seed=seed, mode=mode, n_paths=plan.n_paths, store=path_store)
    callback(None)
    return results
