"""Same seed, same results: whatever the chunk size or number of workers, bit for bit.

Each fixed-size block of ``cib_sim.engine.sample.BLOCK`` paths has its own seeded stream, and chunks are
whole blocks, so regrouping blocks into chunks or spreading them over processes must not change a
single bit of any per-path measure, per-period mean or kept path.
"""

from __future__ import annotations

import numpy as np
import pytest
from scenario_builders import make_scenario

from cib_sim import simulate
from cib_sim.run.plan import BLOCK

N = 2 * BLOCK + 500  # three blocks, the last one partial


def random_scenario(**over):
    """Everything uncertain: effects, maturity delay, referrals, the common shock, exits,
    withdrawals; two partners, two commissioners, a tranche stack with a guarantee."""
    spec = dict(
        horizon={"years": 4, "period": "quarter"},
        partners=[
            {"name": "A", "referrals": 40.0, "capacity": 30.0, "enrolment_end": 2.5, "service_length": 0.5,
             "cost": 800.0, "fixed_cost": 2000.0, "dropout": 0.15, "exit_hazard": 0.2,
             "effect": {"job": {"mean": 0.2, "sd": 0.1}}, "maturity": {"half_maturity": 1.0}},
            {"name": "B", "referrals": 25.0, "capacity": 20.0, "enrolment_end": 3.0, "service_length": 1.0,
             "cost": 1200.0, "abandonment": 0.3, "effect": {"job": {"mean": 0.1, "sd": 0.1}}},
        ],
        commissioners=[
            {"name": "C1", "shares": {"job": 0.6}, "payment_lag": 0.25, "withdrawal_hazard": 0.1},
            {"name": "C2", "shares": {"job": 0.4}, "annual_budget": 20_000.0},
        ],
        tranches=[
            {"name": "S", "commitment": 90_000.0, "coupon": 0.05, "cap_multiple": 1.3},
            {"name": "J", "kind": "first_loss", "commitment": 30_000.0, "cap_irr": 0.2},
            {"name": "G", "kind": "guarantee", "commitment": 20_000.0, "covers": "S"},
        ],
        **{"outcomes[0].price": 2500.0, "outcomes[0].lag": 0.5},
        uncertainty={"enabled": True, "rho": 0.4, "maturity_delay_sd": 0.5, "referral_sd": 0.3},
    )
    return make_scenario(**{**spec, **over})


def assert_identical(a, b, groups=("path", "kept", "period_mean")):
    assert a.n_paths == b.n_paths
    for group in groups:
        da, db = getattr(a, group), getattr(b, group)
        assert da.keys() == db.keys()
        for k in da:
            assert da[k].shape == db[k].shape, (group, k)
            assert np.array_equal(da[k], db[k], equal_nan=True), f"{group}[{k!r}] differs"


@pytest.fixture(scope="module")
def scenario():
    return random_scenario()


@pytest.fixture(scope="module")
def reference(scenario):
    return simulate(scenario, n_paths=N, seed=11, chunk_size=BLOCK)


def test_results_are_not_degenerate(reference):
    # The comparisons below mean something only if paths differ from one another.
    assert np.unique(reference.path["commissioner_paid"][:, 0]).size > 50
    assert np.unique(reference.path["tranche_out"][:, 0]).size > 1000
    assert np.isfinite(reference.path["tranche_irr"]).mean() > 0.5


def test_every_path_has_finite_money(reference):
    """Every path's money is finite, and so are the means, including any path with nothing drawn
    in quarter 0 (partner A exits at once and B has no referral yet), where the room under the
    uncapped first-loss tranche's cap must not become inf x 0 = NaN and spread to the means
    (``test_engine_hand`` pins that case by hand)."""
    for k in ("tranche_in", "tranche_out", "commissioner_paid", "commissioner_rebate", "excess", "partner_revenue"):
        assert np.isfinite(reference.path[k]).all(), k
    assert all(np.isfinite(v).all() for v in reference.period_mean.values())


def test_same_seed_gives_identical_results(scenario, reference):
    assert_identical(reference, simulate(scenario, n_paths=N, seed=11, chunk_size=BLOCK))


@pytest.fixture(scope="module", params=[2 * BLOCK, 3 * BLOCK, None, 1000])
def rechunked(request, scenario):
    return simulate(scenario, n_paths=N, seed=11, chunk_size=request.param)


def test_chunk_size_does_not_change_path_results(reference, rechunked):
    assert_identical(reference, rechunked, groups=("path", "kept"))


def test_chunk_size_does_not_change_period_means(reference, rechunked):
    """The engine promises bit-identical results whatever the chunk size; the per-period means
    (``mean_flows``, ``waterfall``) are results too.
    Summing each flow over a whole chunk at once (numpy's pairwise sum over 4096, 8192 or 12288
    rows) would make the rounding, and the last bits of ``period_mean``, depend on the chunk size
    (differences ~1e-16 relative); sums per block of ``BLOCK`` paths, added in block order, do not.
    """
    assert_identical(reference, rechunked, groups=("period_mean",))


def test_workers_do_not_change_results(scenario, reference):
    assert_identical(reference, simulate(scenario, n_paths=N, seed=11, chunk_size=BLOCK, workers=2))


def test_different_seeds_differ(scenario, reference):
    other = simulate(scenario, n_paths=N, seed=12, chunk_size=BLOCK)
    assert not np.array_equal(reference.path["commissioner_paid"], other.path["commissioner_paid"])
    assert not np.array_equal(reference.path["tranche_out"], other.path["tranche_out"])
    # ... but agree in distribution: mean outcome payments within a few standard errors.
    a, b = reference.path["commissioner_paid"].sum(axis=1), other.path["commissioner_paid"].sum(axis=1)
    se = np.sqrt(a.var() / a.size + b.var() / b.size)
    assert abs(a.mean() - b.mean()) < 5 * se


def test_more_paths_keep_the_earlier_blocks(scenario, reference):
    # Adding paths appends blocks: the first whole blocks do not change.
    small = simulate(scenario, n_paths=BLOCK, seed=11)
    for k, v in small.path.items():
        assert np.array_equal(v, reference.path[k][:BLOCK], equal_nan=True), k


def test_scenario_copy_gives_the_same_results(scenario):
    # The result depends on the scenario's values, not on the object (as the app and workers rely on).
    copy = type(scenario).model_validate_json(scenario.model_dump_json())
    a = simulate(scenario, n_paths=300, seed=5)
    b = simulate(copy, n_paths=300, seed=5)
    assert_identical(a, b)


def test_uncertainty_off_is_deterministic_across_seeds():
    s = random_scenario(uncertainty={"enabled": False})
    a, b = simulate(s, n_paths=5, seed=1), simulate(s, n_paths=5, seed=2)
    for k in a.path:
        assert np.array_equal(a.path[k], b.path[k], equal_nan=True), k
        assert np.array_equal(a.path[k][0], a.path[k][-1], equal_nan=True), k


@pytest.mark.slow
def test_exact_and_approx_counts_agree_within_monte_carlo_error():
    """Large counts (hundreds a period): the Cornish-Fisher counts agree with exact binomial and
    Poisson counts in the mean of enrolments, outcomes, payments and investor returns."""
    s = random_scenario(
        partners=[
            {"name": "A", "referrals": 800.0, "capacity": 600.0, "enrolment_end": 3.0, "service_length": 0.5,
             "cost": 800.0, "dropout": 0.2, "effect": {"job": {"mean": 0.15, "sd": 0.05}}},
        ],
        commissioners=[{"name": "C1", "shares": {"job": 1.0}}],
        tranches=[{"name": "S", "commitment": 5e6, "coupon": 0.05}, {"name": "J", "kind": "first_loss", "commitment": 1e6}],
    )
    n = 1500
    approx = simulate(s, n_paths=n, seed=3, mode="approx")
    exact = simulate(s, n_paths=n, seed=4, mode="exact")
    for key, j in [("enrolled", 0), ("achieved", 0), ("commissioner_paid", 0), ("tranche_out", 0), ("tranche_out", 1)]:
        a, b = approx.path[key][:, j], exact.path[key][:, j]
        se = np.sqrt(a.var() / n + b.var() / n)
        assert abs(a.mean() - b.mean()) < 4 * se + 1e-9 * abs(b.mean()), (key, a.mean(), b.mean(), se)
    # and the spread: standard deviations within 10%
    a, b = approx.path["achieved"][:, 0], exact.path["achieved"][:, 0]
    assert a.std() == pytest.approx(b.std(), rel=0.1)


def test_an_already_spawned_seed_sequence_gives_the_same_paths_everywhere():
    """The seed rule (run/plan.py): a SeedSequence is used as it stands, its blocks being the
    children it would spawn next; simulate, the analysis runner and the reference model all
    follow it, and none advances the caller's sequence."""
    import numpy as np

    from cib_sim import simulate
    from cib_sim.analysis import run as analysis_run
    from cib_sim.reference.des import simulate_des
    from cib_sim.run.plan import RunPlan

    seq = np.random.SeedSequence(7)
    seq.spawn(3)  # already spawned: its next children are 3, 4, ...
    expected = np.random.SeedSequence(7).spawn(6)[3:]
    plan = RunPlan.make(2 * BLOCK + 1, seq)
    assert [b.seed.spawn_key for b in plan.blocks] == [c.spawn_key for c in expected]
    assert seq.n_children_spawned == 3  # not advanced
    s = make_scenario(uncertainty={"enabled": True}, **{"partners[0].effect": {"job": {"mean": 0.2, "sd": 0.1}}})
    a = simulate(s, 50, seed=seq, keep_paths=0).summary()
    b = analysis_run(s, 50, seed=seq, keep_paths=0).summary()
    c = simulate(s, 50, seed=seq, keep_paths=0, chunk_size=1).summary()
    assert a.equals(b) and a.equals(c)
    d1 = simulate_des(s, 6, seed=seq, keep_paths=0, chunk_size=2).summary()
    d2 = simulate_des(s, 6, seed=seq, keep_paths=0, chunk_size=6).summary()
    assert d1.equals(d2)
    assert seq.n_children_spawned == 3
