"""Per-path measures on disk (``path_store="disk"``) behave exactly as in memory, and keep memory
bounded: the same summary, quantiles, Parquet and CSV bit for bit; the temporary folder goes
away; results still pickle; ``auto`` switches to disk above its threshold."""

from __future__ import annotations

import dataclasses
import gc
import pickle
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import cib_sim.results.results as results_module
from cib_sim import load_scenario, simulate
from cib_sim.engine.reduce import ChunkResult
from cib_sim.results import Results
from cib_sim.results.path_store import MEMORY_MB_ENV, TMPDIR_ENV, PathStore

WLZ = Path(__file__).resolve().parents[1] / "scenarios" / "west_london_zone.yaml"
N = 9000  # three chunks of 4096, 4096 and 808 paths


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(WLZ)


@pytest.fixture(scope="module")
def in_memory(scenario):
    return simulate(scenario, n_paths=N, seed=7, chunk_size=4096, keep_paths=300, path_store="memory")


@pytest.fixture(scope="module")
def on_disk(scenario):
    return simulate(scenario, n_paths=N, seed=7, chunk_size=4096, keep_paths=300, path_store="disk")


@pytest.fixture
def small_row_groups(monkeypatch):
    # Several row groups, the last one partial, so the block-by-block writers are exercised.
    monkeypatch.setattr(results_module, "ROW_GROUP", 2000)


def test_disk_store_holds_the_same_paths_as_memory(in_memory, on_disk):
    assert (in_memory.path.backend, on_disk.path.backend) == ("memory", "disk")
    assert on_disk.path.keys() == in_memory.path.keys()
    for k, v in in_memory.path.items():
        d = on_disk.path[k]
        assert d.shape == v.shape and d.dtype == v.dtype, k
        assert np.array_equal(d, v, equal_nan=True), k
    irr = on_disk.path["tranche_irr"]
    assert isinstance(irr, np.memmap) and not irr.flags.writeable
    np.testing.assert_array_equal(on_disk.path["tranche_irr"][:, 1], in_memory.path["tranche_irr"][:, 1])
    np.testing.assert_array_equal(on_disk.multiple, in_memory.multiple)


def test_summary_is_identical_on_disk_and_in_memory(in_memory, on_disk):
    pd.testing.assert_frame_equal(on_disk.summary(), in_memory.summary(), check_exact=True)


def test_quantiles_are_identical_and_match_the_path_table(in_memory, on_disk):
    q = on_disk.quantiles()
    pd.testing.assert_frame_equal(q, in_memory.quantiles(), check_exact=True)
    # Column by column gives what the whole table gives.
    table = in_memory.path_table().drop(columns="path")
    pd.testing.assert_frame_equal(q, table.quantile([0.05, 0.25, 0.5, 0.75, 0.95]).T.rename_axis("measure"), check_exact=True)


def test_cashflows_pick_the_same_kept_path(in_memory, on_disk):
    for by in ["outcome_payments"] + in_memory.tranche_names:
        for q in (0.1, 0.5, 0.9):
            assert on_disk.cashflows(quantile=q, by=by).attrs["path"] == in_memory.cashflows(quantile=q, by=by).attrs["path"]


def test_parquet_is_identical_and_written_in_row_groups(in_memory, on_disk, tmp_path, small_row_groups):
    a = pq.ParquetFile(in_memory.to_parquet(tmp_path / "memory.parquet"))
    b = pq.ParquetFile(on_disk.to_parquet(tmp_path / "disk.parquet"))
    assert b.metadata.num_row_groups == -(-N // 2000)
    ta, tb = a.read(), b.read()
    assert tb.equals(ta) and tb.schema.metadata == ta.schema.metadata
    # The same table as the path table written at once, scenario and seed included.
    df = tb.to_pandas()
    pd.testing.assert_frame_equal(df, in_memory.path_table(), check_exact=True)
    assert tb.schema.metadata[b"cib_sim.seed"] == b"7"


def test_csv_is_identical_to_the_path_table(in_memory, on_disk, tmp_path, small_row_groups):
    text = on_disk.to_csv(tmp_path / "disk.csv").read_text()
    assert text == in_memory.to_csv(tmp_path / "memory.csv").read_text()
    assert text == in_memory.path_table().to_csv(index=False)


def test_auto_uses_disk_above_the_threshold(scenario, monkeypatch):
    assert simulate(scenario, n_paths=500, seed=1).path.backend == "memory"  # 0.3 MB < 256 MiB
    monkeypatch.setenv(MEMORY_MB_ENV, "0.1")
    assert simulate(scenario, n_paths=500, seed=1).path.backend == "disk"
    assert simulate(scenario, n_paths=100, seed=1).path.backend == "memory"  # 60 kB < 0.1 MiB
    assert simulate(scenario, n_paths=500, seed=1, path_store="memory").path.backend == "memory"
    monkeypatch.setenv(MEMORY_MB_ENV, "lots")
    with pytest.raises(ValueError, match=MEMORY_MB_ENV):
        simulate(scenario, n_paths=100, seed=1)


def test_bad_path_store_is_refused_before_simulating(scenario):
    with pytest.raises(ValueError, match=r"path_store: must be one of 'auto', 'memory', 'disk' \(got 'ram'\)"):
        simulate(scenario, n_paths=100, seed=1, path_store="ram")

    def chunks():
        raise AssertionError("no chunk should be computed")
        yield

    with pytest.raises(ValueError, match="path_store"):
        Results.from_chunks(scenario, chunks(), seed=1, mode="approx", n_paths=10, store="Disk")


def test_temporary_folder_goes_with_the_results(scenario, tmp_path, monkeypatch):
    monkeypatch.setenv(TMPDIR_ENV, str(tmp_path))
    r = simulate(scenario, n_paths=300, seed=1, path_store="disk")
    folder = r.path.folder
    assert folder.parent == tmp_path and any(folder.iterdir())
    del r
    gc.collect()
    assert not folder.exists()

    r = simulate(scenario, n_paths=300, seed=1, path_store="disk")
    folder = r.path.folder
    _ = r.multiple  # derived arrays live in the same folder
    r.close()
    assert not folder.exists()
    with pytest.raises(ValueError, match="closed"):
        r.path["tranche_in"]


def test_results_pickle_as_data_in_memory(in_memory, on_disk):
    _ = on_disk.multiple  # a cached value on disk must not break pickling
    back = pickle.loads(pickle.dumps(on_disk))
    assert back.path.backend == "memory" and back.path.folder is None
    for k, v in in_memory.path.items():
        assert np.array_equal(back.path[k], v, equal_nan=True), k
    pd.testing.assert_frame_equal(back.summary(), in_memory.summary(), check_exact=True)
    # The original is untouched.
    assert on_disk.path.folder.exists()
    store = pickle.loads(pickle.dumps(on_disk.path))
    assert isinstance(store, PathStore) and store.keys() == on_disk.path.keys()


def _synthetic_chunks(n_chunks: int, n: int):
    """Chunks of ``n`` paths of a few made-up measures: 8 x 10 + 4 + 4 = 88 bytes a path."""
    for i in range(n_chunks):
        yield ChunkResult(
            n,
            {"money": np.full((n, 10), float(i)), "flag": np.ones((n, 4), dtype=bool), "period": np.full(n, i, dtype=np.int32)},
            {"cash": np.zeros((1, 3))},
            {"cash": np.zeros((0, 3))},
        )


@pytest.mark.parametrize("store", ["disk", "memory"])
def test_disk_store_folds_chunks_in_bounded_memory(scenario, store):
    """Folding 200 chunks (70 MB of per-path data) into a disk store allocates a chunk or two at
    a time (numpy's allocations are traced); in memory it allocates everything (the check bites)."""
    n_chunks, n = 200, 4096
    total = n_chunks * n * 88
    tracemalloc.start()
    try:
        r = Results.from_chunks(scenario, _synthetic_chunks(n_chunks, n), seed=1, mode="approx", n_paths=n_chunks * n, store=store)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.path["money"][-1, 0] == n_chunks - 1 and r.path["period"][n] == 1
    if store == "disk":
        assert peak < 8 * n * 88 + 2**20, peak
    else:
        assert peak > total, peak


def test_summary_and_writers_read_a_column_or_a_block_at_a_time(scenario, tmp_path, small_row_groups):
    """A disk store of 60 copies of one chunk (245,760 paths, ~140 MB of per-path data): summary,
    quantiles and Parquet each allocate a bounded number of columns or row blocks."""
    first = simulate(scenario, n_paths=4096, seed=3, keep_paths=0, path_store="memory")
    part = ChunkResult(4096, dict(first.path), {k: v[None] * 4096 for k, v in first.period_mean.items()}, first.kept)
    reps = 60
    r = Results.from_chunks(scenario, (dataclasses.replace(part) for _ in range(reps)), seed=3, mode="approx", n_paths=reps * 4096, store="disk")
    column = r.n_paths * 8
    tracemalloc.start()
    try:
        peaks = {}
        for name, run in [("summary", r.summary), ("quantiles", r.quantiles), ("parquet", lambda: r.to_parquet(tmp_path / "r.parquet"))]:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            run()
            peaks[name] = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert r.n_paths * 600 > 60 * column  # all per-path data is sixty columns' worth or more
    assert peaks["summary"] < 12 * column, peaks  # ~8: two columns plus loss_statistics' temporaries
    assert peaks["quantiles"] < 8 * column, peaks
    assert peaks["parquet"] < 8 * column, peaks
    # ... and still the right answer: every copy of the chunk has the chunk's own figures.
    got = r.summary().set_index(["group", "name", "metric"]).value
    want = first.summary().set_index(["group", "name", "metric"]).value
    for key in [("tranche", r.tranche_names[0], "capital_drawn_mean"), ("contract", scenario.name, "outcome_payments_mean")]:
        assert got[key] == pytest.approx(want[key], rel=1e-12)
