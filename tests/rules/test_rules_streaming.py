"""Streaming rules, each both ways, on streams parsed by the real SSE parser."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance.rules._model import Level
from conformance.transport.sse import SSEParser
from tests.rules.helpers import applied, exchange, judge, of, sse_of

REQ = {"messages": [{"role": "user", "content": "Hi"}], "stream": True}


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": "c1", "object": "chat.completion", "created": 1735689600, "model": "m"}
    base["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    base.update(top)
    return base


GOOD = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Hel"}),
    chunk({"content": "lo"}),
    chunk({}, "stop", usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}),
]


def stream_ex(text: str | bytes, request: dict[str, Any] | None = None, **kw: Any):  # type: ignore[no-untyped-def]
    return exchange(request=request or REQ, sse=text, **kw)


def test_conformant_stream_has_no_findings_and_all_stream_rules_apply() -> None:
    ex = stream_ex(sse_of(*GOOD))
    assert judge(ex) == []
    rules = set(applied(ex))
    assert {
        "STREAM-CONTENT-TYPE",
        "STREAM-FRAMING",
        "STREAM-DONE",
        "STREAM-COMPLETE",
        "STREAM-CHUNK-SCHEMA",
        "STREAM-SAME-ID",
        "STREAM-FIRST-ROLE",
        "STREAM-FINISH-REASON",
        "STREAM-USAGE-SUM",
        "STREAM-CONTENT-STRING",
        "STREAM-SDK-INTEROP",
    } <= rules
    assert "SCHEMA-RESPONSE" not in rules and "CONTENT-TYPE-JSON" not in rules


def test_stream_content_type() -> None:
    body = {"id": "c1", "object": "chat.completion", "created": 1735689600, "model": "m", "choices": []}
    [f] = of(judge(exchange(request=REQ, body=body)), "STREAM-CONTENT-TYPE")
    assert (
        f.path == "header:content-type"
        and f.value == '"application/json"'
        and "text/event-stream" in f.message
    )
    refused = exchange(request=REQ, status=400, body={"error": {"code": "x", "message": "no streaming"}})
    assert "STREAM-CONTENT-TYPE" not in applied(refused)


def test_stream_framing_flags_non_json_data_and_parser_issues() -> None:
    [f] = of(judge(stream_ex(sse_of(GOOD[0], "{not json", *GOOD[1:]))), "STREAM-FRAMING")
    assert f.path == "event[1]" and f.value == "{not json" and "not one JSON document" in f.message
    nul = of(judge(stream_ex(sse_of(*GOOD).encode().replace(b"Hel", b"H\x00l"))), "STREAM-FRAMING")
    bad_utf8 = of(judge(stream_ex(sse_of(*GOOD).encode().replace(b"Hel", b"H\xffl"))), "STREAM-FRAMING")
    assert bad_utf8 and bad_utf8[0].path == "stream" and "framing defect" in bad_utf8[0].message
    assert nul  # NUL is either a parser framing issue or breaks the JSON document


def test_stream_done_missing_after_and_trailing() -> None:
    [missing] = of(judge(stream_ex(sse_of(*GOOD, done=False))), "STREAM-DONE")
    assert missing.path == "event[3]" and "without a `data: [DONE]`" in missing.message
    [after] = of(judge(stream_ex(sse_of(*GOOD) + sse_of(GOOD[1], done=False))), "STREAM-DONE")
    assert (
        after.path == "event[5]" and "follow `data: [DONE]`" in after.message and "Hel" in (after.value or "")
    )
    [unterminated] = of(judge(stream_ex(sse_of(*GOOD, done=False) + "data: [DONE]\n")), "STREAM-DONE")
    assert "trailing bytes" in unterminated.message
    [trailing] = of(judge(stream_ex(sse_of(*GOOD) + "data: {")), "STREAM-DONE")
    assert trailing.path == "stream:trailing" and "data: {" in (trailing.value or "")


def test_stream_complete_reports_a_cut_stream_once() -> None:
    parser = SSEParser(max_events=2)
    parser.feed(sse_of(*GOOD).encode())
    ex = stream_ex(sse_of(*GOOD))
    assert ex.response is not None
    ex.response.stream = parser.close()
    found = judge(ex)
    [f] = of(found, "STREAM-COMPLETE")
    assert f.path == "stream" and "max_events" in (f.value or "") and "did not end by itself" in f.message
    assert of(found, "STREAM-DONE") == [] and of(found, "STREAM-FINISH-REASON") == []
    ex.response.stream = SSEParser().close(cut_reason="timeout")
    [t] = of(judge(ex), "STREAM-COMPLETE")
    assert t.value == '"timeout"'


def test_stream_chunk_schema_prefixes_the_event_index() -> None:
    bad = [GOOD[0], chunk({"content": "x"}, object="chat.completion.chunk"), *GOOD[2:]]
    strict = of(judge(stream_ex(sse_of(*bad)), profile="strict"), "STREAM-CHUNK-SCHEMA")
    [f] = [f for f in strict if f.level == Level.VIOLATION]
    assert f.path == "event[1]$.object" and f.value == '"chat.completion.chunk"' and f.keyword == "enum"
    [w] = of(judge(stream_ex(sse_of(*bad)), profile="azure"), "STREAM-CHUNK-SCHEMA")
    assert w.level == Level.WARNING and (w.erratum or "").startswith("C-OPENAI-WIRE-SHAPES")
    typed = [GOOD[0], chunk({"content": "x"}, created="yesterday"), *GOOD[2:]]
    [t] = of(judge(stream_ex(sse_of(*typed)), profile="azure"), "STREAM-CHUNK-SCHEMA")
    assert t.level == Level.VIOLATION and t.path == "event[1]$.created"


AOAI_OPENER = {
    "id": "",
    "object": "",
    "created": 0,
    "model": "",
    "choices": [],
    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
}


def test_stream_same_id() -> None:
    [f] = of(judge(stream_ex(sse_of(GOOD[0], chunk({"content": "x"}, id="c2"), *GOOD[2:]))), "STREAM-SAME-ID")
    assert f.path == "event[1]$.id" and f.value == '"c2"' and '"c1"' in f.message
    opener = of(judge(stream_ex(sse_of(AOAI_OPENER, *GOOD)), profile="azure"), "STREAM-SAME-ID")
    assert [(x.variant, x.level) for x in opener] == [("aoai-prompt-filter-chunk", Level.WARNING)]
    strict = of(judge(stream_ex(sse_of(AOAI_OPENER, *GOOD)), profile="strict"), "STREAM-SAME-ID")
    assert strict[0].level == Level.VIOLATION


def test_stream_role() -> None:
    [f] = of(judge(stream_ex(sse_of(chunk({"role": "user", "content": ""}), *GOOD[1:]))), "STREAM-FIRST-ROLE")
    assert f.path == "event[0]$.choices[0].delta.role" and f.value == '"user"' and "assistant" in f.message
    repeated = [GOOD[0], chunk({"role": "assistant", "content": "x"}), *GOOD[2:]]  # Ollama style: fine
    assert of(judge(stream_ex(sse_of(*repeated))), "STREAM-FIRST-ROLE") == []


def test_stream_finish_reason() -> None:
    [none] = of(judge(stream_ex(sse_of(*GOOD[:3]))), "STREAM-FINISH-REASON")
    assert none.path == "stream$.choices[0].finish_reason" and "never received" in none.message
    twice = [*GOOD[:3], chunk({}, "length"), GOOD[3]]
    [dup] = of(judge(stream_ex(sse_of(*twice))), "STREAM-FINISH-REASON")
    assert (
        dup.path == "event[4]$.choices[0].finish_reason" and dup.value == '"stop"' and "second" in dup.message
    )
    late = [GOOD[0], chunk({"content": "a"}, "stop"), chunk({"content": "b"})]
    [after] = of(judge(stream_ex(sse_of(*late))), "STREAM-FINISH-REASON")
    assert after.path == "event[2]$.choices[0].delta" and "after its finish_reason" in after.message
    # Content and finish_reason in one chunk, then a filter-annotation chunk: both fine.
    ok = [GOOD[0], chunk({"content": "a"}, "stop"), chunk({}, None, usage=None)]
    assert of(judge(stream_ex(sse_of(*ok))), "STREAM-FINISH-REASON") == []


def test_stream_usage_sum() -> None:
    bad = [
        *GOOD[:3],
        chunk({}, "stop", usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 9}),
    ]
    [f] = of(judge(stream_ex(sse_of(*bad))), "STREAM-USAGE-SUM")
    assert f.path == "event[3]$.usage.total_tokens" and f.value == "9" and "5 + 2 = 7" in f.message


def test_stream_content_string() -> None:
    bad = [GOOD[0], chunk({"content": ["Hel"]}), *GOOD[2:]]
    [f] = of(judge(stream_ex(sse_of(*bad))), "STREAM-CONTENT-STRING")
    assert f.path == "event[1]$.choices[0].delta.content" and f.value == '["Hel"]' and "list" in f.message


def test_stream_sdk_interop_warnings_name_the_client() -> None:
    text = sse_of(*GOOD)
    variants = {
        "comment": ": keep-alive\n\n" + text,
        "field": "event: message\n" + text,
        "data-prefix": text.replace("data: ", "data:", 1),
        "line-endings": text.replace("\n", "\r\n"),
        "multiline-data": text.replace(
            'data: {"id": "c1", "object"', 'data: {"id": "c1",\ndata: "object"', 1
        ),
    }
    for kind, raw in variants.items():
        found = judge(stream_ex(raw), profile="azure")
        [f] = of(found, "STREAM-SDK-INTEROP")
        assert f.variant == kind and f.level == Level.WARNING, kind
        assert "azure-ai-inference Python SDK" in f.message
        assert [x for x in found if x.level == Level.VIOLATION and x.rule_id.startswith("STREAM-")] == [], (
            kind
        )


def test_stream_framing_catches_events_separated_by_a_single_newline() -> None:
    # One "\n" between events: no blank line ever dispatches, so every data line merges into one
    # unterminated event that a WHATWG client discards at the end of the stream.
    single = "".join(f"data: {json.dumps(c)}\n" for c in GOOD) + "data: [DONE]\n"
    [f] = of(judge(stream_ex(single)), "STREAM-FRAMING")
    assert f.path == "stream:trailing" and "5 data lines merged into one event" in f.message
    assert "blank line" in f.message and (f.value or "").startswith('{"id": "c1"')
    # The same merge, dispatched by a final blank line, is one event holding several documents.
    [g] = of(judge(stream_ex(single + "\n")), "STREAM-FRAMING")
    assert g.path == "event[0]" and "5 data lines merged" in g.message
    # Not a framing finding: an unterminated [DONE] (STREAM-DONE's), bytes after [DONE] (STREAM-DONE's)
    # and a stream the suite cut short (STREAM-COMPLETE's).
    assert of(judge(stream_ex(sse_of(*GOOD, done=False) + "data: [DONE]\n")), "STREAM-FRAMING") == []
    assert of(judge(stream_ex(sse_of(*GOOD) + "data: {")), "STREAM-FRAMING") == []
    cut = SSEParser()
    cut.feed((sse_of(*GOOD[:2], done=False) + "data: {\"id\": \"c1\", \"cho").encode())
    ex = stream_ex(sse_of(*GOOD))
    assert ex.response is not None
    ex.response.stream = cut.close(cut_reason="timeout")
    assert of(judge(ex), "STREAM-FRAMING") == []


# -- Azure OpenAI annotation messages (docs: "Content streaming") ----------------------------------

_SAFE = {"filtered": False, "severity": "safe"}
_FILTER = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}


def _aoai(delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any) -> dict[str, Any]:
    return chunk(delta, finish, **{"object": "chat.completion.chunk", "id": "chatcmpl-1", **top})


def _annotation(check: int, finish: str | None = None, results: Any = None) -> dict[str, Any]:
    """The asynchronous filter's annotation chunk, as the Azure OpenAI docs show it (no delta)."""
    return {"id": "", "object": "", "created": 0, "model": "", "usage": None, "choices": [
        {"index": 0, "finish_reason": finish, "content_filter_results": _FILTER if results is None else results,
         "content_filter_offsets": {"check_offset": check, "start_offset": 0, "end_offset": check}}]}


AOAI_STREAM = [
    {**AOAI_OPENER, "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _FILTER}], "usage": None},
    _aoai({"role": "assistant", "content": ""}),
    _aoai({"content": "Hel"}),
    _annotation(3),
    _aoai({"content": "lo"}),
    _aoai({}, "stop"),
    _annotation(5),  # after the stop chunk
    _aoai({}, None, choices=[], usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}),
]


def _aoai_judge(events: list[Any], profile: str) -> list[Any]:
    ex = stream_ex(sse_of(*events), op="ChatCompletions_Create", api="azure-openai")
    return judge(ex, api="azure-openai", profile=profile)


def test_annotation_kinds() -> None:
    from conformance.rules.streaming import annotation_kind

    assert [annotation_kind(c) for c in AOAI_STREAM] == [
        "aoai-prompt-filter-chunk", None, None, "aoai-filter-annotation-chunk", None, None,
        "aoai-filter-annotation-chunk", None]
    # A chunk with content is never an annotation, even with an empty id.
    assert annotation_kind({**_aoai({"content": "x"}), "id": ""}) is None


@pytest.mark.parametrize("profile", ["strict", "azure"])
def test_documented_azure_openai_stream_passes_in_every_profile(profile: str) -> None:
    found = [f for f in _aoai_judge(AOAI_STREAM, profile) if f.level != Level.NOTE]
    assert found == [], [f.render(with_request=False) for f in found]


def test_annotation_filter_results_are_judged_by_their_schema() -> None:
    bad = [*AOAI_STREAM[:3], _annotation(3, results={"hate": {"filtered": "no", "severity": "safe"}}), *AOAI_STREAM[4:]]
    [f] = of(_aoai_judge(bad, "strict"), "STREAM-CHUNK-SCHEMA")
    assert f.path == "event[3]$.choices[0].content_filter_results.hate.filtered" and f.level == Level.VIOLATION
    assert f.variant == "aoai-filter-annotation-chunk"


def test_a_completion_chunk_with_another_id_is_still_caught_on_azure_openai() -> None:
    odd = [*AOAI_STREAM[:4], _aoai({"content": "lo"}, id="chatcmpl-2"), *AOAI_STREAM[5:]]
    [f] = of(_aoai_judge(odd, "azure"), "STREAM-SAME-ID")
    assert f.path == "event[4]$.id" and f.level == Level.VIOLATION and f.variant is None


def test_annotation_messages_on_model_inference_are_convention_warnings() -> None:
    stream = [AOAI_OPENER, *GOOD[:3], _annotation(5), GOOD[3]]
    strict = [f for f in judge(stream_ex(sse_of(*stream)), profile="strict") if f.level == Level.VIOLATION]
    assert {f.rule_id for f in strict} == {"STREAM-CHUNK-SCHEMA", "STREAM-SAME-ID"}
    assert {f.variant for f in strict} == {"aoai-prompt-filter-chunk", "aoai-filter-annotation-chunk"}
    azure = [f for f in judge(stream_ex(sse_of(*stream)), profile="azure") if f.level != Level.NOTE]
    assert azure and all(f.level == Level.WARNING and (f.erratum or "").startswith("C-AOAI-ANNOTATION-CHUNKS")
                         for f in azure)


def test_usage_null_in_chunks_is_null_for_absent() -> None:
    stream = [chunk({"role": "assistant", "content": ""}, usage=None), *GOOD[1:]]
    [strict] = of(judge(stream_ex(sse_of(*stream)), profile="strict"), "STREAM-CHUNK-SCHEMA")
    assert strict.path == "event[0]$.usage" and strict.variant == "null-for-absent"
    [azure] = of(judge(stream_ex(sse_of(*stream)), profile="azure"), "STREAM-CHUNK-SCHEMA")
    assert (azure.erratum or "").startswith("C-NULL-FOR-ABSENT")
