"""Making server-controlled text safe to show: visible control characters, masked credentials, scrub.

The target may be hostile: anything it sent (bodies, headers, messages quoting them) can carry
terminal escapes, bidi overrides, lone surrogates or a credential it echoed. Every report writer
passes text through here before escaping it for its format.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: C0/C1 controls (not TAB/LF), DEL, zero-width and bidi formatting characters, BOM, lone surrogates.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)

#: Header names whose values are credentials (the recorder removes them; this is the second lock).
SENSITIVE_HEADERS = frozenset(
    {
        "api-key",
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "ocp-apim-subscription-key",
        "cookie",
        "set-cookie",
    }
)
SENSITIVE_QUERY = frozenset({"api-key", "subscription-key", "access_token", "token", "sig", "code", "key"})
MASK = "[redacted]"


def _visible(match: re.Match[str]) -> str:
    # ASCII escapes, not Unicode control pictures: those glyphs are missing from many fonts.
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def neutralise(text: Any) -> str:
    """Text with every control/formatting character made visible, so it cannot drive a terminal,
    reorder what a reader sees, or break UTF-8 encoding."""
    s = text if isinstance(text, str) else str(text)
    return _UNSAFE.sub(_visible, s.replace("\r\n", "\n"))


def clip(text: str, limit: int) -> str:
    """Bound what one value may contribute to a report."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"…[{len(text) - limit} more characters]"


def scrubber() -> Callable[[str], str]:
    """`conformance.transport.redact.scrub` (the process-wide secrets registry), or identity while it is absent."""
    try:
        module = importlib.import_module("conformance.transport.redact")
    except ModuleNotFoundError as exc:
        if exc.name not in ("conformance.transport.redact", "conformance"):
            raise
        return lambda text: text
    return module.scrub


def mask_headers(headers: Any) -> dict[str, str]:
    """Headers with credential-bearing values replaced; tolerates a non-dict from a hostile file."""
    if not isinstance(headers, dict):
        return {}
    out: dict[str, str] = {}
    for k, v in headers.items():
        name = str(k)
        out[name] = MASK if name.lower() in SENSITIVE_HEADERS and str(v) != MASK else str(v)
    return out


def mask_url(url: Any) -> str:
    """A URL without userinfo and with credential query parameters masked."""
    text = str(url or "")
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SENSITIVE_QUERY for k, _ in pairs):
            query = urlencode([(k, MASK if k.lower() in SENSITIVE_QUERY else v) for k, v in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def host_only(endpoint: Any) -> str:
    """The host (and port) of an endpoint, never its path, query or userinfo."""
    text = str(endpoint or "")
    if "://" in text:
        try:
            return urlsplit(text).netloc.rpartition("@")[2]
        except ValueError:
            return ""
    return text.split("/", 1)[0].rpartition("@")[2]


def anchor(prefix: str, *parts: Any) -> str:
    """A stable, unique, attribute-safe element id derived from data (never the data itself)."""
    joined = "\x1f".join(str(p) for p in parts)
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", joined).strip("-")[:48]
    digest = hashlib.sha1(joined.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{prefix}-{slug}-{digest}" if slug else f"{prefix}-{digest}"


def endpoint_text(host: Any, path: Any = "") -> str:
    """`host[:port]/path` of an endpoint: never its userinfo, query string or fragment."""
    where = host_only(host)
    text = str(path or "")
    if "://" in text:
        try:
            text = urlsplit(text).path
        except ValueError:
            text = ""
    text = text.split("?", 1)[0].split("#", 1)[0]
    if text and not text.startswith("/"):
        text = "/" + text
    return where + text.rstrip("/") if where else ""
