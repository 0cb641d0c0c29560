"""The trace JSON follows the Chrome trace-event format (what ui.perfetto.dev imports)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slmsim.cli import main


def check_trace_event_format(doc: object) -> None:
    """JSON Object Format of the Trace Event Format spec: traceEvents list; 'X' complete events
    with name/ph/ts/dur/pid/tid (numbers, dur >= 0); 'M' metadata events naming processes/threads."""
    assert isinstance(doc, dict) and isinstance(doc["traceEvents"], list)
    assert doc.get("displayTimeUnit", "ms") in ("ms", "ns")
    named_pids, named_tids = set(), set()
    for ev in doc["traceEvents"]:
        assert ev["ph"] in ("X", "M"), ev
        assert isinstance(ev["pid"], int) and isinstance(ev["tid"], int)
        assert isinstance(ev["name"], str) and ev["name"]
        if ev["ph"] == "M":
            assert ev["name"] in ("process_name", "thread_name") and isinstance(ev["args"]["name"], str)
            (named_pids if ev["name"] == "process_name" else named_tids).add((ev["pid"], ev["tid"]) if ev["name"] == "thread_name" else ev["pid"])
        else:
            assert isinstance(ev["ts"], (int, float)) and isinstance(ev["dur"], (int, float)) and ev["dur"] >= 0
            assert ev["pid"] in named_pids and (ev["pid"], ev["tid"]) in named_tids
    json.dumps(doc)  # serialisable as is


@pytest.mark.parametrize("extra", [[], ["--arrivals", "poisson", "--rate", "4", "--requests", "5"]])
def test_simulate_trace_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]) -> None:
    out = tmp_path / "sub" / "trace.json"
    assert main(["simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--gen", "8", "--trace", str(out),
                 *extra]) == 0
    doc = json.loads(out.read_text())
    check_trace_event_format(doc)
    names = {e["name"] for e in doc["traceEvents"]}
    assert "qkv_proj" in names and any(n.startswith("decode") for n in names)


def test_trace_into_a_directory_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--hw", "orin-nano", "--model", "qwen3-0.6b", "--gen", "4", "--trace", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
