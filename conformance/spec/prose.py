"""Request constraints the specs state in words, not in their schemas.

A request can be valid per the schema and still break a sentence of the spec ("`logprobs` must be
set to `true` if this parameter is used", "Can be either `float` or `base64`"): a real service
rightly refuses it. Each constraint here quotes its sentence and names where it stands; generation
honours them (the generation view narrows the schemas, `repair` fixes relations between fields),
and a generated request is judged as valid only when it breaks none of them.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

MI = "model-inference"
AOAI = "azure-openai"
AOAI_SPEC = "azure-openai 2024-04-01-preview"
AOAI_STABLE = "azure-openai 2024-10-21"
MI_SPEC = "model-inference 2025-04-01"
MI_2505 = "model-inference 2025-05-01"
CHAT = frozenset({"getChatCompletions", "ChatCompletions_Create"})
COMPLETIONS = frozenset({"Completions_Create"})


@dataclass(frozen=True)
class ProseConstraint:
    """One sentence of a spec that limits what a valid request may contain."""

    id: str
    api: str
    operations: frozenset[str]
    #: The sentence, quoted from the spec.
    sentence: str
    #: Where it stands: spec, version and the schema property it describes.
    source: str
    #: Why `body` breaks the constraint, or None when it holds (or does not apply).
    check: Callable[[dict[str, Any]], str | None]
    #: Schema keywords the generation view adds, by dotted property path from the request body.
    narrow: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Makes a generated body satisfy a relation between fields (the view cannot express it).
    repair: Callable[[dict[str, Any]], None] | None = None
    #: The top-level request property a refusal names (Azure OpenAI `param`, Model Inference `target`).
    param: str = field(kw_only=True)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _range(key: str, low: float, high: float) -> Callable[[dict[str, Any]], str | None]:
    def check(body: dict[str, Any]) -> str | None:
        value = body.get(key)
        if _number(value) and not low <= value <= high:
            return f"{key} = {value} is outside {low:g}..{high:g}"
        return None

    return check


def _array_size(key: str, low: int, high: int) -> Callable[[dict[str, Any]], str | None]:
    def check(body: dict[str, Any]) -> str | None:
        value = body.get(key)
        if isinstance(value, list) and not low <= len(value) <= high:
            return f"{key} has {len(value)} items, not {low}..{high}"
        return None

    return check


def _top_logprobs(body: dict[str, Any]) -> str | None:
    if body.get("top_logprobs") is not None and body.get("logprobs") is not True:
        return f"top_logprobs = {body['top_logprobs']} without logprobs: true"
    return None


def _repair_top_logprobs(body: dict[str, Any]) -> None:
    if body.get("top_logprobs") is not None:
        body["logprobs"] = True


def _aoai_encoding_format(body: dict[str, Any]) -> str | None:
    value = body.get("encoding_format")
    if value is not None and value not in ("float", "base64"):
        return f"encoding_format = {value!r} is neither float nor base64"
    return None


def _input_text(body: dict[str, Any]) -> str | None:
    value = body.get("input")
    if value is None and "input" in body:
        return "input is null"
    if value == "" or value == []:
        return f"input is {value!r}: nothing to embed"
    if isinstance(value, list) and any(item == "" for item in value):
        return "an input item is the empty string"
    return None


def _image_input(body: dict[str, Any]) -> str | None:
    value = body.get("input")
    if value == []:
        return "input is []: no image to embed"
    for i, item in enumerate(value if isinstance(value, list) else []):
        image = item.get("image") if isinstance(item, dict) else None
        if isinstance(image, str) and not (image.startswith("data:image/") and ";base64," in image):
            return f"input[{i}].image is not a base64 data URL"
    return None


def _best_of(body: dict[str, Any]) -> str | None:
    best_of, n = body.get("best_of"), body.get("n")
    if not isinstance(best_of, int) or isinstance(best_of, bool):
        return None
    n = n if isinstance(n, int) and not isinstance(n, bool) else 1
    if best_of <= n:
        return f"best_of = {best_of} is not greater than n = {n}"
    if best_of > 128:
        return f"best_of = {best_of} is above 128"
    if body.get("stream") is True:
        return "best_of with stream: true (results cannot be streamed)"
    return None


def _security_context(body: dict[str, Any]) -> str | None:
    usc = body.get("user_security_context")
    if not isinstance(usc, dict):
        return None
    for key in ("end_user_id", "end_user_tenant_id"):
        value = usc.get(key)
        if isinstance(value, str):
            try:
                uuid.UUID(value)
            except ValueError:
                return f"user_security_context.{key} = {value!r} is not a GUID"
    ip = usc.get("source_ip")
    if isinstance(ip, str):
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            return f"user_security_context.source_ip = {ip!r} is not an IPv4 or IPv6 address"
    return None


_GUID = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_IPV4 = r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$"

PROSE: tuple[ProseConstraint, ...] = (
    ProseConstraint(
        "AOAI-TOP-LOGPROBS-NEEDS-LOGPROBS", AOAI, CHAT,
        "`logprobs` must be set to `true` if this parameter is used.",
        f"{AOAI_SPEC} createChatCompletionRequest.top_logprobs (also {AOAI_STABLE})",
        _top_logprobs, repair=_repair_top_logprobs,
        param="top_logprobs",
    ),
    ProseConstraint(
        "AOAI-ENCODING-FORMAT", AOAI, frozenset({"embeddings_create"}),
        "The format to return the embeddings in. Can be either `float` or `base64`. Defaults to `float`.",
        f"{AOAI_SPEC} embeddings request.encoding_format",
        _aoai_encoding_format, narrow={"encoding_format": {"enum": ["float", "base64"]}},
        param="encoding_format",
    ),
    ProseConstraint(
        "AOAI-EMBEDDINGS-INPUT-TEXT", AOAI, frozenset({"embeddings_create"}),
        "Input text to get embeddings for, encoded as a string. To get embeddings for multiple inputs in a "
        "single request, pass an array of strings.",
        f"{AOAI_SPEC} embeddings request.input (the array form states minItems 1 and minLength 1)",
        _input_text, narrow={"input": {"nullable": False, "minLength": 1}},
        param="input",
    ),
    ProseConstraint(
        "AOAI-COMPLETIONS-LOGPROBS-RANGE", AOAI, COMPLETIONS,
        "Minimum of 0 and maximum of 5 allowed.",
        f"{AOAI_SPEC} completions request.logprobs (a schema limit in {AOAI_STABLE})",
        _range("logprobs", 0, 5), narrow={"logprobs": {"minimum": 0, "maximum": 5}},
        param="logprobs",
    ),
    ProseConstraint(
        "AOAI-COMPLETIONS-PRESENCE-PENALTY", AOAI, COMPLETIONS,
        "Number between -2.0 and 2.0.",
        f"{AOAI_SPEC} completions request.presence_penalty (a schema limit in {AOAI_STABLE})",
        _range("presence_penalty", -2, 2), narrow={"presence_penalty": {"minimum": -2, "maximum": 2}},
        param="presence_penalty",
    ),
    ProseConstraint(
        "AOAI-COMPLETIONS-FREQUENCY-PENALTY", AOAI, COMPLETIONS,
        "Number between -2.0 and 2.0.",
        f"{AOAI_SPEC} completions request.frequency_penalty (a schema limit in {AOAI_STABLE})",
        _range("frequency_penalty", -2, 2), narrow={"frequency_penalty": {"minimum": -2, "maximum": 2}},
        param="frequency_penalty",
    ),
    ProseConstraint(
        "AOAI-COMPLETIONS-TEMPERATURE", AOAI, COMPLETIONS,
        "What sampling temperature to use, between 0 and 2.",
        f"{AOAI_STABLE} completions request.temperature; {AOAI_SPEC} chatCompletionsRequestCommon.temperature",
        _range("temperature", 0, 2), narrow={"temperature": {"minimum": 0, "maximum": 2}},
        param="temperature",
    ),
    ProseConstraint(
        "AOAI-COMPLETIONS-TOP-P", AOAI, COMPLETIONS,
        "So 0.1 means only the tokens comprising the top 10% probability mass are considered.",
        f"{AOAI_SPEC} completions request.top_p (a probability mass: 0..1, a schema limit in {AOAI_STABLE})",
        _range("top_p", 0, 1), narrow={"top_p": {"minimum": 0, "maximum": 1}},
        param="top_p",
    ),
    ProseConstraint(
        "AOAI-COMPLETIONS-N-RANGE", AOAI, COMPLETIONS,
        "How many completions to generate for each prompt. Minimum of 1 and maximum of 128 allowed.",
        f"{AOAI_SPEC} completions request.n",
        _range("n", 1, 128), narrow={"n": {"minimum": 1, "maximum": 128}},
        param="n",
    ),
    ProseConstraint(
        "AOAI-COMPLETIONS-MAX-TOKENS-MIN", AOAI, COMPLETIONS,
        "Has minimum of 0.",
        f"{AOAI_SPEC} completions request.max_tokens",
        _range("max_tokens", 0, float("inf")), narrow={"max_tokens": {"minimum": 0}},
        param="max_tokens",
    ),
    ProseConstraint(
        "AOAI-COMPLETIONS-STOP-COUNT", AOAI, COMPLETIONS,
        "Up to 4 sequences where the API will stop generating further tokens. ... Array minimum size of 1 and "
        "maximum of 4",
        f"{AOAI_SPEC} completions request.stop",
        _array_size("stop", 1, 4), narrow={"stop": {"minItems": 1, "maxItems": 4}},
        param="stop",
    ),
    ProseConstraint(
        "AOAI-COMPLETIONS-PROMPT-COUNT", AOAI, COMPLETIONS,
        "Maximum allowed size of string list is 2048. ... Array size minimum of 1 and maximum of 2048",
        f"{AOAI_SPEC} completions request.prompt",
        _array_size("prompt", 1, 2048), narrow={"prompt": {"minItems": 1, "maxItems": 2048}},
        param="prompt",
    ),
    ProseConstraint(
        "AOAI-COMPLETIONS-BEST-OF", AOAI, COMPLETIONS,
        "When used with n, best_of controls the number of candidate completions and n specifies how many to "
        "return - best_of must be greater than n. ... Results cannot be streamed. ... Has maximum value of 128.",
        f"{AOAI_SPEC} completions request.best_of",
        _best_of,
        param="best_of",
    ),
    ProseConstraint(
        "MI-EMBEDDINGS-INPUT-TEXT", MI, frozenset({"getEmbeddings"}),
        "Input text to embed, encoded as a string or array of tokens. To embed multiple inputs in a single "
        "request, pass an array of strings or array of token arrays.",
        f"{MI_SPEC} EmbeddingsOptions.input",
        _input_text, narrow={"input": {"minItems": 1}, "input.[]": {"minLength": 1}},
        param="input",
    ),
    ProseConstraint(
        "MI-IMAGE-EMBEDDINGS-INPUT", MI, frozenset({"getImageEmbeddings"}),
        "Input image to embed. To embed multiple inputs in a single request, pass an array. ... The input image "
        "encoded in base64 string as a data URL. Example: `data:image/{format};base64,{data}`.",
        f"{MI_SPEC} ImageEmbeddingsOptions.input, ImageEmbeddingInput.image",
        _image_input, narrow={"input": {"minItems": 1}},
        param="input",
    ),
    ProseConstraint(
        "MI-USER-SECURITY-CONTEXT", MI, CHAT,
        "This identifier is the Microsoft Entra ID (formerly Azure Active Directory) user object ID ... The "
        "Microsoft 365 tenant ID the end user belongs to. ... Captures the original client's IP address, "
        "accepting both IPv4 and IPv6 formats.",
        f"{MI_2505} UserSecurityContext.end_user_id, end_user_tenant_id, source_ip",
        _security_context,
        narrow={"user_security_context.end_user_id": {"pattern": _GUID},
                "user_security_context.end_user_tenant_id": {"pattern": _GUID},
                "user_security_context.source_ip": {"pattern": _IPV4, "minLength": 7, "maxLength": 15}},
        param="user_security_context",
    ),
)


def constraints(api: str, operation_id: str) -> Iterator[ProseConstraint]:
    """The prose constraints on one operation's request body."""
    for c in PROSE:
        if c.api in (api, "any") and operation_id in c.operations:
            yield c


def broken(api: str, operation_id: str, body: Any) -> list[tuple[ProseConstraint, str]]:
    """Each constraint `body` breaks, with why ([] when it breaks none)."""
    if not isinstance(body, dict):
        return []
    return [(c, why) for c in constraints(api, operation_id) if (why := c.check(body)) is not None]


def prose_violations(api: str, operation_id: str, body: Any) -> list[str]:
    """Why `body` breaks the prose of its operation's spec ([] when it breaks none), each with its id."""
    return [f"{c.id}: {why}" for c, why in broken(api, operation_id, body)]


def repair(api: str, operation_id: str, body: Any) -> Any:
    """`body` changed in place to satisfy the relations between its fields that the prose states."""
    if isinstance(body, dict):
        for c in constraints(api, operation_id):
            if c.repair is not None:
                c.repair(body)
    return body
