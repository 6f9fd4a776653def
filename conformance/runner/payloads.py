"""Hand-written baseline requests: the smallest valid, cheap request for each operation.

The behaviour tests start from these and change one thing at a time (drop the credential, add an
undefined parameter, claim an unsupported value ...), so a refusal can be pinned on that change.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

#: A 1x1 transparent PNG: the cheapest valid image for image embeddings and multi-modal chat.
TINY_PNG = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

CHAT_OPS = {"getChatCompletions", "ChatCompletions_Create"}
COMPLETIONS_OPS = {"Completions_Create"}
EMBEDDING_OPS = {"getEmbeddings", "embeddings_create"}
IMAGE_EMBEDDING_OPS = {"getImageEmbeddings"}
INFO_OPS = {"getModelInfo"}


@dataclass
class PlannedRequest:
    """Everything needed to send one request (path already filled in)."""

    method: str
    path: str
    json: Any = None
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def with_body(self, **changes: Any) -> PlannedRequest:
        new = copy.deepcopy(self)
        if isinstance(new.json, dict):
            for k, v in changes.items():
                if v is _DELETE:
                    new.json.pop(k, None)
                else:
                    new.json[k] = v
        return new


_DELETE = object()
DELETE = _DELETE


def model_for(operation_id: str, models: dict[str, str]) -> str | None:
    if operation_id in CHAT_OPS:
        return models.get("chat")
    if operation_id in COMPLETIONS_OPS:
        return models.get("completions") or models.get("chat")
    if operation_id in EMBEDDING_OPS:
        return models.get("embeddings")
    if operation_id in IMAGE_EMBEDDING_OPS:
        return models.get("image_embeddings")
    if operation_id in INFO_OPS:
        return models.get("chat")
    return None


def fill_path(template: str, operation_id: str, models: dict[str, str]) -> str:
    """Fill `{deployment-id}` (Azure OpenAI) from the target's models; other ids get a placeholder."""
    path = template
    if "{deployment-id}" in path:
        path = path.replace("{deployment-id}", model_for(operation_id, models) or models.get("chat") or "deployment")
    while "{" in path:
        start = path.index("{")
        end = path.index("}", start)
        path = path[:start] + "conformance-probe" + path[end + 1 :]
    return path


def chat_messages(prompt: str = "Say hello in three words.") -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": prompt},
    ]


def baseline(operation: Any, *, api: str, models: dict[str, str], max_tokens: int) -> PlannedRequest | None:
    """The baseline request for an operation, or None when the suite has no cheap valid request for it."""
    op_id = operation.operation_id
    path = fill_path(operation.path, op_id, models)
    method = operation.method
    model = model_for(op_id, models)
    body: dict[str, Any] | None
    if op_id in CHAT_OPS:
        body = {"messages": chat_messages(), "max_tokens": max_tokens, "temperature": 0}
    elif op_id in COMPLETIONS_OPS:
        body = {"prompt": ["Say hello in three words."], "max_tokens": max_tokens, "temperature": 0}
    elif op_id in EMBEDDING_OPS:
        body = {"input": ["first conformance input", "second conformance input"]}
    elif op_id in IMAGE_EMBEDDING_OPS:
        body = {"input": [{"image": TINY_PNG}]}
    elif op_id in INFO_OPS:
        params = {"model": model} if model and _has_query_param(operation, "model") else {}
        return PlannedRequest(method, path, None, params)
    else:
        return None
    if api == "model-inference" and model and _body_has(operation, "model"):
        body["model"] = model
    return PlannedRequest(method, path, body)


def _has_query_param(operation: Any, name: str) -> bool:
    return any(p.name == name and p.location == "query" for p in getattr(operation, "parameters", ()))


def _body_has(operation: Any, prop: str) -> bool:
    # Every model-inference request schema defines `model`; kept as a function for clarity.
    return True
