"""The official clients as drivers: each scenario runs one client's calls as a user's code would.

azure-ai-inference is the official client of the Model Inference API, openai's `AzureOpenAI` the one
of Azure OpenAI. They are optional (`pip install 'azure-inference-conformance[clients]'`); without
them the interop rules are reported not judged, never silently absent. Every request goes through
the suite's one client (`bridge.py`), and the rules in `conformance/rules/interop.py` judge what the
clients made of the answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from conformance.runner.clients import inference, openai_calls
from conformance.runner.clients.calls import EXTRA_HINT, CallContext, Recorder, installed_version


@dataclass(frozen=True)
class Scenario:
    id: str
    package: str  # the client's distribution name
    kind: str  # the operation kind it calls (conformance.runner.payloads kinds)
    run: Callable[[CallContext, Recorder], None]
    #: A capability that, claimed unsupported (`false`), makes the scenario not applicable.
    capability: str | None = None


SCENARIOS: dict[str, tuple[Scenario, ...]] = {
    "model-inference": (
        Scenario("chat", inference.PACKAGE, "chat", partial(inference.chat, tools=False)),
        Scenario("chat-tools", inference.PACKAGE, "chat", partial(inference.chat, tools=True), "tools"),
        Scenario("model-info", inference.PACKAGE, "info", inference.model_info),
        Scenario("embeddings", inference.PACKAGE, "embeddings", inference.embeddings),
        Scenario("image-embeddings", inference.PACKAGE, "image_embeddings", inference.image_embeddings,
                 "image_embeddings"),
    ),
    "azure-openai": (
        Scenario("chat", openai_calls.PACKAGE, "chat", partial(openai_calls.chat, tools=False)),
        Scenario("chat-tools", openai_calls.PACKAGE, "chat", partial(openai_calls.chat, tools=True), "tools"),
        Scenario("completions", openai_calls.PACKAGE, "completions", openai_calls.completions),
        Scenario("embeddings", openai_calls.PACKAGE, "embeddings", openai_calls.embeddings),
    ),
}

__all__ = ["EXTRA_HINT", "SCENARIOS", "CallContext", "Recorder", "Scenario", "installed_version"]
