"""Field paths, the runner, sweeps, stress tests and metric specs on the West London Zone scenario."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cib_sim import simulate
from cib_sim.analysis import (
    BASE,
    CommissionerWithdrawal,
    FieldPathError,
    MaturityDelay,
    PartnerExit,
    PriceCut,
    ScaleEffects,
    ScaleField,
    ScalePrices,
    default_metrics,
    default_shocks,
    field_paths,
    get_field,
    parse_shock,
    resolve_metrics,
    run,
    set_fields,
    stress,
    sweep,
)
from cib_sim.analysis.fields import parse_value
from cib_sim.charts import stress_chart, sweep_chart
from cib_sim.run.plan import BLOCK, RunPlan
from cib_sim.run.simulation import _run_chunk
from cib_sim.scenario import ScenarioError, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
SENIOR = "Senior social lender"


@pytest.fixture(scope="module")
def wlz():
    return load_scenario(ROOT / "scenarios" / "west_london_zone.yaml")


def assert_same_results(a, b) -> None:
    assert a.n_paths == b.n_paths
    for part in ("path", "period_mean", "kept"):
        da, db = getattr(a, part), getattr(b, part)
        assert da.keys() == db.keys()
        for k in da:
            np.testing.assert_array_equal(da[k], db[k], err_msg=f"{part}.{k}")


# --- field paths ------------------------------------------------------------------------------


def test_paths_address_list_items_by_name_index_and_key(wlz):
    assert get_field(wlz, "partners.Mentoring.effect.engagement.mean") == 0.15
    assert get_field(wlz, "partners[1].effect.engagement.mean") == 0.15
    assert get_field(wlz, "partners.1.effect.engagement.sd") == 0.06
    assert get_field(wlz, "commissioners.Schools.shares.engagement") == 0.2
    assert get_field(wlz, f"tranches.{SENIOR}.commitment") == 1_000_000
    assert get_field(wlz, "tranches[-1].covers") == SENIOR
    assert get_field(wlz, "outcomes.*.price") == [1000, 1702, 1600, 1500, 1450]
    assert get_field(wlz, "uncertainty.rho") == 0.4


def test_every_listed_path_can_be_read_and_set_back(wlz):
    paths = field_paths(wlz)
    assert "partners.Mentoring.effect.engagement.mean" in paths
    assert "commissioners.Schools.shares.engagement" in paths
    for p in paths:
        assert set_fields(wlz, {p: get_field(wlz, p)}) == wlz, p


def test_set_fields_returns_a_new_validated_scenario(wlz):
    s2 = set_fields(wlz, {"outcomes.engagement.price": 2000, "partners.*.exit_hazard": 0.1})
    assert s2.outcomes[1].price == 2000 and [p.exit_hazard for p in s2.partners] == [0.1] * 4
    assert wlz.outcomes[1].price == 1702  # the original is untouched
    # a new entry of a mapping keyed by outcome names is allowed, and checked
    s3 = set_fields(wlz, {"commissioners.Philanthropy.shares.sign_up": 0.05})
    assert s3.commissioners[3].shares["sign_up"] == 0.05
    with pytest.raises(ScenarioError, match="unknown outcome 'nope'"):
        set_fields(wlz, {"commissioners.Schools.shares.nope": 0.1})


def test_unknown_path_names_the_nearest_valid_paths(wlz):
    with pytest.raises(FieldPathError) as err:
        set_fields(wlz, {"outcomes.engagment.price": 1})
    assert "outcomes.engagement.price" in str(err.value)
    with pytest.raises(FieldPathError, match="partners.Mentoring.cost"):
        get_field(wlz, "partners.Mentorin.cost")
    with pytest.raises(FieldPathError, match="price_multiplier"):
        set_fields(wlz, {"price_multiplyer": 2})
    with pytest.raises(FieldPathError, match="empty path"):
        get_field(wlz, "")


def test_bad_value_names_the_field_and_the_reason(wlz):
    with pytest.raises(ScenarioError) as err:
        set_fields(wlz, {"partners.Mentoring.effect.engagement.mean": 3})
    (path, reason), = err.value.errors
    assert path == "partners[1].effect.engagement.mean" and reason.startswith("must be <= 1")
    assert "partners.Mentoring.effect.engagement.mean=3" in reason


def test_names_with_dots_and_spaces(wlz):
    data = wlz.model_dump()
    data["partners"][0]["name"] = "St. Mary's"
    s = parse_scenario(data)
    assert get_field(s, "partners.St. Mary's.cost") == 900
    assert set_fields(s, {"partners.St. Mary's.cost": 950}).partners[0].cost == 950


def test_parse_value():
    assert parse_value("3") == 3 and parse_value("1e6") == 1e6 and parse_value("0.5") == 0.5
    assert parse_value("true") is True and parse_value("null") is None and parse_value("zone") == "zone"


# --- the runner: same blocks and chunks as simulate ---------------------------------------------


def test_run_equals_simulate_bit_for_bit(wlz):
    n = 2 * BLOCK + 123
    a = simulate(wlz, n, seed=7, chunk_size=BLOCK, keep_paths=50)
    b = run(wlz, n, seed=7, chunk_size=BLOCK, keep_paths=50)
    assert_same_results(a, b)
    # another chunk size: the same paths, to rounding (the engine sums some flows chunk-wide)
    c = run(wlz, n, seed=7, chunk_size=3 * BLOCK, keep_paths=50)
    for part in ("path", "period_mean"):
        for k, v in getattr(a, part).items():
            np.testing.assert_allclose(v, getattr(c, part)[k], rtol=1e-12, atol=1e-6, err_msg=f"{part}.{k}")


def test_a_planned_task_matches_the_engine_chunk(wlz):
    chunks = RunPlan.make(BLOCK + 10, seed=3, chunk_size=BLOCK, keep_paths=BLOCK + 5).chunks
    assert [c.sizes for c in chunks] == [[BLOCK], [10]] and [c.keep for c in chunks] == [BLOCK, 5]
    seeds, sizes, keep = chunks[1].seeds, chunks[1].sizes, chunks[1].keep
    a = _run_chunk(wlz, seeds, sizes, "approx", keep)
    from cib_sim.analysis.runner import run_task

    b = run_task((wlz, None, seeds, sizes, "approx", keep))
    for k in a.path:
        np.testing.assert_array_equal(a.path[k], b.path[k])
    with pytest.raises(ValueError, match="n_paths"):
        RunPlan.make(0, 1)


def test_processes_executor_matches_serial(wlz):
    a = run(wlz, BLOCK + 50, seed=2, chunk_size=BLOCK, keep_paths=10)
    b = run(wlz, BLOCK + 50, seed=2, chunk_size=BLOCK, keep_paths=10, executor="processes", workers=2)
    assert_same_results(a, b)
    with pytest.raises(ValueError, match="executor"):
        run(wlz, 10, executor="spark")


def test_threads_executor_matches_serial_bit_for_bit(wlz):
    """Threads run chunks side by side in one process (compiled kernels release the GIL): the
    same results as serial, for a run of several chunks and for a study of several variants."""
    a = run(wlz, 2 * BLOCK + 50, seed=2, chunk_size=BLOCK, keep_paths=10)
    b = run(wlz, 2 * BLOCK + 50, seed=2, chunk_size=BLOCK, keep_paths=10, executor="threads", workers=2)
    assert_same_results(a, b)
    from cib_sim.analysis import sensitivity_inputs, tornado

    inputs = sensitivity_inputs(wlz)[:3]
    ticks = []
    serial = tornado(wlz, "tranche/0/multiple_mean", inputs=inputs, n_paths=600, seed=3)
    threaded = tornado(wlz, "tranche/0/multiple_mean", inputs=inputs, n_paths=600, seed=3, executor="threads",
                       workers=3, progress=lambda done, total: ticks.append((done, total)))
    pd.testing.assert_frame_equal(serial, threaded, check_exact=True)
    assert ticks[-1] == (7, 7) and [d for d, _ in ticks] == sorted(d for d, _ in ticks)


def test_a_seed_sequence_gives_the_same_paths_every_time(wlz):
    seed = np.random.SeedSequence(42)
    a = run(wlz, 300, seed=seed, keep_paths=0)
    b = run(wlz, 300, seed=seed, keep_paths=0)  # spawning must not advance the caller's sequence
    assert_same_results(a, b)
    assert_same_results(a, simulate(wlz, 300, seed=np.random.SeedSequence(42), keep_paths=0))


def test_progress_callback_counts_tasks(wlz):
    seen = []
    run(wlz, 2 * BLOCK, seed=1, chunk_size=BLOCK, keep_paths=0, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 2), (2, 2)]


# --- shocks -----------------------------------------------------------------------------------


def test_neutral_shocks_reproduce_the_base_exactly(wlz):
    """Common random numbers: a shock that changes nothing gives the base, path by path."""
    base = run(wlz, 1000, seed=5, keep_paths=0)
    for shock in (BASE, ScalePrices(1.0), ScaleEffects(1.0), MaturityDelay(0.0)):
        assert_same_results(base, run(wlz, 1000, seed=5, shock=shock, keep_paths=0))
    # An exit after the end would change nothing as well, silently: it is refused instead.
    with pytest.raises(ValueError, match="outside the contract"):
        run(wlz, 1000, seed=5, shock=PartnerExit("Mentoring", 50))


def test_draw_shocks_bring_events_forward_on_every_path(wlz):
    base = run(wlz, 500, seed=1, keep_paths=0)
    wd = run(wlz, 500, seed=1, shock=CommissionerWithdrawal("Schools", 2.0), keep_paths=0)
    k = 2  # Schools
    assert (wd.path["commissioner_paid"][:, k] <= base.path["commissioner_paid"][:, k] + 1e-6).all()
    assert (wd.path["lost_to_withdrawal"][:, k] > 0).all()
    ex = run(wlz, 500, seed=1, shock=PartnerExit("Mentoring", 1.0), keep_paths=0)
    rev, rev0 = ex.path["partner_revenue"][:, 1], base.path["partner_revenue"][:, 1]
    # lower on every path but those where the partner's own exit hazard had come first
    assert (rev <= rev0).all() and (rev < rev0).mean() > 0.9


def test_parse_shock_text_forms():
    assert parse_shock("delay:1") == MaturityDelay(1.0)
    assert parse_shock("effects:0.8").factor == 0.8
    assert parse_shock("exit:Sport and arts@2.5") == PartnerExit("Sport and arts", 2.5)
    assert parse_shock("withdraw:Schools@3") == CommissionerWithdrawal("Schools", 3.0)
    assert parse_shock("price_cut:0.1") == PriceCut(0.1)
    assert parse_shock("referrals:0.8").name == "referrals x0.8"
    assert parse_shock("rho:0.9").name == "correlation rho=0.9"
    combo = parse_shock("delay:1 + effects:0.75+set:outcomes.engagement.price=1e+3")
    assert [p.name for p in combo.parts] == ["maturity delayed 1 year", "effects x0.75", "outcomes.engagement.price=1000.0"]
    for bad, msg in [("dealy:1", "did you mean delay"), ("exit:Mentoring", "NAME@YEAR"), ("effects:x", "could not convert"), ("", "empty")]:
        with pytest.raises(ValueError, match=msg):
            parse_shock(bad)


def test_shock_with_a_bad_value_names_the_field(wlz):
    from cib_sim.analysis import Correlation

    with pytest.raises(ScenarioError, match="uncertainty.rho: must be < 1"):
        run(wlz, 10, shock=Correlation(1.5))


def test_shock_with_unknown_name_is_a_clear_error(wlz):
    with pytest.raises(FieldPathError, match="did you mean Mentoring"):
        run(wlz, 10, shock=PartnerExit("Mentorin", 2))
    with pytest.raises(FieldPathError, match="unknown outcome"):
        PriceCut(0.1, outcomes=("nope",)).apply_scenario(wlz)


def test_scale_field_and_combined_labels(wlz):
    s2 = ScaleField("commissioners.*.annual_budget", 2).apply_scenario(wlz)
    assert [c.annual_budget for c in s2.commissioners] == [None, 3_200_000, None, None]
    combo = MaturityDelay(1) + ScaleEffects(0.5) + PriceCut(0.2)
    assert combo.name == "maturity delayed 1 year + effects x0.5 + prices cut 20%"
    assert PriceCut(0.2, label="tight budget").name == "tight budget"


# --- sweeps -----------------------------------------------------------------------------------


def test_sweep_grid_is_tidy_and_uses_common_random_numbers(wlz):
    prices = [1500, 1702]
    df = sweep(wlz, {"outcomes.engagement.price": prices, f"tranches.{SENIOR}.commitment": [8e5, 1e6]}, n_paths=300, seed=4)
    assert len(df) == 4 and list(df["point"]) == [0, 1, 2, 3]
    assert list(df["outcomes.engagement.price"]) == [1500, 1500, 1702, 1702]
    assert df.attrs["n_paths"] == 300 and df.attrs["seed"] == 4
    assert set(df.attrs["metrics"]) <= set(df.columns)
    # the point at the scenario's own values is the plain simulation (same seed, same paths)
    base = simulate(wlz, 300, seed=4, keep_paths=0)
    row = df[(df["outcomes.engagement.price"] == 1702) & (df[f"tranches.{SENIOR}.commitment"] == 1e6)].iloc[0]
    assert row[f"prob_loss[{SENIOR}]"] == base.metric("tranche", SENIOR, "prob_loss")
    assert row["outcome_payments_mean"] == base.metric("contract", wlz.name, "outcome_payments_mean")
    # with common random numbers a higher price pays more on average, whatever the noise
    assert (df.groupby(f"tranches.{SENIOR}.commitment")["outcome_payments_mean"].diff().dropna() > 0).all()


def test_sweep_zip_and_multipliers(wlz):
    df = sweep(wlz, {"price_multiplier": [0.9, 1.0, 1.1], "uncertainty.rho": [0.2, 0.4, 0.6]}, n_paths=200, mode="zip",
               metrics=["contract/outcome_payments_mean", "tranche/0/prob_loss"])
    assert len(df) == 3 and list(df.columns) == ["point", "price_multiplier", "uncertainty.rho", "outcome_payments_mean", f"prob_loss[{SENIOR}]"]
    with pytest.raises(ValueError, match="one length"):
        sweep(wlz, {"price_multiplier": [1, 2], "uncertainty.rho": [0.1]}, n_paths=10, mode="zip")
    with pytest.raises(ValueError, match="'grid' or 'zip'"):
        sweep(wlz, {"price_multiplier": [1]}, n_paths=10, mode="cross")


def test_sweep_checks_everything_before_running(wlz, monkeypatch):
    import cib_sim.analysis as an

    monkeypatch.setattr(an, "run_many", lambda *a, **k: pytest.fail("ran before checking"))
    with pytest.raises(FieldPathError, match="outcomes.engagement.price"):
        sweep(wlz, {"outcomes.engagment.price": [1, 2]}, n_paths=10)
    with pytest.raises(ScenarioError, match="must be >= 0"):
        sweep(wlz, {"outcomes.engagement.price": [100, -1]}, n_paths=10)
    with pytest.raises(TypeError, match="unexpected keyword"):
        sweep(wlz, {"price_multiplier": [1]}, n_paths=10, wrokers=2)


# --- metric specs -------------------------------------------------------------------------------


def test_metric_specs_resolve_names_indices_and_wildcards(wlz):
    labels = [m.label for m in resolve_metrics(wlz, ["tranche/0/prob_loss", "tranche/*/irr_p50", "contract/outcome_payments_p95", "commissioner/Schools/paid_mean"])]
    assert labels == [
        f"prob_loss[{SENIOR}]", f"irr_p50[{SENIOR}]", "irr_p50[Subordinated investors]", "irr_p50[Foundation first loss]",
        "outcome_payments_p95", "paid_mean[Schools]",
    ]
    assert len(resolve_metrics(wlz, None)) == len(resolve_metrics(wlz, default_metrics(wlz))) == 3 + 3 + 2 + 4
    for bad, msg in [("tranche/Senior/prob_loss", "no tranche named"), ("fund/x/y", "unknown group"), ("prob_loss", "group/name/metric")]:
        with pytest.raises(ValueError, match=msg):
            resolve_metrics(wlz, bad)
    with pytest.raises(ValueError, match="known for tranche"):
        sweep(wlz, {"price_multiplier": [1]}, n_paths=10, metrics="tranche/0/prob_lose")


# --- stress tests -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def thin_wlz(wlz):
    """WLZ at 60% of its prices: calibrated to its real payments, WLZ's investors almost never
    lose, so stress shocks would have no loss to move."""
    from cib_sim.analysis.fields import scale_prices

    return scale_prices(wlz, 0.6)


@pytest.fixture(scope="module")
def stress_table(thin_wlz):
    return stress(thin_wlz, n_paths=1000, seed=3)


def test_stress_table_has_base_first_and_every_default_shock(thin_wlz, stress_table):
    wlz = thin_wlz
    shocks = default_shocks(wlz)
    assert list(stress_table.index) == ["base"] + [s.name for s in shocks]
    assert stress_table.index.name == "shock"
    assert f"prob_loss[{SENIOR}]" in stress_table.columns and "outcome_payments_p95" in stress_table.columns
    base = simulate(wlz, 1000, seed=3, keep_paths=0)
    assert stress_table.loc["base", "outcome_payments_mean"] == base.metric("contract", wlz.name, "outcome_payments_mean")


def test_stress_shocks_move_risk_the_right_way(stress_table):
    t = stress_table
    fl = "prob_loss[Foundation first loss]"
    for shock in ("prices cut 10%", "Local authorities withdraws at year 3", "maturity delayed 1 year + effects x0.75"):
        assert t.loc[shock, fl] > t.loc["base", fl], shock
        assert t.loc[shock, "outcome_payments_mean"] < t.loc["base", "outcome_payments_mean"], shock
    assert t.loc["Local authorities withdraws at year 3", "paid_mean[Local authorities]"] < 0.6 * t.loc["base", "paid_mean[Local authorities]"]


def test_stress_relative_labels_and_custom_shocks(wlz):
    df = stress(wlz, {"cut": "price_cut:0.2", "same": ScalePrices(1.0)}, n_paths=300, relative=True,
                metrics="contract/outcome_payments_mean")
    assert list(df.index) == ["base", "cut", "same"]
    assert df.loc["base"].eq(0).all() and df.loc["same"].eq(0).all()  # common random numbers
    assert df.loc["cut", "outcome_payments_mean"] < 0
    with pytest.raises(ValueError, match="labels must differ"):
        stress(wlz, ["delay:1", "delay:1"], n_paths=10)


def test_stress_and_sweep_charts(stress_table):
    spec = stress_chart(stress_table, f"prob_loss[{SENIOR}]").to_dict()
    assert spec["layer"][0]["encoding"]["y"]["sort"][0] == "base"
    df = pd.DataFrame({"price_multiplier": [0.9, 1.0, 0.9, 1.0], "tranches.0.commitment": [1, 1, 2, 2], "prob_loss[x]": [0.1, 0.05, 0.2, 0.1]})
    spec = sweep_chart(df, "price_multiplier", "prob_loss[x]", color="tranches.0.commitment").to_dict()
    assert spec["encoding"]["y"]["title"] == "prob_loss[x]"
    with pytest.raises(ValueError, match="no column"):
        stress_chart(stress_table, "nope")
