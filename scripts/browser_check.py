"""Real-browser check of the app: start it, open it in headless Chromium, wait for the charts,
save screenshots.

    python scripts/browser_check.py [--out artifacts] [--paths 10000] [--timeout 180]

Starts ``streamlit run app.py --server.headless true`` on a free localhost port and Debian's
``chromium`` (headless, no sandbox, fresh profile), drives the page over the DevTools protocol
(with tornado's websocket client, which Streamlit already installs), and waits until every
chart has drawn. Then it saves, under ``--out``:

- ``top.png``: the first screen (1400 x 1000);
- ``page.png``: the whole page at 1400 px wide, and ``page_01.png`` ... slices of it;
- ``page_median_irr.png``: the whole page with the median-path waterfall and IRR distributions;
- ``real_deals.png``: the "Compared with real deals" section, and ``real_deals_tooltip.png``:
  the same with a deal's tooltip showing;
- ``tab_<n>_<name>.png``: each tab of the scenario editor.

It fails (exit status 1) if the server does not start, the page shows a Python exception or
an error, fewer charts than expected draw within the timeout, or the real-deals section lacks its
chart, its two tables or a tooltip naming a deal.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--hide-scrollbars",
    "--force-device-scale-factor=1", "--window-size=1400,1000", "--disable-extensions",
    "--disable-dev-shm-usage", "--mute-audio",
]
# Charts visible on load: real deals, waterfall, histogram and ECDF, two fans, outcomes, uplift,
# comparison (the capital stack and maturity charts sit in editor tabs, drawn when a tab is opened).
MIN_CHARTS = 9
WIDTH = 1400


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> str:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with status {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError as exc:
            last = exc
            time.sleep(0.25)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s ({last})")


class CDP:
    """A minimal Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.events: list[dict] = []  # events that arrived while waiting for replies

    @classmethod
    async def connect(cls, url: str) -> CDP:
        from tornado.websocket import websocket_connect

        return cls(await websocket_connect(url, max_message_size=512 * 1024 * 1024))

    async def call(self, method: str, timeout: float = 60, **params):
        self.next_id += 1
        my = self.next_id
        await self.ws.write_message(json.dumps({"id": my, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"CDP {method} timed out")
            msg = await asyncio.wait_for(self.ws.read_message(), left)
            if msg is None:
                raise RuntimeError("DevTools connection closed")
            data = json.loads(msg)
            if "method" in data:
                self.events.append(data)
            if data.get("id") == my:
                if "error" in data:
                    raise RuntimeError(f"CDP {method}: {data['error']}")
                return data.get("result", {})

    async def eval(self, expr: str):
        r = await self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"JS error in {expr[:60]!r}: {r['exceptionDetails'].get('text')}")
        return r.get("result", {}).get("value")

    async def screenshot(self, path: Path, clip: dict | None = None) -> None:
        params = {"format": "png", "captureBeyondViewport": True}
        if clip:
            params["clip"] = {**clip, "scale": 1}
        r = await self.call("Page.captureScreenshot", timeout=120, **params)
        path.write_bytes(base64.b64decode(r["data"]))


STATE_JS = """(() => {
  // Charts in hidden tabs have no size: count the visible ones.
  const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
    .filter(c => c.getBoundingClientRect().width > 0);
  const drawn = charts.filter(c => {
    const g = c.querySelector('canvas, svg');
    if (!g) return false;
    const r = g.getBoundingClientRect();
    return r.width > 50 && r.height > 50;
  }).length;
  const text = document.body ? document.body.innerText : '';
  return {
    charts: charts.length,
    drawn: drawn,
    exceptions: [...document.querySelectorAll('[data-testid="stException"]')].map(e => e.innerText.slice(0, 400)),
    errors: [...document.querySelectorAll('[data-testid="stAlertContentError"], [data-testid="stAlert"] [role="alert"]')]
              .map(e => e.innerText.slice(0, 400)).filter(t => t && !/^\\s*$/.test(t)),
    running: !!document.querySelector('[data-testid="stStatusWidget"]'),
    simulated: /paths simulated in/.test(text),
    height: Math.max(
      ...[...document.querySelectorAll('[data-testid="stMainBlockContainer"], [data-testid="stAppViewContainer"], [data-testid="stMain"]')]
        .map(e => e.scrollHeight), document.body ? document.body.scrollHeight : 0),
  };
})()"""


# True when every visible chart's canvas has non-blank pixels (Vega has painted it).
PAINTED_JS = """(() => {
  const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
    .filter(c => c.getBoundingClientRect().width > 0);
  return charts.every(c => {
    const cv = c.querySelector('canvas');
    if (!cv) return !!c.querySelector('svg g');
    const ctx = cv.getContext('2d');
    if (!ctx || cv.width === 0 || cv.height === 0) return false;
    const d = ctx.getImageData(0, 0, cv.width, cv.height).data;
    for (let i = 3; i < d.length; i += 4 * 97) if (d[i] !== 0) return true;
    return false;
  });
})()"""


# Charts whose drawing is wider than their place on the page (cut off or overlapping).
OVERFLOW_JS = """(() => {
  const out = [];
  for (const c of document.querySelectorAll('[data-testid="stVegaLiteChart"]')) {
    const r = c.getBoundingClientRect();
    if (r.width === 0) continue;
    const g = c.querySelector('canvas, svg');
    const col = c.closest('[data-testid="stColumn"]') || c.closest('[data-testid="stMainBlockContainer"]');
    if (!g || !col) continue;
    const gr = g.getBoundingClientRect(), cr = col.getBoundingClientRect();
    if (gr.right > cr.right + 4) out.push(`chart at y=${Math.round(r.top)} is ${Math.round(gr.right - cr.right)} px wider than its column`);
  }
  return out;
})()"""


# The "Compared with real deals" section (a container keyed ``real_deals``): its box, its chart's
# box and what it holds. Coordinates are the page's (the viewport is as tall as the page here).
REAL_DEALS_JS = """(() => {
  const box = document.querySelector('.st-key-real_deals');
  if (!box) return null;
  const rect = e => { const r = e.getBoundingClientRect();
                      return {x: r.x, y: r.y + window.scrollY, w: r.width, h: r.height}; };
  const chart = box.querySelector('[data-testid="stVegaLiteChart"]');
  const canvas = chart && chart.querySelector('canvas, svg');
  return {box: rect(box), chart: canvas ? rect(canvas) : null,
          tables: box.querySelectorAll('[data-testid="stDataFrame"]').length,
          text: box.innerText.slice(0, 2000)};
})()"""
TOOLTIP_JS = """(() => {
  const t = document.querySelector('#vg-tooltip-element.visible');
  return t ? t.innerText : null;
})()"""


async def check_real_deals(cdp: CDP, out: Path) -> list[str]:
    """The real-deals section: heading, a drawn chart, two tables, and a tooltip naming a deal
    when the pointer rests on a point (the chart is scanned from its centre outwards until one
    shows). Saves ``real_deals.png``, and ``real_deals_tooltip.png`` with the tooltip showing."""
    problems: list[str] = []
    sec = await cdp.eval(REAL_DEALS_JS)
    if not sec:
        return ["the 'Compared with real deals' section is missing"]
    if "Compared with real deals" not in sec["text"]:
        problems.append("the real-deals section has no heading")
    if sec["tables"] != 2:
        problems.append(f"the real-deals section shows {sec['tables']} tables (expected the percentiles and the nearest deals)")
    ch = sec["chart"]
    if not ch or ch["w"] < 300 or ch["h"] < 250:
        problems.append(f"the real-deals chart did not draw at a readable size ({ch})")
        return problems
    b = sec["box"]
    clip = {"x": 0, "y": max(0, b["y"] - 10), "width": WIDTH, "height": b["h"] + 20}
    await cdp.screenshot(out / "real_deals.png", clip=clip)
    cx, cy = ch["x"] + ch["w"] / 2, ch["y"] + ch["h"] / 2
    grid = sorted(((x, y) for x in range(int(ch["x"]) + 60, int(ch["x"] + ch["w"]) - 10, 7)
                   for y in range(int(ch["y"]) + 40, int(ch["y"] + ch["h"]) - 40, 7)),
                  key=lambda p: (p[0] - cx) ** 2 + (p[1] - cy) ** 2)
    tip = None
    for x, y in grid[:1500]:
        await cdp.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        tip = await cdp.eval(TOOLTIP_JS)
        if tip and "INDIGO-POJ-" in tip:
            break
    if not (tip and "INDIGO-POJ-" in tip and "Sector" in tip and "Country" in tip):
        problems.append(f"no tooltip naming a deal (project id, sector, country) on the real-deals chart: {tip!r}")
    else:
        print("real-deals tooltip: " + " | ".join(tip.splitlines()[:6]))
    await asyncio.sleep(0.3)
    await cdp.screenshot(out / "real_deals_tooltip.png", clip=clip)
    await cdp.call("Input.dispatchMouseEvent", type="mouseMoved", x=1, y=1)
    return problems


async def check(url: str, debug_port: int, out: Path, timeout: float) -> list[str]:
    problems: list[str] = []
    targets = json.loads(wait_http(f"http://127.0.0.1:{debug_port}/json/list", 30))
    page = next(t for t in targets if t.get("type") == "page")
    cdp = await CDP.connect(page["webSocketDebuggerUrl"])
    await cdp.call("Page.enable")
    await cdp.call("Runtime.enable")
    await cdp.call("Log.enable")
    await cdp.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=1000, deviceScaleFactor=1, mobile=False)
    await cdp.call("Page.navigate", url=url)

    deadline = time.monotonic() + timeout
    state, stable = {}, 0
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        try:
            state = await cdp.eval(STATE_JS) or {}
        except RuntimeError:
            continue
        if state.get("exceptions"):
            break
        done = state.get("simulated") and state.get("drawn", 0) >= MIN_CHARTS and state.get("drawn") == state.get("charts")
        stable = stable + 1 if done and not state.get("running") else 0
        if stable >= 2:
            break
    print(f"page state: {state.get('drawn')} of {state.get('charts')} charts drawn, "
          f"simulated={state.get('simulated')}, height={state.get('height')} px")
    if state.get("exceptions"):
        problems += [f"exception on the page: {e}" for e in state["exceptions"]]
    if state.get("errors"):
        problems += [f"error on the page: {e}" for e in state["errors"]]
    if not state.get("simulated"):
        problems.append("the simulation did not finish (no 'paths simulated' status)")
    if state.get("drawn", 0) < MIN_CHARTS:
        problems.append(f"only {state.get('drawn', 0)} charts drew (expected at least {MIN_CHARTS})")

    # The first screen as a visitor sees it.
    await cdp.screenshot(out / "top.png", clip={"x": 0, "y": 0, "width": WIDTH, "height": 1000})
    # Whole page: make the viewport as tall as the content so the app's own scroller shows it all,
    # then wait until every chart has drawn again at that size.
    height = int(min(max(state.get("height") or 1000, 1000), 16000))
    for _ in range(3):
        await cdp.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=height, deviceScaleFactor=1, mobile=False)
        await asyncio.sleep(2.0)
        state2 = await cdp.eval(STATE_JS) or {}
        new_height = int(min(max(state2.get("height") or height, 1000), 16000))
        if new_height == height:
            break
        height = new_height
    for _ in range(30):
        if await cdp.eval(PAINTED_JS) and not await cdp.eval(OVERFLOW_JS):
            break
        await asyncio.sleep(0.5)
    else:
        if not await cdp.eval(PAINTED_JS):
            problems.append("some charts stayed blank after resizing the page")
        problems += await cdp.eval(OVERFLOW_JS) or []
    await asyncio.sleep(1.0)
    await cdp.screenshot(out / "page.png", clip={"x": 0, "y": 0, "width": WIDTH, "height": height})
    n_slices = 0
    for i, y in enumerate(range(0, height, 1300)):
        await cdp.screenshot(out / f"page_{i + 1:02d}.png",
                             clip={"x": 0, "y": y, "width": WIDTH, "height": min(1400, height - y)})
        n_slices += 1

    problems += await check_real_deals(cdp, out)

    # The other views: the median path's waterfall and the IRR distributions.
    clicked = await cdp.eval("""(() => {
      const want = ['Median path', 'IRR'];
      let n = 0;
      for (const l of document.querySelectorAll('label')) {
        if (want.includes(l.innerText.trim())) { l.click(); n++; }
      }
      return n; })()""")
    if clicked:
        await asyncio.sleep(2.0)
        for _ in range(60):
            st2 = await cdp.eval(STATE_JS) or {}
            if not st2.get("running") and await cdp.eval(PAINTED_JS):
                break
            await asyncio.sleep(0.5)
        if st2.get("exceptions"):
            problems += [f"exception after switching views: {e}" for e in st2["exceptions"]]
        await asyncio.sleep(1.0)
        h2 = int(min(max(st2.get("height") or height, 1000), 16000))
        await cdp.screenshot(out / "page_median_irr.png", clip={"x": 0, "y": 0, "width": WIDTH, "height": h2})
    else:
        problems.append("could not find the 'Median path' and 'IRR' switches")

    # Each tab of the editor.
    tabs = await cdp.eval("[...document.querySelectorAll('[role=\"tab\"]')].map(b => b.innerText.trim())") or []
    for i, name in enumerate(tabs):
        box = await cdp.eval(f"""(() => {{
            const b = document.querySelectorAll('[role="tab"]')[{i}];
            b.click();
            return null; }})()""")
        _ = box
        await asyncio.sleep(1.2)
        rect = await cdp.eval(f"""(() => {{
            const b = document.querySelectorAll('[role="tab"]')[{i}];
            const list = b.closest('[data-testid="stTabs"]') || b.parentElement.parentElement;
            const r = list.getBoundingClientRect();
            return {{x: r.x, y: r.y + window.scrollY, w: r.width, h: r.height}}; }})()""")
        if rect and rect["h"] > 0:
            slug = "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")
            await cdp.screenshot(out / f"tab_{i + 1}_{slug}.png",
                                 clip={"x": 0, "y": max(0, rect["y"] - 10), "width": WIDTH, "height": min(rect["h"] + 20, 4000)})
    state3 = await cdp.eval(STATE_JS) or {}
    if state3.get("exceptions"):
        problems += [f"exception after clicking the tabs: {e}" for e in state3["exceptions"]]
    for ev in cdp.events:
        if ev["method"] == "Runtime.exceptionThrown":
            d = ev["params"]["exceptionDetails"]
            problems.append(f"JavaScript exception: {(d.get('exception') or {}).get('description') or d.get('text')}"[:500])
        elif ev["method"] == "Runtime.consoleAPICalled" and ev["params"].get("type") in ("error", "warning"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in ev["params"].get("args", []))
            print(f"console {ev['params']['type']}: {args[:300]}")
        elif ev["method"] == "Log.entryAdded" and ev["params"]["entry"].get("level") == "error":
            print(f"browser log error: {ev['params']['entry'].get('text', '')[:300]}")
    print(f"saved page.png, {n_slices} slices and {len(tabs)} tab screenshots in {out}")
    cdp.ws.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "artifacts", help="folder for the screenshots")
    ap.add_argument("--paths", type=int, default=10_000, help="paths the app simulates on load")
    ap.add_argument("--timeout", type=float, default=180, help="seconds to wait for the charts")
    args = ap.parse_args(argv)

    chromium = find_chromium()
    if chromium is None:
        print("chromium not found: apt-get update && apt-get install -y chromium", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    app_port, debug_port = free_port(), free_port()
    env = dict(os.environ, CIB_APP_PATHS=str(args.paths), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    profile = tempfile.mkdtemp(prefix="cib-chromium-")
    server = browser = None
    with open(args.out / "streamlit.log", "w") as log, open(args.out / "chromium.log", "w") as browser_log:
        try:
            server = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
                 "--server.port", str(app_port), "--server.address", "127.0.0.1",
                 "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
            wait_http(f"http://127.0.0.1:{app_port}/_stcore/health", 60, server)
            browser = subprocess.Popen(
                [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--remote-debugging-port={debug_port}",
                 "about:blank"],
                stdout=subprocess.DEVNULL, stderr=browser_log, start_new_session=True,
            )
            wait_http(f"http://127.0.0.1:{debug_port}/json/version", 30, browser)
            t0 = time.monotonic()
            problems = asyncio.run(check(f"http://127.0.0.1:{app_port}/", debug_port, args.out, args.timeout))
            print(f"browser check took {time.monotonic() - t0:.1f} s")
        except Exception as exc:  # noqa: BLE001 - report and fail
            problems = [f"{type(exc).__name__}: {exc}"]
        finally:
            # Stop what this script started (each in its own process group), by id.
            for proc in (browser, server):
                if proc is not None and proc.poll() is None:
                    try:
                        os.killpg(proc.pid, signal.SIGTERM)
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            shutil.rmtree(profile, ignore_errors=True)
    if problems:
        print("BROWSER CHECK FAILED:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print("browser check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
