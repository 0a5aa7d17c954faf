"""Reducing a chunk of paths: from period-by-period flows to what :class:`~cib_sim.results.Results`
keeps (per-path measures, per-block period sums, the flows of the first paths).

Shapes: N paths in the chunk, T periods, K capital tranches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cib_sim import metrics
from cib_sim._arrays import dot_last
from cib_sim.payments import attribution_weights
from cib_sim.scenario import Scenario

# Flows whose time series are kept for the first paths and averaged over all.
_FLOWS = (
    "earned", "commissioner_paid", "attributed", "partner_upfront", "partner_fixed", "partner_contingent",
    "partner_bonus", "backbone_cost", "backbone_fee", "drawn", "coupon", "capital", "upside",
    "guarantee_received", "guarantee_call", "commissioner_rebate", "excess", "cash", "income",
    "enrolled", "achieved",
)


@dataclass
class ChunkResult:
    """A chunk of paths reduced: per-path measures, per-period sums, and kept flows."""

    n: int
    path: dict[str, np.ndarray]
    period_sum: dict[str, np.ndarray]  # per seeded block: (blocks, T, ...)
    kept: dict[str, np.ndarray]


def investor_flows(f: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(N, T, K) money into and out of each capital tranche, currency per period."""
    paid_in = f["drawn"]
    paid_out = f["coupon"] + f["capital"] + f["upside"] + f["guarantee_received"]
    return paid_in, paid_out


def reduce_chunk(s: Scenario, f: dict[str, np.ndarray], keep: int, block_sizes: list[int] | None = None) -> ChunkResult:
    """Reduce a chunk's flows (see ``cib_sim.engine.run_paths``) to what Results keeps.

    ``block_sizes``: the seeded blocks that make up the chunk. Period sums are taken per block
    and added up across all blocks at the end, so that the mean flows do not depend on how
    blocks were grouped into chunks (floating-point addition is not associative).
    """
    ppy = s.horizon.periods_per_year
    N = f["cash"].shape[0]
    paid_in, paid_out = investor_flows(f)
    K = paid_in.shape[2]
    irr = np.stack([metrics.irr(paid_out[:, :, k] - paid_in[:, :, k], ppy) for k in range(K)], axis=1)
    first = np.stack([metrics.time_to_first_payment(paid_out[:, :, k], ppy) for k in range(K)], axis=1)
    peak = np.stack([metrics.peak_capital_drawn(paid_in[:, :, k], paid_out[:, :, k]) for k in range(K)], axis=1)
    achieved_unit = f["achieved"].sum(axis=1)  # (N, U, O)
    W = attribution_weights(s)  # (U, P)
    fiscal = np.array([o.fiscal_value for o in s.outcomes])
    baseline = np.array([o.baseline_rate for o in s.outcomes])
    path = {
        "tranche_in": paid_in.sum(axis=1),
        "tranche_out": paid_out.sum(axis=1),
        "tranche_irr": irr,
        "tranche_first_payment": first,
        "tranche_peak_capital": peak,
        "tranche_guaranteed": f["guarantee_received"].sum(axis=1),
        "commissioner_paid": f["commissioner_paid"].sum(axis=1),
        "commissioner_rebate": f["commissioner_rebate"].sum(axis=1),
        "cap_hit": f["cap_hit"].copy(),
        "lost_to_caps": f["lost_to_caps"],
        "lost_to_withdrawal": f["lost_to_withdrawal"],
        "due_after_horizon": f["due_after_horizon"],
        "achieved": achieved_unit.sum(axis=1),
        "earned": f["earned"].sum(axis=1),
        "enrolled": f["enrolled"].sum(axis=1),
        "partner_revenue": (f["partner_upfront"] + f["partner_fixed"] + f["partner_contingent"] + f["partner_bonus"]).sum(axis=1),
        "partner_contingent": f["partner_contingent"].sum(axis=1),
        "partner_attributed": f["attributed"].sum(axis=1),
        "partner_outcomes": dot_last(achieved_unit.sum(axis=2)[:, None, :], W.T[None, :, :]),  # (N, P), all outcomes
        "guarantee_call": f["guarantee_call"].sum(axis=1),
        "backbone": (f["backbone_cost"] + f["backbone_fee"]).sum(axis=1),
        "excess": f["excess"].sum(axis=1),
        "additional": achieved_unit.sum(axis=1) - f["enrolled"].sum(axis=(1, 2))[:, None] * baseline,
        "fiscal_value": dot_last(achieved_unit.sum(axis=1) - f["enrolled"].sum(axis=(1, 2))[:, None] * baseline, fiscal),
        "stop_period": f["stop_period"].astype(np.int32),
    }
    edges = np.cumsum([0] + list(block_sizes or [N]))
    period_sum = {k: np.stack([f[k][a:b].sum(axis=0) for a, b in zip(edges[:-1], edges[1:])]) for k in _FLOWS}
    kept = {k: f[k][:keep].copy() for k in _FLOWS}
    return ChunkResult(N, path, period_sum, kept)
