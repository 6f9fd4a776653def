"""Everything a request passes before the fake model sees it, in the order a real deployment
applies it: credential, api-version, media type, JSON, schema, extra-parameters, capabilities,
content filter. Each step raises `ApiError`; faults that bend a step are read here."""

from __future__ import annotations

import json
import secrets
from typing import Any

from starlette.requests import Request

from conformance.constants import KEY_SCHEMES
from conformance.reference import _spec
from conformance.reference.context import RequestContext
from conformance.reference.errors import ApiError
from conformance.reference.settings import VERSIONS
from conformance.text import shorten

EXTRA_PARAMETER_MODES = ("error", "drop", "pass-through")


# -- credential ----------------------------------------------------------------------------------


def presented_credential(request: Request) -> tuple[str | None, str | None]:
    """(scheme, key) of the credential presented: "api-key" or "bearer"."""
    key = request.headers.get("api-key")
    if key is not None:
        return "api-key", key
    auth = request.headers.get("authorization")
    if auth is not None:
        scheme, _, token = auth.partition(" ")
        return ("bearer" if scheme.lower() == "bearer" else scheme.lower() or "unknown"), token.strip()
    return None, None


def check_auth(request: Request, ctx: RequestContext) -> None:
    scheme, key = presented_credential(request)
    ctx.presented_key = key
    challenge = {"WWW-Authenticate": 'Bearer realm="conformance-reference"'}
    if key is None:
        if ctx.faulted("auth-none"):
            return
        status = 403 if ctx.faulted("auth-403") else 401
        raise ApiError(
            status,
            "Unauthorized" if status == 401 else "Forbidden",
            "Access denied: no credential. Send the key in the `api-key` header or as `Authorization: Bearer`.",
            headers=challenge if status == 401 else {},
        )
    valid = scheme in KEY_SCHEMES and secrets.compare_digest(
        key.encode("utf-8", "replace"), ctx.settings.api_key.encode()
    )
    if scheme == "bearer" and ctx.faulted("auth-no-bearer"):
        valid = False
    if not valid and not ctx.faulted("auth-any-key"):
        raise ApiError(401, "Unauthorized", "Access denied due to an invalid credential.", headers=challenge)


# -- api-version ---------------------------------------------------------------------------------


def check_api_version(request: Request, ctx: RequestContext) -> str:
    supported = VERSIONS[ctx.api]
    version = request.query_params.get("api-version")
    if version is None:
        if ctx.faulted("api-version-optional"):
            return supported[-1]
        if ctx.faulted("api-version-404"):
            raise ApiError(404, "404", "Resource not found")
        raise ApiError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests. "
            f"Supported versions: {', '.join(supported)}.",
            target="api-version",
        )
    offered = tuple(v for v in supported if not (v == "2024-05-01-preview" and ctx.faulted("api-version-reject-old")))
    if version not in offered:
        if ctx.faulted("api-version-any"):
            return supported[-1]
        shown = json.dumps(version[:64])
        raise ApiError(
            400,
            "UnsupportedApiVersion",
            f"The HTTP resource does not support the api-version {shown}. Supported versions: {', '.join(offered)}.",
            target="api-version",
        )
    return version


# -- body ----------------------------------------------------------------------------------------


async def read_json(request: Request, ctx: RequestContext) -> Any:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"Content-Type {json.dumps(media[:64]) if media else '(none)'} is not supported; use application/json.",
        )
    limit = ctx.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "RequestTooLarge", f"The request body exceeds {limit} bytes.")
    raw = bytearray()
    async for part in request.stream():
        raw += part
        if len(raw) > limit:
            raise ApiError(413, "RequestTooLarge", f"The request body exceeds {limit} bytes.")
    try:
        return json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ApiError(400, "invalid_json", f"The request body is not valid JSON: {reason}") from None


def _shorten(value: Any) -> str:
    return shorten(value, 80)


def check_schema(ctx: RequestContext, operation_id: str, body: Any) -> bool:
    """Validate against the operation's request schema. Returns False when the body is invalid
    but a fault lets it through (the handler then answers a canned 200)."""
    issues = _spec.request_errors(ctx.api, ctx.version or VERSIONS[ctx.api][-1], operation_id, body)
    if not issues:
        return True
    if ctx.faulted("accept-invalid"):
        return False
    if ctx.faulted("invalid-request-500"):
        raise ApiError(500, "InternalServerError", "The server had an error while processing the request.")
    first = issues[0]
    details = [
        {"code": str(i.keyword), "message": f"{i.path}: {i.message}", "target": str(i.path)} for i in issues[:10]
    ]
    raise ApiError(
        400,
        "invalid_request",
        f"Invalid request body at {first.path}: {first.message}",
        target=str(first.path),
        details=details,
    )


def check_reject_valid(ctx: RequestContext, body: dict[str, Any]) -> None:
    if ctx.faulted("param-refused") and "user" in body:
        raise ApiError(400, "invalid_request", "The request could not be processed.")

    def number(key: str) -> float:
        value = body.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0

    if ctx.faulted("reject-valid") and (
        "top_p" in body or number("temperature") > 0.5 or number("presence_penalty") or number("frequency_penalty")
    ):
        raise ApiError(400, "invalid_request", "temperature above 0.5, top_p and penalties are not accepted.")


# -- extra-parameters (REST reference, "Extensibility") ------------------------------------------


def apply_extra_parameters(request: Request, ctx: RequestContext, operation_id: str, body: dict) -> dict:
    """Model inference only: parameters the request schema does not define are rejected (error,
    the default), removed (drop) or passed to the model (pass-through), which accepts only
    `settings.pass_through_parameters` and refuses the rest with 422."""
    mode = request.headers.get("extra-parameters")
    if mode is not None and mode not in EXTRA_PARAMETER_MODES and not ctx.faulted("extra-params-invalid-accepted"):
        raise ApiError(
            400,
            "invalid_header_value",
            f"Invalid value {json.dumps(mode[:64])} for header extra-parameters; "
            f"expected one of: {', '.join(EXTRA_PARAMETER_MODES)}.",
            target="extra-parameters",
        )
    mode = mode if mode in EXTRA_PARAMETER_MODES else "error"
    defined = _spec.request_properties(ctx.api, ctx.version or VERSIONS[ctx.api][-1], operation_id)
    extra = [k for k in body if k not in defined]
    if not extra:
        return body
    if mode == "error":
        if ctx.faulted("extra-params-ignored"):
            return {k: v for k, v in body.items() if k in defined}
        raise ApiError(
            400,
            "extra_parameters_not_allowed",
            f"Extra parameters {extra} are not allowed when extra-parameters is not set or set to 'error'. "
            "Set extra-parameters to 'drop' or 'pass-through'.",
            target=extra[0],
            details=[{"code": "extra_parameter", "message": f"{k} is not defined", "target": k} for k in extra[:10]],
        )
    if mode == "drop":
        if ctx.faulted("extra-params-drop-fails"):
            raise ApiError(400, "invalid_request", f"Unknown parameters {extra}.", target=extra[0])
        return {k: v for k, v in body.items() if k in defined}
    # pass-through: the model understands some parameters and rejects the others.
    refused = [k for k in extra if k not in ctx.settings.pass_through_parameters]
    if refused and not ctx.faulted("extra-params-pass-through-silent"):
        raise ApiError(
            422,
            "parameter_not_supported",
            f"The model does not support the parameter {refused[0]!r} passed through.",
            target=refused[0],
            details=[{"code": "parameter_not_supported", "message": f"{k} is not supported", "target": k}
                     for k in refused[:10]],
        )
    return {k: v for k, v in body.items() if k in defined}


# -- capabilities (REST reference, "Models with disparate set of capabilities") ------------------


def unsupported(ctx: RequestContext, parameter: str, value: Any, why: str) -> ApiError | None:
    """The 422 for an unsupported parameter (or its faulted variants; None = ignore it)."""
    if ctx.faulted("unsupported-200"):
        return None
    if ctx.faulted("unsupported-wrong-code"):
        return ApiError(422, "invalid_input", "One of the parameters contain invalid values.")
    status = 400 if ctx.faulted("unsupported-400") else 422
    return ApiError(
        status,
        "parameter_not_supported",
        f"The model does not support {parameter} = {_shorten(value)}: {why}",
        target=parameter,
        details=[{"code": "parameter_not_supported", "message": why, "target": parameter}],
    )


def raise_unsupported(ctx: RequestContext, parameter: str, value: Any, why: str) -> None:
    err = unsupported(ctx, parameter, value, why)
    if err is not None:
        raise err


# -- content filter ------------------------------------------------------------------------------


def check_content_filter(ctx: RequestContext, texts: list[str], target: str, inner: dict[str, Any]) -> None:
    trigger = ctx.settings.content_filter_trigger
    if not trigger or not any(trigger in t for t in texts) or ctx.faulted("content-filter-silent"):
        return
    if ctx.faulted("content-filter-500"):
        raise ApiError(500, "InternalServerError", "The server had an error while processing the request.")
    if ctx.faulted("content-filter-wrong-code"):
        raise ApiError(400, "bad_request", "The request was rejected.")
    raise ApiError(
        400,
        "content_filter",
        "The response was filtered due to the prompt triggering the content management policy. "
        "Please modify your prompt and retry.",
        target=target,
        inner=inner,
    )
