"""The Funds tab in a real browser (Playwright driving Debian's chromium): run the shipped
place-based fund and take a screenshot (``artifacts/browser_funds.png``). Marked slow: a
Streamlit server and a browser of its own (about 30 s); ``python -m pytest -m slow
tests/test_portfolio_browser.py``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit_server import serve_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = None

if CHROMIUM is None or sync_playwright is None:
    pytest.skip("Chromium or Playwright is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def app_url():
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_app({"CIB_APP_PATHS": "2000"}) as url:
        yield url


def _settle(pg, timeout: float = 120_000) -> None:
    try:
        pg.wait_for_selector('[data-testid="stApp"][data-test-script-state="running"]', timeout=1_500)
    except Exception:  # noqa: BLE001 - over already
        pass
    pg.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)


def test_funds_tab_in_a_browser(app_url):
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            pg = b.new_context(viewport={"width": 1280, "height": 900}).new_page()
            pg.set_default_timeout(120_000)
            errors: list[str] = []
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.goto(f"{app_url}?paths=2000")
            pg.locator(".cib-strip").wait_for()
            _settle(pg)
            pg.get_by_role("tab", name="Funds", exact=True).first.click()
            _settle(pg)
            pg.get_by_role("button", name="Run the portfolio").click()  # the place-based fund, by default
            _settle(pg)
            expect(pg.get_by_text("P(pot runs out)").first).to_be_visible()
            pg.get_by_text("the pot over time").first.scroll_into_view_if_needed()
            pg.wait_for_timeout(1500)  # charts drawn
            pg.screenshot(path=str(ARTIFACTS / "browser_funds.png"))
            assert pg.locator('[data-testid="stException"]').count() == 0
            assert not errors, errors
        finally:
            b.close()
