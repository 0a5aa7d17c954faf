"""cib_sim app: design an outcomes contract, simulate it, and read its risks.

    streamlit run app.py

The page: a summary strip kept in view at the top (per tranche P(loss) and median IRR, payments
expected and their 95th percentile, value for money, each against the base run), then tabs:
**Design** (the deal's terms and every part of the scenario, in sub-tabs that carry their error
counts), **Results**, **Cases** (base, upside, downside and the user's own, on common random
numbers), **Sensitivity** (one-way and two-way tables, tornado, break-even solver), **Real deals**
(the terms among the INDIGO impact bonds) and **Learning** (observed quarters update the
projections). The sidebar loads, runs, pins the base and downloads (a draft YAML even with errors,
and an Excel workbook).

Editing: every number is typed as text and read by :mod:`cib_sim.app.cells` (``1.5k``, ``1e3``,
``1,500``; anything else is "not a number", naming the cell). The tables' edits are read from the
editors' state before the page is drawn (:func:`cib_sim.app.tables.apply_edits`), so every error is
known, and counted on its tab, in one pass. See ``cib_sim/app/state.py`` for the modules behind it.

Settings: ``CIB_APP_PATHS`` (environment) or ``?paths=`` (URL) sets the default number of paths;
``?seed=`` the default seed; ``?autorun=0`` starts with automatic runs off.
"""

from __future__ import annotations

import os
import time

import pandas as pd
import streamlit as st

from cib_sim import charts as C
from cib_sim import simulate
from cib_sim.app import editors as E
from cib_sim.app import state as A
from cib_sim.app import summary as SM
from cib_sim.app.cells import format_number
from cib_sim.app.nowcast import render_nowcast
from cib_sim.app.real_deals_page import deal_terms, render_deal_terms, render_real_deals
from cib_sim.app.results_page import RunView, render_results
from cib_sim.results import Results
from cib_sim.scenario import Scenario

st.set_page_config(page_title="CIB simulator", page_icon="📈", layout="wide", initial_sidebar_state="expanded",
                   menu_items={"Get help": None, "Report a bug": None, "About": "Collective Impact Bond simulator (cib_sim)"})
st.markdown(SM.STRIP_CSS, unsafe_allow_html=True)
ss = st.session_state
_T0 = time.perf_counter()
_TIMING = os.environ.get("CIB_APP_TIMING") == "1"


def _tick(label: str) -> None:
    """With ``CIB_APP_TIMING=1``: how long the run has taken up to ``label`` (on stderr)."""
    if _TIMING:
        import sys

        print(f"[timing] {label}: {time.perf_counter() - _T0:.3f} s (wall clock {time.time():.3f})", file=sys.stderr,
              flush=True)


_tick("started")


def _int_param(name: str, default: int) -> int:
    try:
        return int(st.query_params.get(name, default))
    except (TypeError, ValueError):
        return default


DEFAULT_PATHS = _int_param("paths", int(os.environ.get("CIB_APP_PATHS", "10000")))
DEFAULT_SEED = _int_param("seed", 1)
DEFAULT_AUTORUN = st.query_params.get("autorun", "1") not in ("0", "false", "no")


# --------------------------------------------------------------------------------------------
# Simulation, cached on the scenario's JSON, the number of paths and the seed


@st.cache_resource(max_entries=8, show_spinner=False)
def run_simulation(scenario_json: str, n_paths: int, seed: int) -> Results:
    """Simulate, with a progress bar when the run has more than one chunk of paths (a run of one
    chunk is over before a bar could move, and drawing one costs the browser time the run needs).

    Cached as a resource: the same Results object on every rerun (caching it as data would copy
    its tens of megabytes on every rerun)."""
    from cib_sim.run.plan import DEFAULT_CHUNK

    s = Scenario.model_validate_json(scenario_json)
    bar = st.progress(0.0, text=f"Simulating {n_paths:,} paths…") if n_paths > DEFAULT_CHUNK else None
    t0 = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.progress(min(1.0, done / total), text=f"Simulating: {done:,} of {total:,} paths")

    r = simulate(s, n_paths=n_paths, seed=seed, progress=progress)
    elapsed = time.perf_counter() - t0
    r.extra["elapsed_s"] = elapsed
    r.extra["summary"] = r.summary()
    if bar is not None:
        bar.empty()
    return r


def summary_of(r: Results) -> pd.DataFrame:
    if "summary" not in r.extra:
        r.extra["summary"] = r.summary()
    return r.extra["summary"]


def scenario_json(s: Scenario) -> str:
    return s.model_dump_json()


def show_chart(key: tuple, build, width: str = "stretch") -> None:
    """Draw an Altair chart, reusing its Vega-Lite spec while ``key`` is unchanged (building and
    serialising every chart costs about half a second a rerun). Specs are validated against the
    Vega-Lite schema in tests/test_charts.py, so not again here."""
    cache: dict = ss.setdefault("chart_specs", {})
    spec = cache.get(key)
    if spec is None:
        spec = build().to_dict(validate=False)
        spec.get("config", {}).pop("view", None)  # Altair's default 300 px view; Streamlit sizes charts
        if len(cache) > 60:
            cache.clear()
        cache[key] = spec
    st.vega_lite_chart(spec, width=width)


def progress_bar(text: str):
    bar = st.progress(0.0, text=text)

    def tick(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{text} {done:,} of {total:,} tasks")

    return bar, tick


# --------------------------------------------------------------------------------------------
# Loading scenarios


def load_into_session(d: dict, source: str, messages: list[tuple[str, str]] | None = None,
                      text: str | None = None) -> None:
    """Make ``d`` the scenario being edited and the base for comparison; reset the editors.
    ``text``: the file's YAML, so that a saved draft keeps its comments."""
    ss["editor_base"] = d
    ss["loaded"] = d
    ss["source_text"] = text
    ss["working"] = d
    ss["reference"] = d
    ss["reference_label"] = source
    ss["source"] = source
    ss["version"] = ss.get("version", 0) + 1
    ss["frames"] = A.build_frames(d)
    ss["matrices_on"] = A.entity_names(d)
    ss["matrix_names"] = A.matrix_columns(d)
    ss["load_messages"] = messages or []
    ss.pop("run_key", None)
    for k in [k for k in ss if isinstance(k, str) and k.startswith("study:")]:
        del ss[k]


def load_library_choice() -> None:
    lib = A.library()
    path = lib.get(ss.get("library_choice"))
    if path is None:
        return
    text = path.read_text(encoding="utf-8")
    d, errors = A.read_yaml(text)
    if d is None:
        ss["load_messages"] = errors
        return
    load_into_session(d, path.name, errors, text)


def load_upload() -> None:
    f = ss.get("upload")
    if f is None:
        return
    d, errors = A.read_yaml(f.getvalue())
    if d is None:
        ss["load_messages"] = [(p, f"{f.name}: {m}") for p, m in errors]
        return
    load_into_session(d, f"upload: {f.name}", errors, f.getvalue().decode("utf-8", errors="replace"))


LIB = A.library()
if "editor_base" not in ss:
    ss["library_choice"] = next(iter(LIB), None)
    load_library_choice()
    ss.setdefault("n_paths", DEFAULT_PATHS)
    ss.setdefault("seed", DEFAULT_SEED)
    ss.setdefault("autorun", DEFAULT_AUTORUN)
if "editor_base" not in ss:
    st.error(f"No scenario could be loaded from {A.LIBRARY}: "
             + "; ".join(A.describe_error(p, m) for p, m in ss.get("load_messages") or []))
    st.stop()


def k(name: str) -> str:
    """Widget key for the current editor version (a new version rebuilds every editor)."""
    return f"v{ss['version']}:{name}"


def km(name: str) -> str:
    """Widget key of a table that depends on the entity lists (rebuilt when they change)."""
    return f"v{ss['version']}m{ss.get('matrix_version', 0)}:{name}"


def table_key(name: str) -> str:
    return km(name) if name in A.MATRICES else k(name)


# --------------------------------------------------------------------------------------------
# Read every edit before drawing: compose, validate, rebuild what depends on the entity lists


def scalar_value(f: A.Field_, base: dict):
    """An input's value: its widget's state if drawn before, else the scenario's."""
    key = k(f.path)
    return ss[key] if key in ss else scalar_initial(f, base)


def scalar_initial(f: A.Field_, base: dict):
    """An input's initial value, from the scenario the editors were built from (constant for a
    version of the editors, so the widget keeps its identity while it is edited)."""
    default = A.scalar_default(base, f.path)
    if f.kind == "number":
        return format_number(default) or ""
    if f.kind == "date":
        try:
            return pd.Timestamp(default).date() if default else None
        except (ValueError, TypeError):
            return None
    if f.kind == "bool":
        return bool(default)
    if f.kind in ("text", "textarea"):
        return "" if default is None else str(default)
    return default


def read_edits() -> tuple[dict, list[tuple[str, str]], dict[str, pd.DataFrame], dict]:
    base = ss["editor_base"]
    frames = ss["frames"]
    tables = {name: A.apply_edits(frames[name], ss.get(table_key(name))) for name in frames}
    scalars = {f.path: scalar_value(f, base) for fs in A.SCALARS.values() for f in fs}
    problems: list[tuple[str, str]] = []
    working = A.compose(base, scalars, tables, problems, column_names=ss["matrix_names"])
    problems += A.table_problems(working, tables)
    return working, problems, tables, scalars


try:
    working, cell_problems, tables, scalars = read_edits()
    rebuild = A.rebuild_needed(tables, working, ss["editor_base"], ss["matrices_on"])
    if rebuild == "all":
        # Rows deleted, tranches re-ranked or the currency changed: every editor from the working dict.
        ss["editor_base"] = working
        ss["frames"] = A.build_frames(working)
        ss["version"] += 1
    if rebuild is not None:
        # Rows added or renamed: only the tables that depend on them (effects, shares, tiers,
        # split), so the table being typed into keeps its state and nothing typed is lost.
        ss["frames"].update(A.build_matrices(working))
        ss["matrix_version"] = ss.get("matrix_version", 0) + 1
        ss["matrices_on"] = A.entity_names(working)
        ss["matrix_names"] = A.matrix_columns(working)
        working, cell_problems, tables, scalars = read_edits()
except Exception as exc:  # noqa: BLE001 - keep the app up whatever the tables hold
    working, tables = ss.get("working", ss["editor_base"]), None
    cell_problems = [("", f"could not read the edits: {type(exc).__name__}: {exc}")]
_tick("read edits")
ss["working"] = working
base: dict = ss["editor_base"]
CUR = str(working.get("currency") or base.get("currency") or "GBP")

scenario, errors = A.check(working, cell_problems)
by_section = A.errors_by_section(errors, working)
warnings_ = A.suspicious(working, ss.get("loaded"))
warn_by_section = A.errors_by_section(warnings_, working)
if scenario is not None:
    ss["last_valid"] = scenario_json(scenario)
shown: Scenario | None = scenario or (Scenario.model_validate_json(ss["last_valid"]) if ss.get("last_valid") else None)

_tick("validated")
# --------------------------------------------------------------------------------------------
# Sidebar: scenario, run, compare, download

with st.sidebar:
    st.header("Scenario")
    st.selectbox("Start from the library", list(LIB), key="library_choice", on_change=load_library_choice,
                 help="Loading a scenario replaces the one being edited (download it first to keep it).")
    st.button("Reload it (discard edits)", on_click=load_library_choice, width="stretch", key="reload")
    st.file_uploader("…or upload a scenario (YAML)", type=["yaml", "yml"], key="upload", on_change=load_upload)
    st.caption(f"Editing: **{ss['source']}**")
    for path, msg in ss.get("load_messages") or []:
        st.warning(f"Loaded with a problem — {A.describe_error(path, msg, working)}")

    st.header("Run")
    st.number_input("Paths", min_value=100, max_value=500_000, step=1_000, key="n_paths",
                    help="Monte Carlo paths. 10,000 take about a third of a second on a reference scenario.")
    st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="seed",
                    help="Same seed, same results. The base scenario uses the same seed, so comparisons "
                         "show the effect of the edit, not noise.")
    st.toggle("Run automatically after each change", key="autorun",
              help="Off: edits wait for **Run simulation** (and the learning section is not re-fitted).")
    run_clicked = st.button("Run simulation", type="primary", width="stretch", key="run")

    st.header("Compare")
    st.caption(f"Base: **{ss.get('reference_label', '')}**")
    pin_clicked = st.button("Make the current scenario the base", width="stretch", key="pin",
                            help="Compare later edits against the scenario as it is now.")
    download_box = st.container()

# --------------------------------------------------------------------------------------------
# Top: title, what to do, the summary strip (kept in view), problems

st.markdown('<p class="cib-title">Collective Impact Bond simulator</p>', unsafe_allow_html=True)
st.caption("**1.** Pick a scenario in the sidebar (or upload one). **2.** Edit the contract in **Design**: the strip "
           "below shows the effect of each edit against the base. **3.** Read the details in **Results**; compare "
           "**Cases**; find what matters in **Sensitivity**. Download the scenario or an Excel workbook in the sidebar.")
strip_box = st.container(key="summary_strip")
problem_box = st.container()
with problem_box:
    # One line whatever the number of problems, so that nothing below moves when one comes or goes
    # (a table being typed into must stay under the cursor).
    if errors:
        with st.expander(f"The scenario has {len(errors)} problem{'s' if len(errors) != 1 else ''}: all listed "
                         "here and next to their tables (tabs marked ⚠). Nothing typed is lost; the draft can be "
                         "downloaded.", expanded=False, icon=":material/error:"):
            lines = []
            for sec, msgs in by_section.items():
                for m in msgs:
                    lines.append(f"- **{A.SECTIONS[sec]}** — {m}")
            st.error("\n".join(lines))
    else:
        with st.expander("No problems in the scenario", expanded=False, icon=":material/check_circle:"):
            st.caption("Problems in the scenario would be listed here and next to their tables, with the tabs that "
                       "hold them marked ⚠.")

MAIN = ["Design", "Results", "Cases", "Sensitivity", "Real deals", "How similar deals paid", "Learning", "Funds"]


def tabs_kept_open(labels: list[str], key: str) -> list:
    """``st.tabs`` that stay on the open tab when its label changes (an error count comes or
    goes): the open tab is tracked in session state under ``key`` and carried to its new label."""
    was = ss.get(key)
    if isinstance(was, str) and was not in labels:
        stem = was.split(" ⚠")[0]
        match = [lab for lab in labels if lab.split(" ⚠")[0] == stem]
        if match:
            ss[key] = match[0]
        else:
            del ss[key]
    return st.tabs(labels, key=key, on_change="rerun")


def is_open(tab) -> bool:
    """Whether a tab is the open one. The Results, Real deals and similar deals tabs are drawn only
    when open (their charts cost most of a rerun); so are the Design tab's tables (their edits are
    folded into their base tables when they are not drawn, :func:`fold`)."""
    return getattr(tab, "open", None) is not False


# Widgets of tabs drawn only when open keep their values (Streamlit forgets a widget not drawn).
for _key in ("waterfall_stat", "risk_what"):
    if _key in ss:
        ss[_key] = ss[_key]

main_tabs = dict(zip(MAIN, tabs_kept_open([f"Design ⚠ {len(errors)}" if errors else "Design", *MAIN[1:]], "main_tabs")))

# --------------------------------------------------------------------------------------------
# Design: the deal's terms, then every part of the scenario

FORMATS = {"money": "localized"}
SEC_ORDER = ["horizon", "outcomes", "partners", "delivery", "commissioners", "tranches", "backbone", "uncertainty"]
SEC_LABEL = {"horizon": "Scenario & horizon", "outcomes": "Outcomes & rate card", "partners": "Partners",
             "delivery": "Delivery model", "commissioners": "Commissioners", "tranches": "Investors",
             "backbone": "Backbone & terms", "uncertainty": "Uncertainty"}


def _count(sec: str) -> int:
    n = len(by_section.get(sec, []))
    return n + (len(by_section.get("general", [])) if sec == "horizon" else 0)


def tab_label(sec: str) -> str:
    n = _count(sec)
    return f"{SEC_LABEL[sec]} ⚠ {n}" if n else SEC_LABEL[sec]


def section_messages(sec: str, container) -> None:
    """The section's problems, drawn below its tables (so a table does not move as they come and go)."""
    secs = [sec, "general"] if sec == "horizon" else [sec]
    for s_ in secs:
        for m in by_section.get(s_, []):
            container.error(m, icon=":material/error:")
        for m in warn_by_section.get(s_, []):
            container.warning(f"Check: {m}", icon=":material/help:")


def scalar_inputs(section: str, container, columns: int = 2) -> None:
    fields = A.SCALARS[section]
    cols = container.columns(columns)
    for i, f in enumerate(fields):
        c = cols[i % columns]
        key = k(f.path)
        label = f.label.format(cur=CUR)
        v = scalar_initial(f, base)
        if f.kind == "number":
            c.text_input(label, value=v, key=key, help=(f.help or "") + " Type a number: "
                         "1500, 1,500, 1.5k or 1.5e3.", placeholder="empty")
        elif f.kind == "select":
            opts = list(f.options)
            c.selectbox(label, opts, index=opts.index(v) if v in opts else 0, key=key, help=f.help or None)
        elif f.kind == "bool":
            c.toggle(label, value=bool(v), key=key, help=f.help or None)
        elif f.kind == "date":
            c.date_input(label, value=v, key=key, help=f.help or None)
        elif f.kind == "textarea":
            container.text_area(label, value=v or "", key=key, height=80)
        else:
            c.text_input(label, value=v, key=key, help=f.help or None)


ROW_COLUMN = E.row_column(st)


frames: dict[str, pd.DataFrame] = ss["frames"]
OUT_COLS = ss["matrix_names"]


def fold(name: str) -> None:
    """A table not drawn in this run (its tab is closed): Streamlit forgets the state of a widget
    that is not drawn, so its edits (read at the top of the run) become its base table. Drawing
    only the open tab's tables saves a good part of each rerun, in the server and the browser."""
    t = (tables or {}).get(name)
    frame = ss["frames"].get(name)
    if t is None or frame is None or t is frame:
        return  # unedited
    if len(t) == len(frame):
        t = t.copy()
        t.index = frame.index  # fixed tables count their rows from 1
    ss["frames"][name] = t
    if table_key(name) in ss:
        del ss[table_key(name)]  # folded: its edits must not be applied twice


def editor_or_fold(name: str, drawn: bool, draw) -> None:
    if drawn:
        draw()
    else:
        fold(name)


def entity_editor(kind: str, drawn: bool, container, help_text: str = "") -> None:
    if not drawn:
        return fold(kind)
    if help_text:
        container.caption(help_text)
    E.dynamic_table(st, container, frames[kind], k(kind), A.ENTITY_COLS[kind], CUR)


def matrix_editor(name: str, drawn: bool, container, label_col: str, help_text: str = "") -> None:
    if not drawn:
        return fold(name)
    if help_text:
        container.caption(help_text)
    cfg: dict = {"_id": None, "_index": ROW_COLUMN, label_col: st.column_config.TextColumn(label_col, disabled=True)}
    for col, oname in OUT_COLS.items():
        cfg[col] = st.column_config.TextColumn(oname)
    container.data_editor(
        frames[name], key=km(name), num_rows="fixed", hide_index=False, width="stretch", column_config=cfg,
        placeholder="—", disabled=[label_col],
    )


with main_tabs["Design"]:
    deal_box = st.container()
    st.subheader("Design the contract")
    st.caption("Edit any value; tables take new rows at the bottom (type into the empty last row) and delete selected "
               "rows. Numbers can be typed as 1500, 1,500, 1.5k or 1.5e3. Problems are listed next to their table, "
               "rows counted from 1; nothing you type is thrown away.")
    tabs = tabs_kept_open([tab_label(s_) for s_ in SEC_ORDER], "design_tabs")
    T = dict(zip(SEC_ORDER, tabs))
    OPEN = {sec: is_open(main_tabs["Design"]) and is_open(T[sec]) for sec in SEC_ORDER}

    with T["horizon"]:
        scalar_inputs("general", st.container(), columns=2)
        st.divider()
        scalar_inputs("horizon", st.container(), columns=4)
        section_messages("horizon", st.container())

    with T["outcomes"]:
        entity_editor("outcomes", OPEN["outcomes"], st.container(),
                      "The shared measurement framework and its rate card. Baseline rate is the chance of the outcome "
                      "without the intervention (deadweight).")
        section_messages("outcomes", st.container())
        st.markdown("**Tiers** (for outcomes paid on the *tiered* basis)")
        editor_or_fold("tiers", OPEN["outcomes"], lambda: E.dynamic_table(
            st, st.container(), frames["tiers"], km("tiers"), A.TIER_COLS, CUR, {"outcome": list(OUT_COLS.values())},
            hidden=("outcome_id",)))
        st.markdown("**Lump-sum schedules** (for outcomes paid on the *lump_sum* basis): the amount of the highest "
                    "step whose improvement is reached, per cohort or once for the programme (*Lump sum per*)")
        editor_or_fold("schedule", OPEN["outcomes"], lambda: E.dynamic_table(
            st, st.container(), frames["schedule"], km("schedule"), A.STEP_COLS, CUR,
            {"outcome": list(OUT_COLS.values())}, hidden=("outcome_id",)))

    with T["partners"]:
        entity_editor("partners", OPEN["partners"], st.container(),
                      "Delivery partners. Referrals, capacity and the enrolment window are used by the pipelines "
                      "model; reach by the zone model. A new row's empty cells take the model's defaults (flagged "
                      "below the table when they look unintended).")
        section_messages("partners", st.container())
        matrix_editor("effect_mean", OPEN["partners"], st.container(), "Partner", help_text="**Effect at full maturity**: uplift in "
                      "each outcome's probability (0–1), partner by outcome; empty = no effect.")
        matrix_editor("effect_sd", OPEN["partners"], st.container(), "Partner", help_text="**Uncertainty of the effect**: its "
                      "standard deviation across paths (0–1).")
        maturity_box = st.container()

    with T["delivery"]:
        scalar_inputs("delivery", st.container(), columns=3)
        section_messages("delivery", st.container())
        st.markdown("**Fixed attribution split** (used when payments are attributed by a *fixed* split; shares sum "
                    "to 1)")
        editor_or_fold("split", OPEN["delivery"], lambda: st.data_editor(
            frames["split"], key=km("split"), num_rows="fixed", hide_index=True, placeholder="—",
            column_config={"_id": None, "Partner": st.column_config.TextColumn("Partner", disabled=True),
                           "share": st.column_config.TextColumn("Share of outcome payments")},
            disabled=["Partner"],
        ))

    with T["commissioners"]:
        entity_editor("commissioners", OPEN["commissioners"], st.container(),
                      "Outcome payers, with their budgets, caps, payment lag and the chance each year that they stop "
                      "paying.")
        section_messages("commissioners", st.container())
        matrix_editor("shares", OPEN["commissioners"], st.container(), "Commissioner",
                      help_text="**Shares of each outcome's price** paid by each commissioner (0–1; at most 1 in "
                                "total per outcome; any remainder is unfunded).")
        unfunded_box = st.container()

    with T["tranches"]:
        entity_editor("tranches", OPEN["tranches"], st.container(),
                      "Tranches in order of seniority (1 is repaid first). A guarantee is not drawn: at the end it "
                      "pays the tranche it covers its unrepaid capital, up to its commitment.")
        section_messages("tranches", st.container())
        stack_box = st.container()

    with T["backbone"]:
        scalar_inputs("backbone", st.container(), columns=2)
        st.divider()
        scalar_inputs("terms", st.container(), columns=2)
        st.markdown("**Deferred fees**: paid only from outcome income, right behind a tranche in the waterfall")
        editor_or_fold("fees", OPEN["backbone"], lambda: E.dynamic_table(
            st, st.container(), frames["fees"], k("fees"), A.FEE_COLS, CUR,
            {"behind": [t.get("name") for t in working.get("tranches") or [] if isinstance(t, dict)
                        and isinstance(t.get("name"), str)]}))
        st.markdown("**Break clauses**: at a review date, stop enrolment or the contract if a result is below its "
                    "trigger (empty measure: earned; empty action: stop_enrolment)")
        editor_or_fold("breaks", OPEN["backbone"], lambda: E.dynamic_table(
            st, st.container(), frames["breaks"], k("breaks"), A.BREAK_COLS, CUR, {"outcome": list(OUT_COLS.values())}))
        section_messages("backbone", st.container())

    with T["uncertainty"]:
        scalar_inputs("uncertainty", st.container(), columns=4)
        section_messages("uncertainty", st.container())

_tick("editors drawn")
if shown is not None:
    if OPEN["partners"]:
        with maturity_box:
            st.markdown("**Maturity: share of full effect over the contract** (the slow start)")
            show_chart(("maturity", ss["last_valid"]), lambda: C.maturity_chart(C.maturity_frame(shown)))
    if OPEN["tranches"]:
        with stack_box:
            st.markdown("**Capital stack** (top is most senior)")
            show_chart(("stack", ss["last_valid"]), lambda: C.capital_stack_chart(C.capital_stack_frame(shown)))
    unfunded = shown.unfunded_shares()
    if unfunded:
        unfunded_box.warning("Unfunded shares of the price (no commissioner pays them): "
                             + ", ".join(f"{o}: {v:.0%}" for o, v in unfunded.items()))


_tick("design charts")
with deal_box:
    if shown is not None:
        render_deal_terms(st, shown, deal_terms(ss, shown, ss["last_valid"]), scenario is not None)

# --------------------------------------------------------------------------------------------
# Real deals (no simulation: follows every valid edit)

with main_tabs["Real deals"]:
    if not is_open(main_tabs["Real deals"]):
        pass
    elif shown is None:
        st.info("The scenario has problems; fix them to compare it with real deals.")
    else:
        if scenario is None:
            st.caption("The scenario has problems: this is the last valid scenario.")
        with st.container(key="real_deals"):
            try:
                render_real_deals(st, ss, {**deal_terms(ss, shown, ss["last_valid"]), "currency": shown.currency},
                                  ss["last_valid"], show_chart)
            except Exception as exc:  # noqa: BLE001 - a benchmark is not worth falling over for
                st.info(f"The comparison with real deals is not available: {type(exc).__name__}: {exc}")

with main_tabs["How similar deals paid"]:
    if is_open(main_tabs["How similar deals paid"]):
        from cib_sim.app.similar_deals_page import render_similar_deals

        render_similar_deals(st, ss, shown, ss.get("last_valid"), int(ss["seed"]), bool(ss["autorun"]), show_chart)
_tick("real deals")

with main_tabs["Funds"]:  # funds of bonds: its own page (cib_sim/app/portfolio_page.py)
    if is_open(main_tabs["Funds"]):
        from cib_sim.app.portfolio_page import render_portfolio_page

        render_portfolio_page(st, ss)
# --------------------------------------------------------------------------------------------
# Run

n_paths, seed = int(ss["n_paths"]), int(ss["seed"])
if scenario is not None and (ss["autorun"] or run_clicked):
    ss["run_key"] = (scenario_json(scenario), n_paths, seed)
elif run_clicked:
    st.sidebar.error("Fix the problems in the scenario before running.")
if pin_clicked:
    if scenario is not None:
        ss["reference"] = working
        ss["reference_label"] = f"{scenario.name} (pinned {time.strftime('%H:%M:%S')})"
    else:
        st.sidebar.error("Fix the problems in the scenario before making it the base.")


def downloads(results: Results | None, summary: pd.DataFrame | None) -> None:
    with download_box:
        st.header("Download")
        name = working.get("name") if isinstance(working.get("name"), str) else None
        st.download_button(
            "Scenario (YAML)" if not errors else f"Draft scenario with {len(errors)} problem{'s' if len(errors) != 1 else ''} (YAML)",
            draft_data(working, ss.get("source_text"), ss.get("loaded")), file_name=f"{A.file_stem(name)}.yaml",
            mime="application/x-yaml", width="stretch", on_click="ignore", key="dl_yaml",
            help="The scenario as edited, errors and all (load it again to carry on); an uploaded or library file "
                 "keeps its comments.")
        if results is None or summary is None:
            return
        st.download_button("Workbook (Excel)", workbook_data(results), width="stretch", on_click="ignore",
                           file_name=f"{A.file_stem(results.scenario.name)}.xlsx", key="dl_xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                           help="Terms, assumptions, summary, quarterly cash flows per tranche and payer (mean, 10th, "
                                "50th, 90th percentile), and the cases and sensitivity tables run on this page.")
        st.download_button("Summary (CSV)", lambda: A.summary_csv_bytes(summary), file_name="summary.csv", mime="text/csv",
                           width="stretch", on_click="ignore", key="dl_csv")
        st.download_button("Path results (Parquet)", lambda: A.results_parquet_bytes(results), file_name="paths.parquet",
                           mime="application/vnd.apache.parquet", width="stretch", on_click="ignore", key="dl_parquet",
                           help="One row per path, every per-path measure; the scenario and seed in the file's metadata.")
        st.caption(f"Results: {results.n_paths:,} paths, seed {results.seed}"
                   + (f", {results.extra['elapsed_s']:.2f} s" if "elapsed_s" in results.extra else ""))


def draft_data(working: dict, source_text: str | None, loaded: dict | None):
    """The draft YAML as a callable: written when the button is clicked, not on every rerun (the
    round trip that keeps the file's comments takes a good part of a rerun)."""
    return lambda: A.draft_yaml(working, source_text, loaded)


def workbook_data(results: Results):
    """The workbook's bytes as a callable (built when the button is clicked, outside the script
    run: what it needs from the session is taken now)."""
    key = ss.get("run_key")
    cases = ss.get("study:cases")
    cases = cases[1] if cases and cases[0] == key else None
    sens = {label: df for label, (k_, df) in (ss.get("study:tables") or {}).items() if k_ == key} or None
    summary = summary_of(results)

    def build() -> bytes:
        from cib_sim.report import build_workbook

        return build_workbook(results.scenario, results, summary, cases=cases, sensitivity=sens)

    return build


if "run_key" not in ss:
    with strip_box:
        st.info("Press **Run simulation** in the sidebar to simulate this scenario.")
    downloads(None, None)
    with main_tabs["Results"]:
        st.info("Press **Run simulation** in the sidebar to simulate this scenario.")
    with main_tabs["Learning"]:
        render_nowcast(st, scenario, auto=False, on_request=True)
    st.stop()

run_key = ss["run_key"]
run_json, run_n, run_seed = run_key
with strip_box:
    try:
        results = run_simulation(run_json, run_n, run_seed)
    except Exception as exc:  # noqa: BLE001 - an engine failure is shown, not raised
        st.error(f"The simulation failed: {type(exc).__name__}: {exc}")
        ss.pop("run_key", None)
        st.stop()
_tick("simulated")
ss["results"] = results
rs: Scenario = results.scenario
cur = rs.currency
summary = summary_of(results)
stale = scenario is None or run_json != scenario_json(scenario) or (run_n, run_seed) != (n_paths, seed)

# Base scenario for comparison: same paths and seed (common random numbers).
ref_scenario, _ = A.validate(ss.get("reference") or {})
ref_results: Results | None = None
ref_json = None
if ref_scenario is not None:
    ref_json = scenario_json(ref_scenario)
    if ref_json == run_json:
        ref_results = results
    else:
        with strip_box:
            try:
                ref_results = run_simulation(ref_json, run_n, run_seed)
            except Exception as exc:  # noqa: BLE001
                st.error(f"The base scenario's simulation failed: {type(exc).__name__}: {exc}")
ref_summary = summary_of(ref_results) if ref_results is not None else None
ss["summary"] = summary

with strip_box:
    note = (f"{results.n_paths:,} paths · seed {results.seed}"
            + (f" · {results.extra['elapsed_s']:.2f} s" if "elapsed_s" in results.extra else "")
            + f" · base: {ss.get('reference_label', '')}")
    if stale:
        note = ("Out of date: these results are for the scenario as it was at the last run: "
                + ("fix the problems, then run again" if scenario is None else "press Run simulation to update")
                + " · " + note)
    st.markdown(SM.strip_html(SM.strip_cards(summary, ref_summary, results.tranche_names, cur), note, stale),
                unsafe_allow_html=True)
_tick("strip")

# --------------------------------------------------------------------------------------------
# Results


if is_open(main_tabs["Results"]):
    with main_tabs["Results"]:
        render_results(st, RunView(results, summary, run_key, ref_results, ref_summary, ref_json,
                                   ref_scenario.name if ref_scenario else "", ss.get("reference_label", "")), show_chart)
_tick("results tab")


# --------------------------------------------------------------------------------------------
# Cases and sensitivity (run on request, on the scenario of the last run)

from cib_sim.app.studies_page import render_cases, render_sensitivity  # noqa: E402

_tick("value for money")
with main_tabs["Cases"]:
    render_cases(st, ss, results, run_key, stale)
_tick("cases")
with main_tabs["Sensitivity"]:
    render_sensitivity(st, ss, results, run_key, stale)

_tick("sensitivity")
downloads(results, summary)  # last, so that the workbook has the cases and tables run in this rerun
# --------------------------------------------------------------------------------------------
# Learning as results arrive: observed quarters update the projections

with main_tabs["Learning"]:
    render_nowcast(st, scenario, auto=bool(ss["autorun"]), on_request=True)
_tick("learning (end)")
