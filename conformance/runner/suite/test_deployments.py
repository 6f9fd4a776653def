"""Requests a deployment route cannot serve: an unknown deployment, a deployment of another kind, an
input longer than an embedding model reads. Each must be a 4xx error, never a 5xx or a silent 200."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.rules import deployments as D
from conformance.runner.payloads import model_for
from conformance.runner.session import TestJudge

UNKNOWN_DEPLOYMENT = "conformance-no-such-deployment"
#: Words in the over-long embeddings input: about 12,000 tokens, past the 8,192 of every Azure OpenAI
#: embedding model, and cheap if a model with a larger window embeds it anyway.
LONG_INPUT_WORDS = 12_000


def _aoai_only(judge: TestJudge, suite: Any, rules: list[str]) -> None:
    if suite.api != "azure-openai":
        judge.not_applicable("deployment routes are Azure OpenAI's (model inference names the model in the body)",
                             rules=rules)


@pytest.mark.kinds("chat", "completions", "embeddings")
@pytest.mark.rules("DEPLOYMENT-UNKNOWN")
def test_unknown_deployment_is_refused(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    _aoai_only(judge, suite, ["DEPLOYMENT-UNKNOWN"])
    path = operation.path.replace("{deployment-id}", UNKNOWN_DEPLOYMENT)
    ex = judge.send(base.method, path, json=base.json, purpose="deployments: unknown deployment")
    judge.judge("DEPLOYMENT-UNKNOWN", D.deployment_unknown(ex, deployment=UNKNOWN_DEPLOYMENT))


#: The deployment kind that cannot serve each operation kind (chat and completions models may serve
#: both, so only the embeddings pairing is certain to be wrong).
WRONG_KIND = {"ChatCompletions_Create": ("embeddings",), "Completions_Create": ("embeddings",),
              "embeddings_create": ("chat", "completions")}


@pytest.mark.kinds("chat", "completions", "embeddings")
@pytest.mark.rules("DEPLOYMENT-WRONG-KIND")
def test_wrong_kind_of_deployment_is_refused(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    _aoai_only(judge, suite, ["DEPLOYMENT-WRONG-KIND"])
    models = suite.config.models or {}
    own = model_for(operation.operation_id, models)
    targets = [(kind, models[kind]) for kind in WRONG_KIND.get(operation.operation_id, ())
               if models.get(kind) and models[kind] != own]
    if not targets:
        judge.not_applicable("the target file names no deployment of another kind (models:)",
                             rules=["DEPLOYMENT-WRONG-KIND"])
    kind, deployment = targets[0]
    path = operation.path.replace("{deployment-id}", deployment)
    ex = judge.send(base.method, path, json=base.json, purpose=f"deployments: {operation.operation_id} to {kind}")
    judge.judge("DEPLOYMENT-WRONG-KIND",
                D.deployment_wrong_kind(ex, deployment=deployment, kind=kind, operation=operation.operation_id))


@pytest.mark.kinds("embeddings")
@pytest.mark.rules("INPUT-TOO-LONG")
def test_too_long_input_is_refused(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    planned = base.with_body(input=[" ".join(["conformance"] * LONG_INPUT_WORDS)])
    ex = judge.send_planned(planned, purpose=f"deployments: embeddings input of {LONG_INPUT_WORDS} words")
    judge.judge("INPUT-TOO-LONG", D.input_too_long(ex, tokens=LONG_INPUT_WORDS))
