"""Server-sent events for streamed chat (and completions) answers.

A stream is derived from the same answer as the JSON response (so streamed and non-streamed
content are identical), framed as `data: <json>\\n\\n` events ending with `data: [DONE]\\n\\n`.
Every streaming fault is applied here, on the list of events, before anything is sent.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

from conformance.reference import fakemodel
from conformance.reference.context import RequestContext

#: How long the `stream-endless` fault keeps a stream open at most (the server must stay bounded).
ENDLESS_SECONDS = 300.0
ENDLESS_INTERVAL = 0.05


def split_content(text: str) -> list[str]:
    """Word-sized pieces whose concatenation is exactly `text` (the fake model's tokens)."""
    return fakemodel.tokens_of(text) or [text]


def chat_chunks(ctx: RequestContext, response: dict[str, Any], *, chunk_object: str) -> list[dict[str, Any]]:
    """The chunk documents of a streamed chat answer, built from the non-streamed `response`."""
    mi = ctx.is_mi
    base = {"id": response["id"], "object": chunk_object, "created": response["created"], "model": response["model"]}

    def chunk(index: int, delta: dict[str, Any], finish: str | None, extra: dict | None = None,
              logprobs: dict | None = None) -> dict[str, Any]:
        # finish_reason is required and nullable in both APIs' chunk schemas.
        choice: dict[str, Any] = {"index": index, "delta": delta, "finish_reason": finish}
        if logprobs is not None:
            choice["logprobs"] = logprobs
        if not mi:
            choice["content_filter_results"] = response["choices"][0].get("content_filter_results", {})
        return {**base, "choices": [choice], **(extra or {})}

    chunks: list[dict[str, Any]] = []
    for n, choice in enumerate(response["choices"]):
        index = choice["index"]
        message = choice["message"]
        first_extra = {"prompt_filter_results": response["prompt_filter_results"]} if not mi and n == 0 else None
        chunks.append(chunk(index, {"role": "assistant", "content": ""}, None, first_extra))
        entries = (choice.get("logprobs") or {}).get("content") or []
        pieces = [p for p in split_content(message.get("content") or "") if p]
        for k, piece in enumerate(pieces):
            # Each content chunk carries the log probabilities of its own tokens (one token per piece here).
            lp = {"content": entries[k:k + 1], "refusal": None} if len(entries) == len(pieces) else None
            chunks.append(chunk(index, {"content": piece}, None, logprobs=lp))
        for i, call in enumerate(message.get("tool_calls") or []):
            chunks.append(chunk(index, {"tool_calls": [{"index": i, **call}]}, None))
        if message.get("function_call"):
            chunks.append(chunk(index, {"function_call": message["function_call"]}, None))
        chunks.append(chunk(index, {}, choice["finish_reason"]))
    if "usage" in response:
        chunks[-1]["usage"] = dict(response["usage"])
    return chunks


def _apply_faults(ctx: RequestContext, chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    chunks = copy.deepcopy(chunks)
    deltas = [ch["delta"] for c in chunks for ch in c.get("choices", []) if "delta" in ch]
    if ctx.faulted("stream-role-user") and deltas:
        deltas[0]["role"] = "user"
    if ctx.faulted("stream-object-chunk"):
        for c in chunks:
            c["object"] = "chat.completion.chunk"
    if ctx.faulted("stream-id-changes"):
        for c in chunks[len(chunks) // 2 :]:
            c["id"] = c["id"] + "-changed"
    if ctx.faulted("stream-finish-reason-twice") and len(chunks) > 1:
        chunks[0]["choices"][0]["finish_reason"] = "stop"
    if ctx.faulted("stream-no-finish-reason"):
        for c in chunks:
            for ch in c.get("choices", []):
                ch["finish_reason"] = None
    if ctx.faulted("stream-usage-dropped"):
        for c in chunks:
            c.pop("usage", None)
    if ctx.faulted("stream-usage-mismatch") and "usage" in chunks[-1]:
        chunks[-1]["usage"]["total_tokens"] += 5
    content_chunks = [c for c in chunks if c.get("choices") and "content" in c["choices"][0].get("delta", {})]
    if ctx.faulted("stream-content-number"):
        pieces = [c["choices"][0]["delta"] for c in content_chunks if c["choices"][0]["delta"]["content"]]
        if pieces:
            pieces[0]["content"] = 42
    if ctx.faulted("stream-differs") and content_chunks:
        content_chunks[-1]["choices"][0]["delta"]["content"] += " DIFFERENT"
    if ctx.faulted("stream-chunk-missing-choices") and len(chunks) > 1:
        del chunks[1]["choices"]
    if ctx.faulted("stream-tool-name-repeated"):
        chunks = [part for c in chunks for part in _split_tool_calls(c)]
    if ctx.faulted("stream-finish-no-delta"):
        for ch in chunks[-1].get("choices", []):
            ch.pop("delta", None)
    return chunks


def _split_tool_calls(chunk: dict[str, Any]) -> list[dict[str, Any]]:
    """A whole tool call as two deltas, each repeating the function name (fault stream-tool-name-repeated)."""
    choices = chunk.get("choices") or []
    calls = choices[0].get("delta", {}).get("tool_calls") if choices else None
    if not calls:
        return [chunk]
    first, second = copy.deepcopy(chunk), copy.deepcopy(chunk)
    for a, b in zip(first["choices"][0]["delta"]["tool_calls"], second["choices"][0]["delta"]["tool_calls"],
                    strict=True):
        args = a["function"].get("arguments") or ""
        a["function"]["arguments"], b["function"]["arguments"] = args[: len(args) // 2], args[len(args) // 2 :]
        b.pop("id", None)
        b.pop("type", None)
    return [first, second]


def _frame(data: str, ctx: RequestContext) -> str:
    separator = "\n" if ctx.faulted("stream-single-newline") else "\n\n"
    prefix = ": keep-alive\n\nevent: message\n" if ctx.faulted("stream-sse-comments") else ""
    return f"{prefix}data: {data}{separator}"


def sse_events(ctx: RequestContext, chunks: list[dict[str, Any]]) -> list[str]:
    """The framed events, with every framing fault applied."""
    chunks = _apply_faults(ctx, chunks)
    data = [json.dumps(c, ensure_ascii=False) for c in chunks]
    if ctx.faulted("stream-invalid-json-chunk") and len(data) > 1:
        data[1] = data[1][: len(data[1]) // 2]
    events = [_frame(d, ctx) for d in data]
    if not ctx.faulted("stream-no-done"):
        events.append(_frame("[DONE]", ctx))
    if ctx.faulted("stream-data-after-done"):
        events.append(_frame(data[-1], ctx))
    return events


async def _emit(ctx: RequestContext, events: list[str], repeat: dict[str, Any] | None) -> AsyncIterator[bytes]:
    delay = ctx.settings.stream_delay
    for event in events:
        yield event.encode("utf-8")
        if delay:
            await asyncio.sleep(delay)
    if repeat is not None:  # stream-endless: content chunks keep coming, bounded by ENDLESS_SECONDS
        deadline = time.monotonic() + ENDLESS_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(ENDLESS_INTERVAL)
            yield _frame(json.dumps(repeat), ctx).encode("utf-8")


def sse_response(ctx: RequestContext, chunks: list[dict[str, Any]]) -> StreamingResponse:
    endless = ctx.faulted("stream-endless")
    events = sse_events(ctx, chunks[:-1] if endless else chunks)
    repeat = None
    if endless:
        events = events[: len(chunks) - 1]  # no final chunk, no [DONE]
        repeat = copy.deepcopy(chunks[-1])
        for choice in repeat.get("choices", []):
            choice["finish_reason"] = None
            choice["delta"] = {"content": " more"}
        repeat.pop("usage", None)
    media = "application/json" if ctx.faulted("stream-content-type-json") else "text/event-stream"
    return StreamingResponse(
        _emit(ctx, events, repeat),
        media_type=media,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
