"""judge_exchange / applicable_rules: the catalogue, applicability, crash containment, finding caps."""

from __future__ import annotations

import json

import pytest

from conformance.rules._model import Level, RuleContext
from conformance.rules.catalogue import exchange_rules, get_rule
from conformance.rules.judge import MAX_FINDINGS_PER_RULE, applicable_rules, judge_exchange
from tests.rules.helpers import ctx, exchange, judge, of, sse_of

EXPECTED = {
    "schema": ["SCHEMA-RESPONSE", "BODY-JSON", "CONTENT-TYPE-JSON"],
    "errors": ["NO-SERVER-ERROR", "ERROR-SHAPE", "ERROR-CONTENT-TYPE", "ERROR-HEADER-CODE", "RETRY-AFTER"],
    "auth": ["AUTH-NO-ECHO"],
    "streaming": ["STREAM-CONTENT-TYPE", "STREAM-FRAMING", "STREAM-DONE", "STREAM-COMPLETE", "STREAM-CHUNK-SCHEMA",
                  "STREAM-SAME-ID", "STREAM-FIRST-ROLE", "STREAM-FINISH-REASON", "STREAM-USAGE-SUM",
                  "STREAM-CONTENT-STRING"],
    "interop": ["STREAM-SDK-INTEROP"],
    "semantics": ["CHAT-USAGE-SUM", "CHAT-MAX-TOKENS", "CHAT-STOP", "CHAT-CREATED", "CHAT-CHOICES-INDEX",
                  "CHAT-TOOL-CALLS", "CHAT-TOOL-NAME", "CHAT-TOOL-ARGS-JSON", "CHAT-TOOL-NONE", "CHAT-JSON-MODE",
                  "CHAT-JSON-SCHEMA", "EMB-COUNT", "EMB-INDEX", "EMB-VECTOR-LENGTH", "EMB-FINITE", "EMB-DIMENSIONS",
                  "EMB-BASE64", "EMB-INT-FORMATS", "EMB-USAGE"],
}
WARNING_RULES = {"ERROR-HEADER-CODE", "RETRY-AFTER", "STREAM-SDK-INTEROP", "CHAT-TOOL-ARGS-JSON"}


@pytest.mark.parametrize(("family", "rule_id"), [(f, r) for f, ids in EXPECTED.items() for r in ids])
def test_every_rule_is_registered_with_family_level_check_and_predicate(family: str, rule_id: str) -> None:
    rule = get_rule(rule_id)
    assert rule is not None and rule.family == family and rule.scope == "exchange" and rule.source
    assert rule.level == (Level.WARNING if rule_id in WARNING_RULES else Level.VIOLATION)
    assert rule_id in {r.id for r in exchange_rules()}
    assert rule.check is not None and rule.applies is not None


def test_applicable_rules_are_exactly_those_that_can_judge() -> None:
    ok = exchange(request={"messages": []}, status=401, body={"error": {"code": "401", "message": "denied"}})
    rules = applicable_rules(ctx(), ok)
    # Offline (no target) there is no presented credential to look for: AUTH-NO-ECHO cannot judge.
    assert "ERROR-SHAPE" in rules and "AUTH-NO-ECHO" not in rules
    live = ctx()
    live.target = object()
    assert "AUTH-NO-ECHO" in applicable_rules(live, ok)
    assert not [r for r in rules if r.startswith(("STREAM-", "CHAT-", "EMB-", "SCHEMA-"))]
    no_response = exchange(request={"messages": []})
    no_response.response = None
    no_response.error = "timeout: read"
    # Only the transport rule can judge an exchange that got no answer, and it fails it.
    assert applicable_rules(ctx(), no_response) == ["TRANSPORT-ANSWER"]
    assert [(f.rule_id, f.path) for f in judge(no_response)] == [("TRANSPORT-ANSWER", "transport")]


def test_a_crashing_check_becomes_a_note_naming_the_check() -> None:
    broken = RuleContext(spec=None, api="model-inference", api_version="2025-04-01")  # no spec: checks crash
    body = {"id": "x", "object": "chat.completion", "created": 1735689600, "model": "m", "choices": []}
    ex = exchange(request={"messages": []}, body=body)
    found = judge_exchange(broken, ex)
    [note] = of(found, "SCHEMA-RESPONSE")
    assert note.level == Level.NOTE and "check_schema_response crashed" in note.message
    with pytest.raises(AttributeError):
        judge_exchange(broken, ex, raise_errors=True)


def test_findings_are_capped_per_rule_and_exchange() -> None:
    base = {"id": "c1", "object": "chat.completion", "created": 1735689600, "model": "m"}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "user", "content": "x"}, "finish_reason": None}]}
              for _ in range(30)]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    found = of(judge(exchange(request={"messages": [], "stream": True}, sse=sse_of(*chunks))), "STREAM-FIRST-ROLE")
    assert len(found) == MAX_FINDINGS_PER_RULE + 1
    assert found[-1].level == Level.NOTE and "10 further" in found[-1].message


def test_findings_render_with_rule_path_and_reproduction() -> None:
    body = {"error": {"code": 400, "message": "bad"}}
    [f] = of(judge(exchange(request={"messages": []}, status=400, body=body), profile="strict"), "ERROR-SHAPE")
    text = f.render()
    assert "[ERROR-SHAPE] violation" in text and "$.error.code = 400" in text and "curl" in text
    assert json.dumps(f.to_dict())
