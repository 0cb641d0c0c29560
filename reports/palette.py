"""One colour language for every report: a device, an op class, an energy component or the
chosen design has the same colour in the design, study and case-study reports.

Colours are fixed per name (not per position in a figure), so a figure that happens to show
fewer classes or devices does not shift the others. Names not listed get a colour from a
stable hash of the name (the same in every report). The chosen design is a colour no
device uses, and no colour here is pale yellow (unreadable on white and in print).
"""

from __future__ import annotations

import zlib

# The design a report is about (chosen / recommended / knee): no device has this colour.
DESIGN = "#C0392B"
DESIGN_DARK = "#7B241C"
DOMINATED = "rgba(95,99,104,0.45)"  # grey, legible on white and in print
DOMINATED_LINE = "rgba(60,60,60,0.55)"
INFEASIBLE = "rgba(200,60,60,0.55)"
INK = "#1d1d1f"
GUIDE = "#444444"  # reference lines: roofs, staircases
FRONT = "#2C3E50"  # Pareto-optimal points where they are not coloured by a metric
FRONT_SCALE = "Viridis"  # the sequential scale of Pareto points; dominated points are grey, never on it

# Devices: presets and the usual baselines. Okabe-Ito hues (colour-blind safe) without the red
# of DESIGN and without yellow.
DEVICES: dict[str, str] = {
    "edgecim": "#E69F00",
    "orin-nano": "#009E73",
    "orin-nano-super": "#006D4F",
    "agx-orin-64gb": "#4DAF8A",
    "sa8255p": "#0072B2",
    "snapdragon-8-elite": "#56B4E9",
    "elmoe3d": "#CC79A7",
    "a100-80gb": "#6A3D9A",
    "h100-sxm": "#9467BD",
}
_FALLBACK = ("#8C564B", "#17BECF", "#7F7F7F", "#BCBD22", "#1F77B4", "#AA4499", "#44AA99", "#882255")

OP_CLASSES: dict[str, str] = {
    "qkv_proj": "#0072B2",
    "attention": "#E69F00",
    "o_proj": "#56B4E9",
    "ffn": "#009E73",
    "router": "#AA4499",
    "moe_router": "#AA4499",
    "experts": "#CC79A7",
    "shared_experts": "#882255",
    "cross_attention": "#D55E00",
    "lm_head": "#332288",
    "norm": "#999933",
    "elementwise": "#7F7F7F",
    "embedding": "#8C564B",
    "runtime": "#BBBBBB",
}

COMPONENTS: dict[str, str] = {
    "dram": "#0072B2",
    "hybrid_bonded_dram": "#56B4E9",
    "sram": "#009E73",
    "gpu_compute": "#E69F00",
    "npu_compute": "#CC79A7",
    "cim_array": "#D55E00",
    "cim_readout": "#AA4499",
    "cim_weight_write": "#882255",
    "buffer": "#44AA99",
    "noc": "#999933",
    "vector_unit": "#332288",
    "link": "#8C564B",
    "static": "#9E9E9E",
}

MEMORY_CONTENT: dict[str, str] = {"weights": "#0072B2", "KV cache": "#E69F00", "KV cache (peak)": "#E69F00",
                                  "activations": "#009E73",
                                  "draft weights": "#56B4E9", "draft KV cache": "#CC79A7"}
PHASES: dict[str, str] = {"prefill": "#B9C7DA", "decode": "#E3E3E3"}  # light: step bars carry their name as text

# Lines of a figure that are not categories (objectives, series of a case study)
SERIES = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#8C564B", "#332288", "#999933")


def _hashed(name: str) -> str:
    return _FALLBACK[zlib.crc32(name.encode()) % len(_FALLBACK)]


def device(name: str) -> str:
    """The colour of a device (a hardware preset or a baseline), the same in every report."""
    return DEVICES.get(name) or DEVICES.get(name.lower()) or _hashed(name)


def op_class(name: str) -> str:
    return OP_CLASSES.get(name) or _hashed(name)


def component(name: str) -> str:
    return COMPONENTS.get(name) or _hashed(name)


def series(i: int) -> str:
    return SERIES[i % len(SERIES)]
