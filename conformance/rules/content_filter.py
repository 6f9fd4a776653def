"""Azure OpenAI content-filter annotations and the content-filter error's inner error.

The vendored schemas know the categories of their api-version only, under the spec's spellings;
the service documents more (jailbreak, indirect_attack, protected material with citations, custom
blocklists in two forms, custom topics, ungrounded material, a filter `error`) and sends
`content_filter_result` / `innererror` where the spec says `content_filter_results` / `inner_error`.
These rules judge every documented form wherever the service puts it, and accept categories they
do not know (the list keeps growing).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance.rules._model import Finding, Level, RuleContext
from conformance.rules.registry import rule
from conformance.rules.views import chunks, is_int, is_json_number, response_json, transcript
from conformance.text import shorten
from conformance.transport.exchange import Exchange

ANNOTATIONS = "https://learn.microsoft.com/azure/ai-services/openai/concepts/content-filter-annotations"
SEVERITY = frozenset({"hate", "sexual", "violence", "self_harm"})
DETECTION = frozenset({"jailbreak", "indirect_attack", "profanity", "protected_material_text",
                       "protected_material_code", "ungrounded_material"})
RAI = "ResponsibleAIPolicyViolation"


#: The keys a results object hangs under: the spec's spelling and the service's.
_RESULT_KEYS = ("content_filter_results", "content_filter_result")


def _annotation_objects(doc: Any, prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(JSON path, results object) of every annotation in a response body or chunk."""
    if not isinstance(doc, dict):
        return
    for key in ("prompt_filter_results", "prompt_annotations"):
        items = doc.get(key)
        for j, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict):
                yield from _results_of(item, f"{prefix}$.{key}[{j}]")
    choices = doc.get("choices")
    for j, ch in enumerate(choices if isinstance(choices, list) else []):
        if isinstance(ch, dict):
            yield from _results_of(ch, f"{prefix}$.choices[{j}]")
    err = doc.get("error")
    if isinstance(err, dict):
        for key in ("innererror", "inner_error"):
            if isinstance(err.get(key), dict):
                yield from _results_of(err[key], f"{prefix}$.error.{key}")


def _results_of(holder: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for key in _RESULT_KEYS:
        if isinstance(holder.get(key), dict):
            yield f"{path}.{key}", holder[key]


def _flag(value: Any, name: str, path: str) -> tuple[str, Any] | None:
    if not isinstance(value, dict):
        return f"{path}", value
    if not isinstance(value.get(name), bool):
        return f"{path}.{name}", value.get(name)
    return None


def _list_of(items: Any, flag: str, path: str) -> tuple[str, Any] | None:
    if not isinstance(items, list):
        return path, items
    for j, item in enumerate(items):
        bad = _flag(item, flag, f"{path}[{j}]")
        if bad is None and not isinstance(item.get("id"), str):
            bad = f"{path}[{j}].id", item.get("id")
        if bad is not None:
            return bad
    return None


def category_problem(name: str, value: Any, path: str) -> tuple[str, Any] | None:
    """(path, offending value) when a documented category is not in its documented form."""
    if name in SEVERITY:
        return _flag(value, "filtered", path) or (
            None if isinstance(value.get("severity"), str) else (f"{path}.severity", value.get("severity")))
    if name in DETECTION:
        bad = _flag(value, "filtered", path) or _flag(value, "detected", path)
        if bad is not None:
            return bad
        citation = value.get("citation")
        if citation is not None and (not isinstance(citation, dict) or any(
                citation.get(k) is not None and not isinstance(citation.get(k), str) for k in ("URL", "license"))):
            return f"{path}.citation", citation
        spans = value.get("details")
        if name == "ungrounded_material" and spans is not None and not _spans(spans):
            return f"{path}.details", spans
        return None
    if name == "custom_blocklists":
        if isinstance(value, list):  # the older documented form: [{filtered, id}]
            return _list_of(value, "filtered", path)
        return _flag(value, "filtered", path) or _list_of(value.get("details"), "filtered", f"{path}.details")
    if name == "custom_topics":
        return _flag(value, "filtered", path) or _list_of(value.get("details"), "detected", f"{path}.details")
    if name == "error" and not (isinstance(value, dict) and isinstance(value.get("message"), str)
                                and (isinstance(value.get("code"), str) or is_json_number(value.get("code")))):
        return path, value
    return None


def _spans(spans: Any) -> bool:
    """Ungrounded-material details: text spans with integer offsets."""
    keys = ("completion_start_offset", "completion_end_offset")
    return isinstance(spans, list) and all(isinstance(s, dict) and all(is_int(s.get(k)) for k in keys) for s in spans)


def _documents(ex: Exchange) -> Iterator[tuple[str, Any]]:
    """(path prefix, document): the JSON body, or every chunk of a stream."""
    ts = transcript(ex)
    if ts is not None:
        for i, chunk in chunks(ts):
            yield f"event[{i}]", chunk
        return
    assert ex.response is not None
    yield "", response_json(ex.response)


def _annotated(ctx: RuleContext, ex: Exchange) -> bool:
    """The answer carries content filter annotations (a pass means annotations were judged)."""
    if ex.response is None or ex.response.truncated:
        return False
    return any(True for prefix, doc in _documents(ex) for _ in _annotation_objects(doc, prefix))


@rule(
    "AOAI-FILTER-ANNOTATIONS",
    "content-filter",
    "Every content filter annotation (prompt_filter_results, choices, stream chunks, the error's inner error) "
    "gives each documented category its documented form: severity categories {filtered, severity}, detections "
    "{filtered, detected} (protected_material_code may cite {URL, license}, ungrounded_material may list text "
    "spans), custom_blocklists {filtered, details[{filtered, id}]} or [{filtered, id}], custom_topics "
    "{filtered, details[{detected, id}]}, error {code, message}. Unknown categories are accepted.",
    f"2024-04-01-preview#/components/schemas/contentFilterPromptResults, contentFilterChoiceResults; {ANNOTATIONS}",
    api="azure-openai",
    applies=_annotated,
)
def check_annotations(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    for prefix, doc in _documents(ex):
        for path, results in _annotation_objects(doc, prefix):
            for name, value in results.items():
                bad = category_problem(name, value, f"{path}.{name}")
                if bad is not None:
                    where, shown = bad
                    yield Finding(f"content filter category {name!r} is not in its documented form", path=where,
                                  value=shorten(shown))


def _content_filter_error(ex: Exchange) -> dict[str, Any] | None:
    if ex.response is None or not 400 <= ex.response.status < 500:
        return None
    body = response_json(ex.response)
    err = body.get("error") if isinstance(body, dict) else None
    return err if isinstance(err, dict) and err.get("code") == "content_filter" else None


def _is_content_filter_error(ctx: RuleContext, ex: Exchange) -> bool:
    return _content_filter_error(ex) is not None


def _any_filtered(node: Any, depth: int = 0) -> bool:
    if depth > 6:
        return False
    if isinstance(node, dict):
        return node.get("filtered") is True or any(_any_filtered(v, depth + 1) for v in node.values())
    if isinstance(node, list):
        return any(_any_filtered(v, depth + 1) for v in node)
    return False


@rule(
    "AOAI-CONTENT-FILTER-INNER",
    "content-filter",
    "A content_filter error carries an inner error (innererror or inner_error) with code "
    "ResponsibleAIPolicyViolation and the filter results (content_filter_result or content_filter_results), "
    "at least one of them filtered.",
    "2024-04-01-preview#/components/schemas/innerError (inner_error: code, content_filter_results); the service "
    "sends innererror / content_filter_result (real-service-behaviour §5.3)",
    api="azure-openai",
    applies=_is_content_filter_error,
)
def check_inner_error(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    err = _content_filter_error(ex)
    assert err is not None
    key = next((k for k in ("innererror", "inner_error") if k in err), None)
    if key is None:
        yield Finding("the content_filter error has no inner error, so a client cannot "
                      "tell which category blocked the prompt", path="$.error", value=shorten(sorted(err)),
                      level=Level.WARNING, variant="no-inner-error")
        return
    inner = err[key]
    path = f"$.error.{key}"
    if not isinstance(inner, dict):
        yield Finding(f"{key} is not an object", path=path, value=shorten(inner))
        return
    code = inner.get("code")
    if not isinstance(code, str):
        yield Finding(f"{key}.code is {shorten(code)}, expected {RAI!r}",
                      path=f"{path}.code", value=shorten(code))
    elif code != RAI:
        # innerErrorCode is an open enum (x-ms-enum modelAsString): another string is allowed, but unexpected.
        yield Finding(f"{key}.code is {code!r}, not {RAI!r}", path=f"{path}.code",
                      value=shorten(code), level=Level.WARNING, variant="other-code")
    rkey = next((k for k in _RESULT_KEYS if k in inner), None)
    if rkey is None:
        yield Finding(f"{key} does not say which category was filtered (no "
                      "content_filter_result)", path=path, value=shorten(sorted(inner)), level=Level.WARNING,
                      variant="no-results")
    elif not _any_filtered(inner[rkey]):
        yield Finding("the prompt was refused by the content filter but no category "
                      "of its results says filtered: true", path=f"{path}.{rkey}", value=shorten(inner[rkey]))
