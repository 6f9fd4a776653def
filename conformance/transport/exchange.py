"""Exchanges: the meeting point of live runs and recorded traffic.

A live run records one `Exchange` per HTTP call; `validate-traffic` builds the same objects from
HAR/JSON files. Rules judge exchanges and nothing else, so no rule can depend on being live.
Everything in here is already redacted: credentials are removed at the moment of recording.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: Marker used where a parsed JSON body is absent (distinct from a JSON `null`).
NO_JSON: Any = type("NoJson", (), {"__repr__": lambda self: "<no json>", "__bool__": lambda self: False})()


#: How a recorded request presented its credential (see `RecordedRequest.credential`).
CREDENTIALS = ("configured", "entra", "none", "dummy")


@dataclass
class SSEEvent:
    """One dispatched server-sent event (WHATWG event-stream semantics)."""

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    #: Field names seen in this event other than `data` (e.g. "event", "id", "retry", or unknown ones).
    other_fields: list[str] = field(default_factory=list)
    #: Comment lines (starting with ':') seen before this event was dispatched.
    comments: list[str] = field(default_factory=list)
    #: Raw `data:` lines that did not start with `data: ` (single space), for SDK interop checks.
    nonstandard_prefix: bool = False


@dataclass
class StreamTranscript:
    """What a `text/event-stream` response delivered, as parsed by `conformance.transport.sse`."""

    events: list[SSEEvent] = field(default_factory=list)
    #: True when the server closed the stream normally (not cut by a limit or an error).
    closed_normally: bool = True
    #: Why reading stopped early: "max_events", "max_bytes", "timeout", "stalled", "connection_error: ...".
    cut_reason: str | None = None
    #: Bytes left over after the last blank line (an unterminated final event).
    trailing: str = ""
    #: Framing problems found by the parser (invalid UTF-8, NUL, ...).
    framing_issues: list[str] = field(default_factory=list)
    #: Whether lines ended with \n, \r\n or \r (set of what was seen).
    line_endings: set[str] = field(default_factory=set)
    raw_size: int = 0

    def data_events(self) -> list[SSEEvent]:
        return [e for e in self.events if e.data != ""]


@dataclass
class RecordedRequest:
    method: str
    #: Full URL including the query string, with credentials removed.
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    #: The JSON document that was sent, when the body was JSON (NO_JSON otherwise).
    json: Any = NO_JSON
    #: Which credential was sent: "configured" (the user's own, shown only as $CONFORMANCE_API_KEY),
    #: "entra" (a Microsoft Entra ID token azure-identity fetched; a reproduction fetches its own),
    #: "none", or "dummy" (a deliberately wrong one; no secret, so kept in `dummy_credential` for
    #: a reproduction that sends exactly what was judged).
    credential: str = "configured"  # one of CREDENTIALS
    dummy_credential: str | None = None

    @property
    def path(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        from urllib.parse import parse_qsl, urlsplit

        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))

    def header(self, name: str) -> str | None:
        return _get_header(self.headers, name)


@dataclass
class RecordedResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    #: The body bytes as received (capped by the client's body limit; see `truncated`).
    body: bytes = b""
    truncated: bool = False
    #: Parsed JSON, or NO_JSON when the body is not JSON (then `json_error` says why).
    json: Any = NO_JSON
    json_error: str | None = None
    #: Set for `text/event-stream` answers.
    stream: StreamTranscript | None = None
    elapsed: float = 0.0

    def header(self, name: str) -> str | None:
        return _get_header(self.headers, name)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Exchange:
    """One request and what came back (a response, a stream, or a transport error)."""

    request: RecordedRequest
    response: RecordedResponse | None = None
    #: Transport failure instead of a response ("timeout: ...", "connection reset", ...).
    error: str | None = None
    #: Set when the SUITE could not build or send the request (a header value HTTP/1.1 cannot carry,
    #: a body it cannot encode): nothing the target did, so no rule judges the exchange.
    suite_error: str | None = None
    #: operationId this exchange exercises, when known.
    operation_id: str | None = None
    #: Free label saying why the suite sent it ("positive", "negative: missing messages", ...).
    purpose: str = ""
    retries: int = 0
    #: Where a recorded exchange came from (file and entry), empty for live ones.
    source: str = ""
    #: Where the presented credential was found echoed in the raw response ("header:x-echo",
    #: "body") before redaction. Filled by the client, which alone sees unredacted bytes.
    credential_echo: list[str] = field(default_factory=list)
    #: Monotonic timestamps (seconds) of start and end, for reports and progress.
    started: float = 0.0

    def to_dict(self, body_limit: int = 65536) -> dict[str, Any]:
        """A JSON-ready, size-capped view for reports (bodies as text)."""

        def _body(b: bytes | None) -> str | None:
            if b is None:
                return None
            text = b[:body_limit].decode("utf-8", errors="replace")
            return text + ("…[truncated]" if len(b) > body_limit else "")

        out: dict[str, Any] = {
            "operation": self.operation_id,
            "purpose": self.purpose,
            "request": {
                "method": self.request.method,
                "url": self.request.url,
                "headers": dict(self.request.headers),
                "body": _body(self.request.body),
            },
            "error": self.error,
            "retries": self.retries,
        }
        if self.suite_error:
            out["suite_error"] = self.suite_error
        if self.source:
            out["source"] = self.source
        if self.response is not None:
            r = self.response
            out["response"] = {
                "status": r.status,
                "headers": dict(r.headers),
                "body": _body(r.body),
                "truncated": r.truncated,
                "elapsed": round(r.elapsed, 4),
            }
        return out


def _get_header(headers: dict[str, str], name: str) -> str | None:
    lname = name.lower()
    for k, v in headers.items():
        if k.lower() == lname:
            return v
    return None


def parse_json_body(body: bytes) -> tuple[Any, str | None]:
    """Parse a body strictly as UTF-8 JSON; return (value, None) or (NO_JSON, reason)."""
    if not body:
        return NO_JSON, "empty body"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return NO_JSON, f"body is not valid UTF-8 ({exc.reason} at byte {exc.start})"
    try:
        return json.loads(text), None
    except (ValueError, RecursionError) as exc:
        return NO_JSON, f"body is not valid JSON ({exc})"
