"""Interop rules: the official clients, run against the target as a user would, as judges.

The drivers in `conformance/runner/clients/` make the calls (azure-ai-inference for Model Inference,
openai's AzureOpenAI for Azure OpenAI) through the suite's one client and hand each call's outcome
here: the exception the call raised, every field the client exposed with the JSON path it came from,
and, for chat, the answer's shape as the client accumulated it. The rules judge those against the
recorded exchanges. They are warnings: a client can be stricter than the spec (the azure-ai-inference
stream reader rejects valid SSE comments), and where the wire itself is wrong the spec rules already
report a violation; these say whether customers' code works.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from conformance.rules._model import Finding, Level
from conformance.rules.embeddings import decode_embedding
from conformance.rules.registry import rule
from conformance.text import shorten
from conformance.transport.exchange import NO_JSON, Exchange

CLIENTS = ("azure-ai-inference (Model Inference: ChatCompletionsClient, EmbeddingsClient, ImageEmbeddingsClient); "
           "openai (Azure OpenAI: AzureOpenAI)")


@dataclass
class FieldReading:
    """One field read from a client result, as a user's code reads it."""

    attr: str  # "ChatCompletions.choices[0].message.content"
    path: str  # where the wire carried it: "$.choices[0].message.content"
    value: Any = None  # normalised (datetime -> Unix seconds, enum -> value); None for objects
    kind: str = "value"  # "value" | "object" (a nested client model or a list of them)
    error: str | None = None  # the exception reading it raised
    required: bool = False  # the client declares the field required
    declared: str | None = None  # a type the client converts the wire value to ("datetime")
    converted: bool = True  # False: the client kept the raw wire value where it declares `declared`


@dataclass
class AnswerShape:
    """A chat answer as the client delivered it (choice 0)."""

    content: Any = None
    tool_calls: list[tuple[Any, Any]] = field(default_factory=list)  # (name, arguments)
    finish_reason: Any = None
    usage: Any = None


@dataclass
class ClientOutcome:
    """What one call of an official client did."""

    client: str  # "azure-ai-inference"
    version: str
    call: str  # "ChatCompletionsClient.complete(stream=True)"
    operation_id: str | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    error: str | None = None  # "ValueError: SSE event not supported (...)"
    readings: list[FieldReading] = field(default_factory=list)
    shape: AnswerShape | None = None
    streamed: bool = False
    #: Function names the request offered (tool calls must name one of them).
    offered_tools: tuple[str, ...] = ()
    #: The request asked for usage in the stream (stream_options.include_usage).
    usage_asked: bool = False
    #: Set when the call could not be judged (why); its rules are then reported not judged.
    not_judged: str | None = None

    @property
    def label(self) -> str:
        return f"{self.client} {self.version} {self.call}"

    @property
    def exchange(self) -> Exchange | None:
        return self.exchanges[-1] if self.exchanges else None


def _finding(outcome: ClientOutcome, message: str, path: str = "", value: Any = None,
             variant: str | None = None) -> Finding:
    return Finding(f"{outcome.label}: {message}", path=path, value=None if value is None else shorten(value),
                   variant=variant, level=Level.WARNING, operation_id=outcome.operation_id,
                   exchange=outcome.exchange)


@rule("CLIENT-CALL", "interop",
      "Each call of the API's official client (complete, streamed complete, embed, get_model_info; "
      "chat, streamed chat with tools, completions, embeddings) returns without an exception.",
      f"official clients: {CLIENTS}", Level.WARNING, scope="behaviour")
def client_call(outcome: ClientOutcome) -> Iterator[Finding]:
    if outcome.error:
        yield _finding(outcome, f"the call raised {outcome.error}", path="client",
                       variant=outcome.error.split(":", 1)[0])


# -- fields ------------------------------------------------------------------------------------------

_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "<absent>"})()


def wire_value(doc: Any, path: str) -> Any:
    """The value at a `$.a.b[0]` path of a JSON document, or `_ABSENT`."""
    node = doc
    for name, index in _STEP.findall(path[1:]):
        if name:
            if not isinstance(node, dict) or name not in node:
                return _ABSENT
            node = node[name]
        else:
            i = int(index)
            if not isinstance(node, list) or i >= len(node):
                return _ABSENT
            node = node[i]
    return node


def _same(exposed: Any, wire: Any) -> bool:
    if isinstance(exposed, bool) or isinstance(wire, bool):
        return exposed is wire or exposed == wire and type(exposed) is type(wire)
    if isinstance(exposed, int | float) and isinstance(wire, int | float):
        return math.isclose(exposed, wire, rel_tol=1e-6, abs_tol=1e-9) or (exposed != exposed and wire != wire)
    if isinstance(exposed, list) and isinstance(wire, str):  # the client decoded base64 for the user

        decoded = decode_embedding(wire)
        return decoded is not None and _same(exposed, decoded)
    if isinstance(exposed, list) and isinstance(wire, list):
        return len(exposed) == len(wire) and all(_same(a, b) for a, b in zip(exposed, wire, strict=True))
    if isinstance(exposed, dict) and isinstance(wire, dict):
        return exposed.keys() == wire.keys() and all(_same(exposed[k], wire[k]) for k in exposed)
    return exposed == wire


@rule("CLIENT-FIELDS", "interop",
      "Every field the official client exposes on a result holds what the wire carried: the same value, "
      "converted where the client converts (Unix time to datetime, base64 to floats), and never empty "
      "where the client declares it required.",
      f"official clients' result models: {CLIENTS}", Level.WARNING, scope="behaviour")
def client_fields(outcome: ClientOutcome) -> Iterator[Finding]:
    ex = outcome.exchange
    doc = ex.response.json if ex is not None and ex.response is not None else NO_JSON
    if doc is NO_JSON or outcome.error:
        return
    for r in outcome.readings:
        if r.error:
            yield _finding(outcome, f"reading {r.attr} raised {r.error}", r.path, variant="raised")
            continue
        wire = wire_value(doc, r.path)
        if wire is _ABSENT:
            if r.required and r.value is None:
                yield _finding(outcome,
                               f"{r.attr} is None: the client declares it required and the answer has no "
                               f"`{r.path.rsplit('.', 1)[-1]}`", r.path, variant="required-missing")
            continue
        if not r.converted:
            yield _finding(outcome,
                           f"{r.attr} is the raw wire value {shorten(r.value)}: the client declares {r.declared} "
                           "and could not convert it", r.path, wire, variant="not-converted")
        elif r.kind == "value" and not _same(r.value, wire):
            yield _finding(outcome,
                           f"{r.attr} is {shorten(r.value)} but the answer carried {shorten(wire)}", r.path, wire,
                           variant="differs")


# -- stream shape ------------------------------------------------------------------------------------


def _json_ok(text: Any) -> bool:
    if not isinstance(text, str):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@rule("CLIENT-STREAM", "interop",
      "A streamed answer accumulated the client's way has the shape of the non-streamed one: content a "
      "string, each tool call one offered function name with JSON arguments, a finish reason, and usage "
      "where the request asked for it.",
      "openai: ChatCompletionStreamState (the client's accumulator); azure-ai-inference: "
      "samples/sample_chat_completions_streaming_with_tools.py (name replaced, arguments concatenated)",
      Level.WARNING, scope="behaviour")
def client_stream(streamed: ClientOutcome, plain: ClientOutcome) -> Iterator[Finding]:
    """Compare the streamed answer's shape (accumulated by the client) with the non-streamed one."""
    s, p = streamed.shape, plain.shape
    if s is None or p is None or streamed.error or plain.error:
        return

    def diff(message: str, path: str, value: Any = None, variant: str = "") -> Finding:
        return _finding(streamed, message, path, value, variant=variant)

    if not isinstance(s.content, str | type(None)):
        yield diff(f"the accumulated content is a {type(s.content).__name__}, not a string", "content", s.content,
                   "content")
    if bool(s.tool_calls) != bool(p.tool_calls):
        yield diff(f"the streamed answer has {len(s.tool_calls)} tool call(s), the non-streamed one "
                   f"{len(p.tool_calls)}", "tool_calls", [n for n, _ in s.tool_calls], "tool-calls")
    for i, (name, args) in enumerate(s.tool_calls):
        if streamed.offered_tools and name not in streamed.offered_tools:
            yield diff(f"tool call {i} accumulates to the name {shorten(name)}, not one offered function "
                       f"({', '.join(streamed.offered_tools)}): the deltas repeat or split the name",
                       f"tool_calls[{i}].function.name", name, "tool-name")
        if not _json_ok(args) and s.finish_reason != "length":  # a cut answer may cut its arguments
            yield diff(f"tool call {i} accumulates to arguments that are not JSON", f"tool_calls[{i}].function.arguments",
                       args, "tool-arguments")
    if s.finish_reason is None and p.finish_reason is not None:
        yield diff(f"the streamed answer has no finish reason (the non-streamed one: {shorten(p.finish_reason)})",
                   "finish_reason", None, "finish-reason")
    if streamed.usage_asked and s.usage is None:
        yield diff("the request asked for usage (stream_options.include_usage) and the stream carried none",
                   "usage", None, "usage")
    elif isinstance(s.usage, dict) and isinstance(p.usage, dict):
        keys = {"prompt_tokens", "completion_tokens", "total_tokens"}
        if keys & p.usage.keys() - s.usage.keys():
            yield diff(f"the streamed usage lacks {sorted(keys & p.usage.keys() - s.usage.keys())}", "usage", s.usage,
                       "usage")
