"""SCHEMA-RESPONSE, BODY-JSON, CONTENT-TYPE-JSON, NO-SERVER-ERROR: each rule both ways."""

from __future__ import annotations

import copy

from conformance.rules._model import Level
from tests.rules.helpers import applied, exchange, judge, of

CHAT_REQ = {"messages": [{"role": "user", "content": "Hi"}]}
CHAT_OK = {
    "id": "cmpl-1",
    "object": "chat.completion",
    "created": 1735689600,
    "model": "m",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hello"}}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}


def test_conformant_answer_has_no_findings_at_all() -> None:
    ex = exchange(request=CHAT_REQ, body=CHAT_OK)
    assert judge(ex) == []
    assert {"SCHEMA-RESPONSE", "BODY-JSON", "CONTENT-TYPE-JSON", "NO-SERVER-ERROR"} <= set(applied(ex))


def test_schema_response_names_path_value_keyword_pointer() -> None:
    body = copy.deepcopy(CHAT_OK)
    body["choices"][0]["finish_reason"] = 7
    [f] = of(judge(exchange(request=CHAT_REQ, body=body)), "SCHEMA-RESPONSE")
    assert f.path == "$.choices[0].finish_reason" and f.value == "7" and f.keyword
    assert (f.pointer or "").startswith("#/components/schemas/") and f.level == Level.VIOLATION


def test_schema_response_open_enum_value_is_a_note_only() -> None:
    body = copy.deepcopy(CHAT_OK)
    body["choices"][0]["finish_reason"] = "brand_new_reason"
    found = of(judge(exchange(request=CHAT_REQ, body=body)), "SCHEMA-RESPONSE")
    assert found and all(f.level == Level.NOTE for f in found)


def test_null_tool_calls_is_a_violation_in_strict_and_an_erratum_warning_in_azure() -> None:
    body = copy.deepcopy(CHAT_OK)
    body["choices"][0]["message"]["tool_calls"] = None
    [strict] = of(judge(exchange(request=CHAT_REQ, body=body), profile="strict"), "SCHEMA-RESPONSE")
    [azure] = of(judge(exchange(request=CHAT_REQ, body=body), profile="azure"), "SCHEMA-RESPONSE")
    assert strict.level == Level.VIOLATION and strict.path == "$.choices[0].message.tool_calls"
    assert azure.level == Level.WARNING and (azure.erratum or "").startswith("E-RESPONSE-NULLS")


def test_body_json_reports_the_parse_error() -> None:
    ex = exchange(request=CHAT_REQ, raw=b'{"id": "x", ')
    [f] = of(judge(ex), "BODY-JSON")
    assert f.path == "body" and "not valid JSON" in (f.value or "") and "application/json" in f.message
    assert "SCHEMA-RESPONSE" not in applied(ex)


def test_body_json_rejects_invalid_utf8() -> None:
    [f] = of(judge(exchange(request=CHAT_REQ, raw=b'{"a": "\xff"}')), "BODY-JSON")
    assert "UTF-8" in (f.value or "")


def test_body_json_does_not_judge_a_body_cut_by_the_suite() -> None:
    ex = exchange(request=CHAT_REQ, raw=b'{"id": "x", ')
    assert ex.response is not None
    ex.response.truncated = True
    assert "BODY-JSON" not in applied(ex) and of(judge(ex), "BODY-JSON") == []


def test_content_type_json_allows_charset_and_flags_text_plain() -> None:
    ok = exchange(request=CHAT_REQ, body=CHAT_OK, headers={"content-type": "application/json; charset=utf-8"})
    assert of(judge(ok), "CONTENT-TYPE-JSON") == []
    bad = exchange(request=CHAT_REQ, body=CHAT_OK, headers={"content-type": "text/plain"})
    [f] = of(judge(bad), "CONTENT-TYPE-JSON")
    assert f.path == "header:content-type" and f.value == '"text/plain"' and "application/json" in f.message


def test_content_type_json_flags_an_unrequested_event_stream() -> None:
    ex = exchange(request=CHAT_REQ, sse='data: {"id": "1"}\n\ndata: [DONE]\n\n')
    [f] = of(judge(ex), "CONTENT-TYPE-JSON")
    assert "text/event-stream" in (f.value or "") and "stream: true" in f.message


def test_no_server_error() -> None:
    assert (
        of(
            judge(exchange(request=CHAT_REQ, status=400, body={"error": {"code": "a", "message": "b"}})),
            "NO-SERVER-ERROR",
        )
        == []
    )
    [f] = of(
        judge(
            exchange(
                request=CHAT_REQ, status=503, raw=b"upstream down", headers={"content-type": "text/plain"}
            )
        ),
        "NO-SERVER-ERROR",
    )
    assert f.path == "status" and f.value == "503" and "503" in f.message and "upstream down" in f.message
