"""The flow registry and the engine's conservation check built on it."""

from __future__ import annotations

import numpy as np
import pytest
from scenario_builders import make_scenario, run

from cib_sim.engine import flows as F
from cib_sim.engine.conservation import ConservationCheck, ConservationError
from cib_sim.engine.reduce import ChunkReducer, FlowHistory, flow_shapes


def test_every_recorded_flow_is_registered_and_shaped():
    s = make_scenario(tranches=[{"name": "S", "commitment": 1e5},
                                {"name": "G", "kind": "guarantee", "commitment": 1e3, "covers": "S"}])
    f = run(s, n_paths=3)
    shapes = flow_shapes(s)
    for name in F.PERIOD_FLOWS:
        assert f[name].shape == (3, s.horizon.n_periods) + shapes[name], name
    # Money moves between named parties, in or out of the contract.
    assert set(F.MONEY_IN) == {"drawn", "commissioner_paid", "guarantee_call"}
    assert set(F.TO_INVESTORS) == {"coupon", "capital", "upside", "guarantee_received"}
    for name in F.MONEY_IN + F.MONEY_OUT:
        assert F.FLOWS[name].unit == "currency"


@pytest.mark.parametrize("sink", ["history", "reducer"])
def test_an_unknown_flow_name_raises(sink):
    s = make_scenario()
    target = FlowHistory(s, 2) if sink == "history" else ChunkReducer(s, 2)
    with pytest.raises(F.UnknownFlowError, match="coupn"):
        target.record(0, {"coupn": np.zeros((2, 1))})


def test_the_registry_balances_the_recorded_flows():
    """Money in less money out, as the registry names them, moves the fund's cash on every path."""
    s = make_scenario(uncertainty={"enabled": True}, **{"partners[0].effect": {"job": {"mean": 0.3, "sd": 0.2}}})
    f = run(s, n_paths=50, seed=2)
    N, T = f["cash"].shape
    tot = lambda names: sum(f[n].reshape(N, T, -1).sum(axis=2) for n in names)  # noqa: E731
    np.testing.assert_allclose(np.cumsum(tot(F.MONEY_IN) - tot(F.MONEY_OUT), axis=1), f["cash"], atol=1e-6)
    np.testing.assert_allclose(np.cumsum(tot(F.INTO_FUND) - tot(F.OUT_OF_FUND), axis=1), f["cash"], atol=1e-6)


def test_conservation_error_is_its_own_type():
    assert not issubclass(ConservationError, AssertionError)  # not stripped by python -O


def test_a_leak_on_a_small_path_is_caught_whatever_the_other_paths():
    # Path 0 moves billions; path 1 moves 100 and leaks 1. A tolerance scaled by all paths (or by
    # commitments) would let path 1's leak through; scaled by path 1's own flows it does not.
    c = ConservationCheck(2, n_tranches=1)
    c.period(np.array([0.0, 99.0]), {"drawn": np.array([[1e10], [100.0]]), "capital": np.array([[1e10], [0.0]])})
    c.period(np.array([0.0, 0.0]), {"capital": np.array([[0.0], [100.0]])})  # path 1 pays 100 from 99
    with pytest.raises(ConservationError, match="path 1"):
        c.finish()


def test_money_to_the_wrong_tranche_is_caught():
    # Balanced in total: 100 drawn from tranche 0, 100 repaid to tranche 1 that put nothing in.
    c = ConservationCheck(1, n_tranches=2)
    c.period(np.array([100.0]), {"drawn": np.array([[100.0, 0.0]])})
    c.period(np.array([0.0]), {"capital": np.array([[0.0, 100.0]])})
    assert c.finish() <= 1.0  # the fund's books balance
    with pytest.raises(ConservationError, match="more capital than it put in"):
        c.tranches(np.array([100.0, 100.0]), np.zeros((1, 2)), np.zeros((1, 0)), np.zeros(0))


def test_payer_books_balance_and_fail_when_dues_vanish():
    c = ConservationCheck(1, n_payers=1)
    c.period(np.array([0.0]), {"commissioner_paid": np.array([[50.0]]), "partner_contingent": np.array([[50.0]])})
    c.payers(booked=np.array([[50.0]]), settled=np.array([[50.0]]), total_cap=np.array([np.inf]))
    with pytest.raises(ConservationError, match="dues are not all accounted for"):
        c.payers(booked=np.array([[80.0]]), settled=np.array([[50.0]]), total_cap=np.array([np.inf]))
    with pytest.raises(ConservationError, match="beyond its total cap"):
        c.payers(booked=np.array([[50.0]]), settled=np.array([[50.0]]), total_cap=np.array([40.0]))
