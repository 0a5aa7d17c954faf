"""The app's "Learning as results arrive" section: ``render_nowcast(st, scenario)``.

Upload a quarter's observed data (or play with a simulated world drawn from the scenario), see
what the data say about each partner's effect, the fan chart of cumulative outcome payments split
into what has been received and what is projected, and how the headline risk figures and the
early-warning probabilities moved since the previous report (or since the scenario as written).

The app calls ``render_nowcast(st, scenario)`` inside its own tab; ``st`` is the streamlit module
(or a container with the same methods). Widget keys start with ``key`` (default ``nowcast``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from cib_sim.charts.style import fmt_money
from cib_sim.learning.observed import (
    COLUMNS,
    ObservedDataError,
    period_starts,
    read_observed,
)
from cib_sim.scenario import Scenario, scenario_to_yaml

BAND_OUTER, BAND_INNER, MEDIAN, OBSERVED, TRUTH = "#9ecae1", "#4292c6", "#08306b", "#111111", "#c0392b"

FORMAT_HELP = (
    "One row per record, columns `" + ", ".join(COLUMNS) + "`. **Enrolment** rows: `period, partner, enrolled` "
    "(optional `dropped`, and `ended=1` when a partner stops). **Outcome** rows: `period, partner, outcome, "
    "achieved` — `period` is the quarter the cohort *enrolled*; a cohort's outcome is reported once verified, "
    "`lag` after it. **Payment** rows: `period, commissioner, payments_received` (optional `ended=1` for a "
    "withdrawal). Periods count from 0 at the contract start (or give a period's start date). In the zone model, "
    "enrolment and outcome rows name the partner `zone`."
)


POSTERIOR_COLUMNS = {
    "partner": "Partner", "parameter": "Parameter", "prior_mean": "Prior mean", "prior_sd": "Prior sd",
    "posterior_mean": "Updated mean", "posterior_sd": "Updated sd", "posterior_q05": "Updated, 5th pct",
    "posterior_q95": "Updated, 95th pct", "shift_in_prior_sd": "Shift (in prior sds)",
}
WARNING_COLUMNS = {"group": "Kind", "name": "Who", "event": "Event", "before": "Before", "now": "Now",
                   "change": "Change", "se": "Standard error"}


def reported_events(s: Scenario, obs, prev=None) -> list[str]:
    """The events in the reported data that make projections jump: partners' exits,
    commissioners' withdrawals, delivery stopped for lack of funds; each with its period (and
    "new since the previous report" when ``prev`` did not have it)."""
    starts = period_starts(s)
    word = s.horizon.period

    def when(t: int) -> str:
        return f"from the {word} starting {starts[t].date()} ({word} {t + 1})" if 0 <= t < len(starts) else f"from {word} {t + 1}"

    def new(kind: str, i: int) -> str:
        if prev is None:
            return ""
        was = getattr(prev, kind)
        return "" if (kind == "stopped" and was >= 0) or (kind != "stopped" and was[i] >= 0) else " — new since the previous report"

    out = []
    for i, t in enumerate(obs.partner_ended):
        if t >= 0:
            out.append(f"Partner **{s.partner_names[i]}** stopped delivering {when(int(t))}: reported exit; its "
                       f"participants get no more of its effect{new('partner_ended', i)}.")
    for i, t in enumerate(obs.commissioner_ended):
        if t >= 0:
            out.append(f"Commissioner **{s.commissioners[i].name}** stopped paying {when(int(t))}: reported withdrawal; "
                       f"its shares of later outcomes are not paid{new('commissioner_ended', i)}.")
    if obs.stopped >= 0:
        out.append(f"Delivery **stopped for lack of funds** {when(int(obs.stopped))}: funding stop{new('stopped', 0)}.")
    return out


def _compute(scenario_json: str, csv_now: str, csv_prev: str | None, n_paths: int, seed: int, n_draws: int) -> dict[str, Any]:
    """Everything the section shows, as small picklable tables (cached by the app)."""
    from cib_sim.learning import (
        PosteriorCollapseWarning,
        early_warning,
        fan_frame,
        fit,
        headline,
        interval,
        nowcast,
    )

    s = Scenario.model_validate_json(scenario_json)
    obs = read_observed(csv_now, s)
    prev = read_observed(csv_prev, s) if csv_prev else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit_ss = np.random.SeedSequence(seed).spawn(2)[0]
        post = fit(s, obs, n_draws=n_draws, seed=fit_ss)
        r_now = nowcast(s, obs, n_paths=n_paths, seed=seed, posterior=post)
        r_prior = nowcast(s, None, n_paths=n_paths, seed=seed, n_draws=n_draws)
        r_prev = nowcast(s, prev, n_paths=n_paths, seed=seed, n_draws=n_draws) if prev is not None else None
        ew = early_warning(s, obs, results=r_now, previous_results=r_prev, prior_results=r_prior)
    msgs = [(w.category is PosteriorCollapseWarning, str(w.message)) for w in caught if issubclass(w.category, UserWarning)]
    return {
        "events": reported_events(s, obs, prev),
        "as_of": obs.as_of,
        "previous_as_of": prev.as_of if prev is not None else None,
        "summary": obs.summary(),
        "ess": post.ess,
        "n_draws": post.n_draws,
        "stages": len(post.betas),
        "posterior": post.table(),
        "posterior_yaml": scenario_to_yaml(post.scenario),
        "early_warning": ew,
        "fan": fan_frame(r_now),
        "headline_now": headline(r_now),
        "headline_prev": headline(r_prev) if r_prev is not None else None,
        "headline_prior": headline(r_prior),
        "interval_now": interval(r_now),
        "interval_prior": interval(r_prior),
        "warnings": msgs,
    }


def nowcast_fan_chart(fan: pd.DataFrame, truth: pd.DataFrame | None = None, currency: str = "GBP") -> alt.Chart:
    """Cumulative outcome payments: the observed line up to the report, then the projected
    5-95% and 25-75% bands and median, a rule at the report date; ``truth`` (``period_start``,
    ``value``) draws a simulated world's actual path for comparison."""
    K = int((fan["phase"] == "observed").sum())
    proj = fan[fan["period"] >= max(K - 1, 0)]
    bands = pd.concat([
        pd.DataFrame({"period_start": proj["period_start"], "lo": proj["q05"], "hi": proj["q95"], "series": "Projected 5–95%"}),
        pd.DataFrame({"period_start": proj["period_start"], "lo": proj["q25"], "hi": proj["q75"], "series": "Projected 25–75%"}),
    ], ignore_index=True)
    lines = [pd.DataFrame({"period_start": proj["period_start"], "value": proj["q50"], "series": "Projected median"})]
    seen = fan[fan["phase"] == "observed"]
    if len(seen):
        lines.append(pd.DataFrame({"period_start": seen["period_start"], "value": seen["observed"], "series": "Received (observed)"}))
    if truth is not None:
        lines.append(truth.assign(series="The world's actual path"))
    line_df = pd.concat(lines, ignore_index=True)
    domain = ["Received (observed)", "Projected median", "Projected 25–75%", "Projected 5–95%"] + (
        ["The world's actual path"] if truth is not None else [])
    colours = [OBSERVED, MEDIAN, BAND_INNER, BAND_OUTER] + ([TRUTH] if truth is not None else [])
    colour = alt.Color("series:N", title=None, scale=alt.Scale(domain=domain, range=colours), legend=alt.Legend(orient="top"))
    x = alt.X("period_start:T", title="Period starting", axis=alt.Axis(format="%Y", tickCount="year"))
    y = alt.Y("lo:Q", title=f"Cumulative outcome payments ({currency})", axis=alt.Axis(format="~s"))
    # The outer band first, so the inner one is drawn over it.
    outer = alt.Chart(bands[bands.series == "Projected 5–95%"]).mark_area(opacity=0.9).encode(x=x, y=y, y2="hi:Q", color=colour)
    inner = alt.Chart(bands[bands.series == "Projected 25–75%"]).mark_area(opacity=0.9).encode(x=x, y=y, y2="hi:Q", color=colour)
    line = alt.Chart(line_df).mark_line(strokeWidth=2.5).encode(
        x=x, y="value:Q", color=colour,
        strokeDash=alt.StrokeDash("series:N", legend=None, scale=alt.Scale(
            domain=domain, range=[[1, 0], [6, 3], [1, 0], [1, 0]] + ([[2, 2]] if truth is not None else []))),
        tooltip=[alt.Tooltip("series:N", title="Series"), alt.Tooltip("period_start:T", title="Period starting", format="%b %Y"),
                 alt.Tooltip("value:Q", title=currency, format=",.0f")],
    )
    layers = [outer, inner, line]
    if K and K < len(fan):
        now = pd.DataFrame({"period_start": [fan["period_start"].iloc[K]], "label": ["report"]})
        layers.append(alt.Chart(now).mark_rule(color="#555", strokeDash=[4, 3]).encode(x="period_start:T"))
        layers.append(alt.Chart(now).mark_text(align="left", dx=4, dy=-120, color="#555").encode(x="period_start:T", text="label:N"))
    return alt.layer(*layers).properties(height=320)


def _metric(h: pd.DataFrame | None, group: str, name: str, metric: str) -> float:
    if h is None:
        return math.nan
    hit = h[(h.group == group) & (h.name == name) & (h.metric == metric)]
    return float(hit.value.iloc[0]) if len(hit) else math.nan


def _money(x: float, cur: str) -> str:
    """The page's money format (``£1.23m``)."""
    return fmt_money(x, cur)


def render_nowcast(st: Any, scenario: Scenario | None, key: str = "nowcast", auto: bool = True,
                   on_request: bool = False) -> None:
    """Draw the section into ``st`` for ``scenario`` (None: ask for a valid scenario).

    ``on_request`` (the app): the update (a fit and two simulations, most of a second) runs when
    **Update the projections** is pressed, and after that on every change while ``auto`` (the
    app's "Run automatically") is on; with ``auto`` off, the last update stays on screen, marked
    out of date. Without ``on_request``, it runs on every change."""
    from cib_sim.learning import simulate_world

    st.subheader("Learning as results arrive")
    st.caption(
        "Feed the quarters reported so far: the effects are updated from the outcomes of cohorts already verified "
        "(early quarters say little while partners are still maturing, so the update moves slowly), and the rest of "
        "the contract is simulated from the updated effects with what has already happened fixed."
    )
    if scenario is None:
        st.info("The scenario has problems; fix them to update it from observed data.")
        return
    T = scenario.horizon.n_periods
    word = scenario.horizon.period
    c1, c2 = st.columns([3, 1])
    source = c1.radio("Observed data", ["A simulated world (example)", "Upload a CSV"], horizontal=True, key=f"{key}_source",
                      help="A simulated world is one path drawn from the scenario: useful to see how the update behaves.")
    n_paths = int(c2.number_input("Paths", min_value=200, max_value=50_000, value=2000, step=200, key=f"{key}_paths"))
    seed = int(c2.number_input("Seed", min_value=0, value=1, step=1, key=f"{key}_seed"))
    ss = st.session_state
    sj = scenario.model_dump_json()
    show_truth = False
    if source.startswith("A simulated"):
        k = int(c1.slider(f"{word.capitalize()}s reported", min_value=1, max_value=T, value=min(T, max(1, T // 3)), key=f"{key}_k"))
        prev_k = int(c1.slider(f"Previous report: {word}s reported (0: none)", min_value=0, max_value=max(0, k - 1),
                               value=max(0, k - scenario.horizon.periods_per_year), key=f"{key}_prev_k")) if k > 1 else 0
        world_seed = int(c1.number_input("World seed", min_value=0, value=16, step=1, key=f"{key}_world"))
        show_truth = c1.checkbox("Show the world's actual path (the truth the update cannot see)", value=False,
                                 key=f"{key}_truth")

        def world_csvs() -> tuple[str, str | None, Any]:
            """The world's reports (drawn only when they are needed: a tenth of a second)."""
            world = simulate_world(scenario, world_seed)
            paid = np.cumsum(world.flows["commissioner_paid"][0].sum(axis=1))
            return (world.observed(k).to_csv(index=False),
                    world.observed(prev_k).to_csv(index=False) if prev_k else None,
                    pd.DataFrame({"period_start": period_starts(scenario), "value": paid}))

        c2.download_button("This world's data (CSV)", lambda: world_csvs()[0], file_name=f"observed_{k}.csv",
                           mime="text/csv", key=f"{key}_dl_example", on_click="ignore")
        inputs: tuple = ("world", world_seed, k, prev_k)
    else:
        up = c1.file_uploader("Observed data (CSV)", type=["csv"], key=f"{key}_upload", help=FORMAT_HELP)
        up_prev = c1.file_uploader("Previous report (optional, CSV)", type=["csv"], key=f"{key}_upload_prev")
        csv_now = up.getvalue().decode("utf-8-sig") if up is not None else None
        csv_prev = up_prev.getvalue().decode("utf-8-sig") if up_prev is not None else None
        inputs = ("upload", csv_now, csv_prev)

        def world_csvs() -> tuple[str | None, str | None, Any]:
            return csv_now, csv_prev, None
    with st.expander("Observed data format"):
        st.markdown(FORMAT_HELP)
    if inputs[0] == "upload" and not inputs[1]:
        st.info("Upload the observed data to update the projections.")
        return

    args = (sj, inputs, n_paths, seed, 8000)
    clicked = on_request and st.button(
        "Update the projections", key=f"{key}_update", type="primary",
        help="Fit the effects to the reported data and simulate the rest of the contract. After the first update, "
             "later changes update it again while **Run automatically** is on.")
    if clicked:
        ss[f"{key}_active"] = True
    last = ss.get(f"{key}_last")
    if not on_request or clicked or (auto and ss.get(f"{key}_active")):
        compute = st.cache_data(max_entries=16, show_spinner=False)(_compute)
        try:
            with st.spinner("Updating the effects and simulating the rest of the contract..."):
                csv_now, csv_prev, world_truth = world_csvs()
                res = compute(sj, csv_now, csv_prev, n_paths, seed, 8000)
        except ObservedDataError as exc:
            st.error("The observed data have problems:\n\n" + "\n".join(f"- {m}" for m in exc.errors[:40]))
            return
        ss[f"{key}_last"] = (args, res, world_truth)
    elif last is not None:
        res, world_truth = last[1], last[2]
        if last[0] != args:
            st.warning("The scenario or the data have changed since this update: press **Update the projections** "
                       "(automatic runs are off)." if not auto else "The scenario or the data have changed since this "
                       "update: press **Update the projections**.", icon=":material/pause_circle:")
    else:
        st.info("Press **Update the projections** to fit the reported data (most of a second).")
        return
    truth = world_truth if show_truth else None
    for collapse, msg in res["warnings"]:
        (st.error if collapse else st.warning)(msg)
    events = res.get("events") or []
    if events:
        st.warning("**Reported events** — causes of jumps in the projections:\n\n" + "\n".join(f"- {e}" for e in events),
                   icon=":material/campaign:")

    cur = scenario.currency
    K = res["as_of"]
    starts = period_starts(scenario)
    when = f"{K} of {T} {word}s reported" + (f" (to the {word} starting {starts[K - 1].date()})" if K else "")
    st.markdown(f"**{when}** — {res['summary']}. Posterior from {res['n_draws']:,} draws, effective sample "
                f"size **{res['ess']:,.0f}**" + (f" after {res['stages']} tempering stages." if res["stages"] > 1 else
                                                 " (the scenario's draws reweighted)."))
    prev_h = res["headline_prev"]
    ref_h, ref_label = (prev_h, "vs last report") if prev_h is not None else (res["headline_prior"], "vs plan")

    def delta(now: float, was: float, kind: str) -> str | None:
        if not (math.isfinite(now) and math.isfinite(was)) or abs(now - was) < (5e-4 if kind == "prob" else 0.5):
            return None  # nothing that would show as a change
        d = now - was
        # An ASCII sign: Streamlit reads the delta's direction from its first character.
        return (f"{d * 100:+.1f} pp " if kind == "prob" else ("+" if d > 0 else "-") + _money(abs(d), cur) + " ") + ref_label

    h = res["headline_now"]
    tranches = [t.name for t in scenario.capital_tranches if t.kind != "grant"]
    n_cards = len(tranches) + 2
    per_row = min(4, n_cards)  # cards wide enough for their labels and deltas
    cols = [c for _ in range(0, n_cards, per_row) for c in st.columns(per_row)]
    exp_now = _metric(h, "contract", scenario.name, "outcome_payments_mean")
    cols[0].metric("Expected outcome payments", _money(exp_now, cur),
                   delta=delta(exp_now, _metric(ref_h, "contract", scenario.name, "outcome_payments_mean"), "money"), border=True)
    stop = _metric(h, "contract", scenario.name, "prob_delivery_stopped")
    cols[1].metric("P(delivery stops)", f"{stop:.1%}", delta=delta(stop, _metric(ref_h, "contract", scenario.name, "prob_delivery_stopped"), "prob"),
                   delta_color="inverse", border=True)
    for col, name in zip(cols[2:], tranches):
        p = _metric(h, "tranche", name, "prob_loss")
        col.metric(f"{name}: P(loss)", f"{p:.1%}" if math.isfinite(p) else "n/a",
                   delta=delta(p, _metric(ref_h, "tranche", name, "prob_loss"), "prob"), delta_color="inverse", border=True)

    lo, hi = res["interval_now"]
    plo, phi = res["interval_prior"]
    st.markdown(f"**Cumulative outcome payments: received, then projected.** Total over the contract, 90% interval "
                f"{_money(lo, cur)} – {_money(hi, cur)} (scenario as written: {_money(plo, cur)} – {_money(phi, cur)}).")
    st.altair_chart(nowcast_fan_chart(res["fan"], truth, cur), width="stretch")

    st.markdown("**What the data say about each partner** (effect: uplift in the chance of the outcome at full "
                "maturity; shift: how far the posterior mean moved, in prior standard deviations)")
    post = res["posterior"]
    if len(post):
        post = post.rename(columns=POSTERIOR_COLUMNS)
        st.dataframe(post, hide_index=True, width="stretch", column_config={
            c: st.column_config.NumberColumn(c, format="%.3f") for c in post.columns if c not in ("Partner", "Parameter")})
    else:
        st.caption("The scenario has no uncertain effects to update.")

    ew = res["early_warning"].copy()
    base = "previous" if res["previous_as_of"] is not None else "prior"
    st.markdown("**Early warning** — the probability, now, of each event; the change is "
                + ("since the previous report." if base == "previous" else "since the scenario as written (no previous report).")
                + " Changes within about two standard errors are Monte Carlo noise.")
    show = ew[["group", "name", "event", base, "now", "change", "se"]].rename(columns={base: "before"})
    show = show.rename(columns=WARNING_COLUMNS)
    before = "At the previous report" if base == "previous" else "Scenario as written"
    st.dataframe(show, hide_index=True, width="stretch", column_config={
        "Before": st.column_config.NumberColumn(before, format="percent"),
        "Now": st.column_config.NumberColumn("Now", format="percent"),
        "Change": st.column_config.NumberColumn("Change", format="percent"),
        "Standard error": st.column_config.NumberColumn("Standard error", format="percent"),
    })
    d1, d2 = st.columns(2)
    d1.download_button("Posterior scenario (YAML)", res["posterior_yaml"], file_name="posterior.yaml", mime="application/x-yaml",
                       key=f"{key}_dl_post", on_click="ignore")
    d2.download_button("Early warning (CSV)", ew.to_csv(index=False), file_name="early_warning.csv", mime="text/csv",
                       key=f"{key}_dl_ew", on_click="ignore")
