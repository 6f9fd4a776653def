"""The reference's view of the vendored specs: request validation through the validation core,
and the set of top-level properties an operation's request schema defines (what
`extra-parameters` calls "parameters undefined by the REST API")."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from conformance.reference.settings import AZURE_OPENAI, MODEL_INFERENCE
from conformance.spec import load_spec


def raw_spec(api: str, version: str) -> dict[str, Any]:
    """The parsed upstream document, from the validation core (one loader for the project)."""
    return load_spec(api, version).raw


def _resolve(doc: dict[str, Any], node: Any) -> Any:
    """Follow local `$ref`s (the vendored specs have no remote ones)."""
    for _ in range(32):  # bounded: a ref cycle cannot hang a request
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
            return node
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return {}
        node = doc
        for part in ref[2:].split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(node, dict) else {}
    return {}


def _collect_properties(doc: dict[str, Any], schema: Any, seen: set[int]) -> set[str]:
    schema = _resolve(doc, schema)
    if not isinstance(schema, dict) or id(schema) in seen:
        return set()
    seen.add(id(schema))
    names = set(schema.get("properties", {}))
    for sub in schema.get("allOf", []):
        names |= _collect_properties(doc, sub, seen)
    return names


def find_operation(api: str, version: str, operation_id: str) -> dict[str, Any]:
    for item in raw_spec(api, version).get("paths", {}).values():
        for op in item.values():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return op
    raise KeyError(operation_id)


@lru_cache(maxsize=64)
def request_properties(api: str, version: str, operation_id: str) -> frozenset[str]:
    """Top-level body properties the operation's request schema defines (through allOf)."""
    doc = raw_spec(api, version)
    op = find_operation(api, version, operation_id)
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return frozenset()
    return frozenset(_collect_properties(doc, schema, set()))


def request_errors(api: str, version: str, operation_id: str, body: Any) -> list[Any]:
    """Error-level schema issues of a request body (notes, e.g. unlisted open-enum values, pass)."""
    issues = load_spec(api, version).validate_request(operation_id, body)
    return [i for i in issues if getattr(i, "level", "error") == "error"]


def all_operations(api: str, version: str) -> list[tuple[str, str, str]]:
    """(method, path, operationId) of every operation in the spec file."""
    out = []
    for path, item in raw_spec(api, version).get("paths", {}).items():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                out.append((method.upper(), path, op["operationId"]))
    return out


__all__ = ["AZURE_OPENAI", "MODEL_INFERENCE", "all_operations", "raw_spec", "request_errors", "request_properties"]
