"""The official clients, run against the target as a user would, as judges (rules CLIENT-*).

One test per scenario of the API's client (`conformance/runner/clients/`). Every request goes through
the suite's one client, so each exchange is also judged by every exchange rule; the client's view of
the answers is judged here. Without the clients extra the rules are reported not judged.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.rules import interop
from conformance.runner.clients import (
    EXTRA_HINT,
    SCENARIOS,
    CallContext,
    Recorder,
    Scenario,
    installed_version,
)
from conformance.runner.clients.bridge import ClientRequest, relative
from conformance.runner.payloads import (
    CHAT_OPS,
    COMPLETIONS_OPS,
    EMBEDDING_OPS,
    IMAGE_EMBEDDING_OPS,
    INFO_OPS,
)
from conformance.runner.plugin import get_session
from conformance.runner.session import TestJudge
from conformance.transport.exchange import Exchange

CLIENT_RULES = ("CLIENT-CALL", "CLIENT-FIELDS", "CLIENT-STREAM")
KINDS = {"chat": CHAT_OPS, "completions": COMPLETIONS_OPS, "embeddings": EMBEDDING_OPS,
         "image_embeddings": IMAGE_EMBEDDING_OPS, "info": INFO_OPS}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scenario" not in metafunc.fixturenames:
        return

    suite = get_session(metafunc.config)
    scenarios = SCENARIOS.get(suite.api, ()) if suite is not None else ()
    metafunc.parametrize("scenario", scenarios, ids=[f"{s.package}:{s.id}" for s in scenarios])


def _operation(suite: Any, kind: str) -> str | None:
    return next((op for op in suite.spec.operations if op in KINDS[kind]), None)


@pytest.mark.rules(*CLIENT_RULES)
def test_official_client(scenario: Scenario, judge: TestJudge, suite: Any) -> None:
    op = _operation(suite, scenario.kind)
    judge.operation_id = op
    version = installed_version(scenario.package)
    if op is None:
        judge.not_applicable(f"the {suite.api} spec has no {scenario.kind} operation", rules=CLIENT_RULES)
    if not suite.offers(op):
        judge.not_applicable(f"the target does not offer {op} (target file `operations`)", rules=CLIENT_RULES)
    if scenario.capability and suite.capability(scenario.capability) is False:
        judge.not_applicable(f"the target claims {scenario.capability} unsupported", rules=CLIENT_RULES)
    if version is None:
        suite.collector.record_client(scenario.package, None, scenario.id, op, "not judged", EXTRA_HINT)
        judge.skip(f"the official client is not installed ({EXTRA_HINT})", rules=CLIENT_RULES)

    def send(request: ClientRequest) -> Exchange:
        path, query = relative(request.url, suite.config.endpoint)
        matched = suite.spec.match(request.method, path)
        api_version = query.pop("api-version", None)
        return judge.send(request.method, path, operation_id=matched.operation_id if matched else op,
                          purpose=f"{scenario.package} {scenario.id}", content=request.body,
                          headers=request.headers, params=query, api_version=api_version)

    config = suite.config
    ctx = CallContext(
        send=send, endpoint=config.endpoint, api_version=suite.client.api_version, models=dict(config.models or {}),
        capabilities=dict(config.capabilities or {}), max_tokens=config.budget.max_tokens,
        timeout=config.limits.total_timeout + config.limits.max_stream_seconds,
        chat_properties=frozenset(_chat_properties(suite)),
    )
    scenario.run(ctx, Recorder(ctx, scenario.package, version))
    _judge(judge, suite, ctx.outcomes)


def _judge(judge: TestJudge, suite: Any, outcomes: list[interop.ClientOutcome]) -> None:
    plain_for: dict[tuple[str, ...], interop.ClientOutcome] = {}
    for o in outcomes:
        op = o.operation_id or judge.operation_id
        if o.not_judged:
            for rule in CLIENT_RULES:
                suite.collector.mark_skipped(rule, op, f"not judged: {o.not_judged}")
            suite.collector.record_client(o.client, o.version, o.call, op, "not judged", o.not_judged)
            continue
        found = judge.judge("CLIENT-CALL", interop.client_call(o), operation_id=op)
        # A rule passes only where it judged something: fields that were read, shapes that were built.
        if o.readings and not o.error:
            found += judge.judge("CLIENT-FIELDS", interop.client_fields(o), operation_id=op)
        plain = plain_for.get(o.offered_tools)
        if o.streamed and o.shape is not None and plain is not None:
            found += judge.judge("CLIENT-STREAM", interop.client_stream(o, plain), operation_id=op)
        elif not o.streamed and o.shape is not None and not o.error:
            plain_for[o.offered_tools] = o
        why = "; ".join(f.message.split(": ", 1)[-1] for f in found[:2])
        suite.collector.record_client(o.client, o.version, o.call, op, "fails" if found else "works", why,
                                      found[0].exchange if found else o.exchange, found[0].rule_id if found else None)


def _chat_properties(suite: Any) -> set[str]:
    """Request-body properties the spec version defines for chat (usage is asked for only where it can be)."""
    op = _operation(suite, "chat")
    pointer = suite.spec.operations[op].request_schema_pointer if op else None
    return _properties(suite.spec.raw, pointer, 0) if pointer else set()


def _properties(raw: Any, pointer: str, depth: int) -> set[str]:
    node: Any = raw
    for part in pointer.lstrip("#").strip("/").split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            node = node.get(key, {}) if isinstance(node, dict) else {}
    if not isinstance(node, dict) or depth > 8:
        return set()
    if isinstance(node.get("$ref"), str):
        return _properties(raw, node["$ref"], depth + 1)
    names = set(node.get("properties") or {})
    for i, part in enumerate(node.get("allOf") or []):
        if isinstance(part, dict):
            names |= _properties(raw, f"{pointer}/allOf/{i}", depth + 1)
    return names
