"""extra-parameters, unsupported parameters (422) and content safety: the REST reference's behaviours."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conformance.rules import behaviour as B
from conformance.runner.payloads import TINY_PNG
from conformance.runner.session import Outgoing, TestJudge
from conformance.spec.prose import prose_violations

UNDEFINED_PARAM = "conformance_undefined_parameter"


def _model_inference_only(judge: TestJudge, suite: Any, rules: list[str]) -> None:
    if suite.api != "model-inference":
        judge.not_applicable("extra-parameters is defined by the AI Model Inference API only", rules=rules)


# -- extra-parameters ---------------------------------------------------------------------------
@pytest.mark.kinds("chat", "embeddings", "image_embeddings")
@pytest.mark.rules("EXTRA-PARAMS-ERROR")
def test_extra_parameters_error_rejects_undefined(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    _model_inference_only(judge, suite, ["EXTRA-PARAMS-ERROR"])
    planned = base.with_body(**{UNDEFINED_PARAM: True})
    plan = [(Outgoing.planned(planned, purpose="extra-parameters: absent"), None),
            (Outgoing.planned(planned, headers={"extra-parameters": "error"}, purpose="extra-parameters: error"), "error")]
    with judge.sending(plan) as answers:
        for header, ex in answers:
            judge.judge("EXTRA-PARAMS-ERROR", B.extra_params_error(ex, param=UNDEFINED_PARAM, header=header))


@pytest.mark.kinds("chat", "embeddings", "image_embeddings")
@pytest.mark.rules("EXTRA-PARAMS-DROP")
def test_extra_parameters_drop_ignores_undefined(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    _model_inference_only(judge, suite, ["EXTRA-PARAMS-DROP"])
    planned = base.with_body(**{UNDEFINED_PARAM: True})
    ex = judge.send_planned(planned, headers={"extra-parameters": "drop"}, purpose="extra-parameters: drop")
    judge.judge("EXTRA-PARAMS-DROP", B.extra_params_drop(ex, param=UNDEFINED_PARAM))


@pytest.mark.kinds("chat", "embeddings", "image_embeddings")
@pytest.mark.rules("EXTRA-PARAMS-PASS-THROUGH")
def test_extra_parameters_pass_through(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    _model_inference_only(judge, suite, ["EXTRA-PARAMS-PASS-THROUGH"])
    declared = (suite.config.capabilities or {}).get("pass_through_parameters") or {}
    if operation.operation_id == "getChatCompletions":
        for name, value in declared.items():
            ex = judge.send_planned(base.with_body(**{name: value}), headers={"extra-parameters": "pass-through"},
                                    purpose=f"extra-parameters: pass-through {name}")
            judge.judge("EXTRA-PARAMS-PASS-THROUGH", B.extra_params_pass_through(ex, param=name, accepted_by_model=True))
            if ex.response is not None and ex.response.status < 500:
                suite.discovered.setdefault("pass_through_parameters", {})[name] = 200 <= ex.response.status < 300
    ex = judge.send_planned(base.with_body(**{UNDEFINED_PARAM: {"nested": [1, 2]}}),
                            headers={"extra-parameters": "pass-through"}, purpose="extra-parameters: pass-through unknown")
    judge.judge("EXTRA-PARAMS-PASS-THROUGH", B.extra_params_pass_through(ex, param=UNDEFINED_PARAM, accepted_by_model=False))


@pytest.mark.kinds("chat", "embeddings", "image_embeddings")
@pytest.mark.rules("EXTRA-PARAMS-INVALID")
def test_extra_parameters_invalid_value(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    _model_inference_only(judge, suite, ["EXTRA-PARAMS-INVALID"])
    value = "ignore"
    ex = judge.send_planned(base, headers={"extra-parameters": value}, purpose="extra-parameters: invalid value")
    judge.judge("EXTRA-PARAMS-INVALID", B.extra_params_invalid(ex, value=value))


# -- capabilities: 422 for what is claimed unsupported, never 422 for what is claimed ------------
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city.",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}]

#: capability -> (kinds, parameter named in the 422, body changes); value lists are expanded below.
CHAT_CAPABILITIES: dict[str, tuple[str, dict[str, Any]]] = {
    "tools": ("tools", {"tools": TOOLS, "tool_choice": "auto"}),
    "json_object": ("response_format", {"response_format": {"type": "json_object"},
                                        "messages": [{"role": "system", "content": "Answer in JSON."},
                                                     {"role": "user", "content": "Give a JSON object with key a."}]}),
    "json_schema": ("response_format", {"response_format": {"type": "json_schema", "json_schema": {
        "name": "answer", "schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}}}}),
    "audio": ("modalities", {"modalities": ["text", "audio"]}),
    "image_input": ("messages", {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Describe the image."}, {"type": "image_url", "image_url": {"url": TINY_PNG}}]}]}),
}


def _judge_capability(judge: TestJudge, suite: Any, ex: Any, capability: str, param: str, value: Any = None) -> None:
    claimed = (suite.config.capabilities or {}).get(capability)
    if claimed is False:
        judge.judge("UNSUPPORTED-422", B.unsupported_422(ex, param=param, value=value))
    elif claimed is True or isinstance(claimed, list):
        judge.judge("SUPPORTED-NOT-422", B.supported_not_422(ex, param=param))
    if ex.response is not None:
        status = ex.response.status
        if status == 422:
            suite.discover(capability, False)
        elif 200 <= status < 300:
            suite.discover(capability, True)


@pytest.mark.kinds("chat")
@pytest.mark.rules("UNSUPPORTED-422", "SUPPORTED-NOT-422")
@pytest.mark.parametrize("capability", sorted(CHAT_CAPABILITIES))
def test_chat_capability(operation: Any, base: Any, judge: TestJudge, suite: Any, capability: str) -> None:
    if suite.api != "model-inference" and capability in ("audio", "json_schema"):
        judge.not_applicable(f"{capability} is not part of the {suite.api} {suite.api_version} spec", rules=["UNSUPPORTED-422", "SUPPORTED-NOT-422"])
    param, changes = CHAT_CAPABILITIES[capability]
    planned = base.with_body(**changes)
    issues = [i for i in suite.spec.validate_request(operation.operation_id, planned.json) if i.level == "error"]
    if issues:
        judge.not_applicable(f"{capability} requests are not valid in {suite.api_version}: {issues[0]}", rules=["UNSUPPORTED-422", "SUPPORTED-NOT-422"])
    ex = judge.send_planned(planned, purpose=f"capability: {capability}")
    _judge_capability(judge, suite, ex, capability, param, changes.get(param))


EMBEDDING_FORMATS = ["float", "base64", "int8", "uint8", "binary", "ubinary"]


@pytest.mark.kinds("embeddings", "image_embeddings")
@pytest.mark.rules("UNSUPPORTED-422", "SUPPORTED-NOT-422")
def test_embedding_capabilities(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    caps = suite.config.capabilities or {}
    formats = caps.get("encoding_formats")
    # The formats this API's spec allows, in its schema and its prose (Azure OpenAI: float or base64).
    spec_formats = [f for f in EMBEDDING_FORMATS if not [
        i for i in suite.spec.validate_request(operation.operation_id, dict(base.json, encoding_format=f)) if i.level == "error"]
        and not prose_violations(suite.api, operation.operation_id, dict(base.json, encoding_format=f))]

    def encoding_format(fmt: str) -> Callable[[Any], None]:
        def check(ex: Any) -> None:
            if formats is not None:
                if fmt in formats:
                    judge.judge("SUPPORTED-NOT-422", B.supported_not_422(ex, param="encoding_format"))
                else:
                    judge.judge("UNSUPPORTED-422", B.unsupported_422(ex, param="encoding_format", value=fmt))
            if ex.response is not None and ex.response.status in (200, 422):
                suite.discovered.setdefault("encoding_formats", {})[fmt] = ex.response.status == 200
        return check

    # Each request tries one capability: none depends on another's answer, so they go out together.
    plan: list[tuple[Outgoing, Callable[[Any], None]]] = [
        (Outgoing.planned(base.with_body(encoding_format=fmt), purpose=f"capability: encoding_format {fmt}"),
         encoding_format(fmt)) for fmt in spec_formats]
    plan += [(Outgoing.planned(base.with_body(dimensions=dims), purpose=f"capability: dimensions {dims}"),
              lambda ex: judge.judge("SUPPORTED-NOT-422", B.supported_not_422(ex, param="dimensions")))
             for dims in caps.get("embedding_dimensions") or []]
    if operation.operation_id != "embeddings_create" and "input_type" in caps:
        plan.append((Outgoing.planned(base.with_body(input_type="query"), purpose="capability: input_type"),
                     lambda ex: _judge_capability(judge, suite, ex, "input_type", "input_type", "query")))
    if operation.operation_id == "getImageEmbeddings" and "image_text_input" in caps:
        planned = base.with_body(input=[{"image": base.json["input"][0]["image"], "text": "a tiny image"}])
        plan.append((Outgoing.planned(planned, purpose="capability: image with text"),
                     lambda ex: _judge_capability(judge, suite, ex, "image_text_input", "text")))
    with judge.sending(plan) as answers:
        for check, ex in answers:
            check(ex)


# -- content safety -------------------------------------------------------------------------------
@pytest.mark.kinds("chat")
@pytest.mark.rules("CONTENT-FILTER")
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_content_filter_signal(operation: Any, base: Any, judge: TestJudge, suite: Any, stream: bool) -> None:
    trigger = (suite.config.content_filter or {}).get("trigger_prompt")
    if not trigger:
        # No prompt known to be blocked means no content filter is claimed: nothing to hold it to.
        judge.not_applicable("the target file claims no content filter (no content_filter.trigger_prompt: a prompt "
                             "this deployment's filter is known to block)", rules=["CONTENT-FILTER"])
    if stream and (suite.config.capabilities or {}).get("streaming") is False:
        judge.not_applicable("the target claims no streaming", rules=["CONTENT-FILTER"])
    planned = base.with_body(messages=[{"role": "user", "content": trigger}], stream=stream)
    ex = judge.send_planned(planned, purpose="content filter: trigger prompt")
    judge.judge("CONTENT-FILTER", B.content_filter(ex))
