"""Chrome / Perfetto trace export.

The DES records spans as `{"name", "cat", "ph": "X", "ts", "dur", "pid", "tid", "args"}`
with names for pid/tid. The trace-event format wants integer ids, so `to_chrome_trace`
numbers them and adds `process_name` / `thread_name` metadata events. The result opens in
https://ui.perfetto.dev (Open trace file) and in chrome://tracing.
"""

from __future__ import annotations

from typing import Any


def to_chrome_trace(events: list[dict[str, Any]]) -> dict[str, Any]:
    pids: dict[str, int] = {}
    tids: dict[tuple[str, str], int] = {}
    out: list[dict[str, Any]] = []
    for ev in events:
        pname, tname = str(ev["pid"]), str(ev["tid"])
        if pname not in pids:
            pids[pname] = len(pids) + 1
            out.append({"name": "process_name", "ph": "M", "pid": pids[pname], "tid": 0, "args": {"name": pname}})
        if (pname, tname) not in tids:
            tids[(pname, tname)] = len([k for k in tids if k[0] == pname]) + 1
            out.append({"name": "thread_name", "ph": "M", "pid": pids[pname], "tid": tids[(pname, tname)],
                        "args": {"name": tname}})
        out.append({**ev, "pid": pids[pname], "tid": tids[(pname, tname)]})
    return {"traceEvents": out, "displayTimeUnit": "ms"}
