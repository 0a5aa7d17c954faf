"""The Streamlit app, driven headless with ``streamlit.testing.v1.AppTest``, and the plain-data
layer under it (``cib_sim.app.state``).

Edits are simulated the way the browser sends them: a ``st.data_editor``'s state (its key in
session state) is ``{"edited_rows": {row: {column: value}}, "added_rows": [...],
"deleted_rows": [...]}``; an input's value is its key. Keys carry the editor version
(``v<version>:<name>``), which changes when rows are added, deleted or renamed.

The app runs 400 paths here (``CIB_APP_PATHS``) so the whole file takes a few seconds.
The real-browser checks are in ``tests/test_app_browser.py`` (Playwright and Chromium).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cib_sim import simulate
from cib_sim.app import state as A
from cib_sim.deals import headline_terms
from cib_sim.scenario import load_scenario, parse_scenario, scenario_from_yaml

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PATHS = 400
LIBRARY = A.library()


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    """Each test starts with an empty results cache and a small default number of paths."""
    st.cache_data.clear()
    st.cache_resource.clear()
    monkeypatch.setenv("CIB_APP_PATHS", str(PATHS))
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def start(tab: str = "Results") -> AppTest:
    """The app, run once, with main tab ``tab`` open (the Results and Real deals tabs are drawn
    only when open)."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["main_tabs"] = tab
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def key(at: AppTest, name: str) -> str:
    if name in A.MATRICES:
        return f"v{at.session_state['version']}m{at.session_state['matrix_version'] if 'matrix_version' in at.session_state else 0}:{name}"
    return f"v{at.session_state['version']}:{name}"


def strip(at: AppTest) -> str:
    """The summary strip's HTML."""
    return next(m.value for m in at.markdown if 'class="cib-strip"' in m.value)


def edit(at: AppTest, table: str, rows: dict | None = None, added: list | None = None, deleted: list | None = None) -> AppTest:
    at.session_state[key(at, table)] = {"edited_rows": rows or {}, "added_rows": added or [], "deleted_rows": deleted or []}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def chart_titles(spec) -> set[str]:
    """Every title (axis, legend, chart) anywhere in a Vega-Lite spec."""
    if isinstance(spec, list):
        return set().union(*(chart_titles(v) for v in spec))
    if not isinstance(spec, dict):
        return set()
    out = set().union(*(chart_titles(v) for v in spec.values()))
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    return out | {title} if isinstance(title, str) else out


# --------------------------------------------------------------------------------------------
# The app


def test_app_loads_and_runs_the_reference_scenario():
    at = start()
    assert errors(at) == []
    results = at.session_state["results"]
    assert results.n_paths == PATHS
    assert results.scenario.name == load_scenario(LIBRARY[next(iter(LIBRARY))]).name
    m = metrics(at)
    for label in ("Capital committed", "Expected payments", "95th pct payments", "Value for money"):
        assert label in m
    for name in results.tranche_names:
        assert f"{name}: P(loss) · median IRR" in strip(at)
    # Every chart is a Vega-Lite spec, each one of these, told apart by titles only it has (the
    # real-deals chart is on its own tab, the design charts on their design tabs, below).
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert all(s["$schema"].startswith("https://vega.github.io/schema/vega-lite/") for s in specs)
    charts = {
        "waterfall": {"Running total (GBP, over the contract)"},
        "histogram": {"Share of paths", "Multiple of money (x: cash back ÷ capital drawn)"},
        "ECDF": {"Share of paths at or below"},
        "fan of payments": {"Cumulative outcome payments (GBP)", "Median (GBP)"},
        "fan of investors' position": {"Investors' net position (GBP)", "Median (GBP)"},
        "outcomes by partner": {"Outcomes verified per quarter (mean)"},
        "uplift": {"Outcomes above baseline per participant"},
        "comparison": {"Multiple, median", "P(loss)"},
    }
    found = {name: [i for i, s in enumerate(specs) if want <= chart_titles(s)] for name, want in charts.items()}
    assert all(len(hits) == 1 for hits in found.values()), found
    assert sorted(hits[0] for hits in found.values()) == list(range(len(specs)))
    tables = [d.value for d in at.dataframe]
    tranche_table = next(t for t in tables if "Multiple: p5 · p50 · p95" in t.columns)
    assert len(tranche_table) == len(results.tranche_names) and not tranche_table.isna().any().any()
    assert any(any(c.startswith("95th pct spend") for c in t.columns) for t in tables)
    assert not at.get("progress")  # the bar goes once the run is done; the strip says how long it took
    assert f"{PATHS} paths · seed 1" in strip(at)
    # The design tabs draw their charts (only the open tab's: the others are not drawn).
    for tab, want in (("Partners", {"Share of full effect"}), ("Investors", {"Commitment (GBP)"})):
        at.session_state["main_tabs"] = "Design"
        at.session_state["design_tabs"] = tab
        at.run()
        specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
        assert [want <= chart_titles(s) for s in specs] == [True], tab


def test_edited_price_changes_the_headline_figures():
    at = start()
    before = metrics(at)
    price = at.session_state["working"]["outcomes"][1]["price"]
    edit(at, "outcomes", {1: {"price": price * 2}})
    after = metrics(at)
    assert at.session_state["working"]["outcomes"][1]["price"] == price * 2
    assert after["Expected payments"] != before["Expected payments"]
    assert at.session_state["results"].scenario.outcomes[1].price == price * 2
    # Headline cards show the change against the base scenario.
    assert any(m.delta and "vs base" in m.delta for m in at.metric if m.label == "Expected payments")
    assert errors(at) == []


def test_bad_price_shows_an_error_naming_the_field_and_keeps_other_edits():
    at = start()
    at.session_state[key(at, "backbone.cost")] = "123,456"  # typed with a thousands separator
    edit(at, "outcomes", {0: {"price": -5.0}, 2: {"lag": 1.5}})
    errs = errors(at)
    assert errs, "a negative price must be reported"
    assert any("row 1 (" in e and "Price (GBP/outcome): must be >= 0" in e for e in errs)
    assert not at.exception
    w = at.session_state["working"]
    assert w["outcomes"][0]["price"] == -5.0  # what the user typed stays
    assert w["outcomes"][2]["lag"] == 1.5
    assert w["backbone"]["cost"] == 123_456.0
    # The last valid results stay, flagged as out of date.
    assert "at the last run" in strip(at)
    assert "Expected payments" in metrics(at)
    # Fixing the price clears the error and keeps the other edits.
    edit(at, "outcomes", {0: {"price": 900.0}, 2: {"lag": 1.5}})
    assert errors(at) == []
    s = at.session_state["results"].scenario
    assert s.outcomes[0].price == 900.0 and s.outcomes[2].lag == 1.5 and s.backbone.cost == 123_456.0


def test_share_above_one_shows_an_error_in_the_commissioners_section():
    at = start()
    edit(at, "shares", {0: {"o1": 1.5}})
    errs = errors(at)
    assert any("row 1 (" in e and "Share of " in e and "between 0 and 1" in e for e in errs)
    assert any("Commissioners" in e for e in errs)  # the banner names the section
    assert not at.exception


def test_adding_a_partner_rebuilds_the_tables_and_keeps_edits():
    at = start()
    v0 = at.session_state["version"]
    m0 = at.session_state["matrix_version"] if "matrix_version" in at.session_state else 0
    price = at.session_state["working"]["outcomes"][0]["price"] + 11
    edit(at, "outcomes", {0: {"price": price}})
    n = len(at.session_state["working"]["partners"])
    edit(at, "partners", added=[{"name": "New charity", "cost": 500.0}])
    # The partners table keeps its state (nothing typed into the new row is lost); the tables
    # that depend on the partners are rebuilt with a row for it.
    assert at.session_state["version"] == v0 and at.session_state["matrix_version"] > m0
    w = at.session_state["working"]
    assert [p["name"] for p in w["partners"]][-1] == "New charity"
    assert len(w["partners"]) == n + 1
    assert w["outcomes"][0]["price"] == price
    frames = at.session_state["frames"]
    assert list(frames["effect_mean"]["Partner"])[-1] == "New charity"
    # Give it an effect in the rebuilt matrix. (The Design tab is closed here, so the partners
    # table is not drawn: its edits were folded into its base table, as when a person types into
    # it and moves to another tab; its state starts afresh.)
    assert list(at.session_state["frames"]["partners"]["name"])[-1] == "New charity"
    edit(at, "effect_mean", {n: {"o1": "0.05"}})
    assert at.session_state["working"]["partners"][n]["effect"][w["outcomes"][1]["name"]] == {"mean": 0.05}
    assert errors(at) == []


def test_only_the_open_design_tab_draws_its_tables_and_edits_are_kept_when_it_closes():
    """The tables of a closed design tab are not drawn (a good part of each rerun): their edits
    are folded into their base tables, once, so nothing typed is lost or applied twice."""
    at = start("Design")
    at.session_state["design_tabs"] = "Partners"
    at.run()
    n = len(at.session_state["working"]["partners"])
    edit(at, "partners", {0: {"cost": "1,234"}}, added=[{"name": "Music therapy", "cost": "800"}])
    assert len(at.session_state["working"]["partners"]) == n + 1
    # Another tab: the partners table is not drawn; its edits are now its base table.
    at.session_state["design_tabs"] = "Outcomes & rate card"
    at.run()
    assert not at.exception
    frame = at.session_state["frames"]["partners"]
    assert list(frame["name"])[-1] == "Music therapy" and frame["cost"].iloc[0] == "1,234"
    assert key(at, "partners") not in at.session_state
    w = at.session_state["working"]
    assert len(w["partners"]) == n + 1 and w["partners"][0]["cost"] == 1234 and w["partners"][-1]["cost"] == 800
    # Back again: drawn from the folded table; an edit on top of it keeps the rest.
    at.session_state["design_tabs"] = "Partners"
    at.run()
    edit(at, "partners", {1: {"cost": "2k"}})
    w = at.session_state["working"]
    assert [p["cost"] for p in w["partners"]][:2] == [1234, 2000] and len(w["partners"]) == n + 1
    assert [p["name"] for p in w["partners"]].count("Music therapy") == 1


def test_renaming_an_outcome_carries_its_effects_and_shares():
    at = start()
    w = at.session_state["working"]
    old = w["outcomes"][1]["name"]
    effect = w["partners"][0]["effect"][old]
    share = w["commissioners"][0]["shares"][old]
    edit(at, "outcomes", {1: {"name": "renamed"}})
    w = at.session_state["working"]
    assert w["outcomes"][1]["name"] == "renamed"
    assert w["partners"][0]["effect"]["renamed"] == effect and old not in w["partners"][0]["effect"]
    assert w["commissioners"][0]["shares"]["renamed"] == share
    assert errors(at) == []


def test_reordering_tranches_by_seniority():
    at = start()
    names = [t["name"] for t in at.session_state["working"]["tranches"]]
    edit(at, "tranches", {0: {"seniority": 2.5}})
    got = [t["name"] for t in at.session_state["working"]["tranches"]]
    assert got == [names[1], names[0], names[2]] + names[3:]
    assert list(at.session_state["frames"]["tranches"]["seniority"]) == [str(i) for i in range(1, len(names) + 1)]


def test_autorun_off_waits_for_the_run_button():
    at = start()
    at.toggle(key="autorun").set_value(False).run()
    first = at.session_state["results"]
    price = at.session_state["working"]["outcomes"][1]["price"]
    edit(at, "outcomes", {1: {"price": price + 500}})
    assert at.session_state["results"] is first or at.session_state["results"].scenario == first.scenario
    assert "at the last run" in strip(at)
    at.button(key="run").click().run()
    assert at.session_state["results"].scenario.outcomes[1].price == price + 500


def test_pinned_base_is_compared_against():
    at = start()
    price = at.session_state["working"]["outcomes"][1]["price"]
    edit(at, "outcomes", {1: {"price": price * 3}})
    at.button(key="pin").click().run()
    assert "pinned" in at.session_state["reference_label"]
    assert at.session_state["reference"]["outcomes"][1]["price"] == price * 3
    # Now the edited scenario is the base: no change against it.
    assert not any(m.delta for m in at.metric if m.label == "Expected payments")
    # Reloading the library scenario discards the edits.
    at.button(key="reload").click().run()
    assert at.session_state["working"]["outcomes"][1]["price"] == price


def test_paths_and_seed_controls():
    at = start()
    at.number_input(key="n_paths").set_value(300).run()
    at.number_input(key="seed").set_value(7).run()
    r = at.session_state["results"]
    assert (r.n_paths, r.seed) == (300, 7)


def test_waterfall_switches_between_mean_and_median():
    at = start()
    at.radio(key="waterfall_stat").set_value("Median path").run()
    assert not at.exception
    at.radio(key="risk_what").set_value("IRR").run()
    assert not at.exception
    specs = " ".join(c.proto.spec for c in at.get("vega_lite_chart"))
    assert "IRR (per year)" in specs


def test_every_library_scenario_loads_and_runs():
    at = start()
    for label in list(LIBRARY)[1:] + list(LIBRARY)[:1]:
        at.selectbox(key="library_choice").set_value(label).run()
        assert not at.exception, label
        assert errors(at) == [], label
        assert at.session_state["results"].scenario == load_scenario(LIBRARY[label])


def test_uploaded_yaml_becomes_the_scenario_and_its_errors_show():
    at = start()
    s = load_scenario(LIBRARY[next(iter(LIBRARY))])
    d = A.scenario_dict(s)
    d["name"] = "Uploaded deal"
    d["outcomes"][0]["price"] = -1.0
    import yaml

    at.file_uploader(key="upload").set_value(("deal.yaml", yaml.safe_dump(d).encode(), "application/x-yaml")).run()
    assert not at.exception
    assert at.session_state["working"]["name"] == "Uploaded deal"
    assert any("row 1 (" in e and "Price (GBP/outcome)" in e for e in errors(at))
    assert any("row 1 (" in w.value and "Price (GBP/outcome)" in w.value for w in at.warning)  # reported on load, too
    # Odd shapes are shown as errors, never raised.
    odd = "name: odd\nhorizon: 5\noutcomes: {a: 1}\npartners: [3]\ncommissioners: []\ntranches: [{name: t}]\n"
    at.file_uploader(key="upload").set_value(("odd.yaml", odd.encode(), "application/x-yaml")).run()
    assert not at.exception
    assert any("horizon" in e for e in errors(at))
    at.file_uploader(key="upload").set_value(("bad.yaml", b"a: [", "application/x-yaml")).run()
    assert not at.exception
    assert any("not valid YAML" in w.value for w in at.warning)
    assert at.session_state["working"]["name"] == "odd"  # the last good load stays


def test_downloads_are_offered():
    at = start()
    labels = [b.label for b in at.get("download_button")]
    for want in ["Scenario (YAML)", "Workbook (Excel)", "Summary (CSV)", "Path results (Parquet)"]:
        assert want in labels


def _deal_tables(at: AppTest) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The percentile table and the nearest-deals table of the real-deals section."""
    tables = [d.value for d in at.dataframe]
    pct = next(t for t in tables if "Percentile among real deals" in t.columns)
    near = next(t for t in tables if list(t.columns[:2]) == ["Project", "Name"])
    return pct, near


def _capital_percentile(at: AppTest) -> float:
    pct, _ = _deal_tables(at)
    return float(pct.loc[pct["Measure"].str.startswith("Capital committed"), "Percentile among real deals"].iloc[0])


def test_real_deals_section_follows_the_edits_without_a_simulation():
    at = start("Real deals")
    assert "Compared with real deals" in [h.value for h in at.subheader]
    pct, near = _deal_tables(at)
    assert pct["Measure"].iloc[0] == "Capital committed (GBP)" and pct["Percentile among real deals"].between(0, 100).all()
    assert len(near) == 5 and near["Project"].str.startswith("INDIGO-POJ-").all()
    assert near["Project"].iloc[0] == "INDIGO-POJ-0184"  # the reference scenario is calibrated to this deal
    assert any("Capital committed (GBP, log scale)" in c.proto.spec for c in at.get("vega_lite_chart"))
    # With automatic runs off, a bigger commitment moves the capital percentile at once.
    at.toggle(key="autorun").set_value(False).run()
    before = _capital_percentile(at)
    commitment = at.session_state["working"]["tranches"][0]["commitment"]
    edit(at, "tranches", {0: {"commitment": commitment * 20}})
    after = _capital_percentile(at)
    assert after > before
    assert at.session_state["results"].scenario.tranches[0].commitment == commitment  # nothing was simulated
    # An invalid commitment: an error, and the comparison of the last valid scenario stays.
    edit(at, "tranches", {0: {"commitment": -1.0}})
    assert any("row 1 (" in e and "Commitment (GBP)" in e for e in errors(at))
    assert _capital_percentile(at) == after
    assert any("last valid scenario" in c.value for c in at.caption)


# --------------------------------------------------------------------------------------------
# The plain-data layer


def test_real_deals_tables_report_the_comparison():
    from cib_sim.deals import compare_to_deals

    s = load_scenario(LIBRARY[next(iter(LIBRARY))])
    view = A.real_deals(headline_terms(s))
    assert view.note == "" and view.n_deals > len(view.points) > 50
    comp = compare_to_deals(s)
    pd.testing.assert_frame_equal(view.comparison.percentiles, comp.percentiles)
    pct = A.deal_percentile_table(view.comparison)
    assert list(pct.columns) == ["Measure", "This scenario", "Percentile among real deals", "Deals compared",
                                 "Median of real deals"]
    assert list(pct["Percentile among real deals"]) == pytest.approx(list(comp.percentiles["percentile"].round(1)))
    assert pct["Measure"].iloc[0] == "Capital committed (GBP)" and pct["This scenario"].iloc[0] == "£1.81m"
    near = A.nearest_deals_table(view.comparison)
    assert list(near["Project"]) == list(comp.nearest["project_id"])
    # A deal in another currency shows the converted amount and, in brackets, the published one.
    nz = near[near["Project"] == "INDIGO-POJ-0287"]
    assert nz["Capital (GBP)"].iloc[0].startswith("£") and "(NZ$6.00m)" in nz["Capital (GBP)"].iloc[0]
    # A currency with no exchange rate compares money only with deals in that currency (none).
    odd = A.real_deals({**headline_terms(s), "currency": "XYZ"})
    assert "no exchange rate for XYZ" in odd.note and odd.points.empty and odd.comparison.nearest.empty
    money = A.deal_percentile_table(odd.comparison).set_index("Measure")
    assert money.loc["Capital committed (XYZ)", "Deals compared"] == 0
    assert money.loc["Participants", "Deals compared"] > 0


@pytest.mark.parametrize("label", list(LIBRARY))
def test_tables_round_trip_every_library_scenario(label):
    s = load_scenario(LIBRARY[label])
    d = A.scenario_dict(s)
    scalars = {f.path: A.scalar_default(d, f.path) for fields in A.SCALARS.values() for f in fields}
    back = A.compose(d, scalars, A.build_frames(d))
    assert A.table_problems(d, A.build_frames(d)) == []
    assert parse_scenario(back) == s


def test_every_scenario_field_is_editable():
    """Each field of the scenario model has an input, a table column or a matrix in the app."""
    from cib_sim.scenario import (
        Comparison,
        CountMeasure,
        Maturity,
        PartnerContract,
        Scenario,
    )

    sub_models = {"maturity": Maturity, "contract": PartnerContract, "count": CountMeasure, "comparison": Comparison}

    scalar_paths = {f.path for fields in A.SCALARS.values() for f in fields}
    list_paths = {path for path, _ in A.LIST_TABLES.values()}
    from cib_sim.scenario import BreakClause, DeferredFee, Step, Tier

    for cols, model in ((A.FEE_COLS, DeferredFee), (A.BREAK_COLS, BreakClause), (A.STEP_COLS[1:], Step),
                        (A.TIER_COLS[1:], Tier)):
        assert [c.field for c in cols] == list(model.model_fields), model.__name__
    for name, field in Scenario.model_fields.items():
        sub = field.annotation
        if name in A.ENTITY_COLS:
            cols = {c.field for c in A.ENTITY_COLS[name]} | A.EDITED_ELSEWHERE[name]
            model = A.ENTITY_MODEL[name]
            for f in model.model_fields:
                if f in sub_models:
                    missing = {f"{f}.{g}" for g in sub_models[f].model_fields} - cols
                    assert not missing, f"{name}.{f}: {sorted(missing)} have no column in the app"
                else:
                    assert f in cols, f"{name}.{f} has no column in the app"
        elif hasattr(sub, "model_fields"):
            for f in sub.model_fields:
                if (name, f) == ("delivery", "split") or f"{name}.{f}" in list_paths:
                    continue  # the fixed-split table, the list terms' tables
                assert f"{name}.{f}" in scalar_paths, f"{name}.{f} has no input in the app"
        elif name in list_paths:
            continue  # a table of its own (below)
        else:
            assert name in scalar_paths, f"{name} has no input in the app"


def test_new_rows_take_the_model_defaults():
    s = load_scenario(LIBRARY[next(iter(LIBRARY))])
    d = A.scenario_dict(s)
    frames = A.build_frames(d)
    scalars = {f.path: A.scalar_default(d, f.path) for fields in A.SCALARS.values() for f in fields}
    new = pd.concat([frames["tranches"], pd.DataFrame([{"name": "Grant", "kind": "grant", "commitment": 5.0}])],
                    ignore_index=True)
    out = A.compose(d, scalars, {**frames, "tranches": new})
    t = out["tranches"][-1]
    assert t["name"] == "Grant" and t["coupon"] == 0.0 and t["cap_multiple"] is None
    assert A.tables_restructured({**frames, "tranches": new})


def test_errors_go_to_their_sections():
    errs = [("outcomes[0].price", "must be >= 0"), ("commissioners", "shares sum to 1.2"),
            ("terms.excess_split", "must be <= 1"), ("currency", "too long"), ("horizon.years", "must be > 0")]
    by = A.errors_by_section(errs, {"outcomes": [{"name": "job"}]})
    assert by["outcomes"] == ["row 1 (job) · Price (GBP/outcome): must be >= 0"]
    assert A.describe_error("partners[4].name", "required") == "Partners · row 5 · Partner: required"
    assert A.describe_error("horizon.years", "must be > 0") == "Horizon · Contract length (years): must be > 0"
    assert set(by) == {"outcomes", "commissioners", "backbone", "general", "horizon"}


def test_misspelt_fields_in_an_upload_are_left_out_and_reported():
    s = load_scenario(LIBRARY[next(iter(LIBRARY))])
    d = A.scenario_dict(s)
    d["outcomes"][0]["prise"] = 5
    d["colour"] = "red"
    import yaml

    got, errs = A.read_yaml(yaml.safe_dump(d))
    assert "prise" not in got["outcomes"][0] and "colour" not in got
    assert ("outcomes[0].prise", "unknown field (check the spelling); left out") in errs
    assert parse_scenario(got) == s


def test_validate_never_raises():
    assert A.validate({"name": 3})[0] is None
    assert A.validate([])[1]
    assert A.read_yaml("a: [")[0] is None
    assert A.read_yaml("- 1\n- 2")[0] is None


def test_yaml_download_loads_back_identically():
    for path in LIBRARY.values():
        s = load_scenario(path)
        assert scenario_from_yaml(A.scenario_yaml_bytes(s).decode()) == s


def test_summary_csv_and_parquet_downloads():
    s = load_scenario(LIBRARY[next(iter(LIBRARY))])
    r = simulate(s, n_paths=300, seed=3)
    csv = pd.read_csv(io.BytesIO(A.summary_csv_bytes(r.summary())))
    assert list(csv.columns) == ["group", "name", "metric", "value", "unit"]
    table = pq.read_table(io.BytesIO(A.results_parquet_bytes(r)))
    assert table.num_rows == 300
    meta = table.schema.metadata
    assert scenario_from_yaml(meta[b"cib_sim.scenario"].decode()) == s and meta[b"cib_sim.seed"] == b"3"
    comp = A.comparison_table(r.summary(), r.summary(), s.currency)
    assert set(comp["Change"]) <= {"–", "n/a"}


def _scalars(d: dict) -> dict:
    return {f.path: A.scalar_default(d, f.path) for fields in A.SCALARS.values() for f in fields}


def test_list_terms_are_tables_read_exactly_and_named_by_row():
    """Break clauses and deferred fees are tables: numbers read exactly, empty cells take the
    model's defaults (or say "required"), a cell that is not a number is named by row (from 1)
    and column and keeps its text, a blank new row is not part of the scenario yet."""
    s = load_scenario(LIBRARY[next(iter(LIBRARY))])
    d = A.scenario_dict(s)
    frames = A.build_frames(d)
    assert list(frames["breaks"].columns) == [c.field for c in A.BREAK_COLS] and frames["breaks"].empty
    breaks = pd.DataFrame([{"at": "2", "trigger": "1m"}, {}], columns=frames["breaks"].columns)
    fees = pd.DataFrame([{"name": "margin", "amount": "abc", "behind": s.tranches[0].name}],
                        columns=frames["fees"].columns)
    problems: list = []
    out = A.compose(d, _scalars(d), {**frames, "breaks": breaks, "fees": fees}, problems)
    assert out["breaks"] == [{"at": 2.0, "trigger": 1_000_000.0}]  # the blank row left out
    assert out["terms"]["deferred_fees"] == [{"name": "margin", "amount": "abc", "behind": s.tranches[0].name}]
    assert [p for p, _ in problems] == ["terms.deferred_fees[0].amount"]
    scenario, errs = A.check(out, problems)
    assert scenario is None
    assert A.errors_by_section(errs, out)["backbone"] == [
        'Deferred fees · row 1 (margin) · Amount (GBP): "abc" is not a number (write it as 1500, 1,500, 1.5k or 1.5e3)']
    fees.loc[0, "amount"] = "200k"
    problems = []
    out = A.compose(d, _scalars(d), {**frames, "breaks": breaks, "fees": fees}, problems)
    scenario, errs = A.check(out, problems)
    assert errs == [] and scenario.breaks[0].measure == "earned" and scenario.breaks[0].trigger == 1e6
    assert scenario.terms.deferred_fees[0].amount == 200_000 and scenario.terms.deferred_fees[0].payee == "intermediary"
    # An empty required cell says "required", on the Backbone & terms tab.
    breaks.loc[0, "trigger"] = None
    out = A.compose(d, _scalars(d), {**frames, "breaks": breaks, "fees": fees})
    assert A.errors_by_section(A.validate(out)[1], out)["backbone"] == ["Break clauses · row 1 · Trigger: required"]
    # And back: the tables of the composed scenario give it again.
    d2 = A.scenario_dict(scenario)
    assert parse_scenario(A.compose(d2, _scalars(d2), A.build_frames(d2))) == scenario


def test_lump_sum_schedule_is_a_table_of_steps_per_outcome():
    s = load_scenario(LIBRARY[next(iter(LIBRARY))])
    d = A.scenario_dict(s)
    frames = A.build_frames(d)
    name = s.outcomes[1].name
    outcomes = frames["outcomes"].copy()
    outcomes.loc[1, "payment_basis"] = "lump_sum"
    steps = pd.DataFrame([{"outcome": name, "min_improvement": "5%", "amount": "100k"},
                          {"outcome": name, "min_improvement": "0.1", "amount": "250,000"},
                          {}], columns=frames["schedule"].columns)
    problems: list = []
    out = A.compose(d, _scalars(d), {**frames, "outcomes": outcomes, "schedule": steps}, problems)
    scenario, errs = A.check(out, problems)
    assert errs == [], errs
    assert [(st_.min_improvement, st_.amount) for st_ in scenario.outcomes[1].schedule] == [(0.05, 1e5), (0.1, 2.5e5)]
    # Built back into the table (attached to its outcome by row), and composed again: the same.
    d2 = A.scenario_dict(scenario)
    f2 = A.build_frames(d2)
    assert list(f2["schedule"]["amount"]) == ["100,000", "250,000"] and list(f2["schedule"]["outcome_id"]) == [1.0, 1.0]
    assert parse_scenario(A.compose(d2, _scalars(d2), f2)) == scenario
    # A falling amount is named by outcome row, step and column; a step without an outcome too.
    steps.loc[1, "amount"] = "50k"
    steps.loc[2, "amount"] = "7"
    out = A.compose(d, _scalars(d), {**frames, "outcomes": outcomes, "schedule": steps})
    errs = A.validate(out)[1] + A.table_problems(out, {**frames, "schedule": steps})
    lines = A.errors_by_section(errs, out)["outcomes"]
    assert any(line.startswith(f"row 2 ({name}) · Lump-sum step 2, Amount (GBP): must not be below") for line in lines), lines
    assert "lump-sum step row 3: choose the outcome it belongs to" in lines


def test_list_terms_in_the_app_count_their_errors_on_the_tab():
    at = start("Design")
    edit(at, "breaks", added=[{"at": "2"}])
    assert "Break clauses · row 1 · Trigger: required" in errors(at)
    assert any(t.label == "Backbone & terms ⚠ 1" for t in at.tabs)
    edit(at, "breaks", {0: {"trigger": "1m"}})  # the row typed so far is its table's now (the tab is closed)
    assert errors(at) == [] and at.session_state["working"]["breaks"] == [{"at": 2.0, "trigger": 1e6}]


def test_nothing_typed_gives_a_traceback():
    """Odd text in every kind of input: errors on the page, never an exception."""
    at = start("Design")
    odd = ["abc", "1,5OO", "-1e400", "", " ", "1e3", "nan", "∞", "0x10", "12%", "1.5k"]
    for i, text in enumerate(odd):
        at.session_state[key(at, "horizon.years")] = text
        at.session_state[key(at, "currency")] = text
        edit(at, "tranches", {0: {"seniority": text, "commitment": text}})
        edit(at, "shares", {0: {"o1": text}})
        edit(at, "tiers", added=[{"outcome": "nope" if i % 2 else None, "price": text}])
        assert not at.exception, text
    # Cases with odd shocks are reported, not raised.
    at.session_state["main_tabs"] = "Cases"
    at.run()
    at.session_state["cases_editor"] = {"edited_rows": {1: {"Changes": "exit:Nobody@x + prices:abc"}},
                                        "added_rows": [{"Case": "Base"}], "deleted_rows": []}
    at.run()
    assert not at.exception


def test_table_columns_take_numbers_as_text_and_their_options():
    """Every number column is a text column (so what is typed is read exactly); a select column
    takes the options it is given (outcomes' or tranches' names); the row id is hidden."""
    from cib_sim.app import editors as E

    cfg = E.column_config(st, A.FEE_COLS, "USD", {"behind": ["Senior", "Junior"]})
    assert cfg["_id"] is None and cfg["_index"]["label"] == "Row"
    assert cfg["amount"]["type_config"]["type"] == "text" and cfg["amount"]["label"] == "Amount (USD)"
    assert "1.5k" in cfg["amount"]["help"]
    assert cfg["behind"]["type_config"] == {"type": "selectbox", "options": ["Senior", "Junior"]}
    assert cfg["payee"]["type_config"]["options"] == ["intermediary", "partners"]
    steps = E.column_config(st, A.STEP_COLS, "GBP", {"outcome": ["job"]}, hidden=("outcome_id",))
    assert steps["outcome_id"] is None and "_id" not in steps and steps["amount"]["label"] == "Amount (GBP)"
