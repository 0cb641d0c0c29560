"""`simulate --arrivals ... --schedule mixed [--step-tokens N]`: what it prints, and every input
it cannot model refused with the flag, the value and a hint (exit 2, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slmsim.cli import main

ROOT = Path(__file__).parents[2]
STREAM = ["simulate", "--hw", "agx-orin-64gb", "--model", "llama-3.2-1b", "--arrivals", "poisson", "--rate", "4",
          "--requests", "6", "--prompt", "600", "--gen", "16"]


def test_mixed_schedule_reports_its_budget_and_steps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*STREAM, "--schedule", "mixed", "--step-tokens", "256", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    sv = d["serving"]
    assert (sv["schedule"], sv["step_tokens"], sv["completed"]) == ("mixed", 256, 6)
    assert sv["mixed_steps"] == d["work"]["mixed"]["steps"] > 0
    assert d["energy_j"] == pytest.approx(sum(d["energy_breakdown_j"].values()))


def test_the_stack_sets_the_budget(capsys: pytest.CaptureFixture[str]) -> None:
    """vLLM's preset gives prefill_chunk_tokens 2048 (its max_num_batched_tokens): the default budget."""
    assert main(["simulate", "--hw", "agx-orin-64gb", "--model", "llama-3.2-1b", "--stack", "vllm",
                 "--weight-format", "w4a16-g128", "--arrivals", "fixed", "--requests", "2", "--prompt", "64",
                 "--gen", "8", "--schedule", "mixed", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["serving"]["step_tokens"] == 2048


@pytest.mark.parametrize(("extra", "path", "words"), [
    (["--schedule", "mixed"], "--step-tokens", "token budget"),
    (["--schedule", "mixed", "--step-tokens", "256", "--batching", "static"], "--batching", "continuous"),
    (["--schedule", "mixed", "--step-tokens", "256", "--decoding", "speculative", "--draft", "qwen3-0.6b"],
     "--decoding", "autoregressive"),
    (["--step-tokens", "256"], "--step-tokens", "--schedule mixed"),
    (["--schedule", "mixed", "--step-tokens", "0"], "--step-tokens", "a whole number from 1"),
])
def test_what_mixed_cannot_model_is_refused(capsys: pytest.CaptureFixture[str], extra: list[str], path: str,
                                            words: str) -> None:
    assert main([*STREAM, *extra]) == 2
    err = capsys.readouterr().err
    assert path in err and words in err and "Traceback" not in err


def test_split_devices_and_encoder_decoders_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    split = ["simulate", "--hw", str(ROOT / "examples" / "hetero-orin-edgecim.yaml"), "--model", "qwen3-1.7b",
             "--act-bits", "8", "--arrivals", "fixed", "--requests", "2", "--prompt", "64", "--gen", "8",
             "--schedule", "mixed", "--step-tokens", "128"]
    assert main(split) == 2
    assert "there is no step to mix" in capsys.readouterr().err
    t5 = ["simulate", "--hw", "orin-nano", "--model", "flan-t5-base", "--arrivals", "fixed", "--requests", "2",
          "--prompt", "64", "--gen", "8", "--schedule", "mixed", "--step-tokens", "128"]
    assert main(t5) == 2
    assert "encoder-decoder" in capsys.readouterr().err


def test_schedule_without_arrivals_is_said_to_be_ignored(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--schedule", "mixed", "--json"]) == 0
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert any("--schedule" in w and "only applies with --arrivals" in w for w in warnings)


@pytest.mark.parametrize(("extra", "path", "words"), [
    (["--batching", "static"], "--batching", "static batching"),
    (["--decoding", "speculative", "--draft", "qwen3-0.6b"], "--decoding", "autoregressive"),
])
def test_what_paged_kv_cannot_model_is_refused(capsys: pytest.CaptureFixture[str], extra: list[str], path: str,
                                               words: str) -> None:
    assert main([*STREAM, "--kv-policy", "paged", *extra]) == 2
    err = capsys.readouterr().err
    assert path in err and words in err and "Traceback" not in err


def test_paged_kv_reports_its_preemptions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*STREAM, "--kv-policy", "paged"]) == 0
    assert "paged KV: 0 preemptions, 0 tokens prefilled again" in capsys.readouterr().out


def test_a_closed_loop_client_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--requests", "6", "--prompt", "128", "--gen",
            "8", "--json"]
    assert main([*base, "--arrivals", "closed", "--concurrency", "2"]) == 0
    sv = json.loads(capsys.readouterr().out)["serving"]
    assert (sv["concurrency"], sv["completed"]) == (2, 6) and sv["mean_decode_batch"] <= 2
    assert main([*base, "--arrivals", "closed"]) == 2
    assert "needs a concurrency" in capsys.readouterr().err
    assert main([*base, "--arrivals", "fixed", "--concurrency", "2"]) == 2
    assert "applies to --arrivals closed only" in capsys.readouterr().err
