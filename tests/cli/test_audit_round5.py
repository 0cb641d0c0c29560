"""The bad-input audit of 2026-12-04, second part: a CSV cell longer than the csv module's
limit, a bad or ill-fitting routing trace, a CIM node or supply outside the scaling model,
and an expert cache placed in the tier its misses read from, each exit 2 with the file, the
place and what was expected (they were tracebacks, or a silently slower design)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

from slmsim.core.errors import SpecError
from slmsim.workloads.routing import Trace, check_trace, expected_distinct, read_trace, selection_probability
from tests.cli._audit import run

MACROS = Path(__file__).resolve().parents[2] / "hw_models" / "macros"
LONG = "x" * (csv.field_size_limit() + 10)


def test_a_cell_over_the_csv_limit_in_validate_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("device,model,stack,weight_format,prompt_tokens,gen_tokens,batch,decode_tokens_per_s\n"
                    "orin-nano,qwen2.5-0.5b,llama.cpp,q4_0,128,128,1,10\n"
                    f'orin-nano,qwen2.5-0.5b,llama.cpp,q4_0,128,128,1,"{LONG}"\n')
    code, out, err = run(capsys, "validate", "--csv", str(path))
    assert code == 2 and out == ""
    assert f"{path}: line 3: not a readable CSV: a cell longer than {csv.field_size_limit():,} characters" in err


def test_a_cell_over_the_csv_limit_in_a_request_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "req.csv"
    path.write_text(f'arrival_s,prompt_tokens,gen_tokens\n0,"{LONG}",4\n')
    code, _, err = run(capsys, "simulate", "--hw", "orin-nano", "--model", "qwen2.5-0.5b", "--engine", "des",
                       "--arrivals", "trace", "--requests-csv", str(path))
    assert code == 2 and "line 2: not a readable CSV" in err


def _trace(path: Path, layers: int, k: int, experts: int, tokens: int = 6) -> Path:
    rnd = random.Random(0)
    rows = [f"{layer},{t},{' '.join(map(str, rnd.sample(range(experts), k)))}"
            for layer in range(layers) for t in range(tokens)]
    path.write_text("layer,token,experts\n" + "\n".join(rows) + "\n")
    return path


def test_trace_cells_are_all_reported_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("layer,token,experts\n0,0,1 2 x\nq,1,3 4\n0,2,5 5\n0,3,1 2 3\n0,4,1 2\n")
    with pytest.raises(SpecError) as exc:
        read_trace(path)
    got = [(p.path, p.message.split(",")[0]) for p in exc.value.problems]
    assert got == [("line 2.experts", "not a list of expert ids"), ("line 3.layer", "not a layer index"),
                   ("line 4.experts", "an expert listed twice"), ("line 6.experts", "2 experts")]
    (tmp_path / "h.csv").write_text("layer,ids\n0,1\n")
    with pytest.raises(SpecError, match="missing column"):
        read_trace(tmp_path / "h.csv")
    with pytest.raises(ValueError, match="file not found"):  # a pydantic ValidationError at load time
        Trace(path=str(tmp_path / "absent.csv"))


def test_a_trace_must_fit_the_model(tmp_path: Path) -> None:
    path = _trace(tmp_path / "t.csv", layers=2, k=2, experts=8)
    routing = Trace(path=str(path))
    with pytest.raises(SpecError) as exc:
        check_trace(routing, layers=3, top_k=4, num_experts=4)
    text = " | ".join(p.message for p in exc.value.problems)
    assert "no rows for MoE layer(s) 2" in text and "rows list 2 experts, the model routes each token to 4" in text
    assert "is not one of the model's 4" in text
    assert set(check_trace(routing, layers=2, top_k=2, num_experts=8)) == {0, 1}


def test_the_analytic_engine_reads_a_traces_frequencies(tmp_path: Path) -> None:
    """Top-2 of 4 experts over 4 rows: 0 is in 3 rows, 1 and 2 in 2, 3 in 1, so p = (3, 2, 2, 1) / 4
    (sum = k = 2) and 2 tokens touch sum 1 - (1 - p)^2 = 0.9375 + 0.75 + 0.75 + 0.4375 = 2.875 experts."""
    path = tmp_path / "t.csv"
    path.write_text("layer,token,experts\n0,0,0 1\n0,1,0 2\n0,2,0 3\n0,3,1 2\n")
    routing = Trace(path=str(path))
    assert np.allclose(selection_probability(routing, 4, 2), [0.75, 0.5, 0.5, 0.25])
    assert expected_distinct(routing, 4, 2, 2) == pytest.approx(2.875)


@pytest.mark.parametrize("engine", ["analytic", "des"])
def test_simulate_with_an_ill_fitting_trace_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    engine: str) -> None:
    trace = _trace(tmp_path / "t.csv", layers=16, k=3, experts=64)  # olmoe-1b-7b routes each token to 8
    scen = tmp_path / "s.yaml"
    scen.write_text(f"moe:\n  routing: {{model: trace, path: {trace}}}\n")
    code, _, err = run(capsys, "simulate", "--hw", "orin-nano", "--model", "olmoe-1b-7b", "--scenario", str(scen),
                       "--gen", "8", "--engine", engine)
    assert code == 2 and "rows list 3 experts, the model routes each token to 8" in err
    trace.write_text("layer,token,experts\n0,0,1 2 oops\n")
    code, _, err = run(capsys, "simulate", "--hw", "orin-nano", "--model", "olmoe-1b-7b", "--scenario", str(scen),
                       "--engine", engine)
    assert code == 2 and "moe.routing.path: line 2.experts: not a list of expert ids" in err


def test_simulate_with_a_fitting_trace_runs_both_engines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = _trace(tmp_path / "t.csv", layers=16, k=8, experts=64, tokens=40)
    scen = tmp_path / "s.yaml"
    scen.write_text(f"moe:\n  routing: {{model: trace, path: {trace}}}\n")
    for engine in ("analytic", "des"):
        code, out, _ = run(capsys, "simulate", "--hw", "orin-nano", "--model", "olmoe-1b-7b", "--scenario", str(scen),
                           "--gen", "8", "--engine", engine)
        assert code == 0 and "TPOT" in out


def test_a_cim_node_outside_the_scaling_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "chip.yaml"
    spec.write_text("extends: edgecim\ndevices:\n  cim:\n    technology_node: 3 nm\n    macro:\n"
                    "      energy_per_readout: null\n")
    code, _, err = run(capsys, "check", str(spec))
    assert code == 2 and "technology node 3 nm is outside 7-180 nm" in err
    # with every figure given, nothing is scaled and the node is only a label: accepted
    spec.write_text("extends: edgecim\ndevices:\n  cim:\n    technology_node: 3 nm\n")
    code, _, _ = run(capsys, "check", str(spec))
    assert code == 0


def test_a_supply_where_the_scaling_polynomials_turn_negative(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "chip.yaml"
    spec.write_text("extends: edgecim\ndevices:\n  cim:\n    technology_node: 28 nm\n    supply_voltage: 1.6 V\n"
                    "    macro:\n      energy_per_readout: null\n")
    code, _, err = run(capsys, "simulate", "--hw", str(spec), "--model", "qwen2.5-0.5b")
    assert code == 2 and "28 nm is interpolated between 32 and 20 nm: supply voltage 1.6 V" in err
    assert "(0.20-1.21 V)" in err


@pytest.mark.parametrize(("field", "value", "needle"), [("technology_node", "5 nm", "5 nm is outside 7-180 nm"),
                                                       ("supply_voltage", "2.4 V", "supply voltage 2.4 V")])
def test_a_published_macro_outside_the_scaling_range(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     field: str, value: str, needle: str) -> None:
    text = (MACROS / "aimc5-vlsi2022-22nm.yaml").read_text()
    lines = [f"{field}: {value}" if line.startswith(f"{field}:") else line for line in text.splitlines()]
    path = tmp_path / "m.yaml"
    path.write_text("\n".join(lines) + "\n")
    code, _, err = run(capsys, "validate", "--cim", "--macro", str(path))
    assert code == 2 and needle in err


def test_an_expert_cache_in_the_weights_own_tier_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    base = ("simulate", "--hw", "elmoe3d", "--model", "olmoe-1b-7b", "--expert-cache", "16")
    code, _, err = run(capsys, *base, "--cache-tier", "lpddr")
    assert code == 2 and "--cache-tier: the expert cache is in 'lpddr', the tier its misses read" in err
    code, out, _ = run(capsys, *base, "--cache-tier", "hb")
    assert code == 0 and "TPOT" in out


HEADER = "device,model,stack,weight_format,prompt_tokens,gen_tokens,batch,decode_tokens_per_s\n"


@pytest.mark.parametrize(("row", "needles"), [
    ("orin-nano,qwen2.5-0.5b,llama.cpp\n", ["line 2: 3 cells, the header has 8 columns (no weight_format"]),
    # read strictly (2026-12-07): a quote left open is found by the CSV reader, wherever it is
    ('orin-nano,"qwen2.5-0.5b,llama.cpp,q4_0,128,128,1,10\n', ["line 2: not a readable CSV: a quote left open",
                                                               "close the quoted cell"]),
    ("orin-nano,qwen2.5-0.5b,llama.cpp,q4_0,,128,,10\n", ["prompt_tokens, gen_tokens and batch are needed on every "
                                                          "row: prompt_tokens, batch empty"]),
])
def test_validate_csv_row_shape_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str], row: str,
                                         needles: list[str]) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(HEADER + row)
    code, _, err = run(capsys, "validate", "--csv", str(path))
    assert code == 2
    for needle in needles:
        assert needle in err
    assert "{'" not in err  # no dict repr


def test_validate_csv_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(HEADER.encode() + b"orin-nano,qw\xffen,llama.cpp,q4_0,128,128,1,10\n")
    code, _, err = run(capsys, "validate", "--csv", str(path))
    assert code == 2 and f"line 2: not UTF-8 text: byte 0xff at offset {len(HEADER) + 12}" in err
    assert "codec" not in err


def test_validate_csv_with_no_row_predicted_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(HEADER + ",qwen2.5-0.5b,llama.cpp,q4_0,128,128,1,10\nnope-dev,qwen2.5-0.5b,llama.cpp,q4_0,128,128,1,10\n")
    code, out, err = run(capsys, "validate", "--csv", str(path), "--json")
    rows = json.loads(out)
    assert code == 2 and "none of the 2 row(s) could be predicted" in err
    assert [r["predicted"] for r in rows] == [None, None]
    assert rows[0]["reason"].startswith("empty device cell") and "directory" not in rows[0]["reason"]
    assert "unknown device 'nope-dev'" in rows[1]["reason"]
    # one row that runs is enough for a success
    path.write_text(HEADER + "orin-nano,qwen2.5-0.5b,llama.cpp,q4_0,128,128,1,10\nnope-dev,qwen2.5-0.5b,llama.cpp,q4_0,128,128,1,10\n")
    code, _, _ = run(capsys, "validate", "--csv", str(path), "--json")
    assert code == 0


def test_average_power_above_max_power_is_warned_about(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "o.yaml"
    spec.write_text("extends: orin-nano\ndevices:\n  gpu:\n    max_power: {value: 5 W, assumption: a test cap}\n")
    code, out, _ = run(capsys, "simulate", "--hw", str(spec), "--model", "qwen2.5-0.5b", "--json")
    data = json.loads(out)
    assert code == 0 and data["average_power_w"] > 5
    assert any(w.startswith(f"average power {data['average_power_w']:.3g} W, ") and "exceeds max_power (gpu 5 W)" in w
               for w in data["warnings"])
    code, out, _ = run(capsys, "simulate", "--hw", "orin-nano", "--model", "qwen2.5-0.5b", "--json")
    assert not any("exceeds max_power" in w for w in json.loads(out)["warnings"])


def test_a_phase_above_max_power_is_warned_about_when_the_average_is_below(capsys: pytest.CaptureFixture[str]) -> None:
    """apple-m1 (max_power 20 W), llama-3.2-1b f16 at batch 64: the long prefill draws under
    the cap and the decode above it, and the run's average (under) hid it (an energy audit)."""
    code, out, _ = run(capsys, "simulate", "--hw", "apple-m1", "--model", "llama-3.2-1b", "--batch", "64",
                       "--prompt", "512", "--gen", "64", "--weight-bits", "16", "--json")
    data = json.loads(out)
    decode_w = data["decode_energy_j"] / data["decode_time_s"]  # by hand: the phase's energy over its time
    assert code == 0 and data["average_power_w"] <= 20 < decode_w
    assert any(w.startswith(f"decode power {decode_w:.3g} W exceeds max_power (gpu 20 W)") for w in data["warnings"])
    assert not any("average power" in w and "exceeds max_power" in w for w in data["warnings"])


def test_check_counts_optional_quantities_and_flags_unsourced_overrides(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "o.yaml"
    spec.write_text("extends: orin-nano\ndevices:\n  gpu:\n    max_power: 5 W\n    clock: 2 GHz\n")
    code, out, _ = run(capsys, "check", str(spec))
    assert code == 0
    assert "2 override(s) without a source or assumption: devices.gpu.clock, devices.gpu.max_power" in out


def test_des_reports_the_expected_distinct_experts_without_a_moe_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    """No --routing: both engines map each step with E (1 - (1 - k/E)^B) = 64 (1 - (7/8)^4) distinct experts
    (olmoe-1b-7b, batch 4); the DES used to report null."""
    for engine in ("analytic", "des"):
        code, out, _ = run(capsys, "simulate", "--hw", "orin-nano", "--model", "olmoe-1b-7b", "--batch", "4",
                           "--gen", "16", "--engine", engine, "--json")
        assert code == 0 and json.loads(out)["distinct_experts_per_step"] == pytest.approx(64 * (1 - (7 / 8) ** 4))


@pytest.mark.parametrize(("target", "draft", "warned"), [("llama-3.2-3b", "qwen2.5-0.5b", True),
                                                         ("llama-3.2-3b", "llama-3.2-1b", False),
                                                         ("qwen2.5-7b", "qwen2.5-0.5b", False)])  # padded rows only
def test_a_draft_with_another_tokenizer_is_warned_about(capsys: pytest.CaptureFixture[str], target: str, draft: str,
                                                        warned: bool) -> None:
    code, out, _ = run(capsys, "simulate", "--hw", "jetson-agx-thor", "--model", target, "--decoding", "speculative",
                       "--draft", draft, "--json")
    assert code == 0
    assert any("need one tokenizer" in w for w in json.loads(out)["warnings"]) is warned


def test_trace_ids_of_thousands_of_digits_are_cell_errors(tmp_path: Path) -> None:
    """int() of a 5,000-digit string raises (Python's 4,300-digit limit): each is a problem of its cell."""
    path = tmp_path / "t.csv"
    path.write_text("layer,token,experts\n" + "9" * 5000 + ",0,1 2\n0,1," + "7" * 5000 + " 1\n")
    with pytest.raises(SpecError) as exc:
        read_trace(path)
    assert [p.path for p in exc.value.problems] == ["line 2.layer", "line 3.experts"]
    ids = read_trace(_trace(tmp_path / "ok.csv", layers=1, k=2, experts=4))[0]
    assert not ids.flags.writeable  # the memoised rows are shared: read-only
