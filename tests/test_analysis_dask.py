"""Scale-out on Dask: the same seed gives results identical to one process.

A two-worker LocalCluster (threads, so it starts in about a second on a 2-core CI machine); one
slow test repeats the check on worker processes, as on a real cluster.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from cib_sim import simulate  # noqa: E402
from cib_sim.analysis import run, stress, sweep  # noqa: E402
from cib_sim.analysis.solver import solve  # noqa: E402
from cib_sim.run.plan import BLOCK  # noqa: E402
from cib_sim.scenario import load_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wlz():
    return load_scenario(ROOT / "scenarios" / "west_london_zone.yaml")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0")
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def assert_same_results(a, b) -> None:
    for part in ("path", "period_mean", "kept"):
        da, db = getattr(a, part), getattr(b, part)
        for k in da:
            np.testing.assert_array_equal(da[k], db[k], err_msg=f"{part}.{k}")


def test_large_run_on_dask_equals_simulate(wlz, client):
    n = 2 * BLOCK + 17
    serial = simulate(wlz, n, seed=11, chunk_size=BLOCK, keep_paths=100)
    on_dask = run(wlz, n, seed=11, chunk_size=BLOCK, keep_paths=100, executor=client)
    assert_same_results(serial, on_dask)
    assert set(client.scheduler_info()["workers"]) and len(client.scheduler_info()["workers"]) == 2


def test_sweep_on_dask_equals_serial(wlz, client):
    grid = {"price_multiplier": [0.8, 1.0], "tranches.Senior social lender.commitment": [8e5]}
    a = sweep(wlz, grid, n_paths=BLOCK + 100, seed=3, chunk_size=BLOCK)
    b = sweep(wlz, grid, n_paths=BLOCK + 100, seed=3, chunk_size=BLOCK, executor=client)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_stress_by_scheduler_address_equals_serial(wlz, client):
    shocks = ["delay:1", "exit:Mentoring@2", "withdraw:Schools@3+effects:0.8"]
    a = stress(wlz, shocks, n_paths=600, seed=5)
    # executor="dask" with an address connects a new client to that scheduler, as for a real cluster
    b = stress(wlz, shocks, n_paths=600, seed=5, executor="dask", address=client.scheduler.address)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_solver_on_dask_equals_serial(wlz, client):
    kw = dict(target="tranche/0/prob_loss=0.05", bounds=(0.2, 2.0), n_paths=500, seed=2, error=None)
    a = solve(wlz, "price_multiplier", **kw)
    b = solve(wlz, "price_multiplier", executor=client, **kw)
    assert a.ok and a.value == b.value and a.achieved == b.achieved


def test_dask_uses_the_default_client_when_no_address(wlz, client, monkeypatch):
    # With a client active, executor="dask" runs on it rather than starting a cluster.
    def no_cluster(*a, **k):
        raise AssertionError("started a LocalCluster although a client was active")

    monkeypatch.setattr(distributed, "LocalCluster", no_cluster)
    with client.as_current():
        res = run(wlz, 300, seed=1, executor="dask", keep_paths=0)
    assert_same_results(simulate(wlz, 300, seed=1, keep_paths=0), res)


@pytest.mark.slow
def test_local_process_cluster_equals_serial(wlz, monkeypatch):
    """executor="dask" with no client starts a LocalCluster of worker processes and closes it."""
    def no_default_client():
        raise ValueError("no default client")

    monkeypatch.setattr(distributed, "get_client", no_default_client)  # ignore the module's client
    serial = run(wlz, 2 * BLOCK, seed=9, chunk_size=BLOCK, keep_paths=10)
    on_dask = run(
        wlz, 2 * BLOCK, seed=9, chunk_size=BLOCK, keep_paths=10, executor="dask",
        cluster_kwargs={"n_workers": 2, "processes": True},
    )
    assert_same_results(serial, on_dask)


def _trim_threshold():
    import os

    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


@pytest.mark.slow
def test_local_cluster_workers_keep_default_malloc_trimming(monkeypatch):
    """Dask's MALLOC_TRIM_THRESHOLD_=65536 halves the engine's speed; our local clusters drop it,
    even after another cluster has left it in this process's environment."""
    from cib_sim.run.executors import local_cluster

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    with local_cluster(n_workers=1, processes=True, dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
        assert set(c.run(_trim_threshold).values()) == {None}
    import os

    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536"  # restored for whoever set it
