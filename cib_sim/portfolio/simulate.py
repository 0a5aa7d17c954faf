"""``simulate_portfolio``: every member of a portfolio run on the same paths, linked by shared
shocks, then the shared payers' pots and the investor funds' waterfalls path by path.

Seeds (the run planner's rule, :mod:`cib_sim.run.plan`): the run's root seed gives one
``SeedSequence`` per block of :data:`~cib_sim.run.plan.BLOCK` paths. Within block ``b``, member
``m`` draws from the stream ``(MEMBER_STREAM, m)`` spawned off the block's sequence, and factor
``f``'s shock for group value ``v`` from ``(FACTOR_STREAM, f, hash(v))`` (32 bits of its
SHA-256). For a given number of paths, a path's numbers depend
only on the root seed and its index, so the results are bit-identical whatever the chunk size, the
number of workers or the executor (this process, processes, Dask).

Each member's path-level normals (effects, maturity, referrals) are mixed with the shocks it
shares (:func:`cib_sim.engine.sample.sample_block`'s ``factor``): a member's own distribution is
unchanged, and two members' normals have correlation equal to the sum of the loadings of the
factors whose group they share.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from cib_sim.engine import run_chunk
from cib_sim.engine.conservation import ConservationError
from cib_sim.engine.metrics import irr_periods_first
from cib_sim.engine.reduce import ChunkReducer
from cib_sim.engine.sample import Draws, sample_block
from cib_sim.portfolio.funds import check_fund, check_pot, fund_waterfall, pot_fill
from cib_sim.portfolio.model import (
    GROUPS,
    Portfolio,
    ResolvedPortfolio,
    as_resolved,
    share_of,
)
from cib_sim.portfolio.results import PortfolioResults
from cib_sim.run.executors import executor_map, ticker
from cib_sim.run.options import count_mode, whole_number
from cib_sim.run.plan import BLOCK, RunPlan, check_plan
from cib_sim.scenario import Scenario

MEMBER_STREAM = 0xB0D
"""Spawn-key element of a member's stream within a block (then the member's index)."""
FACTOR_STREAM = 0xFAC
"""Spawn-key element of a shared shock's stream within a block (then the factor, the group value)."""

DEFAULT_CHUNK = BLOCK
"""Paths per chunk: one block (a chunk holds every member's flows for its paths at once)."""


def _add_months(d: _dt.date, months: int) -> _dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    return _dt.date(d.year + y, m + 1, 1)


def _months_between(a: _dt.date, b: _dt.date) -> int:
    return (b.year - a.year) * 12 + (b.month - a.month)


class MemberReducer(ChunkReducer):
    """The engine's chunk reducer, also keeping each period's payments by commissioner."""

    def __init__(self, s: Scenario, n_paths: int, block_sizes: list[int]):
        super().__init__(s, n_paths, 0, block_sizes)
        T, C = s.horizon.n_periods, len(s.commissioners)
        self.paid = np.zeros((T, n_paths, C))
        self.rebate = np.zeros((T, n_paths, C))

    def record(self, t: int, row: dict[str, np.ndarray]) -> None:
        super().record(t, row)
        if "commissioner_paid" in row:
            self.paid[t] = row["commissioner_paid"]
        if "commissioner_rebate" in row:
            self.rebate[t] = row["commissioner_rebate"]


@dataclass
class Layout:
    """What every chunk needs, worked out once: the calendar, the payers, the shocks, the stakes."""

    rp: ResolvedPortfolio
    start: _dt.date  # the calendar's first period
    T: int  # periods on the calendar
    months: int  # months a period
    index: list[np.ndarray]  # per member: the calendar period of each of its periods
    years: list[int]  # calendar years the calendar covers
    year_of: np.ndarray  # (T,) index into years
    payers: list[str]  # top-up funds first, then commissioners by name
    payer_of: list[list[int]]  # per member, per commissioner: index into payers
    topup_share: np.ndarray  # (F, M)
    factors: list[tuple[int, list[str]]]  # per factor: (its index, the group values in order)
    loadings: list[list[tuple[int, int, float]]]  # per member: (factor, group value, loading)
    fees: list[np.ndarray]  # per investor fund: (T,) fee due each period
    stakes: list[list[tuple[int, int, float]]]  # per investor fund: (member, capital tranche, share)
    mode: str = "approx"

    @property
    def dates(self) -> list[_dt.date]:
        return [_add_months(self.start, k * self.months) for k in range(self.T)]


def make_layout(rp: ResolvedPortfolio, mode: str = "approx", loading_scale: float = 1.0) -> Layout:
    p = rp.spec
    months = 12 // p.periods_per_year
    starts = [s.horizon.start for s in rp.scenarios]
    first = min(starts)
    # The calendar starts on a calendar quarter (or year, or month) so each of its periods falls
    # in one calendar year: a member's January is never booked in the year before.
    start = _dt.date(first.year, (first.month - 1) // months * months + 1, 1)
    index = []
    for s in rp.scenarios:
        off = _months_between(start, s.horizon.start)
        mm = 12 // s.horizon.periods_per_year
        index.append((off + np.arange(s.horizon.n_periods) * mm) // months)
    T = int(max(ix[-1] for ix in index)) + 1
    cal_years = [(_add_months(start, k * months)).year for k in range(T)]
    years = sorted(set(cal_years))
    year_of = np.array([years.index(y) for y in cal_years])
    payers = [f.name for f in p.top_ups]
    payer_of = []
    for s in rp.scenarios:
        row = []
        for c in s.commissioners:
            if c.name not in payers:
                payers.append(c.name)
            row.append(payers.index(c.name))
        payer_of.append(row)
    share = np.array([[share_of(f, n) for n in rp.names] for f in p.top_ups]).reshape(len(p.top_ups), len(rp.names))
    factors, loadings = [], [[] for _ in rp.names]
    for fi, fac in enumerate(p.correlation):
        values = sorted({v for i in range(len(rp.names)) if (v := rp.tag(i, fac.by)) is not None})
        factors.append((fi, values))
        for i in range(len(rp.names)):
            v = rp.tag(i, fac.by)
            if v is not None and fac.loading * loading_scale > 0:
                loadings[i].append((fi, values.index(v), fac.loading * loading_scale))
    fees, stakes = [], []
    for fund in p.investors:
        st, committed, members = [], 0.0, set()
        for k in fund.stakes:
            m = rp.names.index(k.member)
            cap = rp.scenarios[m].capital_tranches
            j = [t.name for t in cap].index(k.tranche)
            st.append((m, j, k.share))
            committed += k.share * cap[j].commitment
            members.add(m)
        first = min(int(index[m][0]) for m in members)
        last = max(int(index[m][-1]) for m in members)
        # A fee for part of a period is charged for the whole period (never rounded away to none).
        n_fee = last - first + 1 if fund.fee_years is None else max(1, math.ceil(fund.fee_years * p.periods_per_year - 1e-9))
        fee = np.zeros(T)
        fee[first : min(T, first + n_fee)] = fund.management_fee * committed / p.periods_per_year
        fees.append(fee)
        stakes.append(st)
    return Layout(rp, start, T, months, index, years, year_of, payers, payer_of, share, factors, loadings, fees, stakes, mode)


def _substream(seed: np.random.SeedSequence, *key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed.entropy, spawn_key=tuple(seed.spawn_key) + tuple(key))


def _value_key(value: str) -> int:
    """A group value's part of its stream's key: from the value itself (not its position among
    the values), so adding a member with a new place leaves every other shock as it was."""
    return int.from_bytes(hashlib.sha256(value.encode("utf-8")).digest()[:4], "little")


def _to_calendar(x: np.ndarray, index: np.ndarray, T: int) -> np.ndarray:
    """(T_m, N, ...) member periods -> (T, N, ...) calendar periods, added in member-period order."""
    out = np.zeros((T,) + x.shape[1:])
    for t in range(x.shape[0]):
        out[index[t]] += x[t]
    return out


def run_portfolio_chunk(task: tuple[Layout, list, list[int]]) -> dict[str, np.ndarray]:
    """Sample, run and settle one chunk of seeded blocks: per-path arrays, paths first."""
    lay, seeds, sizes = task
    rp, T = lay.rp, lay.T
    N = sum(sizes)
    # Shared shocks: one standard normal per path, factor and group value.
    shocks = {}
    for fi, values in lay.factors:
        for k in range(len(values)):
            key = _value_key(values[k])
            shocks[fi, k] = np.concatenate(
                [np.random.Generator(np.random.PCG64(_substream(sd, FACTOR_STREAM, fi, key))).standard_normal(n)
                 for sd, n in zip(seeds, sizes)]
            )
    out: dict[str, np.ndarray] = {}
    M = len(rp.names)
    Q, Y = len(lay.payers), len(lay.years)
    F = len(rp.spec.investors)
    # Held for the whole chunk: each member's payments by commissioner in its own periods, its
    # total a calendar period, and each investor fund's calls and income a calendar period.
    gross: list[np.ndarray] = []  # per member: (T_m, N, C)
    total = np.zeros((M, T, N))  # outcome payments a calendar period
    net = np.zeros((Y, N, Q))  # each payer's liability a calendar year
    rebates = []
    rebate_cal: list[np.ndarray | None] = []  # per member: (T, N, C) rebates a calendar period, or None
    calls = np.zeros((F, T, N))
    income = np.zeros((F, T, N))
    stake_in = [np.zeros((N, len(st))) for st in lay.stakes]
    stake_out = [np.zeros((N, len(st))) for st in lay.stakes]
    for m, s in enumerate(rp.scenarios):
        load = lay.loadings[m]
        w = sum(x[2] for x in load)
        f = None
        if w > 0:
            f = sum(np.sqrt(x[2]) * shocks[x[0], x[1]] for x in load) / np.sqrt(w)
        parts, at = [], 0
        for sd, n in zip(seeds, sizes):
            fac = None if f is None else (f[at : at + n], min(1.0, w))
            parts.append(sample_block(s, _substream(sd, MEMBER_STREAM, m), n, exact=(lay.mode == "exact"), factor=fac))
            at += n
        draws = Draws.concatenate(parts)
        red = MemberReducer(s, N, sizes)
        cr = run_chunk(s, draws, lay.mode, 0, sizes, reducer=red)  # type: ignore[arg-type]
        ix = lay.index[m]
        years = lay.year_of[ix]
        qs = lay.payer_of[m]
        gross.append(red.paid)
        total[m] = _to_calendar(red.paid.sum(axis=2), ix, T)
        rebates.append(red.rebate.sum(axis=(0, 2)))
        rebate_cal.append(_to_calendar(red.rebate, ix, T) if red.rebate.any() else None)
        own = red.paid - red.rebate
        for t in range(own.shape[0]):
            net[years[t]][:, qs] += own[t]
        for fi, stakes in enumerate(lay.stakes):
            for k, (mm, j, share) in enumerate(stakes):
                if mm != m:
                    continue
                ci = share * _to_calendar(red.paid_in[j], ix, T)
                co = share * _to_calendar(red.paid_out[j], ix, T)
                calls[fi] += ci
                income[fi] += co
                stake_in[fi][:, k] = ci.sum(axis=0)
                stake_out[fi][:, k] = co.sum(axis=0)
        out[f"tranche_in:{m}"] = cr.path["tranche_in"]
        out[f"tranche_out:{m}"] = cr.path["tranche_out"]
        out[f"tranche_irr:{m}"] = cr.path["tranche_irr"]
        del red, draws, cr, own
    out["member_paid"] = np.stack([g.sum(axis=(0, 2)) for g in gross], axis=1)
    out["member_rebate"] = np.stack(rebates, axis=1)

    # Shared payers: each fund's pot, in date order; the member's commissioners are reimbursed
    # pro rata to what each paid in the period.
    claim_all = np.zeros((N, M))
    topup_all = np.zeros((N, M))
    rebated = np.zeros((len(rp.spec.top_ups), N))  # each fund's share of the members' rebates
    for fi, fund in enumerate(rp.spec.top_ups):
        claims = lay.topup_share[fi][:, None, None] * total  # (M, T, N)
        paid, balance, exhausted = pot_fill(claims, fund.pot, fund.when_exhausted)
        check_pot(claims, paid, balance, fund.pot, fund.name)
        for m in range(M):
            if not lay.topup_share[fi, m]:
                continue
            qs = lay.payer_of[m]
            if len(qs) == 1:
                reimb = paid[m][:, :, None]
            else:
                g = _to_calendar(gross[m], lay.index[m], T)
                with np.errstate(divide="ignore", invalid="ignore"):
                    frac = np.where(total[m][:, :, None] > 0, g / np.where(total[m] > 0, total[m], 1.0)[:, :, None], 0.0)
                reimb = paid[m][:, :, None] * frac
            for t in range(T):
                net[lay.year_of[t]][:, qs] -= reimb[t]
            back = reimb.sum(axis=(0, 2))
            if np.any(np.abs(back - paid[m].sum(axis=0)) > 1e-9 * (1 + back)):
                raise ConservationError(f"top-up fund {fund.name!r}: reimbursements != top-ups paid to {rp.names[m]!r}")
            if rebate_cal[m] is not None:
                # What the bond hands back to its payers is shared with the fund as it shared
                # the payments: the fund's top-ups so far over the member's payments so far.
                reb = rebate_cal[m]  # (T, N, C)
                reb_tot = reb.sum(axis=2)
                cum_gross = np.cumsum(total[m], axis=0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio = np.where(cum_gross > 0, np.cumsum(paid[m], axis=0) / np.where(cum_gross > 0, cum_gross, 1.0), 0.0)
                    split = np.where(reb_tot[:, :, None] > 0, reb / np.where(reb_tot > 0, reb_tot, 1.0)[:, :, None], 0.0)
                back_to_fund = reb_tot * ratio  # (T, N)
                for t in range(T):
                    net[lay.year_of[t]][:, qs] += back_to_fund[t][:, None] * split[t]
                    net[lay.year_of[t]][:, fi] -= back_to_fund[t]
                rebated[fi] += back_to_fund.sum(axis=0)
        to_fund = paid.sum(axis=0)
        for t in range(T):
            net[lay.year_of[t]][:, fi] += to_fund[t]
        claim_all += claims.sum(axis=1).T
        topup_all += paid.sum(axis=1).T
        out[f"pot_balance:{fi}"] = np.ascontiguousarray(balance.T)
        out[f"pot_exhausted:{fi}"] = exhausted
        out[f"pot_paid:{fi}"] = paid.sum(axis=(0, 1))
        out[f"pot_rebated:{fi}"] = rebated[fi]
        del claims, paid
    out["member_claim"] = claim_all
    out["member_topup"] = topup_all
    out["liability"] = np.ascontiguousarray(net.transpose(1, 0, 2))

    # Shared investors: the stakes' flows, the fund's fee, hurdle and carry.
    ppy = rp.spec.periods_per_year
    for fi, fund in enumerate(rp.spec.investors):
        calls_f, income_f = calls[fi], income[fi]
        # The fund charges its fee while it holds stakes: up to the last period in which a stake
        # was called or paid out on the path (and for at most fee_years).
        active = (calls_f > 0) | (income_f > 0)
        last = np.where(active.any(axis=0), T - 1 - np.argmax(active[::-1], axis=0), -1)
        fee = lay.fees[fi][:, None] * (np.arange(T)[:, None] <= last[None, :])
        if fund.fee_basis == "invested":  # on the capital out, not the commitments
            out_before = np.cumsum(calls_f, axis=0) - np.vstack([np.zeros((1, calls_f.shape[1])), np.cumsum(income_f, axis=0)[:-1]])
            fee = np.where(fee > 0, fund.management_fee / ppy * np.maximum(out_before, 0.0), 0.0)
        flows = fund_waterfall(calls_f, income_f, fee, fund.hurdle, fund.carry, ppy, fund.catch_up)
        check_fund(calls_f, income_f, fee, flows, fund.name)
        out[f"fund_calls:{fi}"] = calls_f.sum(axis=0)
        out[f"fund_income:{fi}"] = income_f.sum(axis=0)
        out[f"fund_fee:{fi}"] = fee.sum(axis=0)
        out[f"fund_carry:{fi}"] = flows["carry"].sum(axis=0)
        out[f"fund_lp_in:{fi}"] = flows["lp_in"].sum(axis=0)
        out[f"fund_lp_out:{fi}"] = flows["lp_out"].sum(axis=0)
        out[f"fund_irr:{fi}"] = irr_periods_first(flows["lp_out"] - flows["lp_in"], ppy)
        out[f"fund_gross_irr:{fi}"] = irr_periods_first(income_f - calls_f, ppy)
        out[f"fund_stake_in:{fi}"] = stake_in[fi]
        out[f"fund_stake_out:{fi}"] = stake_out[fi]
    return out


def simulate_portfolio(
    portfolio: Portfolio | ResolvedPortfolio | str,
    n_paths: int = 10_000,
    seed: Any = 1,
    chunk_size: int | None = None,
    workers: int = 1,
    executor: Any = None,
    address: str | None = None,
    mode: str = "approx",
    progress: Callable[[int, int], None] | bool | None = None,
    loading_scale: float = 1.0,
):
    """Monte Carlo over ``n_paths`` paths of every member of ``portfolio`` (a
    :class:`~cib_sim.portfolio.Portfolio`, a loaded one, or a file), returning
    :class:`~cib_sim.portfolio.PortfolioResults`.

    seed: the root of every stream (see :mod:`cib_sim.run.plan`); the same seed gives the same
      results whatever ``chunk_size`` (rounded up to whole blocks of 4,096 paths; default one
      block), ``workers`` or ``executor``.
    workers: processes (1: this process), unless ``executor`` is given: ``"serial"``,
      ``"processes"``, ``"dask"`` (a local cluster, or the scheduler at ``address``), a
      ``distributed.Client`` or a ``concurrent.futures.Executor``.
    mode: ``approx``, ``exact`` or ``expected`` counts, as :func:`cib_sim.simulate`.
    loading_scale: multiplies every correlation loading (0: independent members; used by
      :func:`diversification`).
    """
    rp = as_resolved(portfolio)
    n = check_plan(n_paths, seed, chunk_size, 0)
    workers = whole_number("workers", workers, 1)
    mode = count_mode("mode", mode)
    if not (isinstance(loading_scale, (int, float)) and 0 <= loading_scale <= 1) or isinstance(loading_scale, bool):
        from cib_sim.errors import bad

        raise bad("loading_scale", f"must be a number between 0 and 1 (got {loading_scale!r})")
    plan = RunPlan.make(n, seed, chunk_size or DEFAULT_CHUNK, 0)
    lay = make_layout(rp, mode, loading_scale)
    tasks = [(lay, c.seeds, c.sizes) for c in plan.chunks]
    if executor is None and workers > 1 and len(tasks) > 1:
        executor = "processes"
    tick, done = ticker(progress, len(tasks))
    with executor_map(executor, address, workers if executor is not None else None) as map_:
        parts = map_(run_portfolio_chunk, tasks, tick)
    done()
    arrays = {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}
    return PortfolioResults(lay, arrays, n, seed, mode)


__all__ = ["GROUPS", "FACTOR_STREAM", "MEMBER_STREAM", "Layout", "make_layout", "run_portfolio_chunk", "simulate_portfolio"]
