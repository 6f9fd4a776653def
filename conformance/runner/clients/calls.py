"""What the client drivers share: the call context, outcome recording, and the installed clients."""

from __future__ import annotations

import contextlib
import importlib.metadata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from conformance.rules.interop import ClientOutcome
from conformance.runner.clients.bridge import ClientRequest, failure
from conformance.text import clip
from conformance.transport import redact
from conformance.transport.exchange import Exchange

#: The extra that installs the clients, named in every "not judged" reason.
EXTRA_HINT = "install the clients extra: pip install 'azure-inference-conformance[clients]'"

#: The function every tool call must name (the suite offers one).
TOOL_NAME = "get_weather"
TOOL_PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOL_DESCRIPTION = "Weather for a city."
TOOL_PROMPT = "What is the weather in Paris?"
SYSTEM_PROMPT = "You are a terse assistant."
CHAT_PROMPT = "Say hello in three words."
EMBED_INPUT = ["first conformance input", "second conformance input"]


def installed_version(package: str) -> str | None:
    """The installed version of a client package, or None when it (or a module it needs) is missing."""
    try:
        version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None
    module = {"azure-ai-inference": "azure.ai.inference", "openai": "openai"}[package]
    try:
        importlib.import_module(module)
    except ImportError:
        return None
    return version


@dataclass
class CallContext:
    """What a driver needs: where to send, the deployment's names and claims, the suite's bounds."""

    send: Callable[[ClientRequest], Exchange]  # through the suite's one client (TestJudge.send)
    endpoint: str
    api_version: str
    models: dict[str, str]
    capabilities: dict[str, Any]
    max_tokens: int
    timeout: float
    #: Request-body properties the spec version defines for chat (e.g. "stream_options").
    chat_properties: frozenset[str] = frozenset()
    outcomes: list[ClientOutcome] = field(default_factory=list)

    def deployment(self, kind: str) -> str:
        """The Azure OpenAI deployment for a kind of call, named as the other suite tests name it."""
        if kind == "completions":
            return self.models.get("completions") or self.models.get("chat") or "deployment"
        return self.models.get(kind) or self.models.get("chat") or "deployment"

    def claims(self, capability: str) -> bool | None:
        value = self.capabilities.get(capability)
        return value if isinstance(value, bool) else None


class Recorder:
    """Collects the exchanges one client call made, and turns its result or exception into an outcome."""

    def __init__(self, ctx: CallContext, client: str, version: str) -> None:
        self.ctx, self.client, self.version = ctx, client, version
        self._current: list[Exchange] | None = None

    def send(self, request: ClientRequest) -> Exchange:
        ex = self.ctx.send(request)
        if self._current is not None:
            self._current.append(ex)
        return ex

    @contextlib.contextmanager
    def call(self, name: str, *, capability: str | None = None, **extra: Any) -> Iterator[ClientOutcome]:
        """Run one client call; its exception becomes the outcome's error (the client's own message).

        A call the target refused the documented way (429 after the suite's retries; 422 for a
        `capability` it does not claim) is not judged: other rules judge those refusals.
        """
        outcome = ClientOutcome(self.client, self.version, name, **extra)
        self._current = outcome.exchanges
        try:
            yield outcome
        except Exception as exc:  # the client's own error is what CLIENT-CALL reports

            outcome.error = clip(redact.scrub(f"{type(exc).__name__}: {exc}"), 600)
        finally:
            self._current = None
            self._settle(outcome, capability)
            self.ctx.outcomes.append(outcome)

    def _settle(self, outcome: ClientOutcome, capability: str | None) -> None:
        last = outcome.exchange
        if last is not None and outcome.operation_id is None:
            outcome.operation_id = last.operation_id
        broken = next((why for why in map(failure, outcome.exchanges) if why), None)
        status = last.response.status if last is not None and last.response is not None else None
        if broken:
            outcome.not_judged = f"the target gave no complete answer ({broken}); TRANSPORT-ANSWER and STREAM-COMPLETE judge that"
        elif outcome.error and status == 429:
            outcome.not_judged = "the target kept answering 429 after the suite's retries"
        elif outcome.error and status == 422 and capability and self.ctx.claims(capability) is not True:
            outcome.not_judged = f"the target refused {capability} with 422 and does not claim it"
