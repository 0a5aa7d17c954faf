"""The funds' own rules, path by path on the portfolio's calendar: a top-up fund's pot
(:func:`pot_fill`) and an investor fund's fee, hurdle and carry (:func:`fund_waterfall`), and
their conservation checks. Pure arithmetic on arrays: vectorised over paths, looped over periods
(and members, in order), so every path's numbers are its own whatever the paths beside it.
"""

from __future__ import annotations

import numpy as np

from cib_sim.engine.conservation import ConservationError

TOL = 1e-9
"""Relative tolerance of the conservation checks (scaled by each path's gross flows plus 1)."""


def pot_fill(claims: np.ndarray, pot: float, rule: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pay ``claims`` (M members, T periods, N paths) from a pot of ``pot``.

    ``stop``: in period order, members in order within a period, each claim is paid in full while
    the pot holds enough; the first claim it cannot pay in full closes the fund (that claim and
    every later one get nothing; what is left stays in the pot). ``pro_rata``: each period's
    claims are paid in full while the pot holds enough; in the period they exceed it, every claim
    of the period gets the same fraction (the pot is emptied), and none is paid after.

    Returns ``(paid (M, T, N), balance (T, N) at each period's end, exhausted (N,))``: the
    period in which a claim first went (partly) unpaid, T if never.
    """
    M, T, N = claims.shape
    paid = np.zeros_like(claims)
    balance = np.zeros((T, N))
    bal = np.full(N, float(pot))
    open_ = np.ones(N, dtype=bool)
    exhausted = np.full(N, T, dtype=np.int64)
    slack = TOL * max(1.0, float(pot))
    for t in range(T):
        if rule == "stop":
            for m in range(M):
                c = claims[m, t]
                ok = open_ & (c <= bal + slack)
                pay = np.where(ok, np.minimum(c, bal), 0.0)
                bal = bal - pay
                paid[m, t] = pay
                newly = open_ & ~ok
                exhausted[newly] = t
                open_ &= ok
        elif rule == "pro_rata":
            c = claims[:, t]
            total = c.sum(axis=0)
            full = open_ & (total <= bal + slack)
            short = open_ & ~full
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(full, 1.0, np.where(short & (total > 0), bal / np.where(total > 0, total, 1.0), 0.0))
            pay = c * ratio
            paid[:, t] = pay
            bal = np.where(full, np.maximum(bal - total, 0.0), np.where(short, 0.0, bal))
            exhausted[short] = t
            open_ &= full
        else:
            raise ValueError(f"when_exhausted: must be stop or pro_rata (got {rule!r})")
        balance[t] = bal
    return paid, balance, exhausted


def check_pot(claims: np.ndarray, paid: np.ndarray, balance: np.ndarray, pot: float, name: str) -> None:
    """Per path: pot = paid + left, nothing paid above its claim or below zero, never overdrawn."""
    total = paid.sum(axis=(0, 1))
    left = balance[-1] if balance.shape[0] else np.full(total.shape, float(pot))
    scale = TOL * (abs(pot) + total + 1.0)
    _raise_if(np.abs(pot - total - left) > scale, f"top-up fund {name!r}: pot != top-ups paid + pot left")
    _raise_if((paid > claims + scale).any(axis=(0, 1)) | (paid < 0).any(axis=(0, 1)), f"top-up fund {name!r}: a top-up above its claim")
    _raise_if((balance < -scale).any(axis=0), f"top-up fund {name!r}: pot overdrawn")


def fund_waterfall(
    calls: np.ndarray, income: np.ndarray, fee: np.ndarray, hurdle: float, carry: float, periods_per_year: int,
    catch_up: float = 0.0,
) -> dict[str, np.ndarray]:
    """An investor fund's flows, (T, N) each, from its stakes' capital ``calls`` and ``income``
    and the management ``fee`` due each period (all >= 0).

    The fund's investors pay ``calls + fee``. Income goes to them while they are short of their
    contributions compounded at ``hurdle`` a year (per period, ``(1 + hurdle) ** (1 / ppy) - 1``);
    then, with a ``catch_up`` (a share above ``carry``; 0: none), that share of income goes to
    the manager until it has ``carry`` of all the profit distributed (the investors' gain over
    their contributions plus the manager's carry); of income beyond that, ``carry`` goes to the
    manager and the rest to the investors.

    Returns ``lp_in`` (investors' contributions), ``lp_out`` (investors' distributions),
    ``carry`` (to the manager), each (T, N).
    """
    T, N = calls.shape
    r = (1.0 + hurdle) ** (1.0 / periods_per_year) - 1.0
    owed = np.zeros(N)  # contributions plus the hurdle's return not yet distributed
    lp_in = calls + fee
    lp_out = np.zeros((T, N))
    to_manager = np.zeros((T, N))
    paid_in = np.zeros(N)
    got = np.zeros(N)  # investors' distributions so far
    kept = np.zeros(N)  # manager's carry so far
    for t in range(T):
        owed = owed * (1.0 + r) + lp_in[t]
        paid_in += lp_in[t]
        first = np.minimum(income[t], owed)
        owed = owed - first
        above = income[t] - first
        c = np.zeros(N)
        if catch_up > 0:
            # Income needed for the manager to reach carry x (its carry + the investors' gain).
            gain = got + first - paid_in
            need = np.maximum(0.0, (carry * gain - (1.0 - carry) * kept) / (catch_up - carry))
            y = np.minimum(above, need)
            c = catch_up * y
            above = above - y
            first = first + (y - c)
        c = c + carry * above
        to_manager[t] = c
        lp_out[t] = first + (above - carry * above)
        got += lp_out[t]
        kept += c
    return {"lp_in": lp_in, "lp_out": lp_out, "carry": to_manager}


def check_fund(calls: np.ndarray, income: np.ndarray, fee: np.ndarray, flows: dict[str, np.ndarray], name: str) -> None:
    """Per path and period: investors' money in = calls + fees; the stakes' income = investors'
    distributions + carry (the fund keeps nothing); nothing negative."""
    scale = TOL * (np.abs(calls).sum(axis=0) + np.abs(income).sum(axis=0) + fee.sum(axis=0) + 1.0)
    _raise_if((np.abs(flows["lp_in"] - calls - fee) > scale).any(axis=0), f"investor fund {name!r}: investors' money in != calls + fees")
    _raise_if((np.abs(income - flows["lp_out"] - flows["carry"]) > scale).any(axis=0),
              f"investor fund {name!r}: stakes' income != distributions + carry")
    _raise_if(((flows["lp_out"] < -scale) | (flows["carry"] < -scale)).any(axis=0), f"investor fund {name!r}: a negative distribution")


def _raise_if(bad: np.ndarray, what: str) -> None:
    bad = np.asarray(bad)
    if bad.any():
        path = int(np.flatnonzero(bad)[0])
        raise ConservationError(f"{what} (path {path} of the chunk)")
