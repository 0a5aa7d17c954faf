"""Reference model (participant-level simpy) against the fast engine: paths per second and speedup.

    python benchmarks/bench_des.py                          # every scenario in scenarios/
    python benchmarks/bench_des.py --des-paths 50 --repeat 5 scenarios/west_london_zone.yaml

For each scenario, on one core: the reference model's paths per second (``simulate_des``, a small
number of paths), the fast engine's in its default ``approx`` counts and in ``exact`` counts
(``simulate``, whole blocks of paths), and the engine's speedup per path. Each timing is the best
of ``--repeat`` runs, alternating the engines, so that a busy machine slows both alike.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench(path: Path, des_paths: int, engine_paths: int, repeat: int) -> dict[str, float]:
    """Paths per second on one core: ``des`` (reference model), ``approx`` and ``exact`` (fast
    engine); ``enrolled``: mean participants a path."""
    from cib_sim import load_scenario, simulate
    from cib_sim.reference.des import simulate_des

    s = load_scenario(path)
    simulate(s, 64, seed=0)  # warm imports and caches
    simulate_des(s, 1, seed=0)
    runs = {
        "des": (des_paths, lambda: simulate_des(s, des_paths, seed=1)),
        "approx": (engine_paths, lambda: simulate(s, engine_paths, seed=1, mode="approx")),
        "exact": (engine_paths, lambda: simulate(s, engine_paths, seed=1, mode="exact")),
    }
    best = {k: float("inf") for k in runs}
    for _ in range(repeat):  # alternate, so that load on the machine hits every engine alike
        for k, (_, fn) in runs.items():
            best[k] = min(best[k], _timed(fn))
    out = {k: n / best[k] for k, (n, _) in runs.items()}
    out["enrolled"] = float(simulate(s, 256, seed=1).path["enrolled"].sum(axis=1).mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenarios", nargs="*", type=Path, help="YAML files (default: scenarios/*.yaml)")
    ap.add_argument("--des-paths", type=int, default=20, help="reference-model paths per timing")
    ap.add_argument("--engine-paths", type=int, default=8192, help="fast-engine paths per timing")
    ap.add_argument("--repeat", type=int, default=3, help="timings per engine; the best is kept")
    args = ap.parse_args()
    paths = args.scenarios or sorted((ROOT / "scenarios").glob("*.yaml"))
    head = (f"{'scenario':<22} {'enrolled/path':>13} {'DES paths/s':>11} {'engine approx':>13} {'speedup':>8}"
            f" {'engine exact':>12} {'speedup':>8}")
    print(head)
    print("-" * len(head))
    for p in paths:
        b = bench(p, args.des_paths, args.engine_paths, args.repeat)
        print(f"{p.stem:<22} {b['enrolled']:>13,.0f} {b['des']:>11,.2f} {b['approx']:>13,.0f} {b['approx'] / b['des']:>7,.0f}x"
              f" {b['exact']:>12,.0f} {b['exact'] / b['des']:>7,.0f}x")
    print(f"(one core; best of {args.repeat}; DES {args.des_paths} paths, engine {args.engine_paths} paths a timing;"
          " speedup = engine paths/s over DES paths/s)")


if __name__ == "__main__":
    main()
