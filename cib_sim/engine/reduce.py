"""Where the engine's period-by-period flows go: a full history, or a chunk reduced on the fly.

The engine (:func:`cib_sim.engine.loop.run_paths`) hands each period's flows to a *sink*:

- :class:`FlowHistory` keeps every flow for every period, ``(N, T, ...)`` arrays (tests, the
  reference model, learning: a few paths at a time);
- :class:`ChunkReducer` folds them at once into what :class:`~cib_sim.results.Results` keeps:
  per-path totals and measures, per-block period sums and the flows of the first ``keep`` paths.
  Only the investors' cash flows are held for every period (the IRR needs them), so a chunk's
  working memory is a fraction of its full history.

Shapes: N paths in the chunk, T periods, U delivery units, O outcomes, P partners,
C commissioners, K capital tranches, G guarantees. Flows are currency per period unless named a
count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cib_sim.engine import metrics
from cib_sim.engine.arrays import block_total, dot_last
from cib_sim.engine.flows import (
    AVERAGED,
    PERIOD_FLOWS,
    TO_INVESTORS,
    TOTALS,
    check_names,
    flow_shapes,
)
from cib_sim.engine.payments import attribution_weights
from cib_sim.scenario import Scenario


@dataclass
class ChunkResult:
    """A chunk of paths reduced: per-path measures, per-period sums, and kept flows."""

    n: int
    path: dict[str, np.ndarray]
    period_sum: dict[str, np.ndarray]  # per seeded block: (blocks, T, ...)
    kept: dict[str, np.ndarray]


class FlowHistory:
    """Keeps every flow of every period: ``flows()`` gives ``(N, T, ...)`` arrays."""

    def __init__(self, s: Scenario, n_paths: int):
        T = s.horizon.n_periods
        # Stored period-first (each period's write is contiguous) and used as (N, T, ...) views.
        shapes = flow_shapes(s)
        self.f = {name: np.moveaxis(np.zeros((T, n_paths) + shapes[name]), 0, 1) for name in PERIOD_FLOWS}
        self.f["funded"] = np.zeros((T, n_paths), dtype=bool).T

    def record(self, t: int, row: dict[str, np.ndarray]) -> None:
        """Period t's flows, ``(N, ...)`` each; a flow left out is nil this period."""
        check_names(row)
        for name, v in row.items():
            self.f[name][:, t] = v

    def finish(self, enrolled: np.ndarray, achieved: np.ndarray, per_path: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.f.update(enrolled=enrolled, achieved=achieved, **per_path)
        return self.f


class ChunkReducer:
    """Folds a chunk's flows, period by period, into a :class:`ChunkResult`.

    ``block_sizes``: the seeded blocks that make up the chunk. Period sums are taken per block
    and added up across all blocks at the end, so that the mean flows do not depend on how
    blocks were grouped into chunks (floating-point addition is not associative).
    ``keep``: how many of the chunk's first paths keep their full flows.
    """

    def __init__(self, s: Scenario, n_paths: int, keep: int = 0, block_sizes: list[int] | None = None):
        self.s, self.n, self.keep = s, n_paths, keep
        T = s.horizon.n_periods
        self.shapes = flow_shapes(s)
        self.edges = np.cumsum([0] + list(block_sizes or [n_paths]))
        B = len(self.edges) - 1
        sizes = np.diff(self.edges)
        # Leading blocks of one size, summed together (seeded blocks are all full but the last).
        self.full_blocks = int(np.argmax(sizes != sizes[0])) if (sizes != sizes[0]).any() else B
        self.total = {name: np.zeros((n_paths,) + self.shapes[name]) for name in TOTALS}
        self.period_sum = {name: np.zeros((B, T) + self.shapes[name]) for name in AVERAGED}
        self.kept = {name: np.zeros((keep, T) + self.shapes[name]) for name in AVERAGED}
        K = self.shapes["drawn"][0]
        # Investors' flows per tranche, (K, T, N): each tranche's (T, N) history is contiguous.
        self.paid_in = np.zeros((K, T, n_paths))
        self.paid_out = np.zeros((K, T, n_paths))

    def record(self, t: int, row: dict[str, np.ndarray]) -> None:
        """Period t's flows, ``(N, ...)`` each; a flow left out is nil this period."""
        check_names(row)
        for name, v in row.items():
            if name in self.total:
                self.total[name] += v
            if name in self.period_sum:
                self._period(name, t, v)
        if "drawn" in row:
            self.paid_in[:, t] = row["drawn"].T
        out = [row[name] for name in TO_INVESTORS if name in row]
        if out:
            self.paid_out[:, t] = sum(out[1:], out[0]).T

    def _period(self, name: str, t: int, v: np.ndarray) -> None:
        sums = self.period_sum[name]
        # The full-size blocks all at once (one call, not one per block), then a partial one.
        full = self.full_blocks
        if full:
            sums[:full, t] = block_total(v[: self.edges[full]], full)
        for b in range(full, len(self.edges) - 1):
            sums[b, t] = block_total(v[self.edges[b] : self.edges[b + 1]])
        if self.keep:
            self.kept[name][:, t] = v[: self.keep]

    def finish(self, enrolled: np.ndarray, achieved: np.ndarray, per_path: dict[str, np.ndarray]) -> ChunkResult:
        """Add the cohorts (``enrolled`` (N, T, U), ``achieved`` (N, T, U, O) by enrolment
        period) and the per-path results of the run (``cap_hit``, ``lost_to_caps``,
        ``lost_to_withdrawal``, ``due_after_horizon`` (N, C), ``stop_period``, ``break_period`` (N,))."""
        for name, hist in (("enrolled", enrolled), ("achieved", achieved)):
            for t in range(hist.shape[1]):
                self._period(name, t, hist[:, t])
        path = path_measures(
            self.s, self.total, self.paid_in, self.paid_out, enrolled.sum(axis=1), achieved.sum(axis=1), per_path
        )
        return ChunkResult(self.n, path, self.period_sum, self.kept)


def path_measures(
    s: Scenario,
    total: dict[str, np.ndarray],
    paid_in: np.ndarray,
    paid_out: np.ndarray,
    enrolled: np.ndarray,
    achieved: np.ndarray,
    per_path: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """The per-path measures :class:`~cib_sim.results.Results` keeps.

    ``total``: each flow of :data:`~cib_sim.engine.flows.TOTALS` summed over the periods, (N, ...); ``paid_in``,
    ``paid_out``: (K, T, N) money into and out of each capital tranche; ``enrolled`` (N, U) and
    ``achieved`` (N, U, O) over all cohorts; ``per_path``: see :meth:`ChunkReducer.finish`.
    """
    ppy = s.horizon.periods_per_year
    K = paid_in.shape[0]
    irr = np.stack([metrics.irr_periods_first(paid_out[k] - paid_in[k], ppy) for k in range(K)], axis=1)
    first = np.stack([metrics.time_to_first_payment(paid_out[k], ppy, axis=0) for k in range(K)], axis=1)
    peak = np.stack([metrics.peak_capital_drawn(paid_in[k], paid_out[k], axis=0) for k in range(K)], axis=1)
    W = attribution_weights(s)  # (U, P)
    fiscal = np.array([o.fiscal_value for o in s.outcomes])
    baseline = np.array([o.baseline_rate for o in s.outcomes])
    by_outcome = achieved.sum(axis=1)  # (N, O)
    additional = by_outcome - enrolled.sum(axis=1)[:, None] * baseline
    cf = per_path.get("counterfactual")
    if cf is not None:  # count outcomes (events avoided) or a drifting counterfactual
        for k, o in enumerate(s.outcomes):
            if o.kind == "count":
                additional[:, k] = cf[:, k] - by_outcome[:, k]
            elif o.comparison is not None and (o.comparison.drift != 0 or o.comparison.drift_sd > 0):
                additional[:, k] = by_outcome[:, k] - cf[:, k]
    return {
        "tranche_in": total["drawn"],
        "tranche_out": investor_flows(total)[1],
        "tranche_irr": irr,
        "tranche_first_payment": first,
        "tranche_peak_capital": peak,
        "tranche_guaranteed": total["guarantee_received"],
        "commissioner_paid": total["commissioner_paid"],
        "commissioner_rebate": total["commissioner_rebate"],
        "cap_hit": per_path["cap_hit"].copy(),
        "lost_to_caps": per_path["lost_to_caps"],
        "lost_to_withdrawal": per_path["lost_to_withdrawal"],
        "due_after_horizon": per_path["due_after_horizon"],
        "achieved": by_outcome,
        "earned": total["earned"],
        "enrolled": enrolled,
        "partner_revenue": total["partner_upfront"] + total["partner_fixed"] + total["partner_contingent"] + total["partner_bonus"],
        "partner_contingent": total["partner_contingent"],
        "partner_attributed": total["attributed"],
        "partner_outcomes": dot_last(achieved.sum(axis=2)[:, None, :], W.T[None, :, :]),  # (N, P), all outcomes
        "guarantee_call": total["guarantee_call"],
        "backbone": total["backbone_cost"] + total["backbone_fee"],
        "excess": total["excess"],
        "additional": additional,
        "fiscal_value": dot_last(additional, fiscal),
        "stop_period": per_path["stop_period"].astype(np.int32),
        "break_period": per_path["break_period"].astype(np.int32),
        "deferred_fee": total["deferred_fee"],
        "intermediary_fee": total["intermediary_fee"],
    }


def investor_flows(f: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Money into and out of each capital tranche: ``f``'s ``drawn`` and the sum of the flows
    paid to investors (:data:`~cib_sim.engine.flows.TO_INVESTORS`), whatever their shape ((N, T, K) flows, or (N, K) totals)."""
    out = [f[name] for name in TO_INVESTORS]
    return f["drawn"], sum(out[1:], out[0])


def reduce_chunk(s: Scenario, f: dict[str, np.ndarray], keep: int, block_sizes: list[int] | None = None) -> ChunkResult:
    """Reduce a full history of flows (see ``cib_sim.engine.loop.run_paths``) as the engine's own
    chunks are reduced: period by period through a :class:`ChunkReducer`."""
    N, T = f["cash"].shape
    r = ChunkReducer(s, N, keep, block_sizes)
    for t in range(T):
        r.record(t, {name: f[name][:, t] for name in PERIOD_FLOWS})
    per_path = {k: f[k] for k in ("cap_hit", "lost_to_caps", "lost_to_withdrawal", "due_after_horizon", "stop_period",
                                  "break_period", "counterfactual") if k in f}
    return r.finish(f["enrolled"], f["achieved"], per_path)
