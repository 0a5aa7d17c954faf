"""What a portfolio run gives: per-path arrays (all paths, in path order) and the measures read
from them: pot exhaustion, payers' liability by year, the investor funds' returns after fees and
carry, diversification, and each member's view. Every figure is computed from the whole array
at once, so it does not depend on how the paths were chunked."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np
import pandas as pd

from cib_sim.engine.metrics import LOSS_RTOL, loss_statistics, quantiles
from cib_sim.errors import InputError

QS = (0.05, 0.25, 0.5, 0.75, 0.95)


def _prob_loss(paid_in: np.ndarray, paid_out: np.ndarray) -> float:
    return loss_statistics(paid_in, paid_out)["prob_loss"]


class PortfolioResults:
    """The results of :func:`~cib_sim.portfolio.simulate_portfolio`.

    ``arrays``: per-path arrays by name (paths first): ``member_paid``, ``member_rebate``, ``member_claim``,
    ``member_topup`` (N, M); ``tranche_in:m``, ``tranche_out:m``, ``tranche_irr:m`` (N, K_m);
    ``pot_balance:f`` (N, T), ``pot_exhausted:f`` (N,) (T: never), ``pot_paid:f``;
    ``liability`` (N, years, payers), net of rebates and top-ups received; ``fund_*:i`` for
    investor fund i (calls, income, fee, carry, lp_in, lp_out, irr, gross_irr; stake_in and
    stake_out (N, stakes)).
    """

    def __init__(self, layout: Any, arrays: dict[str, np.ndarray], n_paths: int, seed: Any, mode: str):
        self.layout = layout
        self.arrays = arrays
        self.n_paths = n_paths
        self.seed = seed
        self.mode = mode
        self.portfolio = layout.rp.spec
        self.names = list(layout.rp.names)
        self.currency = self.portfolio.currency

    # ---- helpers
    def _fund_index(self, fund: int | str, kind: str) -> int:
        """The index of a top-up (``kind`` ``top_up``) or investor fund given by name or index;
        :class:`~cib_sim.errors.InputError` naming ``fund`` if there is no such fund."""
        funds = self.portfolio.top_ups if kind == "top_up" else self.portfolio.investors
        label = "top-up" if kind == "top_up" else "investor"
        names = [f.name for f in funds]
        there = f"there are: {', '.join(names)}" if names else f"the portfolio has no {label} fund"
        if isinstance(fund, str):
            if fund not in names:
                raise InputError([("fund", f"no {label} fund {fund!r} ({there})")])
            return names.index(fund)
        if isinstance(fund, bool) or not isinstance(fund, (int, np.integer)) or not 0 <= int(fund) < len(names):
            raise InputError([("fund", f"no {label} fund number {fund!r} ({there})")])
        return int(fund)

    @property
    def dates(self) -> list[_dt.date]:
        return self.layout.dates

    # ---- shared payers
    def exhaustion(self, fund: int | str = 0) -> dict[str, Any]:
        """``prob_exhausted``, and the exhaustion date's 5th, 50th and 95th percentile among the
        paths on which the pot runs out (None if it never does)."""
        f = self._fund_index(fund, "top_up")
        ex = self.arrays[f"pot_exhausted:{f}"]
        hit = ex < self.layout.T
        out: dict[str, Any] = {"prob_exhausted": float(hit.mean())}
        for q, name in ((0.05, "date_p5"), (0.5, "date_p50"), (0.95, "date_p95")):
            out[name] = self.dates[int(np.quantile(ex[hit], q, method="lower"))] if hit.any() else None
        return out

    def pot(self, fund: int | str = 0) -> pd.DataFrame:
        """The pot's balance at each period's end: mean and percentiles across paths, and the
        share of paths on which it has run out by then."""
        f = self._fund_index(fund, "top_up")
        bal = self.arrays[f"pot_balance:{f}"]
        q = quantiles(bal, QS)
        ex = self.arrays[f"pot_exhausted:{f}"]
        df = pd.DataFrame({"date": pd.to_datetime(self.dates), "mean": bal.mean(axis=0)})
        for i, p in enumerate(QS):
            df[f"p{round(p * 100)}"] = q[i]
        df["prob_exhausted"] = [(ex <= t).mean() for t in range(self.layout.T)]
        df.insert(0, "fund", self.portfolio.top_ups[f].name)
        return df

    def liability(self, payer: str | None = None) -> pd.DataFrame:
        """Each payer's liability by calendar year (outcome payments net of rebates and of top-ups
        received; a top-up fund's is what it paid): mean and percentiles across paths."""
        L = self.arrays["liability"]
        rows = []
        for q, name in enumerate(self.layout.payers):
            if payer is not None and name != payer:
                continue
            x = L[:, :, q]
            qs = quantiles(x, QS)
            for y, year in enumerate(self.layout.years):
                rows.append({"payer": name, "year": year, "mean": float(x[:, y].mean()),
                             **{f"p{round(p * 100)}": float(qs[i, y]) for i, p in enumerate(QS)}})
        if payer is not None and not rows:
            raise KeyError(f"no payer {payer!r} (there are: {', '.join(self.layout.payers)})")
        return pd.DataFrame(rows)

    def payer_totals(self) -> pd.DataFrame:
        """Each payer's total liability over the portfolio's life: mean and percentiles."""
        tot = self.arrays["liability"].sum(axis=1)
        q = quantiles(tot, QS)
        return pd.DataFrame({"payer": self.layout.payers, "mean": tot.mean(axis=0),
                             **{f"p{round(p * 100)}": q[i] for i, p in enumerate(QS)}})

    # ---- shared investors
    def fund(self, fund: int | str = 0) -> pd.DataFrame:
        """One row per path of an investor fund: its investors' money in (calls and fees) and out,
        multiple and IRR after fees and carry, and before them (the stakes' own)."""
        i = self._fund_index(fund, "investor")
        a = self.arrays
        lp_in, lp_out = a[f"fund_lp_in:{i}"], a[f"fund_lp_out:{i}"]
        calls, income = a[f"fund_calls:{i}"], a[f"fund_income:{i}"]
        with np.errstate(all="ignore"):
            return pd.DataFrame({
                "path": np.arange(self.n_paths), "calls": calls, "income": income, "fee": a[f"fund_fee:{i}"],
                "carry": a[f"fund_carry:{i}"], "investor_in": lp_in, "investor_out": lp_out,
                "multiple": np.where(lp_in > 0, lp_out / lp_in, np.nan), "irr": a[f"fund_irr:{i}"],
                "gross_multiple": np.where(calls > 0, income / calls, np.nan), "gross_irr": a[f"fund_gross_irr:{i}"],
            })

    def diversification(self, fund: int | str = 0) -> pd.DataFrame:
        """P(loss) of each stake on its own against the fund's (the stakes together, before fees;
        and the investors', after fees and carry)."""
        i = self._fund_index(fund, "investor")
        a = self.arrays
        rows = []
        st_in, st_out = a[f"fund_stake_in:{i}"], a[f"fund_stake_out:{i}"]
        for k, st in enumerate(self.portfolio.investors[i].stakes):
            rows.append({"what": f"{st.member} / {st.tranche}", "kind": "stake", "share": st.share,
                         "prob_loss": _prob_loss(st_in[:, k], st_out[:, k]),
                         "multiple_sd": float(np.nanstd(_ratio(st_out[:, k], st_in[:, k])))})
        calls, income = a[f"fund_calls:{i}"], a[f"fund_income:{i}"]
        rows.append({"what": "fund, before fees", "kind": "fund", "share": np.nan, "prob_loss": _prob_loss(calls, income),
                     "multiple_sd": float(np.nanstd(_ratio(income, calls)))})
        lp_in, lp_out = a[f"fund_lp_in:{i}"], a[f"fund_lp_out:{i}"]
        rows.append({"what": "fund investors, after fees and carry", "kind": "fund", "share": np.nan,
                     "prob_loss": _prob_loss(lp_in, lp_out), "multiple_sd": float(np.nanstd(_ratio(lp_out, lp_in)))})
        return pd.DataFrame(rows)

    # ---- members
    def members(self) -> pd.DataFrame:
        """One row per member: start and end (the end of its last calendar period), tags, outcome
        payments, top-ups claimed and paid, and the worst P(loss) of its capital tranches."""
        a = self.arrays
        rows = []
        for m, (name, s) in enumerate(zip(self.names, self.layout.rp.scenarios)):
            spec = self.portfolio.members[m]
            paid = a["member_paid"][:, m]
            q = quantiles(paid, (0.05, 0.5, 0.95))
            K = [t.name for t in s.capital_tranches]
            pl = [_prob_loss(a[f"tranche_in:{m}"][:, k], a[f"tranche_out:{m}"][:, k]) for k in range(len(K))]
            last = self.dates[int(self.layout.index[m][-1])]  # its last calendar period; it ends:
            y, mo = divmod(last.month - 1 + self.layout.months, 12)
            end = _dt.date(last.year + y, mo + 1, 1)
            rows.append({
                "member": name, "start": s.horizon.start, "end": end, "place": spec.place, "policy_area": spec.policy_area,
                "capital": sum(t.commitment for t in s.capital_tranches),
                "outcome_payments_mean": float(paid.mean()), "outcome_payments_p5": float(q[0]),
                "outcome_payments_p50": float(q[1]), "outcome_payments_p95": float(q[2]),
                "top_up_claimed_mean": float(a["member_claim"][:, m].mean()),
                "top_up_paid_mean": float(a["member_topup"][:, m].mean()),
                "top_up_unpaid_mean": float((a["member_claim"][:, m] - a["member_topup"][:, m]).mean()),
                "prob_loss_worst_tranche": float(np.nanmax(pl)) if pl else np.nan,
            })
        return pd.DataFrame(rows)

    def tranches(self) -> pd.DataFrame:
        """One row per member and capital tranche: P(loss), mean multiple and median IRR."""
        a = self.arrays
        rows = []
        for m, (name, s) in enumerate(zip(self.names, self.layout.rp.scenarios)):
            for k, t in enumerate(s.capital_tranches):
                ti, to = a[f"tranche_in:{m}"][:, k], a[f"tranche_out:{m}"][:, k]
                rows.append({"member": name, "tranche": t.name, "prob_loss": _prob_loss(ti, to),
                             "multiple_mean": float(np.nanmean(_ratio(to, ti))),
                             "irr_p50": float(np.nanmedian(a[f"tranche_irr:{m}"][:, k]))
                             if np.isfinite(a[f"tranche_irr:{m}"][:, k]).any() else np.nan})
        return pd.DataFrame(rows)

    # ---- everything at once
    def summary(self) -> pd.DataFrame:
        """Headline figures as a tidy table: group, name, metric, value, unit."""
        cur = self.currency
        rows: list[tuple[str, str, str, Any, str]] = []
        for f, fund in enumerate(self.portfolio.top_ups):
            ex = self.exhaustion(f)
            paid = self.arrays[f"pot_paid:{f}"]
            rows += [("top_up", fund.name, "pot", fund.pot, cur),
                     ("top_up", fund.name, "prob_exhausted", ex["prob_exhausted"], "probability"),
                     ("top_up", fund.name, "exhaustion_date_p50", ex["date_p50"], "date"),
                     ("top_up", fund.name, "exhaustion_date_p5", ex["date_p5"], "date"),
                     ("top_up", fund.name, "paid_mean", float(paid.mean()), cur),
                     ("top_up", fund.name, "paid_p95", float(np.quantile(paid, 0.95)), cur),
                     ("top_up", fund.name, "left_mean", float((fund.pot - paid).mean()), cur)]
        tot = self.payer_totals()
        for _, r in tot.iterrows():
            rows += [("payer", r.payer, "liability_mean", float(r["mean"]), cur), ("payer", r.payer, "liability_p95", float(r.p95), cur)]
        for i, fund in enumerate(self.portfolio.investors):
            df = self.fund(i)
            lp = loss_statistics(df.investor_in.to_numpy(), df.investor_out.to_numpy())
            gross = loss_statistics(df.calls.to_numpy(), df.income.to_numpy())
            mq = quantiles(df.multiple.to_numpy(), (0.05, 0.5, 0.95))
            iq = quantiles(df.irr.to_numpy(), (0.05, 0.5, 0.95))
            div = self.diversification(i)
            stakes = div[div.kind == "stake"]
            rows += [("investor_fund", fund.name, "prob_loss", lp["prob_loss"], "probability"),
                     ("investor_fund", fund.name, "prob_loss_before_fees", gross["prob_loss"], "probability"),
                     ("investor_fund", fund.name, "multiple_mean", float(np.nanmean(df.multiple)), "x"),
                     ("investor_fund", fund.name, "multiple_p5", float(mq[0]), "x"),
                     ("investor_fund", fund.name, "multiple_p50", float(mq[1]), "x"),
                     ("investor_fund", fund.name, "multiple_p95", float(mq[2]), "x"),
                     ("investor_fund", fund.name, "irr_p5", float(iq[0]), "per year"),
                     ("investor_fund", fund.name, "irr_p50", float(iq[1]), "per year"),
                     ("investor_fund", fund.name, "irr_p95", float(iq[2]), "per year"),
                     ("investor_fund", fund.name, "fees_mean", float(df.fee.mean()), cur),
                     ("investor_fund", fund.name, "carry_mean", float(df.carry.mean()), cur),
                     ("investor_fund", fund.name, "stakes_prob_loss_mean", float(stakes.prob_loss.mean()), "probability"),
                     ("investor_fund", fund.name, "stakes_prob_loss_max", float(stakes.prob_loss.max()), "probability")]
        for _, r in self.members().iterrows():
            rows += [("member", r.member, "outcome_payments_mean", r.outcome_payments_mean, cur),
                     ("member", r.member, "top_up_paid_mean", r.top_up_paid_mean, cur),
                     ("member", r.member, "top_up_unpaid_mean", r.top_up_unpaid_mean, cur),
                     ("member", r.member, "prob_loss_worst_tranche", r.prob_loss_worst_tranche, "probability")]
        return pd.DataFrame(rows, columns=["group", "name", "metric", "value", "unit"])


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


__all__ = ["LOSS_RTOL", "PortfolioResults"]
