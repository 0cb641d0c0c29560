"""Chrome / Perfetto trace export.

The DES records spans as `{"name", "cat", "ph": "X", "ts", "dur", "pid", "tid", "args"}`
with names for pid/tid. The trace-event format wants integer ids, so `to_chrome_trace`
numbers them and adds `process_name` / `thread_name` metadata events. The result opens in
https://ui.perfetto.dev (Open trace file) and in chrome://tracing.

A span on track `channels` with `args.channels` = n (a transfer interleaved evenly over the
n channels of a memory tier) is drawn on each of the tracks `channel 0` .. `channel n-1`,
each carrying `args.bytes` (its share).
"""

from __future__ import annotations

from typing import Any


def to_chrome_trace(events: list[dict[str, Any]]) -> dict[str, Any]:
    pids: dict[str, int] = {}
    tids: dict[tuple[str, str], int] = {}
    out: list[dict[str, Any]] = []
    for ev in _per_channel(events):
        pname, tname = str(ev["pid"]), str(ev["tid"])
        if pname not in pids:
            pids[pname] = len(pids) + 1
            out.append({"name": "process_name", "ph": "M", "pid": pids[pname], "tid": 0, "args": {"name": pname}})
        if (pname, tname) not in tids:
            tids[(pname, tname)] = len([k for k in tids if k[0] == pname]) + 1
            out.append({"name": "thread_name", "ph": "M", "pid": pids[pname], "tid": tids[(pname, tname)],
                        "args": {"name": tname}})
        out.append({**ev, "pid": pids[pname], "tid": tids[(pname, tname)]})
    return {"otherData": {"generator": GENERATOR}, "traceEvents": out, "displayTimeUnit": "ms"}


GENERATOR = "slmsim"  # `otherData.generator` of every trace slmsim writes (what may be overwritten)
DIGEST_TAG = '"slmsim-content-sha256": "{}"'  # in `otherData`, first in the file: the trace's SHA-256, itself blanked


def trace_text(events: list[dict[str, Any]]) -> str:
    """The Chrome trace of `events` as written: JSON whose `otherData` (first, so it is read
    in a file's head) carries the SHA-256 of the text with that value blanked, so an edit made
    since slmsim wrote it shows (`edited`) and is not overwritten."""
    import json

    from slmsim.core.outputs import DIGEST_BLANK, with_digest

    data = to_chrome_trace(events)
    data["otherData"] = {**data["otherData"], "slmsim-content-sha256": DIGEST_BLANK}
    return with_digest(json.dumps(data), DIGEST_TAG)


def edited(path: Any) -> bool:
    """Whether a trace slmsim wrote was changed since (a trace without the digest, written
    before it was kept, counts as unedited)."""
    from pathlib import Path

    from slmsim.core.outputs import digest_changed

    return digest_changed(Path(path), DIGEST_TAG)


def written_by_slmsim(path: Any) -> bool:
    """Whether the file at `path` is a Chrome trace slmsim wrote (older ones: exactly the two
    keys slmsim wrote then)."""
    import json

    try:
        with open(path, "rb") as f:
            head = f.read(64 << 20)
        data = json.loads(head)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return False
    if not isinstance(data, dict):
        return False
    other = data.get("otherData")
    if isinstance(other, dict) and other.get("generator") == GENERATOR:
        return True
    return set(data) == {"traceEvents", "displayTimeUnit"}


def _per_channel(events: list[dict[str, Any]]):
    for ev in events:
        n = ev.get("args", {}).get("channels") if ev.get("tid") == "channels" else None
        if not n:
            yield ev
            continue
        args = {k: v for k, v in ev["args"].items() if k != "channels"}
        for c in range(int(n)):
            yield {**ev, "tid": f"channel {c}", "args": args}
