"""Behaviour rules for what a deployment route must refuse, and for parameters that leave no trace.

Azure OpenAI serves each model under `/deployments/{deployment-id}/...`. A request it cannot serve
(an unknown deployment, a deployment of another kind, an input longer than any model reads) must be
refused with a 4xx error body: a 5xx blames the service, a silent 200 hides the mistake. Parameters
whose effect a single answer cannot show (sampling, penalties, `user`, ...) are judged as accepted:
a 2xx, or a 4xx that names the parameter (the documented way a model refuses what it does not do).
"""

from __future__ import annotations

from collections.abc import Iterator

from conformance.rules._model import Finding, Level
from conformance.rules.behaviour import _finding, answered, error_fields, error_params
from conformance.rules.registry import rule
from conformance.text import shorten
from conformance.transport.exchange import Exchange


@answered
def _refused(ex: Exchange, what: str, *, silent: str) -> Iterator[Finding]:
    """A 4xx (other than 401/403/429) passes; a 2xx or a 5xx or an auth refusal is a violation."""
    st = ex.response.status
    if st == 429 or (400 <= st < 500 and st not in (401, 403)):
        return
    if 200 <= st < 300:
        yield _finding(ex, f"{what} was answered {st}: {silent}", variant="silent-accept")
    elif st >= 500:
        yield _finding(ex, f"{what} caused a server error {st}; the request is at fault, so a 4xx is due")
    else:
        yield _finding(ex, f"{what} was answered {st}, not a 4xx error")


@rule(
    "DEPLOYMENT-UNKNOWN",
    "errors",
    "A request to a deployment that does not exist is refused with a 4xx error (Azure OpenAI: 404 "
    "DeploymentNotFound); never 2xx, never 5xx.",
    'Azure OpenAI: 404 {"error": {"code": "DeploymentNotFound", "message": "The API deployment for this resource '
    'does not exist ..."}} (corpus openllmetry-26)',
    api="azure-openai",
    scope="behaviour",
)
def deployment_unknown(ex: Exchange, *, deployment: str) -> Iterator[Finding]:
    yield from _refused(ex, f"a request to the unknown deployment {deployment!r}",
                        silent="some model answered for a deployment that does not exist")


@rule(
    "DEPLOYMENT-WRONG-KIND",
    "errors",
    "A request to a deployment of another kind (embeddings to a chat model, chat or completions to an embeddings "
    "model) is refused with a 4xx error (Azure OpenAI: 400 OperationNotSupported); never 2xx, never 5xx.",
    'Azure OpenAI: 400 {"error": {"code": "OperationNotSupported", "message": "The embeddings operation does not '
    'work with the specified model, gpt-35-turbo ..."}} (run-llama/llama_index#6436, langchain-ai/langmem#13)',
    api="azure-openai",
    scope="behaviour",
)
def deployment_wrong_kind(ex: Exchange, *, deployment: str, kind: str, operation: str) -> Iterator[Finding]:
    yield from _refused(ex,
                        f"a {operation} request to the {kind} deployment {deployment!r}",
                        silent=f"a {kind} deployment cannot serve {operation}")


@rule(
    "INPUT-TOO-LONG",
    "errors",
    "An embeddings input longer than the model reads is refused with a 4xx error, never a 5xx. A 2xx is a "
    "warning: the suite cannot know the model's limit, and a model with a larger window may embed it.",
    'embeddings_create input: "Each input must not exceed the max input tokens for the model (8192 tokens for '
    'text-embedding-ada-002)"; Azure OpenAI answers 400 "This model\'s maximum context length is 8192 tokens ..."',
    scope="behaviour",
    api="azure-openai",
)
@answered
def input_too_long(ex: Exchange, *, tokens: int) -> Iterator[Finding]:
    st = ex.response.status
    if st >= 500:
        yield _finding(ex, f"an input of about {tokens} tokens caused a server error {st}; "
                       "an over-long input is the request's fault, so a 4xx is due")
    elif 200 <= st < 300:
        yield _finding(ex, f"an input of about {tokens} tokens was embedded ({st}); legitimate only "
                       "if the model reads that much (Azure OpenAI embedding models stop at 8192)",
                       level=Level.WARNING, variant="accepted")


@rule(
    "PARAM-ACCEPTED",
    "schema",
    "A valid request using a parameter whose effect cannot be observed (sampling, penalties, user, seed, ...) "
    "gets 2xx, or a 4xx error naming that parameter (a model-specific refusal); never a 5xx, never an "
    "unexplained refusal.",
    "spec: the operation's request schema; Azure OpenAI refuses what a model does not support with 400 "
    "code unsupported_parameter / param (corpus mirascope-26), the REST reference with 422 parameter_not_supported",
    scope="behaviour",
)
@answered
def param_accepted(ex: Exchange, *, param: str) -> Iterator[Finding]:
    st = ex.response.status
    if 200 <= st < 300 or st == 429:
        return
    body = ex.response.json
    fields = error_fields(body)
    if st >= 500:
        yield _finding(ex, f"a valid request with {param!r} caused a server error {st}",
                       path=f"$.{param}")
    elif str(fields["code"]) == "content_filter":
        return
    elif param in error_params(body) or param in str(fields["where"]):
        return  # refused by name: the model does not do it, and says so
    else:
        yield _finding(ex, f"a valid request with {param!r} was refused with {st} without naming "
                       f"it ({shorten(fields['message'] or ex.response.text, 160)})", path=f"$.{param}")
