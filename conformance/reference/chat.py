"""Chat completions for both APIs: capability checks, the answer, the JSON or SSE response."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from conformance.reference import fakemodel, gate, personas, streaming
from conformance.reference.context import RequestContext
from conformance.reference.errors import ApiError
from conformance.reference.responses import filter_results, json_ok, new_id, now, prompt_filter_results

_ROLES = {"system", "developer", "user", "assistant", "tool"}
_AOAI_ROLES = {"system", "user", "assistant", "tool", "function"}
_PRESETS = {"auto", "none", "required"}
_FORMATS = {"text", "json_object", "json_schema"}
_AUDIO_ITEMS = {"input_audio", "audio_url"}
_IMAGE_TEXT = {"text", "image_url"}


def check_capabilities(ctx: RequestContext, body: dict[str, Any]) -> None:
    """422 for what the reference model does not do; everything it claims passes.

    `developer` messages (listed by the open enum ChatRole, absent from the discriminator mapping)
    are accepted and treated like `system` messages."""
    audio_off = ctx.settings.unsupported.audio
    for modality in body.get("modalities") or []:
        if modality == "audio" and audio_off:
            gate.raise_unsupported(ctx, "modalities", body["modalities"], "audio output is not supported")
        elif modality not in ("text", "audio"):
            gate.raise_unsupported(ctx, "modalities", body["modalities"], f"unknown modality {modality!r}")
    if "audio" in body and audio_off:
        gate.raise_unsupported(ctx, "audio", body["audio"], "audio output is not supported")
    roles = _ROLES if ctx.is_mi else _AOAI_ROLES
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        if message.get("role") not in roles:
            gate.raise_unsupported(ctx, "messages", message.get("role"), "unsupported message role")
        content = message.get("content")
        for item in content if isinstance(content, list) else []:
            kind = item.get("type") if isinstance(item, dict) else None
            if kind in _AUDIO_ITEMS and audio_off:
                gate.raise_unsupported(ctx, "messages", kind, "audio input is not supported")
            elif kind not in _IMAGE_TEXT and kind not in _AUDIO_ITEMS:
                gate.raise_unsupported(ctx, "messages", kind, "unsupported content item type")
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") not in _FORMATS and fmt.get("type") is not None:
        gate.raise_unsupported(ctx, "response_format", fmt, "unsupported response format")
    choice = body.get("tool_choice")
    if isinstance(choice, str) and choice not in _PRESETS:
        gate.raise_unsupported(ctx, "tool_choice", choice, "unsupported tool_choice")
    for name in ("data_sources", "enhancements"):
        if body.get(name) is not None:
            gate.raise_unsupported(ctx, name, body[name], f"{name} (Azure OpenAI On Your Data) is not supported")
    if body.get("tools") and ctx.faulted("supported-422"):
        raise ApiError(422, "parameter_not_supported", "The model does not support tools.", target="tools")


def check_content_filter(ctx: RequestContext, body: dict[str, Any]) -> None:
    texts = [
        fakemodel.message_text(m)
        for m in body.get("messages") or []
        if isinstance(m, dict) and m.get("role") == "user"
    ]
    if ctx.is_mi:
        gate.check_content_filter(ctx, texts, "messages", {"code": "ResponsibleAIPolicyViolation"})
    else:
        inner = {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_results": filter_results(ctx, prompt=True, hit=True),
        }
        gate.check_content_filter(ctx, texts, "prompt", inner)


def build_response(ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
    """The non-streamed chat completion (faults that only concern streams are applied later)."""
    answer = fakemodel.chat_answer(ctx, body)
    n = body.get("n") if not ctx.is_mi and isinstance(body.get("n"), int) and body.get("n") > 0 else 1
    if ctx.faulted("n-ignored"):
        n = 1
    top = body.get("top_logprobs") if isinstance(body.get("top_logprobs"), int) else 0
    choices = []
    for i in range(n):
        message: dict[str, Any] = {"role": "assistant", "content": answer.content}
        if not ctx.is_mi:
            message["refusal"] = None  # required (and nullable) since Azure OpenAI 2024-10-21
        if answer.tool_calls:
            message["tool_calls"] = [dict(c, function=dict(c["function"])) for c in answer.tool_calls]
        if answer.function_call:
            message["function_call"] = dict(answer.function_call)
        choice: dict[str, Any] = {"index": i, "finish_reason": answer.finish_reason, "message": message}
        if not ctx.is_mi and body.get("logprobs") is True:
            asked = answer.content is not None and not ctx.faulted("logprobs-dropped")
            choice["logprobs"] = ({"content": fakemodel.chat_logprobs(answer.content, top), "refusal": None}
                                  if asked else None)
        if not ctx.is_mi:
            choice["content_filter_results"] = filter_results(ctx, prompt=False)
            choice.setdefault("logprobs", None)  # required (and nullable) since Azure OpenAI 2024-10-21
        choices.append(choice)
    prompt = fakemodel.prompt_tokens(body.get("messages"))
    completion = answer.completion_tokens * n
    response: dict[str, Any] = {
        "id": new_id("chatcmpl"),
        "object": "chat.completion",
        "created": now(ctx),
        "model": ctx.model_name("chat"),
        "choices": choices,
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }
    if not ctx.is_mi:
        response["prompt_filter_results"] = prompt_filter_results(ctx)
    return response


def _json_faults(ctx: RequestContext, response: dict[str, Any]) -> dict[str, Any]:
    if ctx.faulted("chat-missing-id"):
        del response["id"]
    if ctx.faulted("chat-finish-reason-int"):
        response["choices"][0]["finish_reason"] = 1
    if ctx.faulted("usage-sum-wrong") and "usage" in response:
        response["usage"]["total_tokens"] += 7
    if ctx.faulted("choices-index-gap"):
        response["choices"][0]["index"] = 1
    return response


def respond(ctx: RequestContext, body: dict[str, Any]) -> Response:
    check_capabilities(ctx, body)
    if ctx.faulted("tool-followup-rejected") and any(
        isinstance(m, dict) and m.get("role") == "tool" for m in body.get("messages") or []
    ):
        raise ApiError(400, "invalid_request", "Messages with role 'tool' are not accepted.", target="messages")
    check_content_filter(ctx, body)
    response = build_response(ctx, body)
    if body.get("stream") is True:
        # The model-inference chunk schema says "chat.completion"; Azure OpenAI's (2024-10-21) "chat.completion.chunk".
        chunk_object = "chat.completion" if ctx.is_mi else "chat.completion.chunk"
        chunks = streaming.chat_chunks(ctx, response, chunk_object=chunk_object)
        return streaming.sse_response(ctx, personas.shape_chat_chunks(ctx, chunks, response, body))
    answer = json_ok(ctx, _json_faults(ctx, personas.shape_completion(ctx, response)))
    if ctx.faulted("body-invalid-json"):  # labelled JSON, cut mid-document (Content-Length matches)
        return Response(bytes(answer.body)[: len(answer.body) // 2], status_code=200, media_type="application/json")
    return answer
