"""Run many variants of a scenario, on one process, a process pool or a Dask cluster.

The unit of work is a *task*: one chunk of seeded blocks of paths (exactly as
:func:`cib_sim.engine.simulate` splits a run) for one *job*, a scenario with an optional shock
(:mod:`cib_sim.analysis_shocks`) that may edit the draws. Every job uses the same seed, so jobs
share random numbers block by block (common random numbers), and a task's result depends only on
its scenario, shock and seeds: spreading tasks over workers, processes or machines gives results
bit-identical to one process.

Executors (the ``executor`` argument of :func:`run`, :func:`run_many` and every analysis):

- ``None`` or ``"serial"``: this process;
- ``"processes"``: a :class:`concurrent.futures.ProcessPoolExecutor` of ``workers`` processes;
- ``"dask"``: a Dask cluster: the scheduler at ``address`` (``"tcp://host:8786"``) if given, else
  the current default :class:`distributed.Client` if there is one, else a
  :class:`distributed.LocalCluster` started for the call (``cluster_kwargs`` passed to it);
- a :class:`distributed.Client`, or any :class:`concurrent.futures.Executor`, used as it is.

Workers of a real cluster need ``cib_sim`` installed (the same version as the client).
"""

from __future__ import annotations

import os
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from cib_sim.analysis_shocks import Shock
from cib_sim.engine import DEFAULT_CHUNK, CountMode, run_chunk
from cib_sim.results import ChunkResult, Results
from cib_sim.sample import BLOCK, block_seeds, sample
from cib_sim.scenario import Scenario

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Job:
    """One variant to simulate: ``scenario`` (already shocked) and the shock's draw edits."""

    scenario: Scenario
    shock: Shock | None = None
    label: str = ""


def make_job(scenario: Scenario, shock: Shock | None = None, label: str | None = None) -> Job:
    """Apply ``shock``'s scenario changes now (so errors surface before anything runs)."""
    s = shock.apply_scenario(scenario) if shock is not None else scenario
    return Job(s, shock, label if label is not None else (shock.name if shock is not None else "base"))


def plan_chunks(
    n_paths: int, seed: Any, chunk_size: int | None = None, keep_paths: int = 0
) -> list[tuple[list[np.random.SeedSequence], list[int], int]]:
    """``(seeds, sizes, keep)`` per chunk, exactly as :func:`cib_sim.engine.simulate` plans them."""
    if not isinstance(n_paths, (int, np.integer)) or isinstance(n_paths, bool) or n_paths < 1:
        raise ValueError(f"n_paths: must be a whole number >= 1 (got {n_paths!r})")
    chunk_blocks = max(1, -(-(chunk_size or DEFAULT_CHUNK) // BLOCK))
    if isinstance(seed, np.random.SeedSequence):
        # spawn() advances a SeedSequence: spawn from a fresh copy, so that every run given this
        # object uses the same blocks (common random numbers across points and solver steps).
        seed = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size)
    seeds = block_seeds(seed, int(n_paths))
    sizes = [min(BLOCK, n_paths - i * BLOCK) for i in range(len(seeds))]
    out, left = [], keep_paths
    for i in range(0, len(seeds), chunk_blocks):
        sz = sizes[i : i + chunk_blocks]
        keep = min(left, sum(sz))
        left -= keep
        out.append((seeds[i : i + chunk_blocks], sz, keep))
    return out


def run_task(task: tuple[Scenario, Shock | None, list, list[int], str, int]) -> ChunkResult:
    """One chunk of one job: sample, apply the shock to the draws, run, reduce.

    With no shock this is :func:`cib_sim.engine._run_chunk` (tests check they agree bit for bit).
    """
    s, shock, seeds, sizes, mode, keep = task
    draws = sample(s, seeds, sizes, exact=(mode == "exact"))
    if shock is not None:
        draws = shock.apply_draws(s, draws)
    return run_chunk(s, draws, mode, keep, sizes)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Executors


@contextmanager
def executor_map(
    executor: Any = None,
    address: str | None = None,
    workers: int | None = None,
    cluster_kwargs: dict | None = None,
) -> Iterator[Callable[[Callable, Sequence, Callable[[], None]], list]]:
    """A ``map(func, items, tick) -> list`` over the chosen executor, in order; ``tick()`` is
    called as each item finishes. Resources started here are closed on exit."""
    if executor is None or executor == "serial":
        yield _serial_map
    elif executor == "processes":
        n = workers or os.cpu_count() or 1
        with ProcessPoolExecutor(max_workers=n) as ex:
            yield _futures_map(ex)
    elif executor == "dask":
        with dask_client(address, workers, cluster_kwargs) as client:
            yield _dask_map(client)
    elif _is_dask_client(executor):
        yield _dask_map(executor)
    elif isinstance(executor, Executor):
        yield _futures_map(executor)
    else:
        raise ValueError(
            f"executor: must be None, 'serial', 'processes', 'dask', a distributed.Client or a "
            f"concurrent.futures.Executor (got {executor!r})"
        )


def _serial_map(func: Callable, items: Sequence, tick: Callable[[], None]) -> list:
    out = []
    for it in items:
        out.append(func(it))
        tick()
    return out


def _futures_map(ex: Executor) -> Callable:
    def map_(func: Callable, items: Sequence, tick: Callable[[], None]) -> list:
        out = []
        for r in ex.map(func, items):
            out.append(r)
            tick()
        return out

    return map_


def _is_dask_client(x: Any) -> bool:
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - dask is optional
        return False
    return isinstance(x, Client)


def _dask_map(client: Any) -> Callable:
    from distributed import as_completed

    def map_(func: Callable, items: Sequence, tick: Callable[[], None]) -> list:
        # pure=False: equal-looking tasks are still run (a seed makes each one distinct anyway).
        futures = client.map(func, list(items), pure=False)
        for _ in as_completed(futures):
            tick()
        return client.gather(futures)

    return map_


@contextmanager
def dask_client(address: str | None = None, workers: int | None = None, cluster_kwargs: dict | None = None):
    """A Dask client: connected to ``address``; else the default client if one exists; else on
    a new :class:`distributed.LocalCluster` (``workers`` processes of one thread each, unless
    ``cluster_kwargs`` says otherwise), closed on exit."""
    try:
        from distributed import Client, get_client
    except ImportError as exc:  # pragma: no cover - dask is optional
        raise ImportError("executor='dask' needs dask.distributed: pip install 'cib-sim[dask]'") from exc
    if address is not None:
        client = Client(address)
        try:
            yield client
        finally:
            client.close()
        return
    try:
        existing = get_client()
    except ValueError:
        existing = None
    if existing is not None:
        yield existing
        return
    kw = {"n_workers": workers or min(4, os.cpu_count() or 1), "threads_per_worker": 1, "dashboard_address": ":0"}
    kw.update(cluster_kwargs or {})
    with local_cluster(**kw) as cluster, Client(cluster) as client:
        yield client


def local_cluster(**kwargs: Any):
    """A :class:`distributed.LocalCluster` whose worker processes keep glibc's default memory
    trimming. Dask sets ``MALLOC_TRIM_THRESHOLD_=65536`` in its workers, which turns every large
    temporary array into a fresh ``mmap`` and about halves the engine's speed (measured: a chunk of
    16,384 paths took 2-3 times as long). Worker processes still get one BLAS thread each.

    On a real cluster, set ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null``
    in the workers' Dask configuration for the same effect."""
    import dask
    from distributed import LocalCluster

    # A cluster started earlier in this process leaves the variable in os.environ (Dask sets it
    # there before spawning), and new workers would inherit it: hide it while ours start.
    saved = os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            return LocalCluster(**kwargs)
    finally:
        if saved is not None:
            os.environ["MALLOC_TRIM_THRESHOLD_"] = saved


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
    chunks = plan_chunks(n_paths, seed, chunk_size, keep_paths)
    tasks = [(job.scenario, job.shock, sd, sz, counts, kp) for job in jobs for sd, sz, kp in chunks]
    tick, close = _ticker(progress, len(tasks))
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
    from cib_sim.analysis_shocks import as_shock

    sh = as_shock(shock) if shock is not None else None
    return run_many(
        [make_job(scenario, sh)], n_paths, seed, counts=counts, keep_paths=keep_paths, chunk_size=chunk_size,
        executor=executor, address=address, workers=workers, cluster_kwargs=cluster_kwargs, progress=progress,
    )[0]


def _ticker(progress: Progress | bool | None, total: int) -> tuple[Callable[[], None], Callable[[], None]]:
    state = {"done": 0}
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="chunk", desc="simulating")
        return bar.update, bar.close
    if callable(progress):
        cb = progress

        def tick() -> None:
            state["done"] += 1
            cb(state["done"], total)

        return tick, lambda: None
    return (lambda: None), (lambda: None)
