"""The compiled kernels (cib_sim/engine/kernels): loaded only when a run needs them, and the
compiled code computes exactly what the same functions compute as plain Python (the compiler
must not reorder or fuse floating-point steps: back-tests depend on bit-identical results)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cib_sim.engine import arrays, metrics
from cib_sim.engine.kernels import irr as irr_kernels

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return set(out.stdout.split())


def test_import_and_validate_do_not_load_the_compiler():
    loaded = _modules_after(
        "import cib_sim\n"
        "from cib_sim.cli.main import main\n"
        "assert main(['validate', 'scenarios/west_london_zone.yaml']) == 0\n"
    )
    assert "cib_sim.cli.main" in loaded
    assert not {m for m in loaded if m == "numba" or m.startswith(("numba.", "llvmlite"))}


def test_a_run_loads_the_kernels():
    loaded = _modules_after(
        "import cib_sim\nfrom cib_sim.scenario import load_scenario\n"
        "cib_sim.simulate(load_scenario('scenarios/peterborough.yaml'), n_paths=200, seed=1)\n"
    )
    assert "numba" in loaded


def _polynomials(rng: np.random.Generator, m: int, k: int) -> np.ndarray:
    """(k, m) coefficients: money in first, then mixed flows with zeros, some columns padded."""
    coef = rng.normal(size=(k, m)) * (rng.random((k, m)) < 0.7)
    coef[0] = -np.abs(coef[0]) - 0.1
    coef[k - 3:, : m // 3] = 0.0  # shorter polynomials padded with zero rows
    return coef


def test_period_scan_matches_numpy_and_plain_python():
    """The IRR's one pass down the periods: first and last nonzero periods as ``np.argmax`` finds
    them, sign changes, the sums in period order, and the any-negative / any-positive / finite
    flags, compiled and as plain Python, on columns with zeros, all zeros, NaN and inf."""
    rng = np.random.default_rng(3)
    vt = rng.normal(size=(20, 300)) * (rng.random((20, 300)) < 0.5)
    vt[:, 0] = 0.0
    vt[5, 1], vt[7, 2], vt[:, 3] = np.nan, np.inf, -1.0
    scan = metrics._scan_periods(vt)  # 300 columns: compiled
    plain = metrics.PeriodScan(*(np.empty_like(a) for a in scan))
    irr_kernels.scan_periods.plain(vt, *plain)
    for a, b in zip(scan, plain):
        assert a.tobytes() == b.tobytes()
    nonzero = vt != 0
    np.testing.assert_array_equal(scan.first_idx, np.argmax(nonzero, axis=0))
    np.testing.assert_array_equal(scan.last_idx, 19 - np.argmax(nonzero[::-1], axis=0))
    np.testing.assert_array_equal(scan.has_negative, (vt < 0).any(axis=0))
    np.testing.assert_array_equal(scan.has_positive, (vt > 0).any(axis=0))
    np.testing.assert_array_equal(scan.finite, np.isfinite(vt).all(axis=0))
    assert scan.changes[3] == 0 and scan.first_idx[0] == 0 and scan.last_idx[0] == 19
    ok = scan.finite
    total = np.zeros(300)
    for row in vt:
        total = total + row
    assert scan.total[ok].tobytes() == total[ok].tobytes()
    signs = np.sign(vt[:, 4][vt[:, 4] != 0])
    assert scan.changes[4] == int((signs[1:] != signs[:-1]).sum())


def test_irr_kernels_compiled_equal_interpreted_bit_for_bit():
    rng = np.random.default_rng(7)
    coef = _polynomials(rng, 400, 24)
    m = coef.shape[1]
    lo, hi, w0 = np.zeros(m), np.ones(m), rng.uniform(0.01, 0.99, m)
    args = (coef, lo, hi, w0, 1e-13, 1e-13, 100)
    assert np.array_equal(irr_kernels.rtsafe(*args), irr_kernels.rtsafe.py_func(*args), equal_nan=True)
    sign = np.sign(coef.sum(axis=0))
    for a, b in zip(irr_kernels.grid_bracket(coef, sign, metrics._GRID_W),
                    irr_kernels.grid_bracket.py_func(coef, sign, metrics._GRID_W)):
        assert np.array_equal(a, b, equal_nan=True)
    comb = metrics._descartes_matrix(24)
    assert np.array_equal(irr_kernels.descartes_bound(coef, comb), irr_kernels.descartes_bound.py_func(coef, comb))


def test_descartes_bound_by_hand():
    # P(w) = -1 + 3w - 2w^2 = -(1 - w)(1 - 2w): roots 1/2 and 1, so one root inside (0, 1) and one
    # at its edge; (1 + y)^2 P(1 / (1 + y)) = -y^2 + y, one sign change. Padded with a zero row.
    coef = np.array([[-1.0], [3.0], [-2.0], [0.0]])
    assert metrics._descartes_bound(coef).tolist() == [1]
    # P(w) = 2 - 3w + w^2 = (1 - w)(2 - w): no root inside (0, 1), though two sign changes;
    # (1 + y)^2 P(1 / (1 + y)) = 2 (1 + y)^2 - 3 (1 + y) + 1 = 2y^2 + y: none.
    assert metrics._descartes_bound(np.array([[2.0], [-3.0], [1.0]])).tolist() == [0]
    assert metrics._descartes_bound(np.zeros((3, 1))).tolist() == [0]


@pytest.mark.parametrize("seed", [1, 2])
def test_rtsafe_finds_the_root_in_the_bracket(seed):
    rng = np.random.default_rng(seed)
    roots = rng.uniform(0.05, 0.95, 50)
    coef = np.stack([-roots, np.ones(50)])  # P(w) = w - root
    w = metrics._rtsafe(coef, np.zeros(50), np.ones(50), np.full(50, 0.5))
    np.testing.assert_allclose(w, roots, rtol=1e-12)


def test_zone_kernel_compiled_equals_interpreted_bit_for_bit():
    from cib_sim.engine.kernels import zone as zone_kernels

    rng = np.random.default_rng(11)
    P, O, N = 3, 4, 700  # more than one block of paths
    uplift = rng.uniform(-0.3, 0.6, (P, O, N))
    reach = rng.uniform(0.0, 1.0, (N, P))
    weight = np.ascontiguousarray(reach.T * 1.1)
    baseline = np.array([0.0, 0.5, 0.9, 1.0])
    size = np.array([bin(k).count("1") for k in range(1 << P)], dtype=np.float64)
    factor = 1.0 + 0.2 * np.maximum(size - 1.0, 0.0)
    args = (uplift, weight, reach, baseline, factor)
    compiled = zone_kernels.package_average(*args)
    assert np.array_equal(compiled, zone_kernels.package_average.py_func(*args))
    assert ((compiled >= 0.0) & (compiled <= 1.0)).all()


@pytest.mark.parametrize("n", [0, 1, 5, 7, 8, 9, 16, 23, 64, 128])
def test_numpy_sum_adds_as_numpy_does(n):
    from cib_sim.engine.kernels import sums

    rng = np.random.default_rng(n)
    x = rng.normal(size=n) * 10.0 ** rng.uniform(-8, 8, size=n)  # wide magnitudes: order shows
    rows = np.stack([np.zeros(n), x, np.full(n, -0.0)])  # a row of a 2-D array, as kernels pass it
    assert sums.numpy_sum(rows, 1, n) == x.sum() == sums.numpy_sum.plain(rows, 1, n)
    assert np.signbit(sums.numpy_sum(rows, 2, n)) == np.signbit(np.full(n, -0.0).sum())
    assert sums.rowsum_of(rows, 1, n) == sums.rowsum_of.plain(rows, 1, n) == arrays.rowsum(x[None, :])[0]


def test_too_many_terms_for_numpy_sum_is_an_error():
    from cib_sim.engine.kernels import sums

    with pytest.raises(ValueError, match="too many terms"):
        sums.numpy_sum.plain(np.ones((1, sums.MAX_TERMS + 1)), 0, sums.MAX_TERMS + 1)


@pytest.mark.parametrize("pro_rata, has_limit", [(True, False), (False, False), (False, True)])
def test_funding_kernel_compiled_equals_plain_bit_for_bit(pro_rata, has_limit):
    from cib_sim.engine.kernels import funding

    rng = np.random.default_rng(3)
    N, K = 300, 3
    commitment = np.array([500.0, 300.0, 200.0])

    def state():
        drawn = rng.uniform(0, 1, (N, K)) * commitment
        return [rng.uniform(0, 400, N), rng.uniform(0, 200, N), rng.uniform(0, 100, N), rng.uniform(0, 50, N),
                drawn, drawn * 1.1]

    args_of = []
    for _ in range(2):
        rng = np.random.default_rng(3)
        full, fixed, cash, reserve, drawn, cap = state()
        limit = np.minimum(drawn + rng.uniform(0, 100, (N, K)), commitment)
        outs = (np.empty(N, dtype=bool), np.empty(N), np.empty((N, K)))
        args_of.append((full, fixed, cash, reserve, drawn, cap, commitment, float(commitment.sum()), limit, has_limit,
                        True, pro_rata, commitment / commitment.sum(), np.array([1, 0, 2]), np.array([0, 2, 3]), *outs))
    funding.pay_costs(*args_of[0])
    funding.pay_costs.plain(*args_of[1])
    for a, b in zip(args_of[0], args_of[1]):
        if isinstance(a, np.ndarray):
            assert a.tobytes() == b.tobytes()
    funded, spent, draw = args_of[0][-3:]
    assert (~funded).any() and funded.any()  # both branches taken
    assert draw.min() >= 0, draw.min()


def test_waterfall_kernels_compiled_equal_plain_on_a_rich_capital_structure():
    """Pari passu seniors (one with an IRR cap), a mezzanine capped on commitment, a first loss,
    a deferred fee and a guarantee, run compiled and as plain Python: byte-identical books."""
    from cib_sim.engine import kernels
    from cib_sim.engine.loop import run_paths
    from cib_sim.engine.sample import sample_block
    from cib_sim.scenario import load_scenario

    s = load_scenario(ROOT / "scenarios" / "stress_slow_start.yaml")
    tranches = [
        {"name": "Senior lender", "kind": "senior", "commitment": 900000, "coupon": 0.06, "rank": 1},
        {"name": "Senior two", "kind": "senior", "commitment": 300000, "coupon": 0.04, "rank": 1, "cap_irr": 0.08},
        {"name": "Mezzanine", "kind": "subordinated", "commitment": 500000, "cap_multiple": 1.5,
         "cap_basis": "committed", "rank": 2},
        {"name": "First loss", "kind": "first_loss", "commitment": 300000, "cap_multiple": 1.0, "rank": 3},
        {"name": "Guarantee", "kind": "guarantee", "commitment": 250000, "covers": "Senior lender", "share_of_drawn": 0.5},
    ]
    data = s.model_dump(exclude_none=True)
    data["tranches"] = tranches
    data["terms"].update(draw_order="senior_first", recycling=False,
                         deferred_fees=[{"name": "fee", "amount": 80000, "behind": "Senior two"}])
    from cib_sim.scenario import parse_scenario

    rich = parse_scenario(data)
    draws = sample_block(rich, np.random.SeedSequence(4), 200)
    compiled = run_paths(rich, draws)  # 200 paths: compiled kernels
    small = kernels.SMALL_BATCH
    try:
        kernels.SMALL_BATCH = 10**9  # every batch plain Python
        plain = run_paths(rich, draws)
    finally:
        kernels.SMALL_BATCH = small
    for name in ("coupon", "capital", "upside", "deferred_fee", "guarantee_call", "excess", "drawn", "cash"):
        assert compiled[name].tobytes() == plain[name].tobytes(), name
    assert compiled["deferred_fee"].sum() > 0 and compiled["upside"].sum() > 0


def test_a_kernel_still_compiles_where_no_cache_folder_can_be_written():
    # A read-only install with no writable home: numba finds nowhere to cache (simulated by
    # leaving it no cache locator) and the kernel compiles for this process instead of failing.
    code = (
        "import numpy as np\n"
        "from numba.core import caching\n"
        "caching.CacheImpl._locator_classes = []\n"
        "from cib_sim.engine.kernels import Kernel\n"
        "def double(x):\n"
        "    out = np.empty(x.shape[0])\n"
        "    for i in range(x.shape[0]):\n"
        "        out[i] = 2.0 * x[i]\n"
        "    return out\n"
        "k = Kernel(double)\n"
        "print(k(np.arange(3.0)).tolist(), k.compiled._cache.__class__.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:3] == ["[0.0,", "2.0,", "4.0]"]
    assert "NullCache" in out.stdout
