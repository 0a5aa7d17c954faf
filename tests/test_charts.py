"""Chart builders (``cib_sim.charts``): each returns valid Vega-Lite (``to_dict`` validates it
against the schema) with the fields and encodings a reader relies on, and their frames add up.
"""

from __future__ import annotations

import json

import altair as alt
import numpy as np
import pytest

from cib_sim import charts as C
from cib_sim import simulate
from cib_sim.app.state import library
from cib_sim.deals import headline_terms
from cib_sim.scenario import load_scenario

LIB = library()


def _find(lib: dict, word: str):
    """The library's scenario whose file name contains ``word`` (there must be one)."""
    hits = [p for p in lib.values() if word in p.name]
    assert len(hits) == 1, f"{word!r} names {len(hits)} scenarios in the library: {list(lib.values())}"
    return hits[0]


@pytest.fixture(scope="module")
def zone():
    """Results of the zone (collective impact) reference scenario."""
    s = load_scenario(_find(LIB, "west_london"))
    assert s.delivery.model == "zone"
    return simulate(s, n_paths=600, seed=5)


@pytest.fixture(scope="module")
def pipelines():
    """Results of a pipelines scenario (the rate-card fund)."""
    s = load_scenario(_find(LIB, "rate_card_fund"))
    assert s.delivery.model == "pipelines"
    return simulate(s, n_paths=600, seed=5)


def spec(chart: alt.TopLevelMixin) -> dict:
    d = chart.to_dict()  # validates against the Vega-Lite schema
    assert d["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    json.dumps(d)
    return d


def encodings(d: dict) -> list[dict]:
    """Every encoding block in a (possibly layered or faceted) spec."""
    out = []

    def walk(x):
        if isinstance(x, dict):
            if "encoding" in x:
                out.append(x["encoding"])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(d)
    return out


def fields(d: dict) -> set[str]:
    return {ch.get("field") for enc in encodings(d) for ch in enc.values() if isinstance(ch, dict) and "field" in ch}


def titles(d: dict) -> str:
    return json.dumps(d, ensure_ascii=False)


# --------------------------------------------------------------------------------------------


def test_waterfall_steps_net_to_zero_and_encode_start_end(zone):
    for stat in ("mean", "median"):
        df = C.waterfall_frame(zone, stat)
        assert list(df.columns) == ["order", "step", "category", "amount", "start", "end", "label", "currency"]
        assert df["end"].iloc[-1] == pytest.approx(0.0, abs=1e-6 * df["amount"].abs().sum())
        assert df["step"].iloc[0] == "Outcome payments"
        assert {"Money in", "Delivery and backbone", "Investors: capital back"} <= set(df["category"])
        d = spec(C.waterfall_chart(zone, stat))
        assert {"step", "start", "end", "category", "label"} <= fields(d)
        assert "Running total (GBP, over the contract)" in titles(d)
    # From the Results.waterfall frame directly: the same chart, data and all.
    assert spec(C.waterfall_chart(zone.waterfall("mean"))) == spec(C.waterfall_chart(zone, "mean"))


@pytest.mark.parametrize("what,threshold", [("multiple", 1.0), ("irr", 0.0)])
def test_distribution_marks_the_loss_region(zone, what, threshold):
    df = C.distribution_frame(zone, what)
    assert set(df["tranche"]) == set(zone.tranche_names)
    h = C.histogram_frame(df, what)
    for _, g in h.groupby("tranche"):
        assert g["share"].sum() == pytest.approx(1.0)
    assert (h.loc[h["region"].str.startswith("Loss"), "bin_end"] <= threshold + 1e-12).all()
    # P(loss) in the labels is the summary's.
    for name in zone.tranche_names:
        p = zone.metric("tranche", name, "prob_loss")
        assert f"{name} · P(loss) {p:.1%}" in set(h["label"])
    d = spec(C.distribution_chart(zone, what, kind="histogram"))
    assert "facet" in d and {"bin_start", "bin_end", "share", "region"} <= fields(d)
    assert C.LOSS in titles(d)
    e = C.ecdf_frame(df, what)
    for _, g in e.groupby("tranche"):
        assert np.all(np.diff(g["cum_share"]) >= -1e-12) and g["cum_share"].iloc[-1] == 1.0
    d = spec(C.distribution_chart(zone, what, kind="ecdf"))
    assert {"value", "cum_share", "label"} <= fields(d)
    assert any(enc.get("x", {}).get("datum") == threshold or enc.get("x", {}).get("field") == "x" for enc in encodings(d))
    assert ("Multiple of money" if what == "multiple" else "IRR (per year)") in titles(d)


def test_distribution_rejects_unknown_measure(zone):
    with pytest.raises(ValueError, match="what"):
        C.distribution_chart(zone, "sharpe")
    with pytest.raises(ValueError, match="kind"):
        C.distribution_chart(zone, "irr", kind="violin")


@pytest.mark.parametrize("what", ["commissioner_paid", "investor_net"])
def test_fan_chart_bands_and_median(zone, what):
    df = C.fan_frame(zone, what)
    q = df[["q05", "q25", "q50", "q75", "q95"]].to_numpy()
    assert np.all(np.diff(q, axis=1) >= -1e-9)
    d = spec(C.fan_chart(zone, what))
    assert {"period_start", "lo", "hi", "band", "q50"} <= fields(d)
    assert "(GBP)" in titles(d) and "5–95% of paths" in titles(d)
    # From Results.fan directly, index and all: the same marks, encodings and bands.
    direct = spec(C.fan_chart(zone.fan(what), what, currency="GBP"))
    assert [(lay["mark"], lay["encoding"]) for lay in direct["layer"]] == [(lay["mark"], lay["encoding"]) for lay in d["layer"]]
    bands = [x["datasets"][x["layer"][0]["data"]["name"]] for x in (direct, d)]
    assert bands[0] == bands[1] and len(bands[0]) == 2 * len(df)


def test_outcomes_by_partner_add_up_to_outcomes_verified(zone):
    df = C.outcomes_frame(zone)
    assert set(df["partner"]) == set(zone.scenario.partner_names)
    s = zone.scenario
    ach = zone.period_mean["achieved"]
    T = ach.shape[0]
    expected = sum(ach[: T - s.horizon.to_periods(o.lag), :, k].sum() for k, o in enumerate(s.outcomes))
    assert df["outcomes"].sum() == pytest.approx(expected)
    first = df.groupby("period_start")["outcomes"].sum().iloc[0]
    assert first == pytest.approx(0.0)  # nothing is verified before the first lag has passed
    d = spec(C.outcomes_chart(zone))
    assert {"period_start", "outcomes", "partner"} <= fields(d)
    assert "Outcomes verified per quarter (mean)" in titles(d)


def test_uplift_shows_the_slow_start(zone, pipelines):
    for r, kind in ((zone, "Outcome"), (pipelines, "Partner")):
        df = C.uplift_frame(r)
        assert set(df["series_kind"]) == {kind}
        d = spec(C.uplift_chart(r))
        assert {"period_start", "uplift", "series"} <= fields(d)
    z = C.uplift_frame(zone)
    # Partners mature: later cohorts gain more than the first.
    for _, g in z.groupby("series"):
        assert g["uplift"].iloc[-1] > g["uplift"].iloc[0]


def test_scenario_charts(zone):
    s = zone.scenario
    stack = C.capital_stack_frame(s)
    assert list(stack["tranche"][: len(s.capital_tranches)]) == [t.name for t in s.capital_tranches]
    d = spec(C.capital_stack_chart(stack))
    assert {"label", "commitment", "kind"} <= fields(d) and "Commitment (GBP)" in titles(d)
    m = C.maturity_frame(s)
    assert m["share"].between(0, 1).all()
    d = spec(C.maturity_chart(m))
    assert {"year", "share", "partner"} <= fields(d)


def test_comparison_chart(zone):
    edited = simulate(zone.scenario.model_copy(update={"outcomes": [
        o.model_copy(update={"price": o.price * 1.5}) for o in zone.scenario.outcomes]}), n_paths=600, seed=5)
    df = C.comparison_frame(zone, edited)
    assert set(df["scenario"]) == {"Base", "Edited"}
    base_p50 = df[df.scenario == "Base"]["p50"].to_numpy()
    edit_p50 = df[df.scenario == "Edited"]["p50"].to_numpy()
    assert np.all(edit_p50 >= base_p50 - 1e-9)
    d = spec(C.comparison_chart(df))
    assert {"tranche", "p5", "p50", "p95", "scenario"} <= fields(d)


def test_fmt_money():
    assert C.fmt_money(1_234_567, "GBP") == "£1.23m"
    assert C.fmt_money(-4_500, "GBP") == "-£4,500"
    assert C.fmt_money(45_000, "USD") == "$45.0k"
    assert C.fmt_money(float("nan")) == "n/a"
    assert C.fmt_money(12, "CHF") == "CHF 12"


def test_frames_are_small_whatever_the_paths(zone):
    """Charts carry binned or gridded data, not one row per path: their size is set by the bins
    and the grid, the same for 150 paths as for 6,000 (18,000 per-path values, three tranches)."""
    k = len(zone.tranche_names)
    assert k == 3

    def rows(chart) -> int:
        return sum(len(v) for v in chart.to_dict().get("datasets", {}).values())

    for n in (150, 6000):
        r = simulate(zone.scenario, n_paths=n, seed=5)
        per_path = C.distribution_frame(r)
        assert len(per_path) > 0.9 * n * k  # what the charts summarise
        # Histogram: 40 bins over the display range, one more on either side to put the loss
        # line on a bin edge; one row per bin and tranche.
        hist = C.histogram_frame(per_path)
        assert 40 * k <= len(hist) <= 42 * k
        assert rows(C.distribution_chart(r, kind="histogram")) == len(hist)
        # ECDF: 301 grid points per tranche plus the two ends of the axis; a row per tranche
        # for each small layer (labels, loss line).
        assert len(C.ecdf_frame(per_path)) == 303 * k
        assert 303 * k <= rows(C.distribution_chart(r, kind="ecdf")) <= 303 * k + 3 * k
        # Waterfall: a row per step of Results.waterfall, whatever the paths; steps too small
        # to see are netted into one "Other small flows" row.
        full, got = list(r.waterfall("mean")["step"]), list(C.waterfall_frame(r)["step"])
        assert [x for x in got if x != "Other small flows"] == [x for x in full if x in got]
        assert len(full) == 14 and len(got) <= 15


# --------------------------------------------------------------------------------------------
# The deal among real impact bonds (INDIGO)


def _layer_rows(d: dict) -> list[tuple[dict, list[dict]]]:
    """Each layer of a layered spec with the rows of its (named) dataset."""
    return [(layer, d["datasets"][layer["data"]["name"]]) for layer in d["layer"]]


@pytest.fixture(scope="module")
def wlz_terms():
    return headline_terms(load_scenario(_find(LIB, "west_london")))


def test_deals_scatter_frame_converts_as_the_comparison_does(wlz_terms):
    from cib_sim.deals import compare_to_deals

    frame = C.deals_scatter_frame(currency="GBP")
    assert (frame["capital"] > 0).all() and (frame["max_outcome_payment"] > 0).all()
    assert frame["project_id"].is_unique and set(frame["currency"]) == {"GBP"}
    # Every deal with both sizes known is a point, at the values compare_to_deals uses.
    near = compare_to_deals(wlz_terms, k_nearest=1_000).nearest.set_index("project_id")
    near = near[(near["capital_cmp"] > 0) & (near["max_outcome_payment_cmp"] > 0)]
    pts = frame.set_index("project_id")
    assert set(pts.index) == set(near.index)
    np.testing.assert_allclose(pts.loc[near.index, "capital"], near["capital_cmp"], rtol=1e-12)
    np.testing.assert_allclose(pts.loc[near.index, "max_outcome_payment"], near["max_outcome_payment_cmp"], rtol=1e-12)
    # A foreign deal is converted (NZD to GBP), a GBP deal is not.
    assert pts.loc["INDIGO-POJ-0287", "deal_currency"] == "NZD"
    assert pts.loc["INDIGO-POJ-0287", "capital"] < 6_000_000
    assert pts.loc["INDIGO-POJ-0184", "capital"] == pytest.approx(1_815_000)


def test_deals_scatter_has_log_scales_deal_tooltips_and_a_scenario_layer(wlz_terms):
    from cib_sim.deals import compare_to_deals

    frame = C.deals_scatter_frame(currency="GBP")
    nearest = list(compare_to_deals(wlz_terms).nearest["project_id"])
    d = spec(C.deals_scatter_chart(frame, wlz_terms, nearest))
    for ch in ("x", "y"):
        scales = [enc[ch]["scale"] for enc in encodings(d) if "scale" in enc.get(ch, {})]
        assert scales and all(s["type"] == "log" for s in scales), ch
    assert {"capital", "max_outcome_payment", "group"} <= fields(d)
    tips = {t["field"] for enc in encodings(d) for t in enc.get("tooltip", [])}
    assert {"project_id", "name", "sector", "country", "capital", "max_outcome_payment"} <= tips
    text = titles(d)
    assert "Capital committed (GBP, log scale)" in text and "Maximum outcome payments (GBP, log scale)" in text
    layers = _layer_rows(d)
    # Every deal is drawn once; the nearest ones in their own layer.
    deal_rows = [r for _, rows in layers for r in rows if "project_id" in r]
    assert sorted(r["project_id"] for r in deal_rows) == sorted(frame["project_id"])
    near_layer = [rows for _, rows in layers if rows and rows[0].get("group") == "Nearest by size"]
    assert len(near_layer) == 1 and {r["project_id"] for r in near_layer[0]} == set(nearest)
    # A point layer marking the scenario at its own terms, larger than any deal's.
    marks = [(layer, rows) for layer, rows in layers
             if layer["mark"]["type"] == "point" and [r.get("group") for r in rows] == ["This scenario"]]
    assert len(marks) == 1
    layer, rows = marks[0]
    assert rows[0]["capital"] == pytest.approx(wlz_terms["capital"])
    assert rows[0]["max_outcome_payment"] == pytest.approx(wlz_terms["max_outcome_payment"])
    assert layer["mark"]["size"] > max(lay["mark"].get("size", 0) for lay, r in layers if r and "project_id" in r[0])
    colour = layer["encoding"]["color"]["scale"]
    shape = layer["encoding"]["shape"]["scale"]
    i = colour["domain"].index("This scenario")
    assert colour["range"][i] == C.SCENARIO_COLOURS["Edited"] and shape["range"][i] == "diamond"
    # Both axes reach the scenario even when it lies outside every deal.
    big = {**wlz_terms, "capital": 5e10}
    d = spec(C.deals_scatter_chart(frame, big, nearest))
    assert max(enc["x"]["scale"]["domain"][1] for enc in encodings(d) if "scale" in enc.get("x", {})) >= 5e10


def test_deals_scatter_without_a_plottable_scenario_draws_the_deals_only(wlz_terms):
    frame = C.deals_scatter_frame(currency="GBP")
    d = spec(C.deals_scatter_chart(frame, {**wlz_terms, "max_outcome_payment": float("nan")}))
    assert not any(r.get("group") == "This scenario" for _, rows in _layer_rows(d) for r in rows)
    # A currency with no deals: an empty frame still makes a valid chart with the scenario on it.
    empty = C.deals_scatter_frame(currency="XYZ", currency_mode="same")
    assert empty.empty
    d = spec(C.deals_scatter_chart(empty, {**wlz_terms, "currency": "XYZ"}))
    assert "Capital committed (XYZ, log scale)" in titles(d)
