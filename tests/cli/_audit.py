"""Helpers shared by the CLI audit tests: run the CLI in-process, and write a config.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slmsim.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `slmsim ARGV`; no run may print a traceback."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def llama_config(tmp_path: Path, **change: object) -> Path:
    """A Llama-3.2-1B-shaped config.json with CHANGE applied, written to TMP_PATH."""
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048,
           "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
           "intermediate_size": 8192, "vocab_size": 128256}
    cfg.update(change)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return path
