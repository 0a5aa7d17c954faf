"""The app's Funds tab: a fund of bonds (:mod:`cib_sim.portfolio`) chosen from the shipped
portfolios or uploaded as YAML, run on request: the members table, the top-up pot over time, a
payer's liability fan, the investor fund's distribution after fees and carry, and the
diversification sweep. Streamlit drawing only; the work is :func:`simulate_portfolio` and the
charts are :mod:`cib_sim.charts.portfolio`. Results are kept in session state under
``portfolio:*`` keys."""

from __future__ import annotations

from typing import Any

import pandas as pd

from cib_sim.charts import portfolio as CP
from cib_sim.charts.style import fmt_money
from cib_sim.errors import InputError
from cib_sim.portfolio import (
    diversification_sweep,
    parse_portfolio,
    shipped_portfolios,
    simulate_portfolio,
)
from cib_sim.scenario import ScenarioError, parse_yaml

UPLOAD = "(upload a file)"


def _errors(st: Any, exc: InputError) -> None:
    for where, reason in exc.errors:
        st.error(f"{where}: {reason}" if where else reason, icon=":material/error:")


def portfolio_text(choice: str, upload: Any) -> tuple[str, str | None]:
    """The YAML text of the chosen portfolio and the folder its member files are relative to."""
    if choice == UPLOAD:
        return (upload.getvalue().decode("utf-8") if upload is not None else ""), None
    path = shipped_portfolios()[choice]
    return path.read_text(encoding="utf-8"), str(path.parent)


def run_portfolio(text: str, base: str | None, n_paths: int, seed: int, tick=None):
    """Parse and simulate; raises :class:`~cib_sim.errors.InputError` for bad input."""
    rp = parse_portfolio(parse_yaml(text), base=base)
    return simulate_portfolio(rp, n_paths, seed, progress=tick)


def render_portfolio_page(st: Any, ss: Any, default_paths: int = 2048) -> None:
    st.markdown("**Funds of bonds**: several bonds on the same paths, linked by common shocks, with a top-up "
                "fund paying from one pot and an investor fund holding stakes (see docs/PORTFOLIO.md).")
    shipped = list(shipped_portfolios())
    c1, c2, c3 = st.columns([3, 1, 1])
    first = shipped.index("place_based_zones") if "place_based_zones" in shipped else 0  # the quickest to run
    choice = c1.selectbox("Portfolio", shipped + [UPLOAD], index=first, key="portfolio:choice")
    n_paths = int(c2.number_input("Paths", min_value=64, max_value=200_000, value=default_paths, step=1024, key="portfolio:paths"))
    seed = int(c3.number_input("Seed", min_value=0, value=1, step=1, key="portfolio:seed"))
    upload = st.file_uploader("Portfolio file (YAML)", type=["yaml", "yml"], key="portfolio:upload") if choice == UPLOAD else None
    if st.button("Run the portfolio", type="primary", key="portfolio:run"):
        text, base = portfolio_text(choice, upload)
        bar = st.progress(0.0, text="Simulating the members…")

        def tick(done: int, total: int) -> None:
            bar.progress(min(1.0, done / max(total, 1)), text=f"Simulating: {done:,} of {total:,} chunks")

        try:
            ss["portfolio:results"] = run_portfolio(text, base, n_paths, seed, tick)
            ss.pop("portfolio:sweep", None)
        except (InputError, ScenarioError) as exc:
            ss.pop("portfolio:results", None)
            _errors(st, exc)
        bar.empty()
    r = ss.get("portfolio:results")
    if r is None:
        st.caption("Choose a portfolio and run it.")
        return
    render_results(st, ss, r)


def render_results(st: Any, ss: Any, r) -> None:
    cur = r.currency
    st.subheader(f"{r.portfolio.name}: {len(r.names)} members, {r.n_paths:,} paths, seed {r.seed}")
    cols = st.columns(4)
    if r.portfolio.top_ups:
        ex = r.exhaustion(0)
        cols[0].metric("P(pot runs out)", f"{ex['prob_exhausted']:.1%}")
        cols[1].metric("Median date it runs out", str(ex["date_p50"]) if ex["date_p50"] else "never")
    if r.portfolio.investors:
        s = r.summary()
        s = s[(s.group == "investor_fund") & (s.name == r.portfolio.investors[0].name)].set_index("metric")["value"]
        cols[2].metric("Fund investors' P(loss)", f"{s.prob_loss:.1%}", help="After the fund's fees and carry")
        cols[3].metric("Median multiple / IRR", f"{s.multiple_p50:.2f}x / {s.irr_p50:.1%}")

    st.markdown("**Members**")
    m = r.members()
    show = m[["member", "start", "end", "place", "policy_area", "capital", "outcome_payments_mean", "outcome_payments_p5",
              "outcome_payments_p95", "top_up_paid_mean", "top_up_unpaid_mean", "prob_loss_worst_tranche"]]
    money = ["capital", "outcome_payments_mean", "outcome_payments_p5", "outcome_payments_p95", "top_up_paid_mean",
             "top_up_unpaid_mean"]
    show = show.assign(**{c: show[c].round(0) for c in money})
    st.dataframe(show, hide_index=True, column_config={
        c: st.column_config.NumberColumn(format="localized") for c in show.columns if c not in ("member", "start", "end", "place", "policy_area")
    } | {"prob_loss_worst_tranche": st.column_config.NumberColumn("P(loss), worst tranche", format="percent")})

    if r.portfolio.top_ups:
        names = [f.name for f in r.portfolio.top_ups]
        fund = st.selectbox("Top-up fund", names, key="portfolio:pot") if len(names) > 1 else names[0]
        st.markdown(f"**{fund}: the pot over time** (pot {fmt_money(r.portfolio.top_ups[names.index(fund)].pot, cur)})")
        st.altair_chart(CP.pot_chart(r, fund), width="stretch")

    st.markdown("**A payer's liability by year** (net of rebates and of top-ups received)")
    payer = st.selectbox("Payer", r.layout.payers, key="portfolio:payer")
    st.altair_chart(CP.liability_chart(r, payer), width="stretch")
    st.dataframe(r.payer_totals(), hide_index=True)

    for i, fund in enumerate(r.portfolio.investors):
        st.markdown(f"**{fund.name}: its investors' multiple** (fee {fund.management_fee:.2%} a year, hurdle "
                    f"{fund.hurdle:.1%}, carry {fund.carry:.0%})")
        st.altair_chart(CP.fund_chart(r, i), width="stretch")
        st.dataframe(r.diversification(i), hide_index=True,
                     column_config={"prob_loss": st.column_config.NumberColumn("P(loss)", format="percent")})
    if r.portfolio.investors and r.portfolio.correlation:
        if st.button("Diversification: run with the correlation scaled from 0 to 1", key="portfolio:sweep_run"):
            text, base = portfolio_text(ss.get("portfolio:choice"), ss.get("portfolio:upload"))
            try:
                rp = parse_portfolio(parse_yaml(text), base=base)
                ss["portfolio:sweep"] = diversification_sweep(rp, (0.0, 0.25, 0.5, 0.75, 1.0), n_paths=min(r.n_paths, 4096),
                                                              seed=r.seed)
            except (InputError, ScenarioError) as exc:
                _errors(st, exc)
        sweep = ss.get("portfolio:sweep")
        if isinstance(sweep, pd.DataFrame):
            st.altair_chart(CP.sweep_chart(sweep), width="stretch")
            st.dataframe(sweep, hide_index=True)
