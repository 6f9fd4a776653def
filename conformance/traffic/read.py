"""Recorded traffic in, `Exchange`s out: HAR 1.2, our JSON / JSON-lines format, SDK test-proxy recordings.

Recorded and live exchanges are judged by the same rules, so everything here converges on
`conformance.transport.exchange.Exchange`. Files come from users and may be hostile or broken: every entry is
read on its own, a bad one becomes a `TrafficError` (file + entry + reason) and reading goes on.
Credentials are redacted as each entry is read; the format is documented in docs/traffic-format.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from conformance.text import clip
from conformance.transport.exchange import (
    NO_JSON,
    Exchange,
    RecordedRequest,
    RecordedResponse,
    parse_json_body,
)
from conformance.transport.redact import REDACTED, redact_headers
from conformance.transport.sse import parse_stream

#: Bodies above this are not judged: the entry is skipped with a note (a rule cannot judge half a body).
MAX_BODY = 32 * 1024 * 1024
#: Whole JSON documents (HAR, test-proxy) above this are refused before parsing, to bound memory.
MAX_DOCUMENT = 512 * 1024 * 1024
#: One JSON-lines line; base64 and JSON escaping can inflate a 32 MB body.
MAX_LINE = 2 * MAX_BODY
SUFFIXES = (".har", ".json", ".jsonl", ".ndjson")
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


class _EntryError(ValueError):
    """Raised inside an entry's conversion; becomes a TrafficError for that entry."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


# -- public API ------------------------------------------------------------------------------------


def read_traffic(paths: Iterable[Path], errors: list[TrafficError] | None = None) -> Iterator[Exchange]:
    """Yield one Exchange per recorded entry of the given files or directories (searched recursively).

    Problems are appended to `errors` (when given) instead of raised: one broken entry never hides
    the rest of a recording.
    """
    sink: list[TrafficError] = errors if errors is not None else []
    for root in paths:
        root = Path(root)
        if root.is_dir():
            for file in sorted(_walk(root)):
                yield from _read_file(file, file.relative_to(root).as_posix(), sink)
        elif root.is_file():
            yield from _read_file(root, root.name, sink)
        else:
            why = "not a regular file or directory" if root.exists() else "no such file or directory"
            sink.append(TrafficError(str(root), "", why))


def traffic_files(paths: Iterable[Path]) -> list[Path]:
    """The files `read_traffic` would read (for counting and reporting)."""
    out: list[Path] = []
    for root in map(Path, paths):
        if root.is_dir():
            out.extend(sorted(_walk(root)))
        elif root.is_file():
            out.append(root)
    return out


def detect_api(exchange: Exchange) -> str:
    """Azure OpenAI routes live under /openai/; everything else is model inference."""
    return "azure-openai" if "/openai/" in exchange.request.path + "/" else "model-inference"


#: The unversioned Azure OpenAI route (`/openai/v1/...`) names the model in the body instead of a
#: deployment in the path; its chat, completions and embeddings bodies are the same documents.
_AOAI_V1 = re.compile(r"/openai/v1/(chat/completions|completions|embeddings)/?$")


def match_operation(exchange: Exchange, spec: Any) -> str | None:
    """Find the spec operation the exchange exercises (sets `exchange.operation_id`).

    Azure OpenAI's unversioned `/openai/v1/` routes are judged as the deployment routes of the
    vendored spec (same request and response documents; decision in docs/behaviours.md), and the
    exchange's purpose says so.
    """
    method = exchange.request.method.upper()
    op = spec.match(method, exchange.request.path)
    if op is None and getattr(spec, "api", "") == "azure-openai":
        v1 = _AOAI_V1.search(exchange.request.path)
        if v1 is not None:
            body = exchange.request.json if isinstance(exchange.request.json, dict) else {}
            model = str(body.get("model") or "v1-model").replace("/", "-")
            op = spec.match(method, f"/deployments/{model}/{v1.group(1)}")
            if op is not None:
                note = f"unversioned /openai/v1/ route judged as {op.operation_id}"
                exchange.purpose = f"{exchange.purpose}; {note}" if exchange.purpose else note
    exchange.operation_id = op.operation_id if op is not None else None
    return exchange.operation_id


def recorded_api_version(exchange: Exchange) -> str | None:
    """The api-version the recorded request asked for (query parameter), if any."""
    return exchange.request.query.get("api-version") or None


def dump_exchange(exchange: Exchange) -> dict[str, Any]:
    """The inverse of the reader: one exchange in our documented format (see docs/traffic-format.md).

    JSON objects and arrays are written as JSON values (readable diffs); anything else as text, or as
    `body_base64` when it is not UTF-8, so reading the dump back gives the same bytes to judge.
    """
    req = exchange.request
    request: dict[str, Any] = {"method": req.method, "url": req.url, "headers": dict(req.headers)}
    request.update(_dump_body(req.body, req.json))
    out: dict[str, Any] = {"request": request}
    if exchange.response is not None:
        r = exchange.response
        response: dict[str, Any] = {"status": r.status, "headers": dict(r.headers)}
        if r.stream is not None:
            try:
                response["sse"] = r.body.decode("utf-8")
            except UnicodeDecodeError:
                response["body_base64"] = base64.b64encode(r.body).decode("ascii")
        else:
            response.update(_dump_body(r.body, r.json))
        if r.truncated:
            response["truncated"] = True
        if r.elapsed:
            response["elapsed"] = round(r.elapsed, 4)
        out["response"] = response
    if exchange.error:
        out["error"] = exchange.error
    for key in ("operation_id", "purpose", "source"):
        value = getattr(exchange, key)
        if value:
            out["operation" if key == "operation_id" else key] = value
    return out


# -- files -----------------------------------------------------------------------------------------


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            path = Path(dirpath) / name
            # is_file(): a FIFO or device named *.json would block or never end.
            if name.lower().endswith(SUFFIXES) and not name.startswith(".") and path.is_file():
                yield path


def _read_file(path: Path, label: str, errors: list[TrafficError]) -> Iterator[Exchange]:
    try:
        size = path.stat().st_size
        if path.name.lower().endswith((".jsonl", ".ndjson")):
            yield from _read_lines(path, label, errors)
            return
        if size > MAX_DOCUMENT:
            errors.append(TrafficError(label, "", f"file is {size} bytes, above the {MAX_DOCUMENT} byte limit",
                                       "skipped"))
            return
        raw = path.read_bytes()
    except OSError as exc:
        errors.append(TrafficError(label, "", f"cannot read file ({exc.strerror or exc})"))
        return
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        if path.suffix.lower() == ".json" and _first_line_is_object(raw):  # JSON lines saved as .json
            yield from _read_lines(path, label, errors)
            return
        errors.append(TrafficError(label, "", f"not valid JSON ({_short(exc)})"))
        return
    yield from _read_document(doc, label, errors)


def _first_line_is_object(raw: bytes) -> bool:
    first = raw.lstrip().split(b"\n", 1)[0]
    try:
        return isinstance(json.loads(first), dict)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False


def _read_lines(path: Path, label: str, errors: list[TrafficError]) -> Iterator[Exchange]:
    with path.open("rb") as fh:
        for number, line in enumerate(iter(lambda: fh.readline(MAX_LINE + 1), b""), start=1):
            entry = f"line[{number}]"
            if len(line) > MAX_LINE:
                errors.append(TrafficError(label, entry, f"line longer than {MAX_LINE} bytes", "skipped"))
                while line and not line.endswith(b"\n"):  # skip the rest of the overlong line
                    line = fh.readline(MAX_LINE + 1)
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line.decode("utf-8-sig"))
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                errors.append(TrafficError(label, entry, f"not valid JSON ({_short(exc)})"))
                continue
            yield from _entry(_from_simple, record, label, entry, errors)


def _read_document(doc: Any, label: str, errors: list[TrafficError]) -> Iterator[Exchange]:
    if isinstance(doc, dict) and isinstance(doc.get("log"), dict):
        entries = doc["log"].get("entries")
        if not isinstance(entries, list):
            errors.append(TrafficError(label, "", "HAR file without a log.entries list"))
            return
        for i, item in enumerate(entries):
            yield from _entry(_from_har, item, label, f"entries[{i}]", errors)
    elif isinstance(doc, dict) and "Entries" in doc:
        entries = doc["Entries"]
        if not isinstance(entries, list):
            errors.append(TrafficError(label, "", "test-proxy recording whose Entries is not a list"))
            return
        for i, item in enumerate(entries):
            yield from _entry(_from_test_proxy, item, label, f"Entries[{i}]", errors)
    elif isinstance(doc, dict) and "request" in doc:
        yield from _entry(_from_simple, doc, label, "", errors)
    elif isinstance(doc, list):
        for i, item in enumerate(doc):
            yield from _entry(_from_simple, item, label, f"[{i}]", errors)
    else:
        errors.append(TrafficError(label, "", "not a traffic file (expected a HAR log, a test-proxy recording "
                                              "with Entries, or exchanges with request/response)"))


def _entry(convert: Any, item: Any, label: str, entry: str, errors: list[TrafficError]) -> Iterator[Exchange]:
    try:
        if not isinstance(item, dict):
            raise _EntryError(f"expected an object, got {type(item).__name__}")
        exchange = convert(item)
    except _EntryError as exc:
        errors.append(TrafficError(label, entry, str(exc), exc.kind))
        return
    except Exception as exc:  # a hostile file must never crash the run; report the entry instead
        errors.append(TrafficError(label, entry, f"unreadable entry ({type(exc).__name__}: {_short(exc)})"))
        return
    exchange.source = f"{label}#{entry}" if entry else label
    yield exchange


# -- the three formats -----------------------------------------------------------------------------


def _from_simple(rec: dict[str, Any]) -> Exchange:
    req = _obj(rec, "request")
    method = _str(req.get("method") or "", "request.method").upper()
    if not method:
        raise _EntryError("request.method is missing")
    url = _simple_url(req)
    headers = _headers(req.get("headers"), "request.headers")
    body, body_json = _simple_body(req, headers, "request")
    request = _request(method, url, headers, body, body_json)
    response = None
    if rec.get("response") is not None:
        resp = _obj(rec, "response")
        rheaders = _headers(resp.get("headers"), "response.headers")
        if "sse" in resp:
            sse = resp["sse"]
            if not isinstance(sse, str):
                raise _EntryError(f"response.sse must be the raw event-stream text, got {type(sse).__name__}")
            response = _response(resp.get("status"), rheaders, _bounded(sse.encode("utf-8"), "response"),
                                 force_stream=True)
        else:
            rbody, rjson = _simple_body(resp, rheaders, "response")
            response = _response(resp.get("status"), rheaders, rbody or b"", rjson)
        response.truncated = bool(resp.get("truncated", False))
        response.elapsed = _float(resp.get("elapsed"))
    error = rec.get("error")
    if response is None and not error:
        raise _EntryError("no response and no error recorded")
    return Exchange(
        request=request,
        response=response,
        error=str(error) if error else None,
        operation_id=str(rec["operation"]) if isinstance(rec.get("operation"), str) else None,
        purpose=str(rec.get("purpose") or "recorded"),
    )


def _from_har(entry: dict[str, Any]) -> Exchange:
    req = _obj(entry, "request")
    method = _str(req.get("method") or "", "request.method").upper()
    url = _str(req.get("url") or "", "request.url")
    if not method or not url:
        raise _EntryError("HAR request without method or url")
    headers = _headers(req.get("headers"), "request.headers")
    body: bytes | None = None
    post = req.get("postData")
    if isinstance(post, dict) and isinstance(post.get("text"), str):
        body = _content_bytes(post["text"], post.get("encoding"), "request.postData")
    request = _request(method, _redact_url(url), headers, body)
    resp = _obj(entry, "response")
    status = resp.get("status")
    if status in (0, None, -1):  # browsers record aborted / blocked requests with status 0
        return Exchange(request=request, error=str(resp.get("_error") or entry.get("_error")
                                                     or "no response recorded (HAR status 0)"),
                        purpose="recorded")
    rheaders = _headers(resp.get("headers"), "response.headers")
    content = resp.get("content") if isinstance(resp.get("content"), dict) else {}
    text = content.get("text")
    if not isinstance(text, str):
        if (content.get("size") or 0) > 0:
            # Browsers often leave streamed bodies out of HAR files; judging "" would cry wolf.
            raise _EntryError("response body was not captured in the HAR file (content.text missing)", "skipped")
        text = ""
    rbody = _content_bytes(text, content.get("encoding"), "response.content")
    if not rheaders.get("content-type") and isinstance(content.get("mimeType"), str) and content["mimeType"]:
        rheaders["content-type"] = content["mimeType"]
    return Exchange(request=request, response=_response(status, rheaders, rbody), purpose="recorded")


def _from_test_proxy(entry: dict[str, Any]) -> Exchange:
    method = _str(entry.get("RequestMethod") or "", "RequestMethod").upper()
    url = _str(entry.get("RequestUri") or "", "RequestUri")
    if not method or not url:
        raise _EntryError("test-proxy entry without RequestMethod or RequestUri")
    headers = _headers(entry.get("RequestHeaders"), "RequestHeaders")
    body = _proxy_body(entry.get("RequestBody"), headers, "RequestBody")
    request = _request(method, _redact_url(url), headers, body)
    rheaders = _headers(entry.get("ResponseHeaders"), "ResponseHeaders")
    rbody = _proxy_body(entry.get("ResponseBody"), rheaders, "ResponseBody")
    return Exchange(request=request, response=_response(entry.get("StatusCode"), rheaders, rbody or b""),
                    purpose="recorded")


# -- building blocks -------------------------------------------------------------------------------


def _request(method: str, url: str, headers: dict[str, str], body: bytes | None,
             body_json: Any = NO_JSON) -> RecordedRequest:
    if body is not None and body_json is NO_JSON:
        body_json, _ = parse_json_body(body)
    return RecordedRequest(method=method, url=url, headers=dict(redact_headers(headers)), body=body,
                           json=body_json)


def _response(status: Any, headers: dict[str, str], body: bytes, body_json: Any = NO_JSON,
              force_stream: bool = False) -> RecordedResponse:
    if isinstance(status, str) and status.strip().isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 999:
        raise _EntryError(f"response status must be an HTTP status code, got {json.dumps(status)[:40]}")
    response = RecordedResponse(status=status, headers=dict(redact_headers(headers)), body=body)
    if force_stream or response.content_type == "text/event-stream":
        response.stream = parse_stream(body)
    elif body_json is not NO_JSON:
        response.json = body_json
    else:
        response.json, response.json_error = parse_json_body(body)
    return response


def _simple_url(req: dict[str, Any]) -> str:
    if isinstance(req.get("url"), str) and req["url"]:
        url = req["url"]
        if "://" not in url:  # a bare path is allowed in "url" too
            url = _join_url(req.get("host"), url)
    else:
        path = _str(req.get("path") or "", "request.path")
        if not path:
            raise _EntryError("request has neither url nor path")
        url = _join_url(req.get("host"), path)
    query = req.get("query")
    if query:
        if not isinstance(query, dict):
            raise _EntryError(f"request.query must be an object, got {type(query).__name__}")
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        for k, v in query.items():
            values = v if isinstance(v, list) else [v]
            pairs.extend((str(k), "" if x is None else str(x)) for x in values)
        url = urlunsplit(parts._replace(query=urlencode(pairs)))
    return _redact_url(url)


def _join_url(host: Any, path: str) -> str:
    host = str(host or "recorded.invalid").rstrip("/")
    if "://" not in host:
        host = f"https://{host}"
    return host + (path if path.startswith("/") else "/" + path)


def _redact_url(url: str) -> str:
    """Credentials sometimes travel in the query string (`?api-key=`, SAS `sig=`): never keep them."""
    parts = urlsplit(url)
    if parts.query and any(k.lower() in SECRET_QUERY_PARAMS for k, _ in parse_qsl(parts.query, True)):
        pairs = [(k, REDACTED if k.lower() in SECRET_QUERY_PARAMS else v)
                 for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        parts = parts._replace(query=urlencode(pairs, safe="<>"))
    if "@" in parts.netloc:  # user:password@host
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return urlunsplit(parts._replace(path=quote(parts.path, safe="/%:@!$&'()*+,;=-._~")))


def _headers(raw: Any, where: str) -> dict[str, str]:
    """Headers as a dict with lower-cased names; repeated headers joined with ", " (RFC 9110 5.3)."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        items: Iterable[Any] = raw.items()
    elif isinstance(raw, list):
        items = raw
    else:
        raise _EntryError(f"{where} must be an object or a list, got {type(raw).__name__}")
    out: dict[str, str] = {}
    for item in items:
        if isinstance(item, dict):  # HAR {"name", "value"}
            name, value = item.get("name"), item.get("value")
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            name, value = item
        else:
            raise _EntryError(f"{where}: cannot read header {json.dumps(item, default=str)[:60]}")
        if not isinstance(name, str) or not name or name.startswith(":"):  # skip HTTP/2 pseudo-headers
            continue
        values = value if isinstance(value, list) else [value]
        text = ", ".join("" if v is None else str(v) for v in values)
        key = name.lower()
        out[key] = f"{out[key]}, {text}" if key in out else text
    return out


def _simple_body(part: dict[str, Any], headers: dict[str, str], where: str) -> tuple[bytes | None, Any]:
    if "body_base64" in part:
        return _bounded(_b64(part["body_base64"], f"{where}.body_base64"), where), NO_JSON
    if "body" not in part or part["body"] is None:
        return None, NO_JSON
    body = part["body"]
    if isinstance(body, str):
        return _bounded(body.encode("utf-8"), where), NO_JSON
    data = _bounded(json.dumps(body, ensure_ascii=False).encode("utf-8"), where)
    return data, body


def _proxy_body(raw: Any, headers: dict[str, str], where: str) -> bytes | None:
    """Test-proxy bodies: JSON values, strings, line arrays (text types) or base64 (binary types)."""
    if raw is None:
        return None
    if isinstance(raw, (dict, int, float, bool)):
        return _bounded(json.dumps(raw, ensure_ascii=False).encode("utf-8"), where)
    if isinstance(raw, list):
        if all(isinstance(x, str) for x in raw):  # text split into lines that keep their line breaks
            return _bounded("".join(raw).encode("utf-8"), where)
        return _bounded(json.dumps(raw, ensure_ascii=False).encode("utf-8"), where)
    if not isinstance(raw, str):
        raise _EntryError(f"{where} has an unexpected type {type(raw).__name__}")
    if _is_text(headers.get("content-type", "")):
        return _bounded(raw.encode("utf-8"), where)
    try:
        return _bounded(base64.b64decode(raw, validate=True), where)
    except (binascii.Error, ValueError):
        return _bounded(raw.encode("utf-8"), where)


def _is_text(content_type: str) -> bool:
    ct = content_type.lower()
    return "json" in ct or "text/" in ct or "xml" in ct or "charset=" in ct or "event-stream" in ct


def _content_bytes(text: str, encoding: Any, where: str) -> bytes:
    if encoding == "base64":
        return _bounded(_b64(text, where), where)
    return _bounded(text.encode("utf-8", errors="surrogatepass"), where)


def _b64(text: Any, where: str) -> bytes:
    if not isinstance(text, str):
        raise _EntryError(f"{where}: base64 content must be a string")
    if len(text) > MAX_BODY * 4 // 3 + 4:
        raise _EntryError(f"{where}: body larger than {MAX_BODY} bytes, not judged", "skipped")
    try:
        return base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise _EntryError(f"{where}: invalid base64 ({exc})") from exc


def _bounded(data: bytes, where: str) -> bytes:
    if len(data) > MAX_BODY:
        raise _EntryError(f"{where} body is {len(data)} bytes, above the {MAX_BODY} byte limit; not judged",
                          "skipped")
    return data


def _dump_body(body: bytes | None, parsed: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if isinstance(parsed, (dict, list)):
        return {"body": parsed}
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(body).decode("ascii")}


def _obj(rec: dict[str, Any], key: str) -> dict[str, Any]:
    value = rec.get(key)
    if not isinstance(value, dict):
        raise _EntryError(f"{key} must be an object, got {type(value).__name__ if value is not None else 'nothing'}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _EntryError(f"{where} must be a string, got {type(value).__name__}")
    return value


def _float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _short(exc: BaseException, limit: int = 160) -> str:
    return clip(str(exc).replace("\n", " "), limit)
