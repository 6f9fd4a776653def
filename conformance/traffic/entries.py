"""The building blocks every format adapter shares: errors, bounds, headers, URLs, request and response.

Files come from users and may be hostile or broken: an adapter raises `EntryError` for a bad entry
(the reader records it as a `TrafficError` and goes on), every body is bounded, and credentials are
redacted as each entry is read.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from conformance.text import clip
from conformance.transport.exchange import NO_JSON, RecordedRequest, RecordedResponse, parse_json_body
from conformance.transport.redact import REDACTED, redact_headers
from conformance.transport.sse import parse_stream

#: Bodies above this are not judged: the entry is skipped with a note (a rule cannot judge half a body).
MAX_BODY = 32 * 1024 * 1024
#: Query parameters that carry credentials in some clients (SAS tokens, `?api-key=` habits).
SECRET_QUERY_PARAMS = frozenset({"api-key", "api_key", "subscription-key", "key", "code", "sig", "token",
                                 "access_token"})


@dataclass(frozen=True)
class TrafficError:
    """An entry (or a whole file) that could not be turned into an exchange."""

    file: str
    entry: str  # "entries[3]", "line 7", "" for the whole file
    message: str
    kind: str = "error"  # "error" (malformed) | "skipped" (readable, but deliberately not judged)

    def __str__(self) -> str:
        where = f"{self.file}#{self.entry}" if self.entry else self.file
        return f"{where}: {self.message}"


class EntryError(ValueError):
    """Raised inside an entry's conversion; becomes a TrafficError for that entry."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


def make_request(method: str, url: str, headers: dict[str, str], body: bytes | None,
             body_json: Any = NO_JSON) -> RecordedRequest:
    if body is not None and body_json is NO_JSON:
        body_json, _ = parse_json_body(body)
    return RecordedRequest(method=method, url=url, headers=dict(redact_headers(headers)), body=body,
                           json=body_json)


def make_response(status: Any, headers: dict[str, str], body: bytes, body_json: Any = NO_JSON,
              force_stream: bool = False) -> RecordedResponse:
    if isinstance(status, str) and status.strip().isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 999:
        raise EntryError(f"response status must be an HTTP status code, got {json.dumps(status)[:40]}")
    response = RecordedResponse(status=status, headers=dict(redact_headers(headers)), body=body)
    if force_stream or response.content_type == "text/event-stream":
        response.stream = parse_stream(body)
    elif body_json is not NO_JSON:
        response.json = body_json
    else:
        response.json, response.json_error = parse_json_body(body)
    return response


def redact_url(url: str) -> str:
    """Credentials sometimes travel in the query string (`?api-key=`, SAS `sig=`): never keep them."""
    parts = urlsplit(url)
    if parts.query and any(k.lower() in SECRET_QUERY_PARAMS for k, _ in parse_qsl(parts.query, True)):
        pairs = [(k, REDACTED if k.lower() in SECRET_QUERY_PARAMS else v)
                 for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        parts = parts._replace(query=urlencode(pairs, safe="<>"))
    if "@" in parts.netloc:  # user:password@host
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return urlunsplit(parts._replace(path=quote(parts.path, safe="/%:@!$&'()*+,;=-._~")))


def read_headers(raw: Any, where: str) -> dict[str, str]:
    """Headers as a dict with lower-cased names; repeated headers joined with ", " (RFC 9110 5.3)."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        items: Iterable[Any] = raw.items()
    elif isinstance(raw, list):
        items = raw
    else:
        raise EntryError(f"{where} must be an object or a list, got {type(raw).__name__}")
    out: dict[str, str] = {}
    for item in items:
        if isinstance(item, dict):  # HAR {"name", "value"}
            name, value = item.get("name"), item.get("value")
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            name, value = item
        else:
            raise EntryError(f"{where}: cannot read header {json.dumps(item, default=str)[:60]}")
        if not isinstance(name, str) or not name or name.startswith(":"):  # skip HTTP/2 pseudo-headers
            continue
        values = value if isinstance(value, list) else [value]
        text = ", ".join("" if v is None else str(v) for v in values)
        key = name.lower()
        out[key] = f"{out[key]}, {text}" if key in out else text
    return out


def content_bytes(text: str, encoding: Any, where: str) -> bytes:
    if encoding == "base64":
        return bounded(decode_base64(text, where), where)
    return bounded(text.encode("utf-8", errors="surrogatepass"), where)


def decode_base64(text: Any, where: str) -> bytes:
    if not isinstance(text, str):
        raise EntryError(f"{where}: base64 content must be a string")
    if len(text) > MAX_BODY * 4 // 3 + 4:
        raise EntryError(f"{where}: body larger than {MAX_BODY} bytes, not judged", "skipped")
    try:
        return base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise EntryError(f"{where}: invalid base64 ({exc})") from exc


def bounded(data: bytes, where: str) -> bytes:
    if len(data) > MAX_BODY:
        raise EntryError(f"{where} body is {len(data)} bytes, above the {MAX_BODY} byte limit; not judged",
                          "skipped")
    return data


def is_text(content_type: str) -> bool:
    ct = content_type.lower()
    return "json" in ct or "text/" in ct or "xml" in ct or "charset=" in ct or "event-stream" in ct


def obj(rec: dict[str, Any], key: str) -> dict[str, Any]:
    value = rec.get(key)
    if not isinstance(value, dict):
        raise EntryError(f"{key} must be an object, got {type(value).__name__ if value is not None else 'nothing'}")
    return value


def text_field(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise EntryError(f"{where} must be a string, got {type(value).__name__}")
    return value


def number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def short(exc: BaseException, limit: int = 160) -> str:
    return clip(str(exc).replace("\n", " "), limit)
