"""vcrpy cassettes, as vcrpy, pytest-recording and pytest-vcr write them (YAML, or JSON with vcrpy's
JSON serializer): `{version: 1, interactions: [{request, response}]}`.

What the writers really produce (vcrpy 4 to 9):
- request: `method`, `uri`, `body` (text, `!!binary` bytes, or null), `headers` as `{name: [values]}`;
- response: `status: {code, message}`, `headers: {name: [values]}`, `body: {string: text | !!binary}`;
  older httpx cassettes have `status_code` and `content` instead; betamax-style bodies carry
  `base64_string`;
- the httpx stub keeps the body as sent on the wire (still gzip-compressed, beside its
  `Content-Encoding`), the requests stub keeps it decoded but keeps the header: a body is inflated
  only when it really is in the declared encoding;
- streamed responses are recorded whole: the `text/event-stream` body is read like any recorded stream.

YAML is read with a safe loader that builds the few Python tags vcrpy itself accepts (str, tuple,
BytesIO and iterator request bodies) from their data and nothing else.
"""

from __future__ import annotations

import io
from typing import Any

import yaml

from conformance.traffic.entries import (
    MAX_BODY,
    EntryError,
    bounded,
    decode_base64,
    make_request,
    make_response,
    obj,
    read_headers,
    redact_url,
    text_field,
)
from conformance.transport.encoding import inflate
from conformance.transport.exchange import Exchange

SUFFIXES = (".yaml", ".yml")
#: Top-level keys that hold the interactions: vcrpy's, and betamax's (same request/response shape).
INTERACTION_KEYS = ("interactions", "http_interactions")

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CassetteLoader(_Loader):  # type: ignore[misc, valid-type]
    """yaml's safe loader plus the benign Python tags found in real cassettes."""


def _python_str(loader: Any, node: Any) -> str:
    return str(loader.construct_scalar(node))


def _python_tuple(loader: Any, node: Any) -> list[Any]:
    return list(loader.construct_sequence(node))


def _bytes_io(loader: Any, node: Any) -> bytes:
    """A file-like request body pickled as `_io.BytesIO`: its buffer is the first item of `state`."""
    state = (loader.construct_mapping(node, deep=True) or {}).get("state") or [b""]
    data = state[0] if isinstance(state, (list, tuple)) and state else b""
    return data.encode("utf-8") if isinstance(data, str) else bytes(data or b"")


def _iterator(loader: Any, node: Any) -> Any:
    """An iterator request body (`builtins.iter` over a sequence of byte strings)."""
    args = (loader.construct_mapping(node, deep=True) or {}).get("args") or [[]]
    items = args[0] if isinstance(args, (list, tuple)) and args else []
    return b"".join(x.encode("utf-8") if isinstance(x, str) else bytes(x) for x in items)


for _tag, _construct in (
    ("tag:yaml.org,2002:python/str", _python_str),
    ("tag:yaml.org,2002:python/unicode", _python_str),
    ("tag:yaml.org,2002:python/tuple", _python_tuple),
    ("tag:yaml.org,2002:python/object/new:_io.BytesIO", _bytes_io),
    ("tag:yaml.org,2002:python/object/apply:builtins.iter", _iterator),
):
    CassetteLoader.add_constructor(_tag, _construct)


def load_yaml(raw: bytes) -> Any:
    """Parse a YAML cassette; ValueError with the reason when it is not readable YAML."""
    try:
        return yaml.load(raw, Loader=CassetteLoader)  # noqa: S506 (a safe loader with benign constructors)
    except yaml.YAMLError as exc:
        raise ValueError(" ".join(str(exc).split())) from None


def interactions(doc: Any) -> tuple[str, Any] | None:
    """(key, interactions) when `doc` is a cassette, else None."""
    if isinstance(doc, dict):
        for key in INTERACTION_KEYS:
            if key in doc:
                return key, doc[key]
    return None


def from_interaction(item: dict[str, Any]) -> Exchange:
    req = obj(item, "request")
    method = text_field(req.get("method") or "", "request.method").upper()
    uri = text_field(req.get("uri") or req.get("url") or "", "request.uri")
    if not method or not uri:
        raise EntryError("cassette request without method or uri")
    headers = read_headers(req.get("headers"), "request.headers")
    body = _body(req.get("body"), "request.body")
    request = make_request(method, redact_url(uri), headers, body)
    resp = obj(item, "response")
    status = resp.get("status")
    code = status.get("code") if isinstance(status, dict) else resp.get("status_code", status)
    rheaders = read_headers(resp.get("headers"), "response.headers")
    raw = resp["body"] if "body" in resp else resp.get("content")
    rbody = _decoded(_body(raw, "response.body") or b"", rheaders)
    return Exchange(request=request, response=make_response(code, rheaders, rbody), purpose="recorded")


def _body(raw: Any, where: str) -> bytes | None:
    """A body in any of the cassette spellings: text, bytes, `{string: ...}`, `{base64_string: ...}`."""
    if isinstance(raw, dict):
        if raw.get("base64_string") is not None:
            return bounded(decode_base64(raw["base64_string"], f"{where}.base64_string"), where)
        raw = raw.get("string")
    if raw is None:
        return None
    if isinstance(raw, (bytes, bytearray)):
        return bounded(bytes(raw), where)
    if isinstance(raw, io.BytesIO):
        return bounded(raw.getvalue(), where)
    if isinstance(raw, str):
        return bounded(raw.encode("utf-8", errors="surrogatepass"), where)
    raise EntryError(f"{where} has an unexpected type {type(raw).__name__}")


#: The first bytes of a gzip member.
_GZIP_MAGIC = b"\x1f\x8b"


def _decoded(body: bytes, headers: dict[str, str]) -> bytes:
    """The body as the application saw it: inflated when it is still in its declared encoding."""
    encoding = headers.get("content-encoding", "").strip().lower()
    if not body or encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip") and not body.startswith(_GZIP_MAGIC):
        return body  # the recorder kept the decoded body under the original header
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise EntryError(f"response body is {encoding}-encoded; only gzip and deflate bodies can be judged",
                         "skipped")
    try:
        return inflate(body, encoding, MAX_BODY)
    except OverflowError:
        raise EntryError(f"response body decodes to more than {MAX_BODY} bytes; not judged", "skipped") from None
    except ValueError:
        if encoding == "deflate":
            return body  # already decoded (deflate has no magic number to tell)
        raise EntryError("response body says gzip but does not decode") from None
