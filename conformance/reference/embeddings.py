"""Text and image embeddings for both APIs."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from starlette.responses import Response

from conformance.reference import gate, vectors
from conformance.reference.context import RequestContext
from conformance.reference.errors import ApiError
from conformance.reference.fakemodel import words
from conformance.reference.responses import json_ok, new_id

_FORMATS = {"float", "base64"}
_INPUT_TYPES = {"text", "query", "document"}
_DATA_URL = re.compile(r"^data:image/[A-Za-z0-9.+-]+;base64,([A-Za-z0-9+/=\s]+)$")
#: A float no real vector holds, replaced by the literal `1e999` in the serialised body (emb-infinite).
_INFINITE_SENTINEL = 12345.678


def _options(ctx: RequestContext, body: dict[str, Any]) -> tuple[int, str]:
    dims = body.get("dimensions")
    if dims is None:
        dims = ctx.settings.default_dimensions
    elif not isinstance(dims, int) or not 1 <= dims <= ctx.settings.max_dimensions:
        gate.raise_unsupported(
            ctx, "dimensions", dims, f"dimensions must be between 1 and {ctx.settings.max_dimensions}"
        )
        dims = ctx.settings.default_dimensions
    fmt = body.get("encoding_format") or "float"
    if fmt in ctx.settings.unsupported.encoding_formats or fmt not in _FORMATS:
        gate.raise_unsupported(ctx, "encoding_format", fmt, "supported encoding formats are float and base64")
        fmt = "float"
    input_type = body.get("input_type")
    if input_type is not None and input_type not in _INPUT_TYPES:
        gate.raise_unsupported(ctx, "input_type", input_type, "supported input types are text, query, document")
    if ctx.faulted("emb-dimensions-ignored"):
        dims = ctx.settings.default_dimensions
    return dims, fmt


def _respond(
    ctx: RequestContext, kind: str, keys: list[str], tokens: int, dims: int, fmt: str
) -> Response:
    data: list[dict[str, Any]] = []
    for i, key in enumerate(keys):
        size = dims - 1 if ctx.faulted("emb-ragged") and i == len(keys) - 1 else dims
        values = vectors.vector(key, size, salt=kind)
        embedding: Any = values
        if fmt == "base64":
            if ctx.faulted("emb-base64-mismatch"):
                values = [-v for v in values]
            embedding = vectors.to_base64(values, float64=ctx.faulted("emb-base64-float64"))
        data.append({"object": "embedding", "index": i, "embedding": embedding})
    if ctx.faulted("emb-count-short") and data:
        data.pop()
    if ctx.faulted("emb-index-duplicate") and data:
        if len(data) > 1:
            data[1]["index"] = data[0]["index"]
        else:
            data.append(dict(data[0]))
    raw_replace = None
    if ctx.faulted("emb-infinite") and data and isinstance(data[0]["embedding"], list) and dims:
        data[0]["embedding"][0] = _INFINITE_SENTINEL
        raw_replace = (str(_INFINITE_SENTINEL), "1e999")
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    if ctx.faulted("emb-usage-wrong"):
        usage = {"prompt_tokens": tokens + 2, "total_tokens": tokens + 1}
    body: dict[str, Any] = {"object": "list", "model": ctx.model_name(kind), "data": data, "usage": usage}
    if ctx.is_mi:
        body = {"id": new_id("embd"), **body}
    if ctx.faulted("embeddings-missing-usage"):
        del body["usage"]
    return json_ok(ctx, body, raw_replace=raw_replace)


def text_embeddings(ctx: RequestContext, body: dict[str, Any]) -> Response:
    raw = body.get("input")
    inputs = [raw] if isinstance(raw, str) else [""] if raw is None else [str(x) for x in raw]
    longest = max((words(t) for t in inputs), default=0)
    if longest > ctx.settings.max_input_tokens:
        if ctx.faulted("long-input-500"):
            raise ApiError(500, "InternalServerError", "The server had an error while processing the request.")
        raise ApiError(
            400,
            "context_length_exceeded",
            f"This model's maximum context length is {ctx.settings.max_input_tokens} tokens, however you requested "
            f"{longest} tokens. Please reduce your input.",
            target="input",
        )
    dims, fmt = _options(ctx, body)
    return _respond(ctx, "embeddings", inputs, sum(words(t) for t in inputs), dims, fmt)


def image_embeddings(ctx: RequestContext, body: dict[str, Any]) -> Response:
    keys, tokens = [], 0
    for i, item in enumerate(body.get("input") or []):
        image = item.get("image", "") if isinstance(item, dict) else ""
        match = _DATA_URL.match(image) if isinstance(image, str) else None
        try:
            decoded = base64.b64decode(match.group(1), validate=False) if match else b""
        except (binascii.Error, ValueError):
            decoded = b""
        if not decoded:
            raise ApiError(
                400,
                "invalid_image",
                f"input[{i}].image must be a data URL 'data:image/<type>;base64,<data>' with non-empty data.",
                target=f"input[{i}].image",
            )
        text = item.get("text") if isinstance(item.get("text"), str) else ""
        keys.append(image + "\x00" + text)
        tokens += 1 + words(text)
    dims, fmt = _options(ctx, body)
    return _respond(ctx, "image_embeddings", keys, tokens, dims, fmt)
