"""Results of a Monte Carlo run: per-path measures, mean flows over time, and kept paths.

A :class:`Results` holds, for ``n_paths`` paths:

- ``path``: per-path totals and measures, arrays whose first axis is paths, e.g.
  ``tranche_in``/``tranche_out`` (paths, K) currency, ``tranche_irr`` (paths, K) per year,
  ``commissioner_paid`` (paths, C), ``achieved`` (paths, O) outcomes;
- ``period_mean``: the mean over paths of every flow, (periods, ...) currency per period;
- ``kept``: the full flows of the first ``n_kept`` paths, (n_kept, periods, ...), for cash-flow
  views and fan charts.

Memory is bounded by the per-path measures (a few dozen floats a path) whatever the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cib_sim import metrics
from cib_sim._arrays import dot_last
from cib_sim.reduce import _FLOWS, ChunkResult, investor_flows, reduce_chunk  # noqa: F401 (re-exported)
from cib_sim.scenario import Scenario


@dataclass
class Results:
    """The outcome of ``simulate``: arrays with documented shapes plus tidy DataFrame views."""

    scenario: Scenario
    seed: Any
    mode: str
    n_paths: int
    path: dict[str, np.ndarray]
    period_mean: dict[str, np.ndarray]
    kept: dict[str, np.ndarray]
    engine: str = "fast"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_chunks(cls, s: Scenario, parts, seed: Any, mode: str, engine: str = "fast", n_paths: int | None = None, store: str = "auto") -> "Results":
        """Assemble chunk results (in path order) into one :class:`Results`.

        ``parts`` may be an iterator: with ``n_paths`` given, per-path arrays are allocated once
        and filled chunk by chunk, so a chunk's memory is let go as soon as it is copied.
        """
        if n_paths is None:
            parts = list(parts)
            n_paths = sum(p.n for p in parts)
        path: dict[str, np.ndarray] = {}
        block_sums: dict[str, list[np.ndarray]] = {}
        kept: dict[str, list[np.ndarray]] = {}
        done = 0
        for part in parts:
            if not path:
                path = {k: np.empty((n_paths,) + v.shape[1:], dtype=v.dtype) for k, v in part.path.items()}
            for k, v in part.path.items():
                path[k][done : done + part.n] = v
            for k, v in part.period_sum.items():
                block_sums.setdefault(k, []).append(v)
            for k, v in part.kept.items():
                kept.setdefault(k, []).append(v)
            done += part.n
        if done != n_paths:
            raise ValueError(f"chunks hold {done} paths, expected {n_paths}")
        # Sums per seeded block, added in block order: the same whatever the chunking.
        period_mean = {k: np.concatenate(v).sum(axis=0) / done for k, v in block_sums.items()}
        kept_all = {k: np.concatenate(v, axis=0) for k, v in kept.items()}
        return cls(s, seed, mode, done, path, period_mean, kept_all, engine)

    # ---- labels
    @property
    def tranche_names(self) -> list[str]:
        return [t.name for t in self.scenario.capital_tranches]

    @property
    def guarantee_names(self) -> list[str]:
        return [t.name for t in self.scenario.tranches if t.kind == "guarantee"]

    @property
    def commissioner_names(self) -> list[str]:
        return [c.name for c in self.scenario.commissioners]

    @property
    def period_index(self) -> pd.DatetimeIndex:
        h = self.scenario.horizon
        months = 12 // h.periods_per_year
        return pd.date_range(pd.Timestamp(h.start), periods=h.n_periods, freq=pd.DateOffset(months=months))

    @property
    def n_kept(self) -> int:
        return self.kept["cash"].shape[0]

    # ---- per-path measures
    @cached_property
    def multiple(self) -> np.ndarray:
        """(paths, K) money back over money in, per capital tranche (NaN if nothing drawn)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            m = self.path["tranche_out"] / self.path["tranche_in"]
        return np.where(self.path["tranche_in"] > 0, m, np.nan)

    def path_table(self) -> pd.DataFrame:
        """One row per path: every per-path measure as a column (``tranche_irr[senior]`` ...)."""
        s = self.scenario
        labels = {
            "tranche": self.tranche_names, "commissioner": self.commissioner_names,
            "outcome": s.outcome_names, "partner": s.partner_names, "guarantee": self.guarantee_names,
            "unit": ["zone"] if s.delivery.model == "zone" else s.partner_names,
        }
        axis_of = {
            "tranche_": "tranche", "commissioner_": "commissioner", "cap_hit": "commissioner", "lost_": "commissioner",
            "due_after": "commissioner", "achieved": "outcome", "additional": "outcome", "earned": "outcome", "enrolled": "unit",
            "partner_": "partner", "guarantee_call": "guarantee",
        }
        cols: dict[str, np.ndarray] = {"path": np.arange(self.n_paths)}
        for name, arr in list(self.path.items()) + [("tranche_multiple", self.multiple)]:
            if arr.dtype == bool:  # flags as 0/1, so that means and quantiles work on every column
                arr = arr.astype(np.float64)
            if arr.ndim == 1:
                cols[name] = arr
                continue
            kind = next(v for k, v in axis_of.items() if name.startswith(k))
            for j, lab in enumerate(labels[kind]):
                if arr.ndim == 2:
                    cols[f"{name}[{lab}]"] = arr[:, j]
                else:
                    for o, oname in enumerate(s.outcome_names):
                        cols[f"{name}[{lab}][{oname}]"] = arr[:, j, o]
        return pd.DataFrame(cols)

    def to_parquet(self, path):
        """Write the path table (one row per path) to Parquet (a path or a binary file object);
        the scenario YAML and the seed go in its metadata."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from cib_sim.scenario import scenario_to_yaml

        table = pa.Table.from_pandas(self.path_table(), preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta.update({b"cib_sim.scenario": scenario_to_yaml(self.scenario).encode(), b"cib_sim.seed": str(self.seed).encode()})
        pq.write_table(table.replace_schema_metadata(meta), path)
        return Path(path) if isinstance(path, (str, Path)) else path

    def to_csv(self, path: str | Path) -> Path:
        self.path_table().to_csv(path, index=False)
        return Path(path)

    # ---- summaries
    def summary(self) -> pd.DataFrame:
        """Headline measures, tidy: one row per (group, name, metric) with value and unit.

        Value for money is the fiscal value of the outcomes *above the counterfactual*
        (achieved minus baseline rate x enrolled) over what was paid.
        """
        s, rows = self.scenario, []
        cur = s.currency

        def add(group: str, name: str, metric: str, value: float, unit: str) -> None:
            rows.append({"group": group, "name": name, "metric": metric, "value": float(value), "unit": unit})

        tin, tout = self.path["tranche_in"], self.path["tranche_out"]
        for k, t in enumerate(s.capital_tranches):
            stats = metrics.loss_statistics(tin[:, k], tout[:, k])
            irr, mult = self.path["tranche_irr"][:, k], self.multiple[:, k]
            add("tranche", t.name, "capital_drawn_mean", tin[:, k].mean(), cur)
            add("tranche", t.name, "prob_loss", stats["prob_loss"], "probability")
            add("tranche", t.name, "expected_loss", stats["expected_loss"], cur)
            add("tranche", t.name, "cvar_5", stats["cvar_5"], cur)
            for q, v in zip((5, 50, 95), metrics.quantiles(mult)):
                add("tranche", t.name, f"multiple_p{q}", v, "x")
            add("tranche", t.name, "multiple_mean", np.nanmean(mult) if np.isfinite(mult).any() else np.nan, "x")
            for q, v in zip((5, 50, 95), metrics.quantiles(irr)):
                add("tranche", t.name, f"irr_p{q}", v, "per year")
            add("tranche", t.name, "irr_undefined", float(np.mean(np.isnan(irr))), "share of paths")
            add("tranche", t.name, "time_to_first_payment_median", np.nanmedian(self.path["tranche_first_payment"][:, k]) if np.isfinite(self.path["tranche_first_payment"][:, k]).any() else np.nan, "years")
            add("tranche", t.name, "peak_capital_mean", self.path["tranche_peak_capital"][:, k].mean(), cur)
        for g, name in enumerate(self.guarantee_names):
            call = self.path["guarantee_call"][:, g]
            add("guarantee", name, "prob_called", float(np.mean(call > 0)), "probability")
            add("guarantee", name, "expected_call", call.mean(), cur)
        ach = self.path["achieved"]
        fiscal = np.array([o.fiscal_value for o in s.outcomes])
        for c, com in enumerate(s.commissioners):
            paid = self.path["commissioner_paid"][:, c]
            share = np.array([com.shares.get(o, 0.0) for o in s.outcome_names])
            their_outcomes = dot_last(ach, share)
            their_value = dot_last(self.path["additional"], share * fiscal)
            add("commissioner", com.name, "paid_mean", paid.mean(), cur)
            add("commissioner", com.name, "paid_p95", np.quantile(paid, 0.95), cur)
            add("commissioner", com.name, "cost_per_outcome", paid.sum() / their_outcomes.sum() if their_outcomes.sum() > 0 else np.nan, cur)
            add("commissioner", com.name, "value_for_money", their_value.sum() / paid.sum() if paid.sum() > 0 else np.nan, "x")
            add("commissioner", com.name, "prob_cap_hit", self.path["cap_hit"][:, c].mean(), "probability")
            add("commissioner", com.name, "lost_to_caps_mean", self.path["lost_to_caps"][:, c].mean(), cur)
            add("commissioner", com.name, "lost_to_withdrawal_mean", self.path["lost_to_withdrawal"][:, c].mean(), cur)
            add("commissioner", com.name, "rebate_mean", self.path["commissioner_rebate"][:, c].mean(), cur)
        for p, part in enumerate(s.partners):
            add("partner", part.name, "revenue_mean", self.path["partner_revenue"][:, p].mean(), cur)
            add("partner", part.name, "contingent_mean", self.path["partner_contingent"][:, p].mean(), cur)
            add("partner", part.name, "attributed_mean", self.path["partner_attributed"][:, p].mean(), cur)
            add("partner", part.name, "outcomes_mean", self.path["partner_outcomes"][:, p].mean(), "outcomes")
        for o, out in enumerate(s.outcomes):
            add("outcome", out.name, "achieved_mean", ach[:, o].mean(), "outcomes")
            add("outcome", out.name, "earned_mean", self.path["earned"][:, o].mean(), cur)
        total_paid = self.path["commissioner_paid"].sum(axis=1)
        add("contract", s.name, "enrolled_mean", self.path["enrolled"].sum(axis=1).mean(), "participants")
        add("contract", s.name, "outcome_payments_mean", total_paid.mean(), cur)
        add("contract", s.name, "outcome_payments_p95", np.quantile(total_paid, 0.95), cur)
        add("contract", s.name, "fiscal_value_mean", self.path["fiscal_value"].mean(), cur)
        add("contract", s.name, "value_for_money", self.path["fiscal_value"].sum() / total_paid.sum() if total_paid.sum() > 0 else np.nan, "x")
        add("contract", s.name, "prob_delivery_stopped", float(np.mean(self.path["stop_period"] < s.horizon.n_periods)), "probability")
        add("contract", s.name, "due_after_horizon_mean", self.path["due_after_horizon"].sum(axis=1).mean(), cur)
        add("contract", s.name, "excess_mean", self.path["excess"].mean(), cur)
        return pd.DataFrame(rows)

    def metric(self, group: str, name: str, metric: str) -> float:
        """One value of :meth:`summary`, e.g. ``metric("tranche", "senior", "prob_loss")``."""
        df = self._summary_cached
        hit = df[(df.group == group) & (df.name == name) & (df.metric == metric)]
        if hit.empty:
            raise KeyError(f"no summary value for {group}/{name}/{metric}")
        return float(hit.value.iloc[0])

    @cached_property
    def _summary_cached(self) -> pd.DataFrame:
        return self.summary()

    def quantiles(self, qs: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> pd.DataFrame:
        """Quantiles of every per-path measure: one row per column of :meth:`path_table`."""
        table = self.path_table().drop(columns="path")
        return table.quantile(list(qs)).T.rename_axis("measure")

    # ---- time views
    def _flow_frame(self, get) -> pd.DataFrame:
        s = self.scenario
        cols: dict[str, np.ndarray] = {}
        cols["outcome_payments"] = get("commissioner_paid").sum(axis=-1)
        cols["capital_drawn"] = get("drawn").sum(axis=-1)
        cols["delivery_costs"] = (get("partner_upfront") + get("partner_fixed")).sum(axis=-1)
        cols["contingent_to_partners"] = get("partner_contingent").sum(axis=-1)
        cols["backbone"] = get("backbone_cost") + get("backbone_fee")
        for k, name in enumerate(self.tranche_names):
            cols[f"to_{name}"] = get("coupon")[..., k] + get("capital")[..., k] + get("upside")[..., k]
        cols["guarantee_calls"] = get("guarantee_call").sum(axis=-1)
        cols["excess"] = get("excess")
        cols["cash_held"] = get("cash")
        cols["enrolled"] = get("enrolled").sum(axis=-1)
        ach = get("achieved")  # (T, U, O) by enrolment period
        cols["outcomes_by_cohort"] = ach.sum(axis=(-1, -2))
        df = pd.DataFrame(cols, index=self.period_index)
        df.index.name = "period_start"
        df.insert(0, "year", np.arange(s.horizon.n_periods) / s.horizon.periods_per_year)
        return df

    def mean_flows(self) -> pd.DataFrame:
        """Mean over all paths of the main flows per period (currency per period)."""
        return self._flow_frame(lambda k: self.period_mean[k])

    def cashflows(self, path: int | None = None, quantile: float | None = None, by: str = "outcome_payments") -> pd.DataFrame:
        """Flows per period of one kept path, chosen by index or as the path at ``quantile`` of
        ``by`` (``outcome_payments``, or a tranche name for its multiple). Default: the median."""
        if path is None:
            q = 0.5 if quantile is None else quantile
            if by in self.tranche_names:
                k = self.tranche_names.index(by)
                vals = self.multiple[: self.n_kept, k]
            else:
                vals = self.path["commissioner_paid"][: self.n_kept].sum(axis=1)
            vals = np.nan_to_num(vals, nan=-np.inf)
            order = np.argsort(vals, kind="stable")
            path = int(order[min(len(order) - 1, int(round(q * (len(order) - 1))))])
        if not 0 <= path < self.n_kept:
            raise IndexError(f"path: {path} is not a kept path (0..{self.n_kept - 1})")
        df = self._flow_frame(lambda k: self.kept[k][path])
        df.attrs["path"] = path
        return df

    def waterfall(self, stat: str = "mean") -> pd.DataFrame:
        """Where the money came from and went, over the contract: steps with signed amounts.

        ``stat``: ``mean`` over all paths, or ``median`` (the kept path with the median total
        outcome payments). Inflows are positive, outflows negative; they sum to zero.
        """
        if stat == "mean":
            tot = {k: v.sum(axis=0) for k, v in self.period_mean.items()}
        elif stat == "median":
            p = self.cashflows(quantile=0.5).attrs["path"]
            tot = {k: v[p].sum(axis=0) for k, v in self.kept.items()}
        else:
            raise ValueError(f"stat: must be 'mean' or 'median' (got {stat!r})")
        rows = [
            ("Outcome payments", "in", tot["commissioner_paid"].sum()),
            ("Capital drawn", "in", tot["drawn"].sum()),
            ("Guarantee calls", "in", tot["guarantee_call"].sum()),
            ("Delivery costs", "out", -(tot["partner_upfront"].sum() + tot["partner_fixed"].sum())),
            ("Contingent payments to partners", "out", -tot["partner_contingent"].sum()),
            ("Backbone", "out", -(tot["backbone_cost"].sum() + tot["backbone_fee"].sum())),
        ]
        for k, name in enumerate(self.tranche_names):
            rows.append((f"{name}: capital back", "out", -(tot["capital"][k] + tot["guarantee_received"][k])))
            rows.append((f"{name}: return", "out", -(tot["coupon"][k] + tot["upside"][k])))
        rows.append(("Rebate to commissioners", "out", -tot["commissioner_rebate"].sum()))
        rows.append(("Bonus to partners", "out", -tot["partner_bonus"].sum()))
        df = pd.DataFrame(rows, columns=["step", "direction", "amount"])
        df["currency"] = self.scenario.currency
        return df

    def fan(self, what: str = "commissioner_paid", qs: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> pd.DataFrame:
        """Quantiles over kept paths of a cumulative series per period: ``commissioner_paid``
        (cumulative outcome payments) or ``investor_net`` (cumulative received minus drawn)."""
        if what == "commissioner_paid":
            series = np.cumsum(self.kept["commissioner_paid"].sum(axis=2), axis=1)
        elif what == "investor_net":
            net = self.kept["coupon"] + self.kept["capital"] + self.kept["upside"] + self.kept["guarantee_received"] - self.kept["drawn"]
            series = np.cumsum(net.sum(axis=2), axis=1)
        else:
            raise ValueError(f"what: must be 'commissioner_paid' or 'investor_net' (got {what!r})")
        qv = np.quantile(series, qs, axis=0)
        df = pd.DataFrame(qv.T, columns=[f"q{int(round(q * 100)):02d}" for q in qs], index=self.period_index)
        df.index.name = "period_start"
        df.insert(0, "year", np.arange(series.shape[1]) / self.scenario.horizon.periods_per_year)
        return df
