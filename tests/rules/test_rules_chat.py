"""Chat semantic rules, each both ways, on plain JSON answers and on streamed answers."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from conformance.rules._model import Level
from conformance.rules.assemble import assemble_chat_stream
from conformance.transport.sse import parse_stream
from tests.rules.helpers import applied, exchange, judge, of, sse_of

MSGS = [{"role": "user", "content": "Hi"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def answer(content: Any = "Hello", finish: str = "stop", *, usage: tuple[int, int, int] | None = (5, 2, 7),
           tool_calls: list[Any] | None = None, n: int = 1, created: int = 1735689600) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        msg["tool_calls"] = tool_calls
    doc: dict[str, Any] = {
        "id": "cmpl-1", "object": "chat.completion", "created": created, "model": "m",
        "choices": [{"index": i, "finish_reason": finish, "message": copy.deepcopy(msg)} for i in range(n)],
    }
    if usage:
        doc["usage"] = dict(zip(("prompt_tokens", "completion_tokens", "total_tokens"), usage, strict=True))
    return doc


def call(name: str = "get_weather", args: str = '{"city": "Paris"}', cid: str = "call_1") -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


def ex(request: dict[str, Any], body: dict[str, Any], **kw: Any):  # type: ignore[no-untyped-def]
    return exchange(request={"messages": MSGS, **request}, body=body, **kw)


def test_plain_answer_is_clean_and_applicable_rules_follow_the_request() -> None:
    e = ex({}, answer())
    assert judge(e) == []
    rules = set(applied(e))
    assert {"CHAT-USAGE-SUM", "CHAT-CREATED", "CHAT-CHOICES-INDEX"} <= rules
    assert not rules & {"CHAT-MAX-TOKENS", "CHAT-STOP", "CHAT-TOOL-CALLS", "CHAT-TOOL-NONE", "CHAT-JSON-MODE",
                        "CHAT-JSON-SCHEMA", "CHAT-TOOL-NAME", "CHAT-TOOL-ARGS-JSON"}
    assert "CHAT-USAGE-SUM" not in applied(exchange("getEmbeddings", {"input": "x"}, body={"data": []}))


def test_usage_sum() -> None:
    [f] = of(judge(ex({}, answer(usage=(5, 2, 8)))), "CHAT-USAGE-SUM")
    assert f.path == "$.usage.total_tokens" and f.value == "8" and "5 + 2 = 7" in f.message


def test_max_tokens() -> None:
    assert of(judge(ex({"max_tokens": 2}, answer(finish="length", usage=(5, 2, 7)))), "CHAT-MAX-TOKENS") == []
    [f] = of(judge(ex({"max_tokens": 1}, answer(usage=(5, 2, 7)))), "CHAT-MAX-TOKENS")
    assert f.path == "$.usage.completion_tokens" and f.value == "2" and "max_tokens was 1" in f.message
    assert of(judge(ex({"max_tokens": 1, "n": 2}, answer(usage=(5, 2, 7), n=2))), "CHAT-MAX-TOKENS") == []
    [m] = of(judge(ex({"max_completion_tokens": 1}, answer(usage=(5, 2, 7)))), "CHAT-MAX-TOKENS")
    assert "max_completion_tokens" in m.message
    # "length" below the limit: only a note (the context window may have cut it).
    [note] = of(judge(ex({"max_tokens": 50}, answer(finish="length")), profile="strict"), "CHAT-MAX-TOKENS")
    assert note.level == Level.NOTE and note.path == "$.choices[0].finish_reason"
    # "stop" exactly at the limit is a valid reading when the end-of-sequence token was counted
    # (vLLM, TGI, llama.cpp): the content then holds fewer tokens than the limit.
    assert of(judge(ex({"max_tokens": 2}, answer("Hello", finish="stop")), profile="strict"), "CHAT-MAX-TOKENS") == []
    assert of(judge(ex({"max_tokens": 3}, answer(finish="stop"))), "CHAT-MAX-TOKENS") == []
    # Content that alone fills the limit was cut by it: "stop" is then a warning (never a violation).
    [warn] = of(judge(ex({"max_tokens": 2}, answer("one two", finish="stop")), profile="strict"), "CHAT-MAX-TOKENS")
    assert warn.level == Level.WARNING and warn.variant == "stop-at-limit" and "'length'" in warn.message
    # ... unless a stop sequence may have ended it within the same token.
    assert of(judge(ex({"max_tokens": 2, "stop": ["."]}, answer("one two", finish="stop")), profile="strict"),
              "CHAT-MAX-TOKENS") == []


def test_stop() -> None:
    assert of(judge(ex({"stop": ["END"]}, answer("all good"))), "CHAT-STOP") == []
    [f] = of(judge(ex({"stop": ["END", "\nObservation:"]}, answer("thought\nObservation: x"))), "CHAT-STOP")
    assert f.path == "$.choices[0].message.content" and "Observation:" in (f.value or "")
    assert "stop sequence" in f.message and "offset 7" in f.message
    assert of(judge(ex({"stop": "END"}, answer("THE END"))), "CHAT-STOP")  # a single string works too


def test_created() -> None:
    assert of(judge(ex({}, answer(created=int(time.time())))), "CHAT-CREATED") == []
    [ms] = of(judge(ex({}, answer(created=1735689600000))), "CHAT-CREATED")
    assert ms.path == "$.created" and ms.value == "1735689600000" and "milliseconds" in ms.message
    [old] = of(judge(ex({}, answer(created=0))), "CHAT-CREATED")
    assert "before 2020" in old.message
    [future] = of(judge(ex({}, answer(created=int(time.time()) + 3 * 86400))), "CHAT-CREATED")
    assert "future" in future.message


def test_choices_index() -> None:
    assert of(judge(ex({"n": 2}, answer(n=2))), "CHAT-CHOICES-INDEX") == []
    [few] = of(judge(ex({"n": 3}, answer(n=2))), "CHAT-CHOICES-INDEX")
    assert few.path == "$.choices[*].index" and few.value == "[0, 1]" and "n=3" in few.message
    dup = answer(n=2)
    dup["choices"][1]["index"] = 0
    [d] = of(judge(ex({}, dup)), "CHAT-CHOICES-INDEX")
    assert d.value == "[0, 0]"
    empty = answer()
    empty["choices"] = []
    [e] = of(judge(ex({}, empty)), "CHAT-CHOICES-INDEX")
    assert e.path == "$.choices" and "no choices" in e.message


def test_tool_calls_required_and_named() -> None:
    good = answer(None, "tool_calls", tool_calls=[call()])
    assert of(judge(ex({"tools": TOOLS, "tool_choice": "required"}, good)), "CHAT-TOOL-CALLS") == []
    [none] = of(judge(ex({"tools": TOOLS, "tool_choice": "required"}, answer())), "CHAT-TOOL-CALLS")
    assert none.path == "$.choices[0].message.tool_calls" and "called no tool" in none.message
    cut = answer("partial", "length")
    assert of(judge(ex({"tools": TOOLS, "tool_choice": "required"}, cut)), "CHAT-TOOL-CALLS") == []
    malformed = answer(None, "tool_calls", tool_calls=[{"id": "", "type": "fn", "function": {"name": "get_weather",
                                                                                               "arguments": {}}}])
    found = of(judge(ex({"tools": TOOLS, "tool_choice": "required"}, malformed)), "CHAT-TOOL-CALLS")
    assert {f.path.rsplit(".", 1)[-1] for f in found} == {"id", "type", "arguments"}
    named = {"type": "function", "function": {"name": "get_weather"}}
    wrong = answer(None, "tool_calls", tool_calls=[call("other")])
    [w] = of(judge(ex({"tools": TOOLS, "tool_choice": named}, wrong)), "CHAT-TOOL-CALLS")
    assert w.path == "$.choices[0].message.tool_calls[0].function.name" and w.value == '"other"'


def test_named_tool_choice_finishing_with_stop_is_an_erratum() -> None:
    named = {"type": "function", "function": {"name": "get_weather"}}
    body = answer(None, "stop", tool_calls=[call()])
    [strict] = of(judge(ex({"tools": TOOLS, "tool_choice": named}, body), profile="strict"), "CHAT-TOOL-CALLS")
    assert strict.variant == "named-stop" and strict.level == Level.VIOLATION
    assert strict.path == "$.choices[0].finish_reason" and strict.value == '"stop"'
    [azure] = of(judge(ex({"tools": TOOLS, "tool_choice": named}, body), profile="azure"), "CHAT-TOOL-CALLS")
    assert azure.level == Level.WARNING
    # "required" finishing with "stop" is seen too (Mirascope/mirascope#256): the same erratum, own variant.
    [req] = of(judge(ex({"tools": TOOLS, "tool_choice": "required"}, body), profile="azure"), "CHAT-TOOL-CALLS")
    assert req.variant == "required-stop" and req.level == Level.WARNING
    # Any other finish_reason stays a violation with no variant.
    odd = answer(None, "end_turn", tool_calls=[call()])
    [other] = of(judge(ex({"tools": TOOLS, "tool_choice": "required"}, odd), profile="azure"), "CHAT-TOOL-CALLS")
    assert other.variant is None and other.level == Level.VIOLATION


def test_tool_name() -> None:
    assert of(judge(ex({"tools": TOOLS}, answer(None, "tool_calls", tool_calls=[call()]))), "CHAT-TOOL-NAME") == []
    [f] = of(judge(ex({"tools": TOOLS}, answer(None, "tool_calls", tool_calls=[call("rm_rf")]))), "CHAT-TOOL-NAME")
    assert f.path == "$.choices[0].message.tool_calls[0].function.name" and f.value == '"rm_rf"'
    assert "get_weather" in f.message


def test_tool_args_json_is_a_warning() -> None:
    good = answer(None, "tool_calls", tool_calls=[call()])
    assert of(judge(ex({"tools": TOOLS}, good)), "CHAT-TOOL-ARGS-JSON") == []
    bad = answer(None, "tool_calls", tool_calls=[call(args='{"city": ')])
    [f] = of(judge(ex({"tools": TOOLS}, bad), profile="strict"), "CHAT-TOOL-ARGS-JSON")
    assert f.level == Level.WARNING and f.path.endswith("function.arguments") and "not valid JSON" in f.message
    cut = answer(None, "length", tool_calls=[call(args='{"city": ')])
    assert of(judge(ex({"tools": TOOLS}, cut)), "CHAT-TOOL-ARGS-JSON") == []


def test_tool_none() -> None:
    assert of(judge(ex({"tools": TOOLS, "tool_choice": "none"}, answer())), "CHAT-TOOL-NONE") == []
    [f] = of(judge(ex({"tools": TOOLS, "tool_choice": "none"}, answer(None, "tool_calls", tool_calls=[call()]))),
             "CHAT-TOOL-NONE")
    assert f.path == "$.choices[0].message.tool_calls" and "'none'" in f.message


def test_json_mode() -> None:
    rf = {"response_format": {"type": "json_object"}}
    assert of(judge(ex(rf, answer('{"a": 1}'))), "CHAT-JSON-MODE") == []
    [f] = of(judge(ex(rf, answer('```json\n{"a": 1}\n```'))), "CHAT-JSON-MODE")
    assert f.path == "$.choices[0].message.content" and "not valid JSON" in f.message and "```json" in (f.value or "")
    assert of(judge(ex(rf, answer('{"a": ', "length"))), "CHAT-JSON-MODE") == []


def test_json_schema() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"],
              "additionalProperties": False}
    rf = {"response_format": {"type": "json_schema", "json_schema": {"name": "A", "schema": schema}}}
    assert of(judge(ex(rf, answer('{"a": 1}'))), "CHAT-JSON-SCHEMA") == []
    [f] = of(judge(ex(rf, answer('{"a": "one"}'))), "CHAT-JSON-SCHEMA")
    assert f.path == "$.choices[0].message.content" and f.value == '"one"' and "$.a" in f.message
    [g] = of(judge(ex(rf, answer("not json"))), "CHAT-JSON-SCHEMA")
    assert "not valid JSON" in g.message
    refusal = answer(None)
    refusal["choices"][0]["message"]["refusal"] = "I can't help with that."
    assert of(judge(ex(rf, refusal)), "CHAT-JSON-SCHEMA") == []


def _stream_chunks(pieces: list[dict[str, Any]], finish: str, usage: dict[str, int] | None = None) -> str:
    base = {"id": "c1", "object": "chat.completion", "created": 1735689600, "model": "m"}
    chunks = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in pieces]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if usage:
        chunks.append({**base, "choices": [], "usage": usage})
    return sse_of(*chunks)


def test_rules_judge_streamed_answers_through_assembly() -> None:
    req = {"messages": MSGS, "stream": True, "stop": ["END"], "max_tokens": 3}
    text = _stream_chunks([{"role": "assistant", "content": "Hello E"}, {"content": "ND"}], "stop",
                          {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9})
    found = judge(exchange(request=req, sse=text), profile="azure")
    assert {f.rule_id for f in found if f.level == Level.VIOLATION} == {"CHAT-STOP", "CHAT-MAX-TOKENS"}
    [stop] = of(found, "CHAT-STOP")
    assert "END" in (stop.value or "")


def test_assemble_merges_tool_call_pieces_like_the_sdks() -> None:
    pieces = [
        {"role": "assistant", "content": None,
         "tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                         "function": {"name": "get_weather", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
    ]
    opener = {"id": "", "object": "", "created": 0, "model": "", "choices": [], "prompt_filter_results": []}
    text = sse_of(opener, done=False) + _stream_chunks(pieces, "tool_calls", {"prompt_tokens": 1, "completion_tokens": 2,
                                                                   "total_tokens": 3})
    doc = assemble_chat_stream(parse_stream(text))
    assert doc is not None and doc["id"] == "c1" and doc["created"] == 1735689600
    [choice] = doc["choices"]
    assert choice["finish_reason"] == "tool_calls" and choice["message"].get("content") is None
    assert choice["message"]["tool_calls"] == [call(args='{"city": "Paris"}')]
    assert doc["usage"]["total_tokens"] == 3
    req = {"messages": MSGS, "stream": True, "tools": TOOLS, "tool_choice": "required"}
    assert [f for f in judge(exchange(request=req, sse=text), profile="azure") if f.level == Level.VIOLATION] == []
    assert assemble_chat_stream(parse_stream("data: [DONE]\n\n")) is None


def test_rules_apply_to_azure_openai_too() -> None:
    e = exchange("ChatCompletions_Create", {"messages": MSGS, "stop": "END"}, body=answer("THE END"),
                 api="azure-openai", path="/chat/completions")
    [f] = of(judge(e, api="azure-openai"), "CHAT-STOP")
    assert json.loads(f.value or '""')
