"""Behaviour rules: judged from the small set of exchanges one test made on purpose.

Each judge takes the exchange(s) a suite test produced for that behaviour plus what the target
claims, and yields findings. They are plain functions so the self-tests can call them directly;
the suite tests in `conformance/suite/` make the requests and hand the exchanges over.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Iterator
from typing import Any

from conformance.rules._model import Finding, Level
from conformance.rules.registry import rule
from conformance.text import shorten
from conformance.transport.exchange import NO_JSON, Exchange

REST_REF = "REST reference (Azure AI Model Inference API)"
EXT = f'{REST_REF}, "Extensibility"'
CAPS = f'{REST_REF}, "Models with disparate set of capabilities"'


# -- generated requests ------------------------------------------------------------------------
# -- auth --------------------------------------------------------------------------------------
# -- api-version -------------------------------------------------------------------------------
# -- routes ------------------------------------------------------------------------------------
# -- extra-parameters --------------------------------------------------------------------------
# -- unsupported parameters --------------------------------------------------------------------
# -- content filter ----------------------------------------------------------------------------
# -- streaming / semantics that need two requests ----------------------------------------------


# ==============================================================================================
# Helpers shared by the judges
# ==============================================================================================


def status_of(ex: Exchange) -> int | None:
    return ex.response.status if ex.response is not None else None


def error_fields(body: Any) -> dict[str, Any]:
    """Pull code / message / parameter hints out of any of the error shapes seen in the wild.

    Shapes: Azure Core `{"error": {...}}`, the REST reference's top-level `{status, code, detail}`,
    FastAPI `{"detail": ...}`, APIM `{"statusCode", "message"}`. Returns {"code", "message",
    "where": text that may name a parameter, "shape"}.
    """
    out: dict[str, Any] = {"code": None, "message": None, "where": "", "shape": "unknown"}
    if not isinstance(body, dict):
        return out
    err = body.get("error")
    if isinstance(err, dict):
        out["shape"] = "azure-core"
        out["code"] = err.get("code")
        out["message"] = err.get("message")
        hints = [err.get("target"), err.get("param"), err.get("details"), err.get("innererror"), err.get("message")]
    elif "code" in body and ("status" in body or "detail" in body or "message" in body):
        out["shape"] = "rest-reference-top-level"
        out["code"] = body.get("code")
        out["message"] = body.get("message")
        hints = [body.get("detail"), body.get("details"), body.get("param"), body.get("message")]
    elif "detail" in body:
        out["shape"] = "fastapi-detail"
        out["message"] = body.get("detail")
        hints = [body.get("detail")]
    elif "statusCode" in body:
        out["shape"] = "apim-statuscode"
        out["code"] = body.get("statusCode")
        out["message"] = body.get("message")
        hints = [body.get("message")]
    else:
        hints = [body]
    out["where"] = " ".join(json.dumps(h, ensure_ascii=False, default=str) for h in hints if h is not None)
    return out


def error_params(body: Any) -> set[str]:
    """Parameter names an error body points at explicitly (target, param, loc), not prose."""
    names: set[str] = set()

    def loc_names(loc: Any) -> None:
        if isinstance(loc, list):
            names.update(str(x) for x in loc if isinstance(x, str) and x not in ("body", "query", "header"))

    def visit(node: Any, depth: int = 0) -> None:
        if depth > 4 or not isinstance(node, dict):
            return
        for key in ("target", "param"):
            if isinstance(node.get(key), str):
                names.add(node[key].split(".")[0].split("[")[0])
        loc_names(node.get("loc"))
        for key in ("detail", "details", "error", "innererror"):
            value = node.get(key)
            for item in value if isinstance(value, list) else [value]:
                visit(item, depth + 1)

    visit(body)
    return names


def _json(ex: Exchange) -> Any:
    return ex.response.json if ex.response is not None else NO_JSON


def _finding(ex: Exchange, message: str, *, path: str = "status", value: Any = None, **kw: Any) -> Finding:
    shown = shorten(value) if value is not None else (str(status_of(ex)) if path == "status" else None)
    return Finding(message=message, path=path, value=shown, exchange=ex, operation_id=ex.operation_id, **kw)


def answered(check: Callable[..., Iterator[Finding]]) -> Callable[..., Iterator[Finding]]:
    """A behaviour check judges an answer: an exchange without one is a single transport finding."""

    @functools.wraps(check)
    def judged(ex: Exchange, *args: Any, **kwargs: Any) -> Iterator[Finding]:
        if ex.response is None:
            yield _finding(ex, f"no response: {ex.error or 'unknown transport error'}", path="transport", value=None)
            return
        yield from check(ex, *args, **kwargs)

    return judged


def _is_error_body(ex: Exchange) -> bool:
    return ex.response is not None and isinstance(ex.response.json, dict | list)


# ==============================================================================================
# Judges
# ==============================================================================================


def names_parameter(body: Any, name: str) -> bool:
    """Whether an error body points at parameter `name`: explicitly (target, param, loc), or quoted
    in its message ('name', "name", `name`), the OpenAI wire style of "Unsupported parameter: 'x'"."""
    if name in error_params(body):
        return True
    message = error_fields(body)["message"]
    return isinstance(message, str) and any(f"{q}{name}{q}" in message for q in ("'", '"', "`"))


@rule(
    "POSITIVE-ACCEPTED",
    "schema",
    "A request that is valid per the spec's schema and prose gets 2xx, or a documented refusal: the "
    "content-filter error, 429, or for a parameter the target does not claim, 422 naming it (Model Inference) "
    "or a 4xx error naming it (Azure OpenAI).",
    "spec: request body schema of the operation and the prose constraints (docs/behaviours.md); "
    f"{CAPS}: \"A specific error is returned on those cases where the model can't support a specific parameter.\"; "
    "Azure OpenAI: 400 {\"error\": {\"param\": ..., \"code\": \"unsupported_parameter\"}} (docs/behaviours.md)",
    scope="behaviour",
)
@answered
def positive_accepted(
    ex: Exchange, *, unclaimed: set[str] | None = None, refusable: set[str] | frozenset[str] = frozenset(),
    api: str = "model-inference",
) -> Iterator[Finding]:
    """`unclaimed`: request features the target does not claim (a 422 naming one is a documented refusal).
    `refusable`: request parameters the target does not claim supported. A model may not support
    them, and each API has its documented way to say so: Model Inference a 422 naming the parameter
    (REST reference), Azure OpenAI a 4xx error naming it (`param`, code `unsupported_parameter` or
    `unsupported_value`)."""
    st = ex.response.status
    if 200 <= st < 300 or st == 429:
        return
    fields = error_fields(ex.response.json)
    code = str(fields["code"] or "")
    if st == 422 and unclaimed and any(u in (fields["where"] + code) for u in unclaimed):
        return
    refusal_status = st == 422 if api == "model-inference" else 400 <= st < 500 and st not in (401, 403, 404)
    if refusal_status and _is_error_body(ex) and any(names_parameter(ex.response.json, p) for p in refusable):
        return
    if st == 400 and code == "content_filter":
        return
    if st >= 500:
        yield _finding(ex, f"a valid request got a server error {st}")
        return
    yield _finding(
        ex,
        f"a request the suite believes valid per the spec was refused with {st} "
        f"({shorten(fields['message'] or ex.response.text, 160)}); if the request is in fact invalid, the "
        "generation view is too wide — otherwise the target rejects valid input",
    )


@rule(
    "NEGATIVE-REJECTED",
    "errors",
    "A schema-invalid request (missing required fields, wrong types, out-of-range numbers, malformed "
    "JSON, wrong content type) gets a 4xx with an error body, never 2xx and never 5xx.",
    "spec: request body schema + #/components/schemas/Azure.Core.Foundations.ErrorResponse (default response)",
    scope="behaviour",
)
@answered
def negative_rejected(ex: Exchange, *, why_invalid: str) -> Iterator[Finding]:
    st = ex.response.status
    if 400 <= st < 500:
        if not ex.response.body:
            yield _finding(ex, f"rejected with {st} but without an error body ({why_invalid})", path="body")
        return
    kind = "accepted" if st < 400 else "answered with a server error"
    yield _finding(ex, f"an invalid request was {kind} ({st}); it is invalid because {why_invalid}")


@rule(
    "AUTH-MISSING",
    "auth",
    "A request without a credential is refused with 401 and an error body (403 is accepted as a warning).",
    "spec: securitySchemes ApiKeyAuth (header api-key) / BearerAuth / OAuth2Auth; HTTP semantics (RFC 9110 §15.5.2)",
    scope="behaviour",
)
@answered
def auth_missing(ex: Exchange) -> Iterator[Finding]:
    return _refused_401(ex, "a request without any credential")


@rule(
    "AUTH-WRONG",
    "auth",
    "A request with a wrong credential is refused with 401 and an error body.",
    "spec: securitySchemes; HTTP semantics (RFC 9110 §15.5.2)",
    scope="behaviour",
)
@answered
def auth_wrong(ex: Exchange) -> Iterator[Finding]:
    return _refused_401(ex, "a request with a wrong credential")


def _refused_401(ex: Exchange, what: str) -> Iterator[Finding]:
    st = ex.response.status
    if st == 401:
        if not _is_error_body(ex):
            yield _finding(ex, "401 without a JSON error body", path="body", value=ex.response.text[:80])
        return
    if st == 403:
        yield _finding(ex, "refused with 403 instead of 401 (accepted as a warning)", level=Level.WARNING)
        return
    yield _finding(ex, f"{what} was answered {st}, not 401")


@rule(
    "AUTH-SCHEMES",
    "auth",
    "Every credential scheme the target claims (api-key header, Authorization: Bearer) is accepted.",
    "spec: security: [ApiKeyAuth], [BearerAuth], [OAuth2Auth]",
    scope="behaviour",
)
@answered
def auth_scheme(ex: Exchange, *, scheme: str) -> Iterator[Finding]:
    if ex.response.status in (401, 403):
        yield _finding(ex, f"the claimed credential scheme {scheme!r} was refused ({ex.response.status})")


@rule(
    "APIVERSION-MISSING",
    "api-version",
    "A request without the required api-version query parameter is refused with 400 and an ErrorResponse.",
    "spec: parameters api-version (in: query, required: true); Azure REST API guidelines",
    scope="behaviour",
)
@answered
def api_version_missing(ex: Exchange) -> Iterator[Finding]:
    st = ex.response.status
    if st == 400:
        return
    if st == 404:
        # Observed on real Azure hosts (erratum in the azure profile).
        yield _finding(ex, "missing api-version answered 404, not 400", variant="404")
        return
    if 400 < st < 500 and st not in (401, 403):
        yield _finding(ex, f"missing api-version answered {st}, not 400", variant="other-4xx")
        return
    yield _finding(ex, f"a request without api-version was answered {st}: the required parameter is not enforced")


@rule(
    "APIVERSION-UNKNOWN",
    "api-version",
    "A request with an api-version the service does not support is refused with a 4xx error.",
    "spec: parameters api-version; Azure REST API guidelines (unsupported api-version -> 400)",
    scope="behaviour",
)
@answered
def api_version_unknown(ex: Exchange, *, version: str) -> Iterator[Finding]:
    st = ex.response.status
    if 400 <= st < 500 and st not in (401, 403):
        return
    yield _finding(ex, f"api-version={version!r} (not a published version) was answered {st}")


@rule(
    "APIVERSION-SUPPORTED",
    "api-version",
    "Every vendored api-version the target claims works.",
    "spec: info.version / Versions enum",
    scope="behaviour",
)
@answered
def api_version_supported(ex: Exchange, *, version: str) -> Iterator[Finding]:
    st = ex.response.status
    if not 200 <= st < 300 and st != 429:
        yield _finding(ex, f"claimed api-version {version!r} was refused with {st}")


@rule(
    "OPERATION-SERVED",
    "transport",
    "Every operation the target claims (target file `operations`) is served: its valid baseline request, "
    "with a valid credential, is not answered 404. A claim by glob only (`*`) makes a 404 a warning.",
    "spec paths (the operation's route under the endpoint); REST reference: each listed operation is part of "
    "the API a deployment exposes",
    scope="behaviour",
)
def operation_served(ex: Exchange, *, claimed_by_name: bool) -> Iterator[Finding]:
    """A 404 to a valid request: the operation is not served (the one finding; its other rules are not
    judged). A violation when the target file names the operation, a warning when only a glob covers it."""
    if ex.response is None or ex.response.status != 404:
        return
    fields = error_fields(ex.response.json)
    code = f" (code {fields['code']})" if fields.get("code") else ""
    claim = "the target file names it in `operations`" if claimed_by_name else (
        "only a glob of the target file's `operations` covers it: list the operations the target serves")
    yield _finding(
        ex, f"a valid request to {ex.operation_id} was answered 404{code}: the operation is not served; {claim}",
        level=Level.VIOLATION if claimed_by_name else Level.WARNING,
    )


@rule(
    "ROUTE-NOT-FOUND",
    "errors",
    "An unknown route answers 404 with a JSON error body.",
    "HTTP semantics (RFC 9110 §15.5.5); spec default response ErrorResponse",
    Level.WARNING,
    scope="behaviour",
)
@answered
def route_not_found(ex: Exchange) -> Iterator[Finding]:
    return _answered_with(ex, 404, "an unknown route")


@rule(
    "METHOD-NOT-ALLOWED",
    "errors",
    "A known route called with a method it does not define answers 405 with a JSON error body.",
    "HTTP semantics (RFC 9110 §15.5.6); spec paths",
    Level.WARNING,
    scope="behaviour",
)
@answered
def method_not_allowed(ex: Exchange) -> Iterator[Finding]:
    return _answered_with(ex, 405, "an undefined method on a known route")


def _answered_with(ex: Exchange, status: int, what: str) -> Iterator[Finding]:
    st = ex.response.status
    if st != status:
        yield _finding(ex, f"{what} was answered {st}, not {status}")
    elif not _is_error_body(ex):
        yield _finding(ex, f"{status} without a JSON error body", path="body", value=ex.response.text[:80])


@rule(
    "EXTRA-PARAMS-ERROR",
    "extra-parameters",
    "With extra-parameters absent or `error`, a body with an undefined parameter is rejected with a 4xx error.",
    f'{EXT}: "The default value for extra-parameters is error which returns an error if an extra parameter '
    'is indicated in the payload."',
    api="model-inference",
    scope="behaviour",
)
@answered
def extra_params_error(ex: Exchange, *, param: str, header: str | None) -> Iterator[Finding]:
    st = ex.response.status
    mode = f"extra-parameters: {header}" if header else "no extra-parameters header"
    if 400 <= st < 500 and st not in (401, 403, 429):
        if not _is_error_body(ex):
            yield _finding(ex, f"rejected with {st} but without a JSON error body", path="body")
        return
    if 200 <= st < 300:
        yield _finding(ex, f"undefined parameter {param!r} with {mode} was accepted ({st})",
            path=f"$.{param}",
        )
    elif st != 429:
        yield _finding(ex, f"undefined parameter {param!r} with {mode} was answered {st}, not a 4xx error")


@rule(
    "EXTRA-PARAMS-DROP",
    "extra-parameters",
    "With extra-parameters: drop, the same request succeeds (2xx) and the unknown parameter is ignored.",
    f'{EXT}: "Alternatively, you can set extra-parameters: drop to drop any unknown parameter in the request."',
    api="model-inference",
    scope="behaviour",
)
@answered
def extra_params_drop(ex: Exchange, *, param: str) -> Iterator[Finding]:
    st = ex.response.status
    if not 200 <= st < 300 and st != 429:
        yield _finding(ex, f"with extra-parameters: drop, undefined parameter {param!r} made the request fail ({st})")


@rule(
    "EXTRA-PARAMS-PASS-THROUGH",
    "extra-parameters",
    "With extra-parameters: pass-through, parameters the model accepts succeed, and a parameter the model "
    "cannot handle yields an error, not a silent 200.",
    f'{EXT}: "By setting a header extra-parameters: pass-through, the API will attempt to pass any unknown '
    'parameter directly to the underlying model. If the model can handle that parameter, the request completes."',
    api="model-inference",
    scope="behaviour",
)
@answered
def extra_params_pass_through(ex: Exchange, *, param: str, accepted_by_model: bool) -> Iterator[Finding]:
    st = ex.response.status
    if accepted_by_model:
        if not 200 <= st < 300 and st != 429:
            yield _finding(ex,
                f"parameter {param!r}, which the target declares its model accepts, failed under pass-through ({st})",
            )
    elif 200 <= st < 300:
        yield _finding(ex,
            f"parameter {param!r}, which no model understands, was silently accepted under pass-through ({st}); "
            "an error was expected", path=f"$.{param}", variant="silent-accept",
        )
    elif st >= 500:
        yield _finding(ex, f"pass-through of {param!r} caused a server error {st}")


@rule(
    "EXTRA-PARAMS-INVALID",
    "extra-parameters",
    "An extra-parameters header value other than error, drop or pass-through is rejected with a 4xx error.",
    "spec: #/components/parameters (extra-parameters: ExtraParameters = error | drop | pass-through)",
    api="model-inference",
    scope="behaviour",
)
@answered
def extra_params_invalid(ex: Exchange, *, value: str) -> Iterator[Finding]:
    st = ex.response.status
    if not (400 <= st < 500 and st not in (401, 403, 429)):
        yield _finding(ex, f"invalid header value extra-parameters: {value!r} was answered {st}, not a 4xx error",
            path="header:extra-parameters", value=value,
        )


@rule(
    "UNSUPPORTED-422",
    "unsupported-parameters",
    "A parameter or value the target claims unsupported is refused with 422, error code "
    "parameter_not_supported, naming the offending parameter.",
    f'{CAPS}: "since the model doesn\'t support such capability an error 422 is returned to the user" '
    '(example body: code "parameter_not_supported", detail.loc ["body", "response_format"])',
    scope="behaviour",
    api="model-inference",
)
@answered
def unsupported_422(ex: Exchange, *, param: str, value: Any = None) -> Iterator[Finding]:
    st = ex.response.status
    what = f"{param}={shorten(value, 60)}" if value is not None else param
    if st == 429:
        return
    if st != 422:
        yield _finding(ex,
            f"{what}, which the target claims unsupported, was answered {st}, not 422"
            + (" (silently accepted)" if 200 <= st < 300 else ""),
        )
        return
    fields = error_fields(ex.response.json)
    if str(fields["code"]) != "parameter_not_supported":
        yield _finding(ex, f"422 for {what} carries error code {fields['code']!r}, not 'parameter_not_supported'",
            path="$.error.code" if fields["shape"] == "azure-core" else "$.code", value=fields["code"],
            variant=fields["shape"],
        )
    elif fields["shape"] != "azure-core":
        yield _finding(ex, f"422 parameter_not_supported is in the {fields['shape']} form, not an ErrorResponse",
            path="$", value=ex.response.json, variant=fields["shape"],
        )
    if param.split(".")[0] not in fields["where"]:
        yield _finding(ex,
            f"the 422 error does not identify the offending parameter {param!r} (looked in target/details/loc/param/message)",
            path="$", value=ex.response.json,
        )


@rule(
    "SUPPORTED-NOT-422",
    "unsupported-parameters",
    "A parameter or value the target claims supported is never refused with 422.",
    f"{CAPS}; the target file's capabilities",
    scope="behaviour",
)
@answered
def supported_not_422(ex: Exchange, *, param: str) -> Iterator[Finding]:
    if ex.response.status == 422:
        yield _finding(ex, f"{param}, which the target claims supported, was refused with 422")


@rule(
    "CONTENT-FILTER",
    "content-filter",
    "A prompt the deployment's content filter blocks yields a 400 error with code content_filter, or a 200 "
    "whose choice ends with finish_reason content_filter; never a 5xx, a 200 without a filter signal, or another code.",
    f'{REST_REF}, "Content safety": example response {{"status": 400, "code": "content_filter", ...}}; '
    "spec: CompletionsFinishReason content_filter",
    scope="behaviour",
)
@answered
def content_filter(ex: Exchange) -> Iterator[Finding]:
    st = ex.response.status
    body = ex.response.json
    if 200 <= st < 300:
        if ex.response.stream is not None:
            reasons = [
                c.get("finish_reason")
                for e in ex.response.stream.events
                if e.data and e.data != "[DONE]"
                for c in (_safe_json(e.data) or {}).get("choices", []) or []
                if isinstance(c, dict)
            ]
        else:
            reasons = [c.get("finish_reason") for c in (body.get("choices") or []) if isinstance(c, dict)] if isinstance(body, dict) else []
        if "content_filter" not in reasons:
            yield _finding(ex, "the trigger prompt got a 200 without any content-filter signal (no finish_reason content_filter)")
        return
    if st >= 500:
        yield _finding(ex, f"the trigger prompt caused a server error {st}")
        return
    if st == 429:
        return
    fields = error_fields(body)
    if str(fields["code"]) != "content_filter":
        # Some Foundry models answer 400 with a chat.completion body whose choice says content_filter.
        if isinstance(body, dict) and any(
            isinstance(c, dict) and c.get("finish_reason") == "content_filter" for c in body.get("choices") or []
        ):
            yield _finding(ex, f"the filter answered {st} with a chat.completion body (finish_reason content_filter) instead of an error body",
                path="$", value=None, variant="completion-body-4xx",
            )
            return
        yield _finding(ex, f"the trigger prompt was refused with {st} and code {fields['code']!r}, not 'content_filter'",
            path="$.error.code" if fields["shape"] == "azure-core" else "$.code", value=fields["code"], variant=fields["shape"],
        )
        return
    if st != 400:
        yield _finding(ex, f"content_filter error with status {st}, not 400", variant="other-status")
    if fields["shape"] != "azure-core":
        yield _finding(ex, f"content_filter error in the {fields['shape']} form, not an ErrorResponse",
            path="$", value=body, variant=fields["shape"],
        )


@rule(
    "STREAM-CONSISTENCY",
    "streaming",
    "At temperature 0 with a seed, streamed and non-streamed content agree (a difference is a warning: models "
    "are not deterministic).",
    "spec: ChatCompletionsOptions.seed (\"Determinism is not guaranteed\")",
    Level.WARNING,
    scope="behaviour",
)
def stream_consistency(streamed: Exchange, plain: Exchange, *, streamed_text: str | None, plain_text: str | None) -> Iterator[Finding]:
    if streamed_text is None or plain_text is None:
        return
    if streamed_text != plain_text:
        yield _finding(streamed,
            f"streamed content {shorten(streamed_text, 60)} differs from non-streamed content {shorten(plain_text, 60)} "
            "for the same request at temperature 0 with a seed",
            path="$.choices[0].delta.content", value=streamed_text,
        )


@rule(
    "CHAT-TOOL-FOLLOWUP",
    "semantics",
    "A follow-up turn carrying the assistant's tool_calls and a `tool` message with the result is accepted (2xx).",
    "spec: #/components/schemas/ChatRequestToolMessage, ChatRequestAssistantMessage.tool_calls",
    scope="behaviour",
)
@answered
def tool_followup(ex: Exchange) -> Iterator[Finding]:
    st = ex.response.status
    if not 200 <= st < 300 and st != 429:
        yield _finding(ex, f"the follow-up turn with a tool message was refused ({st})")


@rule(
    "EMB-BASE64-AGREES",
    "semantics",
    "The base64 answer decodes to the same vector as the float answer for the same input (within tolerance).",
    "spec: #/components/schemas/EmbeddingEncodingFormat (base64: \"Get back binary representation of the "
    'embeddings encoded as Base64 string")',
    Level.WARNING,
    scope="behaviour",
)
def base64_agrees(b64: Exchange, floats: list[list[float]], decoded: list[list[float]], *, tolerance: float = 1e-3) -> Iterator[Finding]:
    for i, (a, b) in enumerate(zip(floats, decoded, strict=False)):
        if len(a) != len(b):
            yield _finding(b64, f"item {i}: base64 vector has {len(b)} values, float vector {len(a)}", path=f"$.data[{i}].embedding", value=len(b))
            continue
        worst = max((abs(x - y) for x, y in zip(a, b, strict=True)), default=0.0)
        if not math.isfinite(worst) or worst > tolerance:
            yield _finding(b64, f"item {i}: base64 and float answers differ by up to {worst:.3g} (tolerance {tolerance})",
                path=f"$.data[{i}].embedding", value=worst,
            )


def _safe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
