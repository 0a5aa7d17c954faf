"""Fast-engine benchmark: paths per second, peak memory, and the random-number floor.

    python benchmarks/bench_engine.py                       # 10k, 100k, 1M paths, 1 and 2 workers
    python benchmarks/bench_engine.py --sizes 10000 100000  # fewer
    python benchmarks/bench_engine.py --all                 # every shipped scenario, per core, against its floor

Each case runs in a fresh process. Its peak memory is the largest total resident memory of that
process and its workers together, sampled every 50 ms from /proc while it runs (so two workers
count twice, as they use the machine's memory twice). The *floor* is the time numpy's Generator
takes just to draw one standard normal for every path x period x partner x outcome cell of the
scenario: no engine that draws a random number per cell can beat it.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "west_london_zone.yaml"


def _tree_rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, MiB (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (OSError, StopIteration, ValueError):
            pass  # the process ended meanwhile
    return total / 1024


class _PeakMemory:
    """Samples the memory of this process and its workers in a thread until stopped."""

    def __init__(self, every: float = 0.05):
        self.peak, self._stop = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _run(self, every: float) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss_mib(os.getpid()))
            time.sleep(every)

    def __enter__(self) -> "_PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _tree_rss_mib(os.getpid()))


def _case(conn, path: str, n: int, workers: int) -> None:
    from cib_sim import load_scenario, simulate

    s = load_scenario(path)
    simulate(s, 4096, seed=0)  # warm imports and caches
    with _PeakMemory() as mem:
        t0 = time.perf_counter()
        r = simulate(s, n, seed=1, workers=workers)
        dt = time.perf_counter() - t0
        prob_loss = r.metric("tranche", r.tranche_names[0], "prob_loss")  # the summary, too, in memory
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    conn.send((dt, max(mem.peak, own), prob_loss))


def _floor(conn, path: str, n: int) -> None:
    from cib_sim import load_scenario

    s = load_scenario(path)
    cells = s.horizon.n_periods * len(s.partners) * len(s.outcomes)
    rng = np.random.default_rng(1)
    # The engine's chunk of paths at a time, into one buffer: the cost of drawing the numbers,
    # not of allocating and paging in fresh memory for them (which made the floor noisy, and up to
    # twice as slow, with 65,536-path blocks).
    block = min(n, 16_384)
    buf = np.empty((block, cells))
    rng.standard_normal(out=buf)  # page the buffer in before timing
    t0 = time.perf_counter()
    for start in range(0, n, block):
        m = min(block, n - start)
        rng.standard_normal(out=buf[:m])
    conn.send((time.perf_counter() - t0, cells))


def _draws(conn, path: str, n: int) -> None:
    """The engine's own random draws alone: every chunk's ``sample`` of the run, as ``simulate``
    makes them (same seeds, same chunks), and nothing else. A lower bound on the engine's time
    that no kernel can move without changing the random streams (and so every result)."""
    from cib_sim import load_scenario
    from cib_sim.engine.sample import sample
    from cib_sim.run.plan import RunPlan

    s = load_scenario(path)
    plan = RunPlan.make(n, seed=1)
    sample(s, plan.chunks[0].seeds[:1], plan.chunks[0].sizes[:1])  # warm imports
    t0 = time.perf_counter()
    for chunk in plan.chunks:
        sample(s, chunk.seeds, chunk.sizes)
    conn.send(time.perf_counter() - t0)


def run_in_child(target, *args):
    # Fork, as a script on Linux would: a case started by spawn would make the engine's worker
    # pool spawn too, and each worker would pay about a second of imports.
    ctx = mp.get_context("fork")
    a, b = ctx.Pipe()
    p = ctx.Process(target=target, args=(b, *args))
    p.start()
    out = a.recv()
    p.join()
    return out


def every_scenario(n: int, repeat: int) -> None:
    """Per core (one worker), each shipped scenario's engine time against its own floor, and
    issue 16's target (WLZ at most 1.5x, every shipped scenario at most 3x)."""
    from cib_sim.scenario.library import library_folder, shipped_scenarios

    print(f"{n:,} paths, one worker; median of {repeat} runs, each in a fresh process")
    print(f"{'scenario':<30} {'cells':>6} {'engine s':>9} {'floor s':>8} {'ratio':>7} {'target':>7} {'paths/s':>10}"
          f" {'draws s':>8} {'draws/floor':>11}")
    for name in shipped_scenarios():
        path = str(library_folder() / f"{name}.yaml")
        floors = [run_in_child(_floor, path, n) for _ in range(repeat)]
        floor, cells = statistics.median(f for f, _ in floors), floors[0][1]
        dt = statistics.median(run_in_child(_case, path, n, 1)[0] for _ in range(repeat))
        draws = statistics.median(run_in_child(_draws, path, n) for _ in range(repeat))
        target = 1.5 if name == "west_london_zone" else 3.0
        print(f"{name:<30} {cells:>6} {dt:>9.3f} {floor:>8.3f} {dt / floor:>7.1f} {target:>7.1f} {n / dt:>10,.0f}"
              f" {draws:>8.3f} {draws / floor:>11.2f}")
    print("(draws: the engine's own random draws alone, the same seeds and chunks: more than one normal a cell where"
          " a scenario draws referrals, dropouts, outcomes and control groups separately)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default=str(SCENARIO))
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=3, help="runs of each case (and of the floor); medians are shown")
    ap.add_argument("--all", action="store_true", help="every shipped scenario at the first size, one worker")
    args = ap.parse_args()
    if args.all:
        every_scenario(args.sizes[0] if args.sizes != [10_000, 100_000, 1_000_000] else 100_000, args.repeat)
        return
    print(f"scenario: {Path(args.scenario).name}; median of {args.repeat} runs, each in a fresh process")
    print(f"{'paths':>10} {'workers':>7} {'seconds':>8} {'fastest':>8} {'slowest':>8} {'paths/s':>10} {'peak MiB':>9}"
          f" {'floor s':>8} {'wall/floor':>10} {'core-s/floor':>12}")
    for n in args.sizes:
        floors = [run_in_child(_floor, args.scenario, n) for _ in range(args.repeat)]
        floor, cells = statistics.median(f for f, _ in floors), floors[0][1]
        for w in args.workers:
            runs = [run_in_child(_case, args.scenario, n, w) for _ in range(args.repeat)]
            times = [dt for dt, _, _ in runs]
            dt, mib = statistics.median(times), max(m for _, m, _ in runs)
            # The floor is single-threaded: per core used, the engine's core-seconds against it.
            cores = min(w, mp.cpu_count())
            print(f"{n:>10,} {w:>7} {dt:>8.2f} {min(times):>8.2f} {max(times):>8.2f} {n / dt:>10,.0f} {mib:>9,.0f}"
                  f" {floor:>8.2f} {dt / floor:>10.2f} {dt * cores / floor:>12.2f}")
    print(f"(floor: one standard normal per path x period x partner x outcome = {cells} cells a path, on one core;"
          " peak MiB: the largest of the runs, the process and its workers together)")


if __name__ == "__main__":
    main()
