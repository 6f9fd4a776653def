"""A generation view of a spec for schemathesis: what to SEND, never what to judge.

Raw Azure specs make schemathesis send nonsense a real service rightly rejects (random
`api-version`s, messages with random roles and no content, unknown top-level keys, huge arrays).
The view is a rewritten copy of `spec.raw` that keeps generated requests valid per the REAL spec
and cheap; capabilities tested elsewhere (dimensions, audio, structured output) are left out.
Validation always uses the real spec (`Spec.validate_request` can tell a negative case that
turned out valid, so the suite skips it).
"""

from __future__ import annotations

import copy
from typing import Any

from conformance.spec import Spec
from conformance.spec.schema import _is_open_enum, find_discriminated_bases, resolve_pointer

#: One-pixel PNGs (red, transparent): the smallest images every vision model accepts.
TINY_PNGS = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=",
)
MAX_STRING = 40
MAX_ITEMS = 3
MAX_EMBEDDING_INPUTS = 4
#: Request properties left out of generated bodies. Capabilities have their own hand-written tests
#: (dimensions, audio, tools, response_format); the rest carry cross-field rules the schema cannot
#: express (a named tool_choice must name an offered tool, a `tool` message must answer a preceding
#: tool call, logit_bias keys are token ids, data_sources call other services), so a real service
#: rightly refuses random values and a generated "valid" request would be a false alarm.
CAPABILITY_PROPERTIES = (
    "dimensions", "audio", "modalities", "tools", "tool_choice", "tool_calls", "response_format",
    "logit_bias", "functions", "function_call", "data_sources", "enhancements", "input_type",
)
#: Discriminator values left out for the same reasons (structured output, audio input, tool results).
CAPABILITY_VARIANTS = ("json_schema", "audio_url", "input_audio", "tool")
_INT_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def generation_view(spec: Spec, *, api_version: str, max_tokens: int, operations: list[str] | None = None) -> dict:
    """A new OpenAPI document for generation (spec.raw is never mutated)."""
    view = copy.deepcopy(spec.raw)
    _select_operations(view, operations)
    _pin_parameters(view, api_version)
    schemas = (view.get("components") or {}).get("schemas") or {}
    _rewrite_discriminated_bases(view, schemas)
    composed = _allof_parts(view)
    for name, schema in schemas.items():
        schemas[name] = _clamp(schema, name=name, max_tokens=max(1, max_tokens), closable=name not in composed)
    for item in view.get("paths", {}).values():
        for method in _METHODS:
            body = ((item.get(method) or {}).get("requestBody") or {}).get("content") or {}
            for media in body.values():
                if isinstance(media.get("schema"), dict):
                    media["schema"] = _clamp(media["schema"], name="", max_tokens=max(1, max_tokens))
    return view


def _select_operations(view: dict, operations: list[str] | None) -> None:
    if operations is None:
        return
    wanted = set(operations)
    for template in list(view.get("paths", {})):
        item = view["paths"][template]
        for method in _METHODS:
            if method in item and item[method].get("operationId") not in wanted:
                del item[method]
        if not any(m in item for m in _METHODS):
            del view["paths"][template]


def _pin_parameters(view: dict, api_version: str) -> None:
    """api-version pinned to one value; the extra-parameters header dropped (tested on its own)."""
    for item in view.get("paths", {}).values():
        for holder in [item, *(item.get(m) for m in _METHODS if isinstance(item.get(m), dict))]:
            params = []
            for p in holder.get("parameters") or []:
                p = copy.deepcopy(resolve_pointer(view, p["$ref"])) if "$ref" in p else p
                if p.get("in") == "header" and p.get("name", "").lower() == "extra-parameters":
                    continue
                if p.get("name") == "api-version" and p.get("in") == "query":
                    p = {**p, "schema": {"type": "string", "enum": [api_version]}}
                params.append(p)
            if "parameters" in holder:
                holder["parameters"] = params


def _rewrite_discriminated_bases(view: dict, schemas: dict[str, Any]) -> None:
    """Base + mapping -> oneOf over subtypes, each subtype self-contained with its value pinned."""
    for base_pointer, (prop, mapping) in find_discriminated_bases(view).items():
        base_name = base_pointer.rsplit("/", 1)[-1]
        base = schemas[base_name]
        kept = {v: t for v, t in mapping.items() if v not in CAPABILITY_VARIANTS}
        for value, target in kept.items():
            sub_name = target.rsplit("/", 1)[-1]
            sub = schemas[sub_name]
            rest = [i for i in sub.get("allOf", []) if not (isinstance(i, dict) and i.get("$ref") == base_pointer)]
            properties = dict(base.get("properties") or {})
            required = list(base.get("required") or [])
            for part in [sub, *[i for i in rest if isinstance(i, dict) and "$ref" not in i]]:
                properties.update(part.get("properties") or {})
                required += [r for r in part.get("required") or [] if r not in required]
            rest = [i for i in rest if isinstance(i, dict) and "$ref" in i]
            properties[prop] = {"type": "string", "enum": [value]}
            new = {k: v for k, v in sub.items() if k not in ("allOf", "properties", "required")}
            new.update({"type": "object", "properties": properties, "required": sorted(set(required) | {prop})})
            if rest:
                new["allOf"] = rest
            schemas[sub_name] = new
        schemas[base_name] = {"oneOf": [{"$ref": t} for t in kept.values()]}


def _allof_parts(view: dict) -> set[str]:
    """Names of component schemas used as an `allOf` part: closing those would forbid the siblings' keys."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for part in node.get("allOf") or []:
                if isinstance(part, dict) and isinstance(part.get("$ref"), str):
                    found.add(part["$ref"].rsplit("/", 1)[-1])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(view)
    return found


def _clamp(
    schema: Any, *, name: str, max_tokens: int, prop: str = "", depth: int = 0, closable: bool = True
) -> Any:
    """Cost and validity clamps, applied recursively to one schema."""
    if not isinstance(schema, dict) or depth > 40:
        return schema
    s = dict(schema)
    open_values = _is_open_enum(s["anyOf"]) if isinstance(s.get("anyOf"), list) else None
    if open_values is not None:
        s = {"type": "string", "enum": open_values}
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(s.get(key), list):
            s[key] = [
                _clamp(i, name=name, max_tokens=max_tokens, prop=prop, depth=depth + 1,
                       closable=closable and key != "allOf")
                for i in s[key]
            ]
    if isinstance(s.get("items"), dict):
        s["items"] = _clamp(s["items"], name=name, max_tokens=max_tokens, prop=prop, depth=depth + 1)
    if isinstance(s.get("properties"), dict):
        props = {}
        for key, sub in s["properties"].items():
            if key in CAPABILITY_PROPERTIES:
                continue
            props[key] = _property(sub, key, name=name, max_tokens=max_tokens, depth=depth)
        s["properties"] = props
        if isinstance(s.get("required"), list):
            s["required"] = [r for r in s["required"] if r not in CAPABILITY_PROPERTIES]
    if s.get("additionalProperties") in ({}, True):
        s["additionalProperties"] = False  # unknown keys are the extra-parameters tests' business
    if (
        closable
        and s.get("type") == "object"
        and isinstance(s.get("properties"), dict)
        and "additionalProperties" not in s
        and not any(k in s for k in ("allOf", "anyOf", "oneOf"))
    ):
        # JSON Schema objects are open by default: without this, nested objects (tools, messages)
        # get random keys that real services reject although the spec would allow them.
        s["additionalProperties"] = False
    if s.get("type") == "string" and "maxLength" not in s and "enum" not in s and "format" not in s:
        s["maxLength"] = max(MAX_STRING, s.get("minLength", 0))
    if s.get("type") == "array":
        limit = MAX_EMBEDDING_INPUTS if prop == "input" and "mbedding" in name else MAX_ITEMS
        s["maxItems"] = max(min(s.get("maxItems", limit), limit), s.get("minItems", 0))
    if s.get("type") == "integer" and s.get("format") in _INT_BOUNDS:
        lo, hi = _INT_BOUNDS[s["format"]]
        s.setdefault("minimum", lo)
        s.setdefault("maximum", hi)
    return s


def _property(sub: Any, key: str, *, name: str, max_tokens: int, depth: int) -> Any:
    if key == "max_tokens":
        return {"type": "integer", "minimum": 1, "maximum": max_tokens}
    if key in ("n", "best_of"):
        return {"type": "integer", "enum": [1]}
    if (key == "url" and "Image" in name) or (key == "image" and name == "ImageEmbeddingInput"):
        return {"type": "string", "enum": list(TINY_PNGS)}
    if key == "parameters" and name == "FunctionDefinition":
        return {"type": "object", "properties": {}}
    return _clamp(sub, name=name, max_tokens=max_tokens, prop=key, depth=depth + 1)


def case_violations(spec: Spec, operation_id: str, case: Any) -> list[str]:
    """Why a generated case is invalid per the REAL spec (body and parameters); [] when valid.

    Negative generation works on the tightened view, so some "negative" cases (a 41-char string,
    an unknown top-level key) are valid per the real spec; this is how they are told apart.
    """
    from jsonschema import Draft202012Validator

    op = spec.operation(operation_id)
    body = case.body
    found: list[str] = []
    if op.request_schema_pointer:
        if not isinstance(body, dict | list | str | int | float | bool) and body is not None:
            found.append("body: missing")
        else:
            found += [f"body: {i}" for i in spec.validate_request(operation_id, body) if i.level == "error"]
    sources = {"query": case.query or {}, "path": case.path_parameters or {},
               "header": {k.lower(): v for k, v in (case.headers or {}).items()}}
    for p in op.parameters:
        values = sources.get(p.location, {})
        value = values.get(p.name.lower() if p.location == "header" else p.name)
        if value is None:
            if p.required:
                found.append(f"{p.location} {p.name}: missing")
        elif not Draft202012Validator(p.schema).is_valid(value):
            found.append(f"{p.location} {p.name}: {value!r}")
    return found


def generation_strategy(
    spec: Spec, operation_id: str, *, mode: str = "positive", view: dict, only_invalid: bool = True
) -> Any:
    """A hypothesis strategy of schemathesis `Case`s for one operation of a generation view.

    Negative cases that are valid per the real spec are filtered out unless `only_invalid=False`.
    """
    import schemathesis  # imported lazily: heavy, and only generation needs it

    op = spec.operation(operation_id)
    schema = _schemathesis_schema(view)
    generation_mode = {"positive": schemathesis.GenerationMode.POSITIVE,
                       "negative": schemathesis.GenerationMode.NEGATIVE}[mode]
    strategy = schema[op.path][op.method].as_strategy(generation_mode=generation_mode)
    if mode == "negative" and only_invalid:
        strategy = strategy.filter(lambda case: bool(case_violations(spec, operation_id, case)))
    return strategy


#: Generation view -> its schemathesis schema, built once (~40 ms each) instead of once per test.
#: Keyed by id(); each entry holds the view itself, so the id cannot be reused while it is cached.
_SCHEMAS: dict[int, tuple[dict, Any]] = {}
_SCHEMAS_MAX = 8


def _schemathesis_schema(view: dict) -> Any:
    """The schemathesis schema of a view (views are never changed after `generation_view` made them)."""
    entry = _SCHEMAS.get(id(view))
    if entry is not None and entry[0] is view:
        return entry[1]
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    # An explicit config: never pick up a schemathesis.toml from the user's working directory, and no
    # NUL characters (valid JSON, but a service refusing them is not deviating from this spec).
    config = SchemathesisConfig.from_dict({"generation": {"allow-x00": False, "codec": "utf-8"}})
    schema = schemathesis.openapi.from_dict(view, config=config)
    while len(_SCHEMAS) >= _SCHEMAS_MAX:
        _SCHEMAS.pop(next(iter(_SCHEMAS)))
    _SCHEMAS[id(view)] = (view, schema)
    return schema
