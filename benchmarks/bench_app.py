"""App-sized jobs: 10,000 paths of West London Zone, and a 20-input tornado at 10,000 paths.

    python benchmarks/bench_app.py

One warm process (kernels compiled and loaded before timing); median of ``--repeat`` runs of
each, one worker (and the tornado again on a thread per core, as the app runs it). Issue 16's targets: 10,000 paths in under 0.1 s of engine time, the tornado
in under 3 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import cib_sim
from cib_sim.analysis import sensitivity_inputs, tornado
from cib_sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def _median_time(job, repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        job()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "west_london_zone.yaml"))
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--inputs", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    s = load_scenario(args.scenario)
    cib_sim.simulate(s, n_paths=args.paths, seed=1)  # load and compile outside the timing
    inputs = sensitivity_inputs(s)[: args.inputs]
    cases = {
        f"simulate, {args.paths:,} paths": lambda: cib_sim.simulate(s, n_paths=args.paths, seed=1),
        f"tornado, {len(inputs)} inputs x {args.paths:,} paths": lambda: tornado(
            s, "tranche/0/prob_loss", inputs=inputs, n_paths=args.paths, seed=1),
        # As the app runs it: variants on a thread per core (cib_sim.app.studies.STUDIES_RUN_ON).
        f"tornado, threads ({os.cpu_count()} cores)": lambda: tornado(
            s, "tranche/0/prob_loss", inputs=inputs, n_paths=args.paths, seed=1, executor="threads"),
    }
    print(f"{Path(args.scenario).stem}; one process, one worker; median of {args.repeat}")
    for name, job in cases.items():
        med, times = _median_time(job, args.repeat)
        print(f"{name:<40} {med:7.2f} s   (" + " ".join(f"{x:.2f}" for x in times) + ")")


if __name__ == "__main__":
    main()
