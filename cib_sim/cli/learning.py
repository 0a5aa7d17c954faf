"""``cib-sim nowcast SCENARIO OBSERVED.csv``: update the projections from a quarter's data.

Wired into ``cib_sim.cli`` with ``learning_cli.add_commands(subparsers)``; runs standalone too:
``python -m cib_sim.cli.learning nowcast scenarios/stress_slow_start.yaml
scenarios/observed/stress_slow_start_q12.csv --previous scenarios/observed/stress_slow_start_q8.csv``.

Prints what the data say about each effect (prior against posterior), the early-warning
probabilities and how they moved since the previous report (or since the scenario as written),
and the interval for total outcome payments. Exit codes: 0 done; 2 bad input (a scenario or
observed-data problem, each printed as ``error: line N: reason``); others as in
:mod:`cib_sim.cli.args`.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cib_sim.cli.args import (
    add_debug_flags,
    check_out,
    dispatch,
    positive_int,
    seed_int,
)
from cib_sim.errors import bad
from cib_sim.learning.observed import period_starts, read_observed
from cib_sim.scenario import load_scenario, save_scenario


def add_commands(subparsers: Any) -> None:
    """Add ``nowcast`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "nowcast", help="update the projections from observed data (learning as results arrive)",
        description="Condition the scenario's effects and maturity on the outcomes observed so far, simulate the "
        "rest of the contract with reported periods fixed, and report early-warning probabilities. "
        "Observed data format: see cib_sim/observed.py (period, partner, outcome, commissioner, enrolled, "
        "dropped, achieved, payments_received, ended).",
    )
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("observed", help="observed data CSV")
    p.add_argument("--previous", help="the previous report's observed data CSV, to show how the figures moved")
    p.add_argument("--paths", type=positive_int, default=4096, help="Monte Carlo paths (default 4,096)")
    p.add_argument("--seed", type=seed_int, default=1, help="random seed, a whole number >= 0 (default 1)")
    p.add_argument("--draws", type=positive_int, default=8000, help="posterior importance-sampling draws (default 8,000)")
    p.add_argument("--as-of", type=positive_int, dest="as_of", help="number of periods reported (default: one past the latest "
                   "enrolment or payment row)")
    p.add_argument("--out-scenario", help="write the posterior scenario (YAML)")
    p.add_argument("--csv", help="write the early-warning table (CSV)")
    p.set_defaults(func=handle_nowcast, handler=handle_nowcast)


def _fmt_money(x: float, cur: str) -> str:
    if not np.isfinite(x):
        return "n/a"
    for div, suf in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:,.2f}{suf} {cur}"
    return f"{x:,.0f} {cur}"


def _pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.1%}"


def _pp(x: float) -> str:
    return "" if not np.isfinite(x) else f"{x * 100:+.1f} pp"


def format_report(s, obs, post, ew: pd.DataFrame, r_now, r_prior, previous_label: str | None) -> str:
    """The nowcast report as text."""
    from cib_sim.learning import interval

    cur = s.currency
    K = obs.as_of
    starts = period_starts(s)
    lines = []
    when = f"period {K - 1} (starting {starts[K - 1].date()})" if K else "no periods"
    lines.append(f"{s.name}: data to {when}; {K} of {s.horizon.n_periods} periods reported")
    lines.append(f"  {obs.summary()}")
    stages = len(post.betas)
    lines.append(
        f"  posterior: {post.n_draws:,} draws, effective sample size {post.ess:,.0f}"
        + (f" ({stages} tempering stages)" if stages > 1 else " (prior draws reweighted)")
    )
    tab = post.table()
    if len(tab):
        lines.append("\nWHAT THE DATA SAY  (effect: uplift in probability at full maturity; prior -> posterior, 90% interval)")
        for partner, rows in tab.groupby("partner", sort=False):
            lines.append(f"  {partner}")
            for _, r in rows.iterrows():
                shift = r.shift_in_prior_sd
                lines.append(
                    f"    {r.parameter:<34} {r.prior_mean:7.3f} -> {r.posterior_mean:7.3f}  "
                    f"[{r.posterior_q05:.3f}, {r.posterior_q95:.3f}]  sd {r.prior_sd:.3f} -> {r.posterior_sd:.3f}"
                    + (f"  ({shift:+.1f} prior sd)" if np.isfinite(shift) else "")
                )
    base = f"since {previous_label}" if previous_label else "since the scenario as written (no previous report)"
    lines.append(f"\nEARLY WARNING  (probability now; change {base}; Monte Carlo se)")
    for (group, name), rows in ew.groupby(["group", "name"], sort=False):
        lines.append(f"  {group} {name}")
        for _, r in rows.iterrows():
            was = r.previous if previous_label else r.prior
            change = _pp(r.change) or "n/a"
            lines.append(f"    {r.event:<52} {_pct(r.now):>7}   was {_pct(was):>6}  {change:>9}   se {r.se * 100:.1f} pp")
    lo, hi = interval(r_now, 0.9)
    plo, phi = interval(r_prior, 0.9)
    total = r_now.path["commissioner_paid"].sum(axis=1)
    lines.append(
        f"\nOUTCOME PAYMENTS over the contract: median {_fmt_money(float(np.median(total)), cur)}, 90% interval "
        f"[{_fmt_money(lo, cur)}, {_fmt_money(hi, cur)}]  (scenario as written: [{_fmt_money(plo, cur)}, {_fmt_money(phi, cur)}])"
    )
    if obs.paid is not None:
        lines.append(f"  received so far: {_fmt_money(float(obs.paid.sum()), cur)}")
    return "\n".join(lines)


def handle_nowcast(args: argparse.Namespace) -> int:
    from cib_sim.learning import PosteriorCollapseWarning, early_warning, fit, nowcast

    check_out(args.out_scenario, (".yaml", ".yml"), "--out-scenario")
    check_out(args.csv, (".csv",), "--csv")
    s = load_scenario(args.scenario)
    obs = read_observed(args.observed, s, as_of=args.as_of)
    prev = read_observed(args.previous, s) if args.previous else None
    if prev is not None and prev.as_of > obs.as_of:
        raise bad("--previous", f"covers {prev.as_of} periods, more than the current report ({obs.as_of})")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit_ss = np.random.SeedSequence(args.seed).spawn(2)[0]
        post = fit(s, obs, n_draws=args.draws, seed=fit_ss)
        r_now = nowcast(s, obs, n_paths=args.paths, seed=args.seed, posterior=post)
        r_prev = nowcast(s, prev, n_paths=args.paths, seed=args.seed, n_draws=args.draws) if prev is not None else None
        r_prior = nowcast(s, None, n_paths=args.paths, seed=args.seed, n_draws=args.draws)
        ew = early_warning(s, obs, results=r_now, previous_results=r_prev, n_paths=args.paths, seed=args.seed)
    for w in caught:
        if issubclass(w.category, (PosteriorCollapseWarning, UserWarning)):
            print(f"warning: {w.message}", file=sys.stderr)
    label = None
    if prev is not None:
        label = f"the period {prev.as_of - 1} report" if prev.as_of else "an empty report"
    print(format_report(s, obs, post, ew, r_now, r_prior, label))
    if args.out_scenario:
        save_scenario(post.scenario, args.out_scenario)
        print(f"\nwrote the posterior scenario to {args.out_scenario}")
    if args.csv:
        ew.to_csv(args.csv, index=False)
        print(f"wrote the early-warning table to {args.csv}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cib-sim", description="learning as results arrive")
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)
    add_debug_flags(parser, sub)
    return dispatch(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
