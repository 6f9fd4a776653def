"""HAR 1.2 (browser developer tools, proxies such as mitmproxy and Charles): `log.entries[]`."""

from __future__ import annotations

from typing import Any

from conformance.traffic.entries import (
    EntryError,
    content_bytes,
    make_request,
    make_response,
    obj,
    read_headers,
    redact_url,
    text_field,
)
from conformance.transport.exchange import Exchange


def from_har(entry: dict[str, Any]) -> Exchange:
    req = obj(entry, "request")
    method = text_field(req.get("method") or "", "request.method").upper()
    url = text_field(req.get("url") or "", "request.url")
    if not method or not url:
        raise EntryError("HAR request without method or url")
    headers = read_headers(req.get("headers"), "request.headers")
    body: bytes | None = None
    post = req.get("postData")
    if isinstance(post, dict) and isinstance(post.get("text"), str):
        body = content_bytes(post["text"], post.get("encoding"), "request.postData")
    request = make_request(method, redact_url(url), headers, body)
    resp = obj(entry, "response")
    status = resp.get("status")
    if status in (0, None, -1):  # browsers record aborted / blocked requests with status 0
        return Exchange(request=request, error=str(resp.get("_error") or entry.get("_error")
                                                     or "no response recorded (HAR status 0)"),
                        purpose="recorded")
    rheaders = read_headers(resp.get("headers"), "response.headers")
    content = resp.get("content") if isinstance(resp.get("content"), dict) else {}
    text = content.get("text")
    if not isinstance(text, str):
        if (content.get("size") or 0) > 0:
            # Browsers often leave streamed bodies out of HAR files; judging "" would cry wolf.
            raise EntryError("response body was not captured in the HAR file (content.text missing)", "skipped")
        text = ""
    rbody = content_bytes(text, content.get("encoding"), "response.content")
    if not rheaders.get("content-type") and isinstance(content.get("mimeType"), str) and content["mimeType"]:
        rheaders["content-type"] = content["mimeType"]
    return Exchange(request=request, response=make_response(status, rheaders, rbody), purpose="recorded")
