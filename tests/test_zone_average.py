"""The zone model's package average against brute-force enumeration of packages.

``DeliveryState._zone_average`` (compiled, path by path) visits only the packages that clip on
the path. These tests check it against the definition, path by path, and check that a path's
result does not depend on the other paths beside it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cib_sim.engine.delivery import DeliveryState


def brute_force(uplift: np.ndarray, r: np.ndarray, b: np.ndarray, gamma: float) -> np.ndarray:
    """(N, O): sum over packages S of P(S) clip(b + (1 + gamma (|S| - 1)) sum_{i in S} u_i).
    ``uplift`` (P, O, N), ``r`` (N, P)."""
    P, O, N = uplift.shape
    out = np.zeros((N, O))
    for S in itertools.product((0, 1), repeat=P):
        m = np.array(S, dtype=bool)
        chance = np.prod(np.where(m, r, 1.0 - r), axis=1)  # (N,)
        factor = 1.0 + gamma * max(m.sum() - 1, 0)
        total = uplift[m].sum(axis=0).T if m.any() else np.zeros((N, O))
        out += chance[:, None] * np.clip(b + factor * total, 0.0, 1.0)
    return out


class _Zone:
    """Just what ``_zone_average`` reads from a DeliveryState."""

    def __init__(self, b: np.ndarray, gamma: float):
        self.baseline = b

        class _S:
            class delivery:
                interaction = gamma

        self.s = _S()


def average(uplift: np.ndarray, r: np.ndarray, b: np.ndarray, gamma: float) -> np.ndarray:
    out = DeliveryState._zone_average(_Zone(b, gamma), np.ascontiguousarray(uplift), r)
    return out[:, 0, :]


@settings(max_examples=60, deadline=None)
@given(
    P=st.integers(1, 4), O=st.integers(1, 3), N=st.integers(1, 40), seed=st.integers(0, 2**32 - 1),
    gamma=st.floats(-1.0, 2.0), spread=st.floats(0.0, 1.5), exits=st.booleans(),
)
def test_package_average_is_the_enumerated_average(P, O, N, seed, gamma, spread, exits):
    rng = np.random.default_rng(seed)
    b = rng.uniform(0, 1, O)
    b[0] = rng.choice([0.0, 1.0, b[0]])  # baselines at the edges too
    uplift = rng.normal(0.1, spread, (P, O, N))
    reach = rng.uniform(0, 1, P)
    r = np.broadcast_to(reach, (N, P)).copy()
    if exits:  # a partner that has left serves nobody: chances differ by path
        r *= rng.random((N, P)) > 0.3
    np.testing.assert_allclose(average(uplift, r, b, gamma), brute_force(uplift, r, b, gamma), rtol=0, atol=1e-12)


@pytest.mark.parametrize("gamma", [0.15, -0.4])
def test_a_paths_average_does_not_depend_on_the_paths_beside_it(gamma):
    # The bounds that decide which packages are worked out are taken over all paths given: a
    # path that never clips, run beside paths that do, must come out bit for bit the same.
    rng = np.random.default_rng(7)
    b = np.array([0.7, 0.2, 0.0])
    calm = rng.normal(0.05, 0.02, (4, 3, 64))
    wild = rng.normal(0.4, 0.3, (4, 3, 64))
    r = np.full((128, 4), 0.5)
    both = average(np.concatenate([calm, wild], axis=2), r, b, gamma)
    alone = average(calm, r[:64], b, gamma)
    np.testing.assert_array_equal(both[:64], alone)
    # ... and the wild paths beside it do clip: their average is not the unclipped one.
    weight = 0.5 * (1.0 + gamma * 1.5)  # r_i (1 + gamma sum_{j != i} r_j) with r = 0.5, P = 4
    unclipped = b + weight * wild.sum(axis=0).T
    assert np.abs(both[64:] - unclipped).max() > 0.05
