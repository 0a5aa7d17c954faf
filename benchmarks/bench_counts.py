"""How far the fast (Cornish-Fisher) counts are from exact binomial/Poisson counts.

    python benchmarks/bench_counts.py [--paths 8192]

Both modes use the same standard normals, so the comparison is path by path: for every count
cell the share where the approximate count differs from the exact one, and, for the headline
results, the difference in mean and standard deviation, in units of the Monte Carlo standard
error of the mean.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from cib_sim import load_scenario
from cib_sim.engine import run_paths
from cib_sim.engine.sample import sample
from cib_sim.run.plan import block_seeds

ROOT = Path(__file__).resolve().parents[1]


def compare(path: Path, n: int) -> None:
    s = load_scenario(path)
    seeds = block_seeds(11, n)
    sizes = [min(4096, n - i * 4096) for i in range(len(seeds))]
    draws = sample(s, seeds, sizes, exact=True)
    t0 = time.perf_counter()
    fa = run_paths(s, draws, "approx")
    ta = time.perf_counter() - t0
    t0 = time.perf_counter()
    fe = run_paths(s, draws, "exact")
    te = time.perf_counter() - t0
    ach_a, ach_e = fa["achieved"], fe["achieved"]
    print(f"\n{s.name}  ({n:,} paths; approx {ta:.2f} s, exact {te:.2f} s)")
    rows = {
        "outcomes achieved": (ach_a.sum(axis=(1, 2, 3)), ach_e.sum(axis=(1, 2, 3))),
        "outcome payments": (fa["commissioner_paid"].sum(axis=(1, 2)), fe["commissioner_paid"].sum(axis=(1, 2))),
        "first tranche received": (
            (fa["coupon"] + fa["capital"] + fa["upside"] + fa["guarantee_received"])[:, :, 0].sum(axis=1),
            (fe["coupon"] + fe["capital"] + fe["upside"] + fe["guarantee_received"])[:, :, 0].sum(axis=1),
        ),
    }
    print(f"  {'measure':<24}{'mean approx':>14}{'mean exact':>14}{'diff/SE':>9}{'sd approx':>12}{'sd exact':>12}")
    for name, (a, e) in rows.items():
        se = e.std(ddof=1) / np.sqrt(n)
        z = (a.mean() - e.mean()) / se if se > 0 else 0.0
        print(f"  {name:<24}{a.mean():>14,.1f}{e.mean():>14,.1f}{z:>9.2f}{a.std():>12,.1f}{e.std():>12,.1f}")


def single_counts() -> None:
    """One binomial count: the approximation against the exact inverse CDF at the same normal."""
    from scipy import stats

    from cib_sim.engine.delivery import binomial_from_normal, count_from_normal

    z = np.random.default_rng(5).standard_normal(200_000)
    print("Single Binomial(n, p) counts, same normals (200,000 draws each):")
    print(f"  {'n':>6}{'p':>6}{'P(differ)':>11}{'max |diff|':>11}{'TV distance':>13}")
    for n in (5, 20, 100, 1000):
        for p in (0.05, 0.3, 0.5):
            nn, pp = np.full_like(z, n), np.full_like(z, p)
            v = nn * pp * (1 - pp)
            a = count_from_normal(z, nn * pp, v, v * (1 - 2 * pp), nn, "approx")
            e = binomial_from_normal(z, nn, pp)
            pmf = stats.binom.pmf(np.arange(n + 1), n, p)
            emp = np.bincount(a.astype(int), minlength=n + 1)[: n + 1] / z.size
            tv = 0.5 * np.abs(emp - pmf).sum()
            print(f"  {n:>6}{p:>6}{np.mean(a != e):>11.2%}{np.abs(a - e).max():>11.0f}{tv:>13.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paths", type=int, default=8192)
    args = ap.parse_args()
    single_counts()
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        compare(path, args.paths)


if __name__ == "__main__":
    main()
