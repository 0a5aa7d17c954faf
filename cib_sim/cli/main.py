"""Command line: ``cib-sim validate | run | summary`` (and the analysis, learning and portfolio commands).

Bad input exits with status 2 and ``field path: reason`` lines on stderr, never a traceback; see
:mod:`cib_sim.cli.args` for every exit status and ``--debug``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from cib_sim.cli.args import (
    add_debug_flags,
    check_out,
    dispatch,
    positive_int,
    seed_int,
)
from cib_sim.deals.headline import headline_terms
from cib_sim.scenario import Scenario, load_scenario


def _load(path: str) -> Scenario:
    return load_scenario(path)


def _simulate(args: argparse.Namespace, s: Scenario):
    from cib_sim.run import simulate

    progress = not args.quiet and sys.stderr.isatty() or (args.paths >= 100_000 and not args.quiet)
    return simulate(s, n_paths=args.paths, seed=args.seed, workers=args.workers, progress=progress or None)


def cmd_validate(args: argparse.Namespace) -> int:
    s = _load(args.scenario)
    print(f"{args.scenario}: valid scenario {s.name!r}")
    for outcome, share in s.unfunded_shares().items():
        print(f"  warning: outcomes.{outcome}: {share:.0%} of its price is funded by no commissioner")
    terms = headline_terms(s)
    print(
        f"  {len(s.outcomes)} outcomes, {len(s.partners)} partners ({s.delivery.model}), "
        f"{len(s.commissioners)} commissioners, {len(s.tranches)} tranches; capital "
        f"{terms['capital']:,.0f} {s.currency}, maximum outcome payments {terms['max_outcome_payment']:,.0f} {s.currency}"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    check_out(out, (".parquet", ".csv", ".xlsx"))
    s = _load(args.scenario)
    r = _simulate(args, s)
    suffix = out.suffix.lower()
    if suffix == ".xlsx":
        from cib_sim.report import build_workbook

        out.write_bytes(build_workbook(s, r))
    elif suffix == ".csv":
        r.to_csv(out)
    else:
        r.to_parquet(out)
    if args.summary:
        r.summary().to_csv(out.with_name(out.stem + "_summary.csv"), index=False)
    print(f"wrote {'a workbook of ' if suffix == '.xlsx' else ''}{r.n_paths:,} paths to {out}")
    return 0


def format_summary(summary, currency: str) -> str:
    """A readable terminal table of the headline figures from ``Results.summary()``."""
    pick = {
        "tranche": ["capital_drawn_mean", "prob_loss", "expected_loss", "multiple_p5", "multiple_p50", "multiple_p95",
                    "irr_p5", "irr_p50", "irr_p95", "irr_undefined"],
        "guarantee": ["prob_called", "expected_call"],
        "commissioner": ["paid_mean", "paid_net_mean", "paid_p95", "cost_per_outcome", "cost_per_outcome_net",
                         "value_for_money", "value_for_money_net", "prob_cap_hit"],
        "partner": ["revenue_mean", "outcomes_mean"],
        "contract": ["enrolled_mean", "outcome_payments_mean", "outcome_payments_net_mean", "value_for_money",
                     "value_for_money_net", "prob_delivery_stopped"],
    }
    lines = []
    for group, metrics in pick.items():
        part = summary[(summary.group == group) & summary.metric.isin(metrics)]
        if part.empty:
            continue
        lines.append(f"\n{group.upper()}S" if group != "contract" else "\nCONTRACT")
        for name, rows in part.groupby("name", sort=False):
            cells = []
            for _, row in rows.iterrows():
                cells.append(f"{row.metric}={_fmt(row.value, row.unit, currency)}")
            lines.append(f"  {name}")
            for i in range(0, len(cells), 4):
                lines.append("    " + "  ".join(cells[i : i + 4]))
    return "\n".join(lines)


def _fmt(value: float, unit: str, currency: str) -> str:
    if value != value:  # NaN
        return "n/a"
    if unit == currency:
        return f"{value:,.0f} {currency}"
    if unit in ("probability", "per year", "share of paths"):
        return f"{value:.1%}"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.1f}"


def cmd_summary(args: argparse.Namespace) -> int:
    s = _load(args.scenario)
    r = _simulate(args, s)
    print(f"{s.name}: {r.n_paths:,} paths, seed {args.seed}")
    print(format_summary(r.summary(), s.currency))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cib-sim", description="Monte Carlo simulation of Collective Impact Bonds")
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check a scenario file and report problems by field")
    v.add_argument("scenario")
    v.set_defaults(func=cmd_validate)

    def sim_args(sp: argparse.ArgumentParser, paths: int) -> None:
        sp.add_argument("scenario")
        sp.add_argument("--paths", type=positive_int, default=paths, help=f"Monte Carlo paths (default {paths:,})")
        sp.add_argument("--seed", type=seed_int, default=1, help="random seed, a whole number >= 0 (default 1)")
        sp.add_argument("--workers", type=positive_int, default=1, help="processes (default 1)")
        sp.add_argument("--quiet", action="store_true", help="no progress bar")

    r = sub.add_parser("run", help="simulate and write path-level results (Parquet or CSV) or an Excel workbook")
    sim_args(r, 10_000)
    r.add_argument("--out", required=True, help="results file: .parquet or .csv (one row per path), or .xlsx (a "
                   "workbook: terms, assumptions, summary, cash flows per period as mean and percentiles)")
    r.add_argument("--summary", action="store_true", help="also write NAME_summary.csv")
    r.set_defaults(func=cmd_run)

    sm = sub.add_parser("summary", help="simulate and print the headline figures")
    sim_args(sm, 10_000)
    sm.set_defaults(func=cmd_summary)

    # Analysis commands (sweep, stress, tornado, solve) live with the analysis tools, and
    # `nowcast` with learning from observed results.
    from cib_sim.cli.analysis import add_commands
    from cib_sim.cli.learning import add_commands as add_learning_commands
    from cib_sim.cli.portfolio import add_commands as add_portfolio_commands

    add_commands(sub)
    add_learning_commands(sub)
    add_portfolio_commands(sub)
    add_debug_flags(p, sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cib-sim`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    return dispatch(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
