"""One look for every figure: a plotly template and stable colours per category.

Colours of devices, op classes and energy components are fixed per name in
`reports.palette`, so each has the same colour in every figure of every report.
"""

from __future__ import annotations

from collections.abc import Iterable

import plotly.graph_objects as go
import plotly.io as pio

from slmsim.reports import palette

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

# Okabe-Ito-like, then tableau: distinguishable, and printable in grey as different shades.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
           "#8C564B", "#7F7F7F", "#BCBD22", "#17BECF", "#1F77B4", "#FF7F0E", "#2CA02C", "#9467BD")
SEQUENTIAL = palette.FRONT_SCALE
DOMINATED = palette.DOMINATED
INFEASIBLE = palette.INFEASIBLE
BASELINE = "#111111"
HIGHLIGHT = palette.DESIGN  # the chosen / recommended design: no device has this colour


def _template() -> go.layout.Template:
    t = go.layout.Template(pio.templates["plotly_white"])
    t.layout.font = dict(family=FONT, size=13, color="#222")
    t.layout.colorway = list(PALETTE)
    t.layout.hoverlabel = dict(font=dict(family=FONT, size=12), align="left")
    t.layout.margin = dict(l=70, r=30, t=50, b=60)
    t.layout.xaxis.automargin = True
    t.layout.yaxis.automargin = True
    t.layout.legend = dict(bgcolor="rgba(255,255,255,0.8)")
    t.layout.title = dict(font=dict(size=15), x=0.0, xanchor="left")
    return t


TEMPLATE = _template()


def colours(names: Iterable[str], *, order: Iterable[str] = ()) -> dict[str, str]:
    """A colour per name: names in `order` first (in that order), then the rest sorted."""
    wanted = list(dict.fromkeys([*order, *sorted(set(names))]))
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(wanted)}


def op_class_colours(classes: Iterable[str]) -> dict[str, str]:
    """Fixed per class (reports.palette), the same in every report."""
    return {c: palette.op_class(c) for c in classes}


def component_colours(components: Iterable[str]) -> dict[str, str]:
    return {c: palette.component(c) for c in components}


def device_colours(devices: Iterable[str]) -> dict[str, str]:
    return {d: palette.device(d) for d in devices}


PHASE_COLOURS = palette.PHASES


# Canonical orders so that colours do not depend on which classes one run happens to have.
OP_CLASS_ORDER = ("qkv_proj", "attention", "o_proj", "ffn", "moe_router", "experts", "lm_head", "norm",
                  "elementwise", "embedding", "runtime")
COMPONENT_ORDER = ("dram", "hybrid_bonded_dram", "sram", "gpu_compute", "npu_compute", "cpu_compute", "cim_array",
                   "cim_readout", "cim_weight_write", "buffer", "noc", "vector_unit", "static")


def wrap_html(text: str, width: int) -> str:
    """Words joined into lines of at most `width` characters (a longer word stands alone), with
    `<br>` between lines: plotly titles and hover texts do not wrap by themselves."""
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    return "<br>".join(lines)
