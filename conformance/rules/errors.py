"""Error-answer rules: the shape, media type and headers of non-2xx answers, and credential hygiene.

ERROR-SHAPE classifies every error body into a `variant` (see `classify_error`) so that the azure
profile can downgrade exactly the shapes real services are documented to send (specs/errata.yaml)
while unknown shapes stay violations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from conformance.rules._model import Finding, Level, RuleContext
from conformance.rules.registry import rule
from conformance.rules.schema_rules import NULL_FOR_ABSENT, issue_finding, null_absent_issues
from conformance.rules.views import is_int, response_json
from conformance.text import shorten
from conformance.transport.exchange import NO_JSON, Exchange

#: Where each API's error envelope lives in its spec.
ERROR_POINTERS = {
    "model-inference": "#/components/schemas/Azure.Core.Foundations.ErrorResponse",
    "azure-openai": "#/components/schemas/errorResponse",
}


def _error_answer(ex: Exchange) -> bool:
    return ex.response is not None and ex.response.status >= 400


def _is_error(ctx: RuleContext, ex: Exchange) -> bool:
    return _error_answer(ex) and not ex.response.truncated  # type: ignore[union-attr]


def classify_error(body: Any) -> str:
    """The variant of an error body: "azure-core" for the spec's envelope, else the shape seen."""
    if body is NO_JSON:
        return "not-json"
    if not isinstance(body, dict):
        return "unknown"
    err = body.get("error")
    if isinstance(err, list):
        return "error-array"
    if isinstance(err, dict):
        code, message = err.get("code"), err.get("message")
        if is_int(code):
            return "code-integer"
        if "code" in err and code is None:
            return "code-null"
        if not isinstance(code, str) or not isinstance(message, str):
            return "unknown"
        if _json_in(message):
            return "json-in-string"
        return "azure-core"
    if "statusCode" in body and "message" in body:
        return "apim-statuscode"
    if "code" in body and "message" in body:
        return "rest-reference-top-level"
    if "detail" in body:
        return "fastapi-detail"
    return "unknown"


def _json_in(text: str) -> bool:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return False
    try:
        return isinstance(json.loads(stripped), (dict, list))
    except ValueError:
        return False


_SHAPES = {
    "not-json": "a body that is not JSON",
    "unknown": "a JSON body in no known error shape",
    "error-array": 'an "error" array instead of an object',
    "code-integer": "error.code as an integer, not a string",
    "code-null": "error.code null",
    "json-in-string": "a JSON document encoded inside error.message",
    "apim-statuscode": 'the API Management shape {"statusCode", "message"} (no "error" envelope)',
    "rest-reference-top-level": 'the REST reference\'s top-level {"status", "code", "message"} (no "error" envelope)',
    "fastapi-detail": 'the FastAPI shape {"detail": ...} (no "error" envelope)',
}


@rule(
    "ERROR-SHAPE",
    "errors",
    'Every error answer has a JSON body {"error": {"code": string, "message": string, ...}}.',
    "2025-04-01#/components/schemas/Azure.Core.Foundations.ErrorResponse (every operation's default response)",
    applies=_is_error,
)
def check_error_shape(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    assert ex.response is not None
    body = response_json(ex.response)
    variant = classify_error(body)
    if variant == "azure-core":
        # The envelope is right; anything deeper (e.g. details without code) comes from the schema.
        pointer = ERROR_POINTERS.get(ctx.api)
        issues = ctx.spec.validate(pointer, body) if pointer else []
        tagged = null_absent_issues(issues, body, lambda doc: ctx.spec.validate(pointer, doc))
        for issue in issues:
            f = issue_finding(issue)
            interchangeable = (issue.path, issue.keyword, issue.message) in tagged
            f.variant = NULL_FOR_ABSENT if interchangeable else "azure-core-invalid"
            yield f
        return
    shown = shorten(ex.response.text[:400], 200) if body is NO_JSON else shorten(body, 200)
    path = {"code-integer": "$.error.code", "code-null": "$.error.code", "json-in-string": "$.error.message",
            "error-array": "$.error"}.get(variant, "$")
    value = body if path == "$" else _at(body, path)
    yield Finding(
        f"the {ex.response.status} answer has {_SHAPES[variant]}; expected "
        f'{{"error": {{"code": string, "message": string}}}}. Body: {shown}',
        path="body" if body is NO_JSON else path,
        value=shown if body is NO_JSON else shorten(value),
        variant=variant,
        keyword="required" if variant in ("unknown", "apim-statuscode", "fastapi-detail",
                                          "rest-reference-top-level") else "type",
    )


def _at(body: Any, path: str) -> Any:
    cur = body
    for part in path.removeprefix("$.").split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


def _error_with_body(ctx: RuleContext, ex: Exchange) -> bool:
    return _error_answer(ex) and bool(ex.response.body)  # type: ignore[union-attr]


@rule(
    "ERROR-CONTENT-TYPE",
    "errors",
    "An error answer with a body has Content-Type application/json.",
    "2025-04-01#/paths/~1chat~1completions/post/responses/default/content",
    applies=_error_with_body,
)
def check_error_content_type(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    assert ex.response is not None
    if ex.response.content_type != "application/json":
        raw = ex.response.header("content-type")
        yield Finding(
            f"the {ex.response.status} error answer has Content-Type {raw!r}, expected application/json",
            path="header:content-type",
            value=shorten(raw),
        )


@rule(
    "ERROR-HEADER-CODE",
    "errors",
    "When the x-ms-error-code header is present, it equals the body's error.code.",
    "2025-04-01#/paths/~1chat~1completions/post/responses/default/headers/x-ms-error-code "
    "(the Azure OpenAI spec defines no such header)",
    level=Level.WARNING,
    applies=_is_error,
    api="model-inference",
)
def check_error_header_code(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    assert ex.response is not None
    header = ex.response.header("x-ms-error-code")
    body = response_json(ex.response)
    err = body.get("error") if isinstance(body, dict) else None
    if header is None or not isinstance(err, dict) or err.get("code") is None:
        return
    code = str(err["code"])
    if header.strip() != code:
        yield Finding(
            f"header x-ms-error-code is {header!r} but the body's error.code is {code!r}",
            path="header:x-ms-error-code",
            value=shorten(header),
        )


def _is_429(ctx: RuleContext, ex: Exchange) -> bool:
    return ex.response is not None and ex.response.status == 429


@rule(
    "RETRY-AFTER",
    "errors",
    "A 429 answer says when to retry (Retry-After or retry-after-ms).",
    "RFC 6585 §4 (429 MAY include Retry-After); Azure OpenAI quota docs (retry-after-ms)",
    level=Level.WARNING,
    applies=_is_429,
)
def check_retry_after(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    assert ex.response is not None
    if ex.response.header("retry-after") is None and ex.response.header("retry-after-ms") is None:
        yield Finding(
            "the 429 answer has neither Retry-After nor retry-after-ms, so clients cannot back off correctly",
            path="header:retry-after",
            value=None,
        )


def _credential_presented(ctx: RuleContext, ex: Exchange) -> bool:
    # Only a live run knows the credential it presented; recorded traffic cannot be judged for echoes.
    return ex.response is not None and (ctx.target is not None or bool(ex.credential_echo))


@rule(
    "AUTH-NO-ECHO",
    "auth",
    "No response (headers or body) contains the credential the request presented.",
    "OWASP ASVS V7.1 (no credentials in responses or logs); RFC 6750 §5.3",
    applies=_credential_presented,
)
def check_auth_no_echo(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    # The client detected echoes on the unredacted bytes; only the location is reported here.
    for where in ex.credential_echo:
        yield Finding(
            f"the response contains the credential the request presented (in {where}); "
            "the value is withheld from this report",
            path=where,
            value="<credential withheld>",
        )
