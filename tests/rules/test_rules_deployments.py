"""Behaviour judges for deployment routes and accepted parameters, both ways."""

from __future__ import annotations

from typing import Any

from conformance.rules import deployments as D
from conformance.rules._model import Level
from tests.rules.helpers import exchange

ERR = {"error": {"code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist."}}


def _ex(status: int, body: Any = ERR) -> Any:
    return exchange("ChatCompletions_Create", {"messages": [{"role": "user", "content": "hi"}]}, status=status,
                    body=body, api="azure-openai")


def test_unknown_and_wrong_kind_deployments_must_be_4xx() -> None:
    for status in (404, 400, 429):
        assert list(D.deployment_unknown(_ex(status), deployment="nope")) == []
        assert list(D.deployment_wrong_kind(_ex(status), deployment="emb", kind="embeddings", operation="chat")) == []
    [f] = D.deployment_unknown(_ex(200, {"choices": []}), deployment="nope")
    assert f.variant == "silent-accept" and f.level == Level.VIOLATION and "'nope'" in f.message
    [f] = D.deployment_wrong_kind(_ex(500), deployment="emb", kind="embeddings", operation="ChatCompletions_Create")
    assert "server error 500" in f.message
    [f] = D.deployment_unknown(_ex(401), deployment="nope")
    assert "not a 4xx" in f.message


def test_input_too_long() -> None:
    assert list(D.input_too_long(_ex(400), tokens=12000)) == []
    [f] = D.input_too_long(_ex(200, {"data": []}), tokens=12000)
    assert f.level == Level.WARNING and f.variant == "accepted"
    [f] = D.input_too_long(_ex(503), tokens=12000)
    assert f.level == Level.VIOLATION


def test_param_accepted() -> None:
    assert list(D.param_accepted(_ex(200, {}), param="user")) == []
    named = {"error": {"code": "unsupported_parameter", "message": "Unsupported parameter: 'seed'.", "param": "seed"}}
    assert list(D.param_accepted(_ex(400, named), param="seed")) == []
    prose = {"error": {"code": "BadRequest", "message": "logprobs is not supported with this model"}}
    assert list(D.param_accepted(_ex(400, prose), param="logprobs")) == []
    [f] = D.param_accepted(_ex(400, {"error": {"code": "invalid_request", "message": "The request failed."}}),
                           param="user")
    assert f.path == "$.user" and "without naming it" in f.message
    [f] = D.param_accepted(_ex(500), param="user")
    assert "server error" in f.message
