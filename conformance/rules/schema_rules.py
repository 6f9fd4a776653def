"""Schema and media-type rules: is a successful answer what the operation declares?

Bodies are validated by the one validator (`Spec.validate_response`); this module only turns its
`SchemaIssue`s into findings and adds the checks the schema cannot express (JSON well-formedness,
Content-Type, server errors).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from conformance.rules._model import Finding, Level, RuleContext
from conformance.rules.registry import rule
from conformance.rules.views import is_2xx, json_error, request_json, response_json, stream_requested
from conformance.text import shorten
from conformance.transport.exchange import NO_JSON, Exchange

_EMBEDDING = re.compile(r"\$\.data\[\d+\]\.embedding")


def _json_media(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def _has_json_success(ctx: RuleContext, ex: Exchange) -> bool:
    return (
        is_2xx(ex)
        and ex.operation_id is not None
        and ex.response is not None
        and ex.response.content_type != "text/event-stream"
        and not ex.response.truncated
        and response_json(ex.response) is not NO_JSON
    )


@rule(
    "SCHEMA-RESPONSE",
    "schema",
    "A successful JSON response body validates against the operation's declared response schema.",
    "2025-04-01#/paths/~1chat~1completions/post/responses/200 (and every operation's 2xx response)",
    applies=_has_json_success,
)
def check_schema_response(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    assert ex.response is not None and ex.operation_id is not None
    body = response_json(ex.response)
    base64_asked = request_json(ex).get("encoding_format") == "base64"
    issues = ctx.spec.validate_response(ex.operation_id, ex.response.status, body)
    interchangeable = null_absent_issues(issues, body, lambda doc: ctx.spec.validate_response(
        ex.operation_id, ex.response.status, doc))
    for issue in issues:
        f = issue_finding(issue)
        if (issue.path, issue.keyword, issue.message) in interchangeable:
            f.variant = NULL_FOR_ABSENT
        # The embedding schemas say "array of numbers" while their own description (and every service)
        # allows a base64 string; tag exactly that case so an erratum can name it without hiding others.
        if base64_asked and issue.keyword == "type" and _EMBEDDING.fullmatch(issue.path) and issue.value[:1] == '"':
            # Decision (docs/behaviours.md): the spec contradicts itself here and its prose wins in every
            # profile, so this is a note, not a deviation; EMB-BASE64 judges the string itself.
            f.variant = "base64-embedding"
            f.level = Level.NOTE
        yield f


#: The variant of a schema finding that only says "null" where the property is optional, or "absent" where it
#: is required but nullable: the OpenAI wire convention reads null and absent alike (C-NULL-FOR-ABSENT).
NULL_FOR_ABSENT = "null-for-absent"
_PATH_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]")
_MISSING = re.compile(r"^'([^']+)' is a required property$")
#: The keywords a null value fails on a non-nullable property (an enum or const lists no null either).
_NULL_KEYWORDS = ("type", "enum", "const")


def _parse_path(path: str) -> list[str | int] | None:
    """The parts of a `$.a[0].b` path as the validator renders it; None for what it cannot express."""
    if not path.startswith("$"):
        return None
    parts: list[str | int] = []
    pos = 0
    for m in _PATH_TOKEN.finditer(path, 1):
        if m.start() != pos + 1:
            return None
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end() - 1
    return parts if pos + 1 == len(path) else None


def _at(doc: Any, parts: list[str | int]) -> Any:
    for p in parts:
        doc = doc[p]
    return doc


def null_absent_issues(issues: list[Any], instance: Any, revalidate: Any) -> set[tuple[str, str, str]]:
    """(path, keyword, message) of the issues that vanish when null and absent are read alike.

    A `type` issue on a null property is "null for absent" when the document without that property has
    no `required` issue naming it (the property is optional); a `required` issue is "absent for null"
    when the document with the property set to null has no issue about it (the property is nullable).
    One re-validation of an edited copy answers every candidate at once; other issues are untouched.
    """
    nulls: dict[str, tuple[list[Any], list[str | int]]] = {}
    missing: list[tuple[Any, list[str | int], str]] = []
    for issue in issues:
        if issue.level != "error":
            continue
        parts = _parse_path(issue.path)
        if parts is None:
            continue
        if issue.keyword in _NULL_KEYWORDS and issue.value == "null" and parts and isinstance(parts[-1], str):
            nulls.setdefault(issue.path, ([], parts))[0].append(issue)
        elif issue.keyword == "required" and (m := _MISSING.match(issue.message)):
            missing.append((issue, parts, m.group(1)))
    if not nulls and not missing:
        return set()
    doc = copy.deepcopy(instance)
    try:
        for _, parts in nulls.values():
            _at(doc, parts[:-1]).pop(parts[-1], None)
        for _, parts, name in missing:
            holder = _at(doc, parts)
            if isinstance(holder, dict):
                holder[name] = None
    except (KeyError, IndexError, TypeError):
        return set()
    again = revalidate(doc)
    still_missing = {(i.path, m.group(1)) for i in again if i.keyword == "required" and (m := _MISSING.match(i.message))}
    troubled = {i.path for i in again if i.level == "error"}
    out: set[tuple[str, str, str]] = set()
    for path, (found, parts) in nulls.items():
        parent = path[: len(path) - len(str(parts[-1])) - 1]
        if (parent, parts[-1]) not in still_missing:
            out.update((i.path, i.keyword, i.message) for i in found)
    for issue, _, name in missing:
        child = f"{issue.path}.{name}"
        if (issue.path, name) not in still_missing and child not in troubled:
            out.add((issue.path, issue.keyword, issue.message))
    return out


def issue_finding(issue: Any, *, path_prefix: str = "") -> Finding:
    """One finding per SchemaIssue; open-enum notes stay notes."""
    return Finding(
        message=issue.message,
        path=path_prefix + issue.path,
        value=issue.value,
        pointer=issue.pointer,
        keyword=issue.keyword,
        level=Level.NOTE if issue.level == "note" else Level.VIOLATION,
    )


def _labelled_json(ctx: RuleContext, ex: Exchange) -> bool:
    r = ex.response
    # A body cut by the suite's own size limit cannot be judged as JSON.
    return r is not None and bool(r.body) and not r.truncated and _json_media(r.content_type)


@rule(
    "BODY-JSON",
    "schema",
    "A response labelled application/json has a body that is valid UTF-8 JSON (RFC 8259).",
    "RFC 8259 §8.1 (UTF-8) and the operation's declared application/json content",
    applies=_labelled_json,
)
def check_body_json(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    assert ex.response is not None
    if response_json(ex.response) is NO_JSON:
        err = json_error(ex.response) or "body is not JSON"
        yield Finding(
            f"the body is labelled {ex.response.content_type} but {err}; "
            f"body starts {shorten(ex.response.text[:200])}",
            path="body",
            value=err,
        )


def _non_streamed_success(ctx: RuleContext, ex: Exchange) -> bool:
    return is_2xx(ex) and not stream_requested(ex)


@rule(
    "CONTENT-TYPE-JSON",
    "schema",
    "A successful non-streamed response has Content-Type application/json (a charset parameter is allowed).",
    "2025-04-01#/paths/~1chat~1completions/post/responses/200/content (application/json only)",
    applies=_non_streamed_success,
)
def check_content_type_json(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    assert ex.response is not None
    ct = ex.response.content_type
    if ct == "application/json":
        return
    declared = _declared_media_types(ctx, ex)
    if declared and "application/json" not in declared and ct in declared:
        return  # e.g. Azure OpenAI audio operations also declare text/plain
    raw = ex.response.header("content-type")
    yield Finding(
        f"a successful non-streamed answer has Content-Type {raw!r}, expected application/json"
        + (" (the request did not ask for stream: true)" if ct == "text/event-stream" else ""),
        path="header:content-type",
        value=shorten(raw),
    )


def _declared_media_types(ctx: RuleContext, ex: Exchange) -> tuple[str, ...]:
    if ex.operation_id is None or ex.response is None:
        return ()
    try:
        op = ctx.spec.operation(ex.operation_id)
    except (KeyError, AttributeError):
        return ()
    status = str(ex.response.status)
    for key in (status, status[0] + "XX", "default"):
        if key in op.responses:
            return tuple(op.responses[key])
    return ()


def _has_response(ctx: RuleContext, ex: Exchange) -> bool:
    return ex.response is not None


@rule(
    "NO-SERVER-ERROR",
    "errors",
    "The service never answers 5xx: schema-invalid requests are answered 400/422, never 5xx.",
    'REST reference: "A specific error is returned on those cases where the model can\'t support a '
    'specific parameter" (422); RFC 9110 §15.6: 5xx means the server failed to fulfil a valid request',
    applies=_has_response,
)
def check_no_server_error(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    assert ex.response is not None
    status = ex.response.status
    if status >= 500:
        yield Finding(
            f"the service answered {status} (a server error) to {ex.request.method} {ex.request.path}; "
            f"body starts {shorten(ex.response.text[:200])}",
            path="status",
            value=str(status),
        )
