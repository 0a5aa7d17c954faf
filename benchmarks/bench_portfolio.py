"""Portfolio benchmark: a fund of 30 bonds, one process against a local Dask cluster.

    python benchmarks/bench_portfolio.py                         # 100,000 paths, 2 Dask workers
    python benchmarks/bench_portfolio.py --paths 8192 --workers 2
    python benchmarks/bench_portfolio.py --address tcp://scheduler:8786   # a real cluster

The 30 members cycle through the shipped GBP scenarios (West London Zone, the rate-card fund,
Peterborough, the slow-start stress case), started a quarter apart from 2016 in six places, with
a top-up fund (20% of every member's outcome payments from a GBP 40m pot), an investor fund
holding half of each member's most senior capital tranche (1% fee, 3% hurdle, 20% carry), and
common shocks (all, place, policy area). The
Dask result is checked to equal the one-process result exactly (every per-path array), so the
timings compare like with like. The cluster's start-up and the workers' first imports are outside
the timings. Peak memory is this process's (the client: it gathers every path's arrays).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import time

import numpy as np
from _dask import close, dask_client

from cib_sim.portfolio import parse_portfolio, simulate_portfolio
from cib_sim.scenario import load_shipped

KINDS = [("west_london_zone", "education"), ("rate_card_fund", "employment"), ("peterborough", "justice"),
         ("stress_slow_start", "education")]
PLACES = ["London", "Birmingham", "Manchester", "Leeds", "Bristol", "Newcastle"]


def thirty_bonds(n: int = 30):
    members, stakes = [], []
    for i in range(n):
        name, area = KINDS[i % len(KINDS)]
        start = dt.date(2016 + (i * 3) // 12, (i * 3) % 12 + 1, 1)
        m = f"bond {i:02d} ({name})"
        members.append({"name": m, "scenario": name, "start": start.isoformat(), "place": PLACES[i % len(PLACES)],
                        "policy_area": area})
        senior = load_shipped(name).capital_tranches[0].name
        stakes.append({"member": m, "tranche": senior, "share": 0.5})
    return parse_portfolio({
        "name": "30 bonds", "members": members,
        "top_ups": [{"name": "Outcomes fund", "pot": 40e6, "share": 0.2, "when_exhausted": "pro_rata"}],
        "investors": [{"name": "Fund", "management_fee": 0.01, "hurdle": 0.03, "carry": 0.2, "stakes": stakes}],
        "correlation": [{"by": "all", "loading": 0.1}, {"by": "place", "loading": 0.1}, {"by": "policy_area", "loading": 0.1}],
    })


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2, help="local Dask workers (processes)")
    ap.add_argument("--address", default=None, help="scheduler address of a running Dask cluster")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    args = ap.parse_args()
    rp = thirty_bonds()
    simulate_portfolio(rp, 64, seed=0)  # warm imports and caches
    t0 = time.perf_counter()
    one = simulate_portfolio(rp, args.paths, seed=1)
    t_one = time.perf_counter() - t0
    mem_one = peak_mib()

    client, cluster = dask_client(args.address, args.workers)
    try:
        workers = len(client.scheduler_info()["workers"])
        simulate_portfolio(rp, 64, seed=0, executor=client)  # warm the workers
        t0 = time.perf_counter()
        on_dask = simulate_portfolio(rp, args.paths, seed=1, executor=client)
        t_dask = time.perf_counter() - t0
    finally:
        close(client, cluster)
    same = one.arrays.keys() == on_dask.arrays.keys() and all(
        np.array_equal(one.arrays[k], on_dask.arrays[k], equal_nan=True) for k in one.arrays)
    s = one.summary()
    fund = s[s.group == "investor_fund"].set_index("metric")["value"]
    figures = {
        "bonds": len(rp.names), "paths": args.paths, "one_process_s": round(t_one, 2),
        "one_process_paths_per_s": round(args.paths / t_one), "dask_workers": workers, "dask_s": round(t_dask, 2),
        "dask_paths_per_s": round(args.paths / t_dask), "speedup": round(t_one / t_dask, 2), "identical": bool(same),
        "client_peak_mib": round(peak_mib()), "one_process_peak_mib": round(mem_one),
        "prob_pot_exhausted": round(one.exhaustion()["prob_exhausted"], 4), "fund_prob_loss": round(float(fund.prob_loss), 4),
        "fund_prob_loss_before_fees": round(float(fund.prob_loss_before_fees), 4),
        "stakes_prob_loss_mean": round(float(fund.stakes_prob_loss_mean), 4),
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2)
    if not same:
        raise SystemExit("Dask and one process differ")


if __name__ == "__main__":
    main()
