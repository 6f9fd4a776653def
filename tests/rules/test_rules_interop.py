"""The CLIENT-* judges on hand-made outcomes (what a client call did) and exchanges, both ways."""

from __future__ import annotations

import base64
import struct

from conformance.rules.catalogue import get_rule
from conformance.rules.interop import (
    AnswerShape,
    ClientOutcome,
    FieldReading,
    client_call,
    client_fields,
    client_stream,
    wire_value,
)
from tests.rules.helpers import exchange

ANSWER = {"id": "a1", "created": 1700000000, "model": "m", "usage": {"prompt_tokens": 1},
          "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
          "data": [{"index": 0, "embedding": base64.b64encode(struct.pack("<2f", 0.5, -1.0)).decode()}]}


def _outcome(**kw) -> ClientOutcome:
    return ClientOutcome("azure-ai-inference", "1.0.0b9", "ChatCompletionsClient.complete()", "getChatCompletions",
                         [exchange(body=ANSWER)], **kw)


def test_rules_are_interop_warnings_of_both_apis() -> None:
    for rule_id in ("CLIENT-CALL", "CLIENT-FIELDS", "CLIENT-STREAM"):
        rule = get_rule(rule_id)
        assert rule is not None and rule.family == "interop" and rule.level.value == "warning" and rule.api == "any"


def test_call_reports_the_clients_exception_with_client_version_and_call() -> None:
    assert list(client_call(_outcome())) == []
    [f] = client_call(_outcome(error="ValueError: SSE event not supported (line `b': keep-alive\\n'`)"))
    assert f.rule_id == "CLIENT-CALL" and f.exchange is not None and f.operation_id == "getChatCompletions"
    assert f.message.startswith("azure-ai-inference 1.0.0b9 ChatCompletionsClient.complete(): the call raised ValueError")


def test_fields_agree_with_the_wire() -> None:
    readings = [
        FieldReading("ChatCompletions.id", "$.id", "a1", required=True),
        FieldReading("ChatCompletions.created", "$.created", 1700000000, required=True, declared="datetime"),
        FieldReading("ChatCompletions.choices", "$.choices", kind="object", required=True),
        FieldReading("ChatCompletions.choices[0].message.content", "$.choices[0].message.content", "hi"),
        FieldReading("ChatCompletions.usage.prompt_tokens", "$.usage.prompt_tokens", 1.0),
        FieldReading("X.data[0].embedding", "$.data[0].embedding", [0.5, -1.0]),  # decoded by the client
        FieldReading("ChatCompletions.system_fingerprint", "$.system_fingerprint", None),  # absent, optional
    ]
    assert list(client_fields(_outcome(readings=readings))) == []


def test_fields_report_differences_raises_unconverted_and_required_missing() -> None:
    readings = [
        FieldReading("ChatCompletions.model", "$.model", "other"),
        FieldReading("ChatCompletions.created", "$.created", 1700000000, declared="datetime", converted=False),
        FieldReading("ChatCompletions.choices[0].message", "$.choices[0].message", error="TypeError: boom"),
        FieldReading("ChatCompletions.object", "$.object", None, required=True),
        FieldReading("X.data[0].embedding", "$.data[0].embedding", [0.5, 1.0]),
    ]
    found = {f.variant: f for f in client_fields(_outcome(readings=readings))}
    assert set(found) == {"differs", "not-converted", "raised", "required-missing"}
    assert found["required-missing"].path == "$.object" and "declares it required" in found["required-missing"].message
    assert "TypeError: boom" in found["raised"].message
    assert found["not-converted"].value == "1700000000"


def test_fields_are_not_judged_after_the_call_raised() -> None:
    bad = [FieldReading("ChatCompletions.model", "$.model", "other")]
    assert list(client_fields(_outcome(readings=bad, error="HttpResponseError: 500"))) == []


def test_stream_shape_both_ways() -> None:
    plain = _outcome(shape=AnswerShape(None, [("get_weather", '{"city":"Paris"}')], "tool_calls", {"prompt_tokens": 1}),
                     offered_tools=("get_weather",))
    good = _outcome(shape=AnswerShape(None, [("get_weather", '{"city": "Paris"}')], "tool_calls", None),
                    offered_tools=("get_weather",), streamed=True)
    assert list(client_stream(good, plain)) == []
    bad = _outcome(shape=AnswerShape(None, [("get_weatherget_weather", '{"city":')], None, None),
                   offered_tools=("get_weather",), streamed=True, usage_asked=True)
    found = {f.variant: f for f in client_stream(bad, plain)}
    assert set(found) == {"tool-name", "tool-arguments", "finish-reason", "usage"}
    assert "get_weatherget_weather" in found["tool-name"].message
    cut = _outcome(shape=AnswerShape(None, [("get_weather", '{"city":')], "length", None),
                   offered_tools=("get_weather",), streamed=True)
    assert list(client_stream(cut, plain)) == []
    missing = _outcome(shape=AnswerShape("hi", [], "stop", None), streamed=True)
    [f] = client_stream(missing, plain)
    assert f.variant == "tool-calls"


def test_wire_value_paths() -> None:
    assert wire_value(ANSWER, "$.choices[0].message.content") == "hi"
    assert repr(wire_value(ANSWER, "$.choices[1].message")) == "<absent>"
    assert repr(wire_value(ANSWER, "$.nothing.here")) == "<absent>"
