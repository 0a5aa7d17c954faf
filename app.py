"""cib_sim app: design an outcomes contract, simulate it, and read its risks.

    streamlit run app.py

The page reads top to bottom: the deal's terms and how they compare with real deals (INDIGO), the
editors (every part of the scenario), then the results (headline figures, the payout waterfall,
investors' risk, flows over time, and a comparison with the base scenario). The scenario being
edited is a plain dict in ``st.session_state["working"]``, validated on every rerun; see
``cib_sim/app_state.py`` for how the editors' tables map to it and back.

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
from cib_sim.app import state as A
from cib_sim.app.nowcast import render_nowcast
from cib_sim.deals import headline_terms
from cib_sim.results import Results
from cib_sim.scenario import Scenario

st.set_page_config(page_title="CIB simulator", page_icon="📈", layout="wide", initial_sidebar_state="expanded")
ss = st.session_state


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


@st.cache_data(max_entries=8, show_spinner=False)
def run_simulation(scenario_json: str, n_paths: int, seed: int) -> Results:
    """Simulate with a progress bar (replayed, full, when the result comes from the cache)."""
    s = Scenario.model_validate_json(scenario_json)
    bar = st.progress(0.0, text=f"Simulating {n_paths:,} paths…")
    t0 = time.perf_counter()

    def progress(done: int, total: int) -> None:
        bar.progress(min(1.0, done / total), text=f"Simulating: {done:,} of {total:,} paths")

    # The engine's default chunk (4 blocks) is its fastest; the bar moves once a chunk, so a long
    # run shows progress (results do not depend on the chunk size).
    r = simulate(s, n_paths=n_paths, seed=seed, progress=progress)
    elapsed = time.perf_counter() - t0
    r.extra["elapsed_s"] = elapsed
    bar.progress(1.0, text=f"{n_paths:,} paths simulated in {elapsed:.2f} s (seed {seed})")
    return r


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


def real_deals_section(terms: dict, key: str) -> None:
    """Compared with real deals: the scenario's terms among the INDIGO impact bonds. Cheap (no
    simulation), so it follows every valid edit; ``key`` (the scenario's JSON) keys the cache."""
    memo = ss.get("real_deals")
    if memo is None or memo[0] != key:
        memo = (key, A.real_deals(terms))
        ss["real_deals"] = memo
    view: A.RealDeals = memo[1]
    comp = view.comparison
    cur = comp.currency
    st.subheader("Compared with real deals", anchor="compared-with-real-deals")
    st.caption(
        f"Is this deal normal? Its terms against {view.n_deals} impact bonds in the INDIGO dataset (Government "
        "Outcomes Lab, University of Oxford; May 2025 snapshot). Deals in other currencies are converted into "
        f"{cur} at the dataset's own rates. No simulation is needed: this follows every edit.")
    if view.note:
        st.info(view.note)
    st.markdown(f"**Capital against maximum outcome payments** ({cur}, log scales; {len(view.points)} deals "
                "publish both). Dashed diagonals: maximum outcome payments of 1×, 3× and 10× the capital.")
    show_chart(("real_deals", key),
               lambda: C.deals_scatter_chart(view.points, view.terms, list(comp.nearest["project_id"])))
    st.markdown("**Where this scenario sits among real deals**")
    table = A.deal_percentile_table(comp)
    st.dataframe(
        table, hide_index=True, width="stretch", height=35 * (len(table) + 1) + 3,
        column_config={
            "Measure": st.column_config.TextColumn("Measure", width=260),
            "Percentile among real deals": st.column_config.ProgressColumn(
                "Percentile among real deals (0–100)", min_value=0, max_value=100, format="%.0f", color=C.GAIN,
                help="Share of the deals with this measure known that are at or below this scenario (ties count "
                     "half): 50 is a typical deal, 95 bigger than almost all."),
            "Deals compared": st.column_config.NumberColumn(
                "Deals compared", help="Deals in the dataset with this measure published"),
        })
    st.caption("Participants: this scenario's expected enrolments; deals' targeted service users. Maximum return: "
               "the highest IRR cap of the tranches; deals' maximum potential return as published (IRR or another "
               "basis).")
    st.markdown(f"**Nearest comparable deals** — closest in capital and maximum outcome payments (log scales); "
                f"amounts in {cur} (as published, in brackets)")
    st.dataframe(A.nearest_deals_table(comp), hide_index=True, width="stretch",
                 column_config={"Name": st.column_config.TextColumn("Name", width=185),
                                "Country": st.column_config.TextColumn("Country", width=65)})



# --------------------------------------------------------------------------------------------
# Loading scenarios


def load_into_session(d: dict, source: str, messages: list[tuple[str, str]] | None = None) -> None:
    """Make ``d`` the scenario being edited and the base for comparison; reset the editors."""
    ss["editor_base"] = d
    ss["working"] = d
    ss["reference"] = d
    ss["reference_label"] = source
    ss["source"] = source
    ss["version"] = ss.get("version", 0) + 1
    ss["frames"] = A.build_frames(d)
    ss["load_messages"] = messages or []
    ss.pop("run_key", None)


def load_library_choice() -> None:
    lib = A.library()
    path = lib.get(ss.get("library_choice"))
    if path is None:
        return
    d, errors = A.read_yaml(path.read_text(encoding="utf-8"))
    if d is None:
        ss["load_messages"] = errors
        return
    load_into_session(d, path.name, errors)


def load_upload() -> None:
    f = ss.get("upload")
    if f is None:
        return
    d, errors = A.read_yaml(f.getvalue())
    if d is None:
        ss["load_messages"] = [(p, f"{f.name}: {m}") for p, m in errors]
        return
    load_into_session(d, f"upload: {f.name}", errors)


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


base: dict = ss["editor_base"]
CUR = str(base.get("currency") or "GBP")

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
        st.warning(f"Loaded with a problem — {A.describe_error(path, msg)}")

    st.header("Run")
    st.number_input("Paths", min_value=100, max_value=500_000, step=1_000, key="n_paths",
                    help="Monte Carlo paths. 10,000 take about a second on a reference scenario.")
    st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="seed",
                    help="Same seed, same results. The base scenario uses the same seed, so comparisons "
                         "show the effect of the edit, not noise.")
    st.toggle("Run automatically after each change", key="autorun")
    run_clicked = st.button("Run simulation", type="primary", width="stretch", key="run")

    st.header("Compare")
    st.caption(f"Base: **{ss.get('reference_label', '')}**")
    pin_clicked = st.button("Make the current scenario the base", width="stretch", key="pin",
                            help="Compare later edits against the scenario as it is now.")
    download_box = st.container()

# --------------------------------------------------------------------------------------------
# 1. The deal

st.title("Collective Impact Bond simulator")
deal_box = st.container()

# --------------------------------------------------------------------------------------------
# 2. Design: every part of the scenario

st.header("Design the contract")
st.caption("Edit any value; tables take new rows at the bottom and delete selected rows. Problems are "
           "shown next to the section they belong to; nothing you type is thrown away.")
error_banner = st.container()
tabs = st.tabs([
    "Scenario & horizon", "Outcomes & rate card", "Partners", "Delivery model", "Commissioners",
    "Investors", "Backbone & terms", "Uncertainty",
])
T = dict(zip(["horizon", "outcomes", "partners", "delivery", "commissioners", "tranches", "backbone", "uncertainty"], tabs))
err_box: dict[str, st.delta_generator.DeltaGenerator] = {}
for sec, tab in T.items():
    err_box[sec] = tab.container()
err_box["general"] = err_box["horizon"]

FORMATS = {
    "money": ("%.0f", 1000.0), "years": ("%.2f", 0.25), "rate": ("%.3f", 0.01), "count": ("%.0f", 10.0),
}


def _fmt_kind(f: A.Field_) -> str:
    if "{cur}" in f.label:
        return "money"
    if "(years)" in f.label:
        return "years"
    if "referrals" in f.path or "capacity" in f.path:
        return "count"
    return "rate"


scalars: dict[str, object] = {}


def scalar_inputs(section: str, container, columns: int = 2) -> None:
    fields = A.SCALARS[section]
    cols = container.columns(columns)
    for i, f in enumerate(fields):
        c = cols[i % columns]
        key = k(f.path)
        label = f.label.format(cur=CUR)
        default = A.scalar_default(base, f.path)
        if f.kind == "number":
            fmt, step = FORMATS[_fmt_kind(f)]
            v = c.number_input(label, value=None if default is None else float(default), step=step, format=fmt,
                               key=key, help=f.help or None)
        elif f.kind == "select":
            opts = list(f.options)
            v = c.selectbox(label, opts, index=opts.index(default) if default in opts else 0, key=key, help=f.help or None)
        elif f.kind == "bool":
            v = c.toggle(label, value=bool(default), key=key, help=f.help or None)
        elif f.kind == "date":
            try:
                d0 = pd.Timestamp(default).date() if default else None
            except (ValueError, TypeError):
                d0 = None
            v = c.date_input(label, value=d0, key=key, help=f.help or None)
        elif f.kind == "textarea":
            v = container.text_area(label, value=default or "", key=key, height=80)
        else:
            v = c.text_input(label, value="" if default is None else str(default), key=key, help=f.help or None)
        scalars[f.path] = v


def column_config(cols: tuple[A.Col, ...]) -> dict:
    cfg: dict = {"_id": None}
    for c in cols:
        label = c.label.format(cur=CUR)
        if c.kind == "number":
            fmt = "localized" if "{cur}" in c.label or "participants" in c.label or "/year, pipelines" in c.label else None
            cfg[c.field] = st.column_config.NumberColumn(label, help=c.help or None, format=fmt)
        elif c.kind == "int":
            cfg[c.field] = st.column_config.NumberColumn(label, help=c.help or None, format="%g")
        elif c.kind in ("select", "tri"):
            cfg[c.field] = st.column_config.SelectboxColumn(label, options=list(c.options), help=c.help or None)
        else:
            cfg[c.field] = st.column_config.TextColumn(label, help=c.help or None)
    return cfg


tables: dict[str, pd.DataFrame] = {}
frames: dict[str, pd.DataFrame] = ss["frames"]
OUT_COLS = A.matrix_columns(base)


def entity_editor(kind: str, container, help_text: str = "") -> None:
    if help_text:
        container.caption(help_text)
    tables[kind] = container.data_editor(
        frames[kind], key=k(kind), num_rows="dynamic", hide_index=True, width="stretch", placeholder="—",
        column_config=column_config(A.ENTITY_COLS[kind]),
    )


def matrix_editor(name: str, container, label_col: str, fmt: str = "%.3f", help_text: str = "") -> None:
    if help_text:
        container.caption(help_text)
    cfg: dict = {"_id": None, label_col: st.column_config.TextColumn(label_col, disabled=True)}
    for col, oname in OUT_COLS.items():
        cfg[col] = st.column_config.NumberColumn(oname, format=fmt)
    tables[name] = container.data_editor(
        frames[name], key=k(name), num_rows="fixed", hide_index=True, width="stretch", column_config=cfg,
        placeholder="—", disabled=[label_col],
    )


# -- Scenario & horizon
with T["horizon"]:
    scalar_inputs("general", st.container(), columns=2)
    st.divider()
    scalar_inputs("horizon", st.container(), columns=4)

# -- Outcomes & rate card
with T["outcomes"]:
    entity_editor("outcomes", st.container(),
                  "The shared measurement framework and its rate card. Baseline rate is the chance of the outcome "
                  "without the intervention (deadweight).")
    st.markdown("**Tiers** (for outcomes paid on the *tiered* basis)")
    tables["tiers"] = st.data_editor(
        frames["tiers"], key=k("tiers"), num_rows="dynamic", hide_index=True, width="stretch", placeholder="—",
        column_config={
            "outcome_id": None,
            "outcome": st.column_config.SelectboxColumn("Outcome", options=list(OUT_COLS.values())),
            "min_improvement": st.column_config.NumberColumn("Min improvement (fraction)", format="%.3f"),
            "price": st.column_config.NumberColumn(f"Price ({CUR}/outcome above baseline)", format="localized"),
        },
    )

# -- Partners
with T["partners"]:
    entity_editor("partners", st.container(),
                  "Delivery partners. Referrals, capacity and the enrolment window are used by the pipelines model; "
                  "reach by the zone model.")
    matrix_editor("effect_mean", st.container(), "Partner", help_text="**Effect at full maturity**: uplift in each "
                  "outcome's probability (0–1), partner by outcome; empty = no effect.")
    matrix_editor("effect_sd", st.container(), "Partner", help_text="**Uncertainty of the effect**: its standard "
                  "deviation across paths (0–1).")
    maturity_box = st.container()

# -- Delivery model
with T["delivery"]:
    scalar_inputs("delivery", st.container(), columns=3)
    st.markdown("**Fixed attribution split** (used when payments are attributed by a *fixed* split; shares sum to 1)")
    tables["split"] = st.data_editor(
        frames["split"], key=k("split"), num_rows="fixed", hide_index=True, placeholder="—",
        column_config={"_id": None, "Partner": st.column_config.TextColumn("Partner", disabled=True),
                       "share": st.column_config.NumberColumn("Share of outcome payments", format="%.3f")},
        disabled=["Partner"],
    )

# -- Commissioners
with T["commissioners"]:
    entity_editor("commissioners", st.container(),
                  "Outcome payers, with their budgets, caps, payment lag and the chance each year that they stop paying.")
    matrix_editor("shares", st.container(), "Commissioner",
                  help_text="**Shares of each outcome's price** paid by each commissioner (0–1; at most 1 in total "
                            "per outcome; any remainder is unfunded).")
    unfunded_box = st.container()

# -- Investors
with T["tranches"]:
    entity_editor("tranches", st.container(),
                  "Tranches in order of seniority (1 is repaid first). A guarantee is not drawn: at the end it pays "
                  "the tranche it covers its unrepaid capital, up to its commitment.")
    stack_box = st.container()

# -- Backbone & terms
with T["backbone"]:
    scalar_inputs("backbone", st.container(), columns=2)
    st.divider()
    scalar_inputs("terms", st.container(), columns=2)

# -- Uncertainty
with T["uncertainty"]:
    scalar_inputs("uncertainty", st.container(), columns=4)

# --------------------------------------------------------------------------------------------
# Compose, validate, place the errors

composed = True
try:
    working = A.compose(base, scalars, tables)
    compose_errors: list[tuple[str, str]] = A.table_problems(base, tables)
except Exception as exc:  # noqa: BLE001 - keep the app up whatever the tables hold
    composed = False
    working, compose_errors = ss.get("working", base), [("", f"could not read the edits: {exc}")]
ss["working"] = working

restructure = composed and (A.tables_restructured(tables) or A.structure(working) != A.structure(base))
if restructure and ss.get("restructures_in_a_row", 0) < 3:  # (a guard against a rebuild loop)
    # Rows added, deleted, renamed or reordered: rebuild every editor from the working dict.
    ss["restructures_in_a_row"] = ss.get("restructures_in_a_row", 0) + 1
    ss["editor_base"] = working
    ss["frames"] = A.build_frames(working)
    ss["version"] += 1
    st.rerun()
ss["restructures_in_a_row"] = 0

scenario, errors = A.validate(working)
errors = compose_errors + errors
by_section = A.errors_by_section(errors, working)
if errors:
    with error_banner:
        lines = []
        for sec, msgs in by_section.items():
            for m in msgs:
                lines.append(f"- **{A.SECTIONS[sec]}** — `{m}`")
        st.error(f"The scenario has {len(errors)} problem{'s' if len(errors) != 1 else ''}; the last valid results "
                 "stay on screen until it is fixed.\n\n" + "\n".join(lines))
for sec, msgs in by_section.items():
    with err_box[sec]:
        for m in msgs:
            st.error(f"`{m}`", icon="⚠️")

if scenario is not None:
    ss["last_valid"] = scenario_json(scenario)
shown: Scenario | None = scenario or (Scenario.model_validate_json(ss["last_valid"]) if ss.get("last_valid") else None)

if shown is not None:
    with maturity_box:
        st.markdown("**Maturity: share of full effect over the contract** (the slow start)")
        show_chart(("maturity", ss["last_valid"]), lambda: C.maturity_chart(C.maturity_frame(shown)))
    with stack_box:
        st.markdown("**Capital stack** (top is most senior)")
        show_chart(("stack", ss["last_valid"]), lambda: C.capital_stack_chart(C.capital_stack_frame(shown)))
    unfunded = shown.unfunded_shares()
    if unfunded:
        unfunded_box.warning("Unfunded shares of the price (no commissioner pays them): "
                             + ", ".join(f"{o}: {v:.0%}" for o, v in unfunded.items()))

# -- The deal (top of the page), from the valid scenario
with deal_box:
    if shown is not None:
        st.subheader(shown.name)
        if shown.description:
            st.caption(shown.description)
        try:
            terms = headline_terms(shown)
        except Exception:  # noqa: BLE001 - a summary of terms is not worth falling over for
            terms = {"capital": sum(t.commitment for t in shown.capital_tranches), "max_outcome_payment": float("nan"),
                     "outcome_to_capital": float("nan"), "participants": float("nan"),
                     "duration_years": shown.horizon.years}
        cur = shown.currency
        cols = st.columns(3) + st.columns(3)
        cols[0].metric("Capital committed", C.fmt_money(terms["capital"], cur), border=True,
                       help="Sum of the tranches that provide capital (guarantees not included)")
        cols[1].metric("Maximum outcome payments", C.fmt_money(terms["max_outcome_payment"], cur), border=True,
                       help="Sum of the commissioners' total caps (or top prices × participants)")
        cols[2].metric("Max outcome payments ÷ capital", f"{terms['outcome_to_capital']:.1f}x", border=True)
        cols[3].metric("Participants (expected)", f"{terms['participants']:,.0f}", border=True)
        cols[4].metric("Service duration", f"{terms['duration_years']:.3g} years", border=True,
                       help=f"From the first enrolment to the end of the last service; contract horizon "
                            f"{shown.horizon.years:g} years")
        cols[5].metric("Delivery model", {"zone": "Zone (collective)", "pipelines": "Pipelines"}.get(
            shown.delivery.model, shown.delivery.model), border=True)
        if scenario is None:
            st.caption("The scenario has problems (see below): these terms and the comparison with real deals "
                       "are those of the last valid scenario.")
        with st.container(key="real_deals"):
            try:
                real_deals_section({**terms, "currency": cur}, ss["last_valid"])
            except Exception as exc:  # noqa: BLE001 - a benchmark is not worth falling over for
                st.info(f"The comparison with real deals is not available: {type(exc).__name__}: {exc}")

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
        st.rerun()
    else:
        st.sidebar.error("Fix the problems in the scenario before making it the base.")

st.header("Results")
run_box = st.container()
if "run_key" not in ss:
    run_box.info("Press **Run simulation** in the sidebar to simulate this scenario.")
    st.stop()

run_key = ss["run_key"]
run_json, run_n, run_seed = run_key
with run_box:
    try:
        results = run_simulation(run_json, run_n, run_seed)
    except Exception as exc:  # noqa: BLE001 - an engine failure is shown, not raised
        st.error(f"The simulation failed: {type(exc).__name__}: {exc}")
        ss.pop("run_key", None)
        st.stop()
    if scenario is None or run_json != scenario_json(scenario) or (run_n, run_seed) != (n_paths, seed):
        st.warning("These results are for the scenario as it was at the last run. "
                   + ("Fix the problems above, then run again." if scenario is None else "Press **Run simulation** to update."))
ss["results"] = results
rs: Scenario = results.scenario
cur = rs.currency
summary = results.summary()

# Base scenario for comparison: same paths and seed (common random numbers).
ref_scenario, _ = A.validate(ss.get("reference") or {})
ref_results: Results | None = None
ref_json = None
compare_box_progress = None
if ref_scenario is not None:
    ref_json = scenario_json(ref_scenario)
    if ref_json == run_json:
        ref_results = results
    else:
        compare_box_progress = st.container()
        with compare_box_progress:
            st.caption("Base scenario, for the comparison at the end of the page:")
            try:
                ref_results = run_simulation(ref_json, run_n, run_seed)
            except Exception as exc:  # noqa: BLE001
                st.error(f"The base scenario's simulation failed: {type(exc).__name__}: {exc}")
ref_summary = ref_results.summary() if ref_results is not None else None
ss["summary"] = summary


def _val(s: pd.DataFrame | None, group: str, name: str, metric: str) -> float:
    if s is None:
        return float("nan")
    hit = s[(s.group == group) & (s.name == name) & (s.metric == metric)]
    return float(hit.value.iloc[0]) if len(hit) else float("nan")


def _delta(now: float, was: float, kind: str) -> str | None:
    import math

    if ref_summary is None or not (math.isfinite(now) and math.isfinite(was)) or abs(now - was) < 1e-12:
        return None
    d = now - was
    if kind == "money":
        return ("+" if d > 0 else "−") + C.fmt_money(abs(d), cur) + " vs base"
    if kind == "x":
        return f"{d:+.2f}x vs base"
    return f"{d * 100:+.1f} pp vs base"


# -- Headline figures
st.subheader("Headline figures")
cm = A.contract_metrics(summary)
cols = st.columns(5)
contract_name = rs.name
for col, (metric, label, kind, help_) in zip(cols, [
    ("outcome_payments_mean", "Expected payments", "money", "Mean over paths of all commissioners' outcome payments"),
    ("outcome_payments_p95", "95th pct payments", "money", "Payers' bad case: 1 path in 20 pays more"),
    ("value_for_money", "Value for money", "x", "Fiscal value of outcomes above the baseline ÷ outcome payments"),
    ("prob_delivery_stopped", "P(delivery stops)", "prob", "Share of paths where capital ran out and delivery stopped"),
    ("enrolled_mean", "Enrolled (mean)", "count", "Participants enrolled over the contract, mean over paths"),
]):
    v = cm.get(metric, float("nan"))
    text = {"money": C.fmt_money(v, cur), "x": f"{v:.2f}x", "prob": f"{v:.1%}", "count": f"{v:,.0f}"}[kind]
    dl = _delta(v, _val(ref_summary, "contract", ref_scenario.name if ref_scenario else "", metric), kind) if kind != "count" else None
    col.metric(label, text, delta=dl, delta_color="inverse" if metric in ("outcome_payments_mean", "outcome_payments_p95", "prob_delivery_stopped") else "normal",
               help=help_ or None, border=True)

st.markdown("**Investors** — probability of loss, IRR and multiple of money per tranche (5th, 50th, 95th percentile of paths)")
tcols = st.columns(max(1, len(results.tranche_names)))
for col, name in zip(tcols, results.tranche_names):
    p = _val(summary, "tranche", name, "prob_loss")
    col.metric(f"{name}: P(loss)", f"{p:.1%}", delta=_delta(p, _val(ref_summary, "tranche", name, "prob_loss"), "prob"),
               delta_color="inverse", border=True,
               help="Share of paths where the tranche gets back less than it put in")
st.dataframe(A.tranche_table(summary, rs), hide_index=True, width="stretch")
st.markdown("**Commissioners** — what they pay and what it buys (value for money: fiscal value of the outcomes "
            "above the baseline ÷ what they paid)")
st.dataframe(A.commissioner_table(summary, cur), hide_index=True, width="stretch")

# -- Where the money goes
st.subheader("Where the money goes: payout waterfall")
stat_label = st.radio("Show", ["Mean over all paths", "Median path"], horizontal=True, key="waterfall_stat",
                      help="The median path is the kept path with the median total outcome payments.")
stat = "mean" if stat_label.startswith("Mean") else "median"
show_chart(("waterfall", run_key, stat), lambda: C.waterfall_chart(results, stat))

# -- Investor risk
st.subheader("Investors' risk: distributions per tranche")
what_label = st.radio("Measure", ["Multiple of money", "IRR"], horizontal=True, key="risk_what")
what = "multiple" if what_label.startswith("Multiple") else "irr"
rc1, rc2 = st.columns(2)
with rc1:
    st.markdown("**Histogram** (share of paths in each bin)")
    show_chart(("histogram", run_key, what), lambda: C.distribution_chart(results, what, kind="histogram", width=360),
               width="content")
with rc2:
    st.markdown("**ECDF** (share of paths at or below; read P(loss) at the red line)")
    show_chart(("ecdf", run_key, what), lambda: C.distribution_chart(results, what, kind="ecdf"))
st.caption("Red marks the loss region: paths where a tranche gets back less than it put in (multiple below 1, "
           "IRR below 0).")

# -- Over time
st.subheader("Over time")
fc1, fc2 = st.columns(2)
with fc1:
    st.markdown("**Commissioners' cumulative outcome payments**")
    show_chart(("fan_paid", run_key), lambda: C.fan_chart(results, "commissioner_paid"))
with fc2:
    st.markdown("**Investors' cumulative net position** (received − drawn, all tranches)")
    show_chart(("fan_net", run_key), lambda: C.fan_chart(results, "investor_net"))
st.caption(f"Fan charts: the 5–95% and 25–75% ranges of {results.n_kept:,} kept paths, and their median.")
oc1, oc2 = st.columns(2)
with oc1:
    st.markdown("**Outcomes verified per period, by partner** (mean over paths)")
    show_chart(("outcomes", run_key), lambda: C.outcomes_chart(results))
with oc2:
    st.markdown("**Outcomes above baseline per participant, by enrolment cohort** — early cohorts gain less")
    show_chart(("uplift", run_key), lambda: C.uplift_chart(results))

# -- Compare
st.subheader("Base against edited scenario")
if ref_results is None:
    st.info("The base scenario is not valid, so there is nothing to compare against. Use **Make the current "
            "scenario the base** in the sidebar.")
else:
    same = ref_results is results
    st.caption(f"Base: **{ss.get('reference_label', '')}** · Edited: **{rs.name}** · same {run_n:,} paths and seed {run_seed}"
               + (" · no edits yet, so both columns agree" if same else ""))
    show_chart(("compare", run_key, ref_json), lambda: C.comparison_chart(C.comparison_frame(ref_summary, summary)))
    comp = A.comparison_table(ref_summary, summary, cur)
    st.dataframe(comp[["Measure", "Base", "Edited", "Change"]], hide_index=True, width="stretch",
                 height=35 * (len(comp) + 1) + 3)

# -- Learning as results arrive: observed quarters update the projections
st.divider()
render_nowcast(st, scenario)

# -- Downloads
with download_box:
    st.header("Download")
    if scenario is not None:
        st.download_button("Scenario (YAML)", A.scenario_yaml_bytes(scenario), file_name="scenario.yaml",
                           mime="application/x-yaml", width="stretch", on_click="ignore")
    st.download_button("Summary (CSV)", A.summary_csv_bytes(summary), file_name="summary.csv", mime="text/csv",
                       width="stretch", on_click="ignore")
    st.download_button("Path results (Parquet)", lambda: A.results_parquet_bytes(results), file_name="paths.parquet",
                       mime="application/vnd.apache.parquet", width="stretch", on_click="ignore",
                       help="One row per path, every per-path measure; the scenario and seed in the file's metadata.")
    st.caption(f"Results: {results.n_paths:,} paths, seed {results.seed}"
               + (f", {results.extra['elapsed_s']:.2f} s" if "elapsed_s" in results.extra else ""))
