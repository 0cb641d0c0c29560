"""Problems writing an output file the user named: shared by the commands and the reports."""

from __future__ import annotations

from pathlib import Path

from slmsim.core.errors import Problem


def under_a_file(path: Path, flag: str) -> Problem | None:
    """A problem when a parent of `path` is a file, so nothing can be written there."""
    blocker = next((a for a in Path(path).parents if a.exists()), None)
    if blocker is not None and not blocker.is_dir():
        return Problem(file=str(path), path=flag, message=f"{blocker} is a file, so nothing can be written under it",
                       value=str(path), hint="give a path inside a folder")
    return None


def write_problem(path: object, flag: str, exc: OSError) -> Problem:
    """An OSError while writing an output, as an input problem (exit 2, no traceback)."""
    return Problem(file=str(path), path=flag, message=f"cannot be written: {exc.strerror or exc}",
                   value=str(path), hint="give a path in a folder you can write to")


# ----------------------------------------------------------------------------- edits since slmsim wrote a file


def edited_problem(path: Path, flag: str, kind: str) -> Problem:
    """The refusal to replace a `kind` (report, trace) slmsim wrote at `path` and someone changed
    since (its digest no longer matches, `digest_changed`)."""
    return Problem(file=str(path), path=flag, message=f"is a {kind} slmsim wrote, changed since (it no longer "
                   "matches the digest slmsim stamped in it); refusing to overwrite it", value=str(path),
                   expected=f"a new file, or a {kind} slmsim wrote and nobody edited",
                   hint=f"give another {flag}, or move your edited copy away")

DIGEST_BLANK = "0" * 64  # where a file's own digest goes while the digest is computed


def sha256_hex(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str | None:
    """The SHA-256 of a file (None if it cannot be read)."""
    import hashlib

    try:
        h = hashlib.sha256()
        with Path(path).open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        return h.hexdigest()
    except OSError:
        return None


def with_digest(text: str, template: str) -> str:
    """`text`, which holds `template` filled with `DIGEST_BLANK` once, with that place holding
    the SHA-256 of `text` as it was (so the file carries the digest of its own content)."""
    return text.replace(template.format(DIGEST_BLANK), template.format(sha256_hex(text.encode("utf-8"))), 1)


def digest_changed(path: Path, template: str, *, head: int = 8192) -> bool:
    """Whether a file `with_digest` wrote was changed since: its bytes, with the digest put back
    to `DIGEST_BLANK`, no longer hash to the digest it holds (in its first `head` bytes). A file
    without one (written before digests were kept, or not by slmsim) cannot tell: False."""
    import re

    try:
        data = Path(path).read_bytes()
    except OSError:
        return False
    before, after = template.split("{}")
    m = re.search(re.escape(before).encode() + rb"([0-9a-f]{64})" + re.escape(after).encode(), data[:head])
    if m is None:
        return False
    blanked = data.replace(m.group(0), template.format(DIGEST_BLANK).encode(), 1)
    return sha256_hex(blanked) != m.group(1).decode()
