"""Credentials never appear in any output: a process-wide registry of secrets and the scrubbers.

The client registers the key (and any bearer token) when it is built, scrubs every exchange at
recording time, and every writer (report, JUnit, terminal) calls `scrub` again as a last line of
defence. Besides the secret itself we look for the forms a server or a proxy could echo it in:
Base64 (standard and URL-safe, padded or not, and at the three byte alignments it can take
inside a longer Base64 blob such as a Basic-auth header), percent-encoding and JSON escaping.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

REDACTED = "***REDACTED***"
_REDACTED_B = REDACTED.encode()
MIN_SECRET_LENGTH = 4
#: Headers whose value is a credential whatever it looks like.
SENSITIVE_HEADERS = frozenset(
    {
        "api-key",
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "ocp-apim-subscription-key",
    }
)
#: Shortest Base64 fragment we search for inside longer blobs (shorter ones would match noise).
_MIN_ALIGNED_FRAGMENT = 8

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_pattern_b: re.Pattern[bytes] | None = None


def secret_forms(secret: str) -> list[str]:
    """Every textual form of `secret` we search for, longest first."""
    raw = secret.encode("utf-8")
    forms = {secret, quote(secret, safe=""), quote(secret, safe="").lower()}
    escaped = json.dumps(secret)[1:-1]
    forms.add(escaped)
    for enc in (base64.b64encode, base64.urlsafe_b64encode):
        full = enc(raw).decode("ascii")
        forms.update({full, full.rstrip("=")})
        # Inside a longer Base64 text the secret starts at byte offset 0, 1 or 2 modulo 3; the
        # characters fully determined by the secret's own bits are the same wherever it sits.
        for shift in (1, 2):
            encoded = enc(b"\0" * shift + raw).decode("ascii").rstrip("=")
            start = (shift * 8 + 5) // 6
            end = (shift * 8 + len(raw) * 8) // 6
            fragment = encoded[start:end]
            if len(fragment) >= _MIN_ALIGNED_FRAGMENT:
                forms.add(fragment)
        unshifted_end = (len(raw) * 8) // 6
        if unshifted_end >= _MIN_ALIGNED_FRAGMENT:
            forms.add(full[:unshifted_end])
    return sorted((f for f in forms if f), key=len, reverse=True)


def register_secret(value: str | None) -> None:
    """Remember a credential for scrubbing; values shorter than 4 characters are ignored."""
    global _pattern, _pattern_b
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        forms: set[str] = set()
        for s in _secrets:
            forms.update(secret_forms(s))
        # `Bearer <secret>` goes as a whole, then every form on its own.
        alternatives = [rf"Bearer\s+{re.escape(s)}" for s in _secrets] + [
            re.escape(f) for f in sorted(forms, key=len, reverse=True)
        ]
        _pattern = re.compile("|".join(alternatives))
        _pattern_b = re.compile("|".join(alternatives).encode("utf-8"))


def scrub(text: str) -> str:
    """`text` with every registered secret (in any known form) replaced by ***REDACTED***."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(REDACTED, text)


def scrub_bytes(data: bytes) -> bytes:
    pattern = _pattern_b
    if pattern is None or not data:
        return data
    return pattern.sub(_REDACTED_B, data)


def secrets_present(text: str | bytes) -> bool:
    """True when any registered secret (in any known form) occurs in `text`."""
    if isinstance(text, bytes):
        return _pattern_b is not None and _pattern_b.search(text) is not None
    return _pattern is not None and _pattern.search(text) is not None


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]] | Any) -> dict[str, str]:
    """A plain dict of headers with credential headers masked and every other value scrubbed.

    Accepts a mapping, an iterable of pairs or `httpx.Headers` (names keep their wire case;
    repeated names are joined with ", " so no value is lost).
    """
    if hasattr(headers, "raw") and hasattr(headers, "multi_items"):  # httpx.Headers: keep the wire case
        items = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers.raw]
    elif isinstance(headers, Mapping):
        items = headers.items()
    else:
        items = headers
    out: dict[str, str] = {}
    lower_seen: dict[str, str] = {}
    for name, value in items:
        value = REDACTED if name.lower() in SENSITIVE_HEADERS else scrub(str(value))
        key = lower_seen.setdefault(name.lower(), name)
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out
