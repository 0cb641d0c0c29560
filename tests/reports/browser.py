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


# What a reader would call a broken figure, checked in the page after plotly drew it. Traces with
# meta "guide" (roofs, staircases, colour-bar holders) are reference lines, not data: a figure or a
# subplot that shows only guides is empty.
DATA_PROBLEMS = r"""() => {
  const out = [];
  const axisName = (a, letter) => letter + 'axis' + ((a || letter).slice(1));
  const lin = (ax, v) => {
    if (v === null || v === undefined || v === '') return NaN;
    if (!ax || ax.type === 'category' || ax.type === 'multicategory' || ax.type === 'date') return 0;
    const f = Number(v);
    if (!isFinite(f)) return NaN;
    if (ax.type === 'log') return f > 0 ? Math.log10(f) : NaN;
    return f;
  };
  const range = ax => {
    if (!ax || ax.type === 'category' || ax.type === 'multicategory' || ax.type === 'date' || !ax.range)
      return [-Infinity, Infinity];
    const r = ax.range.map(Number);
    return [Math.min(r[0], r[1]), Math.max(r[0], r[1])];
  };
  for (const div of document.querySelectorAll('[data-figure]')) {
    const name = div.dataset.name || div.id;
    const fl = div._fullLayout, fd = div._fullData;
    if (!fl || !fd) { out.push(name + ': not drawn'); continue; }
    const subplots = {};
    ((fl._subplots && fl._subplots.cartesian) || []).forEach(sp => { subplots[sp] = 0; });
    // plotly keeps only the axes that hold traces: add every subplot the figure's own layout declares
    const lay = div.layout || {};
    Object.keys(lay).filter(k => /^yaxis\d*$/.test(k)).forEach(k => {
      const ax = lay[k] || {};
      const anchor = ax.anchor || 'x' + k.slice(5);
      if (ax.visible !== false && !ax.overlaying && /^x\d*$/.test(anchor)) {
        const sp = anchor + 'y' + k.slice(5);
        if (!(sp in subplots)) subplots[sp] = 0;
      }
    });
    let data = 0;
    // plotly hides a trace it has nothing to draw for (empty arrays): that is a trace with no finite points
    (div.data || []).forEach((inp, i) => {
      if (inp.visible === false || inp.visible === 'legendonly' || inp.meta === 'guide') return;
      const full = fd.find(f => f.index === i);
      if (full && full.visible !== true && full.visible !== 'legendonly') {
        out.push(name + ': trace "' + (inp.name || inp.type || i) + '" has no finite points (plotly hid it)');
      }
    });
    fd.forEach(t => {
      if (t.visible !== true) return;
      if (t.type !== 'scatter' && t.type !== 'bar') { data += 1; return; }
      const guide = t.meta === 'guide';
      const xa = fl[axisName(t.xaxis, 'x')], ya = fl[axisName(t.yaxis, 'y')];
      const [x0, x1] = range(xa), [y0, y1] = range(ya);
      const xs = t.x || [], ys = t.y || [];
      const n = Math.max(xs.length, ys.length);
      const horiz = t.type === 'bar' && t.orientation === 'h';
      const base = k => (Array.isArray(t.base) ? t.base[k] : t.base);
      let finite = 0, shown = 0;
      for (let k = 0; k < n; k++) {
        let x = lin(xa, xs[k]), y = lin(ya, ys[k]);
        if (!isFinite(x) || !isFinite(y)) continue;
        finite += 1;
        let xin = x >= x0 && x <= x1, yin = y >= y0 && y <= y1;
        if (t.type === 'bar') {  // a bar spans from its base (or the axis origin) to its value
          const vax = horiz ? xa : ya;
          const b = base(k);
          const v = Number(horiz ? xs[k] : ys[k]);
          let lo, hi;
          if (vax && vax.type === 'log') { lo = -Infinity; hi = Math.log10((Number(b) || 0) + v); }
          else { const b0 = Number(b) || 0; lo = Math.min(b0, b0 + v); hi = Math.max(b0, b0 + v); }
          const [r0, r1] = horiz ? [x0, x1] : [y0, y1];
          const inV = hi >= r0 && lo <= r1;
          if (horiz) xin = inV; else yin = inV;
        }
        if (xin && yin) shown += 1;
      }
      if (guide) return;
      const label = '"' + (t.name || t.type) + '"';
      if (finite === 0) { out.push(name + ': trace ' + label + ' has no finite points'); return; }
      if (shown === 0) { out.push(name + ': trace ' + label + ': all ' + finite + ' points lie outside the visible axis range'); return; }
      data += 1;
      const sp = (t.xaxis || 'x') + (t.yaxis || 'y');
      subplots[sp] = (subplots[sp] || 0) + 1;
    });
    if (data === 0) out.push(name + ': no data drawn (only reference lines, or nothing)');
    for (const [sp, k] of Object.entries(subplots)) {
      if (k === 0 && Object.keys(subplots).length > 1) out.push(name + ': subplot ' + sp + ' is empty');
    }
  }
  return out;
}"""

# Labels that overlap (or are cut off at the figure's edge), and category axes that drop labels.
LAYOUT_PROBLEMS = r"""(where) => {
  const out = [];
  const SEL = ['g.xaxislayer-above text', 'g.yaxislayer-above text', '.legendtext', '.gtitle',
               '.g-xtitle text', '.g-ytitle text', '[class^="g-x"][class$="title"] text',
               '[class^="g-y"][class$="title"] text', '.annotation-text', '.updatemenu-item-text', '.cbtitle text',
               '.cbaxis text', '.textpoint text'].join(',');
  const group = el => {
    const tick = el.closest('g.xaxislayer-above, g.yaxislayer-above');
    if (tick) return 'tick:' + (tick.parentNode ? Array.prototype.indexOf.call(tick.parentNode.children, tick) : 0) + ':' + (tick.closest('.subplot') ? tick.closest('.subplot').className.baseVal : '');
    if (el.closest('.legend')) return 'legend';
    if (el.closest('.textpoint')) return 'data';
    return 'other';
  };
  for (const div of document.querySelectorAll('[data-figure]')) {
    const name = div.dataset.name || div.id;
    const fl = div._fullLayout;
    if (!fl) continue;
    const fig = div.getBoundingClientRect();
    const seen = new Set();
    const boxes = [];
    div.querySelectorAll(SEL).forEach(el => {
      if (seen.has(el) || !el.textContent.trim()) return;
      seen.add(el);
      const r = el.getBoundingClientRect();
      if (r.width < 1 || r.height < 1) return;
      const cs = getComputedStyle(el);
      if (cs.display === 'none' || cs.visibility === 'hidden' || Number(cs.opacity) === 0) return;
      const rotated = /rotate\(\s*-?[1-9]/.test(el.getAttribute('transform') || '');
      boxes.push({el, r, g: group(el), rotated, text: el.textContent.trim().slice(0, 40)});
    });
    for (const b of boxes) {
      if (b.r.left < fig.left - 2 || b.r.right > fig.right + 2) {
        out.push(where + ': ' + name + ': label "' + b.text + '" is cut off at the figure edge');
      }
    }
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i], b = boxes[j];
        if (a.g === b.g && (a.rotated || b.rotated)) {
          // rotated tick labels: their boxes overlap by design; glyphs collide when centres are closer than the font
          const fs = parseFloat(getComputedStyle(a.el).fontSize) || 12;
          const d = Math.hypot((a.r.left + a.r.right - b.r.left - b.r.right) / 2, (a.r.top + a.r.bottom - b.r.top - b.r.bottom) / 2);
          if (d < 0.8 * fs) out.push(where + ': ' + name + ': labels "' + a.text + '" and "' + b.text + '" overlap');
          continue;
        }
        if (a.rotated || b.rotated) continue;
        const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
        const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
        if (w <= 0 || h <= 0) continue;
        const small = Math.min(a.r.width * a.r.height, b.r.width * b.r.height);
        if (w * h > 0.2 * small) out.push(where + ': ' + name + ': labels "' + a.text + '" and "' + b.text + '" overlap');
      }
    }
    // a category axis must show every category (plotly drops labels that do not fit)
    Object.keys(fl).filter(k => /^[xy]axis\d*$/.test(k)).forEach(k => {
      const ax = fl[k];
      if (!ax || ax.type !== 'category' || !ax.visible || !ax._categories || !ax.showticklabels) return;
      const n = ax._categories.length;
      const shown = (ax._vals || []).filter(v => v && v.text !== undefined && v.text !== '').length;
      if (n <= 40 && shown < n) out.push(where + ': ' + name + ': ' + k + ' shows ' + shown + ' of ' + n + ' category labels');
    });
  }
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 2) out.push(where + ': the page is ' + doc.scrollWidth + ' px wide in a ' + window.innerWidth + ' px window');
  return out;
}"""

# Printed: every table whole (no scroll box cutting rows or columns), every figure inside the page.
PRINT_PROBLEMS = r"""() => {
  const out = [];
  const W = document.documentElement.clientWidth;
  document.querySelectorAll('.table-wrap').forEach((w, i) => {
    const t = w.querySelector('table');
    const rows = t ? t.tBodies[0].rows.length : 0;
    if (w.scrollHeight > w.clientHeight + 2) {
      const bottom = w.getBoundingClientRect().bottom;
      const shown = t ? Array.from(t.tBodies[0].rows).filter(r => r.getBoundingClientRect().bottom <= bottom + 1).length : 0;
      out.push('print: table ' + (t && t.id || i) + ' is truncated: ' + shown + ' of ' + rows + ' rows shown');
    }
    if (w.scrollWidth > w.clientWidth + 2) out.push('print: table ' + (t && t.id || i) + ' is cut on the right (' + w.scrollWidth + ' px in ' + w.clientWidth + ' px)');
    if (w.getBoundingClientRect().right > W + 2) out.push('print: table ' + (t && t.id || i) + ' runs off the page');
  });
  document.querySelectorAll('[data-figure]').forEach(div => {
    const name = div.dataset.name || div.id;
    const svg = div.querySelector('svg.main-svg');
    const r = div.getBoundingClientRect();
    if (r.right > W + 2) out.push('print: figure ' + name + ' runs off the page (' + Math.round(r.right) + ' px of ' + W + ')');
    if (svg && svg.getBoundingClientRect().right > W + 2) out.push('print: figure ' + name + ' is cut on the right');
  });
  if (document.documentElement.scrollWidth > W + 2) out.push('print: the page is wider than the paper');
  return out;
}"""

RESIZE_ALL = """() => Promise.all(Array.from(document.querySelectorAll('[data-figure]'))
  .filter(d => d._fullLayout).map(d => Plotly.Plots.resize(d)))"""

PRINT_WIDTH_PX = 718  # A4 (210 mm) less the page's 10 mm side margins, at 96 px per inch


@dataclass
class Inspection:
    """A report opened as a reader would: at 1,440 px, at 800 px and printed to A4."""

    visit: Visit
    problems: list[str]  # empty for a good report


def inspect(browser: Any, report: Path, *, timeout_ms: int = 60_000, shots: Path | None = None,
            stages: tuple[str, ...] = ("1440", "800", "print")) -> Inspection:
    """Open `report` offline; check the figures' data, then the layout at 800 px, then print (A4)."""
    context = browser.new_context(offline=True, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file://", "data:", "blob:"))
               else route.abort())
    try:
        page.goto(report.resolve().as_uri(), wait_until="load", timeout=timeout_ms)
        page.wait_for_function("document.body.dataset.complete === '1'", timeout=timeout_ms)
        ready, complete = page.evaluate("[window.slmsimReady, window.slmsimComplete]")
        figures = page.evaluate(FIGURE_STATE)
        problems = list(page.evaluate(DATA_PROBLEMS))
        problems += page.evaluate(LAYOUT_PROBLEMS, "1440 px")
        if shots:
            page.screenshot(path=str(shots / f"{report.stem}-1440.png"))
        if "800" in stages:
            page.set_viewport_size({"width": 800, "height": 900})
            page.evaluate(RESIZE_ALL)
            problems += page.evaluate(LAYOUT_PROBLEMS, "800 px")
            if shots:
                page.screenshot(path=str(shots / f"{report.stem}-800.png"), full_page=True)
        if "print" in stages:
            page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1000})
            page.emulate_media(media="print")
            page.evaluate("window.slmsimBeforePrint()")
            problems += page.evaluate(PRINT_PROBLEMS)
            problems += page.evaluate(LAYOUT_PROBLEMS, "print")
            if shots:
                page.pdf(path=str(shots / f"{report.stem}.pdf"), format="A4", print_background=True)
        outside = [u for u in requests if not u.startswith(("file://", "data:", "blob:"))]
        problems += [f"console error: {e}" for e in errors] + [f"asked the network for {u}" for u in outside]
        v = Visit(ready_ms=ready, complete_ms=complete, errors=errors, requests=requests, figures=figures)
        return Inspection(visit=v, problems=problems)
    finally:
        context.close()


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
