"""Tests for cib_sim.engine.metrics: IRR against numpy_financial and by hand, money multiples, losses,
tails, timing and summary helpers."""

from __future__ import annotations

import math
import warnings

import numpy as np
import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cib_sim.engine.metrics import (
    LOSS_RTOL,
    cvar,
    irr,
    loss_statistics,
    multiple_of_money,
    npv,
    peak_capital_drawn,
    probability,
    quantiles,
    standard_error_of_mean,
    time_to_first_payment,
)

PERIODS_PER_YEAR = (1, 2, 4, 12)


def no_warnings(fn, *args, **kwargs):
    """Call ``fn`` with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


def reference_irr(flows: np.ndarray, periods_per_year: int) -> float:
    """numpy_financial's periodic IRR, annualised like ``irr``."""
    return (1.0 + npf.irr(np.asarray(flows, dtype=float))) ** periods_per_year - 1.0


def assert_matches_reference(ours: np.ndarray, flows: np.ndarray, periods_per_year: int) -> None:
    for row, value in zip(np.atleast_2d(flows), np.atleast_1d(ours)):
        ref = reference_irr(row, periods_per_year)
        assert np.isfinite(ref), row
        assert abs(value - ref) <= 1e-6 * max(1.0, abs(ref)), (row.tolist(), value, ref)


# ------------------------------------------------------------------------------------------
# IRR: hand-computed cases
# ------------------------------------------------------------------------------------------


def test_irr_one_year_ten_percent():
    assert irr(np.array([[-100.0, 110.0]]))[0] == pytest.approx(0.10, abs=1e-12)


@pytest.mark.parametrize("periods_per_year", PERIODS_PER_YEAR)
def test_irr_repaid_with_ten_percent_after_one_year_is_ten_percent_a_year(periods_per_year):
    flows = np.zeros((1, periods_per_year + 1))
    flows[0, 0], flows[0, -1] = -100.0, 110.0
    assert irr(flows, periods_per_year)[0] == pytest.approx(0.10, abs=1e-12)


def test_irr_quarterly_one_quarter_is_compounded_to_annual():
    assert irr(np.array([[-100.0, 110.0]]), 4)[0] == pytest.approx(1.1**4 - 1, abs=1e-12)


def test_irr_two_years_and_textbook_case():
    assert irr(np.array([-100.0, 0.0, 121.0])) == pytest.approx(0.10, abs=1e-12)
    # numpy_financial's documented example
    assert irr(np.array([-100.0, 39, 59, 55, 20])) == pytest.approx(0.28095, abs=1e-5)


def test_irr_money_back_exactly_is_zero():
    assert irr(np.array([[-100.0, 50.0, 50.0], [-100.0, 0.0, 100.0]])) == pytest.approx(
        [0.0, 0.0], abs=1e-12
    )


def test_irr_ignores_leading_and_trailing_zeros():
    # in at year 2, out at year 4: same as in at 0, out at 2
    flows = np.array([[0.0, 0.0, -100.0, 0.0, 121.0, 0.0, 0.0], [-100.0, 0.0, 121.0, 0, 0, 0, 0]])
    assert irr(flows) == pytest.approx([0.10, 0.10], abs=1e-12)


def test_irr_borrowing_pattern_matches_numpy_financial():
    # money received first, paid back later: the same rate as the mirror-image investment
    assert irr(np.array([100.0, -110.0])) == pytest.approx(0.10, abs=1e-12)
    assert_matches_reference(irr(np.array([[50.0, 60.0, -130.0]])), np.array([[50.0, 60, -130]]), 1)


def test_irr_large_loss_and_large_gain():
    assert irr(np.array([-100.0, 1e-10])) == pytest.approx(-1 + 1e-12, abs=1e-15)
    assert irr(np.array([-1.0, 1e6])) == pytest.approx(999_999.0, rel=1e-12)
    # a near-total loss over many quarters stays finite: (1e-11) ** (4 / 27) - 1
    flows = np.zeros(28)
    flows[0], flows[-1] = -100.0, 1e-9
    value = no_warnings(irr, flows, 4)
    assert value == pytest.approx(1e-11 ** (4 / 27) - 1, abs=1e-12)
    assert value == pytest.approx(reference_irr(flows, 4), abs=1e-9)


# ------------------------------------------------------------------------------------------
# IRR: agreement with numpy_financial
# ------------------------------------------------------------------------------------------

FIXED_CONVENTIONAL = [
    [-100.0, 39, 59, 55, 20],
    [-100.0, 0, 0, 74],
    [-100.0, 100, 0, 7],
    [-1000.0, -500, 0, 100, 200, 300, 400, 500, 600],
    [0.0, -250, -250, 0, 0, 0, 10, 0, 700],
    [-10.0, -10, -10, -10, 1, 1, 1, 1, 1, 1, 1, 1],
    [-5.0, 1e4],
    [-1e6, 1, 1, 1, 1, 1, 1, 1],
]


@pytest.mark.parametrize("periods_per_year", PERIODS_PER_YEAR)
@pytest.mark.parametrize("flows", FIXED_CONVENTIONAL)
def test_irr_matches_numpy_financial_on_fixed_cases(flows, periods_per_year):
    flows = np.array([flows])
    assert_matches_reference(no_warnings(irr, flows, periods_per_year), flows, periods_per_year)


@st.composite
def conventional_rows(draw) -> list[float]:
    """Money in (negative), then money out (positive), zeros anywhere, at least one of each."""
    amount = st.floats(0.01, 1000.0, allow_nan=False, allow_infinity=False)
    maybe = st.one_of(st.just(0.0), amount)
    n_lead = draw(st.integers(0, 3))
    n_in = draw(st.integers(1, 8))
    n_out = draw(st.integers(1, 24 - n_in))
    ins = [-draw(maybe) for _ in range(n_in)]
    ins[draw(st.integers(0, n_in - 1))] = -draw(amount)
    outs = [draw(maybe) for _ in range(n_out)]
    outs[draw(st.integers(0, n_out - 1))] = draw(amount)
    return [0.0] * n_lead + ins + outs


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(conventional_rows(), min_size=1, max_size=6),
    periods_per_year=st.sampled_from(PERIODS_PER_YEAR),
)
def test_irr_matches_numpy_financial_on_random_conventional_flows(rows, periods_per_year):
    width = max(len(r) for r in rows)
    flows = np.array([r + [0.0] * (width - len(r)) for r in rows])  # trailing zeros: no effect
    ours = no_warnings(irr, flows, periods_per_year)
    assert ours.shape == (len(rows),)
    assert_matches_reference(ours, flows, periods_per_year)


@pytest.mark.parametrize("periods_per_year", [4, 12])
def test_irr_matches_numpy_financial_on_a_seeded_batch(periods_per_year):
    rng = np.random.default_rng(20240611)
    n, n_periods = 400, 28
    flows = np.zeros((n, n_periods))
    n_in = rng.integers(1, 8, n)
    first_out = n_in + rng.integers(0, 6, n)
    t = np.arange(n_periods)
    flows -= np.where(t < n_in[:, None], rng.uniform(0, 100, (n, n_periods)), 0.0)
    scale = rng.lognormal(-0.5, 1.0, (n, 1))  # from heavy losses to large gains
    flows += np.where(t >= first_out[:, None], scale * rng.uniform(0, 60, (n, n_periods)), 0.0)
    flows[:, 0] = -rng.uniform(1, 100, n)
    flows[:, -1] = rng.uniform(1, 50, n)
    ours = no_warnings(irr, flows, periods_per_year)
    assert np.isfinite(ours).all()
    assert (ours < 0).any() and (ours > 0).any()
    assert_matches_reference(ours, flows, periods_per_year)


def test_irr_non_conventional_prefers_the_root_nearest_zero_like_numpy_financial():
    # roots at 10% and 20%; and numpy_financial's documented non-conventional example
    for flows in ([-100.0, 230.0, -132.0], [-5.0, 10.5, 1, -8, 1], [-100.0, 100, 0, -7]):
        assert no_warnings(irr, np.array(flows)) == pytest.approx(npf.irr(flows), abs=1e-9)


def test_irr_three_roots_returns_the_one_nearest_zero():
    # NPV with roots at 5%, 20% and 50% a period: flows are the coefficients in 1 / (1 + r)
    flows = -100.0 * np.poly(1.0 / (1.0 + np.array([0.05, 0.2, 0.5])))[::-1]
    assert no_warnings(irr, flows) == pytest.approx(0.05, abs=1e-9)
    assert npf.irr(flows) == pytest.approx(0.05, abs=1e-9)


# ------------------------------------------------------------------------------------------
# IRR: undefined cases, total loss, shapes
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flows",
    [
        [0.0, 0.0, 0.0],  # nothing happens
        [100.0, 5.0, 0.0],  # money received, never paid in
        [-100.0, 250.0, -200.0],  # sign changes but NPV < 0 at every rate
        [-100.0, np.nan, 120.0],  # missing data
        [-100.0, np.inf, 120.0],
    ],
)
def test_irr_undefined_is_nan_without_warnings(flows):
    assert np.isnan(no_warnings(irr, np.array([flows]))[0])


def test_irr_no_periods_or_no_paths_is_nan_or_empty():
    assert no_warnings(irr, np.zeros((3, 0))).shape == (3,)
    assert np.isnan(no_warnings(irr, np.zeros((3, 0)))).all()
    assert no_warnings(irr, np.zeros((0, 5))).shape == (0,)


@pytest.mark.parametrize("flows", [[-100.0, 0.0, 0.0], [-100.0, -50.0], [0.0, -1.0, 0.0, 0.0]])
def test_irr_total_loss_is_minus_one(flows):
    # documented choice: -100%, the limit as the money returned goes to zero
    # (numpy_financial returns NaN here)
    assert no_warnings(irr, np.array([flows]), 4)[0] == -1.0
    assert np.isnan(npf.irr(flows))


def test_irr_mixed_batch_keeps_rows_independent_and_shape():
    rows = [
        [-100.0, 110.0, 0.0],
        [0.0, 0.0, 0.0],
        [-100.0, 0.0, 0.0],
        [-100.0, 50.0, 50.0],
        [100.0, -110.0, 0.0],
        [-100.0, 0.0, 121.0],
    ]
    batch = no_warnings(irr, np.array(rows), 1)
    one_by_one = [no_warnings(irr, np.array(r), 1) for r in rows]
    np.testing.assert_allclose(batch, one_by_one, rtol=0, atol=1e-14)
    np.testing.assert_allclose(batch, [0.1, np.nan, -1.0, 0.0, 0.1, 0.1], atol=1e-12)
    # leading dimensions are kept; a 1-D array is one path
    stacked = np.broadcast_to(np.array(rows), (2, 3, 6, 3))
    assert irr(stacked).shape == (2, 3, 6)
    assert irr(np.array([-100.0, 110.0])).shape == ()


def test_irr_accepts_integer_input_and_lists():
    assert irr([[-100, 110]])[0] == pytest.approx(0.1, abs=1e-12)


def test_irr_rejects_bad_periods_per_year():
    with pytest.raises(ValueError):
        irr(np.array([[-100.0, 110.0]]), 0)


def test_irr_on_a_large_batch_is_finite_for_conventional_flows():
    # Speed is measured in benchmarks; here only that a big vectorised batch gives answers.
    rng = np.random.default_rng(3)
    flows = np.zeros((100_000, 28))
    flows[:, :4] = -rng.uniform(1, 100, (100_000, 4))
    flows[:, 8:] = rng.uniform(0, 30, (100_000, 20)) * rng.uniform(0, 1, (100_000, 1))
    result = no_warnings(irr, flows, 4)
    assert np.isfinite(result).all()


# ------------------------------------------------------------------------------------------
# NPV
# ------------------------------------------------------------------------------------------


def test_npv_hand_computed_and_zero_at_the_irr():
    flows = np.array([[-100.0, 110.0], [-100.0, 121.0]])
    assert npv(flows, 0.10) == pytest.approx([0.0, 10.0], abs=1e-12)
    assert npv(flows, 0.0) == pytest.approx([10.0, 21.0])
    # quarterly: the second flow is a quarter of a year away
    assert npv(np.array([[0.0, 110.0]]), 0.10, 4)[0] == pytest.approx(110 / 1.1**0.25)
    # one rate per path
    assert npv(flows, np.array([0.10, 0.21])) == pytest.approx([0.0, 0.0], abs=1e-12)


def test_npv_at_irr_is_zero_on_random_flows():
    rng = np.random.default_rng(9)
    flows = np.concatenate([-rng.uniform(1, 10, (50, 3)), rng.uniform(0, 5, (50, 9))], axis=1)
    rates = irr(flows, 4)
    assert np.abs(npv(flows, rates, 4)).max() < 1e-9


def test_npv_rejects_rates_at_or_below_minus_one():
    with pytest.raises(ValueError):
        npv(np.array([[-1.0, 2.0]]), -1.0)


# ------------------------------------------------------------------------------------------
# Multiple of money and loss statistics
# ------------------------------------------------------------------------------------------


def test_multiple_of_money_by_hand_and_nan_without_capital():
    paid_in = np.array([[100.0, 0.0, 0.0], [50.0, 50.0, 0.0], [0.0, 0.0, 0.0]])
    paid_out = np.array([[0.0, 0.0, 150.0], [0.0, 20.0, 20.0], [0.0, 10.0, 0.0]])
    np.testing.assert_allclose(
        no_warnings(multiple_of_money, paid_in, paid_out), [1.5, 0.4, np.nan]
    )
    # totals per path work too
    np.testing.assert_allclose(multiple_of_money([100.0, 100.0], [0.0, 250.0]), [0.0, 2.5])


# Five paths: a gain, an exact repayment, a loss of 150, a repayment short by rounding only,
# and a path with nothing paid in (left out of every statistic).
LOSS_IN = np.array([100.0, 100.0, 200.0, 100.0, 0.0])
LOSS_OUT = np.array([150.0, 100.0, 50.0, 100.0 * (1 - 1e-12), 30.0])


def test_loss_statistics_by_hand():
    stats = no_warnings(loss_statistics, LOSS_IN, LOSS_OUT)
    assert set(stats) == {
        "prob_loss",
        "expected_loss",
        "expected_loss_ratio",
        "cvar_5",
        "cvar_5_multiple",
    }
    assert all(isinstance(v, float) for v in stats.values())
    assert stats["prob_loss"] == 0.25  # only the 200 -> 50 path
    assert stats["expected_loss"] == pytest.approx(150.0 / 4)
    assert stats["expected_loss_ratio"] == pytest.approx((150.0 / 4) / (500.0 / 4))
    # 4 paths: ceil(0.05 * 4) = 1 worst path
    assert stats["cvar_5"] == pytest.approx(-150.0)
    assert stats["cvar_5_multiple"] == pytest.approx(0.25)


def test_loss_statistics_accepts_per_period_amounts():
    paid_in = np.stack([LOSS_IN / 2, LOSS_IN / 2], axis=1)
    paid_out = np.stack([np.zeros(5), LOSS_OUT], axis=1)
    assert loss_statistics(paid_in, paid_out) == pytest.approx(loss_statistics(LOSS_IN, LOSS_OUT))


def test_loss_statistics_exact_repayment_is_not_a_loss_but_a_real_shortfall_is():
    paid_in = np.full(3, 1e6)
    paid_out = np.array([1e6, 1e6 * (1 - LOSS_RTOL / 10), 1e6 * (1 - 10 * LOSS_RTOL)])
    assert loss_statistics(paid_in, paid_out)["prob_loss"] == pytest.approx(1 / 3)


def test_loss_statistics_tail_of_forty_paths():
    # 40 paths: the worst ceil(0.05 * 40) = 2 are averaged
    paid_in = np.full(40, 100.0)
    paid_out = np.linspace(10.0, 400.0, 40)
    stats = loss_statistics(paid_in, paid_out)
    assert stats["cvar_5"] == pytest.approx(np.mean(paid_out[:2]) - 100.0)
    assert stats["cvar_5_multiple"] == pytest.approx(np.mean(paid_out[:2]) / 100.0)
    assert stats["prob_loss"] == pytest.approx(np.mean(paid_out < 100.0))
    assert stats["expected_loss"] == pytest.approx(np.mean(np.maximum(100.0 - paid_out, 0)))


def test_loss_statistics_nothing_paid_in_is_all_nan():
    stats = no_warnings(loss_statistics, np.zeros(4), np.ones(4))
    assert all(math.isnan(v) for v in stats.values())


# ------------------------------------------------------------------------------------------
# CVaR, timing, peak capital, summaries
# ------------------------------------------------------------------------------------------


def test_cvar_mean_of_the_worst_ceil_alpha_n_values():
    values = np.arange(1.0, 101.0)[::-1]
    assert cvar(values, 0.05) == pytest.approx(3.0)  # mean of 1..5
    assert cvar(values[:10], 0.05) == 100.0 - 9  # ceil(0.5) = 1: the minimum of 100..91
    assert cvar(np.arange(30.0), 0.05) == pytest.approx(0.5)  # ceil(1.5) = 2
    assert cvar(values, 0.07) == pytest.approx(4.0)  # 0.07 * 100 rounds to 7, not 8
    assert cvar(values, 1.0) == pytest.approx(50.5)


def test_cvar_ignores_nan_and_validates_alpha():
    values = np.array([np.nan, 5.0, 1.0, np.nan, 3.0])
    assert no_warnings(cvar, values, 0.34) == pytest.approx(2.0)  # ceil(0.34 * 3) = 2 of 3
    assert math.isnan(no_warnings(cvar, np.array([np.nan, np.nan])))
    with pytest.raises(ValueError):
        cvar(values, 0.0)


def test_time_to_first_payment_in_years():
    paid_out = np.array([[0.0, 0.0, 5.0, 1.0], [0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(
        no_warnings(time_to_first_payment, paid_out, 4), [0.5, np.nan, 0.0]
    )
    assert time_to_first_payment(paid_out, 1)[0] == 2.0


def test_peak_capital_drawn():
    paid_in = np.array([[100.0, 50.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [10.0, 10.0, 10.0, 10.0]])
    paid_out = np.array([[0.0, 20.0, 100.0, 100.0], [5.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    # cumulative net: 100, 130, 30, -70 / -5 ... (clipped to 0) / 10, 20, 30, 40
    np.testing.assert_allclose(peak_capital_drawn(paid_in, paid_out), [130.0, 0.0, 40.0])


def test_quantiles_ignore_nan():
    values = np.concatenate([np.arange(101.0), [np.nan] * 7])
    np.testing.assert_allclose(no_warnings(quantiles, values), [5.0, 50.0, 95.0])
    np.testing.assert_allclose(quantiles(values, (0.0, 1.0)), [0.0, 100.0])
    assert np.isnan(no_warnings(quantiles, np.full(4, np.nan))).all()


def test_probability_and_standard_error():
    assert probability(np.array([True, False, True, True])) == 0.75
    assert math.isnan(probability(np.array([], dtype=bool)))
    values = np.array([1.0, 2.0, np.nan, 3.0, 4.0])
    expected = np.std([1.0, 2.0, 3.0, 4.0], ddof=1) / 2.0
    assert no_warnings(standard_error_of_mean, values) == pytest.approx(expected)
    assert math.isnan(no_warnings(standard_error_of_mean, np.array([1.0, np.nan])))
