"""Per-path measures are bit-identical whatever the chunk size, on random scenarios.

A path's numbers must not depend on the paths computed beside it. BLAS products (and numpy's
pairwise reductions down a narrow leading axis) round a row differently depending on the shape of
the batch, so an IRR whose NPV at r = 0 is within rounding of zero came out -0.0 in one chunking
and NaN in another. The IRR is checked directly on random cash flows split into random batches,
and the whole engine on random scenarios run with random chunk sizes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_builders import make_scenario

from cib_sim import simulate
from cib_sim.engine import metrics
from cib_sim.run.plan import BLOCK


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal values, NaN where NaN, and the same sign of zero."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind != "f":
        return np.array_equal(a, b)
    return np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(
        np.nan_to_num(a, nan=0.0), np.nan_to_num(b, nan=0.0)
    ) and np.array_equal(np.signbit(a), np.signbit(b))


# --- the IRR on its own ----------------------------------------------------------------------


@st.composite
def cash_flows(draw):
    """(paths, periods) flows in tenths of a currency unit, many rows with an NPV at r = 0 that
    cancels to within rounding (where a miscounted root or a different start changes the IRR),
    and rows starting and ending at different periods (so a batch pads its polynomials)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n, t = draw(st.integers(20, 150)), draw(st.integers(2, 40))
    v = np.round(rng.normal(size=(n, t)) * 100, 1) * (rng.random((n, t)) < draw(st.floats(0.1, 0.9)))
    v[:, 0] = -np.abs(v[:, 0]) - 10
    cancel = rng.random(n) < 0.5
    v[cancel, -1] -= v[cancel].sum(axis=1)
    scale = 10.0 ** rng.integers(-14, 3, n)  # down to rounding noise, as a repaid tranche leaves
    v = v * scale[:, None]
    for row in np.flatnonzero(rng.random(n) < 0.5):  # later starts, earlier ends
        a, b = sorted(rng.integers(0, t, 2))
        v[row] = np.roll(v[row], a)
        v[row, :a] = 0.0
        v[row, b + 1 :] = 0.0 if b > a else v[row, b + 1 :]
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=6)))
    return v, draw(st.sampled_from([1, 4, 12])), cuts


@settings(max_examples=15, deadline=None)
@given(case=cash_flows())
def test_irr_of_a_path_does_not_depend_on_its_batch(case):
    v, ppy, cuts = case
    whole = metrics.irr(v, ppy)
    parts = np.concatenate([metrics.irr(part, ppy) for part in np.split(v, cuts)])
    assert same_bits(whole, parts)
    one = np.array([metrics.irr(row, ppy) for row in v])
    assert same_bits(whole, one)


def test_irr_of_rounding_residue_does_not_depend_on_a_longer_path_beside_it():
    """A senior tranche repaid in full leaves flows of rounding residue (multiples of 2**-41,
    here from a run of 36 monthly periods); its IRR is noise, but the same noise in any batch.
    Beside a path starting a period earlier its polynomial was padded with a zero coefficient,
    and Descartes' bound on the padded polynomial counted 1 root where it had counted 3."""
    residue = np.zeros(36)
    residue[[1, 2, 7, 8, 9, 10, 11, 13, 14, 15, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32]] = np.array([
        1, -1, -4, -6, -4, 8, -12, 16, 8, 10, -16, 10, -6, 26, 4, 4, -22, -18, -32, 19, 11, 7, -24.5, -24, -18.75,
    ]) * 2.0**-41
    earlier = np.zeros(36)
    earlier[:4] = [-100, 50, -20, 90]
    alone = metrics.irr(residue, 12)
    assert same_bits(metrics.irr(np.stack([earlier, residue]), 12)[1], alone)
    assert same_bits(metrics.irr(np.stack([residue, earlier]), 12)[0], alone)


def test_npv_of_a_path_does_not_depend_on_its_batch():
    rng = np.random.default_rng(3)
    v = rng.normal(size=(999, 37)) * 1e5
    whole = metrics.npv(v, 0.035, 4)
    assert same_bits(whole, np.concatenate([metrics.npv(p, 0.035, 4) for p in np.split(v, [1, 2, 5, 300])]))


# --- the engine on random scenarios ----------------------------------------------------------


@st.composite
def scenarios(draw):
    """Random investor-facing scenarios: coupons, caps and recycling make flows non-conventional."""
    period = draw(st.sampled_from(["month", "quarter", "year"]))
    years = draw(st.sampled_from([3.0, 4.0, 6.0]))
    partners = []
    for i in range(draw(st.integers(1, 3))):
        partners.append({
            "name": f"p{i}",
            "referrals": draw(st.floats(5, 400)),
            "capacity": draw(st.floats(5, 300)),
            "enrolment_end": round(years * draw(st.floats(0.3, 1.0)), 2),
            "service_length": draw(st.sampled_from([0.25, 0.5, 1.0])),
            "cost": draw(st.floats(100, 3000)),
            "dropout": draw(st.floats(0, 0.4)),
            "exit_hazard": draw(st.sampled_from([0.0, 0.2])),
            "effect": {"job": {"mean": draw(st.floats(-0.1, 0.5)), "sd": draw(st.floats(0, 0.2))}},
            "maturity": {"half_maturity": draw(st.floats(0, 3))},
        })
    tranches = [
        {"name": f"t{k}", "kind": kind, "commitment": draw(st.floats(2e4, 2e6)), "upside": draw(st.none() | st.booleans()),
         "coupon": draw(st.sampled_from([0.0, 0.03, 0.1])), "cap_multiple": draw(st.none() | st.floats(1.0, 2.0))}
        for k, kind in enumerate(draw(st.lists(st.sampled_from(["senior", "subordinated", "first_loss"]), min_size=1, max_size=3)))
    ]
    return make_scenario(
        horizon={"years": years, "period": period},
        partners=partners,
        tranches=tranches,
        commissioners=[{"name": "C", "shares": {"job": 1.0}, "withdrawal_hazard": draw(st.sampled_from([0.0, 0.3]))}],
        **{"outcomes[0].price": draw(st.floats(200, 6000)), "outcomes[0].lag": draw(st.sampled_from([0.0, 0.5, 1.0]))},
        uncertainty={"enabled": True, "rho": draw(st.floats(0, 0.9)), "maturity_delay_sd": draw(st.floats(0, 1)),
                     "referral_sd": draw(st.floats(0, 0.5))},
    )


def check_chunk_sizes(s, seed: int, chunk_sizes: list[int], n_paths: int) -> None:
    first, *others = [simulate(s, n_paths=n_paths, seed=seed, chunk_size=c, keep_paths=50) for c in chunk_sizes]
    for other in others:
        assert first.path.keys() == other.path.keys()
        for k in first.path:
            assert same_bits(first.path[k], other.path[k]), f"path[{k!r}] differs"
        for k in first.kept:
            assert same_bits(first.kept[k], other.kept[k]), f"kept[{k!r}] differs"
        pd.testing.assert_frame_equal(first.summary(), other.summary(), check_exact=True)


chunkings = st.lists(st.sampled_from([1, BLOCK, 2 * BLOCK, 3 * BLOCK, 10 * BLOCK]), min_size=2, max_size=3, unique=True)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=scenarios(), seed=st.integers(0, 2**32 - 1), sizes=chunkings)
def test_chunk_size_does_not_change_any_path_on_random_scenarios(s, seed, sizes):
    check_chunk_sizes(s, seed, sizes, n_paths=2 * BLOCK + 37)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=scenarios(), seed=st.integers(0, 2**32 - 1), sizes=chunkings)
def test_chunk_size_does_not_change_any_path_on_many_random_scenarios(s, seed, sizes):
    check_chunk_sizes(s, seed, sizes, n_paths=3 * BLOCK + 901)


def test_upside_water_fill_does_not_depend_on_the_chunk():
    """A path holding cash at rounding level keeps it as excess whatever the other paths of its
    chunk hold (the water-fill stops path by path)."""
    s = make_scenario(
        horizon={"years": 3.0, "period": "quarter"},
        partners=[{"name": "p0", "referrals": 6.0, "capacity": 5.0, "enrolment_end": 1.5, "service_length": 0.25,
                   "cost": 136.84638963482917, "effect": {"job": {"mean": 0.5}}, "maturity": {"half_maturity": 0.0}}],
        tranches=[{"name": "t0", "kind": "senior", "commitment": 20000.0},
                  {"name": "t1", "kind": "subordinated", "commitment": 27791.0}],
        **{"outcomes[0].price": 1750.0, "outcomes[0].lag": 0.0},
        uncertainty={"enabled": True, "rho": 0.0, "maturity_delay_sd": 0.0, "referral_sd": 0.0},
    )
    check_chunk_sizes(s, 0, [BLOCK, 3 * BLOCK], n_paths=2 * BLOCK + 901)
