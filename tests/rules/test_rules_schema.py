"""SCHEMA-RESPONSE, BODY-JSON, CONTENT-TYPE-JSON, NO-SERVER-ERROR: each rule both ways."""

from __future__ import annotations

import copy

from conformance.rules._model import Level, RuleContext
from conformance.rules.judge import judge_exchange
from conformance.rules.profiles import apply_profile
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
    assert strict.variant == "null-for-absent"
    assert azure.level == Level.WARNING and (azure.erratum or "").startswith("C-NULL-FOR-ABSENT")


def test_null_on_a_required_property_is_no_absence() -> None:
    body = copy.deepcopy(CHAT_OK)
    body["id"] = None  # required: null is not "absent", it is wrong
    [azure] = of(judge(exchange(request=CHAT_REQ, body=body), profile="azure"), "SCHEMA-RESPONSE")
    assert azure.path == "$.id" and azure.variant is None and azure.level == Level.VIOLATION


def test_absent_required_nullable_property_reads_as_null() -> None:
    # Azure OpenAI 2024-10-21 requires `refusal` (nullable) on the message: leaving it out means null.
    from conformance.spec import load_spec

    spec = load_spec("azure-openai", "2024-10-21")
    body = {"id": "c", "object": "chat.completion", "created": 1700000000, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": "hi"}}]}
    ex = exchange("ChatCompletions_Create", {"messages": [{"role": "user", "content": "hi"}]}, body=body,
                  api="azure-openai")
    context = RuleContext(spec=spec, api="azure-openai", api_version=spec.version)
    found = [f for f in judge_exchange(context, ex, raise_errors=True) if f.rule_id == "SCHEMA-RESPONSE"]
    [strict] = apply_profile(copy.deepcopy(found), "strict", "azure-openai")
    assert strict.keyword == "required" and "refusal" in strict.message and strict.variant == "null-for-absent"
    [azure] = apply_profile(found, "azure", "azure-openai")
    assert azure.level == Level.WARNING
