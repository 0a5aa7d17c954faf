"""Results of a Monte Carlo run: per-path measures, mean flows over time, and kept paths.

A :class:`Results` holds, for ``n_paths`` paths:

- ``path``: per-path totals and measures, arrays whose first axis is paths, e.g.
  ``tranche_in``/``tranche_out`` (paths, K) currency, ``tranche_irr`` (paths, K) per year,
  ``commissioner_paid`` (paths, C), ``achieved`` (paths, O) outcomes; a read-only mapping
  (:class:`~cib_sim.results.path_store.PathStore`) held in memory or, for big runs, in temporary files;
- ``period_mean``: the mean over paths of every flow, (periods, ...) currency per period;
- ``kept``: the full flows of the first ``n_kept`` paths, (n_kept, periods, ...), for cash-flow
  views and fan charts.

Memory: the per-path measures take a few dozen floats a path whatever the horizon; on a disk
store (``simulate(..., path_store="disk")``, or ``"auto"`` for big runs) they stay on disk, and
:meth:`Results.summary`, :meth:`Results.quantiles`, :meth:`Results.to_parquet` and
:meth:`Results.to_csv` read one column or one block of rows at a time, so memory stays bounded
whatever the number of paths. :meth:`Results.path_table` builds everything at once (for modest
runs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cib_sim.engine import metrics
from cib_sim.engine.reduce import investor_flows
from cib_sim.results.path_store import PathStore, check_backend
from cib_sim.scenario import Scenario

# Paths per block when writing Parquet (one row group each) or CSV, and when summing rows: the
# path table takes ~700 bytes a path for the reference scenarios, so a block is ~45 MB and a
# writer peaks near 100 MB (measured with tracemalloc) whatever the number of paths.
ROW_GROUP = 65_536


def _multiple(tin: np.ndarray, tout: np.ndarray) -> np.ndarray:
    """Money back over money in, elementwise (NaN where nothing was drawn)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        m = tout / tin
    return np.where(tin > 0, m, np.nan)


def _per(num: float, den: float, floor: float = 0.0) -> float:
    """``num / den``, or NaN where ``den`` is not above ``floor`` or the ratio is too large to
    hold (payments of a few hundred-digit fractions of a unit: nothing was paid)."""
    if not den > floor:
        return math.nan
    with np.errstate(over="ignore"):
        r = num / den
    return float(r) if math.isfinite(r) else math.nan


NET_DUST = 1e-9
"""Payments net of rebates below this share of the gross are rounding residue: nothing was paid on
balance, and figures per unit of net payment are undefined (NaN)."""


@dataclass
class Results:
    """The outcome of ``simulate``: arrays with documented shapes plus tidy DataFrame views."""

    scenario: Scenario
    seed: Any
    mode: str
    n_paths: int
    path: PathStore
    period_mean: dict[str, np.ndarray]
    kept: dict[str, np.ndarray]
    engine: str = "fast"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Results built by hand from a dict of arrays get a memory store over those arrays.
        if not isinstance(self.path, PathStore):
            self.path = PathStore.from_arrays(self.path)

    def __getstate__(self) -> dict[str, Any]:
        # ``multiple`` is recomputed on demand: on a disk store it is a file of the store's
        # folder, which does not travel with the pickle (the store itself pickles as memory).
        state = dict(self.__dict__)
        state.pop("multiple", None)
        return state

    def close(self) -> None:
        """Remove a disk store's temporary files now (otherwise done when garbage-collected)."""
        self.path.close()

    @classmethod
    def from_chunks(cls, s: Scenario, parts, seed: Any, mode: str, engine: str = "fast", n_paths: int | None = None, store: str = "auto") -> "Results":
        """Assemble chunk results (in path order) into one :class:`Results`.

        ``parts`` may be an iterator: with ``n_paths`` given, each chunk's per-path arrays are
        written to the store (memory or disk, see :mod:`cib_sim.results.path_store`; ``store``:
        ``auto``, ``memory`` or ``disk``) as it arrives and the chunk is let go.
        """
        check_backend(store)  # before any chunk is computed
        if n_paths is None:
            parts = list(parts)
            n_paths = sum(p.n for p in parts)
        paths: PathStore | None = None
        block_sums: dict[str, np.ndarray] = {}
        kept: dict[str, list[np.ndarray]] = {}
        done = 0
        try:
            for part in parts:
                if paths is None:
                    paths = PathStore.allocate(n_paths, part.path, store)
                paths.write(done, part.path)
                # Sums per seeded block, added in block order: the same whatever the chunking
                # (and one running total per flow, not one per block, whatever the paths).
                for k, v in part.period_sum.items():
                    for block in v:
                        if k in block_sums:
                            block_sums[k] += block
                        else:
                            block_sums[k] = block.copy()
                for k, v in part.kept.items():
                    kept.setdefault(k, []).append(v)
                done += part.n
            if done != n_paths:
                raise ValueError(f"chunks hold {done} paths, expected {n_paths}")
            paths = paths.seal() if paths is not None else PathStore.from_arrays({})
        except BaseException:
            if paths is not None:
                paths.close()  # remove a half-written disk store now, not at garbage collection
            raise
        period_mean = {k: v / done for k, v in block_sums.items()}
        kept_all = {k: np.concatenate(v, axis=0) for k, v in kept.items()}
        return cls(s, seed, mode, done, paths, period_mean, kept_all, engine)

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
        """(paths, K) money back over money in, per capital tranche (NaN if nothing drawn).

        Computed a tranche at a time; on a disk store it is itself a read-only file."""
        return self.path.derive("tranche_multiple", self.path.tail("tranche_in"), lambda idx: self._multiple_column(idx[0]))

    def _multiple_column(self, k: int) -> np.ndarray:
        """(paths,) the multiple of capital tranche ``k``."""
        return _multiple(self.path.column("tranche_in", k), self.path.column("tranche_out", k))

    def _path_columns(self) -> list[tuple[str, str, tuple[int, ...]]]:
        """The path table's columns after ``path``: (column name, measure, index into the
        measure's trailing axes). The measure ``tranche_multiple`` is :attr:`multiple`."""
        s = self.scenario
        labels = {
            "tranche": self.tranche_names, "commissioner": self.commissioner_names,
            "outcome": s.outcome_names, "partner": s.partner_names, "guarantee": self.guarantee_names,
            "unit": ["zone"] if s.delivery.model == "zone" else s.partner_names,
            "fee": [f.name for f in s.terms.deferred_fees],
        }
        axis_of = {
            "tranche_": "tranche", "commissioner_": "commissioner", "cap_hit": "commissioner", "lost_": "commissioner",
            "due_after": "commissioner", "achieved": "outcome", "additional": "outcome", "earned": "outcome", "enrolled": "unit",
            "partner_": "partner", "guarantee_call": "guarantee", "deferred_fee": "fee",
        }
        tails = {k: self.path.tail(k) for k in self.path}
        if "tranche_in" in tails:
            tails["tranche_multiple"] = tails["tranche_in"]
        cols: list[tuple[str, str, tuple[int, ...]]] = []
        for name, tail in tails.items():
            if not tail:
                cols.append((name, name, ()))
                continue
            kind = next(v for k, v in axis_of.items() if name.startswith(k))
            for j, lab in enumerate(labels[kind]):
                if len(tail) == 1:
                    cols.append((f"{name}[{lab}]", name, (j,)))
                else:
                    for o, oname in enumerate(s.outcome_names):
                        cols.append((f"{name}[{lab}][{oname}]", name, (j, o)))
        return cols

    def _column(self, key: str, index: tuple[int, ...]) -> np.ndarray:
        """(paths,) one path-table column in memory (flags as 0/1 floats)."""
        v = self._multiple_column(index[0]) if key == "tranche_multiple" else self.path.column(key, index)
        return v.astype(np.float64) if v.dtype == bool else v

    def _row_sums(self, key: str) -> np.ndarray:
        """(paths,) ``path[key].sum(axis=1)``, a block of rows at a time (rows summed exactly as
        numpy sums them over the whole array)."""
        out = np.empty(self.n_paths)
        for a in range(0, self.n_paths, ROW_GROUP):
            b = min(self.n_paths, a + ROW_GROUP)
            out[a:b] = self.path.rows(key, a, b).sum(axis=1)
        return out

    def _dot_columns(self, key: str, w: np.ndarray) -> np.ndarray:
        """(paths,) ``sum_j path[key][:, j] * w[j]``, added in order a column at a time (as
        :func:`cib_sim.engine.arrays.dot_last`)."""
        out = self.path.column(key, 0) * w[0]
        for j in range(1, len(w)):
            out = out + self.path.column(key, j) * w[j]
        return out

    def path_table(self) -> pd.DataFrame:
        """One row per path: every per-path measure as a column (``tranche_irr[senior]`` ...).

        Builds the whole table in memory (about 8 bytes a cell): for modest runs. Big runs go
        to a file with :meth:`to_parquet` or :meth:`to_csv`, which write a block at a time."""
        cols: dict[str, np.ndarray] = {"path": np.arange(self.n_paths)}
        for name, key, idx in self._path_columns():
            arr = self.multiple if key == "tranche_multiple" else self.path[key]
            arr = arr[(slice(None),) + idx]
            if arr.dtype == bool:  # flags as 0/1, so that means and quantiles work on every column
                arr = arr.astype(np.float64)
            cols[name] = arr
        return pd.DataFrame(cols)

    def _path_blocks(self):
        """The path table, ``ROW_GROUP`` rows at a time: yields ``{column: (rows,) array}``,
        each array contiguous and in memory, in :meth:`path_table`'s column order."""
        columns = self._path_columns()
        by_key: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
        for name, key, idx in columns:
            by_key.setdefault(key, []).append((name, idx))
        for a in range(0, self.n_paths, ROW_GROUP):
            b = min(self.n_paths, a + ROW_GROUP)
            got: dict[str, np.ndarray] = {"path": np.arange(a, b)}
            for key, wanted in by_key.items():
                if key == "tranche_multiple":
                    rows = _multiple(self.path.rows("tranche_in", a, b), self.path.rows("tranche_out", a, b))
                else:
                    rows = self.path.rows(key, a, b)
                for name, idx in wanted:
                    v = np.ascontiguousarray(rows[(slice(None),) + idx])
                    got[name] = v.astype(np.float64) if v.dtype == bool else v
            yield {name: got[name] for name in ["path"] + [c[0] for c in columns]}

    def to_parquet(self, path):
        """Write the path table (one row per path) to Parquet (a path or a binary file object),
        one row group per ``ROW_GROUP`` paths; the scenario YAML and the seed go in its metadata."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from cib_sim.scenario import scenario_to_yaml

        writer = None
        try:
            for block in self._path_blocks():
                if writer is None:
                    # The schema (with pandas' metadata, as ``Table.from_pandas`` writes it) is
                    # the same for every block: take it from an empty frame of the same columns.
                    schema = pa.Schema.from_pandas(pd.DataFrame({k: v[:0] for k, v in block.items()}), preserve_index=False)
                    meta = dict(schema.metadata or {})
                    meta.update({b"cib_sim.scenario": scenario_to_yaml(self.scenario).encode(), b"cib_sim.seed": str(self.seed).encode()})
                    schema = schema.with_metadata(meta)
                    writer = pq.ParquetWriter(path, schema)
                # from_pandas: NaN as null, as ``Table.from_pandas`` writes it.
                writer.write_table(pa.Table.from_arrays([pa.array(v, from_pandas=True) for v in block.values()], schema=schema))
        finally:
            if writer is not None:
                writer.close()
        return Path(path) if isinstance(path, (str, Path)) else path

    def to_csv(self, path: str | Path) -> Path:
        """Write the path table to CSV, ``ROW_GROUP`` paths at a time."""
        with open(path, "w", newline="") as f:
            for i, block in enumerate(self._path_blocks()):
                pd.DataFrame(block).to_csv(f, index=False, header=(i == 0))
        return Path(path)

    # ---- summaries
    def summary(self) -> pd.DataFrame:
        """Headline measures, tidy: one row per (group, name, metric) with value and unit.

        Value for money is the fiscal value of the outcomes *above the counterfactual*
        (achieved minus baseline rate x enrolled; count outcomes: the events avoided) over what
        was paid; a commissioner's cost per outcome counts a count outcome's events avoided.
        A count outcome's ``achieved_mean`` is its events recorded (unit ``events``).

        Computed a column (one tranche, one commissioner ...) at a time, so memory holds a few
        (paths,) arrays whatever the store.
        """
        s, rows = self.scenario, []
        cur = s.currency
        col = self.path.column

        def add(group: str, name: str, metric: str, value: float, unit: str) -> None:
            rows.append({"group": group, "name": name, "metric": metric, "value": float(value), "unit": unit})

        for k, t in enumerate(s.capital_tranches):
            tin, tout = col("tranche_in", k), col("tranche_out", k)
            stats = metrics.loss_statistics(tin, tout)
            add("tranche", t.name, "capital_drawn_mean", tin.mean(), cur)
            add("tranche", t.name, "prob_loss", stats["prob_loss"], "probability")
            add("tranche", t.name, "expected_loss", stats["expected_loss"], cur)
            add("tranche", t.name, "cvar_5", stats["cvar_5"], cur)
            mult = _multiple(tin, tout)
            del tin, tout
            for q, v in zip((5, 50, 95), metrics.quantiles(mult)):
                add("tranche", t.name, f"multiple_p{q}", v, "x")
            add("tranche", t.name, "multiple_mean", np.nanmean(mult) if np.isfinite(mult).any() else np.nan, "x")
            # Money back over money committed: what an investor who set the commitment aside earns on it.
            add("tranche", t.name, "multiple_on_committed_mean", col("tranche_out", k).mean() / t.commitment, "x")
            del mult
            irr, invested = _irr_for_quantiles(col("tranche_irr", k), col("tranche_in", k), col("tranche_out", k))
            for q, v in zip((5, 50, 95), metrics.quantiles(irr[invested]) if invested.any() else [np.nan] * 3):
                add("tranche", t.name, f"irr_p{q}", v, "per year")
            add("tranche", t.name, "irr_undefined", float(np.mean(np.isnan(col("tranche_irr", k)) & invested)), "share of paths")
            add("tranche", t.name, "not_drawn", float(np.mean(~invested)), "share of paths")
            del irr, invested
            first = col("tranche_first_payment", k)
            add("tranche", t.name, "time_to_first_payment_median", np.nanmedian(first) if np.isfinite(first).any() else np.nan, "years")
            del first  # not alive through the next tranche's loss statistics
            add("tranche", t.name, "peak_capital_mean", col("tranche_peak_capital", k).mean(), cur)
        for g, name in enumerate(self.guarantee_names):
            call = col("guarantee_call", g)
            add("guarantee", name, "prob_called", float(np.mean(call > 0)), "probability")
            add("guarantee", name, "expected_call", call.mean(), cur)
        for f, fee in enumerate(s.terms.deferred_fees):
            paid = col("deferred_fee", f)
            add("deferred_fee", fee.name, "paid_mean", paid.mean(), cur)
            add("deferred_fee", fee.name, "prob_paid_in_full", float(np.mean(paid >= fee.amount * (1 - 1e-9))), "probability")
        fiscal = np.array([o.fiscal_value for o in s.outcomes])
        counts = np.array([o.kind == "count" for o in s.outcomes])
        for c, com in enumerate(s.commissioners):
            paid = col("commissioner_paid", c)
            share = np.array([com.shares.get(o, 0.0) for o in s.outcome_names])
            if counts.any():  # a count outcome's outcomes are its events avoided, not its events
                their_outcomes = (self._dot_columns("achieved", share * ~counts).sum()
                                  + self._dot_columns("additional", share * counts).sum())
            else:
                their_outcomes = self._dot_columns("achieved", share).sum()
            their_value = self._dot_columns("additional", share * fiscal).sum()
            net = paid - col("commissioner_rebate", c)
            # Gross: what the payer paid out; net: less the rebates that came back to it.
            add("commissioner", com.name, "paid_mean", paid.mean(), cur)
            add("commissioner", com.name, "paid_p95", np.quantile(paid, 0.95), cur)
            add("commissioner", com.name, "paid_net_mean", net.mean(), cur)
            add("commissioner", com.name, "paid_net_p95", np.quantile(net, 0.95), cur)
            add("commissioner", com.name, "cost_per_outcome", _per(paid.sum(), their_outcomes), cur)
            add("commissioner", com.name, "cost_per_outcome_net", _per(net.sum(), their_outcomes), cur)
            add("commissioner", com.name, "value_for_money", _per(their_value, paid.sum()), "x")
            # Net of rebates that gave back (nearly) all it paid, value for money is undefined: a
            # rounding residue would make it astronomically large.
            add("commissioner", com.name, "value_for_money_net",
                _per(their_value, net.sum(), NET_DUST * paid.sum()), "x")
            del net
            add("commissioner", com.name, "prob_cap_hit", col("cap_hit", c).mean(), "probability")
            add("commissioner", com.name, "lost_to_caps_mean", col("lost_to_caps", c).mean(), cur)
            add("commissioner", com.name, "lost_to_withdrawal_mean", col("lost_to_withdrawal", c).mean(), cur)
            add("commissioner", com.name, "rebate_mean", col("commissioner_rebate", c).mean(), cur)
        for p, part in enumerate(s.partners):
            add("partner", part.name, "revenue_mean", col("partner_revenue", p).mean(), cur)
            add("partner", part.name, "contingent_mean", col("partner_contingent", p).mean(), cur)
            add("partner", part.name, "attributed_mean", col("partner_attributed", p).mean(), cur)
            add("partner", part.name, "outcomes_mean", col("partner_outcomes", p).mean(), "outcomes")
        for o, out in enumerate(s.outcomes):
            add("outcome", out.name, "achieved_mean", col("achieved", o).mean(), "events" if out.kind == "count" else "outcomes")
            add("outcome", out.name, "earned_mean", col("earned", o).mean(), cur)
        total_paid = self._row_sums("commissioner_paid")
        fiscal_value = col("fiscal_value")
        add("contract", s.name, "enrolled_mean", self._row_sums("enrolled").mean(), "participants")
        add("contract", s.name, "outcome_payments_mean", total_paid.mean(), cur)
        add("contract", s.name, "outcome_payments_p95", np.quantile(total_paid, 0.95), cur)
        add("contract", s.name, "fiscal_value_mean", fiscal_value.mean(), cur)
        add("contract", s.name, "value_for_money", _per(fiscal_value.sum(), total_paid.sum()), "x")
        total_net = total_paid - self._row_sums("commissioner_rebate")
        add("contract", s.name, "outcome_payments_net_mean", total_net.mean(), cur)
        add("contract", s.name, "outcome_payments_net_p95", np.quantile(total_net, 0.95), cur)
        add("contract", s.name, "value_for_money_net",
            _per(fiscal_value.sum(), total_net.sum(), NET_DUST * total_paid.sum()), "x")
        del total_paid, total_net, fiscal_value
        add("contract", s.name, "prob_delivery_stopped", float(np.mean(col("stop_period") < s.horizon.n_periods)), "probability")
        if s.breaks:
            add("contract", s.name, "prob_break", float(np.mean(col("break_period") < s.horizon.n_periods)), "probability")
        if s.terms.intermediary_fee:
            add("contract", s.name, "intermediary_fee_mean", col("intermediary_fee").mean(), cur)
        add("contract", s.name, "due_after_horizon_mean", self._row_sums("due_after_horizon").mean(), cur)
        add("contract", s.name, "excess_mean", col("excess").mean(), cur)
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
        """Quantiles of every per-path measure: one row per column of :meth:`path_table`
        (computed a column at a time, with pandas' quantile as on the whole table)."""
        names, values = [], []
        for name, key, idx in self._path_columns():
            names.append(name)
            values.append(pd.Series(self._column(key, idx)).quantile(list(qs)).to_numpy(dtype=np.float64))
        data = np.array(values).reshape(len(names), len(qs))
        return pd.DataFrame(data, index=pd.Index(names, name="measure"), columns=pd.Index(list(qs), dtype=np.float64))

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
            if by in self.tranche_names:  # only the kept paths are read (not all of a disk store)
                k = self.tranche_names.index(by)
                vals = _multiple(self.path.rows("tranche_in", 0, self.n_kept), self.path.rows("tranche_out", 0, self.n_kept))[:, k]
            else:
                vals = self.path.rows("commissioner_paid", 0, self.n_kept).sum(axis=1)
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
        if tot["intermediary_fee"].sum() > 0:
            rows.append(("Intermediary fee", "out", -tot["intermediary_fee"].sum()))
        for f, fee in enumerate(self.scenario.terms.deferred_fees):
            rows.append((f"Deferred fee: {fee.name}", "out", -tot["deferred_fee"][f]))
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
            paid_in, paid_out = investor_flows(self.kept)
            net = paid_out - paid_in
            series = np.cumsum(net.sum(axis=2), axis=1)
        else:
            raise ValueError(f"what: must be 'commissioner_paid' or 'investor_net' (got {what!r})")
        qv = np.quantile(series, qs, axis=0)
        df = pd.DataFrame(qv.T, columns=[f"q{int(round(q * 100)):02d}" for q in qs], index=self.period_index)
        df.index.name = "period_start"
        df.insert(0, "year", np.arange(series.shape[1]) / self.scenario.horizon.periods_per_year)
        return df


def _irr_for_quantiles(irr: np.ndarray, paid_in: np.ndarray, paid_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IRRs (paths,) ready for percentiles, and the paths that put money in (paths,) bool.

    Percentiles are over every path with capital drawn, none left out: a total loss is -100% (the
    engine's IRR already says so), and a path whose IRR has no defined value is ranked at the
    bottom (-100%) if it lost money and at the top if it did not (there are very few such paths;
    ``irr_undefined`` reports their share). Paths where nothing was drawn have no IRR and are
    reported as ``not_drawn``."""
    invested = paid_in > 0
    undefined = np.isnan(irr) & invested
    ranked = np.where(undefined, np.where(paid_out < paid_in, -1.0, np.inf), irr)
    return ranked, invested
