"""Write one self-contained HTML file: plotly.js embedded once, every figure as JSON.

The figure builders (`reports.design_figures`, `reports.study_figures`) are pure functions
of data that return `plotly.graph_objects.Figure`s; this module only lays them out. The
page needs no network: no CDN, no web fonts, no MathJax. Each figure's JSON goes into a
`<script type="application/json">` block and is drawn by a small loader; templates, which
plotly repeats in every figure, are stored once.

The loader draws the figures on the first screen, then sets `document.body.dataset.ready`
and `window.slmsimReady` (ms since navigation start), then draws the others one per task
(those scrolled into view first) and sets `dataset.complete` / `window.slmsimComplete`.
`window.slmsimDrawAll()` returns a promise for "everything drawn" (screenshots, tests);
printing draws everything first.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline

from slmsim.core.errors import Problem, SpecError
from slmsim.core.outputs import DIGEST_BLANK, digest_changed, edited_problem, under_a_file, with_digest, write_problem

# Block types ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cards:
    """Headline figures: (label, value, note) each."""

    items: Sequence[tuple[str, str, str]]


@dataclass(frozen=True)
class Note:
    """A paragraph of plain text (escaped); `kind` is "info" or "warning"."""

    text: str
    kind: str = "info"


@dataclass(frozen=True)
class Cell:
    """A table cell: shown text, an optional numeric sort key and tooltip."""

    text: str
    sort: float | None = None
    title: str | None = None


@dataclass(frozen=True)
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[Cell | str]]
    caption: str = ""
    highlight_rows: frozenset[int] = frozenset()  # row indices drawn highlighted
    sortable: bool = True
    max_height_px: int | None = 480


@dataclass(frozen=True)
class Choice:
    """One entry of a figure's selector: a `Plotly.restyle` of some traces.

    `restyle` maps a trace attribute to one value per trace in `traces`, e.g.
    `{"y": [ys_of_trace_0, ys_of_trace_3]}` with `traces=(0, 3)`."""

    label: str
    restyle: Mapping[str, Sequence[Any]]
    traces: Sequence[int]
    detail: str = ""  # plain text shown under the selector while this entry is chosen


@dataclass(frozen=True)
class Plot:
    """A figure. With `choices`, a drop-down above it shows one group of traces at a time
    (the figure as built should show the first choice)."""

    figure: go.Figure
    caption: str = ""
    height_px: int | None = None
    choices: Sequence[Choice] = ()
    choice_label: str = "show"
    name: str = ""  # what the figure is (data-name on the page: tests and styles find it by it)


@dataclass(frozen=True)
class DesignCard:
    """One design on a decision card: who it is, its parameters (with a flag, e.g. at a
    range bound), its costs and a small table of ratios."""

    title: str
    subtitle: str = ""
    params: Sequence[tuple[str, str, str]] = ()  # (name, value, flag or "")
    facts: Sequence[tuple[str, str]] = ()  # (label, value)
    table: Table | None = None
    emphasis: bool = False  # the recommended design: drawn wider and first


@dataclass(frozen=True)
class DesignCards:
    items: Sequence[DesignCard]
    caption: str = ""


@dataclass(frozen=True)
class Aside:
    """A figure (or any block) with a text column beside it (below it on narrow screens and
    in print): a claim's verdict and explanation next to its figure."""

    main: "Block"
    side_title: str
    side: Sequence[str]  # paragraphs
    verdict: str = ""
    verdict_kind: str = "info"  # "ok" | "warning" | "info"


Block = Cards | Note | Table | Plot | DesignCards | Aside


@dataclass(frozen=True)
class Section:
    title: str
    blocks: Sequence[Block]
    intro: str = ""
    anchor: str = ""


@dataclass(frozen=True)
class Page:
    title: str
    sections: Sequence[Section]
    subtitle: str = ""
    facts: Sequence[tuple[str, str]] = ()  # (label, value) lines under the title
    footer: str = ""
    # issue 15: the CLI passes the version footer ("slmsim 0.4.0 · git abc123 · ...") here
    version_footer: str = ""
    generated: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


# Rendering -----------------------------------------------------------------------------


ASSETS = Path(__file__).parent / "assets"
BASIC_BUNDLE = ASSETS / "plotly-basic.min.js"
BASIC_BUNDLE_VERSION = "4.1.1"
# trace types in plotly.js's basic partial bundle (its README); layout components (annotations,
# shapes, colour bars, range sliders, legends, ...) are in every bundle
BASIC_TRACES = frozenset({"bar", "pie", "scatter"})


def _major(version: str) -> str:
    return version.split(".")[0]


@lru_cache(maxsize=2)
def plotly_js(*, basic: bool = True) -> str:
    """The plotly.js bundle embedded in a page (never fetched).

    Pages whose figures use only scatter, bar and pie traces get plotly.js's basic partial
    bundle (1.2 MB, vendored in reports/assets from npm's plotly.js-basic-dist-min), which
    a browser parses and starts in about a third of the time of the full bundle. Any other
    page, or a plotly package whose plotly.js major version differs from the vendored one,
    gets the full bundle shipped inside the plotly Python package (4.8 MB)."""
    if basic and BASIC_BUNDLE.is_file() and \
            _major(plotly.offline.get_plotlyjs_version()) == _major(BASIC_BUNDLE_VERSION):
        return BASIC_BUNDLE.read_text(encoding="utf-8")
    return plotly.offline.get_plotlyjs()


def _json_for_script(obj: object) -> str:
    """JSON that is safe inside a <script> element."""
    text = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _figure_spec(fig: go.Figure, templates: dict[str, int]) -> dict:
    spec = json.loads(pio.to_json(fig, validate=False, remove_uids=True))
    layout = spec.setdefault("layout", {})
    tmpl = layout.pop("template", None)
    if tmpl is not None:
        key = json.dumps(tmpl, sort_keys=True, separators=(",", ":"))
        spec["template"] = templates.setdefault(key, len(templates))
    return {"data": spec.get("data", []), "layout": layout, **({"template": spec["template"]} if "template" in spec else {})}


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _render_cards(block: Cards) -> str:
    items = "".join(
        f'<div class="card"><div class="card-label">{_esc(label)}</div><div class="card-value">{_esc(value)}</div>'
        + (f'<div class="card-note">{_esc(note)}</div>' if note else "") + "</div>"
        for label, value, note in block.items)
    return f'<div class="cards">{items}</div>'


def _breakable(text: str) -> str:
    """Escaped header text that may break after dots and underscores (YAML paths, metric names)."""
    return _esc(text).replace(".", ".\u200b").replace("_", "_\u200b")


def _render_table(block: Table, table_id: str) -> str:
    head = "".join(f"<th>{_breakable(h)}</th>" for h in block.header)
    numeric = [all(isinstance(r[j], Cell) and r[j].sort is not None for r in block.rows if j < len(r)) and
               bool(block.rows) for j in range(len(block.header))]
    body = []
    for i, row in enumerate(block.rows):
        cells = []
        for j, c in enumerate(row):
            cell = c if isinstance(c, Cell) else Cell(text=str(c))
            attrs = ' class="num"' if j < len(numeric) and numeric[j] else ""
            if cell.sort is not None and cell.sort == cell.sort:  # not NaN
                attrs += f' data-sort="{cell.sort!r}"'
            if cell.title:
                attrs += f' title="{_esc(cell.title)}"'
            cells.append(f"<td{attrs}>{_esc(cell.text)}</td>")
        cls = ' class="hl"' if i in block.highlight_rows else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    style = f' style="max-height:{block.max_height_px}px"' if block.max_height_px else ""
    sortable = " sortable" if block.sortable else ""
    cap = f'<p class="caption">{_esc(block.caption)}</p>' if block.caption else ""
    return (f'<div class="table-wrap"{style}><table id="{table_id}" class="data{sortable}"><thead><tr>{head}</tr>'
            f'</thead><tbody>{"".join(body)}</tbody></table></div>{cap}')


def _render_plot(block: Plot, fig_id: str, templates: dict[str, int], scripts: list[str],
                 trace_types: set[str]) -> str:
    spec = _figure_spec(block.figure, templates)
    trace_types.update(t.get("type", "scatter") for t in spec["data"])
    scripts.append(f'<script type="application/json" id="{fig_id}-data">{_json_for_script(spec)}</script>')
    height = block.height_px or block.figure.layout.height or 460
    selector = ""
    if block.choices:
        n = len(spec["data"])
        payload = []
        for c in block.choices:
            if any(not 0 <= t < n for t in c.traces):
                raise ValueError(f"choice {c.label!r} names a trace outside 0..{n - 1}")
            for key, values in c.restyle.items():
                if len(values) != len(c.traces):
                    raise ValueError(f"choice {c.label!r}: {key} has {len(values)} values for {len(c.traces)} traces")
            restyle = json.loads(pio.json.to_json_plotly(dict(c.restyle)))
            payload.append({"restyle": restyle, "traces": list(c.traces), "detail": c.detail})
        scripts.append(f'<script type="application/json" id="{fig_id}-choices">{_json_for_script(payload)}</script>')
        options = "".join(f'<option value="{i}">{_esc(c.label)}</option>' for i, c in enumerate(block.choices))
        selector = (f'<div class="selector"><label for="{fig_id}-select">{_esc(block.choice_label)}</label> '
                    f'<select id="{fig_id}-select" data-target="{fig_id}">{options}</select>'
                    f'<div class="variant-detail" id="{fig_id}-detail">{_esc(block.choices[0].detail)}</div></div>')
    cap = f'<p class="caption">{_esc(block.caption)}</p>' if block.caption else ""
    name = f' data-name="{_esc(block.name)}"' if block.name else ""
    return (f'{selector}<div class="figure" id="{fig_id}" data-figure="{fig_id}-data"{name} '
            f'style="height:{int(height)}px"></div>{cap}')


def _render_design_cards(block: DesignCards, counters: dict[str, int]) -> str:
    cards = []
    for c in block.items:
        params = "".join(
            f'<tr><th>{_esc(k)}</th><td>{_esc(v)}'
            + (f' <span class="flag" title="{_esc(f)}">⚑ {_esc(f)}</span>' if f else "") + "</td></tr>"
            for k, v, f in c.params)
        facts = "".join(f'<div class="dfact"><span>{_esc(k)}</span> {_esc(v)}</div>' for k, v in c.facts)
        table = ""
        if c.table is not None:
            counters["tab"] += 1
            table = _render_table(c.table, f"table{counters['tab']}")
        cls = "dcard emph" if c.emphasis else "dcard"
        cards.append(f'<div class="{cls}"><div class="dhead"><span class="dtitle">{_esc(c.title)}</span>'
                     + (f' <span class="dsub">{_esc(c.subtitle)}</span>' if c.subtitle else "") + '</div><div class="dbody">'
                     + (f'<div class="dcol"><table class="params">{params}</table></div>' if params else "")
                     + (f'<div class="dcol dfacts">{facts}</div>' if facts else "")
                     + (f'<div class="dcol">{table}</div>' if table else "") + "</div></div>")
    emph = [c for c, item in zip(cards, block.items) if item.emphasis]
    rest = [c for c, item in zip(cards, block.items) if not item.emphasis]
    cap = f'<p class="caption">{_esc(block.caption)}</p>' if block.caption else ""
    return "".join(emph) + (f'<div class="design-cards">{"".join(rest)}</div>' if rest else "") + cap


def _render_other(block: Block, counters: dict[str, int], templates: dict[str, int], scripts: list[str],
                  trace_types: set[str]) -> str:
    if isinstance(block, Plot):
        counters["fig"] += 1
        return _render_plot(block, f"fig{counters['fig']}", templates, scripts, trace_types)
    if isinstance(block, Table):
        counters["tab"] += 1
        return _render_table(block, f"table{counters['tab']}")
    if isinstance(block, Cards):
        return _render_cards(block)
    if isinstance(block, Note):
        return f'<p class="note {_esc(block.kind)}">{_esc(block.text)}</p>'
    if isinstance(block, DesignCards):
        return _render_design_cards(block, counters)
    if isinstance(block, Aside):
        main = _render_other(block.main, counters, templates, scripts, trace_types)
        verdict = (f'<div class="verdict {_esc(block.verdict_kind)}">{_esc(block.verdict)}</div>'
                   if block.verdict else "")
        side = "".join(f"<p>{_esc(t)}</p>" for t in block.side)
        return (f'<div class="aside-wrap"><div class="aside-main">{main}</div><aside>'
                f'<div class="aside-title">{_esc(block.side_title)}</div>{verdict}{side}</aside></div>')
    raise TypeError(f"unknown block {type(block).__name__}")  # pragma: no cover - a programming error


def render(page: Page) -> str:
    """The whole page as one HTML string."""
    templates: dict[str, int] = {}
    scripts: list[str] = []
    trace_types: set[str] = set()
    parts: list[str] = []
    toc: list[str] = []
    n_fig = n_tab = 0
    for s_i, section in enumerate(page.sections):
        anchor = section.anchor or f"s{s_i + 1}"
        toc.append(f'<a href="#{_esc(anchor)}">{_esc(section.title)}</a>')
        parts.append(f'<section id="{_esc(anchor)}"><h2>{_esc(section.title)}</h2>')
        if section.intro:
            parts.append(f'<p class="intro">{_esc(section.intro)}</p>')
        for block in section.blocks:
            if isinstance(block, Plot):
                n_fig += 1
                parts.append(_render_plot(block, f"fig{n_fig}", templates, scripts, trace_types))
            elif isinstance(block, Table):
                n_tab += 1
                parts.append(_render_table(block, f"table{n_tab}"))
            else:
                counters = {"fig": n_fig, "tab": n_tab}
                parts.append(_render_other(block, counters, templates, scripts, trace_types))
                n_fig, n_tab = counters["fig"], counters["tab"]
        parts.append("</section>")
    basic = trace_types <= BASIC_TRACES
    tmpl_list = [json.loads(k) for k, _ in sorted(templates.items(), key=lambda kv: kv[1])]
    scripts.append(f'<script type="application/json" id="slmsim-templates">{_json_for_script(tmpl_list)}</script>')
    facts = "".join(f"<div><span>{_esc(k)}</span> {_esc(v)}</div>" for k, v in page.facts)
    subtitle = f'<p class="subtitle">{_esc(page.subtitle)}</p>' if page.subtitle else ""
    from slmsim.core.version import __version__

    footer = " · ".join(_esc(x) for x in (page.footer, f"generated {page.generated} by slmsim {__version__}",
                                          page.version_footer) if x)
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta name="generator" content="{GENERATOR} {__version__}">',  # what write() recognises as ours
        DIGEST_TAG.format(DIGEST_BLANK),  # filled by stamped(): an edit since shows (edited())
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # no network at all: nothing may load from outside this file
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; "
        "font-src data:; connect-src 'none'; worker-src blob:\">",
        f"<title>{_esc(page.title)}</title><style>{_CSS}</style></head><body>",
        f'<header><h1>{_esc(page.title)}</h1>{subtitle}<div class="facts">{facts}</div>',
        f'<nav>{"".join(toc)}</nav></header><main>',
        *parts,
        f'</main><footer>{footer}</footer>',
        f"<script>{plotly_js(basic=basic)}</script>",
        *scripts,
        f"<script>{_LOADER}</script></body></html>\n",
    ])


GENERATOR = "slmsim"
_LEGACY_MARK = b'id="slmsim-templates"'  # in every report slmsim wrote before the generator tag
DIGEST_META = "slmsim-content-sha256"  # the SHA-256 of the report as written, its own value blanked
DIGEST_TAG = '<meta name="' + DIGEST_META + '" content="{}">'


def stamped(html: str) -> str:
    """`html` (rendered with a blank digest tag) with the tag holding the SHA-256 of the page."""
    return with_digest(html, DIGEST_TAG)


def edited(path: Path) -> bool:
    """Whether a report slmsim wrote was changed since (`slmsim.core.outputs.digest_changed`; a
    report without the tag, written before it was added, counts as unedited)."""
    return digest_changed(path, DIGEST_TAG)


def written_by_slmsim(path: Path) -> bool:
    """Whether the file at `path` is a report slmsim wrote (so replacing it loses nothing)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
            if f'<meta name="generator" content="{GENERATOR} '.encode() in head:
                return True
            f.seek(0)
            tail = b""
            while chunk := f.read(1 << 20):
                if _LEGACY_MARK in tail + chunk:
                    return True
                tail = chunk[-len(_LEGACY_MARK):]
    except OSError:
        return False
    return False


def replace_problem(path: Path, flag: str = "--out") -> Problem | None:
    """Why an existing file at `path` (given as `flag`) may not be replaced by a report (None:
    it may, or there is none): it is not a report slmsim wrote, or one edited since (`edited`)."""
    if not path.exists():
        return None
    if not written_by_slmsim(path):
        return Problem(file=str(path), path=flag, message="exists and is not a report slmsim wrote; refusing to "
                       "overwrite it", value=str(path), expected="a new file, or a report slmsim wrote earlier",
                       hint=f"give another {flag}, or move the file away")
    if edited(path):
        return edited_problem(path, flag, "report")
    return None


def write(page: Page, out_path: Path) -> Path:
    """Render `page` to `out_path` (parents created); returns the path.

    Written to a temporary file first and moved into place, so a reader never sees half a report.
    An existing file is replaced only if it is a report slmsim wrote: anything else is the
    user's, and is refused with a message (nothing the user wrote is overwritten)."""
    out_path = Path(out_path)
    if out_path.is_dir():
        raise SpecError([Problem(file=str(out_path), path="", message="is a directory, expected a file path for the report",
                                 hint=f"give a file name, e.g. {out_path / 'report.html'}")])
    refused = replace_problem(out_path)
    if refused is not None:
        raise SpecError([refused])
    blocked = under_a_file(out_path, "--out")
    if blocked is not None:
        raise SpecError([blocked])
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_path.with_name(f".{out_path.name}.tmp")
        tmp.write_text(stamped(render(page)), encoding="utf-8")
        tmp.replace(out_path)
    except OSError as exc:
        raise SpecError([write_problem(out_path, "--out", exc)]) from None
    return out_path


_LOADER = r"""
(function () {
  "use strict";
  var templates = JSON.parse(document.getElementById("slmsim-templates").textContent);
  var config = {responsive: true, displaylogo: false, scrollZoom: false,
                modeBarButtonsToRemove: ["sendDataToCloud", "lasso2d", "select2d"],
                toImageButtonOptions: {format: "png", scale: 2}};
  function withTemplate(spec) {
    var layout = spec.layout || {};
    if (spec.template !== undefined) { layout.template = templates[spec.template]; }
    return layout;
  }
  // Figures near the first screen are drawn first; then `ready` is set and the rest are drawn
  // one per task (figures scrolled into view jump the queue), so a long report is readable
  // at once and stays responsive. `complete` is set when every figure is drawn.
  var divs = Array.prototype.slice.call(document.querySelectorAll("[data-figure]"));
  var queue = divs.slice();
  var drawn = 0;
  var waiting = [];
  function draw(div) {
    if (div.dataset.drawn) { return Promise.resolve(); }
    div.dataset.drawn = "1";
    var i = queue.indexOf(div);
    if (i >= 0) { queue.splice(i, 1); }
    var spec = JSON.parse(document.getElementById(div.dataset.figure).textContent);
    return Plotly.newPlot(div, spec.data, withTemplate(spec), config).then(function () {
      drawn += 1;
      if (drawn === divs.length) {
        window.slmsimComplete = performance.now();
        document.body.dataset.complete = "1";
        waiting.forEach(function (f) { f(); });
      }
    });
  }
  function drawRest() {
    if (!queue.length) { return; }
    draw(queue[0]).then(function () { setTimeout(drawRest, 0); });
  }
  window.slmsimDrawAll = function () {
    return new Promise(function (resolve) {
      if (drawn === divs.length) { resolve(); return; }
      waiting.push(resolve);
      queue.slice().forEach(draw);
    });
  };
  if ("IntersectionObserver" in window) {
    var io = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        if (e.isIntersecting && !e.target.dataset.drawn) {
          var i = queue.indexOf(e.target);
          if (i > 0) { queue.splice(i, 1); queue.unshift(e.target); }
        }
      });
    }, {rootMargin: "50% 0px"});
    divs.forEach(function (d) { io.observe(d); });
  }
  // Print: every figure drawn, then laid out at the printed width (A4 and Letter both leave about
  // 700 CSS px between margins), and back to the window's width afterwards.
  var PRINT_WIDTH = 700;
  function relayoutAll(width) {
    divs.forEach(function (d) {
      if (!d.dataset.drawn || !d._fullLayout) { return; }
      if (width) { d.style.width = width + "px"; } else { d.style.width = ""; }
      Plotly.relayout(d, {width: width || null, autosize: !width});
      if (!width) { Plotly.Plots.resize(d); }
    });
  }
  window.slmsimBeforePrint = function () {
    return window.slmsimDrawAll().then(function () { relayoutAll(PRINT_WIDTH); });
  };
  window.slmsimAfterPrint = function () { relayoutAll(null); };
  window.addEventListener("beforeprint", function () { queue.slice().forEach(draw); relayoutAll(PRINT_WIDTH); });
  window.addEventListener("afterprint", function () { relayoutAll(null); });
  var first = divs.filter(function (d) { return d.getBoundingClientRect().top < window.innerHeight * 1.2; });
  if (!first.length && divs.length) { first = [divs[0]]; }
  first.reduce(function (p, d) { return p.then(function () { return draw(d); }); }, Promise.resolve())
    .then(function () {
      window.slmsimReady = performance.now();
      document.body.dataset.ready = "1";
      setTimeout(drawRest, 0);
    });
  document.querySelectorAll("select[data-target]").forEach(function (sel) {
    var id = sel.dataset.target;
    var choices = JSON.parse(document.getElementById(id + "-choices").textContent);
    sel.addEventListener("change", function () {
      var c = choices[Number(sel.value)];
      Plotly.restyle(document.getElementById(id), c.restyle, c.traces);
      document.getElementById(id + "-detail").textContent = c.detail || "";
    });
  });
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, col) {
      th.addEventListener("click", function () {
        var asc = th.dataset.dir !== "asc";
        table.querySelectorAll("th").forEach(function (h) { delete h.dataset.dir; });
        th.dataset.dir = asc ? "asc" : "desc";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        function key(row) {
          var cell = row.cells[col];
          if (!cell) { return ""; }
          return cell.dataset.sort !== undefined ? Number(cell.dataset.sort) : cell.textContent;
        }
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          var c = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
"""

_CSS = """
:root { --fg: #1d1d1f; --muted: #5f6368; --line: #e3e3e3; --accent: #0072B2; --bg: #fafafa; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;
       color: var(--fg); background: var(--bg); line-height: 1.45; }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 20px 32px 10px; }
h1 { margin: 0 0 4px; font-size: 24px; }
.subtitle { margin: 0 0 8px; color: var(--muted); }
.facts { display: flex; flex-wrap: wrap; gap: 4px 24px; font-size: 13px; color: var(--fg); }
.facts span { color: var(--muted); }
nav { margin-top: 10px; display: flex; flex-wrap: wrap; gap: 6px 16px; font-size: 13px; }
nav a { color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
main { max-width: 1280px; margin: 0 auto; padding: 8px 32px 32px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin: 18px 0; }
h2 { font-size: 18px; margin: 0 0 8px; }
.intro, .caption { color: var(--muted); font-size: 13px; margin: 4px 0 10px; max-width: 980px; }
.caption { margin-top: 2px; }
.note { font-size: 13px; padding: 8px 12px; border-radius: 6px; background: #eef5fb; border-left: 4px solid var(--accent); }
.note.warning { background: #fff6e5; border-left-color: #E69F00; }
.figure { width: 100%; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 150px; background: #fcfcfc; }
.card-label { font-size: 12px; color: var(--muted); }
.card-value { font-size: 20px; font-weight: 600; }
.card-note { font-size: 11px; color: var(--muted); }
.table-wrap { overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
table.data { border-collapse: collapse; font-size: 12.5px; width: 100%; }
table.data th { position: sticky; top: 0; background: #f3f4f6; text-align: left; padding: 6px 8px;
                border-bottom: 1px solid var(--line); white-space: nowrap; }
table.sortable th { cursor: pointer; }
table.sortable th[data-dir="asc"]::after { content: " \\25B2"; }
table.sortable th[data-dir="desc"]::after { content: " \\25BC"; }
table.data td { padding: 4px 8px; border-bottom: 1px solid #f0f0f0; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.data tr.hl td { background: #fff3e0; font-weight: 600; }
.selector { font-size: 13px; margin: 6px 0; }
.selector select { font-size: 13px; padding: 2px 4px; max-width: 100%; }
.variant-detail { color: var(--muted); font-size: 12px; margin-top: 4px; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 12px 0 24px; }
table.data th { white-space: normal; min-width: 4.5em; max-width: 14em; vertical-align: bottom; line-height: 1.25; }
table.data td.num, table.data th.num { text-align: right; }
.design-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
.dcard { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; background: #fcfcfc; min-width: 0; }
.dcard.emph { border: 2px solid #C0392B; background: #fff; margin-bottom: 12px; }
.dhead { margin-bottom: 6px; }
.dtitle { font-size: 16px; font-weight: 650; }
.dcard.emph .dtitle { color: #7B241C; font-size: 19px; }
.dsub { font-size: 13px; color: var(--muted); margin-left: 6px; }
.dbody { display: flex; flex-direction: column; gap: 4px; }
.dcard.emph .dbody { display: grid; grid-template-columns: auto minmax(360px, 1fr) auto; gap: 6px 28px;
                     align-items: start; }
.dcol { min-width: 0; }
table.params { border-collapse: collapse; font-size: 13px; }
table.params th { text-align: left; font-weight: 500; color: var(--muted); padding: 1px 10px 1px 0; white-space: nowrap; vertical-align: top; }
table.params td { padding: 1px 0; font-weight: 650; }
.flag { color: #8a5200; font-weight: 500; font-size: 11.5px; background: #fff3d6; border-radius: 4px; padding: 0 4px; }
.dfacts { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 1px 14px; font-size: 13px; }
.dfacts span { color: var(--muted); display: block; font-size: 11.5px; line-height: 1.2; }
.dfact { padding: 2px 0; }
.dcard .table-wrap { border: none; }
.dcard table.data { font-size: 12.5px; width: auto; }
.aside-wrap { display: grid; grid-template-columns: minmax(0, 2fr) minmax(240px, 1fr); gap: 18px; align-items: start; }
aside { font-size: 13px; border-left: 3px solid var(--line); padding-left: 12px; }
aside p { margin: 4px 0 8px; }
.aside-title { font-weight: 650; font-size: 14px; }
.verdict { display: inline-block; margin: 6px 0; padding: 2px 8px; border-radius: 4px; font-weight: 600; }
.verdict.ok { background: #e3f4ea; color: #1b5e20; }
.verdict.warning { background: #fff3d6; color: #7a4b00; }
.verdict.info { background: #eef5fb; color: #0b4f7c; }
@media (max-width: 900px) {
  header { padding: 14px 14px 8px; }
  main { padding: 4px 10px 20px; }
  section { padding: 12px 12px; }
  .dcard.emph .dbody { grid-template-columns: minmax(0, 1fr); }
  table.params th { white-space: normal; }
  .aside-wrap { grid-template-columns: minmax(0, 1fr); }
  aside { border-left: none; border-top: 3px solid var(--line); padding: 8px 0 0; }
}
@page { size: A4; margin: 11mm 10mm; }
@media print {
  body { background: #fff; font-size: 11px; }
  header { padding: 0 0 6px; border: none; }
  nav { display: none; }
  main { max-width: none; padding: 0; }
  section { border: none; padding: 0; margin: 10px 0 14px; break-inside: auto; }
  h2 { break-after: avoid; }
  .figure, .dcard, .card, aside { break-inside: avoid; }
  .table-wrap { max-height: none !important; overflow: visible !important; border: none; }
  table.data { font-size: 8.5px; width: 100%; table-layout: auto; }
  table.data th { position: static; min-width: 0; max-width: none; padding: 3px 2px; overflow-wrap: anywhere; }
  table.data td { white-space: normal; padding: 2px 2px; overflow-wrap: anywhere; }
  table.data tr { break-inside: avoid; }
  thead { display: table-header-group; }
  .design-cards { grid-template-columns: 1fr 1fr; }
  .dcard.emph .dbody { grid-template-columns: minmax(0, 1fr); }
  .aside-wrap { grid-template-columns: minmax(0, 1fr); }
  .selector select { display: none; }
  .modebar-container { display: none !important; }
}
"""
