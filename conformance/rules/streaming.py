"""Streaming rules: the event-stream framing and the chunk sequence of a streamed answer.

Paths inside a stream are written `event[i]$.json.path`, where `i` is the position of the event in
`StreamTranscript.events` (0-based, counting every dispatched event, `[DONE]` included); paths about
the stream as a whole are `stream` or `stream:trailing`. Errata match them with globs such as
`*$.object`.

Rules judging chunk *content* apply to any `text/event-stream` answer; STREAM-CONTENT-TYPE applies
to answers to `stream: true`; rules about how a stream ends apply only when it ended by itself
(a stream cut by the suite's limits is reported once, by STREAM-COMPLETE).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from conformance.rules._model import Finding, Level, RuleContext
from conformance.rules.registry import rule
from conformance.rules.schema_rules import NULL_FOR_ABSENT, issue_finding, null_absent_issues
from conformance.rules.views import chunks, is_2xx, is_int, request_json, stream_requested, transcript
from conformance.text import shorten
from conformance.transport.exchange import Exchange, SSEEvent, StreamTranscript
from conformance.transport.sse import SSEParser

WHATWG = "WHATWG HTML §9.2 Server-sent events (event-stream interpretation)"
SDK = "azure-ai-inference SDK: BaseStreamingChatCompletions accepts only lines starting 'data: '"


def _raw(text: str, limit: int = 160) -> str:
    """Event data as the wire had it (not re-encoded as a JSON string), bounded."""
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _stream(ex: Exchange) -> StreamTranscript | None:
    return transcript(ex) if ex.response is not None else None


def _completed(ts: StreamTranscript) -> bool:
    return ts.cut_reason is None and ts.closed_normally


def _choice_chunks(ts: StreamTranscript) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(event index, position in choices, choice) for every choice object of every chunk."""
    for i, chunk in chunks(ts):
        if isinstance(chunk, dict) and isinstance(chunk.get("choices"), list):
            for pos, ch in enumerate(chunk["choices"]):
                if isinstance(ch, dict):
                    yield i, pos, ch


def _stream_asked_ok(ctx: RuleContext, ex: Exchange) -> bool:
    return is_2xx(ex) and stream_requested(ex)


@rule(
    "STREAM-CONTENT-TYPE",
    "streaming",
    "A successful answer to a request with stream: true is a text/event-stream.",
    "2025-04-01#/components/schemas/ChatCompletionsOptions/properties/stream",
    applies=_stream_asked_ok,
)
def check_stream_content_type(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    assert ex.response is not None
    if ex.response.content_type != "text/event-stream":
        raw = ex.response.header("content-type")
        yield Finding(
            f"the request asked for stream: true and got {ex.response.status} with Content-Type {raw!r} "
            "instead of text/event-stream",
            path="header:content-type",
            value=shorten(raw),
        )


def _is_stream(ctx: RuleContext, ex: Exchange) -> bool:
    return _stream(ex) is not None


@rule(
    "STREAM-FRAMING",
    "streaming",
    "Every event's data is one JSON document, except the terminating [DONE]; the stream is valid "
    "UTF-8 without NUL or other framing defects.",
    WHATWG,
    applies=_is_stream,
)
def check_stream_framing(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    ts = _stream(ex)
    assert ts is not None
    for issue in ts.framing_issues:
        yield Finding(f"event-stream framing defect: {issue}", path="stream", value=shorten(issue))
    decoded = {i for i, _ in chunks(ts)}  # cached per transcript: no second json.loads of good events
    for i, ev in enumerate(ts.events):
        if i in decoded:
            continue
        why = _not_one_document(ev.data)
        if why is not None:
            yield Finding(f"event {i}'s data is {why}", path=f"event[{i}]", value=_raw(ev.data))
    # Data never followed by a blank line is never dispatched (WHATWG discards it at the end of the
    # stream): events separated by a single newline all end up here, merged into one event. After a
    # [DONE], STREAM-DONE reports trailing bytes; a stream cut short is STREAM-COMPLETE's alone.
    if _completed(ts) and ts.trailing.strip() and not any(ev.data == "[DONE]" for ev in ts.events):
        for ev in _unterminated(ts.trailing):
            why = _not_one_document(ev.data)
            if why is not None:
                yield Finding(
                    f"the stream ends with an event no blank line terminates (a client discards it), and its "
                    f"data is {why}",
                    path="stream:trailing",
                    value=_raw(ev.data),
                )


def _not_one_document(data: str) -> str | None:
    """Why an event's data is not one JSON document (None when it is, or is [DONE] / empty)."""
    if data in ("", "[DONE]"):
        return None
    try:
        json.loads(data)
        return None
    except (ValueError, RecursionError) as exc:
        lines = data.split("\n")
        if len(lines) > 1 and all(_is_json(line) or line == "[DONE]" for line in lines):
            return (f"{len(lines)} data lines merged into one event ({len(lines)} JSON documents joined by \\n): "
                    "events must be separated by a blank line")
        return f"not one JSON document ({exc})"


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _unterminated(trailing: str) -> list[SSEEvent]:
    """The event(s) the unterminated tail would make if a blank line ended it (the one SSE parser)."""
    parser = SSEParser()
    parser.feed(trailing.encode("utf-8", errors="replace") + b"\n\n")
    return parser.close().events


def _completed_stream(ctx: RuleContext, ex: Exchange) -> bool:
    ts = _stream(ex)
    return ts is not None and _completed(ts)


@rule(
    "STREAM-DONE",
    "streaming",
    "The last event is `data: [DONE]` and nothing follows it.",
    "azure-ai-inference SDK: stops at 'data: [DONE]'; OpenAI-compatible stream termination",
    applies=_completed_stream,
)
def check_stream_done(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    ts = _stream(ex)
    assert ts is not None
    done_at = [i for i, ev in enumerate(ts.events) if ev.data == "[DONE]"]
    if not done_at:
        last = ts.events[-1].data if ts.events else None
        hint = " (an unterminated `data: [DONE]` is in the trailing bytes)" if "[DONE]" in ts.trailing else ""
        yield Finding(
            f"the stream ended without a `data: [DONE]` event{hint}",
            path=f"event[{len(ts.events) - 1}]" if ts.events else "stream",
            value=_raw(last) if last is not None else None,
        )
    elif done_at[0] != len(ts.events) - 1:
        after = ts.events[done_at[0] + 1]
        yield Finding(
            f"{len(ts.events) - 1 - done_at[0]} event(s) follow `data: [DONE]` (event {done_at[0]})",
            path=f"event[{done_at[0] + 1}]",
            value=_raw(after.data),
        )
    if done_at and ts.trailing.strip():
        yield Finding(
            "bytes follow the last event (an unterminated event after `data: [DONE]`)",
            path="stream:trailing",
            value=_raw(ts.trailing),
        )


@rule(
    "STREAM-COMPLETE",
    "streaming",
    "The stream ends by itself within the suite's time, size and event bounds.",
    WHATWG + "; the suite's configured limits",
    applies=_is_stream,
)
def check_stream_complete(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    ts = _stream(ex)
    assert ts is not None
    if not _completed(ts):
        why = ts.cut_reason or "the connection did not close normally"
        yield Finding(
            f"the stream did not end by itself: {why} after {len(ts.events)} event(s), {ts.raw_size} bytes",
            path="stream",
            value=shorten(why),
        )


#: Azure OpenAI content-filter annotation messages (Azure OpenAI docs, "Content streaming"): the
#: prompt-filter opener and the asynchronous filter's annotation chunks.
PROMPT_FILTER_CHUNK = "aoai-prompt-filter-chunk"
FILTER_ANNOTATION_CHUNK = "aoai-filter-annotation-chunk"
#: Where the documented parts of an annotation message are defined in the Azure OpenAI chunk spec.
_ANNOTATION_SCHEMAS = {
    "prompt_filter_results": "#/components/schemas/promptFilterResults",
    "prompt_annotations": "#/components/schemas/promptFilterResults",
    "content_filter_results": "#/components/schemas/contentFilterChoiceResults",
}


def annotation_kind(chunk: Any) -> str | None:
    """Which Azure OpenAI annotation message a chunk is, if any.

    Both carry `id: ""` and no answer material: the opener has no choices and `prompt_filter_results`
    (`prompt_annotations` in older api-versions); an annotation chunk has choices that carry only
    `content_filter_results` / `content_filter_offsets` (no delta, or an empty one), before or after the
    stop chunk. Documented in the Azure OpenAI "Content streaming" article ("Prompt annotation message",
    "Annotation message").
    """
    if not isinstance(chunk, dict) or chunk.get("id") not in ("", None):
        return None
    choices = chunk.get("choices")
    if not choices:
        return PROMPT_FILTER_CHUNK if "prompt_filter_results" in chunk or "prompt_annotations" in chunk else None
    if isinstance(choices, list) and all(
        isinstance(ch, dict) and not _has_payload(ch)
        and ("content_filter_results" in ch or "content_filter_offsets" in ch)
        for ch in choices
    ):
        return FILTER_ANNOTATION_CHUNK
    return None


@rule(
    "STREAM-CHUNK-SCHEMA",
    "streaming",
    "Every streamed chunk validates against the streamed-update schema.",
    "2025-04-01#/components/schemas/StreamingChatCompletionsUpdate",
    applies=_is_stream,
)
def check_stream_chunk_schema(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    ts = _stream(ex)
    assert ts is not None
    if ex.operation_id is None:
        return
    found = ctx.spec.stream_chunk_spec(ex.operation_id)
    if found is None:
        return
    spec, pointer = found
    for i, chunk in chunks(ts):
        kind = annotation_kind(chunk)
        prefix = f"event[{i}]"
        if kind is not None and ctx.api == "azure-openai":
            # Documented Azure OpenAI messages, not completion chunks: judged by their documented parts.
            yield from _annotation_findings(spec, chunk, kind, prefix)
            continue
        issues = spec.validate(pointer, chunk)
        tagged = null_absent_issues(issues, chunk, lambda doc: spec.validate(pointer, doc))
        for issue in issues:
            f = issue_finding(issue, path_prefix=prefix)
            if kind is not None:
                f.variant = kind
            elif (issue.path, issue.keyword, issue.message) in tagged:
                f.variant = NULL_FOR_ABSENT
            yield f


def _annotation_findings(spec: Any, chunk: dict[str, Any], kind: str, prefix: str) -> Iterator[Finding]:
    """The filter results of an Azure OpenAI annotation message, against the spec's filter schemas."""
    names = set((spec.raw.get("components") or {}).get("schemas") or {})
    parts: list[tuple[str, Any, str]] = []
    for key in ("prompt_filter_results", "prompt_annotations"):
        if key in chunk:
            parts.append((f"$.{key}", chunk[key], _ANNOTATION_SCHEMAS[key]))
    for pos, ch in enumerate(chunk.get("choices") or []):
        if isinstance(ch, dict) and "content_filter_results" in ch:
            parts.append((f"$.choices[{pos}].content_filter_results", ch["content_filter_results"],
                           _ANNOTATION_SCHEMAS["content_filter_results"]))
    for where, value, pointer in parts:
        if pointer.rsplit("/", 1)[-1] not in names:
            continue
        for issue in spec.validate(pointer, value):
            f = issue_finding(issue, path_prefix=prefix)
            f.path = prefix + where + issue.path[1:]
            f.variant = kind
            yield f


@rule(
    "STREAM-SAME-ID",
    "streaming",
    "Every chunk of one stream carries the same id.",
    "2025-04-01#/components/schemas/StreamingChatCompletionsUpdate/properties/id",
    applies=_is_stream,
)
def check_stream_same_id(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    ts = _stream(ex)
    assert ts is not None
    objs = [(i, c, annotation_kind(c)) for i, c in chunks(ts) if isinstance(c, dict)]
    ids = Counter(c.get("id") for _, c, kind in objs if kind is None)
    if not ids:
        return
    # The stream's id is the one most chunks carry, so one odd chunk is blamed, not all the others.
    main, count = ids.most_common(1)[0]
    for i, c, kind in objs:
        cid = c.get("id", "<absent>")
        if cid == main or (kind is not None and ctx.api == "azure-openai"):
            continue  # Azure OpenAI's annotation messages are documented with id "": not completion chunks
        yield Finding(
            f"event {i} has id {shorten(cid)} while {count} other chunk(s) have id {shorten(main)}",
            path=f"event[{i}]$.id",
            value=shorten(cid),
            variant=kind,
        )


@rule(
    "STREAM-FIRST-ROLE",
    "streaming",
    "A delta's role, where present, is 'assistant'.",
    "2025-04-01#/components/schemas/StreamingChatResponseMessageUpdate/properties/role",
    applies=_is_stream,
)
def check_stream_role(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    ts = _stream(ex)
    assert ts is not None
    for i, pos, ch in _choice_chunks(ts):
        delta = ch.get("delta")
        if isinstance(delta, dict) and delta.get("role") is not None and delta["role"] != "assistant":
            yield Finding(
                f"a delta carries role {shorten(delta['role'])}; a streamed answer's role is 'assistant'",
                path=f"event[{i}]$.choices[{pos}].delta.role",
                value=shorten(delta["role"]),
            )


def _has_payload(ch: dict[str, Any]) -> bool:
    """Whether a choice update carries answer material (not just filter annotations)."""
    delta = ch.get("delta")
    if isinstance(delta, dict) and any(delta.get(k) not in (None, "", []) for k in
                                       ("content", "tool_calls", "reasoning_content", "refusal", "audio")):
        return True
    return ch.get("text") not in (None, "")


@rule(
    "STREAM-FINISH-REASON",
    "streaming",
    "Each choice gets exactly one non-null finish_reason, and no content follows it.",
    "2025-04-01#/components/schemas/StreamingChatChoiceUpdate/properties/finish_reason",
    applies=_completed_stream,
)
def check_stream_finish_reason(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    ts = _stream(ex)
    assert ts is not None
    finishes: dict[int, list[tuple[int, int, Any]]] = {}
    payload_after: dict[int, tuple[int, int]] = {}
    for i, pos, ch in _choice_chunks(ts):
        idx = ch["index"] if is_int(ch.get("index")) else pos
        finishes.setdefault(idx, [])
        if finishes[idx] and _has_payload(ch) and idx not in payload_after:
            payload_after[idx] = (i, pos)
        if ch.get("finish_reason") is not None:
            finishes[idx].append((i, pos, ch["finish_reason"]))
    for idx, fins in sorted(finishes.items()):
        if not fins:
            yield Finding(
                f"choice {idx} never received a non-null finish_reason before the stream ended",
                path=f"stream$.choices[{idx}].finish_reason",
                value="null",
            )
            continue
        for i, pos, reason in fins[1:]:
            yield Finding(
                f"choice {idx} received a second finish_reason {shorten(reason)} "
                f"(the first was {shorten(fins[0][2])} at event {fins[0][0]})",
                path=f"event[{i}]$.choices[{pos}].finish_reason",
                value=shorten(reason),
            )
        if idx in payload_after:
            i, pos = payload_after[idx]
            yield Finding(
                f"choice {idx} got more content at event {i} after its finish_reason at event {fins[0][0]}",
                path=f"event[{i}]$.choices[{pos}].delta",
                value=_raw(ts.events[i].data),
            )


@rule(
    "STREAM-USAGE-SUM",
    "streaming",
    "Usage in a chunk, where present, adds up: total_tokens == prompt_tokens + completion_tokens.",
    "2025-04-01#/components/schemas/CompletionsUsage/properties/total_tokens",
    applies=_is_stream,
)
def check_stream_usage_sum(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    ts = _stream(ex)
    assert ts is not None
    # Every usage object present must add up on its own; usages are never summed across chunks
    # (the final one is the answer's usage, earlier ones, if any, are running totals).
    for i, chunk in chunks(ts):
        usage = chunk.get("usage") if isinstance(chunk, dict) else None
        if not isinstance(usage, dict):
            continue
        p, c, t = (usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens"))
        if is_int(p) and is_int(c) and is_int(t) and t != p + c:
            yield Finding(
                f"usage.total_tokens is {t} but prompt_tokens + completion_tokens = {p} + {c} = {p + c}",
                path=f"event[{i}]$.usage.total_tokens",
                value=str(t),
            )


@rule(
    "STREAM-CONTENT-STRING",
    "streaming",
    "Every delta content piece (completions: every text piece) is a string (or null), so the pieces "
    "concatenate to the answer.",
    "2025-04-01#/components/schemas/StreamingChatResponseMessageUpdate/properties/content; 2024-04-01-preview "
    "Completions_Create 200 choices[].text",
    applies=_is_stream,
)
def check_stream_content_string(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    ts = _stream(ex)
    assert ts is not None
    for i, pos, ch in _choice_chunks(ts):
        if "text" in ch and not isinstance(ch["text"], (str, type(None))):  # completions streams
            yield Finding(
                f"a choice's text piece is a {type(ch['text']).__name__}, not a string: the pieces cannot be "
                "concatenated into the answer",
                path=f"event[{i}]$.choices[{pos}].text",
                value=shorten(ch["text"]),
            )
        delta = ch.get("delta")
        if isinstance(delta, dict) and "content" in delta and not isinstance(delta["content"], (str, type(None))):
            yield Finding(
                f"a delta's content is a {type(delta['content']).__name__}, not a string: the pieces "
                "cannot be concatenated into the answer",
                path=f"event[{i}]$.choices[{pos}].delta.content",
                value=shorten(delta["content"]),
            )


def _usage_asked(ex: Exchange) -> bool:
    options = request_json(ex).get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _completed_with_usage_asked(ctx: RuleContext, ex: Exchange) -> bool:
    return is_2xx(ex) and _usage_asked(ex) and _completed_stream(ctx, ex)


@rule(
    "STREAM-INCLUDE-USAGE",
    "streaming",
    "With stream_options.include_usage true, a chunk before [DONE] carries the usage of the whole request.",
    '2024-10-21#/components/schemas/chatCompletionStreamOptions/properties/include_usage: "If set, an additional '
    'chunk will be streamed before the data: [DONE] message. The usage field on this chunk shows the token usage '
    'statistics for the entire request"',
    applies=_completed_with_usage_asked,
    api="azure-openai",
)
def check_stream_include_usage(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    ts = _stream(ex)
    assert ts is not None
    # Where the usage comes (an extra chunk with no choices, or the last content chunk as Mistral
    # sends it) is the service's choice; that it comes is what the option promises.
    if not any(isinstance(c, dict) and isinstance(c.get("usage"), dict) for _, c in chunks(ts)):
        yield Finding(
            f"stream_options.include_usage was true but none of the {len(ts.events)} events carries a usage object",
            path="stream",
            value=None,
        )


@rule(
    "STREAM-SDK-INTEROP",
    "interop",
    "The stream uses only `data: ` lines and \\n line endings, which the official SDK can read.",
    SDK,
    level=Level.WARNING,
    applies=_is_stream,
    api="model-inference",  # the azure-ai-inference SDK's reader; the openai SDK reads any valid SSE
)
def check_stream_sdk_interop(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    ts = _stream(ex)
    assert ts is not None
    client = "the azure-ai-inference Python SDK (it raises ValueError 'SSE event not supported')"
    seen: set[str] = set()

    def once(kind: str, message: str, path: str, value: str | None) -> Iterator[Finding]:
        if kind not in seen:
            seen.add(kind)
            yield Finding(f"{message}: valid SSE, but breaks {client}",
                          path=path, value=value, variant=kind)

    endings = ts.line_endings - {"\n"}
    if endings:
        yield from once("line-endings", f"lines end with {sorted(endings)!r}, not \\n", "stream",
                        shorten(sorted(endings)))
    for i, ev in enumerate(ts.events):
        if ev.comments:
            yield from once("comment", "the stream sends SSE comment lines (':' ...)", f"event[{i}]",
                            shorten(ev.comments[0]))
        if ev.other_fields:
            yield from once("field", f"the stream sends SSE fields other than data: {ev.other_fields}",
                            f"event[{i}]", shorten(ev.other_fields))
        if ev.nonstandard_prefix:
            yield from once("data-prefix", "a data line does not start with 'data: ' (one space)",
                            f"event[{i}]", _raw(ev.data, 80))
        if "\n" in ev.data:
            yield from once("multiline-data", "an event spreads its data over several data: lines",
                            f"event[{i}]", _raw(ev.data, 80))
