"""Streaming, chat and embeddings semantics the spec states in words.

The requests are hand-written so that each rule has something to bite on (a max_tokens cut, a
stop sequence, a required tool call ...); the exchange rules judge every answer automatically,
and the few two-request behaviours are judged here.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.reference._spec import request_properties
from conformance.rules import behaviour as B
from conformance.rules.assemble import answer
from conformance.rules.embeddings import decode_embedding
from conformance.runner.session import Outgoing, TestJudge
from conformance.runner.suite.test_extensibility import TOOLS


def _needs(judge: TestJudge, suite: Any, capability: str, rules: list[str]) -> None:
    if (suite.config.capabilities or {}).get(capability) is False:
        judge.not_applicable(f"the target claims {capability} unsupported", rules=rules)


def _content(ex: Any) -> str | None:
    """Message content of choice 0, from a JSON answer or a stream (via the rules' assembler)."""
    doc = answer(ex)
    try:
        choice = doc["choices"][0]
        return choice.get("message", choice.get("delta", {})).get("content") if "message" in choice or "delta" in choice else choice.get("text")
    except (TypeError, KeyError, IndexError, AttributeError):
        return None


STREAM_RULES = ["STREAM-CONTENT-TYPE", "STREAM-FRAMING", "STREAM-DONE", "STREAM-COMPLETE", "STREAM-CHUNK-SCHEMA",
                "STREAM-SAME-ID", "STREAM-FIRST-ROLE", "STREAM-FINISH-REASON", "STREAM-USAGE-SUM",
                "STREAM-CONTENT-STRING", "STREAM-SDK-INTEROP"]


@pytest.mark.kinds("chat", "completions")
@pytest.mark.rules(*STREAM_RULES)
def test_streamed_answer(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    """A streamed answer: SSE framing, [DONE] last, chunk schema and invariants (judged per exchange)."""
    _needs(judge, suite, "streaming", STREAM_RULES)
    ex = judge.send_planned(base.with_body(stream=True, max_tokens=max(8, suite.config.budget.max_tokens)), purpose="stream")
    if ex.response is not None and ex.response.status < 500:
        suite.discover("streaming", 200 <= ex.response.status < 300 and ex.response.stream is not None)


@pytest.mark.kinds("chat", "completions")
@pytest.mark.rules("STREAM-CONSISTENCY")
def test_stream_matches_non_stream(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    _needs(judge, suite, "streaming", ["STREAM-CONSISTENCY"])
    planned = base.with_body(temperature=0)
    if "seed" in request_properties(suite.api, suite.api_version, operation.operation_id):
        planned = planned.with_body(seed=42)
    plain = judge.send_planned(planned, purpose="stream consistency: non-streamed")
    streamed = judge.send_planned(planned.with_body(stream=True), purpose="stream consistency: streamed")
    judge.judge("STREAM-CONSISTENCY", B.stream_consistency(streamed, plain, streamed_text=_content(streamed), plain_text=_content(plain)))


@pytest.mark.kinds("chat", "completions")
@pytest.mark.rules("CHAT-MAX-TOKENS", "CHAT-USAGE-SUM", "CHAT-CREATED", "CHAT-CHOICES-INDEX")
def test_max_tokens_cuts_the_answer(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    prompt = "Count slowly from one to fifty, one number word per line, and say nothing else."
    changes: dict[str, Any] = {"max_tokens": 3}
    if "messages" in base.json:
        changes["messages"] = [{"role": "user", "content": prompt}]
    else:
        changes["prompt"] = [prompt]
    judge.send_planned(base.with_body(**changes), purpose="semantics: max_tokens 3")


@pytest.mark.kinds("chat", "completions")
@pytest.mark.rules("CHAT-STOP")
def test_stop_sequence_is_not_returned(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    prompt = "Repeat exactly: alpha beta gamma delta epsilon"
    changes: dict[str, Any] = {"stop": ["gamma"], "max_tokens": max(8, suite.config.budget.max_tokens)}
    if "messages" in base.json:
        changes["messages"] = [{"role": "user", "content": prompt}]
    else:
        changes["prompt"] = [prompt]
    judge.send_planned(base.with_body(**changes), purpose="semantics: stop sequence")
    if (suite.config.capabilities or {}).get("streaming") is not False:
        judge.send_planned(base.with_body(stream=True, **changes), purpose="semantics: stop sequence (stream)")


TOOL_RULES = ["CHAT-TOOL-CALLS", "CHAT-TOOL-NAME", "CHAT-TOOL-ARGS-JSON"]


@pytest.mark.kinds("chat")
@pytest.mark.rules(*TOOL_RULES)
@pytest.mark.parametrize("choice", ["required", "named"])
def test_tool_choice_forces_a_call(operation: Any, base: Any, judge: TestJudge, suite: Any, choice: str) -> None:
    _needs(judge, suite, "tools", TOOL_RULES)
    tool_choice: Any = "required" if choice == "required" else {"type": "function", "function": {"name": "get_weather"}}
    planned = base.with_body(messages=[{"role": "user", "content": "What is the weather in Paris?"}], tools=TOOLS,
                             tool_choice=tool_choice, max_tokens=max(32, suite.config.budget.max_tokens))
    if [i for i in suite.spec.validate_request(operation.operation_id, planned.json) if i.level == "error"]:
        judge.not_applicable(f"tool_choice {choice!r} is not valid in this spec version", rules=TOOL_RULES)
    judge.send_planned(planned, purpose=f"tools: tool_choice {choice}")
    if (suite.config.capabilities or {}).get("streaming") is not False:
        judge.send_planned(planned.with_body(stream=True), purpose=f"tools: tool_choice {choice} (stream)")


@pytest.mark.kinds("chat")
@pytest.mark.rules("CHAT-TOOL-NONE")
def test_tool_choice_none_means_no_call(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    _needs(judge, suite, "tools", ["CHAT-TOOL-NONE"])
    planned = base.with_body(messages=[{"role": "user", "content": "What is the weather in Paris? Use get_weather."}],
                             tools=TOOLS, tool_choice="none")
    judge.send_planned(planned, purpose="tools: tool_choice none")


@pytest.mark.kinds("chat")
@pytest.mark.rules("CHAT-TOOL-FOLLOWUP")
def test_tool_result_follow_up(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    _needs(judge, suite, "tools", ["CHAT-TOOL-FOLLOWUP"])
    messages = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_conformance_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_conformance_1", "content": "{\"temperature_c\": 21}"},
    ]
    ex = judge.send_planned(base.with_body(messages=messages, tools=TOOLS), purpose="tools: follow-up with tool result")
    judge.judge("CHAT-TOOL-FOLLOWUP", B.tool_followup(ex))


@pytest.mark.kinds("chat")
@pytest.mark.rules("CHAT-JSON-MODE")
def test_json_mode_returns_json(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    _needs(judge, suite, "json_object", ["CHAT-JSON-MODE"])
    planned = base.with_body(response_format={"type": "json_object"}, max_tokens=max(32, suite.config.budget.max_tokens),
                             messages=[{"role": "system", "content": "Reply with a JSON object only."},
                                       {"role": "user", "content": "Return a JSON object with key \"a\" set to 1."}])
    judge.send_planned(planned, purpose="json mode: json_object")


@pytest.mark.kinds("chat")
@pytest.mark.rules("CHAT-JSON-SCHEMA")
def test_json_schema_is_honoured(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    if (suite.config.capabilities or {}).get("json_schema") is not True:
        judge.not_applicable("the target does not claim json_schema", rules=["CHAT-JSON-SCHEMA"])
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
              "required": ["city", "population"], "additionalProperties": False}
    planned = base.with_body(response_format={"type": "json_schema", "json_schema": {"name": "city_info", "schema": schema, "strict": True}},
                             max_tokens=max(48, suite.config.budget.max_tokens),
                             messages=[{"role": "user", "content": "Give the largest city of France and its population."}])
    judge.send_planned(planned, purpose="json mode: json_schema")


EMB_RULES = ["EMB-COUNT", "EMB-INDEX", "EMB-VECTOR-LENGTH", "EMB-FINITE", "EMB-USAGE"]


@pytest.mark.kinds("embeddings", "image_embeddings")
@pytest.mark.rules(*EMB_RULES, "EMB-DIMENSIONS", "EMB-BASE64")
def test_embeddings_shape(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    """One item per input with indices 0..n-1, equal finite vectors; dimensions and base64 honoured."""
    if operation.operation_id == "getImageEmbeddings":
        planned = base.with_body(input=[base.json["input"][0], base.json["input"][0], base.json["input"][0]])
    else:
        planned = base.with_body(input=["alpha", "beta", "gamma"])
    caps = suite.config.capabilities or {}
    # The plain request and one per claimed dimension: none depends on another's answer.
    plan = [(Outgoing.planned(planned, purpose="embeddings: three inputs"), None)]
    plan += [(Outgoing.planned(planned.with_body(dimensions=dims), purpose=f"embeddings: dimensions {dims}"), dims)
             for dims in (caps.get("embedding_dimensions") or [])[:2]]
    honoured = []
    with judge.sending(plan) as answers:
        for dims, ex in answers:
            if dims is None:
                if operation.operation_id == "getImageEmbeddings" and ex.response is not None and ex.response.status < 500:
                    suite.discover("image_embeddings", 200 <= ex.response.status < 300)
            elif ex.response is not None and isinstance(ex.response.json, dict):
                data = ex.response.json.get("data") or []
                if data and all(isinstance(d, dict) and isinstance(d.get("embedding"), list) and len(d["embedding"]) == dims
                                for d in data):
                    honoured.append(dims)
    if caps.get("embedding_dimensions"):
        suite.discovered["embedding_dimensions"] = sorted(set(suite.discovered.get("embedding_dimensions", [])) | set(honoured))


@pytest.mark.kinds("embeddings")
@pytest.mark.rules("EMB-BASE64", "EMB-BASE64-AGREES")
def test_base64_agrees_with_float(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    formats = (suite.config.capabilities or {}).get("encoding_formats")
    if formats is not None and "base64" not in formats:
        judge.not_applicable("the target does not claim encoding_format base64", rules=["EMB-BASE64", "EMB-BASE64-AGREES"])
    planned = base.with_body(input=["alpha", "beta"])
    # With a claimed dimension, EMB-BASE64 can check the exact byte length (dimensions x 4), which
    # is what tells float64 or otherwise mis-packed bytes from float32.
    claimed = (suite.config.capabilities or {}).get("embedding_dimensions") or []
    if isinstance(claimed, list) and claimed and isinstance(claimed[0], int):
        planned = planned.with_body(dimensions=claimed[0])
    plan = [(Outgoing.planned(planned.with_body(encoding_format=fmt), purpose=f"embeddings: {fmt}"), fmt)
            for fmt in ("float", "base64")]
    with judge.sending(plan) as answers:  # the two answers are compared once both are in
        got = dict(answers)
    f_ex, b_ex = got["float"], got["base64"]
    floats, decoded = _vectors(f_ex), _vectors(b_ex)
    if floats is None or decoded is None:
        return  # the exchange rules already reported what was wrong with either answer
    judge.judge("EMB-BASE64-AGREES", B.base64_agrees(b_ex, floats, decoded))


def _vectors(ex: Any) -> list[list[float]] | None:
    """Each item's vector by index (base64 decoded by the rules' one decoder), None when unreadable."""
    if ex.response is None or not isinstance(ex.response.json, dict):
        return None
    out = []
    for item in sorted(ex.response.json.get("data") or [], key=lambda d: d.get("index", 0) if isinstance(d, dict) else 0):
        values = decode_embedding(item.get("embedding") if isinstance(item, dict) else None)
        if values is None:
            return None
        out.append([float(x) for x in values if isinstance(x, int | float)])
    return out


@pytest.mark.kinds("info")
def test_model_info(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    judge.send_planned(base, purpose="info")
    for kind in ("embeddings", "image_embeddings"):
        model = (suite.config.models or {}).get(kind)
        if model and any(p.name == "model" for p in operation.parameters):
            judge.send(base.method, base.path, params={"model": model}, purpose=f"info: {kind} model")
