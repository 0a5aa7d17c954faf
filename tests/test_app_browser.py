"""The app in a real browser: Playwright driving Debian's Chromium (``executable_path``; the
browser download of Playwright itself is not needed), as a fund designer would use it.

Each flow clicks, types into table cells, downloads, and asserts what the page shows; each saves
a screenshot under ``artifacts/``. One Streamlit server (West London Zone at 10,000 paths) serves
the module; each test opens a fresh page (a fresh session). Skipped when Chromium or Playwright is
missing. Waits are for elements, never fixed sleeps. The edit-to-settle time of a price edit is
measured and written to ``artifacts/edit_settle.json``. The heat map, tornado, break-even and
learning flows are marked ``slow`` (``-m slow``); the others take about a minute and a half.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from streamlit_server import serve_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
PATHS = 10_000  # the measured flows (first screen, edit to settle) run the default, as a designer does
QUICK_PATHS = 2_000  # the other flows, opened with ?paths=2000
FULL = {"test_first_screen_shows_the_summary_strip_and_no_developer_toolbar", "test_an_edit_settles_quickly_and_moves_the_strip"}
ROW = 35  # the data editor's row height (and its header's), in pixels

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = None

if CHROMIUM is None or sync_playwright is None:
    pytest.skip("Chromium or Playwright is not installed (apt-get install chromium; pip install playwright)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def app_url():
    ARTIFACTS.mkdir(exist_ok=True)
    # CIB_APP_TIMING: the server's own time for each run, in the log
    with open(ARTIFACTS / "streamlit_browser_tests.log", "w") as log, \
            serve_app({"CIB_APP_PATHS": str(PATHS), "CIB_APP_TIMING": "1"}, log) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url, request):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(app_url if request.node.name in FULL else f"{app_url}?paths={QUICK_PATHS}")
    pg.locator(".cib-strip").wait_for(timeout=120_000)
    settle(pg, started=True)
    failed = request.session.testsfailed
    yield pg
    if request.session.testsfailed > failed:  # the page as it was when the test failed
        pg.screenshot(path=str(ARTIFACTS / f"failed_{request.node.name}.png"), full_page=True)
    assert pg.locator('[data-testid="stException"]').count() == 0
    assert not errors, errors
    ctx.close()


def settle(pg, timeout: float = 60_000, started: bool = False) -> None:
    """Wait until the app's run is over (Streamlit's own script state, as its tests read it). An
    action reruns the app a moment later: unless the run is known to have ``started``, give it a
    moment to start first."""
    if not started:
        try:
            pg.wait_for_selector('[data-testid="stApp"][data-test-script-state="running"]', timeout=1_500)
        except PlaywrightTimeout:
            pass  # it was over already, or this action does not rerun
    pg.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)
    pg.wait_for_function("() => document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0",
                         timeout=timeout)


def shot(pg, name: str) -> None:
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def open_tab(pg, name: str) -> None:
    """Open a tab and wait for the rerun that switching tabs starts."""
    pg.get_by_role("tab", name=name, exact=True).first.click()
    expect(pg.get_by_role("tab", name=name, exact=True).first).to_have_attribute("aria-selected", "true")
    settle(pg)


def editor(pg, n: int = 0):
    """The n-th data editor on the open tab(s)."""
    ed = pg.locator('[data-testid="stDataFrame"]').filter(visible=True).nth(n)
    ed.wait_for()
    ed.evaluate("e => e.scrollIntoView({block: 'center'})")  # clear of the sticky strip at the top
    return ed


def type_into_cell(pg, ed, row: int, col: int, text: str, new_row: bool = False) -> None:
    """Type into a data editor's cell as a person does: click it (rows and columns from 0, the
    first visible column), move with the arrow keys, open the cell's editor, type, press Enter;
    wait for the rerun. ``new_row``: ``row`` is the empty last row, whose first cell opens for
    typing when clicked (and adds the row)."""
    settle(pg, started=True)
    # The page may still be moving (a message above the table comes or goes): click once it is still.
    box = None
    for _ in range(50):
        now = ed.bounding_box()
        if now is not None and now == box:
            break
        box = now
        pg.wait_for_timeout(60)
    ed.click(position={"x": 60, "y": ROW + row * ROW + ROW // 2})  # past the row marker
    overlay = pg.locator("textarea.gdg-input")
    if not (new_row and col == 0):
        # Keys go to the grid once it has the focus; a key pressed before is lost (and the text
        # would go into the first column), so wait for it, and give the grid a moment per key.
        pg.wait_for_function("(e) => e.contains(document.activeElement)", arg=ed.element_handle())
        for _ in range(col):
            pg.keyboard.press("ArrowRight")
            pg.wait_for_timeout(50)
        pg.keyboard.press("Enter")
    overlay.first.wait_for()
    overlay.first.fill(text)
    overlay.first.press("Enter")
    overlay.first.wait_for(state="detached")
    settle(pg)


def shown(pg, text: str):
    """The first visible element with ``text``."""
    return pg.get_by_text(text).filter(visible=True).first


def strip_text(pg) -> str:
    return pg.locator(".cib-strip").inner_text()


# --------------------------------------------------------------------------------------------
# Flows


def test_first_screen_shows_the_summary_strip_and_no_developer_toolbar(page):
    strip = page.locator(".st-key-summary_strip")
    box = strip.bounding_box()
    assert box and box["y"] + box["height"] < 800, box  # on the first screen of a 1280 x 800 laptop
    text = strip_text(page)
    for want in ("P(loss) · median IRR", "Payments expected", "Payments, 95th pct", "Value for money", "vs base"):
        assert want in text
    assert "10,000 paths · seed 1" in page.locator(".cib-note").inner_text()
    assert page.get_by_role("button", name="Deploy").count() == 0
    assert page.get_by_role("tab", name="Design").count() and page.get_by_role("tab", name="Real deals").count()
    shot(page, "browser_first_screen")
    # Scrolled down in the editors, the strip stays in view.
    open_tab(page, "Partners")
    editor(page, 1)
    page.mouse.wheel(0, 1200)
    page.wait_for_function("() => document.querySelector('.st-key-summary_strip').getBoundingClientRect().top < 120")
    box = strip.bounding_box()
    assert 0 <= box["y"] < 120, box
    shot(page, "browser_strip_in_view")


def test_typed_numbers_are_read_exactly_or_named_as_not_numbers(page):
    open_tab(page, "Partners")
    ed = editor(page)
    type_into_cell(page, ed, 0, 1, "1,5OO")  # partner 1, cost
    shown(page, '"1,5OO" is not a number').wait_for()
    expect(page.get_by_role("tab", name="Partners ⚠ 1")).to_be_visible()
    expect(page.get_by_role("tab", name="Design ⚠ 1")).to_be_visible()
    assert shown(page, "row 1 (Academic tutoring) · Cost (GBP/participant)").count()
    # Another edit is kept while the first is wrong; 1e3 is 1000 (not 13).
    type_into_cell(page, editor(page), 3, 1, "1e3")  # partner 4 (Sport and arts), cost 600
    settle(page)
    expect(page.get_by_role("tab", name="Partners ⚠ 1")).to_be_visible()
    shot(page, "browser_not_a_number")
    # Fixing it clears the error; the other edit is still there.
    type_into_cell(page, editor(page), 0, 1, "1.5k")
    shown(page, '"1,5OO" is not a number').wait_for(state="detached")
    expect(page.get_by_role("tab", name="Partners", exact=True)).to_be_visible()
    # A wrong cell again; the draft can be saved, named after the scenario, with what was typed and
    # the file's comments.
    type_into_cell(page, editor(page), 2, 1, "abc")
    shown(page, '"abc" is not a number').wait_for()
    with page.expect_download() as dl:
        page.get_by_role("button", name="Draft scenario with 1 problem (YAML)").click()
    d = dl.value
    assert d.suggested_filename == "west_london_zone_cib_lcf.yaml"
    text = Path(d.path()).read_text()
    assert "cost: abc" in text and "cost: 1500" in text and text.lstrip().startswith("#")
    assert "cost: 600" not in text and text.count("cost: 1000") == 2  # Mentoring's, and Sport and arts' 1e3
    assert all(f"name: {n}" in text for n in ("Academic tutoring", "Mentoring", "Therapeutic support", "Sport and arts"))


def test_typing_into_the_blank_last_row_keeps_what_was_typed(page):
    open_tab(page, "Partners")
    ed = editor(page)
    type_into_cell(page, ed, 4, 0, "Music therapy", new_row=True)  # WLZ has 4 partners: row 5 is the empty one
    page.get_by_text("row 5 (Music therapy)").first.wait_for()
    # Its empty cells took the defaults, which are flagged for checking.
    assert shown(page, "0 for a new partner").count()
    assert shown(page, "every participant in the zone gets this partner").count()
    # Type its cost into the same (still live) table.
    type_into_cell(page, editor(page), 4, 1, "800")
    shown(page, "0 for a new partner").wait_for(state="detached")
    assert shown(page, "row 5 (Music therapy)").count()  # still there
    shot(page, "browser_new_row")


def test_a_break_clause_typed_into_its_table_takes_effect(page):
    """List terms are tables: a new break clause typed into the empty table's row is named while
    incomplete, then stops enrolment on (nearly) every path and moves the strip."""
    open_tab(page, "Backbone & terms")
    before = strip_text(page)
    type_into_cell(page, editor(page, 1), 0, 0, "2", new_row=True)  # the break clauses' table: review at year 2
    shown(page, "Break clauses · row 1 · Trigger: required").wait_for()
    expect(page.get_by_role("tab", name="Backbone & terms ⚠ 1")).to_be_visible()
    type_into_cell(page, editor(page, 1), 0, 3, "10m")  # trigger: GBP 10m earned by year 2 (never reached)
    shown(page, "Break clauses · row 1 · Trigger: required").wait_for(state="detached")
    expect(page.get_by_role("tab", name="Backbone & terms", exact=True)).to_be_visible()
    page.wait_for_function("(b) => document.querySelector('.cib-strip').innerText !== b", arg=before)
    after = strip_text(page)
    assert "no change vs base" not in after.split("Payments expected")[1].split("\n")[2], after
    editor(page, 1)
    shot(page, "browser_break_clause_table")


def test_edits_survive_moving_between_design_tabs(page):
    """Only the open design tab's tables are drawn (the others' edits are folded into their base
    tables): what was typed, a new row included, is there once when the tab is opened again."""
    open_tab(page, "Partners")
    type_into_cell(page, editor(page), 0, 1, "1,234")  # partner 1, cost
    type_into_cell(page, editor(page), 4, 0, "Music therapy", new_row=True)
    shown(page, "row 5 (Music therapy)").wait_for()
    open_tab(page, "Outcomes & rate card")
    assert shown(page, "row 5 (Music therapy)").count() == 0  # its messages are on the Partners tab
    open_tab(page, "Partners")
    shown(page, "row 5 (Music therapy)").wait_for()
    assert page.get_by_text("row 6").count() == 0  # not added twice
    with page.expect_download() as dl:
        page.get_by_role("button", name="Scenario (YAML)").or_(
            page.get_by_role("button", name=re.compile(r"Draft scenario with \d+ problems? \(YAML\)"))).first.click()
    draft = Path(dl.value.path()).read_text()
    assert draft.count("Music therapy") == 1 and "cost: 1234" in draft, draft[:2000]  # the grid is a canvas


def test_an_edit_settles_quickly_and_moves_the_strip(page):
    """An edit of WLZ at 10,000 paths: time from Enter to the strip showing the new figures."""
    open_tab(page, "Outcomes & rate card")
    before = strip_text(page)
    timings, sims = [], []
    for price in ("1,200", "1,400", "1,100"):
        ed = editor(page)
        ed.click(position={"x": 60, "y": ROW + ROW // 2})
        page.wait_for_function("(e) => e.contains(document.activeElement)", arg=ed.element_handle())
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(50)
        page.keyboard.press("Enter")
        overlay = page.locator("textarea.gdg-input").first
        overlay.fill(price)
        t0 = time.perf_counter()
        overlay.press("Enter")
        page.wait_for_function("(b) => document.querySelector('.cib-strip') && "
                               "document.querySelector('.cib-strip').innerText !== b", arg=before, timeout=30_000)
        settle(page, started=True)
        timings.append(time.perf_counter() - t0)
        before = strip_text(page)
        note = page.locator(".cib-note").inner_text()  # "10,000 paths · seed 1 · 0.31 s · base: ..."
        sims.append(float(note.split(" · ")[2].rstrip(" s")))
    assert "vs base" in before and "no change vs base" not in before.split("Payments expected")[1].split("\n")[2]
    result = {"paths": PATHS, "scenario": "west_london_zone.yaml", "edit_settle_s": [round(t, 3) for t in timings],
              "median_s": round(sorted(timings)[1], 3), "simulation_s": sims,
              "load_average": os.getloadavg()[0], "cpus": os.cpu_count()}
    (ARTIFACTS / "edit_settle.json").write_text(json.dumps(result, indent=2))
    print(f"edit settles in {result['median_s']} s (median of {timings}; simulation {sims} s; "
          f"load average {result['load_average']:.1f} on {result['cpus']} cpus)")
    assert result["median_s"] < 5  # the target is < 1 s on a free machine; CI machines are shared
    shot(page, "browser_after_edit")


def test_cases_side_by_side(page):
    open_tab(page, "Cases")
    page.get_by_role("button", name="Run the cases").click()
    caption = shown(page, "cases run on the same")
    caption.wait_for(timeout=120_000)
    settle(page, 120_000)
    assert caption.inner_text().endswith(f"{QUICK_PATHS:,} paths, seed 1: Base, Upside, Downside.")
    chart = page.locator('[data-testid="stVegaLiteChart"]').filter(visible=True).first
    chart.wait_for()
    chart.evaluate("e => e.scrollIntoView({block: 'center'})")
    shot(page, "browser_cases")
    # The workbook now carries the cases.
    from openpyxl import load_workbook

    with page.expect_download() as dl:
        page.get_by_role("button", name="Workbook (Excel)").click()
    wb = load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))
    assert "Cases" in wb.sheetnames
    header = [c.value for c in next(r for r in wb["Cases"].iter_rows() if r[0].value == "Measure")]
    assert header[1:4] == ["Base", "Upside", "Downside"]


@pytest.mark.slow
def test_sensitivity_heat_map(page):
    open_tab(page, "Sensitivity")
    page.get_by_role("tab", name="Two-way table (heat map)").click()
    paths = page.get_by_role("spinbutton", name="Paths per variant")
    paths.fill("500")
    paths.press("Enter")
    settle(page)
    page.get_by_role("button", name="Run the two-way table").click()
    page.get_by_text("(across) and").first.wait_for(timeout=120_000)
    settle(page, 120_000)
    chart = page.locator('[data-testid="stVegaLiteChart"]').filter(visible=True).first
    chart.wait_for()
    chart.scroll_into_view_if_needed()
    shot(page, "browser_sensitivity_heat_map")


def test_an_uploaded_scenario_with_a_problem_is_loaded_and_the_problem_shown(page, tmp_path):
    text = (ROOT / "scenarios" / "rate_card_fund.yaml").read_text()
    bad = tmp_path / "my_deal.yaml"
    bad.write_text(text.replace("name: ", "name: My deal, copy of ", 1).replace("years: 4", "years: -4", 1))
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(bad))
    shown(page, "Editing: upload: my_deal.yaml").wait_for()
    settle(page)
    expect(page.get_by_role("tab", name="Scenario & horizon ⚠ 1")).to_be_visible()
    assert shown(page, "Contract length (years)").count()
    shot(page, "browser_upload_with_a_problem")


def test_workbook_download_opens_with_its_sheets(page):
    from openpyxl import load_workbook

    with page.expect_download() as dl:
        page.get_by_role("button", name="Workbook (Excel)").click()
    d = dl.value
    assert d.suggested_filename == "west_london_zone_cib_lcf.xlsx"
    wb = load_workbook(io.BytesIO(Path(d.path()).read_bytes()))
    assert wb.sheetnames[:4] == ["Terms", "Assumptions", "Summary", "Cash flows"]
    assert wb["Assumptions"]["A1"].value == "Assumptions"


def test_how_similar_deals_paid_shows_the_fan_over_real_curves_and_the_percentile(page):
    open_tab(page, "How similar deals paid")
    box = page.locator(".st-key-similar_deals")
    box.wait_for()
    text = box.inner_text()
    assert "this scenario's median path has paid" in text and "percentile among the" in text
    assert "real projects whose record reaches month" in text
    chart = box.locator('[data-testid="stVegaLiteChart"]').first
    chart.wait_for()
    chart.locator("canvas, svg").first.wait_for()
    assert chart.bounding_box()["height"] > 200
    # The grid draws its (hidden, accessible) header a moment after the chart: wait, do not count now.
    box.locator("th, [role=columnheader]").filter(has_text="Percentile among them").first.wait_for(state="attached")
    chart.evaluate("e => e.scrollIntoView({block: 'center'})")
    shot(page, "browser_similar_deals_paid")


def test_results_explain_value_for_money(page):
    open_tab(page, "Results")
    shown(page, "Value for money, explained").wait_for()
    assert shown(page, "Deadweight: paid for anyway").count()
    caption = page.locator('[data-testid="stCaptionContainer"]').filter(has_text="Value for money = fiscal value").first
    caption.wait_for()
    assert "sign_up" in caption.inner_text()  # WLZ's sign-up: priced, baseline 1.0, all deadweight
    caption.evaluate("e => e.scrollIntoView({block: 'center'})")
    shot(page, "browser_value_for_money")


@pytest.mark.slow
def test_learning_section_updates_on_request_and_states_events(page):
    open_tab(page, "Learning")
    page.get_by_role("button", name="Update the projections").click()
    page.locator("th").filter(has_text="Updated mean").first.wait_for(state="attached", timeout=120_000)
    settle(page, 120_000)
    assert page.locator("th").filter(has_text="posterior_q05").count() == 0
    assert page.locator("th").filter(has_text="Standard error").count() == 1
    shown(page, "What the data say about each partner").evaluate("e => e.scrollIntoView({block: 'start'})")
    shot(page, "browser_learning")


@pytest.mark.slow
def test_tornado_and_break_even_with_its_monte_carlo_error(page):
    open_tab(page, "Sensitivity")
    paths = page.get_by_role("spinbutton", name="Paths per variant")
    paths.fill("500")
    paths.press("Enter")
    settle(page)
    page.get_by_role("tab", name="Tornado").click()
    page.get_by_role("button", name="Run the tornado").click()
    chart = page.locator('[data-testid="stVegaLiteChart"]').filter(visible=True).first
    chart.wait_for(timeout=180_000)
    settle(page, 180_000)
    chart.evaluate("e => e.scrollIntoView({block: 'center'})")
    shot(page, "browser_tornado")
    page.get_by_role("tab", name="Break-even").click()
    page.get_by_role("button", name="Solve", exact=True).click()
    result = page.locator('[data-testid="stAlertContentSuccess"], [data-testid="stAlertContentWarning"]').filter(visible=True).filter(has_text="P(loss)").first
    result.wait_for(timeout=180_000)
    text = result.inner_text()
    assert "Prices (× every price on the rate card) = " in text and "gives Senior social lender: P(loss) = " in text
    result.evaluate("e => e.scrollIntoView({block: 'center'})")
    shot(page, "browser_break_even")
