"""Where chunks of work run: this process, a process pool or a Dask cluster, and progress.

Executors (the ``executor`` argument of :func:`cib_sim.analysis.run`, :func:`~cib_sim.analysis.run_many`
and every analysis):

- ``None`` or ``"serial"``: this process;
- ``"processes"``: a :class:`concurrent.futures.ProcessPoolExecutor` of ``workers`` processes;
- ``"threads"``: a :class:`concurrent.futures.ThreadPoolExecutor` of ``workers`` threads (default:
  one per core) in this process: no process to start and nothing to pickle, so it suits many
  small runs (the app's studies). Threads run side by side because the engine's compiled kernels
  and numpy's array operations release the GIL; on two cores a 20-input tornado at 10,000 paths
  of West London Zone takes about 0.7x its serial time (README's benchmarks);
- ``"dask"``: a Dask cluster: the scheduler at ``address`` (``"tcp://host:8786"``) if given, else
  the current default :class:`distributed.Client` if there is one, else a
  :class:`distributed.LocalCluster` started for the call (``cluster_kwargs`` passed to it);
- a :class:`distributed.Client`, or any :class:`concurrent.futures.Executor`, used as it is.

:func:`in_order` is the streaming form :func:`cib_sim.simulate` uses: results come back in chunk
order as they finish, so the caller folds one chunk at a time. Workers of a real cluster need
``cib_sim`` installed (the same version as the client). Which chunks exist and from which seeds is
decided by :mod:`cib_sim.run.plan`, never here: an executor cannot change a result.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Sequence

from cib_sim.errors import bad

Progress = Callable[[int, int], None]


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
        with ProcessPoolExecutor(max_workers=n, initializer=ignore_interrupts) as ex:
            yield _futures_map(ex)
    elif executor == "threads":
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as ex:
            yield _futures_map(ex)
    elif executor == "dask":
        with dask_client(address, workers, cluster_kwargs) as client:
            yield _dask_map(client)
    elif _is_dask_client(executor):
        yield _dask_map(executor)
    elif isinstance(executor, Executor):
        yield _futures_map(executor)
    else:
        raise bad(
            "executor", f"must be None, 'serial', 'processes', 'threads', 'dask', a distributed.Client or a "
            f"concurrent.futures.Executor (got {executor!r})"
        )


def ignore_interrupts() -> None:
    """In a worker process: leave Ctrl-C (SIGINT, sent to every process of the terminal) to the
    parent, which stops the run and reports it once, rather than each worker printing a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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


def in_order(func: Callable[[Any], Any], payloads: Sequence, here: Callable[[int], Any], workers: int) -> Iterator[Any]:
    """``func(payload)`` for each payload, in order, run by ``workers - 1`` processes and this one
    (``here(i)`` computes payload i in this process, without pickling).

    This process works too (rather than only waiting and folding), so ``workers`` processes
    share as many cores: while the next chunk due is still running elsewhere, it runs the next
    chunk not yet started. Chunks run ahead are held until their turn.
    """
    n = len(payloads)
    pool = ProcessPoolExecutor(max_workers=max(1, workers - 1), initializer=ignore_interrupts)
    try:
        remote: dict[int, Future] = {}
        local: dict[int, Any] = {}
        started = 0
        ahead = 2 * max(1, workers - 1)  # chunks queued for the pool, so it never waits

        def top_up() -> None:
            nonlocal started
            while started < n and len(remote) < ahead:
                remote[started] = pool.submit(func, payloads[started])
                started += 1

        for i in range(n):
            top_up()
            while i not in local and not remote[i].done() and started < n:
                local[started] = here(started)
                started += 1
                top_up()
            yield local.pop(i) if i in local else remote.pop(i).result()
    except BaseException:
        # Interrupted, terminated or failed (or the caller stopped reading): chunks queued but
        # not started are dropped rather than run to the end first.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    else:
        pool.shutdown(wait=True)


def progress_callback(progress, n_paths: int) -> Callable[[int | None], None]:
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_paths, unit="path", desc="simulating")
        state = {"done": 0}

        def cb(done: int | None) -> None:
            if done is None:
                bar.close()
                return
            bar.update(done - state["done"])
            state["done"] = done

        return cb
    if callable(progress):
        return lambda done: None if done is None else progress(done, n_paths)
    return lambda done: None


def ticker(progress: Progress | bool | None, total: int) -> tuple[Callable[[], None], Callable[[], None]]:
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
