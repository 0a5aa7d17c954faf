"""The app's Cases and Sensitivity tabs (Streamlit drawing; the work is in
:mod:`cib_sim.app.studies`). Each runs on request, on the scenario of the last run, with its
seed: results are kept in session state under ``study:*`` keys with the run they belong to, and
marked out of date when the scenario has changed since."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from cib_sim.app import studies as SD
from cib_sim.app.cells import NotANumber, parse_number
from cib_sim.charts import studies as CS
from cib_sim.charts import tornado_chart
from cib_sim.results import Results


def _bar(st: Any, text: str):
    bar = st.progress(0.0, text=text)

    def tick(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{text} ({done:,} of {total:,} chunks)")

    return bar, tick


def _stale_note(st: Any, stored_key: Any, run_key: Any, stale: bool) -> None:
    if stored_key != run_key:
        st.warning("These tables are for an earlier version of the scenario: run them again.", icon=":material/pause_circle:")
    elif stale:
        st.caption("Run on the scenario of the last simulation (the edits since are not in them yet).")


def _store_table(ss: Any, label: str, run_key: Any, df: pd.DataFrame) -> None:
    tables = dict(ss.get("study:tables") or {})
    tables[label] = (run_key, df)
    ss["study:tables"] = tables


# --------------------------------------------------------------------------------------------
# Cases


def render_cases(st: Any, ss: Any, results: Results, run_key: Any, stale: bool) -> None:
    s = results.scenario
    cur = s.currency
    st.subheader("Cases side by side")
    st.caption("Named cases, each a set of changes to the scenario, all run on the same paths and seed as the main run "
               "(common random numbers): differences between cases are the cases, not Monte Carlo noise. "
               + SD.CHANGES_HELP)
    if "cases_df" not in ss:
        ss["cases_df"] = SD.DEFAULT_CASES.copy()
    table = st.data_editor(
        ss["cases_df"], key="cases_editor", num_rows="dynamic", hide_index=True, width="stretch",
        column_config={
            "Case": st.column_config.TextColumn("Case", help="A name for the case", width=140),
            "Changes": st.column_config.TextColumn("Changes (shocks, joined by +)", help=SD.CHANGES_HELP, width=380),
            "Description": st.column_config.TextColumn("Description", width=380),
        })
    cases, problems = SD.parse_cases(table, s)
    for p in problems:
        st.error(p)
    c1, c2 = st.columns([1, 3])
    n_paths = results.n_paths
    clicked = c1.button("Run the cases", type="primary", key="run_cases", disabled=bool(problems),
                        help=f"{len(cases)} cases × {n_paths:,} paths, seed {results.seed}")
    c2.caption(f"{len(cases)} cases × {n_paths:,} paths, seed {results.seed}.")
    spec = tuple((n, sh.name) for n, sh in cases)
    if clicked and not problems:
        bar, tick = _bar(st, "Running the cases")
        try:
            res = SD.run_cases(s, cases, n_paths, int(results.seed), progress=tick)
            frame = SD.cases_frame([n for n, _ in cases], res)
            ss["study:cases"] = (run_key, frame, spec)
        except Exception as exc:  # noqa: BLE001 - shown, not raised
            st.error(f"The cases could not be run: {type(exc).__name__}: {exc}")
        bar.empty()
    stored = ss.get("study:cases")
    if not stored:
        st.info("Press **Run the cases** to see them side by side.")
        return
    key, frame, stored_spec = stored
    _stale_note(st, key, run_key, stale)
    cases_names = [c for c in frame.columns if c not in ("Measure", "kind")]
    st.caption(f"{len(cases_names)} cases run on the same {results.n_paths:,} paths, seed {results.seed}: "
               + ", ".join(cases_names) + ".")
    if stored_spec != spec:
        st.caption("The cases table has changed since these were run.")
    st.dataframe(SD.display_frame(frame, cur), hide_index=True, width="stretch",
                 height=35 * (len(frame) + 1) + 3)
    chart = CS.cases_chart(frame).to_dict(validate=False)
    chart.get("config", {}).pop("view", None)
    st.vega_lite_chart(chart, width="content")


# --------------------------------------------------------------------------------------------
# Sensitivity


def _range_inputs(st: Any, s, lever: str, key: str, default_steps: int = 5):
    base = SD.lever_base(s, lever)
    lo, hi = (0.8, 1.2) if lever in SD.LEVER_LABELS else (0.5 * base, 1.5 * base) if base else (0.0, 1.0)
    c1, c2, c3 = st.columns(3)
    a = c1.text_input("From", value=f"{lo:.6g}", key=f"{key}_from:{lever}")
    b = c2.text_input("To", value=f"{hi:.6g}", key=f"{key}_to:{lever}")
    n = c3.slider("Steps", min_value=2, max_value=11, value=default_steps, key=f"{key}_steps")
    return a, b, n


def _lever_select(st: Any, lever_labels: dict[str, str], label: str, key: str, index: int = 0) -> str:
    labels = list(lever_labels)
    choice = st.selectbox(label, labels, index=min(index, len(labels) - 1), key=key,
                          help="A multiplier on a group of fields, or any number in the scenario by its path")
    return lever_labels[choice]


def render_sensitivity(st: Any, ss: Any, results: Results, run_key: Any, stale: bool) -> None:
    s = results.scenario
    cur = s.currency
    st.subheader("Sensitivity")
    st.caption("What moves the results: tables of a measure against one or two inputs, a tornado of the uncertain "
               "inputs, and the break-even value of an input. Every variant runs on the same paths and seed.")
    c1, c2 = st.columns(2)
    n_paths = int(c1.number_input("Paths per variant", min_value=200, max_value=100_000, value=min(2000, results.n_paths),
                                  step=500, key="sens_paths",
                                  help="Fewer paths run faster; the solver reports its Monte Carlo error"))
    seed = int(results.seed)
    c2.caption(f"Seed {seed} (the main run's). Each table runs on request.")
    ms = SD.measures(s)
    m_by_label = {m.label: m for m in ms}
    # The scenario's numeric fields, by path: the same while only values change.
    shape = (tuple(s.outcome_names), tuple(s.partner_names), tuple(c.name for c in s.commissioners),
             tuple(t.name for t in s.tranches), s.delivery.model)
    memo = ss.get("study:levers")
    if memo is None or memo[0] != shape:
        memo = (shape, SD.levers(s))
        ss["study:levers"] = memo
    lever_labels = memo[1]
    inv = {v: k for k, v in lever_labels.items()}
    one, two, tor, be = st.tabs(["One-way table", "Two-way table (heat map)", "Tornado", "Break-even"])

    with one:
        lever = _lever_select(st, lever_labels, "Input", "sens1_lever")
        a, b, n = _range_inputs(st, s, lever, "sens1")
        chosen = st.multiselect("Measures", list(m_by_label), default=[ms[0].label, "Payments expected", "Value for money"],
                                key="sens1_measures")
        if st.button("Run the one-way table", key="sens1_run", type="primary"):
            try:
                values = SD.grid(a, b, n, "Input range")
                if not chosen:
                    raise ValueError("choose at least one measure")
                bar, tick = _bar(st, "Running the one-way table")
                df = SD.one_way(s, lever, values, [m_by_label[c] for c in chosen], n_paths, seed, progress=tick)
                bar.empty()
                ss["study:one_way"] = (run_key, df, lever, chosen)
                _store_table(ss, f"One-way: {inv.get(lever, lever)}", run_key, df)
            except Exception as exc:  # noqa: BLE001
                st.error(f"The one-way table could not be run: {exc}")
        stored = ss.get("study:one_way")
        if stored:
            key, df, lev, chosen_ = stored
            _stale_note(st, key, run_key, stale)
            show = df.copy()
            for c in chosen_:
                show[c] = [SD.fmt_value(v, m_by_label[c].kind, cur) for v in df[c]] if c in m_by_label else df[c]
            show = show.rename(columns={lev: inv.get(lev, lev)})
            st.dataframe(show, hide_index=True, width="stretch")
            pick = st.selectbox("Chart", chosen_, key="sens1_chart") if len(chosen_) > 1 else chosen_[0]
            if pick in df.columns:
                st.vega_lite_chart(CS.one_way_chart(df, lev, pick, inv.get(lev, lev), m_by_label[pick].kind).to_dict(validate=False),
                                   width="stretch")

    with two:
        cx, cy = st.columns(2)
        with cx:
            lever_x = _lever_select(st, lever_labels, "Across (columns)", "sens2_x", 0)
            ax, bx, nx = _range_inputs(st, s, lever_x, "sens2x")
        with cy:
            lever_y = _lever_select(st, lever_labels, "Down (rows)", "sens2_y", 1)
            ay, by, ny = _range_inputs(st, s, lever_y, "sens2y")
        mlabel = st.selectbox("Measure", list(m_by_label), key="sens2_measure")
        if st.button("Run the two-way table", key="sens2_run", type="primary"):
            try:
                xs, ys = SD.grid(ax, bx, nx, "Across"), SD.grid(ay, by, ny, "Down")
                bar, tick = _bar(st, f"Running {len(xs) * len(ys)} variants")
                long = SD.two_way(s, lever_x, xs, lever_y, ys, m_by_label[mlabel], n_paths, seed, progress=tick)
                bar.empty()
                ss["study:two_way"] = (run_key, long, lever_x, lever_y, mlabel)
                _store_table(ss, f"Two-way: {mlabel}", run_key,
                             SD.two_way_table(long, inv.get(lever_x, lever_x), inv.get(lever_y, lever_y)))
            except Exception as exc:  # noqa: BLE001
                st.error(f"The two-way table could not be run: {exc}")
        stored = ss.get("study:two_way")
        if stored:
            key, long, lx, ly, ml = stored
            _stale_note(st, key, run_key, stale)
            kind = m_by_label[ml].kind if ml in m_by_label else "x"
            st.markdown(f"**{ml}** by {inv.get(lx, lx)} (across) and {inv.get(ly, ly)} (down)")
            st.vega_lite_chart(CS.heatmap_chart(long, inv.get(lx, lx), inv.get(ly, ly), ml, kind).to_dict(validate=False),
                               width="content")
            t = SD.two_way_table(long, inv.get(lx, lx), inv.get(ly, ly))
            for c in t.columns[1:]:
                t[c] = [SD.fmt_value(v, kind, cur) for v in t[c]]
            st.dataframe(t, hide_index=True, width="stretch")

    with tor:
        mlabel = st.selectbox("Measure", list(m_by_label), key="tor_measure")
        st.caption("Each uncertain input at its low and its high value (effects ± 1 sd, maturity ± 1 year, referrals "
                   "± 20%, correlation ± 0.3, hazards × 0 and × 2), everything else at base.")
        if st.button("Run the tornado", key="tor_run", type="primary"):
            try:
                bar, tick = _bar(st, "Running the tornado")
                df = SD.tornado_table(s, m_by_label[mlabel], n_paths, seed, progress=tick)
                bar.empty()
                ss["study:tornado"] = (run_key, df, mlabel)
                _store_table(ss, f"Tornado: {mlabel}", run_key, df)
            except Exception as exc:  # noqa: BLE001
                st.error(f"The tornado could not be run: {exc}")
        stored = ss.get("study:tornado")
        if stored:
            key, df, ml = stored
            _stale_note(st, key, run_key, stale)
            st.vega_lite_chart(tornado_chart(df, metric=ml).to_dict(validate=False), width="content")
            kind = m_by_label[ml].kind if ml in m_by_label else "x"
            show = pd.DataFrame({"Input": df["input"], "Low setting": df["low_setting"], "High setting": df["high_setting"],
                                 "At low": [SD.fmt_value(v, kind, cur) for v in df["low"]],
                                 "At high": [SD.fmt_value(v, kind, cur) for v in df["high"]],
                                 "Swing": [SD.fmt_value(v, kind, cur) for v in df["swing"]]})
            st.dataframe(show, hide_index=True, width="stretch")

    with be:
        st.caption("The value of an input at which a measure hits a target, e.g. the price multiplier at which the "
                   "senior tranche's P(loss) is 5%, with its Monte Carlo standard error (bootstrap over paths).")
        lever = _lever_select(st, lever_labels, "Input to solve for", "be_lever")
        mlabel = st.selectbox("Measure", list(m_by_label), key="be_measure")
        kind = m_by_label[mlabel].kind
        c1, c2, c3 = st.columns(3)
        default_target = {"prob": "5%", "pct": "6%", "x": "1.5", "money": "1m", "count": "1000"}[kind]
        target_text = c1.text_input("Target value", value=default_target, key=f"be_target:{mlabel}",
                                    help="Typed as a number (5%, 0.05, 1.5m ...)")
        base = SD.lever_base(s, lever)
        lo, hi = (0.25, 4.0) if lever in SD.LEVER_LABELS else (0.0, 2 * base if base else 1.0)
        lo_text = c2.text_input("Search from", value=f"{lo:.6g}", key=f"be_lo:{lever}")
        hi_text = c3.text_input("to", value=f"{hi:.6g}", key=f"be_hi:{lever}")
        if st.button("Solve", key="be_run", type="primary"):
            try:
                target = parse_number(target_text)
                a, b = parse_number(lo_text), parse_number(hi_text)
                if target is None or a is None or b is None:
                    raise ValueError("give the target and both ends of the search")
                if not a < b:
                    raise ValueError("the search range must go from a lower to a higher value")
                with st.spinner("Solving (a scan over the range, then Brent's method; every step on the same paths)…"):
                    r = SD.break_even(s, lever, m_by_label[mlabel], target, (a, b), n_paths, seed)
                ss["study:break_even"] = (run_key, r, lever, mlabel, target)
                _store_table(ss, f"Break-even: {mlabel}", run_key, r.evaluations)
            except NotANumber as exc:
                st.error(f"Break-even: {exc}")
            except Exception as exc:  # noqa: BLE001
                st.error(f"The break-even could not be solved: {exc}")
        stored = ss.get("study:break_even")
        if stored:
            key, r, lev, ml, target = stored
            _stale_note(st, key, run_key, stale)
            k_ = m_by_label[ml].kind if ml in m_by_label else "x"
            name = inv.get(lev, lev)
            if r.status == "solved":
                se = f" ± {r.std_error:.3g} (Monte Carlo standard error)" if math.isfinite(r.std_error) else ""
                st.success(f"**{name} = {r.value:.4g}**{se} gives {ml} = {SD.fmt_value(r.achieved, k_, cur)} "
                           f"(target {SD.fmt_value(target, k_, cur)}).")
            else:
                st.warning(f"No solution: {r.message}")
