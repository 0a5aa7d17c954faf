"""``cib-sim sweep | stress | tornado | solve``: the analysis commands of the CLI.

Wired into ``cib_sim.cli`` with ``analysis_cli.add_commands(subparsers)``; each command sets
``func`` (and ``handler``) to a function ``(args) -> exit code``. Runs standalone too:
``python -m cib_sim.cli.analysis stress scenarios/west_london_zone.yaml --paths 4096``.

Exit codes: 0 done; 1 the solver found no solution in the bounds (or a fault, see
:mod:`cib_sim.cli.args`); 2 bad input (an unknown path, a value the scenario rejects, a malformed
or out-of-contract shock, a target that cannot be met, an output file of an unknown kind), with
the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from cib_sim.analysis.fields import parse_value
from cib_sim.cli.args import (
    OUTPUT_KINDS,
    add_debug_flags,
    check_out,
    dispatch,
    positive_int,
    seed_int,
)
from cib_sim.errors import InputError, bad
from cib_sim.scenario import load_scenario


def add_commands(subparsers: Any) -> None:
    """Add ``sweep``, ``stress``, ``tornado`` and ``solve`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "sweep", help="simulate over a grid of field values (common random numbers)",
        description="One row per point. Example: cib-sim sweep s.yaml --set outcomes.engagement.price=1500,1700,1900 "
        "--set 'tranches.Senior social lender.commitment=8e5,1e6' --paths 4096",
    )
    _scenario_arg(p)
    p.add_argument("--set", dest="sets", action="append", required=True, metavar="PATH=V1,V2,...",
                   help="a dotted field path (or price_multiplier) and its values, comma separated or START:STOP:NUM; repeat for a grid")
    p.add_argument("--zip", action="store_true", help="pair the i-th values of every --set instead of a full grid")
    _metric_arg(p, multiple=True)
    _common(p)
    p.set_defaults(func=handle_sweep, handler=handle_sweep)

    p = subparsers.add_parser(
        "stress", help="stress test: named shocks against the base",
        description="Shocks (repeat --shock; join with + to combine): delay:YEARS, effects:K, exit:PARTNER@YEAR, "
        "withdraw:COMMISSIONER@YEAR, referrals:K, rho:R, price_cut:SHARE, prices:K, set:PATH=VALUE. "
        "Without --shock, a standard battery.",
    )
    _scenario_arg(p)
    p.add_argument("--shock", dest="shocks", action="append", metavar="SPEC", help="e.g. delay:1, exit:Mentoring@2, 'delay:1+effects:0.8'")
    p.add_argument("--relative", action="store_true", help="report changes from the base instead of levels")
    _metric_arg(p, multiple=True)
    _common(p)
    p.set_defaults(func=handle_stress, handler=handle_stress)

    p = subparsers.add_parser("tornado", help="sensitivity of one metric to each uncertain input")
    _scenario_arg(p)
    _metric_arg(p, multiple=False)
    _common(p)
    p.set_defaults(func=handle_tornado, handler=handle_tornado)

    p = subparsers.add_parser(
        "solve", help="find the payment term at which a target holds",
        description="Example: cib-sim solve s.yaml --lever price_multiplier --target tranche/0/prob_loss=0.05 --bounds 0.5 2",
    )
    _scenario_arg(p)
    p.add_argument("--lever", required=True, help="price_multiplier, or a dotted field path (outcomes.NAME.price, tranches.NAME.commitment)")
    p.add_argument("--target", required=True, metavar="GROUP/NAME/METRIC=VALUE", help="e.g. tranche/0/prob_loss=0.05, tranche/0/irr_p50=0.06, contract/outcome_payments_p95=1.2e7")
    p.add_argument("--bounds", nargs=2, type=float, metavar=("LOW", "HIGH"), help="search range (default 0.25 4 for multipliers)")
    p.add_argument("--error", choices=["bootstrap", "reseed", "none"], default="bootstrap", help="how to estimate the Monte Carlo error")
    _common(p)
    p.set_defaults(func=handle_solve, handler=handle_solve)


def _scenario_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario YAML file")


def _metric_arg(p: argparse.ArgumentParser, multiple: bool) -> None:
    if multiple:
        p.add_argument("--metric", dest="metrics", action="append", metavar="GROUP/NAME/METRIC",
                       help="e.g. tranche/*/prob_loss, commissioner/Schools/paid_p95, contract/outcome_payments_mean (repeatable)")
    else:
        p.add_argument("--metric", default=None, metavar="GROUP/NAME/METRIC", help="default tranche/0/multiple_mean")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--paths", type=positive_int, default=4096, help="Monte Carlo paths per variant (default 4096)")
    p.add_argument("--seed", type=seed_int, default=1, help="random seed, the same for every variant (default 1)")
    p.add_argument("--dask", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run on Dask: a local cluster, or the scheduler at ADDRESS (tcp://host:8786)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="processes on this machine (without --dask), or workers of the local Dask cluster")
    p.add_argument("--out", type=Path, default=None, help="also write the table (.csv, .xlsx, .json or .parquet)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar (default: when stderr is a terminal)")


def _run_options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if args.dask is not None:
        opts["executor"] = "dask"
        opts["address"] = None if args.dask == "local" else args.dask
        opts["workers"] = args.workers
    elif args.workers and args.workers > 1:
        opts["executor"] = "processes"
        opts["workers"] = args.workers
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    if show:
        opts["progress"] = True
    return opts


def parse_set(text: str) -> tuple[str, list[Any]]:
    """``"path=v1,v2"`` or ``"path=start:stop:num"`` -> ``(path, values)``. An empty value
    (``path=``, ``path=1,,2``) is refused: it would sweep nothing, or a value not meant."""
    where = f"--set {text!r}"
    path, eq, vals = text.rpartition("=")
    if not eq or not path.strip():
        raise bad(where, "expected PATH=V1,V2,... or PATH=START:STOP:NUM")
    vals = vals.strip()
    if not vals:
        raise bad(where, "no values after '=' (expected PATH=V1,V2,... or PATH=START:STOP:NUM)")
    parts = vals.split(":")
    if len(parts) == 3 and "," not in vals:
        try:
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise bad(where, "START:STOP:NUM must be two numbers and a count") from None
        if not (np.isfinite(start) and np.isfinite(stop)) or num < 1:
            raise bad(where, "START and STOP must be finite numbers and NUM a count >= 1")
        return path.strip(), [float(x) for x in np.linspace(start, stop, num)]
    items = vals.split(",")
    empty = [i + 1 for i, v in enumerate(items) if not v.strip()]
    if empty:
        raise bad(where, f"value {empty[0]} of {len(items)} is empty (a stray comma?)")
    return path.strip(), [parse_value(v) for v in items]


def _write(df: pd.DataFrame, out: Path | None, index: bool) -> None:
    """Write the table in the kind its name says (checked before the run by ``check_out``)."""
    if out is None:
        return
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        df.to_parquet(out, index=index)
    elif suffix == ".json":
        (df.reset_index() if index else df).to_json(out, orient="records", indent=1)
    elif suffix == ".xlsx":
        df.to_excel(out, index=index, engine="openpyxl")
    elif suffix == ".csv":
        df.to_csv(out, index=index)
    else:  # pragma: no cover - check_out refuses it before the run
        raise bad("--out", f"cannot write {out.name!r}: the file name must end in {', '.join(OUTPUT_KINDS)}")
    print(f"wrote {out}", file=sys.stderr)


def _show(df: pd.DataFrame) -> None:
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.max_colwidth", 60):
        print(df.to_string())


def handle_sweep(args: argparse.Namespace) -> int:
    from cib_sim.analysis import sweep

    check_out(args.out)
    values = dict(parse_set(t) for t in args.sets)
    s = load_scenario(args.scenario)
    df = sweep(s, values, n_paths=args.paths, seed=args.seed, mode="zip" if args.zip else "grid",
               metrics=args.metrics, **_run_options(args))
    _show(df.set_index("point"))
    _write(df, args.out, index=False)
    return 0


def handle_stress(args: argparse.Namespace) -> int:
    from cib_sim.analysis import stress

    check_out(args.out)
    s = load_scenario(args.scenario)
    shocks = [_checked_shock(s, text) for text in args.shocks] if args.shocks else None
    df = stress(s, shocks, n_paths=args.paths, seed=args.seed, metrics=args.metrics,
                relative=args.relative, **_run_options(args))
    _show(df.T)  # metrics down, shocks across: easier to read in a terminal
    _write(df, args.out, index=True)
    return 0


def _checked_shock(s, text: str):
    """``--shock TEXT`` parsed and checked against the scenario; a problem names the flag and
    the text as given (``--shock 'exit:X@99': ...``)."""
    from cib_sim.analysis.runner import make_job
    from cib_sim.analysis.shocks import parse_shock

    try:
        shock = parse_shock(text)
        make_job(s, shock)
    except InputError as exc:
        raise InputError([(f"--shock {text!r}", _reason(w, r)) for w, r in exc.errors]) from None
    return shock


def _reason(where: str, reason: str) -> str:
    """A problem's reason, keeping a field path but not the shock's own name (already given)."""
    return reason if not where or where.startswith("shock ") else f"{where}: {reason}"


def handle_tornado(args: argparse.Namespace) -> int:
    from cib_sim.analysis import tornado

    check_out(args.out)
    s = load_scenario(args.scenario)
    df = tornado(s, args.metric, n_paths=args.paths, seed=args.seed, **_run_options(args))
    print(f"metric: {df.attrs['metric']}  (base {df['base'].iloc[0]:.6g})")
    _show(df.drop(columns="base"))
    _write(df, args.out, index=False)
    return 0


def handle_solve(args: argparse.Namespace) -> int:
    from cib_sim.analysis.solver import Target, solve

    check_out(args.out)
    target = Target.parse(args.target)  # a target that cannot be met is bad input, not "no solution"
    s = load_scenario(args.scenario)
    opts = _run_options(args)
    opts.pop("progress", None)
    res = solve(s, args.lever, target, tuple(args.bounds) if args.bounds else None, n_paths=args.paths,
                seed=args.seed, error=None if args.error == "none" else args.error, **opts)
    print(res.message)
    if args.out is not None:
        if args.out.suffix.lower() == ".json":
            args.out.write_text(json.dumps(res.to_dict(), indent=1, default=str))
            print(f"wrote {args.out}", file=sys.stderr)
        else:
            _write(pd.DataFrame([res.to_dict()]), args.out, index=False)
    return 0 if res.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cib-sim", description="cib_sim analysis commands")
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)
    add_debug_flags(parser, sub)
    return dispatch(parser, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
