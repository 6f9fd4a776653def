"""Request parameters one at a time: where the answer shows the effect, the exchange rules judge it
(n, logprobs, echo, best_of, parallel_tool_calls, stream_options); where it cannot show, the
parameter must at least be accepted (PARAM-ACCEPTED). docs/behaviours.md lists every parameter of
the request schemas with its rule or the reason it has none. Each request is a few tokens.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.reference._spec import request_properties
from conformance.rules import deployments as D
from conformance.runner.session import Outgoing, TestJudge
from conformance.runner.suite.test_extensibility import TOOLS

#: Parameters whose effect no single answer shows, with a valid, harmless value (per operation kind).
#: logit_bias names token 100 (present in every vocabulary) with a tiny bias: random token ids are
#: refused by real services.
UNOBSERVABLE: dict[str, dict[str, Any]] = {
    "chat": {"temperature": 0.3, "top_p": 0.9, "presence_penalty": 0.5, "frequency_penalty": 0.5,
             "user": "conformance-suite", "seed": 7, "logit_bias": {"100": -1}},
    "completions": {"temperature": 0.3, "top_p": 0.9, "presence_penalty": 0.5, "frequency_penalty": 0.5,
                    "user": "conformance-suite", "seed": 7, "logit_bias": {"100": -1}, "suffix": " The end."},
    "embeddings": {"user": "conformance-suite", "input_type": "query"},
}
KIND = {"ChatCompletions_Create": "chat", "getChatCompletions": "chat", "Completions_Create": "completions",
        "embeddings_create": "embeddings"}


def _defines(suite: Any, operation: Any, name: str) -> bool:
    return name in request_properties(suite.api, suite.api_version, operation.operation_id)


def _valid(suite: Any, operation: Any, body: dict[str, Any]) -> bool:
    return not [i for i in suite.spec.validate_request(operation.operation_id, body) if i.level == "error"]


def _streams(suite: Any) -> bool:
    return (suite.config.capabilities or {}).get("streaming") is not False


def _probe(judge: TestJudge, suite: Any, operation: Any, planned: Any, param: str, purpose: str, *,
           stream: bool = False) -> None:
    """Send `planned` (and its streamed twin); a refusal must name `param`."""
    ex = judge.send_planned(planned, purpose=purpose)
    judge.judge("PARAM-ACCEPTED", D.param_accepted(ex, param=param))
    if stream and _streams(suite) and 200 <= (ex.response.status if ex.response else 0) < 300:
        ex = judge.send_planned(planned.with_body(stream=True), purpose=f"{purpose} (stream)")
        judge.judge("PARAM-ACCEPTED", D.param_accepted(ex, param=param))


def _needs_spec(judge: TestJudge, suite: Any, operation: Any, name: str, rules: list[str]) -> None:
    if not _defines(suite, operation, name):
        judge.not_applicable(f"{operation.operation_id} {suite.api_version} defines no {name!r}", rules=rules)


@pytest.mark.kinds("chat", "completions")
@pytest.mark.rules("CHAT-CHOICES-INDEX", "PARAM-ACCEPTED")
def test_n_gives_n_choices(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    _needs_spec(judge, suite, operation, "n", ["CHAT-CHOICES-INDEX", "PARAM-ACCEPTED"])
    _probe(judge, suite, operation, base.with_body(n=2, max_tokens=4), "n", "parameters: n=2", stream=True)


@pytest.mark.kinds("completions")
@pytest.mark.rules("CHAT-CHOICES-INDEX", "CHAT-MAX-TOKENS", "PARAM-ACCEPTED")
def test_best_of_returns_n(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    _needs_spec(judge, suite, operation, "best_of", ["CHAT-CHOICES-INDEX", "CHAT-MAX-TOKENS", "PARAM-ACCEPTED"])
    # "Results cannot be streamed": best_of is sent without stream.
    _probe(judge, suite, operation, base.with_body(best_of=2, max_tokens=4), "best_of", "parameters: best_of=2")


@pytest.mark.kinds("chat")
@pytest.mark.rules("CHAT-LOGPROBS", "PARAM-ACCEPTED")
def test_chat_logprobs(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    _needs_spec(judge, suite, operation, "logprobs", ["CHAT-LOGPROBS", "PARAM-ACCEPTED"])
    planned = base.with_body(logprobs=True, top_logprobs=2, max_tokens=6)
    if not _valid(suite, operation, planned.json):
        planned = base.with_body(logprobs=True, max_tokens=6)
    _probe(judge, suite, operation, planned, "logprobs", "parameters: logprobs", stream=True)


@pytest.mark.kinds("completions")
@pytest.mark.rules("COMPLETIONS-LOGPROBS", "PARAM-ACCEPTED")
def test_completions_logprobs(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    _needs_spec(judge, suite, operation, "logprobs", ["COMPLETIONS-LOGPROBS", "PARAM-ACCEPTED"])
    _probe(judge, suite, operation, base.with_body(logprobs=2, max_tokens=6), "logprobs", "parameters: logprobs=2",
           stream=True)


@pytest.mark.kinds("completions")
@pytest.mark.rules("COMPLETIONS-ECHO", "PARAM-ACCEPTED")
def test_completions_echo(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    _needs_spec(judge, suite, operation, "echo", ["COMPLETIONS-ECHO", "PARAM-ACCEPTED"])
    _probe(judge, suite, operation, base.with_body(echo=True, max_tokens=4), "echo", "parameters: echo", stream=True)


@pytest.mark.kinds("chat")
@pytest.mark.rules("CHAT-PARALLEL-TOOLS", "PARAM-ACCEPTED")
def test_parallel_tool_calls_false(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    rules = ["CHAT-PARALLEL-TOOLS", "PARAM-ACCEPTED"]
    if suite.api != "azure-openai":
        judge.not_applicable("parallel_tool_calls is an Azure OpenAI parameter", rules=rules)
    if (suite.config.capabilities or {}).get("tools") is False:
        judge.not_applicable("the target claims tools unsupported", rules=rules)
    # Defined since 2024-10-21; older api-versions may refuse it by name, which PARAM-ACCEPTED accepts.
    planned = base.with_body(messages=[{"role": "user", "content": "What is the weather in Paris and in Rome?"}],
                             tools=TOOLS, tool_choice="required", parallel_tool_calls=False,
                             max_tokens=max(32, suite.config.budget.max_tokens))
    if not _valid(suite, operation, planned.json):  # "required" is newer than some api-versions
        planned = planned.with_body(tool_choice={"type": "function", "function": {"name": "get_weather"}})
    _probe(judge, suite, operation, planned, "parallel_tool_calls", "parameters: parallel_tool_calls false",
           stream=True)


@pytest.mark.kinds("chat", "completions")
@pytest.mark.rules("STREAM-INCLUDE-USAGE", "PARAM-ACCEPTED")
def test_stream_options_include_usage(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    rules = ["STREAM-INCLUDE-USAGE", "PARAM-ACCEPTED"]
    if suite.api != "azure-openai":
        judge.not_applicable("stream_options is an Azure OpenAI parameter (model inference: an extra parameter)",
                             rules=rules)
    if not _streams(suite):
        judge.not_applicable("the target claims no streaming", rules=rules)
    planned = base.with_body(stream=True, stream_options={"include_usage": True}, max_tokens=4)
    _probe(judge, suite, operation, planned, "stream_options", "parameters: stream_options.include_usage")


@pytest.mark.kinds("chat", "completions", "embeddings")
@pytest.mark.rules("PARAM-ACCEPTED")
def test_unobservable_parameters_are_accepted(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    """Sampling, penalties, user, seed, logit_bias, suffix, input_type: accepted one at a time."""
    kind = KIND.get(operation.operation_id)
    plan: list[tuple[Outgoing, str]] = []
    for name, value in UNOBSERVABLE.get(kind or "", {}).items():
        if not _defines(suite, operation, name):
            continue
        planned = base.with_body(**{name: value})
        if "max_tokens" in planned.json:
            planned = planned.with_body(max_tokens=min(4, suite.config.budget.max_tokens))
        if not _valid(suite, operation, planned.json):
            continue
        plan.append((Outgoing.planned(planned, purpose=f"parameters: {name}"), name))
    if not plan:
        judge.not_applicable(f"{operation.operation_id} defines none of the parameters probed here",
                             rules=["PARAM-ACCEPTED"])
    with judge.sending(plan) as answers:  # one parameter per request: none depends on another's answer
        for name, ex in answers:
            judge.judge("PARAM-ACCEPTED", D.param_accepted(ex, param=name))
