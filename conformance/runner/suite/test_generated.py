"""Every operation exercised with generated requests (schemathesis + hypothesis).

Requests come from the *generation view* of the spec (conformance.runner.generation): api-version pinned,
messages generated per discriminated subtype, no undeclared keys, cost clamps. Responses are
always judged against the real spec by the exchange rules. Hypothesis never sees a failure (we
collect findings instead of raising), so it never shrinks: no extra paid requests.

Hypothesis draws every case of a test first (no case depends on another's answer), then the cases
are sent `limits.max_in_flight` at a time and judged in the order drawn (`TestJudge.send_many`):
for a given seed the requests, the verdicts and the notes are those of sending them one by one.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hseed

from conformance.rules import behaviour as B
from conformance.runner.generation import (
    bound_tokens,
    generation_strategy,
    generation_view,
    sendable_headers,
    token_limit_field,
)
from conformance.runner.payloads import fill_path, model_for
from conformance.runner.session import Outgoing, TestJudge
from conformance.runner.suite.conftest import KINDS
from conformance.spec.prose import prose_violations

EXAMPLES = {"smoke": 3, "standard": 15, "deep": 150}
NEGATIVE_EXAMPLES = {"smoke": 3, "standard": 12, "deep": 120}

_VIEWS: dict[Any, Any] = {}


def _view(suite: Any) -> Any:
    key = id(suite)
    if key not in _VIEWS:
        _VIEWS[key] = generation_view(suite.spec, api_version=suite.api_version, max_tokens=suite.config.budget.max_tokens)
    return _VIEWS[key]


def _strategy(suite: Any, operation: Any, mode: str) -> Any:
    return generation_strategy(suite.spec, operation.operation_id, mode=mode, view=_view(suite))


def _draw(suite: Any, operation: Any, count: int, mode: str, prepare: Callable[[Any], Any]) -> list[Any]:
    """What `prepare` makes of every case hypothesis draws, in the order drawn (None left out)."""
    drawn: list[Any] = []
    _run(suite, operation, count, mode, lambda case: drawn.append(prepare(case)))
    return [item for item in drawn if item is not None]


def _run(suite: Any, operation: Any, count: int, mode: str, body: Any) -> None:
    strategy = _strategy(suite, operation, mode)
    op_seed = (suite.seed or 0) ^ zlib.crc32(f"{operation.operation_id}:{mode}".encode())

    @hseed(op_seed)
    @settings(
        max_examples=count,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=False,
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        body(case)

    run()


def _request_kwargs(suite: Any, operation: Any, case: Any, *, pin_model: bool = True) -> dict[str, Any] | None:
    """httpx arguments for a case. Positive cases get the target's model; negative ones are sent as drawn
    (their invalidity may be the model field itself). Either way only declared parameters go out,
    headers only as HTTP/1.1 can carry them, and a token-spending body carries the budget's limit."""
    kwargs: dict[str, Any] = {}
    declared = {p.name for p in operation.parameters if p.location == "query"}
    params = {k: str(v) if not isinstance(v, str) else v for k, v in (case.query or {}).items()
              if k != "api-version" and k in declared}
    if "model" in params and pin_model:
        # Same as the body's `model`: an unknown model name is a legitimate 404.
        model = (suite.config.models or {}).get("chat")
        if model:
            params["model"] = model
        else:
            params.pop("model")
    if params:
        kwargs["params"] = params
    headers = sendable_headers(case.headers, {p.name.lower() for p in operation.parameters if p.location == "header"})
    if headers:
        kwargs["headers"] = headers
    body = bound_tokens(case.body, token_limit_field(suite.spec, operation.operation_id), suite.config.budget.max_tokens)
    if isinstance(body, dict) and "model" in body and pin_model:
        # A random model name is a legitimate 4xx on a multi-model endpoint: pin it or leave it out.
        model = model_for(operation.operation_id, suite.config.models or {})
        body = dict(body)
        if model:
            body["model"] = model
        else:
            body.pop("model")
    if pin_model and isinstance(body, dict) and isinstance(body.get("messages"), list):
        body = dict(body, messages=realistic_conversation(body["messages"]))
    if body is not None and not _is_unset(body):
        try:
            kwargs["content"] = json.dumps(body, allow_nan=False).encode()
        except (TypeError, ValueError):
            return None
        kwargs.setdefault("headers", {})["Content-Type"] = case.media_type or "application/json"
    return kwargs


def realistic_conversation(messages: list[Any]) -> list[Any]:
    """Reorder generated messages into the shape every chat model accepts.

    The schema allows any order of roles, but real models enforce conversation templates the spec
    cannot express (Llama and Mistral templates: system first, user/assistant alternating, ending
    with user). A valid-per-schema request refused for that would be a false alarm, so positive
    cases keep their generated messages but in that shape: leading system message(s), alternating
    user/assistant pairs, a final user message (a fixed one when none was generated).
    """
    dicts = [m for m in messages if isinstance(m, dict)]
    systems = [m for m in dicts if m.get("role") == "system"][:1]
    users = [m for m in dicts if m.get("role") == "user"]
    assistants = [m for m in dicts if m.get("role") == "assistant"]
    out = list(systems)
    for user, assistant in zip(users[:-1], assistants, strict=False):
        out += [user, assistant]
    out.append(users[-1] if users else {"role": "user", "content": "Say hello."})
    return out


def _is_unset(value: Any) -> bool:
    return type(value).__name__ == "NotSet"


#: Body parameters that stand for a capability the target file can claim.
CAPABILITY_PARAMS = {"tools", "tool_choice", "response_format", "modalities", "audio", "dimensions", "encoding_format", "input_type"}


def unclaimed_features(body: Any, capabilities: dict[str, Any]) -> set[str]:
    """Request features present in `body` that the target does not claim (a 422 naming one is fine)."""
    if not isinstance(body, dict):
        return set()
    out: set[str] = set()

    def claimed(name: str) -> bool:
        return capabilities.get(name) is True

    if ("tools" in body or "tool_choice" in body) and not claimed("tools"):
        out |= {"tools", "tool_choice"}
    rf = body.get("response_format")
    if isinstance(rf, dict):
        kind = rf.get("type")
        if kind in ("json_object", "json_schema") and not claimed(kind):
            out.add("response_format")
    if ("modalities" in body or "audio" in body) and not claimed("audio"):
        out |= {"modalities", "audio"}
    if "dimensions" in body and body["dimensions"] not in (capabilities.get("embedding_dimensions") or []):
        out.add("dimensions")
    if "encoding_format" in body and body["encoding_format"] not in (capabilities.get("encoding_formats") or ["float"]):
        out.add("encoding_format")
    if "input_type" in body and not claimed("input_type"):
        out.add("input_type")
    images = any(
        isinstance(item, dict) and item.get("type") == "image_url"
        for m in body.get("messages") or [] if isinstance(m, dict) and isinstance(m.get("content"), list)
        for item in m["content"]
    )
    if images and not claimed("image_input"):
        out |= {"messages", "image_url", "content"}
    for key in ("seed", "stop", "presence_penalty", "frequency_penalty", "top_p", "logit_bias", "logprobs", "n", "user"):
        if key in body and capabilities.get(key) is False:
            out.add(key)
    return out


@pytest.mark.rules("POSITIVE-ACCEPTED", "SUPPORTED-NOT-422")
def test_generated_valid_requests_are_accepted(operation: Any, judge: TestJudge, suite: Any) -> None:
    """Every generated valid request gets 2xx (validated) or a documented refusal."""
    count = EXAMPLES[suite.config.depth]
    path = fill_path(operation.path, operation.operation_id, suite.config.models or {})
    caps = suite.config.capabilities or {}
    sent = 0

    def prepare(case: Any) -> Any:
        kwargs = _request_kwargs(suite, operation, case)
        if kwargs is None:
            return None
        why = _not_valid(suite, operation, kwargs)
        if why:  # the generation view let through what the spec forbids: a suite note, never a finding
            return f"{operation.operation_id}: generated positive case not sent: {why}"
        return Outgoing.of(operation.method, path, purpose="positive: generated", droppable=True, **kwargs), None

    with judge.sending(_draw(suite, operation, count, "positive", prepare)) as answers:
        for _, ex in answers:
            sent += 1
            req_body = ex.request.json if ex.request.json is not None else None
            unclaimed = unclaimed_features(req_body, caps)
            # Parameters a model may not support: capabilities by what the target claims of them, any
            # other parameter unless the target claims it (`capabilities.<name>: true`).
            refusable = {k for k in (req_body or {}) if k not in REQUIRED_CONTENT
                         and (k in unclaimed if k in CAPABILITY_PARAMS else caps.get(k) is not True)}
            judge.judge("POSITIVE-ACCEPTED", B.positive_accepted(ex, unclaimed=unclaimed, refusable=refusable, api=suite.api))
            if ex.response is not None and ex.response.status == 422:
                fields = B.error_fields(ex.response.json)
                named = B.error_params(ex.response.json)
                claimed_named = [k for k in (req_body or {}) if k in named and k not in unclaimed and k in CAPABILITY_PARAMS]
                if claimed_named:
                    judge.judge("SUPPORTED-NOT-422", B.supported_not_422(ex, param=claimed_named[0]))
                for feature in unclaimed:
                    name = _capability_name(feature, req_body)
                    if feature in fields["where"] and name in ("tools", "json_object", "json_schema", "audio", "input_type"):
                        suite.discover(name, False)

    if sent == 0:
        judge.skip("no generated request could be sent (see the run's suite notes)",
                   rules=["POSITIVE-ACCEPTED", "SUPPORTED-NOT-422"])


#: What a request is about: never an "unsupported parameter" a model may refuse.
REQUIRED_CONTENT = frozenset({"messages", "input", "prompt", "model"})


def _not_valid(suite: Any, operation: Any, kwargs: dict[str, Any]) -> str | None:
    """Why the body about to be sent as a valid request is not valid per the schema or the prose."""
    if "content" not in kwargs:
        return None
    body = json.loads(kwargs["content"])
    issues = [i for i in suite.spec.validate_request(operation.operation_id, body) if i.level == "error"]
    if issues:
        return str(issues[0])
    broken = prose_violations(suite.api, operation.operation_id, body)
    return broken[0] if broken else None


def _capability_name(feature: str, body: Any) -> str:
    if feature == "response_format" and isinstance(body, dict):
        return str((body.get("response_format") or {}).get("type", "response_format"))
    return {"tool_choice": "tools", "modalities": "audio"}.get(feature, feature)


@pytest.mark.rules("NEGATIVE-REJECTED")
def test_generated_invalid_requests_are_rejected(operation: Any, judge: TestJudge, suite: Any) -> None:
    """Schema-invalid generated requests get a 4xx with an error body, never 2xx or 5xx."""
    if operation.request_schema_pointer is None and not any(p.required for p in operation.parameters if p.location != "path"):
        judge.not_applicable(f"{operation.operation_id} takes no body or required parameter to break", rules=["NEGATIVE-REJECTED"])
    count = NEGATIVE_EXAMPLES[suite.config.depth]
    path = fill_path(operation.path, operation.operation_id, suite.config.models or {})
    sent = 0

    def prepare(case: Any) -> Any:
        kwargs = _request_kwargs(suite, operation, case, pin_model=False)
        if kwargs is None:
            return None
        sent_body = json.loads(kwargs["content"]) if "content" in kwargs else case.body
        why = _why_invalid(suite, operation, case, sent_body)
        if why is None:
            return None  # the mutation happens to be valid per the real spec: not a negative case
        api_version: Any = suite.api_version
        query = case.query or {}
        if "api-version" not in query:
            api_version = None
        elif query["api-version"] != suite.api_version:
            api_version = str(query["api-version"])
        out = Outgoing.of(operation.method, path, purpose=f"negative (generated): {why}", api_version=api_version,
                          droppable=True, **kwargs)
        return out, why

    with judge.sending(_draw(suite, operation, count, "negative", prepare)) as answers:
        for why, ex in answers:
            sent += 1
            judge.judge("NEGATIVE-REJECTED", B.negative_rejected(ex, why_invalid=why))
    if sent == 0:
        # A property of the generator at this depth and seed, not of the target: nothing to hold it to.
        judge.not_applicable("no generated request was invalid per the real spec", rules=["NEGATIVE-REJECTED"])


def _why_invalid(suite: Any, operation: Any, case: Any, body: Any) -> str | None:
    """Why the request about to be sent (the case's parameters, `body`) is invalid per the real spec."""
    query = case.query or {}
    if any(p.name == "api-version" for p in operation.parameters) and "api-version" not in query:
        return "the required api-version query parameter is missing"
    if "api-version" in query and query["api-version"] != suite.api_version and not isinstance(query["api-version"], str):
        return f"api-version is {query['api-version']!r}"
    if operation.request_schema_pointer is not None:
        if body is None or _is_unset(body):
            return "the required request body is missing"
        issues = [i for i in suite.spec.validate_request(operation.operation_id, body) if i.level == "error"]
        if issues:
            return str(issues[0])
    return None


# Hand-written invalid requests, one per kind of mistake (the REST contract's most common ones).
HAND_NEGATIVES: dict[str, list[tuple[str, Any]]] = {
    "chat": [
        ("`messages` is missing (required)", {"max_tokens": 4}),
        ("`messages` is empty (minItems 1)", {"messages": [], "max_tokens": 4}),
        ("`temperature` 1.5 is above the maximum", {"messages": [{"role": "user", "content": "hi"}], "temperature": 1.5, "max_tokens": 4}),
        ("`max_tokens` is a string", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": "ten"}),
        ("a user message has no `content`", {"messages": [{"role": "user"}], "max_tokens": 4}),
    ],
    "embeddings": [
        ("`input` is missing (required)", {}),
        ("`input` is a number", {"input": 42}),
    ],
    "image_embeddings": [
        ("`input` is missing (required)", {}),
        ("an input item has no `image`", {"input": [{"text": "no image"}]}),
    ],
    "completions": [
        ("`max_tokens` is a string", {"prompt": ["hi"], "max_tokens": "ten"}),
    ],
}


def _kind(operation_id: str) -> str | None:
    for kind, ops in KINDS.items():
        if operation_id in ops:
            return kind
    return None


@pytest.mark.rules("NEGATIVE-REJECTED")
def test_hand_written_invalid_requests_are_rejected(operation: Any, judge: TestJudge, suite: Any) -> None:
    """Missing required fields, wrong types, out-of-range numbers, malformed JSON, wrong content type."""
    kind = _kind(operation.operation_id)
    if kind not in HAND_NEGATIVES:
        judge.not_applicable(f"no hand-written invalid requests for {operation.operation_id}", rules=["NEGATIVE-REJECTED"])
    path = fill_path(operation.path, operation.operation_id, suite.config.models or {})
    model = model_for(operation.operation_id, suite.config.models or {})
    plan: list[tuple[Outgoing, str]] = []
    for why, body in HAND_NEGATIVES[kind]:
        issues = [i for i in suite.spec.validate_request(operation.operation_id, body) if i.level == "error"]
        if not issues:
            continue  # this spec version allows it: not a negative case here
        if suite.api == "model-inference" and model:
            body = dict(body, model=model)
        plan.append((Outgoing.of(operation.method, path, json=body, purpose=f"negative: {why}"), why))
    plan.append((Outgoing.of(operation.method, path, content=b'{"messages": [', purpose="negative: malformed JSON",
                              headers={"Content-Type": "application/json"}), "the body is malformed JSON"))
    plan.append((Outgoing.of(operation.method, path, content=b"hello", headers={"Content-Type": "text/plain"},
                              purpose="negative: wrong content type"),
                 "the body is text/plain, the operation takes application/json"))
    with judge.sending(plan) as answers:
        for why, ex in answers:
            judge.judge("NEGATIVE-REJECTED", B.negative_rejected(ex, why_invalid=why))
