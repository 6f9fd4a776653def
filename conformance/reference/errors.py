"""Error bodies: `Azure.Core.Foundations.ErrorResponse` (model inference) or the Azure OpenAI
`errorResponse`, always JSON with `x-ms-error-code` equal to `error.code`. Every error-shape fault
lives here, so one switch changes every error the reference sends."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from conformance.reference.context import RequestContext


@dataclass
class ApiError(Exception):
    """Raised anywhere in a handler; rendered by `error_response`."""

    status: int
    code: str
    message: str
    #: The offending parameter (model inference `target`; Azure OpenAI `param`).
    target: str | None = None
    details: list[dict[str, Any]] | None = None
    #: Model inference `innererror` / Azure OpenAI `inner_error`.
    inner: dict[str, Any] | None = None
    #: Azure OpenAI `type` (the OpenAI wire style: "invalid_request_error").
    kind: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


def error_body(ctx: RequestContext, err: ApiError) -> dict[str, Any]:
    """The spec-valid error document for the context's API."""
    message = err.message
    if ctx.faulted("echo-credential") and ctx.presented_key:
        message = f"{message} (credential: {ctx.presented_key})"
    error: dict[str, Any] = {"code": err.code, "message": message}
    if ctx.is_mi:
        if err.target is not None:
            error["target"] = err.target
        if err.details:
            error["details"] = err.details
        if err.inner is not None:
            error["innererror"] = err.inner
    else:
        if err.target is not None:
            error["param"] = err.target
        if err.kind is not None:
            error["type"] = err.kind
        if err.inner is not None:
            error["inner_error"] = err.inner
    if ctx.faulted("error-code-int"):
        error["code"] = err.status
    if ctx.faulted("error-shape-detail"):
        return {"detail": message}
    if ctx.faulted("error-shape-bare"):
        return {"message": message}
    return {"error": error}


def error_response(ctx: RequestContext, err: ApiError) -> Response:
    body = error_body(ctx, err)
    headers = dict(err.headers)
    header_code = err.code + "Mismatch" if ctx.faulted("error-header-mismatch") else err.code
    headers["x-ms-error-code"] = header_code
    if ctx.faulted("error-text-plain"):
        text = body.get("error", body).get("message", "") if isinstance(body, dict) else str(body)
        return Response(str(text), status_code=err.status, headers=headers, media_type="text/plain")
    return Response(
        json.dumps(body, ensure_ascii=False),
        status_code=err.status,
        headers=headers,
        media_type="application/json",
    )
