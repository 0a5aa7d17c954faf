"""The Funds tab in a real browser (Playwright driving Debian's chromium): run the shipped
place-based fund and take a screenshot (``artifacts/browser_funds.png``). Marked slow: a
Streamlit server and a browser of its own (about 30 s); ``python -m pytest -m slow
tests/test_portfolio_browser.py``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    env = dict(os.environ, CIB_APP_PATHS="2000", STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with status {proc.returncode}")
            try:
                with urllib.request.urlopen(url + "_stcore/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)


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
