"""azure-ai-inference as a user runs it against a Model Inference deployment.

Calls: `ChatCompletionsClient.complete` plain and streamed (also with a forced tool call),
`get_model_info`, `EmbeddingsClient.embed`, `ImageEmbeddingsClient.embed`. A streamed answer is
accumulated the way the SDK's streaming-with-tools sample does it: content pieces concatenated, a
tool call's name taken from the delta that carries one, its arguments concatenated.
"""

from __future__ import annotations

from typing import Any

from conformance.rules.interop import AnswerShape
from conformance.runner.clients.bridge import azure_core_transport
from conformance.runner.clients.calls import (
    CHAT_PROMPT,
    EMBED_INPUT,
    SYSTEM_PROMPT,
    TOOL_DESCRIPTION,
    TOOL_NAME,
    TOOL_PARAMETERS,
    TOOL_PROMPT,
    CallContext,
    Recorder,
)
from conformance.runner.clients.fields import normalise, read_fields
from conformance.runner.payloads import TINY_PNG

PACKAGE = "azure-ai-inference"


def _kwargs(ctx: CallContext, rec: Recorder) -> dict[str, Any]:
    from azure.core.credentials import AzureKeyCredential

    # The credential is a placeholder: the transport drops it and the suite's client presents the real one.
    return {
        "endpoint": ctx.endpoint,
        "credential": AzureKeyCredential("placeholder"),
        "api_version": ctx.api_version,
        "transport": azure_core_transport(rec.send),
        "retry_total": 0,  # the suite's client retries 429/503 itself, within the budget
    }


def _plain_shape(result: Any) -> AnswerShape:
    choice = result.choices[0]
    message = choice.message
    calls = [(tc.function.name, tc.function.arguments) for tc in (message.tool_calls or [])]
    usage = normalise(result.usage) if result.usage is not None else None
    return AnswerShape(message.content, calls, normalise(choice.finish_reason), usage)


def _streamed_shape(updates: Any) -> AnswerShape:
    """The sample's accumulation, for every tool call of choice 0 (by index)."""
    shape = AnswerShape()
    calls: dict[int, list[Any]] = {}
    for update in updates:
        if update.usage is not None:
            shape.usage = normalise(update.usage)
        for choice in update.choices or []:
            if choice.index not in (0, None):
                continue
            delta = choice.delta
            if delta.content is not None:
                shape.content = (shape.content or "") + delta.content
            for pos, tc in enumerate(delta.tool_calls or []):
                index = tc.get("index") if isinstance(tc.get("index"), int) else pos
                acc = calls.setdefault(index, [None, ""])
                if tc.function.name is not None:
                    acc[0] = tc.function.name
                acc[1] += tc.function.arguments or ""
            if choice.finish_reason is not None:
                shape.finish_reason = normalise(choice.finish_reason)
    shape.tool_calls = [(calls[k][0], calls[k][1]) for k in sorted(calls)]
    return shape


def chat(ctx: CallContext, rec: Recorder, *, tools: bool) -> None:
    from azure.ai.inference import ChatCompletionsClient
    from azure.ai.inference.models import (
        ChatCompletionsNamedToolChoice,
        ChatCompletionsNamedToolChoiceFunction,
        ChatCompletionsToolDefinition,
        FunctionDefinition,
        SystemMessage,
        UserMessage,
    )

    kwargs: dict[str, Any] = {"model": ctx.models.get("chat")}
    if tools:
        kwargs.update(
            messages=[UserMessage(TOOL_PROMPT)],
            tools=[ChatCompletionsToolDefinition(function=FunctionDefinition(
                name=TOOL_NAME, description=TOOL_DESCRIPTION, parameters=TOOL_PARAMETERS))],
            tool_choice=ChatCompletionsNamedToolChoice(function=ChatCompletionsNamedToolChoiceFunction(name=TOOL_NAME)),
            max_tokens=max(32, ctx.max_tokens),
        )
    else:
        kwargs.update(messages=[SystemMessage(SYSTEM_PROMPT), UserMessage(CHAT_PROMPT)], max_tokens=ctx.max_tokens)
    offered = (TOOL_NAME,) if tools else ()
    tag = "tools=[...]" if tools else ""
    with ChatCompletionsClient(**_kwargs(ctx, rec)) as client:
        with rec.call(f"ChatCompletionsClient.complete({tag})", offered_tools=offered, capability="tools" if tools else None) as plain:
            result = client.complete(**kwargs)
            plain.readings = read_fields(result, "ChatCompletions")
            plain.shape = _plain_shape(result)
        if ctx.claims("streaming") is False:
            return
        label = ", ".join(x for x in ("stream=True", tag) if x)
        with rec.call(f"ChatCompletionsClient.complete({label})", offered_tools=offered, streamed=True,
                      capability="tools" if tools else "streaming") as s:
            s.shape = _streamed_shape(client.complete(stream=True, **kwargs))


def model_info(ctx: CallContext, rec: Recorder) -> None:
    from azure.ai.inference import ChatCompletionsClient

    chat_model = ctx.models.get("chat")
    with ChatCompletionsClient(**_kwargs(ctx, rec)) as client, rec.call("ChatCompletionsClient.get_model_info()") as c:
        # A multi-model endpoint needs to know which model: the query parameter the spec defines.
        info = client.get_model_info(params={"model": chat_model}) if chat_model else client.get_model_info()
        c.readings = read_fields(info, "ModelInfo")


def embeddings(ctx: CallContext, rec: Recorder) -> None:
    from azure.ai.inference import EmbeddingsClient

    with EmbeddingsClient(**_kwargs(ctx, rec)) as client, rec.call("EmbeddingsClient.embed()") as c:
        result = client.embed(input=list(EMBED_INPUT), model=ctx.models.get("embeddings"))
        c.readings = read_fields(result, "EmbeddingsResult")


def image_embeddings(ctx: CallContext, rec: Recorder) -> None:
    from azure.ai.inference import ImageEmbeddingsClient
    from azure.ai.inference.models import ImageEmbeddingInput

    with ImageEmbeddingsClient(**_kwargs(ctx, rec)) as client, rec.call("ImageEmbeddingsClient.embed()", capability="image_embeddings") as c:
        result = client.embed(input=[ImageEmbeddingInput(image=TINY_PNG)], model=ctx.models.get("image_embeddings"))
        c.readings = read_fields(result, "EmbeddingsResult")
