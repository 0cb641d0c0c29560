"""Fuzzed inputs for slmsim: valid specs with random, often hostile, mutations.

Shared by the hypothesis tests (tests/fuzz/test_fuzz_inputs.py, which pass a hypothesis-
controlled `random.Random`, so failures shrink and replay) and by benchmarks/fuzz_specs.py
(10,000 cases from a seeded `random.Random`). Each `case_*` function writes one input into
a folder and returns the command line that exercises it; `classify` runs it in-process and
says whether the outcome is acceptable.

An outcome is acceptable when the CLI exits 0 with a strict-JSON result whose figures are
finite, non-negative and whose TTFT is positive, or exits 2 with a message (no traceback).
Exit 1 (the internal-error gate) counts as "nonsense"; any exception escaping `main` as
"uncaught".
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
HW_PRESETS = ("orin-nano", "edgecim", "sa8255p", "agx-orin-64gb")
MODEL_PRESETS = ("qwen3-0.6b", "llama-3.2-1b", "granite-3.0-1b-a400m", "deepseek-v2-lite", "flan-t5-small")

HOSTILE: tuple[Any, ...] = (
    None, True, False, 0, -1, 1, 3, 2**31, 2**63, 10**8, 10**400, 0.5, -0.0, 1e308, 1e-300,
    float("nan"), float("inf"), float("-inf"), "", " ", "x", "nan", "inf", "-1",
    "nan GB/s", "inf GB/s", "-inf pJ/bit", "1e308 GB/s", "1e400 pJ/bit", "1e-300 GB/s", "9**9**9 GB/s",
    "10**400 GB/s", "68 GB/s * 0 + 1 GB/s", "0 GB", "-4 us", "68 GHz", "68", "8 GiB", "4 MB", "5 us",
    "0.5 mm^2", "7 W", "625 MHz", "20 TOPS", "0.88 pJ/bit", "1e9 GB/s", "3 m", "sram", "dram", "gpu",
    "cim_accelerator", "autoregressive", "speculative", "zipf", "trace", "../../etc/passwd", "\x00",
    "a" * 300, "{", "*alias", "&anchor", [], {}, [1, 2], [None], {"a": 1}, {"kind": "sram"},
    {"value": "1 GB/s", "source": "fuzz"}, {"value": float("nan"), "assumption": "fuzz"},
)
UNITS = ("GB/s", "pJ/bit", "GiB", "MB", "us", "ns", "W", "mW", "MHz", "TOPS", "mm^2", "V", "Gbps", "J", "B", "s",
         "", "GB/s/s", "bit", "op", "kg")
NUMBERS = ("0", "-1", "1", "1e-300", "1e308", "1e400", "nan", "inf", "0.0001", "65536", "3.5", "1e12", ".5",
           "9**9**9", "1_000", "0x10", "1e-9")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    stack = [(tree, prefix)]
    while stack:
        node, p = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                out.append((*p, k))
                stack.append((v, (*p, k)))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                out.append((*p, i))
                stack.append((v, (*p, i)))
    return sorted(out, key=repr)


def _get(tree: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        tree = tree[p]
    return tree


def _hostile_value(rng: random.Random, old: Any) -> Any:
    r = rng.random()
    if r < 0.45:
        return copy.deepcopy(rng.choice(HOSTILE))
    if r < 0.75 and isinstance(old, str):
        return f"{rng.choice(NUMBERS)} {rng.choice(UNITS)}".strip()
    if r < 0.9 and isinstance(old, (int, float)) and not isinstance(old, bool):
        factor = rng.choice((0, -1, 2, 10, 1000, 1e6, 1e-6, 1e30, 0.5))
        try:
            value = old * factor
            return int(value) if isinstance(old, int) and math.isfinite(value) else value
        except OverflowError:  # a huge int times a float
            return old * 1000
    return copy.deepcopy(rng.choice(HOSTILE))


def mutate(tree: Any, rng: random.Random, *, max_mutations: int = 4) -> Any:
    """A copy of `tree` with 1..max_mutations random mutations (replace, delete, add, nest, swap)."""
    tree = copy.deepcopy(tree)
    for _ in range(rng.randint(1, max_mutations)):
        paths = _paths(tree)
        if not paths:
            return rng.choice(HOSTILE)
        path = rng.choice(paths)
        parent = _get(tree, path[:-1])
        key = path[-1]
        op = rng.random()
        if op < 0.55:
            parent[key] = _hostile_value(rng, parent[key])
        elif op < 0.68 and isinstance(parent, dict):
            del parent[key]
        elif op < 0.78 and isinstance(parent, dict):
            parent[rng.choice(("kind", "extends", "value", "source", "zz_unknown", "strategy", "model", key))] = \
                copy.deepcopy(rng.choice(HOSTILE))
        elif op < 0.86:
            parent[key] = rng.choice(({"value": parent[key]}, [parent[key]], {"nested": parent[key]}))
        else:
            other = rng.choice(paths)
            with contextlib.suppress(Exception):
                parent[key] = copy.deepcopy(_get(tree, other))
    return tree


def dump(tree: Any) -> str:
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)


# ----------------------------------------------------------------------------- cases

Case = tuple[str, list[str]]  # (what, argv)


def case_hardware(rng: random.Random, folder: Path) -> list[str]:
    base = load_yaml(ROOT / "hw_models" / "presets" / f"{rng.choice(HW_PRESETS)}.yaml")
    base.pop("extends", None) if rng.random() < 0.2 else None
    f = folder / "hw.yaml"
    f.write_text(dump(mutate(base, rng)))
    return ["simulate", "--hw", str(f), "--model", rng.choice(("qwen3-0.6b", "llama-3.2-1b")), "--gen", "16",
            "--json"]


def case_model(rng: random.Random, folder: Path) -> list[str]:
    base = load_yaml(ROOT / "workloads" / "presets" / f"{rng.choice(MODEL_PRESETS)}.yaml")
    f = folder / "model.yaml"
    f.write_text(dump(mutate(base, rng)))
    return ["simulate", "--hw", "agx-orin-64gb", "--model", str(f), "--gen", "16", "--json"]


SCENARIO = {
    "prompt_tokens": 128, "gen_tokens": 16, "batch": 2, "seed": 3,
    "precision": {"weight_bits": 4, "activation_bits": 16, "kv_bits": 16, "weight_group_size": 32, "scale_bits": 16},
    "decoding": {"strategy": "speculative", "draft": "qwen3-0.6b", "draft_len": 4, "acceptance": 0.7},
    "moe": {"routing": {"model": "zipf", "s": 1.0}},
}


def case_scenario(rng: random.Random, folder: Path) -> list[str]:
    base = copy.deepcopy(SCENARIO)
    if rng.random() < 0.5:
        base["decoding"] = rng.choice(({"strategy": "autoregressive"}, {"strategy": "lexical_unit", "window": 4},
                                       {"strategy": "multipath", "initial_width": 2, "max_width": 4}))
    f = folder / "scenario.yaml"
    f.write_text(dump(mutate(base, rng)))
    return ["simulate", "--hw", "agx-orin-64gb", "--model", "granite-3.0-1b-a400m", "--scenario", str(f), "--json"]


CONFIG = {
    "model_type": "qwen3", "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
    "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
    "tie_word_embeddings": True, "max_position_embeddings": 40960, "attention_bias": False,
}
MOE_CONFIG = {
    "model_type": "deepseek_v2", "hidden_size": 2048, "intermediate_size": 10944, "num_hidden_layers": 27,
    "num_attention_heads": 16, "num_key_value_heads": 16, "vocab_size": 102400, "tie_word_embeddings": False,
    "kv_lora_rank": 512, "q_lora_rank": None, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
    "n_routed_experts": 64, "n_shared_experts": 2, "num_experts_per_tok": 6, "moe_intermediate_size": 1408,
    "first_k_dense_replace": 1, "moe_layer_freq": 1, "max_position_embeddings": 163840,
}


def case_config_json(rng: random.Random, folder: Path) -> list[str]:
    tree = mutate(copy.deepcopy(rng.choice((CONFIG, MOE_CONFIG))), rng)
    d = folder / "cfg"
    d.mkdir(exist_ok=True)
    text = json.dumps(tree, default=str)  # NaN/Infinity written as JSON5 constants: must be refused
    if rng.random() < 0.1:
        text = text[: rng.randint(0, len(text))]  # truncated file
    if rng.random() < 0.05:
        (d / "config.json").write_bytes(text.encode()[:20] + bytes(rng.randrange(256) for _ in range(20)))
    else:
        (d / "config.json").write_text(text)
    return ["simulate", "--hw", "agx-orin-64gb", "--model", str(d / "config.json"), "--gen", "16", "--json"]


CSV_CELLS = ("0", "0.5", "1", "2.25", "-1", "nan", "inf", "-inf", "1e400", "1e-300", "", " ", "x", "1e9",
             "1000000000", "16777216", "3.5", "0x10", "1_0", "+1", "٣", "NaN", "Infinity", "1e6", "1e7")


def case_requests_csv(rng: random.Random, folder: Path) -> list[str]:
    header = ["arrival_s", "prompt_tokens", "gen_tokens"]
    if rng.random() < 0.1:
        rng.shuffle(header)
    if rng.random() < 0.05:
        header = header[:2]
    rows = []
    for i in range(rng.randint(1, 6)):
        row = [f"{0.01 * i:g}", str(rng.choice((8, 16, 64))), str(rng.choice((2, 4, 8)))]
        for j in range(3):
            if rng.random() < 0.2:
                row[j] = rng.choice(CSV_CELLS)
        if rng.random() < 0.05:
            row = row[: rng.randint(0, 3)]
        rows.append(",".join(row))
    f = folder / "requests.csv"
    f.write_text(",".join(header) + "\n" + "\n".join(rows) + "\n")
    return ["simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--arrivals", "trace", "--engine", "des",
            "--requests-csv", str(f), "--json"]


SPACE = {
    "base": "edgecim",
    "parameters": {
        "devices.cim.tiles": {"choices": [8, 16]},
        "memories.dram.bandwidth": {"low": "68 GB/s", "high": "546 GB/s", "log": True},
    },
    "workloads": ["qwen3-0.6b"],
    "objectives": ["decode_latency", "energy_per_token", "area"],
    "constraints": ["area <= 150 mm^2"],
    "baselines": ["orin-nano"],
}


def case_space(rng: random.Random, folder: Path) -> list[str]:
    f = folder / "space.yaml"
    tree = mutate(copy.deepcopy(SPACE), rng)
    if isinstance(tree, dict) and rng.random() < 0.3:
        tree["constraints"] = [rng.choice(("area <<= 40 mm^2", "area <= nan mm^2", "power >= inf W",
                                           "tokens_per_s >= 1e400", "area <= 40 mm^2 <= 1 W", "area == 4 mm^2",
                                           "ttft <= 9**9**9 s", "area <= 1e308 mm^2"))]
    f.write_text(dump(tree))
    return ["__space__", str(f)]


CIM_MACROS = sorted((ROOT / "hw_models" / "macros").glob("*.yaml"))


def case_cim_macro(rng: random.Random, folder: Path) -> list[str]:
    f = folder / "macro.yaml"
    f.write_text(dump(mutate(load_yaml(rng.choice(CIM_MACROS)), rng)))
    return ["validate", "--cim", "--json", "--macro", str(f)]


STACK_RUNS = (("mlc", "orin-nano"), ("llama.cpp", "raspberry-pi-5"), ("vllm", "agx-orin-64gb"),
              ("genie", "snapdragon-8-elite"), ("torchao", "a100-80gb"), ("tensorrt-edge-llm", "jetson-agx-thor"))


def case_stack(rng: random.Random, folder: Path) -> list[str]:
    name, hw = rng.choice(STACK_RUNS)
    f = folder / "stack.yaml"
    f.write_text(dump(mutate(load_yaml(ROOT / "stacks" / "presets" / f"{name}.yaml"), rng)))
    return ["simulate", "--hw", hw, "--model", rng.choice(("qwen3-0.6b", "llama-3.2-1b")), "--stack", str(f),
            "--gen", "16", "--json"]


VALIDATE_CSVS = (ROOT / "slmsim" / "data" / "calibration-decode-2.csv", ROOT / "slmsim" / "data" / "heldout-decode.csv")


def case_validate_csv(rng: random.Random, folder: Path) -> list[str]:
    """A measured-rows CSV (validate --csv) with hostile cells, rows and headers."""
    import csv as _csv

    with rng.choice(VALIDATE_CSVS).open(newline="") as fh:
        table = list(_csv.reader(fh))
    header, rows = table[0], rng.sample(table[1:], k=min(3, len(table) - 1))
    for row in rows:
        for j in range(len(row)):
            if rng.random() < 0.15:
                row[j] = rng.choice(CSV_CELLS + ("orin-nano", "mlc", "q4_0", "qwen3-0.6b", "genie-w4", "\x00", "a" * 300))
        if rng.random() < 0.05:
            del row[rng.randrange(len(row)):]
    if rng.random() < 0.1:
        header = [h for h in header if rng.random() > 0.1]
    if rng.random() < 0.05:
        rng.shuffle(header)
    f = folder / "rows.csv"
    with f.open("w", newline="") as fh:
        w = _csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return ["validate", "--csv", str(f), "--json"]


TARGETS: dict[str, Callable[[random.Random, Path], list[str]]] = {
    "hardware": case_hardware, "model": case_model, "scenario": case_scenario, "config_json": case_config_json,
    "requests_csv": case_requests_csv, "space": case_space, "cim_macro": case_cim_macro,
    "stack": case_stack, "validate_csv": case_validate_csv,
}


# ----------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Outcome:
    kind: str  # "ok" | "refused" | "nonsense" | "uncaught"
    detail: str = ""


def classify(argv: list[str]) -> Outcome:
    """Run one case in-process; see the module docstring for what counts as acceptable."""
    from slmsim.cli import main
    from slmsim.core.errors import SpecError
    from slmsim.simulator.result import impossible_figures

    if argv[0] == "__space__":
        from slmsim.dse.space import load_space

        try:
            load_space(Path(argv[1]))
        except SpecError as exc:
            text = exc.render()
            return Outcome("refused", text[:200]) if "problem" in text else Outcome("nonsense", "empty message")
        except Exception as exc:  # noqa: BLE001 - this is what we count
            return Outcome("uncaught", f"{type(exc).__name__}: {exc}"[:300])
        return Outcome("ok")
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001
        return Outcome("uncaught", f"{type(exc).__name__}: {exc}"[:300])
    if code == 2:
        if "Traceback" in err.getvalue() or not err.getvalue().strip() and "infeasible" not in out.getvalue():
            return Outcome("nonsense", "exit 2 without a message")
        return Outcome("refused")
    if code != 0:
        return Outcome("nonsense", f"exit {code}: {err.getvalue()[:300]}")

    def refuse(name: str) -> None:
        raise ValueError(f"{name} in --json output")

    try:
        data = json.loads(out.getvalue(), parse_constant=refuse)
    except ValueError as exc:
        return Outcome("nonsense", f"not strict JSON: {exc}")
    if isinstance(data, list) and data and all(isinstance(r, dict) and "weight_format" in r for r in data):
        # validate --csv --json: one object per (row, measured metric); a row it cannot run has
        # predicted null and a reason, a row it ran has finite positive figures
        def sound(r: dict[str, Any]) -> bool:
            m, p = r.get("measured"), r.get("predicted")
            if not (isinstance(m, (int, float)) and math.isfinite(m) and m > 0):
                return False
            if p is None:
                return isinstance(r.get("reason"), str) and bool(r["reason"].strip())
            return isinstance(p, (int, float)) and math.isfinite(p) and p > 0 and math.isfinite(r["error_pct"])
        wrong = [r for r in data if not sound(r)]
        return Outcome("nonsense", f"rows {wrong[:2]}") if wrong else Outcome("ok")
    if isinstance(data, list):  # validate --cim --json: one row per (macro, metric)
        wrong = [r for r in data if not all(isinstance(r.get(k), (int, float)) and math.isfinite(r[k])
                                            for k in ("measured", "predicted", "error_pct")) or r["predicted"] <= 0]
        return Outcome("nonsense", f"rows {wrong[:2]}") if wrong or not data else Outcome("ok")
    bad = impossible_figures(data)
    ttft = data.get("ttft_s")
    unserved = isinstance(data.get("serving"), dict) and data["serving"].get("completed") == 0
    if bad or (not unserved and (not isinstance(ttft, (int, float)) or ttft <= 0)) or (unserved and ttft is not None):
        return Outcome("nonsense", f"{bad} ttft={ttft}")
    return Outcome("ok")
