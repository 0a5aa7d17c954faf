"""``cib-sim portfolio FILE``: simulate a fund of bonds and print its headline figures (see
:mod:`cib_sim.portfolio`). Bad input (the file, a member, a flag) exits 2 naming the field."""

from __future__ import annotations

import argparse
import math

from cib_sim.cli.args import check_out, positive_int, seed_int


def _money(v: float, cur: str) -> str:
    return "n/a" if v != v else f"{v:,.0f} {cur}"


def _pct(v: float) -> str:
    return "n/a" if v != v else f"{v:.1%}"


def format_portfolio(r) -> str:
    """A readable terminal report of a :class:`~cib_sim.portfolio.PortfolioResults`."""
    cur = r.currency
    lines = [f"{r.portfolio.name}: {len(r.names)} members, {r.n_paths:,} paths, seed {r.seed}"]
    lines.append("\nMEMBERS")
    for _, m in r.members().iterrows():
        tags = ", ".join(t for t in (m.place, m.policy_area) if isinstance(t, str))
        lines.append(f"  {m.member}  {m.start} to {m.end}" + (f"  ({tags})" if tags else ""))
        lines.append(f"    outcome payments mean {_money(m.outcome_payments_mean, cur)} (p5 {_money(m.outcome_payments_p5, cur)}, "
                     f"p95 {_money(m.outcome_payments_p95, cur)}); top-ups paid {_money(m.top_up_paid_mean, cur)}, "
                     f"unpaid {_money(m.top_up_unpaid_mean, cur)}; worst tranche P(loss) {_pct(m.prob_loss_worst_tranche)}")
    for f, fund in enumerate(r.portfolio.top_ups):
        ex = r.exhaustion(f)
        paid = r.arrays[f"pot_paid:{f}"]
        lines.append(f"\nTOP-UP FUND {fund.name} (pot {_money(fund.pot, cur)}, when exhausted: {fund.when_exhausted})")
        lines.append(f"  P(pot exhausted) {_pct(ex['prob_exhausted'])}" + (
            f"; date p5 {ex['date_p5']}, median {ex['date_p50']}, p95 {ex['date_p95']}" if ex["date_p50"] else ""))
        lines.append(f"  top-ups paid mean {_money(float(paid.mean()), cur)}; left in the pot mean {_money(float((fund.pot - paid).mean()), cur)}")
    lines.append("\nPAYERS (total liability, net of rebates and top-ups received)")
    for _, p in r.payer_totals().iterrows():
        lines.append(f"  {p.payer}: mean {_money(p['mean'], cur)}, p5 {_money(p.p5, cur)}, p95 {_money(p.p95, cur)}")
    for i, fund in enumerate(r.portfolio.investors):
        s = r.summary()
        s = s[(s.group == "investor_fund") & (s.name == fund.name)].set_index("metric")["value"]
        lines.append(f"\nINVESTOR FUND {fund.name} (fee {fund.management_fee:.2%} a year, hurdle {fund.hurdle:.1%}, carry {fund.carry:.0%})")
        lines.append(f"  after fees and carry: P(loss) {_pct(s.prob_loss)}, multiple p5/p50/p95 {s.multiple_p5:.2f}x/"
                     f"{s.multiple_p50:.2f}x/{s.multiple_p95:.2f}x, IRR p5/p50/p95 "
                     + "/".join("n/a" if math.isnan(v) else f"{v:.1%}" for v in (s.irr_p5, s.irr_p50, s.irr_p95)))
        lines.append(f"  before fees: P(loss) {_pct(s.prob_loss_before_fees)}; fees mean {_money(s.fees_mean, cur)}, carry mean {_money(s.carry_mean, cur)}")
        lines.append(f"  diversification: stakes' own P(loss) mean {_pct(s.stakes_prob_loss_mean)}, worst {_pct(s.stakes_prob_loss_max)}")
    return "\n".join(lines)


def cmd_portfolio(args: argparse.Namespace) -> int:
    from cib_sim.portfolio import load_portfolio, simulate_portfolio

    check_out(args.out, (".csv",))
    rp = load_portfolio(args.portfolio)
    opts = {}
    if args.dask is not None:
        opts["executor"] = "dask"
        opts["address"] = None if args.dask == "local" else args.dask
    r = simulate_portfolio(rp, n_paths=args.paths, seed=args.seed, workers=args.workers, **opts)
    print(format_portfolio(r))
    if args.out:
        r.summary().to_csv(args.out, index=False)
        print(f"\nwrote the summary to {args.out}")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("portfolio", help="simulate a fund of bonds (a portfolio file) and print its headline figures")
    p.add_argument("portfolio", help="portfolio file (YAML), or a shipped portfolio's name")
    p.add_argument("--paths", type=positive_int, default=4096, help="Monte Carlo paths (default 4,096)")
    p.add_argument("--seed", type=seed_int, default=1, help="random seed, a whole number >= 0 (default 1)")
    p.add_argument("--workers", type=positive_int, default=1, help="processes, or Dask workers with --dask (default 1)")
    p.add_argument("--dask", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run on Dask: a local cluster, or the scheduler at ADDRESS")
    p.add_argument("--out", default=None, help="also write the summary table (.csv)")
    p.set_defaults(func=cmd_portfolio)
