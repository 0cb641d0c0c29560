"""Hard limits on what a user's file or flag may hold, and the one bounded file reader.

Every input file goes through `read_text_limited`: a regular file, within a size limit,
valid UTF-8. The YAML and JSON readers (`slmsim.core.yamlio`) then bound nesting depth,
items per mapping or list, and the size of the tree once YAML aliases are expanded, so
a hostile file is refused in milliseconds instead of exhausting memory or the stack.
docs/input-limits.md lists these figures; keep the two in step.
"""

from __future__ import annotations

from pathlib import Path

from slmsim.core.errors import Problem, SpecError

MAX_YAML_FILE_BYTES = 256 << 10  # 256 KiB: the largest preset is ~4 kB; PyYAML reads ~0.2 MiB/s here
MAX_JSON_FILE_BYTES = 16 << 20  # 16 MiB: a Hugging Face config.json is a few kB
MAX_CSV_FILE_BYTES = 64 << 20  # 64 MiB: a request trace of ~2 M lines
MAX_DEPTH = 64  # nested mappings/lists
MAX_ITEMS = 10_000  # keys of one mapping or items of one list
MAX_NODES = 200_000  # scalars + collections once every alias is expanded
MAX_EXTENDS_DEPTH = 16  # files in one `extends:` chain
MAX_REQUESTS = 100_000  # rows of a request trace
MAX_TOKENS = 1 << 24  # prompt or generated tokens of one request (16,777,216)
MAX_BATCH = 4096
MAX_SEED = (1 << 64) - 1
MAX_SPEC_INT = 1 << 64  # any integer in a spec file: beyond it a float overflows (10**400) or loses the count
MAX_DSE_SEED = (1 << 31) - 1  # explore/sweep/worker --seed: seed + worker index must fit numpy's 32-bit RandomState
MAX_TRIALS = 10_000_000  # --trials of explore/sweep/worker: 14 h at 200 trials/s, far beyond a DSE study
MAX_GRID_POINTS = 1_000_000  # a sweep's grid: Optuna's grid sampler holds every point in memory
MAX_SAMPLES = 1_000  # --samples: a 95% half-width shrinks as 1/sqrt(N), so 1,000 runs give a seventh of 20 runs' width; 20 runs took 2.46 s (qwen2.5-0.5b, orin-nano, docs/input-limits.md)
MAX_DES_TOKENS = 1_000_000  # steps (generated tokens + prefill passes) one DES run may take: ~100 us each (docs/performance.md), ~100 s at batch 1


def max_jobs() -> int:
    """--jobs: at most 4 processes per core (each imports numpy and simulates)."""
    import os

    return 4 * max(1, os.cpu_count() or 1)


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def read_text_limited(path: Path, *, shown: str, limit: int, what: str = "file", hint: str | None = None) -> str:
    """Read a user's file as UTF-8 text, or raise a `SpecError` saying why not."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SpecError([Problem(file=shown, path="", message="file not found",
                                 hint=hint or "check the path, or use a preset name (`slmsim presets`)")]) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise SpecError([Problem(file=shown[:200], path="", message=f"cannot read {what}: "
                                 f"{getattr(exc, 'strerror', None) or exc}")]) from None
    if path.is_dir():
        raise SpecError([Problem(file=shown, path="", message=f"is a directory, not a {what}",
                                 hint=hint or "give the path of a file inside it")])
    if not path.is_file():
        raise SpecError([Problem(file=shown, path="", message=f"not a regular file (a device or a pipe?), expected a {what}",
                                 hint=hint)])
    if st.st_size > limit:
        raise SpecError([Problem(file=shown, path="", message=f"file too large: {st.st_size} bytes",
                                 value=st.st_size, expected=f"a {what} of at most {_mib(limit)}",
                                 hint="see docs/input-limits.md")])
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise SpecError([Problem(file=shown, path="", message=f"cannot read {what}: {exc.strerror or exc}")]) from None
    if len(data) > limit:
        raise SpecError([Problem(file=shown, path="", message="file too large", expected=f"at most {_mib(limit)}",
                                 hint="see docs/input-limits.md")])
    if b"\x00" in data:
        raise SpecError([Problem(file=shown, path="", message=f"binary data (NUL bytes), expected a text {what}",
                                 hint=hint or "is this the right file?")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([Problem(file=shown, path="",
                                 message=f"not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 1]!r})",
                                 expected=f"a UTF-8 text {what}", hint=hint or "is this the right file?")]) from None
