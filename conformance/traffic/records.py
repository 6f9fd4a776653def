"""Our own recording format (docs/traffic-format.md): one exchange per JSON object, in a JSON document
or as JSON lines; `--save-traffic` writes it with `dump_exchange` and `validate-traffic` reads it back."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from conformance.traffic.entries import (
    EntryError,
    bounded,
    decode_base64,
    make_request,
    make_response,
    number,
    obj,
    read_headers,
    redact_url,
    text_field,
)
from conformance.transport.exchange import CREDENTIALS, NO_JSON, Exchange


def from_record(rec: dict[str, Any]) -> Exchange:
    req = obj(rec, "request")
    method = text_field(req.get("method") or "", "request.method").upper()
    if not method:
        raise EntryError("request.method is missing")
    url = _simple_url(req)
    headers = read_headers(req.get("headers"), "request.headers")
    body, body_json = _simple_body(req, headers, "request")
    request = make_request(method, url, headers, body, body_json)
    if req.get("credential") in CREDENTIALS:
        request.credential = req["credential"]
        if request.credential == "dummy" and isinstance(req.get("dummy_credential"), str):
            request.dummy_credential = req["dummy_credential"]
    response = None
    if rec.get("response") is not None:
        resp = obj(rec, "response")
        rheaders = read_headers(resp.get("headers"), "response.headers")
        if "sse" in resp:
            sse = resp["sse"]
            if not isinstance(sse, str):
                raise EntryError(f"response.sse must be the raw event-stream text, got {type(sse).__name__}")
            response = make_response(resp.get("status"), rheaders, bounded(sse.encode("utf-8"), "response"),
                                 force_stream=True)
        else:
            rbody, rjson = _simple_body(resp, rheaders, "response")
            response = make_response(resp.get("status"), rheaders, rbody or b"", rjson)
        response.truncated = bool(resp.get("truncated", False))
        response.elapsed = number(resp.get("elapsed"))
    error = rec.get("error")
    if response is None and not error:
        raise EntryError("no response and no error recorded")
    return Exchange(
        request=request,
        response=response,
        error=str(error) if error else None,
        operation_id=str(rec["operation"]) if isinstance(rec.get("operation"), str) else None,
        purpose=str(rec.get("purpose") or "recorded"),
    )


def dump_exchange(exchange: Exchange) -> dict[str, Any]:
    """The inverse of the reader: one exchange in our documented format (see docs/traffic-format.md).

    JSON objects and arrays are written as JSON values (readable diffs); anything else as text, or as
    `body_base64` when it is not UTF-8, so reading the dump back gives the same bytes to judge.
    """
    req = exchange.request
    request: dict[str, Any] = {"method": req.method, "url": req.url, "headers": dict(req.headers)}
    request.update(_dump_body(req.body, req.json))
    if req.credential != "configured":  # how the request reproduces (conformance.transport.curl)
        request["credential"] = req.credential
        if req.dummy_credential:
            request["dummy_credential"] = req.dummy_credential
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


def _simple_url(req: dict[str, Any]) -> str:
    if isinstance(req.get("url"), str) and req["url"]:
        url = req["url"]
        if "://" not in url:  # a bare path is allowed in "url" too
            url = _join_url(req.get("host"), url)
    else:
        path = text_field(req.get("path") or "", "request.path")
        if not path:
            raise EntryError("request has neither url nor path")
        url = _join_url(req.get("host"), path)
    query = req.get("query")
    if query:
        if not isinstance(query, dict):
            raise EntryError(f"request.query must be an object, got {type(query).__name__}")
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        for k, v in query.items():
            values = v if isinstance(v, list) else [v]
            pairs.extend((str(k), "" if x is None else str(x)) for x in values)
        url = urlunsplit(parts._replace(query=urlencode(pairs)))
    return redact_url(url)


def _join_url(host: Any, path: str) -> str:
    host = str(host or "recorded.invalid").rstrip("/")
    if "://" not in host:
        host = f"https://{host}"
    return host + (path if path.startswith("/") else "/" + path)


def _simple_body(part: dict[str, Any], headers: dict[str, str], where: str) -> tuple[bytes | None, Any]:
    if "body_base64" in part:
        return bounded(decode_base64(part["body_base64"], f"{where}.body_base64"), where), NO_JSON
    if "body" not in part or part["body"] is None:
        return None, NO_JSON
    body = part["body"]
    if isinstance(body, str):
        return bounded(body.encode("utf-8"), where), NO_JSON
    data = bounded(json.dumps(body, ensure_ascii=False).encode("utf-8"), where)
    return data, body


def _dump_body(body: bytes | None, parsed: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if isinstance(parsed, (dict, list)):
        return {"body": parsed}
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(body).decode("ascii")}
