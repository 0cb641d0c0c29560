"""Passwords in storage URLs and connection strings: masked in every message, never echoed.

Shared by the DSE (`--storage`) and the reports (`slmsim report STORAGE`), which may not
import each other: a URL's password (user:PASSWORD@host, ?password= in the query) and a
libpq key=value string's `password=`.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote


def split_url(url: str) -> tuple[str, str | None, str]:
    """scheme://, the credentials (None without '@'), and the rest (host, path, query).

    The credentials end at the LAST '@' before the path, so a password holding '@' or ':'
    stays whole."""
    scheme, rest = url.split("://", 1)
    at = rest.rfind("@")
    if at < 0:
        return scheme + "://", None, rest
    slash = rest.find("/", at)
    head = rest if slash < 0 else rest[:slash]
    at = head.rfind("@")
    return scheme + "://", rest[:at], rest[at + 1:]


_QUERY_SECRET = re.compile(r"(?i)([?&;](?:password|passwd|pwd|pass|sslpassword)=)[^&;#]*")


# libpq keyword/value connection strings ("host=db user=u password=x"): never a journal file name
_LIBPQ_KEYWORD = re.compile(r"(?:^|\s)(?:host|hostaddr|port|dbname|user|password|passfile|sslmode|service)\s*=")
_CONNINFO_SECRET = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def mask_conninfo(text: str) -> str:
    """A libpq key=value string with its password hidden."""
    return _CONNINFO_SECRET.sub(r"\1***", text)


def mask_password(url: str) -> str:
    """A URL with its password hidden (user:***@host, password=*** in the query)."""
    if "://" not in url:
        return url
    scheme, creds, rest = split_url(url)
    if creds is not None and ":" in creds:
        url = f"{scheme}{creds.split(':', 1)[0]}:***@{rest}"
    return _QUERY_SECRET.sub(r"\1***", url)


def secrets_of(url: str) -> list[str]:
    """The password of a URL in every form a message could quote it (raw, encoded, decoded)."""
    out: list[str] = []
    if "://" not in url:
        return out
    _, creds, rest = split_url(url)
    if creds is not None and ":" in creds:
        out.append(creds.split(":", 1)[1])
    out += [m.group(0).split("=", 1)[1] for m in _QUERY_SECRET.finditer(url)]
    forms = set()
    for s in out:
        forms |= {s, unquote(s), quote(unquote(s), safe="")}
    return sorted((s for s in forms if len(s) >= 1 and s != "***"), key=len, reverse=True)


def redact(text: str, url: str) -> str:
    """`text` with every form of `url`'s password replaced by ***."""
    for secret in secrets_of(url):
        text = text.replace(secret, "***")
    return text


def mask_secrets(text: str) -> str:
    """A storage URL or connection string as a message may show it: every password ***."""
    return mask_conninfo(mask_password(text))


def is_conninfo(text: str) -> bool:
    """Whether `text` is a libpq key=value connection string (never a file name)."""
    return _LIBPQ_KEYWORD.search(text) is not None


def postgres_url(url: str) -> str:
    """Name the installed driver in a plain postgresql:// URL, and percent-encode a password
    holding '@', ':' or '/' (SQLAlchemy would otherwise split the URL inside it).

    SQLAlchemy 2.1 maps `postgresql://` to psycopg 3; 2.0 to psycopg2. We install
    psycopg2-binary (the `test` extra), so pick whichever driver is importable.
    """
    url = quote_password(url)
    scheme, rest = url.split("://", 1)
    if "+" in scheme:
        return url
    import importlib.util

    for module, driver in (("psycopg", "psycopg"), ("psycopg2", "psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return f"postgresql+{driver}://{rest}"
    return f"postgresql://{rest}"


def quote_password(url: str) -> str:
    if "://" not in url:
        return url
    scheme, creds, rest = split_url(url)
    if creds is None or ":" not in creds:
        return url
    user, password = creds.split(":", 1)
    return f"{scheme}{user}:{quote(unquote(password), safe='')}@{rest}"
