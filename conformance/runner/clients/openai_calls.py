"""openai's `AzureOpenAI` as a user runs it against an Azure OpenAI deployment.

Calls: chat plain and streamed (and both with a tool when tools are not claimed unsupported),
completions, embeddings with `encoding_format="float"` and by default (the client then asks for
base64 and decodes it). A streamed answer is accumulated by the client's own
`ChatCompletionStreamState`, as `client.chat.completions.stream()` does, without Azure OpenAI's
asynchronous-filter annotation chunks: they carry no `delta`, the accumulator fails on them
(openai/openai-python#1677) and client code skips them (docs/behaviours.md, interop).
"""

from __future__ import annotations

from typing import Any

from conformance.rules.interop import AnswerShape
from conformance.rules.streaming import FILTER_ANNOTATION_CHUNK, annotation_kind
from conformance.runner.clients.bridge import http_module, httpx_client
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

PACKAGE = "openai"


def client(ctx: CallContext, rec: Recorder) -> Any:
    import openai

    http = httpx_client(rec.send, http_module(openai.DefaultHttpxClient), ctx.timeout)
    endpoint = ctx.endpoint.rstrip("/")
    where: dict[str, str] = (
        {"azure_endpoint": endpoint[: -len("/openai")]} if endpoint.endswith("/openai") else {"base_url": endpoint}
    )
    # The key is a placeholder: the transport drops it and the suite's client presents the real one.
    return openai.AzureOpenAI(api_key="placeholder", api_version=ctx.api_version, max_retries=0,
                              timeout=ctx.timeout, http_client=http, **where)


def _shape(message: Any, choice: Any, usage: Any) -> AnswerShape:
    calls = [(tc.function.name, tc.function.arguments) for tc in (message.tool_calls or [])]
    return AnswerShape(message.content, calls, normalise(choice.finish_reason),
                       normalise(usage) if usage is not None else None)


def chat(ctx: CallContext, rec: Recorder, *, tools: bool) -> None:
    from openai.lib.streaming.chat import ChatCompletionStreamState

    model = ctx.deployment("chat")
    kwargs: dict[str, Any]
    if tools:
        kwargs = {"messages": [{"role": "user", "content": TOOL_PROMPT}], "max_tokens": max(32, ctx.max_tokens),
                  "tools": [{"type": "function", "function": {"name": TOOL_NAME, "description": TOOL_DESCRIPTION,
                                                               "parameters": TOOL_PARAMETERS}}],
                  "tool_choice": {"type": "function", "function": {"name": TOOL_NAME}}}
    else:
        kwargs = {"messages": [{"role": "system", "content": SYSTEM_PROMPT},
                               {"role": "user", "content": CHAT_PROMPT}], "max_tokens": ctx.max_tokens}
    offered = (TOOL_NAME,) if tools else ()
    tag = "tools=[...]" if tools else ""
    with client(ctx, rec) as c:
        with rec.call(f"chat.completions.create({tag})", offered_tools=offered, capability="tools" if tools else None) as plain:
            result = c.chat.completions.create(model=model, **kwargs)
            plain.readings = read_fields(result, "ChatCompletion")
            plain.shape = _shape(result.choices[0].message, result.choices[0], result.usage)
        if ctx.claims("streaming") is False:
            return
        asked = "stream_options" in ctx.chat_properties
        extra = {"stream_options": {"include_usage": True}} if asked else {}
        label = ", ".join(x for x in ("stream=True", tag) if x)
        with rec.call(f"chat.completions.create({label})", offered_tools=offered, streamed=True,
                      capability="tools" if tools else "streaming",
                      usage_asked=asked) as streamed:
            state = ChatCompletionStreamState()
            for chunk in c.chat.completions.create(model=model, stream=True, **kwargs, **extra):
                if annotation_kind(chunk.to_dict()) != FILTER_ANNOTATION_CHUNK:
                    state.handle_chunk(chunk)
            snapshot = state.current_completion_snapshot
            streamed.shape = _shape(snapshot.choices[0].message, snapshot.choices[0], snapshot.usage)


def completions(ctx: CallContext, rec: Recorder) -> None:
    model = ctx.deployment("completions")
    with client(ctx, rec) as c, rec.call("completions.create()") as call:
        result = c.completions.create(model=model, prompt=CHAT_PROMPT, max_tokens=ctx.max_tokens)
        call.readings = read_fields(result, "Completion")


def embeddings(ctx: CallContext, rec: Recorder) -> None:
    """Both formats: `float` asked explicitly, and the default (the client asks base64 and decodes it)."""
    model = ctx.deployment("embeddings")
    formats = ctx.capabilities.get("encoding_formats")
    with client(ctx, rec) as c:
        for encoding in ("float", None):
            if isinstance(formats, list) and (encoding or "base64") not in formats:
                continue  # claimed unsupported: EMB-* rules judge the refusal
            label = "embeddings.create(encoding_format='float')" if encoding else "embeddings.create()  # base64, decoded"
            with rec.call(label) as call:
                extra = {"encoding_format": encoding} if encoding else {}
                result = c.embeddings.create(model=model, input=list(EMBED_INPUT), **extra)
                call.readings = read_fields(result, "CreateEmbeddingResponse")
