"""First-run cost of the compiled kernels (cib_sim/engine/kernels): cold and warm.

    python benchmarks/bench_compile.py            # WLZ, 10,000 paths; three runs of each case

Each case is a fresh Python process, timed from its start to the end of its work:

- ``import``: ``import cib_sim`` alone (numba is not loaded);
- ``validate``: ``cib-sim validate`` of the scenario (numba is not loaded);
- ``cold first run``: a simulation with an empty compile cache (``NUMBA_CACHE_DIR`` pointed at
  a new folder): what the first run after installing costs, compiling every kernel it uses;
- ``warm first run``: the same simulation in a new process with that cache filled: what every
  later first run costs (the app's first page after its first start);
- ``steady run``: the simulation run again in the warm process (no loading at all).

A kernel's source beside a writable ``__pycache__`` caches there by default; the cold case
points numba at an empty folder instead, so it is cold whatever ran before.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SIM = """
import time, sys
t0 = time.perf_counter()
import cib_sim
from cib_sim.scenario import load_scenario
s = load_scenario({path!r})
cib_sim.simulate(s, n_paths={n}, seed=1)
t1 = time.perf_counter()
cib_sim.simulate(s, n_paths={n}, seed=2)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1, 'numba' in sys.modules)
"""


def _wall(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - t, out.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "west_london_zone.yaml"))
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="also write the medians here")
    args = ap.parse_args()
    py = sys.executable
    rows: dict[str, list[float]] = {k: [] for k in ("import", "validate", "cold first run", "warm first run", "steady run")}
    numba_loaded: dict[str, bool] = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
            rows["import"].append(_wall([py, "-c", "import cib_sim"], env)[0])
            numba_loaded["import"] = "True" in _wall([py, "-c", "import cib_sim, sys; print('numba' in sys.modules)"], env)[1]
            validate = f"import sys; from cib_sim.cli.main import main; sys.exit(main(['validate', {args.scenario!r}]))"
            rows["validate"].append(_wall([py, "-c", validate], env)[0])
            code = SIM.format(path=args.scenario, n=args.paths)
            for case in ("cold first run", "warm first run"):
                first, steady, loaded = _wall([py, "-c", code], env)[1].split()
                rows[case].append(float(first))
                numba_loaded[case] = loaded == "True"
            rows["steady run"].append(float(steady))
    medians = {k: statistics.median(v) for k, v in rows.items()}
    print(f"{Path(args.scenario).stem}, {args.paths:,} paths; median of {args.repeat} (fresh processes)")
    print(f"{'case':<16} {'seconds':>8}  runs")
    for k, v in rows.items():
        print(f"{k:<16} {medians[k]:>8.2f}  " + " ".join(f"{x:.2f}" for x in v))
    print("numba loaded by import:", numba_loaded["import"])
    if args.json:
        Path(args.json).write_text(json.dumps({"paths": args.paths, "median_s": medians, "runs_s": rows}, indent=2))


if __name__ == "__main__":
    main()
