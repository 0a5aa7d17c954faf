"""Run many variants of a scenario, on one process, a process pool or a Dask cluster.

The unit of work is a *task*: one chunk of seeded blocks of paths (exactly as
:func:`cib_sim.run.simulation.simulate` splits a run) for one *job*, a scenario with an optional shock
(:mod:`cib_sim.analysis.shocks`) that may edit the draws. Every job uses the same seed, so jobs
share random numbers block by block (common random numbers), and a task's result depends only on
its scenario, shock and seeds: spreading tasks over workers, processes or machines gives results
bit-identical to one process.

Executors (the ``executor`` argument of :func:`run`, :func:`run_many` and every analysis) are
described in :mod:`cib_sim.run.executors`; chunks and seeds come from :mod:`cib_sim.run.plan`.

Workers of a real cluster need ``cib_sim`` installed (the same version as the client).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from cib_sim.analysis.shocks import Shock
from cib_sim.engine import CountMode, run_chunk
from cib_sim.engine.reduce import ChunkResult
from cib_sim.engine.sample import sample
from cib_sim.results import Results
from cib_sim.run.executors import Progress, executor_map, ticker
from cib_sim.run.options import count_mode, progress_option, whole_number
from cib_sim.run.plan import RunPlan, check_plan
from cib_sim.run.resources import check_fits
from cib_sim.scenario import Scenario


@dataclass(frozen=True)
class Job:
    """One variant to simulate: ``scenario`` (already shocked) and the shock's draw edits."""

    scenario: Scenario
    shock: Shock | None = None
    label: str = ""


def make_job(scenario: Scenario, shock: Shock | None = None, label: str | None = None) -> Job:
    """Apply ``shock``'s scenario changes and check it now (so errors surface before anything
    runs, and a shock that would change nothing, such as an exit after the end, is refused)."""
    s = shock.apply_scenario(scenario) if shock is not None else scenario
    if shock is not None:
        shock.check(s)
    return Job(s, shock, label if label is not None else (shock.name if shock is not None else "base"))


def run_task(task: tuple[Scenario, Shock | None, list, list[int], str, int]) -> ChunkResult:
    """One chunk of one job: sample, apply the shock to the draws, run, reduce.

    With no shock this is what :func:`cib_sim.simulate` runs for a chunk (tests check they agree bit for bit).
    """
    s, shock, seeds, sizes, mode, keep = task
    draws = sample(s, seeds, sizes, exact=(mode == "exact"))
    if shock is not None:
        draws = shock.apply_draws(s, draws)
    return run_chunk(s, draws, mode, keep, sizes)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Running jobs

_RUN_KW = ("counts", "chunk_size", "executor", "address", "workers", "cluster_kwargs", "progress")


def check_run_options(kw: Mapping[str, Any]) -> dict[str, Any]:
    """The run options an analysis passes on to :func:`run_many`; a misspelt one is an error."""
    bad = set(kw) - set(_RUN_KW)
    if bad:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(bad))} (run options: {', '.join(_RUN_KW)})")
    return dict(kw)


def run_many(
    jobs: Sequence[Job],
    n_paths: int,
    seed: Any = 1,
    *,
    counts: CountMode = "approx",
    keep_paths: int = 0,
    chunk_size: int | None = None,
    executor: Any = None,
    address: str | None = None,
    workers: int | None = None,
    cluster_kwargs: dict | None = None,
    progress: Progress | bool | None = None,
) -> list[Results]:
    """Simulate every job on the same ``n_paths`` paths and ``seed``; one :class:`Results` each.

    All (job, chunk) tasks go to the executor at once, so a cluster is kept busy across jobs.
    ``counts`` is the engine's count ``mode`` (``approx``, ``exact`` or ``expected``).
    ``progress``: a callback ``(tasks_done, tasks)`` or True for a progress bar.
    """
    n = check_plan(n_paths, seed, chunk_size, keep_paths)
    counts = count_mode("counts", counts)  # type: ignore[assignment]
    if workers is not None:
        workers = whole_number("workers", workers, 1)
    progress_option(progress)
    if not jobs:
        return []
    # Every variant's paths are held together: refuse at once what cannot fit.
    check_fits(jobs[0].scenario, n, chunk_size=chunk_size, workers=workers or 1, mode=counts, store=None, variants=len(jobs))
    chunks = RunPlan.make(n, seed, chunk_size, keep_paths).chunks
    tasks = [(job.scenario, job.shock, c.seeds, c.sizes, counts, c.keep) for job in jobs for c in chunks]
    tick, close = ticker(progress, len(tasks))
    try:
        with executor_map(executor, address, workers, cluster_kwargs) as map_:
            parts = map_(run_task, tasks, tick)
    finally:
        close()
    out = []
    for j, job in enumerate(jobs):
        mine = parts[j * len(chunks) : (j + 1) * len(chunks)]
        res = Results.from_chunks(job.scenario, mine, seed=seed, mode=counts)
        res.extra["label"] = job.label
        if job.shock is not None:
            res.extra["shock"] = job.shock
        out.append(res)
    return out


def run(
    scenario: Scenario,
    n_paths: int = 10_000,
    seed: Any = 1,
    shock: Shock | str | None = None,
    *,
    counts: CountMode = "approx",
    keep_paths: int = 2_000,
    chunk_size: int | None = None,
    executor: Any = None,
    address: str | None = None,
    workers: int | None = None,
    cluster_kwargs: dict | None = None,
    progress: Progress | bool | None = None,
) -> Results:
    """:func:`cib_sim.simulate` on any executor, optionally under a shock.

    With no shock the result equals ``simulate(scenario, n_paths, seed, chunk_size,
    mode=counts, keep_paths=keep_paths)`` bit for bit, whichever executor runs it. A very large
    run: ``run(s, 10_000_000, seed=1, executor="dask", address="tcp://scheduler:8786")``.
    """
    from cib_sim.analysis.shocks import as_shock

    sh = as_shock(shock) if shock is not None else None
    return run_many(
        [make_job(scenario, sh)], n_paths, seed, counts=counts, keep_paths=keep_paths, chunk_size=chunk_size,
        executor=executor, address=address, workers=workers, cluster_kwargs=cluster_kwargs, progress=progress,
    )[0]
