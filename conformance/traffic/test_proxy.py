"""Azure SDK test-proxy recordings (`Entries[]` with RequestUri, RequestBody, ResponseBody ...)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from conformance.traffic.entries import (
    EntryError,
    bounded,
    is_text,
    make_request,
    make_response,
    read_headers,
    redact_url,
    text_field,
)
from conformance.transport.exchange import Exchange


def from_test_proxy(entry: dict[str, Any]) -> Exchange:
    method = text_field(entry.get("RequestMethod") or "", "RequestMethod").upper()
    url = text_field(entry.get("RequestUri") or "", "RequestUri")
    if not method or not url:
        raise EntryError("test-proxy entry without RequestMethod or RequestUri")
    headers = read_headers(entry.get("RequestHeaders"), "RequestHeaders")
    body = _proxy_body(entry.get("RequestBody"), headers, "RequestBody")
    request = make_request(method, redact_url(url), headers, body)
    rheaders = read_headers(entry.get("ResponseHeaders"), "ResponseHeaders")
    rbody = _proxy_body(entry.get("ResponseBody"), rheaders, "ResponseBody")
    return Exchange(request=request, response=make_response(entry.get("StatusCode"), rheaders, rbody or b""),
                    purpose="recorded")


def _proxy_body(raw: Any, headers: dict[str, str], where: str) -> bytes | None:
    """Test-proxy bodies: JSON values, strings, line arrays (text types) or base64 (binary types)."""
    if raw is None:
        return None
    if isinstance(raw, (dict, int, float, bool)):
        return bounded(json.dumps(raw, ensure_ascii=False).encode("utf-8"), where)
    if isinstance(raw, list):
        if all(isinstance(x, str) for x in raw):  # text split into lines that keep their line breaks
            return bounded("".join(raw).encode("utf-8"), where)
        return bounded(json.dumps(raw, ensure_ascii=False).encode("utf-8"), where)
    if not isinstance(raw, str):
        raise EntryError(f"{where} has an unexpected type {type(raw).__name__}")
    if is_text(headers.get("content-type", "")):
        return bounded(raw.encode("utf-8"), where)
    try:
        return bounded(base64.b64decode(raw, validate=True), where)
    except (binascii.Error, ValueError):
        return bounded(raw.encode("utf-8"), where)
