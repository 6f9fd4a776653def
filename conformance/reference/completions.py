"""Azure OpenAI legacy completions (`Completions_Create`), JSON and streamed."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from conformance.reference import fakemodel, gate, personas, streaming
from conformance.reference.context import RequestContext
from conformance.reference.responses import filter_results, json_ok, new_id, now, prompt_filter_results


def respond(ctx: RequestContext, body: dict[str, Any]) -> Response:
    raw = body.get("prompt")
    prompts = [raw] if isinstance(raw, str) else [""] if raw is None else [str(p) for p in raw] or [""]
    inner = {"code": "ResponsibleAIPolicyViolation", "content_filter_results": filter_results(ctx, prompt=True, hit=True)}
    gate.check_content_filter(ctx, prompts, "prompt", inner)
    n = body.get("n") if isinstance(body.get("n"), int) and body.get("n") > 0 else 1
    best_of = min(body["best_of"], 20) if isinstance(body.get("best_of"), int) and body["best_of"] > n else n
    if ctx.faulted("n-ignored"):
        n = 1
    returned = best_of if ctx.faulted("best-of-returns-all") else n
    k = body.get("logprobs") if isinstance(body.get("logprobs"), int) and body.get("logprobs") >= 0 else None
    choices, completion = [], 0
    for p, prompt in enumerate(prompts):
        answer = fakemodel.completion_answer(ctx, prompt, body)
        text = answer.content or ""
        logprobs = fakemodel.completion_logprobs(text, k) if k is not None and text else None
        for j in range(returned):
            choices.append(
                {
                    "text": text,
                    "index": p * returned + j,
                    "logprobs": None if ctx.faulted("logprobs-dropped") else logprobs,
                    "finish_reason": answer.finish_reason,
                    "content_filter_results": filter_results(ctx, prompt=False),
                }
            )
        completion += answer.completion_tokens * best_of  # every candidate is generated (and billed)
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
        return streaming.sse_response(ctx, personas.shape_completions_chunks(ctx, _chunks(ctx, response), body))
    response = personas.shape_completion(ctx, response)
    if ctx.faulted("usage-sum-wrong") and "usage" in response:
        response["usage"]["total_tokens"] += 7
    if ctx.faulted("chat-missing-id"):
        del response["id"]
    return json_ok(ctx, response)


def _chunks(ctx: RequestContext, response: dict[str, Any]) -> list[dict[str, Any]]:
    """Streamed completions: each chunk is a completion response carrying a piece of text."""
    base = {k: response[k] for k in ("id", "object", "created", "model")}
    chunks: list[dict[str, Any]] = [{**base, "prompt_filter_results": response["prompt_filter_results"], "choices": []}]
    for choice in response["choices"]:
        logprobs = choice["logprobs"]
        for t, piece in enumerate(streaming.split_content(choice["text"])):
            part = {k: choice[k] for k in ("index", "content_filter_results")}
            # Each piece carries the log probabilities of its own token (one token per piece here).
            part["logprobs"] = {key: values[t:t + 1] for key, values in logprobs.items()} if logprobs else None
            text: object = 42 if ctx.faulted("completions-stream-text-number") and t == 0 else piece
            chunks.append({**base, "choices": [{**part, "text": text}]})
        final = {k: choice[k] for k in ("index", "finish_reason", "content_filter_results")}
        chunks.append({**base, "choices": [{**final, "logprobs": None, "text": ""}]})
    chunks[-1]["usage"] = dict(response["usage"])
    return chunks
