"""Analysis benchmark: a stress table, a tornado and one large run, serial against Dask.

    python benchmarks/bench_analysis.py                  # 16,384 paths per variant, 2 Dask workers
    python benchmarks/bench_analysis.py --paths 65536 --workers 4
    python benchmarks/bench_analysis.py --address tcp://scheduler:8786   # a real cluster

Every case is checked to give exactly the serial result (same seed, same blocks of paths), so the
timings compare like with like. The local cluster's start-up (about a second) and the workers'
first imports are outside the timings: start a cluster once and pass its client to every analysis.
The serial runs use numpy's default threads; Dask's worker processes one BLAS thread each.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _dask import close, dask_client

from cib_sim import load_scenario
from cib_sim.analysis import run, stress, tornado

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "west_london_zone.yaml"


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--paths", type=int, default=16_384, help="paths per variant")
    ap.add_argument("--big", type=int, default=262_144, help="paths of the single large run")
    ap.add_argument("--workers", type=int, default=2, help="local Dask workers (processes)")
    ap.add_argument("--address", default=None, help="scheduler address of a running Dask cluster")
    args = ap.parse_args()

    s = load_scenario(SCENARIO)
    run(s, 4096, seed=0, keep_paths=0)  # warm imports
    client, cluster = dask_client(args.address, args.workers)
    workers = len(client.scheduler_info()["workers"])
    run(s, 4096 * workers, seed=0, keep_paths=0, chunk_size=4096, executor=client)  # warm the workers
    rows = []
    try:
        cases = {
            "stress table (9 variants)": lambda ex: stress(s, n_paths=args.paths, seed=1, executor=ex),
            "tornado (49 variants)": lambda ex: tornado(s, "tranche/2/prob_loss", n_paths=args.paths // 4, seed=1, executor=ex),
            f"one run of {args.big:,} paths": lambda ex: run(s, args.big, seed=1, keep_paths=0, executor=ex),
        }
        for name, case in cases.items():
            serial, t_serial = timed(case, None)
            on_dask, t_dask = timed(case, client)
            if isinstance(serial, pd.DataFrame):
                pd.testing.assert_frame_equal(serial, on_dask, check_exact=True)
                n = args.paths if "stress" in name else args.paths // 4
                variants = len(serial) if "stress" in name else 1 + 2 * len(serial)
            else:
                assert all(np.array_equal(serial.path[k], on_dask.path[k], equal_nan=True) for k in serial.path)
                n, variants = args.big, 1
            rows.append({
                "case": name, "paths per variant": n, "serial s": round(t_serial, 2), f"dask ({workers} workers) s": round(t_dask, 2),
                "speed-up": round(t_serial / t_dask, 2), "paths/s on dask": round(n * variants / t_dask), "identical": True,
            })
    finally:
        close(client, cluster)
    print(f"{s.name}")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
