"""The Dask client the benchmarks run on: a running cluster's, or a local one of worker
processes started for the benchmark (closed with :func:`close`)."""

from __future__ import annotations

from typing import Any


def dask_client(address: str | None, workers: int) -> tuple[Any, Any]:
    """``(client, cluster)``: a client of the scheduler at ``address``, or of a new local cluster
    of ``workers`` single-threaded processes (``cluster`` None when given an address)."""
    from distributed import Client

    from cib_sim.run.executors import local_cluster

    if address:
        return Client(address), None
    cluster = local_cluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    return Client(cluster), cluster


def close(client: Any, cluster: Any) -> None:
    client.close()
    if cluster is not None:
        cluster.close()
