"""slmsim validate: accuracy bounds on measured devices, power band, and the fitted constants."""

from __future__ import annotations

import json

import numpy as np
import pytest

from slmsim.cli import main
from slmsim.validation import power_band, rows, validate


@pytest.fixture(scope="module")
def results(capsys_module=None):  # noqa: ANN001, ANN201
    return validate()


def test_validate_json_runs_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["slmsim_version"]
    out = doc["rows"]
    assert len(out) == len(rows())
    for item in out:
        # the keys of the --csv records, so one reader takes both outputs; the first file is decode only
        assert {"device", "model", "stack", "weight_format", "metric", "measured", "predicted", "error_pct"} <= set(item)
        assert item["metric"] == "decode"
        assert item["error_pct"] == pytest.approx(100 * (item["predicted"] - item["measured"]) / item["measured"])


def test_accuracy_bounds(results) -> None:  # noqa: ANN001
    errors = np.array([abs(r.error_pct) for r in results])
    assert errors.mean() <= 10.0
    assert errors.max() <= 20.0


def test_orin_nano_decode_power_in_the_measured_band(results) -> None:  # noqa: ANN001
    band = next(b for b in power_band() if b["device"] == "orin-nano")
    lo, hi = float(band["board_power_w_low"]), float(band["board_power_w_high"])
    for r in results:
        if r.row.device == "orin-nano":
            assert lo <= r.power_w <= hi, (r.row.model, r.power_w)


def test_validate_csv_json_predicts_every_row_of_the_second_file(capsys: pytest.CaptureFixture[str]) -> None:
    from slmsim.validation import DATA, read_csv

    path = DATA / "calibration-decode-2.csv"
    assert main(["validate", "--csv", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows2 = read_csv(path)
    assert len(rows2) == 17
    expected = sum(len(r.measured_metrics()) for r in rows2)
    assert len(out) == expected  # one object per (row, measured metric)
    for item in out:
        assert set(item) >= {"device", "model", "stack", "weight_format", "metric", "measured", "predicted",
                             "error_pct"}
        assert item["metric"] in ("decode", "prefill", "power")
        assert item["predicted"] is not None and item["predicted"] > 0, item
        assert item["error_pct"] == pytest.approx(100 * (item["predicted"] - item["measured"]) / item["measured"])


def test_the_copied_calibration_file_is_the_reference_file() -> None:
    from pathlib import Path

    from slmsim.validation import DATA

    here = Path(__file__).resolve()
    refs = [p / "shared" / "reference" / "calibration-decode-2.csv" for p in here.parents[2:5]]
    ref = next((r for r in refs if r.exists()), None)
    if ref is None:
        pytest.skip("no shared/reference next to this checkout")
    assert (DATA / "calibration-decode-2.csv").read_bytes() == ref.read_bytes()


def test_rows_that_cannot_run_get_a_reason_not_a_crash(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    path = tmp_path / "mine.csv"
    path.write_text(
        "device,model,stack,weight_format,prompt_tokens,gen_tokens,batch,decode_tokens_per_s,prefill_tokens_per_s,"
        "power_w,source,extra\n"
        "nosuch,llama-3.2-1b,mlc,q4f16_ft,16,128,1,10,,,x,ignored\n"
        "orin-nano,nosuch,mlc,q4f16_ft,16,128,1,10,,,x,\n"
        "orin-nano,llama-3.2-1b,nosuch,q4f16_ft,16,128,1,10,,,x,\n"
        "orin-nano,llama-3.2-1b,mlc,q9_9,16,128,1,10,,,x,\n"
        "orin-nano,llama-3.1-8b,mlc,f16,16,128,1,10,,,x,\n"
        "orin-nano,llama-3.2-1b,mlc,q4f16_ft,16,128,1,10,300,12,x,\n")
    assert main(["validate", "--csv", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    reasons = [o.get("reason") or "" for o in out]
    assert "unknown device 'nosuch'" in reasons[0]
    assert "unknown model 'nosuch'" in reasons[1]
    assert "unknown stack 'nosuch'" in reasons[2]
    assert "unknown weight format 'q9_9'" in reasons[3]
    assert "does not fit memory" in reasons[4]
    assert all(o["predicted"] is None for o in out[:5])
    assert [o["metric"] for o in out[5:]] == ["decode", "prefill", "power"]
    assert all(o["predicted"] > 0 for o in out[5:])


def test_the_table_keeps_every_column_apart_however_long_the_names(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    """Piped output is the plain table: a device name longer than any preset's (or the 23-character
    snapdragon-8-elite-gen5, which once ran into its model column) still leaves two spaces before the next column."""
    long_device = "my-proposed-accelerator-with-a-long-name"
    path = tmp_path / "mine.csv"
    path.write_text(
        "device,model,stack,weight_format,prompt_tokens,gen_tokens,batch,decode_tokens_per_s,prefill_tokens_per_s,"
        "power_w,source\n"
        "snapdragon-8-elite-gen5,llama-3.2-1b,genie,genie-w4a16,128,128,1,64.04,,,x\n"
        f"{long_device},llama-3.2-1b,mlc,q4f16_ft,16,128,1,10,,,x\n")
    assert main(["validate", "--csv", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    header = next(line for line in out if line.split()[:2] == ["device", "model"])
    body = [line for line in out if line.strip().startswith(("snapdragon-8-elite-gen5 ", long_device + " "))]
    assert len(body) == 2
    for line in [header, *body]:
        cells = [c.strip() for c in line.strip().split("  ") if c.strip()]
        assert cells[:3] in (["device", "model", "stack"], ["snapdragon-8-elite-gen5", "llama-3.2-1b", "genie"],
                             [long_device, "llama-3.2-1b", "mlc"])
    assert f"unknown device '{long_device}'" in body[1]


def test_bad_csv_is_a_clear_error(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    path = tmp_path / "bad.csv"
    path.write_text("device,model,stack\norin-nano,llama-3.2-1b,mlc\n")
    assert main(["validate", "--csv", str(path)]) == 2
    err = capsys.readouterr().err
    assert "missing column(s): weight_format, prompt_tokens, gen_tokens, batch" in err and "Traceback" not in err
    path.write_text("device,model,stack,weight_format,prompt_tokens,gen_tokens,batch,decode_tokens_per_s\n"
                    "orin-nano,llama-3.2-1b,mlc,q4f16_ft,16,lots,1,10\n")
    assert main(["validate", "--csv", str(path)]) == 2
    assert "line 2, column gen_tokens" in capsys.readouterr().err


def test_every_bad_cell_of_a_csv_is_reported_at_once(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    """A 3-row file with four bad cells on two rows: one run names all four (not the first only),
    and a count written as 1e7 or 128.5 is refused as not a whole number, not as 'not a number'."""
    path = tmp_path / "bad.csv"
    original = ("device,model,stack,weight_format,prompt_tokens,gen_tokens,batch,decode_tokens_per_s\n"
                "orin-nano,llama-3.2-1b,mlc,q4f16_ft,1e7,16,1,10\n"
                "orin-nano,llama-3.2-1b,mlc,q4f16_ft,16,16,1,10\n"
                "orin-nano,llama-3.2-1b,mlc,q4f16_ft,16,128.5,x,-3\n")
    path.write_text(original)
    assert main(["validate", "--csv", str(path), "--json"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and "Traceback" not in cap.err
    assert "4 problems found" in cap.err
    for where in ("line 2, column prompt_tokens", "line 4, column gen_tokens", "line 4, column batch",
                  "line 4, column decode_tokens_per_s"):
        assert where in cap.err
    assert cap.err.count("not a whole number") == 2 and "not a number" in cap.err
    assert path.read_text() == original  # the user's file is untouched


def test_simulate_with_a_stack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--hw", "raspberry-pi-5", "--model", "llama-3.2-3b", "--stack", "ollama",
                 "--weight-format", "q4_k_m", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["stack"]["name"] == "llama.cpp" and out["stack"]["device"] == "cpu"
    # Q4_K_M on llama-3.2-3b (28 layers, q 3072, k = v = 1024, tied embedding) by hand: Q4_K is
    # 144 B per 256 weights = 4.5 bits, Q6_K 210 B = 6.5625; use_more_bits() picks 14 of the 28
    # layers (0-2, 24-27, and 5, 8, ..., 23), where attn_v and ffn_down are Q6_K; the tied
    # embedding is the output, all Q6_K
    prec = out["scenario"]["precision"]
    assert prec["bits_per_weight"] == 4.5
    down = 0.5 * 6.5625 + 0.5 * 4.5
    assert prec["tensor_bits"]["ffn_down"] == pytest.approx(down, rel=1e-12)
    assert prec["tensor_bits"]["qkv_proj"] == pytest.approx((4096 * 4.5 + 1024 * down) / 5120, rel=1e-12)
    assert prec["tensor_bits"]["lm_head"] == 6.5625
    assert prec["tensor_bits"]["o_proj"] is None and prec["tensor_bits"]["ffn_up"] is None  # the base 4.5
    assert out["stack"]["tensor_bits_per_weight"] == {k: v for k, v in prec["tensor_bits"].items() if v is not None}
    assert main(["simulate", "--hw", "orin-nano", "--model", "llama-3.2-1b", "--weight-format", "q4_0"]) == 2
    assert "--stack" in capsys.readouterr().err
    assert main(["simulate", "--hw", "orin-nano", "--model", "llama-3.2-1b", "--stack", "genie"]) == 2
    assert "runs on npu" in capsys.readouterr().err
