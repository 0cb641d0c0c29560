"""Open a report in headless Chromium and say what a reader would get.

Playwright for Python drives the system's Chromium (Debian's `chromium`; `.ci/setup.d/
chromium.sh` installs it); Playwright's own browser download is never used. Shared by
test_report_browser.py and screenshots.py.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def find_chromium() -> str | None:
    """The Chromium to drive: $SLMSIM_CHROMIUM, else Debian's, else one on PATH."""
    env = os.environ.get("SLMSIM_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for c in CANDIDATES:
        if Path(c).is_file():
            return c
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def missing_reason() -> str | None:
    """Why the browser test cannot run here, or None if it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if find_chromium() is None:
        return "no Chromium found (run .ci/setup.d/chromium.sh, or set SLMSIM_CHROMIUM)"
    return None


@dataclass
class Visit:
    """What happened when a report was opened."""

    ready_ms: float  # navigation start -> first screen drawn
    complete_ms: float  # navigation start -> every figure drawn (without scrolling)
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    warnings: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    figures: list[dict[str, Any]] = field(default_factory=list)  # per figure: id, traces, drawn marks


FIGURE_STATE = """() => Array.from(document.querySelectorAll('[data-figure]')).map(div => ({
  id: div.id,
  plotted: div.classList.contains('js-plotly-plot'),
  traces: (div._fullData || []).length,
  visibleTraces: (div._fullData || []).filter(t => t.visible === true).length,
  points: (div._fullData || []).reduce((n, t) => n + (t.visible === true && t.x ? t.x.length : 0), 0),
  marks: div.querySelectorAll('.scatterlayer path, .scatterlayer .point, .barlayer path, .barlayer .point').length,
  height: div.getBoundingClientRect().height,
}))"""


def visit(browser: Any, report: Path, *, timeout_ms: int = 60_000, screenshot: Path | None = None,
          width: int = 1400) -> Visit:
    """Open `report` offline in a new context; wait until every figure is drawn."""
    context = browser.new_context(offline=True, viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    warnings: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: (errors if m.type == "error" else warnings if m.type == "warning" else [])
            .append(m.text))
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.on("request", lambda r: requests.append(r.url))

    def block(route: Any) -> None:  # anything not from the file itself is refused (and recorded above)
        if route.request.url.startswith(("file://", "data:", "blob:")):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", block)
    try:
        page.goto(report.resolve().as_uri(), wait_until="load", timeout=timeout_ms)
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=timeout_ms)
        page.wait_for_function("document.body.dataset.complete === '1'", timeout=timeout_ms)
        ready, complete = page.evaluate("[window.slmsimReady, window.slmsimComplete]")
        figures = page.evaluate(FIGURE_STATE)
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
        return Visit(ready_ms=ready, complete_ms=complete, errors=errors, warnings=warnings, requests=requests,
                     figures=figures)
    finally:
        context.close()


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
