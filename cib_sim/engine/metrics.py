"""Investor metrics over Monte Carlo paths: IRR, NPV, multiple of money, loss and tail statistics.

Every function here is pure and vectorised: arrays of shape ``(paths, periods)`` go in, one number
per path (shape ``(paths,)``) or one summary number comes out, with no Python loop over paths.
Loops run over periods, over grid points or over Newton iterations (and ``irr`` copies its input
transposed in blocks of 4096 paths, which is several times faster than one strided copy).

A path's result does not depend on the other paths computed with it: sums over periods are
elementwise additions in period order (no BLAS product, whose rounding depends on the shape of
the batch, and no numpy reduction down a leading axis, which numpy sums pairwise when the batch
is narrow), so per-path measures are bit-identical whatever the chunk size.

Conventions
-----------
- Money is float64, in the bond's currency.
- Cash flows are from the investor's point of view: negative = money put in (capital drawn),
  positive = money received. Period ``t`` (0-based) falls at ``t / periods_per_year`` years.
- ``paid_in`` / ``paid_out`` are non-negative amounts: capital drawn from the investor and cash
  returned to the investor, shape ``(paths, periods)`` or already totalled, ``(paths,)``.
- Rates are annual effective rates as fractions (0.1 = 10% a year) unless the name says otherwise.
- Undefined results are NaN, never an exception or a warning.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from cib_sim.engine.kernels import irr as irr_kernels

__all__ = [
    "LOSS_RTOL",
    "cvar",
    "irr",
    "loss_statistics",
    "multiple_of_money",
    "npv",
    "peak_capital_drawn",
    "probability",
    "quantiles",
    "standard_error_of_mean",
    "time_to_first_payment",
]

LOSS_RTOL = 1e-9
"""Relative tolerance on a loss: a path loses only if ``paid_out < paid_in * (1 - LOSS_RTOL)``."""

_IRR_MAXITER = 100
_IRR_WTOL = 1e-13  # relative tolerance on the per-period discount/growth factor w
# Grid for non-conventional flows that may have several roots on one side of r = 0, in
# g = |log(1 + r)| (fine near r = 0, 0.033 apart in the middle, out to r = -1 + 1e-13 or
# r = 1e13), as w = exp(-g) read downwards from w = 1 (r = 0) to w = 0 (r = -1 or r = inf).
_GRID_W = np.concatenate(
    [
        np.exp(-np.geomspace(1e-6, 0.05, 50)),
        np.exp(-np.linspace(0.05, 4.0, 120)[1:]),
        np.exp(-np.geomspace(4.0, 30.0, 30)[1:]),
        [0.0],
    ]
)


# --------------------------------------------------------------------------------------------
# IRR and NPV
# --------------------------------------------------------------------------------------------


def irr(cashflows: ArrayLike, periods_per_year: int = 1) -> np.ndarray:
    """Annual effective internal rate of return of each path's cash flows.

    Parameters
    ----------
    cashflows:
        ``(paths, periods)`` net cash flows to the investor, currency (negative = paid in,
        positive = received); period ``t`` falls at ``t / periods_per_year`` years. Any leading
        shape works: ``(..., periods)`` gives ``(...)``; a 1-D array is one path.
    periods_per_year:
        Periods in a year (1 annual, 4 quarterly, 12 monthly).

    Returns
    -------
    ``(paths,)`` float64: ``(1 + r) ** periods_per_year - 1`` where ``r`` is the per-period rate
    solving ``sum_t cashflows[t] / (1 + r) ** t == 0`` with ``r > -1``.

    Behaviour
    ---------
    - Conventional flows (money in, then money out: one sign change, zeros allowed anywhere) have
      exactly one IRR, and this returns it; it agrees with ``numpy_financial.irr`` (annualised
      the same way) to about 1e-12.
    - Total loss (some money paid in, nothing ever received): ``-1.0`` (-100%), the limit of the
      IRR as the amounts received go to zero. ``numpy_financial.irr`` returns NaN there.
    - NaN where no IRR exists: all zeros, money received but never paid in, a non-finite flow
      (NaN or inf), or non-conventional flows whose NPV is never zero (or whose roots the
      search below misses).
    - Non-conventional flows (several sign changes) may have several IRRs. Like
      ``numpy_financial.irr`` this returns the one closest to zero: on each side of ``r = 0``,
      Descartes' rule of signs bounds the number of roots; with at most one it is solved
      exactly, with more the bracket is the first sign change on a grid going out from
      ``r = 0`` (so two roots closer together than the grid, or a double root, can be missed);
      the nearer of the two sides' roots is kept.
    - Never warns: over/underflow is avoided by solving for a factor ``w`` in ``(0, 1]``
      (``w = 1 / (1 + r)`` for ``r > 0``, ``w = 1 + r`` for ``r < 0``) with the polynomial's
      zero coefficients shifted out.

    Method: safeguarded Newton (Newton inside a shrinking bracket, bisection when a Newton step
    leaves it or converges slowly), vectorised over paths, started from the rate that the
    multiple of money would give over the gap between the mean times of money in and out.
    """
    _check_periods_per_year(periods_per_year)
    v = np.asarray(cashflows, dtype=np.float64)
    if v.ndim == 0:
        raise ValueError("cashflows must have a periods axis: shape (paths, periods)")
    lead_shape = v.shape[:-1]
    v = v.reshape(math.prod(lead_shape), v.shape[-1])
    if v.shape[0] == 0 or v.shape[1] == 0:
        return np.full(lead_shape, np.nan)
    return _irr_rows_first(_transpose(v), periods_per_year).reshape(lead_shape)


def irr_periods_first(cashflows: ArrayLike, periods_per_year: int = 1) -> np.ndarray:
    """:func:`irr` of flows laid out period-first: ``cashflows`` (periods, paths) gives
    ``(paths,)``. Saves a transpose when the flows were recorded one period at a time."""
    _check_periods_per_year(periods_per_year)
    vt = np.ascontiguousarray(cashflows, dtype=np.float64)
    if vt.ndim != 2:
        raise ValueError("cashflows must have shape (periods, paths)")
    if vt.shape[0] == 0 or vt.shape[1] == 0:
        return np.full(vt.shape[1], np.nan)
    return _irr_rows_first(vt, periods_per_year)


def _irr_rows_first(vt: np.ndarray, periods_per_year: int) -> np.ndarray:
    """IRR per column of C-contiguous ``vt`` (periods, paths)."""
    out = np.full(vt.shape[1], np.nan)
    with np.errstate(all="ignore"):
        scan = _scan_periods(vt)
        finite = scan.finite
        has_in = scan.has_negative & finite  # investor paid something in
        has_out = scan.has_positive & finite  # investor received something
        out[has_in & ~has_out] = -1.0
        mixed = has_in & has_out
        if mixed.any():
            out[mixed] = _irr_mixed(vt, mixed, periods_per_year, scan)[mixed]
    return out


def npv(cashflows: ArrayLike, rate_per_year: ArrayLike, periods_per_year: int = 1) -> np.ndarray:
    """Net present value at time 0 of each path's cash flows.

    Parameters
    ----------
    cashflows:
        ``(paths, periods)`` net cash flows, currency; period ``t`` at ``t / periods_per_year``
        years.
    rate_per_year:
        Annual effective discount rate (0.035 = 3.5%): a scalar, or one per path ``(paths,)``.
        Must be greater than -1.
    periods_per_year:
        Periods in a year.

    Returns
    -------
    ``(paths,)`` currency: ``sum_t cashflows[t] * (1 + rate_per_year) ** (-t / periods_per_year)``.
    """
    _check_periods_per_year(periods_per_year)
    v = np.asarray(cashflows, dtype=np.float64)
    if v.ndim == 0:
        raise ValueError("cashflows must have a periods axis: shape (paths, periods)")
    rate = np.asarray(rate_per_year, dtype=np.float64)
    if np.any(rate <= -1.0):
        raise ValueError("rate_per_year must be greater than -1")
    years = np.arange(v.shape[-1], dtype=np.float64) / periods_per_year
    # Not ``v @ discount``: a BLAS product rounds a row differently depending on the batch.
    discount = np.power(1.0 + rate[..., None], -years)
    return np.sum(v * discount, axis=-1)


def _check_periods_per_year(periods_per_year: int) -> None:
    if int(periods_per_year) != periods_per_year or periods_per_year < 1:
        raise ValueError(f"periods_per_year must be a positive integer, got {periods_per_year!r}")


def _irr_mixed(vt: np.ndarray, mixed: np.ndarray, periods_per_year: int, scan: PeriodScan) -> np.ndarray:
    """Annual IRR ``(m,)`` of the columns of ``vt`` (T, m) where ``mixed`` (m,), which must have
    both negative and positive finite flows; other columns are left NaN (and not copied).
    ``vt`` is C-contiguous, so each coefficient of the polynomial is a contiguous row; ``scan``
    is its :func:`_scan_periods`."""
    n_periods, m = vt.shape
    # total: P(w = 1), the NPV at r = 0; summed period by period, not ``vt.sum(axis=0)``.
    first_idx, last_idx, changes, total = scan.first_idx, scan.last_idx, scan.changes, scan.total
    sum_t, abs_sum, abs_t = scan.sum_t, scan.abs_sum, scan.abs_t
    rows = np.arange(m)
    first = vt[first_idx, rows]  # P(w = 0) on the r > 0 side
    last = vt[last_idx, rows]  # P(w = 0) on the r < 0 side
    w0 = _initial_guess(first, total, sum_t, abs_sum, abs_t)

    growth = np.full(m, np.nan)  # log(1 + r) per period
    growth[total == 0.0] = 0.0
    # Conventional rows (one sign change): exactly one IRR, on the side of r = 0 where the NPV
    # changes sign between r = 0 and the end of the range.
    solvable = mixed & (total != 0.0)
    conventional = solvable & (changes == 1)
    for positive, end in ((True, first), (False, last)):
        sel = np.flatnonzero(conventional & (end * total < 0.0))
        if sel.size:
            growth[sel] = _side_roots(
                vt, sel, first_idx, last_idx, positive, w0[sel], total[sel], exact=True
            )
    # Non-conventional rows: the root nearest r = 0 on each side, then the nearer of the two.
    other = np.flatnonzero(solvable & (changes >= 2))
    if other.size:
        g_pos, g_neg = (
            _side_roots(vt, other, first_idx, last_idx, positive, w0[other], total[other], False)
            for positive in (True, False)
        )
        take_neg = np.isnan(g_pos) | (np.abs(np.expm1(g_neg)) < np.abs(np.expm1(g_pos)))
        growth[other] = np.where(take_neg, g_neg, g_pos)
    return np.expm1(periods_per_year * growth)


def _transpose(v: np.ndarray, block: int = 4096) -> np.ndarray:
    """C-contiguous ``v.T``, copied in blocks of rows (several times faster than one copy)."""
    out = np.empty(v.shape[::-1])
    for start in range(0, v.shape[0], block):
        out[:, start : start + block] = v[start : start + block].T
    return out


def _initial_guess(
    first: np.ndarray, total: np.ndarray, sum_t: np.ndarray, abs_sum: np.ndarray, abs_t: np.ndarray
) -> np.ndarray:
    """Starting ``w`` in ``(0, 1)`` per path: the growth rate that turns the money in into the
    money out over the gap between their amount-weighted mean times (exact for one flow in and
    one flow out), as a factor ``exp(-|log(1 + r)|)``; 0.5 where that is undefined.

    ``first``, ``total``, ``sum_t``: first nonzero flow, sum of flows and of ``t * flow``;
    ``abs_sum``, ``abs_t``: sums of ``|flow|`` and ``t * |flow|``; all ``(m,)``.
    """
    s = -np.sign(first)  # flips "borrowing" paths so that the first flow counts as money in
    signed_sum, signed_t = s * total, s * sum_t
    money_out, money_in = (abs_sum + signed_sum) / 2, (abs_sum - signed_sum) / 2
    gap = (abs_t + signed_t) / (2 * money_out) - (abs_t - signed_t) / (2 * money_in)
    g0 = np.abs(np.log(money_out / money_in) / gap)
    w0 = np.where(np.isfinite(g0) & (gap > 0), np.exp(-g0), 0.5)
    return np.clip(w0, 1e-6, 1.0 - 1e-12)


def _sign_changes(rows_first: np.ndarray) -> np.ndarray:
    """Sign changes, zeros skipped, down axis 0 of ``rows_first`` (K, m): ``(m,)`` ints."""
    return _scan_periods(rows_first).changes


class PeriodScan(NamedTuple):
    """What one pass down the periods of flows ``vt`` (T, m) finds, per column (m,): the first
    and last periods with a nonzero flow (0 and T - 1 where none), sign changes (zeros skipped),
    ``sum v``, ``sum t v``, ``sum |v|`` and ``sum t |v|`` (added in period order, so a column's
    result does not depend on the other columns), and whether any flow is negative, any positive,
    and all are finite."""

    first_idx: np.ndarray
    last_idx: np.ndarray
    changes: np.ndarray
    total: np.ndarray
    sum_t: np.ndarray
    abs_sum: np.ndarray
    abs_t: np.ndarray
    has_negative: np.ndarray
    has_positive: np.ndarray
    finite: np.ndarray


def _scan_periods(vt: np.ndarray) -> PeriodScan:
    """:class:`PeriodScan` of ``vt`` (T, m) (compiled: :func:`cib_sim.engine.kernels.irr.scan_periods`)."""
    m = vt.shape[1]
    ints = [np.empty(m, dtype=np.int64) for _ in range(3)]
    sums = [np.empty(m) for _ in range(4)]
    flags = [np.empty(m, dtype=bool) for _ in range(3)]
    irr_kernels.scan_periods.for_paths(m)(np.ascontiguousarray(vt, dtype=np.float64), *ints, *sums, *flags)
    return PeriodScan(*ints, *sums, *flags)


def _side_coefficients(
    vt: np.ndarray, rows: np.ndarray, first_idx: np.ndarray, last_idx: np.ndarray, positive: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Polynomial coefficients on one side of r = 0, zero coefficients at w = 0 shifted out.

    For ``r > 0`` (``positive``) the variable is ``w = 1 / (1 + r)`` and coefficient ``k`` is
    ``v[first + k]``; for ``r < 0`` it is ``w = 1 + r`` and coefficient ``k`` is ``v[last - k]``.
    Either way ``P(w)`` is the NPV times a positive factor, ``P(1)`` is the NPV at ``r = 0`` and
    ``P(0)`` is the (nonzero) first or last flow; every term is bounded for ``w`` in ``[0, 1]``.
    ``vt`` is the flows transposed, ``(periods, paths)`` C-contiguous, so gathers are fast.

    Returns ``(coefficients (K, len(rows)) with coefficient k in row k, order)``: columns follow
    ``rows[order]``, grouped by shift so each group is one contiguous copy.
    """
    n_periods, n_rows = vt.shape
    shift = first_idx[rows] if positive else last_idx[rows]
    order = np.argsort(shift.astype(np.int16 if n_periods < 2**15 else np.int64), kind="stable")
    sorted_rows, sorted_shift = rows[order], shift[order]
    bounds = np.flatnonzero(np.diff(sorted_shift)) + 1
    starts = np.concatenate([[0], bounds])
    stops = np.concatenate([bounds, [rows.size]])
    width = int(n_periods - sorted_shift.min()) if positive else int(sorted_shift.max() + 1)
    coef = np.zeros((width, rows.size))
    for lo, hi in zip(starts, stops):
        u = int(sorted_shift[lo])
        block_rows = sorted_rows[lo:hi]
        periods = range(u, n_periods) if positive else range(u, -1, -1)
        for k, period in enumerate(periods):  # row by row: fast, contiguous copies
            if block_rows.size == n_rows:
                coef[k, lo:hi] = vt[period]
            else:  # mode="clip": the indices are valid, and "raise" would buffer the copy
                np.take(vt[period], block_rows, out=coef[k, lo:hi], mode="clip")
    return coef, order


def _side_roots(
    vt: np.ndarray,
    rows: np.ndarray,
    first_idx: np.ndarray,
    last_idx: np.ndarray,
    positive: bool,
    w0: np.ndarray,
    total: np.ndarray,
    exact: bool,
) -> np.ndarray:
    """Per-period log growth ``log(1 + r)`` of an IRR on one side of ``r = 0`` for ``rows``.

    ``exact``: the caller knows each row has exactly one root on this side (conventional flows),
    so it is solved in the bracket ``w in [0, 1]``. Otherwise Descartes' rule on ``(0, 1)`` counts
    the possible roots: none gives NaN, one is solved in ``[0, 1]``, more are bracketed by the
    first sign change on a grid going out from ``r = 0`` (NaN if the grid finds none).
    ``w0``, ``total``: ``(len(rows),)`` starting points and NPVs at ``r = 0`` (nonzero).
    """
    coef, order = _side_coefficients(vt, rows, first_idx, last_idx, positive)
    w0, total = w0[order], total[order]
    atol = 0.0 if positive else _IRR_WTOL  # r < 0: an error of 1e-13 in w = 1 + r is 1e-13 in r
    if exact:
        w = _rtsafe(coef, np.zeros(rows.size), np.ones(rows.size), w0, atol)
    else:
        w = np.full(rows.size, np.nan)
        n_roots = _descartes_bound(coef)
        one = (n_roots == 1) & (coef[0] * total < 0.0)
        sel = np.flatnonzero(one)
        if sel.size:
            w[sel] = _rtsafe(coef[:, sel], np.zeros(sel.size), np.ones(sel.size), w0[sel], atol)
        sel = np.flatnonzero((n_roots >= 2) | ((n_roots == 1) & ~one))
        if sel.size:
            sub = coef[:, sel]
            lo, hi = _grid_bracket(sub, np.sign(total[sel]))
            found = np.flatnonzero(~np.isnan(lo))
            if found.size:
                lo, hi = lo[found], hi[found]
                w[sel[found]] = _rtsafe(sub[:, found], lo, hi, 0.5 * (lo + hi), atol)
    growth = np.empty(rows.size)
    growth[order] = -np.log(w) if positive else np.log(w)
    return growth


def _descartes_bound(coef: np.ndarray) -> np.ndarray:
    """Upper bound (Descartes' rule of signs) on the roots of ``P`` in ``(0, 1)``, per column.

    ``w = 1 / (1 + y)`` maps ``(0, 1)`` onto ``y > 0``, and ``(1 + y)**d P(1 / (1 + y))``, ``d``
    the column's own degree, has coefficients ``sum_k coef[k] * comb(d - k, j)``; their sign
    changes bound the root count (rounding can miscount only where one of those is within
    rounding error of zero). ``coef``: (K, m); returns ``(m,)``.

    A column's result depends on that column alone: the batch pads shorter polynomials with zero
    coefficients up to ``K``, and a higher power of ``(1 + y)`` can count fewer sign changes, so
    each column is taken at its own degree (degree 1000 or more: binomial coefficients would
    overflow; several roots are assumed); its sums are added in order (compiled, column by
    column: :func:`cib_sim.engine.kernels.irr.descartes_bound`).
    """
    k, m = coef.shape
    nonzero = coef != 0.0
    top = int(k - 1 - np.argmax(nonzero[::-1].any(axis=1))) if nonzero.any() else k - 1
    return irr_kernels.descartes_bound.for_paths(m)(coef, _descartes_matrix(min(top, 999) + 1))


@functools.lru_cache(maxsize=64)
def _descartes_matrix(k: int) -> np.ndarray:
    """(k, k) ``comb(k - 1 - i, j)`` at row j, column i (see :func:`_descartes_bound`)."""
    m = np.array([[math.comb(k - 1 - i, j) for i in range(k)] for j in range(k)], float)
    m.flags.writeable = False
    return m


def _grid_bracket(coef: np.ndarray, sign_at_one: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First interval ``[lo, hi]`` of the grid ``_GRID_W`` (going down from ``w = 1``, that is
    out from ``r = 0``) over which ``P`` changes sign from ``sign_at_one``; NaN where none."""
    return irr_kernels.grid_bracket.for_paths(coef.shape[1])(coef, np.ascontiguousarray(sign_at_one, dtype=np.float64), _GRID_W)


def _rtsafe(coef: np.ndarray, lo: np.ndarray, hi: np.ndarray, w: np.ndarray, atol: float = 0.0) -> np.ndarray:
    """Root of ``P`` in ``[lo, hi]`` by Newton kept inside a shrinking bracket (bisection when a
    step leaves it or does not halve the error, as in Numerical Recipes), column by column
    (compiled: :func:`cib_sim.engine.kernels.irr.rtsafe`). ``P(hi) != 0``.

    Converged when the step or the bracket is within ``_IRR_WTOL`` of ``w`` relatively, or the
    bracket within ``atol``: for ``r < 0`` (``w = 1 + r``) a root near 0 is a near-total loss
    that bisection would otherwise chase towards 0 for the full ``_IRR_MAXITER`` steps; after
    ``_IRR_MAXITER`` steps, the best estimate."""
    as_f = [np.ascontiguousarray(np.broadcast_to(x, w.shape), dtype=np.float64) for x in (lo, hi, w)]
    return irr_kernels.rtsafe.for_paths(w.size)(coef, *as_f, float(atol), _IRR_WTOL, _IRR_MAXITER)


# --------------------------------------------------------------------------------------------
# Money multiples and losses
# --------------------------------------------------------------------------------------------


def _totals(amounts: ArrayLike) -> np.ndarray:
    """``(paths,)`` totals of ``(paths, periods)`` amounts, or ``(paths,)`` amounts unchanged."""
    a = np.asarray(amounts, dtype=np.float64)
    return a.sum(axis=-1) if a.ndim >= 2 else a


def multiple_of_money(paid_in: ArrayLike, paid_out: ArrayLike) -> np.ndarray:
    """Multiple of money: total cash returned / total capital paid in, per path.

    Parameters
    ----------
    paid_in:
        ``(paths, periods)`` or ``(paths,)`` non-negative capital drawn from the investor,
        currency.
    paid_out:
        Same shape: non-negative cash returned to the investor, currency.

    Returns
    -------
    ``(paths,)`` dimensionless (1.0 = money back, 0.0 = total loss); NaN where nothing was paid
    in.
    """
    total_in, total_out = _totals(paid_in), _totals(paid_out)
    with np.errstate(all="ignore"):
        return np.where(total_in > 0.0, total_out / total_in, np.nan)


def loss_statistics(paid_in: ArrayLike, paid_out: ArrayLike) -> dict[str, float]:
    """Loss and tail statistics of the investor's money across paths.

    Parameters
    ----------
    paid_in, paid_out:
        ``(paths, periods)`` or ``(paths,)`` non-negative amounts, currency: capital drawn from
        the investor and cash returned to the investor.

    Returns
    -------
    All computed over the paths where something was paid in (paths with nothing paid in carry
    no capital at risk and are left out; all NaN if there are none):

    - ``prob_loss``: share of paths with ``out < in * (1 - LOSS_RTOL)``, so an exact repayment
      (up to rounding) is not a loss.
    - ``expected_loss``: mean of ``max(0, in - out)``, currency.
    - ``expected_loss_ratio``: ``expected_loss / mean(in)``: the expected loss as a share of the
      expected capital paid in (equal to the mean per-path loss share when ``in`` is the same on
      every path).
    - ``cvar_5``: expected shortfall of the net result ``out - in``: the mean of the worst 5% of
      paths (``ceil(0.05 * paths)`` of them, see :func:`cvar`), currency; negative when those
      paths lose money.
    - ``cvar_5_multiple``: the same on the multiple of money ``out / in``.
    """
    total_in, total_out = _totals(paid_in), _totals(paid_out)
    valid = total_in > 0.0
    keys = ("prob_loss", "expected_loss", "expected_loss_ratio", "cvar_5", "cvar_5_multiple")
    if not valid.any():
        return dict.fromkeys(keys, math.nan)
    if not valid.all():
        total_in, total_out = total_in[valid], total_out[valid]
    # One temporary (paths,) array at a time: with tens of millions of paths each is large.
    net = total_out - total_in  # minus the shortfall
    prob_loss = float(np.mean(net < -(LOSS_RTOL * total_in)))
    loss = np.negative(net)
    np.maximum(loss, 0.0, out=loss)
    expected_loss = float(np.mean(loss))
    del loss
    cvar_5 = cvar(net, 0.05)
    del net
    return {
        "prob_loss": prob_loss,
        "expected_loss": expected_loss,
        "expected_loss_ratio": expected_loss / float(np.mean(total_in)),
        "cvar_5": cvar_5,
        "cvar_5_multiple": cvar(total_out / total_in, 0.05),
    }


# --------------------------------------------------------------------------------------------
# Tails, timing and summaries
# --------------------------------------------------------------------------------------------


def cvar(values: ArrayLike, alpha: float = 0.05) -> float:
    """Lower-tail conditional value at risk (expected shortfall) of ``values``.

    Parameters
    ----------
    values:
        ``(paths,)`` outcomes where lower is worse (net result in currency, multiple, IRR, ...).
        NaN values are ignored.
    alpha:
        Tail fraction in ``(0, 1]``.

    Returns
    -------
    The mean of the ``k = ceil(alpha * n)`` lowest values, ``n`` the number of non-NaN values
    (a product like ``0.05 * 100`` is rounded first, so it gives 5, not 6). Same unit as
    ``values``; NaN if there are none.
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    n = x.size
    if n == 0:
        return math.nan
    k = max(1, math.ceil(round(alpha * n, 9)))
    if k < n:
        x.partition(k - 1)  # in place: x is already a copy (NaN taken out)
        x = x[:k]
    return float(np.mean(x))


def time_to_first_payment(paid_out: ArrayLike, periods_per_year: int = 1, axis: int = -1) -> np.ndarray:
    """Years until the investor first receives money.

    Parameters
    ----------
    paid_out:
        ``(paths, periods)`` non-negative cash returned to the investor, currency.
    periods_per_year:
        Periods in a year.

    Returns
    -------
    ``(paths,)`` years: ``t / periods_per_year`` for the first period ``t`` with a strictly
    positive amount; NaN if nothing is ever paid. ``axis``: the periods axis (0 for flows laid
    out ``(periods, paths)``).
    """
    _check_periods_per_year(periods_per_year)
    a = np.asarray(paid_out, dtype=np.float64)
    paid = a > 0.0
    first = np.argmax(paid, axis=axis).astype(np.float64)
    return np.where(paid.any(axis=axis), first / periods_per_year, np.nan)


def peak_capital_drawn(paid_in: ArrayLike, paid_out: ArrayLike, axis: int = -1) -> np.ndarray:
    """Peak capital at risk: the largest net amount the investor has in at any time.

    Parameters
    ----------
    paid_in, paid_out:
        ``(paths, periods)`` non-negative amounts, currency: capital drawn from and cash
        returned to the investor in each period.

    Returns
    -------
    ``(paths,)`` currency: ``max_t (cumsum(paid_in) - cumsum(paid_out))[t]``, at least 0.
    ``axis``: the periods axis (0 for flows laid out ``(periods, paths)``).
    """
    net = np.asarray(paid_in, dtype=np.float64) - np.asarray(paid_out, dtype=np.float64)
    if net.ndim < 2:
        raise ValueError("paid_in and paid_out must have shape (paths, periods)")
    if net.shape[axis] == 0:
        return np.zeros(np.delete(net.shape, axis))
    if axis == 0 and net.ndim == 2:  # period by period: numpy accumulates a leading axis slowly
        running, peak = np.zeros(net.shape[1]), np.zeros(net.shape[1])
        for row in net:
            running += row
            np.maximum(peak, running, out=peak)
        return peak
    return np.maximum(np.max(np.cumsum(net, axis=axis), axis=axis), 0.0)


def quantiles(values: ArrayLike, qs: Sequence[float] = (0.05, 0.5, 0.95)) -> np.ndarray:
    """Quantiles of ``values`` ignoring NaN (linear interpolation, numpy's default).

    Parameters
    ----------
    values:
        ``(paths,)`` (or ``(paths, ...)``: quantiles over the paths axis).
    qs:
        Probabilities in ``[0, 1]``.

    Returns
    -------
    ``(len(qs),)`` (or ``(len(qs), ...)``) in the unit of ``values``; NaN where every value is NaN.
    """
    x = np.asarray(values, dtype=np.float64)
    q = np.asarray(qs, dtype=np.float64)
    if x.shape[0] == 0:
        return np.full(q.shape + x.shape[1:], np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice encountered"
        return np.nanquantile(x, q, axis=0)


def probability(mask: ArrayLike) -> float:
    """Share of paths where ``mask`` (``(paths,)`` bool) is true; NaN for no paths."""
    m = np.asarray(mask, dtype=bool)
    return float(np.mean(m)) if m.size else math.nan


def standard_error_of_mean(values: ArrayLike) -> float:
    """Monte Carlo standard error of the mean of ``values`` (``(paths,)``), ignoring NaN.

    ``std(ddof=1) / sqrt(n)`` over the ``n`` non-NaN values, in the unit of ``values``; NaN when
    ``n < 2``.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    if x.size < 2:
        return math.nan
    return float(np.std(x, ddof=1) / math.sqrt(x.size))
