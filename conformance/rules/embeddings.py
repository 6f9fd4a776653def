"""Embeddings semantics: one well-formed vector per input, in the requested format and size.

Vectors are decoded once per exchange (`_vectors`): JSON arrays as they are, base64 strings as
little-endian float32 (the format every OpenAI-compatible service uses for `encoding_format:
base64`). Each rule then judges one property, so a bad vector yields one finding per property.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from collections.abc import Iterator
from typing import Any

from conformance.rules._model import Finding, RuleContext
from conformance.rules.registry import rule
from conformance.rules.views import is_2xx, is_int, is_json_number, request_json, response_json
from conformance.text import shorten
from conformance.transport.exchange import Exchange

EMB_OPS = frozenset({"getEmbeddings", "getImageEmbeddings", "embeddings_create"})
OPTS = "2025-04-01#/components/schemas/EmbeddingsOptions"
ITEM = "2025-04-01#/components/schemas/EmbeddingItem"
#: Integer formats: (low, high, packed bits?)
INT_FORMATS = {"int8": (-128, 127, False), "uint8": (0, 255, False),
               "binary": (-128, 127, True), "ubinary": (0, 255, True)}


def _doc(ex: Exchange) -> dict[str, Any] | None:
    if ex.operation_id not in EMB_OPS or not is_2xx(ex) or ex.response is None:
        return None
    doc = response_json(ex.response)
    return doc if isinstance(doc, dict) else None


def _items(doc: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    data = doc.get("data")
    return [(i, d) for i, d in enumerate(data) if isinstance(d, dict)] if isinstance(data, list) else []


def _format(ex: Exchange) -> str:
    fmt = request_json(ex).get("encoding_format")
    return fmt if isinstance(fmt, str) else "float"


def _dimensions(ex: Exchange) -> int | None:
    d = request_json(ex).get("dimensions")
    return d if is_int(d) and d > 0 else None


def decode_embedding(emb: Any) -> list[Any] | None:
    """The values of one embedding: the array itself, or base64 decoded as float32 LE (None if not)."""
    if isinstance(emb, list):
        return emb
    if isinstance(emb, str):
        try:
            raw = base64.b64decode(emb, validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(raw) % 4:
            return None
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return None


def _vectors(doc: dict[str, Any]) -> list[tuple[int, list[Any]]]:
    out = []
    for i, item in _items(doc):
        values = decode_embedding(item.get("embedding"))
        if values is not None:
            out.append((i, values))
    return out


def _is_embeddings(ctx: RuleContext, ex: Exchange) -> bool:
    return _doc(ex) is not None


def _dims_requested(ctx: RuleContext, ex: Exchange) -> bool:
    return _doc(ex) is not None and _dimensions(ex) is not None and _format(ex) in ("float", "int8", "uint8")


def _base64_requested(ctx: RuleContext, ex: Exchange) -> bool:
    return _doc(ex) is not None and _format(ex) == "base64"


def _int_requested(ctx: RuleContext, ex: Exchange) -> bool:
    return _doc(ex) is not None and _format(ex) in INT_FORMATS


def _input_count(req: dict[str, Any]) -> int | None:
    inp = req.get("input")
    if isinstance(inp, str):
        return 1
    if isinstance(inp, list):
        # A list of token ids is one input (Azure OpenAI / OpenAI accept pre-tokenised input).
        return 1 if inp and all(is_int(x) for x in inp) else len(inp)
    return None


@rule(
    "EMB-COUNT",
    "semantics",
    "The answer has one embedding per input (a string input counts as one).",
    f"{OPTS}/properties/input",
    applies=_is_embeddings,
)
def check_count(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = _doc(ex)
    assert doc is not None
    expected = _input_count(request_json(ex))
    got = len(doc["data"]) if isinstance(doc.get("data"), list) else None
    if expected is not None and got is not None and got != expected:
        yield Finding(f"{expected} input(s) were sent but the answer has {got} embedding(s)",
                      path="$.data", value=str(got))


@rule(
    "EMB-INDEX",
    "semantics",
    "The data items' index values are 0..n-1, each exactly once.",
    f"{ITEM}/properties/index",
    applies=_is_embeddings,
)
def check_index(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = _doc(ex)
    assert doc is not None
    items = _items(doc)
    indices = [d.get("index") for _, d in items]
    if items and all(is_int(x) for x in indices) and sorted(indices) != list(range(len(items))):
        yield Finding(f"data indices are {shorten(sorted(indices))}, expected each of "
                      f"0..{len(items) - 1} once", path="$.data[*].index", value=shorten(indices))


@rule(
    "EMB-VECTOR-LENGTH",
    "semantics",
    "Every vector of one answer has the same length.",
    f"{ITEM}/properties/embedding",
    applies=_is_embeddings,
)
def check_vector_length(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = _doc(ex)
    assert doc is not None
    vecs = _vectors(doc)
    if not vecs:
        return
    first_i, first = vecs[0]
    for i, v in vecs[1:]:
        if len(v) != len(first):
            yield Finding(f"embedding {i} has {len(v)} values but embedding {first_i} has "
                          f"{len(first)}", path=f"$.data[{i}].embedding", value=str(len(v)))


@rule(
    "EMB-FINITE",
    "semantics",
    "Every embedding value is a finite number.",
    f"{ITEM}/properties/embedding",
    applies=_is_embeddings,
)
def check_finite(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = _doc(ex)
    assert doc is not None
    for i, v in _vectors(doc):
        for k, x in enumerate(v):
            if not is_json_number(x) or (isinstance(x, float) and not math.isfinite(x)):
                yield Finding(f"embedding {i} value {k} is {shorten(x)}, not a finite number",
                              path=f"$.data[{i}].embedding[{k}]", value=shorten(x))
                break  # one per vector is enough to locate the defect


@rule(
    "EMB-DIMENSIONS",
    "semantics",
    "With dimensions requested, every vector has exactly that many values.",
    f"{OPTS}/properties/dimensions",
    applies=_dims_requested,
)
def check_dimensions(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = _doc(ex)
    assert doc is not None
    dims = _dimensions(ex)
    for i, item in _items(doc):
        emb = item.get("embedding")
        if isinstance(emb, list) and len(emb) != dims:
            yield Finding(f"dimensions={dims} was requested but embedding {i} has {len(emb)} values",
                          path=f"$.data[{i}].embedding", value=str(len(emb)))


@rule(
    "EMB-BASE64",
    "semantics",
    "With encoding_format base64, each embedding is a base64 string of little-endian float32 values "
        "(dimensions x 4 bytes when dimensions is requested).",
    "2025-04-01#/components/schemas/EmbeddingEncodingFormat",
    applies=_base64_requested,
)
def check_base64(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = _doc(ex)
    assert doc is not None
    dims = _dimensions(ex)
    for i, item in _items(doc):
        emb = item.get("embedding")
        path = f"$.data[{i}].embedding"
        if not isinstance(emb, str):
            yield Finding(f"encoding_format base64 was requested but embedding {i} is a "
                          f"{type(emb).__name__}, not a base64 string", path=path, value=shorten(emb, 80))
            continue
        try:
            raw = base64.b64decode(emb, validate=True)
        except (binascii.Error, ValueError) as exc:
            yield Finding(f"embedding {i} is not valid base64 ({exc})", path=path,
                          value=shorten(emb, 80))
            continue
        if len(raw) % 4:
            yield Finding(f"embedding {i} decodes to {len(raw)} bytes, not a whole number of "
                          "float32 values", path=path, value=str(len(raw)))
        elif dims is not None and len(raw) != dims * 4:
            yield Finding(f"dimensions={dims} was requested but embedding {i} decodes to "
                          f"{len(raw) // 4} float32 values", path=path, value=str(len(raw) // 4))


@rule(
    "EMB-INT-FORMATS",
    "semantics",
    "With an integer encoding_format, values are integers in range (int8/binary -128..127, "
        "uint8/ubinary 0..255) and packed bit formats have ceil(dimensions/8) values.",
    "2025-04-01#/components/schemas/EmbeddingEncodingFormat (Azure OpenAI has only float and base64)",
    applies=_int_requested,
    api="model-inference",
)
def check_int_formats(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = _doc(ex)
    assert doc is not None
    fmt = _format(ex)
    low, high, packed = INT_FORMATS[fmt]
    dims = _dimensions(ex)
    for i, item in _items(doc):
        emb = item.get("embedding")
        path = f"$.data[{i}].embedding"
        if not isinstance(emb, list):
            yield Finding(f"encoding_format {fmt} was requested but embedding {i} is a "
                          f"{type(emb).__name__}, not an array of integers", path=path, value=shorten(emb, 80))
            continue
        bad = next(((k, x) for k, x in enumerate(emb) if not is_int(x) or not low <= x <= high), None)
        if bad is not None:
            yield Finding(f"encoding_format {fmt} needs integers in {low}..{high} but "
                          f"embedding {i} value {bad[0]} is {shorten(bad[1])}",
                          path=f"{path}[{bad[0]}]", value=shorten(bad[1]))
        if packed and dims is not None and len(emb) != math.ceil(dims / 8):
            yield Finding(f"{fmt} packs 8 dimensions per value: dimensions={dims} needs "
                          f"{math.ceil(dims / 8)} values, embedding {i} has {len(emb)}", path=path,
                          value=str(len(emb)))


@rule(
    "EMB-USAGE",
    "semantics",
    "usage.total_tokens >= usage.prompt_tokens.",
    "2025-04-01#/components/schemas/EmbeddingsUsage",
    applies=_is_embeddings,
)
def check_usage(ctx: RuleContext, ex: Exchange) -> Iterator[Finding]:
    doc = _doc(ex)
    assert doc is not None
    usage = doc.get("usage")
    if not isinstance(usage, dict):
        return
    p, t = usage.get("prompt_tokens"), usage.get("total_tokens")
    if is_int(p) and is_int(t) and t < p:
        yield Finding(f"usage.total_tokens ({t}) is less than usage.prompt_tokens ({p})",
                      path="$.usage.total_tokens", value=str(t))
