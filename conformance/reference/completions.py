"""Azure OpenAI legacy completions (`Completions_Create`), JSON and streamed."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from conformance.reference import fakemodel, gate, streaming
from conformance.reference.context import RequestContext
from conformance.reference.responses import filter_results, json_ok, new_id, now, prompt_filter_results


def respond(ctx: RequestContext, body: dict[str, Any]) -> Response:
    raw = body.get("prompt")
    prompts = [raw] if isinstance(raw, str) else [""] if raw is None else [str(p) for p in raw] or [""]
    inner = {"code": "ResponsibleAIPolicyViolation", "content_filter_results": filter_results(ctx, prompt=True, hit=True)}
    gate.check_content_filter(ctx, prompts, "prompt", inner)
    n = body.get("n") if isinstance(body.get("n"), int) and body.get("n") > 0 else 1
    choices, completion = [], 0
    for p, prompt in enumerate(prompts):
        answer = fakemodel.completion_answer(ctx, prompt, body)
        for j in range(n):
            choices.append(
                {
                    "text": answer.content or "",
                    "index": p * n + j,
                    "logprobs": None,
                    "finish_reason": answer.finish_reason,
                    "content_filter_results": filter_results(ctx, prompt=False),
                }
            )
            completion += answer.completion_tokens
    prompt_tokens = sum(fakemodel.words(p) for p in prompts)
    response = {
        "id": new_id("cmpl"),
        "object": "text_completion",
        "created": now(ctx),
        "model": ctx.model_name("completions"),
        "prompt_filter_results": prompt_filter_results(ctx, len(prompts)),
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
        },
    }
    if body.get("stream") is True:
        return streaming.sse_response(ctx, _chunks(response))
    if ctx.faulted("usage-sum-wrong"):
        response["usage"]["total_tokens"] += 7
    if ctx.faulted("chat-missing-id"):
        del response["id"]
    return json_ok(ctx, response)


def _chunks(response: dict[str, Any]) -> list[dict[str, Any]]:
    """Streamed completions: each chunk is a completion response carrying a piece of text."""
    base = {k: response[k] for k in ("id", "object", "created", "model")}
    chunks: list[dict[str, Any]] = [{**base, "prompt_filter_results": response["prompt_filter_results"], "choices": []}]
    for choice in response["choices"]:
        for piece in streaming.split_content(choice["text"]):
            part = {k: choice[k] for k in ("index", "logprobs", "content_filter_results")}
            chunks.append({**base, "choices": [{**part, "text": piece}]})
        final = {k: choice[k] for k in ("index", "logprobs", "finish_reason", "content_filter_results")}
        chunks.append({**base, "choices": [{**final, "text": ""}]})
    chunks[-1]["usage"] = dict(response["usage"])
    return chunks
