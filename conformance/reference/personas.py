"""Conformant personas of the reference deployment: the other legitimate choices real services make.

The reference embodies one set of choices, so it cannot reveal a rule that only accepts those choices.
A persona switches it to another set, every one within the contract (the specs as written, and what
the Azure OpenAI docs define for that API), so the suite must report no violation against any persona
in any profile: `python -m conformance.selftest` runs each one as a baseline. Faults break the
contract; personas must not.

`conformance serve --persona NAME` and `conformance run --persona NAME` switch one on;
`conformance personas` lists them. The shaping is applied here, on the finished answer, before any
fault (faults apply to what the persona produced).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conformance.reference.context import RequestContext
from conformance.reference.errors import ApiError
from conformance.reference.faults import check_names
from conformance.spec import prose


@dataclass(frozen=True)
class Persona:
    name: str
    description: str
    #: The real-service behaviour it reproduces.
    source: str


_TABLE: tuple[Persona, ...] = (
    Persona(
        "sparse",
        "omits every optional response field (Azure OpenAI prompt_filter_results, content_filter_results, "
        "usage; the role-only first chunk, the stream's usage) and sends null where the spec makes a field "
        "nullable",
        "OpenAI-compatible servers and gateways that send only what the schema requires",
    ),
    Persona(
        "azure-openai-streams",
        "Azure OpenAI: a prompt-filter opener (id \"\", choices []), asynchronous-filter annotation chunks "
        "(content_filter_offsets, no delta) mid-stream and after the stop chunk, \"usage\": null on every chunk "
        "and the usage in a final chunk with choices []. Model inference (whose chunk schema forbids those): "
        "the role repeated in every delta and the last piece of content in the finish chunk",
        'Azure OpenAI docs, "Content streaming" (asynchronous filter); AOAI 2024-10-21 stream_options; '
        "Ollama's OpenAI-compatible streams (role in every delta, content with finish_reason)",
    ),
    Persona(
        "prose-limits",
        "refuses every request that breaks a limit the specs state only in words (conformance.spec.prose: "
        "ranges, relations between parameters, non-empty inputs, values per API): Azure OpenAI with 400 "
        '{"error": {"code": "invalid_value", "type": "invalid_request_error", "param": ...}}, Model Inference '
        'with 422 {"error": {"code": "invalid_value", "target": ..., "details": [...]}}',
        "Azure OpenAI and OpenAI refuse an invalid value with 400 invalid_request_error naming `param` "
        "(\"Invalid value for 'top_logprobs'\"); serverless Model Inference deployments answer a request "
        "their validation refuses with 422 \"Invalid input\" naming the field",
    ),
)

PERSONAS: dict[str, Persona] = {p.name: p for p in _TABLE}


def check_persona_names(names: Iterable[str]) -> frozenset[str]:
    """Validate persona names; raises ValueError naming the unknown ones."""
    return check_names("persona", names, PERSONAS)


# -- requests ------------------------------------------------------------------------------------------


def check_prose(ctx: RequestContext, operation_id: str, body: Any) -> None:
    """prose-limits: refuse a request that breaks a sentence of its operation's spec, naming the parameter
    the way each API names it (Azure OpenAI `param` and `type`; Model Inference `target` and `details`)."""
    if not ctx.persona("prose-limits"):
        return
    found = prose.broken(ctx.api, operation_id, body)
    if not found:
        return
    constraint, why = found[0]
    message = f"Invalid value for '{constraint.param}': {why}. The spec says: {constraint.sentence}"
    if not ctx.is_mi:
        raise ApiError(400, "invalid_value", message, target=constraint.param, kind="invalid_request_error")
    details = [{"code": "invalid_value", "message": w, "target": c.param} for c, w in found]
    raise ApiError(422, "invalid_value", message, target=constraint.param, details=details)


# -- non-streamed answers ------------------------------------------------------------------------------


def shape_completion(ctx: RequestContext, response: dict[str, Any]) -> dict[str, Any]:
    """A chat or completions answer as the persona sends it."""
    if not ctx.persona("sparse") or ctx.is_mi:
        return response  # every model-inference response field is required
    out = {k: v for k, v in response.items() if k not in ("prompt_filter_results", "usage", "system_fingerprint")}
    out["choices"] = [{k: v for k, v in ch.items() if k != "content_filter_results"} for ch in response["choices"]]
    return out


# -- streams -------------------------------------------------------------------------------------------

_OFFSET_STEP = 40


def usage_asked(body: Any) -> bool:
    """stream_options.include_usage: the usage chunk is then required, not optional."""
    options = body.get("stream_options") if isinstance(body, dict) else None
    return isinstance(options, dict) and options.get("include_usage") is True


def shape_chat_chunks(
    ctx: RequestContext, chunks: list[dict[str, Any]], response: dict[str, Any], body: Any = None
) -> list[dict[str, Any]]:
    """The chunks of a streamed chat answer as the persona sends them."""
    if ctx.persona("sparse"):
        chunks = _sparse_chunks(ctx, chunks, keep_usage=usage_asked(body))
    if ctx.persona("azure-openai-streams"):
        chunks = _aoai_chunks(chunks, response) if not ctx.is_mi else _mi_variant_chunks(chunks)
    return chunks


def _sparse_chunks(ctx: RequestContext, chunks: list[dict[str, Any]], *, keep_usage: bool) -> list[dict[str, Any]]:
    out = []
    for c in copy.deepcopy(chunks):
        if not keep_usage:
            c.pop("usage", None)
        c.pop("prompt_filter_results", None)
        for ch in c.get("choices", []):
            ch.pop("content_filter_results", None)
            delta = ch.get("delta")
            if isinstance(delta, dict):
                delta.pop("role", None)
        only = c.get("choices") or []
        if len(only) == 1 and only[0].get("delta") == {"content": ""} and only[0].get("finish_reason") is None:
            continue  # the role-only opener says nothing once the role is left out
        out.append(c)
    return out or chunks


def _annotation(index: int, results: dict[str, Any], check: int, start: int) -> dict[str, Any]:
    """The asynchronous filter's annotation chunk (Azure OpenAI docs, "Annotation message")."""
    return {
        "id": "", "object": "", "created": 0, "model": "", "usage": None,
        "choices": [{"index": index, "finish_reason": None, "content_filter_results": results,
                     "content_filter_offsets": {"check_offset": check, "start_offset": start, "end_offset": check}}],
    }


def _aoai_chunks(chunks: list[dict[str, Any]], response: dict[str, Any]) -> list[dict[str, Any]]:
    """Azure OpenAI's asynchronous-filter stream: opener, content without annotations, annotation
    chunks mid-stream and after the stop chunk, usage null on every chunk and in a usage-only last chunk."""
    chunks = copy.deepcopy(chunks)
    usage = next((c.pop("usage") for c in chunks if isinstance(c.get("usage"), dict)), None)
    opener = {"id": "", "object": "", "created": 0, "model": "", "choices": [], "usage": None,
              "prompt_filter_results": response.get("prompt_filter_results", [])}
    out: list[dict[str, Any]] = [opener]
    annotations: dict[int, dict[str, Any]] = {}
    sent: dict[int, int] = {}
    for c in chunks:
        c.pop("prompt_filter_results", None)
        c["usage"] = None
        for ch in c.get("choices", []):
            annotations.setdefault(ch["index"], ch.pop("content_filter_results", {}))
            delta = ch.get("delta") or {}
            sent[ch["index"]] = sent.get(ch["index"], 0) + len(delta.get("content") or "")
        out.append(c)
        finished = [ch for ch in c.get("choices", []) if ch.get("finish_reason") is not None]
        if not finished and len(out) == 3:  # one annotation while content is still coming
            for index, results in annotations.items():
                out.append(_annotation(index, results, sent.get(index, 0), 0))
    for index, results in annotations.items():  # the delayed ones, after the stop chunk
        done = sent.get(index, 0)
        out.append(_annotation(index, results, done + _OFFSET_STEP, 0))
    if usage is not None:
        base = {k: chunks[0][k] for k in ("id", "object", "created", "model")}
        out.append({**base, "choices": [], "usage": usage})
    return out


def _mi_variant_chunks(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Model inference: role in every delta, and the last content piece sent with the finish_reason."""
    chunks = copy.deepcopy(chunks)
    for c in chunks:
        for ch in c.get("choices", []):
            if isinstance(ch.get("delta"), dict):
                ch["delta"]["role"] = "assistant"
    if len(chunks) >= 3:
        last, before = chunks[-1], chunks[-2]
        lc, bc = (last.get("choices") or [{}])[0], (before.get("choices") or [{}])[0]
        piece = (bc.get("delta") or {}).get("content")
        if lc.get("finish_reason") is not None and isinstance(piece, str) and piece and not lc["delta"].get("content") \
                and lc.get("index") == bc.get("index") and set(bc["delta"]) <= {"content", "role"}:
            lc["delta"]["content"] = piece
            del chunks[-2]
    return chunks


def shape_completions_chunks(ctx: RequestContext, chunks: list[dict[str, Any]], body: Any = None) -> list[dict[str, Any]]:
    """Legacy completions streams: Azure OpenAI's opener carries id "" (it is a prompt-filter message)."""
    chunks = copy.deepcopy(chunks)
    if ctx.persona("sparse"):
        for c in chunks:
            if not usage_asked(body):
                c.pop("usage", None)
            for ch in c.get("choices", []):
                ch.pop("content_filter_results", None)
        chunks = [c for c in chunks if c.get("choices") or "prompt_filter_results" not in c]
    if ctx.persona("azure-openai-streams") and chunks and not chunks[0].get("choices"):
        chunks[0] = {**chunks[0], "id": "", "object": "", "created": 0, "model": ""}
    return chunks
