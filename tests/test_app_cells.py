"""Safe data entry, without Streamlit: numbers typed as text (:mod:`cib_sim.app.cells`), edited
tables back to a scenario dict with their problems named by row (from 1) and column
(:mod:`cib_sim.app.state`), suspicious values, and the draft YAML that keeps a file's comments."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cib_sim.app import state as A
from cib_sim.app.cells import NotANumber, format_number, parse_number
from cib_sim.scenario import load_scenario, parse_scenario

LIBRARY = A.library()
WLZ = LIBRARY[next(iter(LIBRARY))]


@pytest.mark.parametrize("text, value", [
    ("1500", 1500.0), ("1,500", 1500.0), ("1,500,000.5", 1_500_000.5), ("1.5k", 1500.0), ("1.1k", 1100.0),
    ("2m", 2e6), ("1.2bn", 1.2e9), ("1e3", 1000.0), ("2.5E-2", 0.025), ("25%", 0.25), (" -3 ", -3.0),
    ("\u22123", -3.0), (".5", 0.5), ("£1,500", 1500.0), ("", None), ("  ", None), (None, None), (7, 7.0),
])
def test_numbers_are_read_exactly(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["1,5OO", "1,5", "0,5", "abc", "1.5.2", "nan", "inf", "1e400", "+", ".", "12 34",
                                  "1,50,000", "1k5", True])
def test_text_that_is_not_a_number_is_refused_not_changed(text):
    with pytest.raises(NotANumber):
        parse_number(text)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_a_cell_shows_a_number_that_reads_back_to_the_same_float(x):
    assert parse_number(format_number(x)) == x


def _wlz():
    d, errs = A.read_yaml(WLZ.read_text())
    assert errs == []
    frames = A.build_frames(d)
    scalars = {f.path: A.scalar_default(d, f.path) for fs in A.SCALARS.values() for f in fs}
    return d, frames, scalars


def _compose(d, frames, scalars, **edits):
    tables = {k: A.apply_edits(v, edits.get(k)) for k, v in frames.items()}
    problems: list = []
    w = A.compose(d, scalars, tables, problems)
    problems += A.table_problems(w, tables)
    return w, A.check(w, problems), tables


def test_a_cell_that_is_not_a_number_is_named_and_the_other_edits_kept():
    d, frames, scalars = _wlz()
    w, (scenario, errors), _ = _compose(d, frames, {**scalars, "backbone.cost": "150k"}, partners={
        "edited_rows": {0: {"cost": "1,5OO"}, 1: {"cost": "1e3"}, 2: {"reach": "abc"}}})
    assert scenario is None
    msgs = [A.describe_error(p, r, w) for p, r in errors]
    assert msgs == [
        'Partners · row 1 (Academic tutoring) · Cost (GBP/participant): "1,5OO" is not a number '
        "(write it as 1500, 1,500, 1.5k or 1.5e3)",
        'Partners · row 3 (Therapeutic support) · Reach (zone, 0–1): "abc" is not a number '
        "(write it as 1500, 1,500, 1.5k or 1.5e3)",
    ]
    assert w["partners"][0]["cost"] == "1,5OO"  # kept as typed, for the draft and the editor
    assert w["partners"][1]["cost"] == 1000.0 and w["backbone"]["cost"] == 150_000.0


def test_all_errors_are_reported_at_once():
    d, frames, scalars = _wlz()
    w, (scenario, errors), _ = _compose(
        d, frames, {**scalars, "horizon.years": "-1"},
        outcomes={"edited_rows": {0: {"price": "-5"}, 1: {"lag": "x"}}},
        shares={"edited_rows": {0: {"o1": "1.5"}}},
        tranches={"edited_rows": {1: {"commitment": "-2"}}})
    paths = {p for p, _ in errors}
    assert {"outcomes[1].lag", "outcomes[0].price", "tranches[1].commitment", "horizon.years"} <= paths, errors
    assert any(p.startswith("commissioners[0].shares") for p in paths), errors


def test_a_new_row_keeps_what_is_typed_and_its_defaults_are_flagged():
    d, frames, scalars = _wlz()
    # The browser adds an empty row first, then the typed cell: neither loses anything.
    w, (_, errors), tables = _compose(d, frames, scalars, partners={"added_rows": [{}]})
    assert errors == [] and A.rebuild_needed(tables, w, d, A.entity_names(d)) is None  # blank: not there yet
    w, (_, errors), tables = _compose(d, frames, scalars, partners={"added_rows": [{"reach": "0.2"}]})
    assert A.rebuild_needed(tables, w, d, A.entity_names(d)) == "matrices"  # the partners table is left alone
    assert ("partners[4].name", "required") in errors
    assert A.describe_error("partners[4].name", "required", w) == "Partners · row 5 · Partner: required"
    w, (_, errors), tables = _compose(d, frames, scalars, partners={"added_rows": [{"name": "Music", "reach": "0.2"}]})
    assert w["partners"][4]["name"] == "Music" and w["partners"][4]["reach"] == 0.2
    flagged = dict(A.suspicious(w, d))
    assert "partners[4].cost" in flagged and "partners[4]" in flagged  # cost 0 and no effect
    assert "partners[4].reach" not in flagged
    _, _, tables = _compose(d, frames, scalars, partners={"added_rows": [{"name": "Music", "reach": "1"}]})
    assert "partners[4].reach" in dict(A.suspicious(A.compose(d, scalars, tables), d))
    assert not A.suspicious(d, d)  # the loaded scenario itself is not flagged


def test_dependent_tables_follow_new_and_deleted_rows_by_name():
    d, frames, scalars = _wlz()
    added = {"added_rows": [{"name": "A", "cost": "1"}, {"name": "B", "cost": "2"}]}
    w, _, tables = _compose(d, frames, scalars, partners=added)
    rebuilt = {**frames, **A.build_matrices(w)}
    names = A.matrix_columns(w)
    eff = A.apply_edits(rebuilt["effect_mean"], {"edited_rows": {4: {"o1": "0.1"}, 5: {"o1": "0.2"}}})
    w2 = A.compose(d, scalars, {**tables, "effect_mean": eff}, column_names=names)
    assert w2["partners"][4]["effect"]["engagement"]["mean"] == 0.1
    assert w2["partners"][5]["effect"]["engagement"]["mean"] == 0.2
    # Delete the new row A: B keeps its own effect, not A's.
    only_b = {**tables, "partners": A.apply_edits(frames["partners"], {"added_rows": [{"name": "B", "cost": "2"}]}),
              "effect_mean": eff}
    w3 = A.compose(d, scalars, only_b, column_names=names)
    assert [p["name"] for p in w3["partners"]][-1] == "B"
    assert w3["partners"][4]["effect"]["engagement"]["mean"] == 0.2


def test_apply_edits_follows_the_editor_state():
    frame = pd.DataFrame({"_id": [0.0, 1.0, 2.0], "name": ["a", "b", "c"], "cost": ["1", "2", "3"]})
    out = A.apply_edits(frame, {"edited_rows": {"1": {"cost": "20"}}, "deleted_rows": [0],
                                "added_rows": [{"name": "d"}]})
    assert list(out["name"]) == ["b", "c", "d"] and list(out["cost"])[:2] == ["20", "3"]
    assert pd.isna(out["_id"].iloc[-1]) and pd.isna(out["cost"].iloc[-1])
    assert A.apply_edits(frame, None).equals(frame) and A.apply_edits(frame, {"edited_rows": {}}) is frame


def test_draft_yaml_keeps_the_file_comments_and_what_was_typed():
    text = WLZ.read_text()
    d, _ = A.read_yaml(text)
    w = copy.deepcopy(d)
    w["outcomes"][0]["price"] = 1234.0
    w["partners"][0]["cost"] = "1,5OO"
    out = A.draft_yaml(w, text, d).decode()
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert comments and all(c in out for c in comments)
    changed = [(a, b) for a, b in zip(text.splitlines(), out.splitlines()) if a != b]
    assert len(changed) == 2, changed  # only the two edited lines
    back, errs = A.read_yaml(out)
    assert back["outcomes"][0]["price"] == 1234.0 and back["partners"][0]["cost"] == "1,5OO"
    assert errs == [("partners[0].cost", "must be a number")]
    # Without a source file: every field, still loadable.
    plain, errs = A.read_yaml(A.draft_yaml(d))
    assert errs == [] and parse_scenario(plain) == load_scenario(WLZ)
    assert A.file_stem("West London Zone CIB (LCF)") == "west_london_zone_cib_lcf" and A.file_stem(None) == "scenario"
