"""Transport: the target answers at all, completely, within the suite's limits.

Without this rule a server that drips bytes or resets connections would leave most semantic
rules "not applicable" (they need a response) and the run would look clean.
"""

from __future__ import annotations

from collections.abc import Iterator

from conformance.rules._model import Finding, RuleContext
from conformance.rules.registry import rule
from conformance.transport.exchange import Exchange


def _always(ctx: RuleContext, ex: Exchange) -> bool:
    return True


@rule(
    "TRANSPORT-ANSWER",
    "transport",
    "Every request gets a complete HTTP answer within the configured limits (connect, read and total "
        "timeouts, maximum body size), without a connection error.",
    "HTTP/1.1 message framing (RFC 9112 §6); the suite's limits (target file `limits`, docs/behaviours.md)",
    applies=_always,
)
def check_transport_answer(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    if ex.error and (ex.response is None or ex.response.stream is None):
        where = "no response" if ex.response is None else f"response {ex.response.status} incomplete"
        yield Finding(f"{where}: {ex.error}", path="transport", value=None)
    elif ex.response is not None and ex.response.truncated and ex.response.stream is None:
        yield Finding(
            f"the response body exceeded the suite's limit and was cut after {len(ex.response.body)} bytes",
            path="body",
            value=str(len(ex.response.body)),
        )
