"""A generation view of a spec for schemathesis: what to SEND, never what to judge.

Raw Azure specs make schemathesis send nonsense a real service rightly rejects (random
`api-version`s, messages with random roles and no content, unknown top-level keys, huge arrays,
values the spec's prose forbids). The view is a rewritten copy of `spec.raw` that keeps generated
requests valid per the REAL spec and its prose (`conformance.prose`), and cheap: every request
that can spend tokens carries the budget's token limit. Capabilities tested elsewhere
(dimensions, audio, structured output) are left out. Validation always uses the real spec
(`Spec.validate_request` can tell a negative case that turned out valid, so the suite skips it).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from conformance.spec import Spec, prose
from conformance.spec.schema import _is_open_enum, find_discriminated_bases, resolve_pointer

#: One-pixel PNGs (red, transparent): the smallest images every vision model accepts.
TINY_PNGS = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=",
)
MAX_STRING = 40
MAX_ITEMS = 3
MAX_EMBEDDING_INPUTS = 4
#: Request fields that cap the tokens an answer may spend, in the order the suite prefers them.
TOKEN_LIMIT_FIELDS = ("max_tokens", "max_completion_tokens")
#: Request properties left out of generated bodies. Capabilities have their own hand-written tests
#: (dimensions, audio, tools, response_format); the rest carry cross-field rules the schema cannot
#: express (a named tool_choice must name an offered tool, a `tool` message must answer a preceding
#: tool call, logit_bias keys are token ids, data_sources call other services), are model-specific
#: (`suffix` is "only supported for gpt-3.5-turbo-instruct"), undocumented (`completion_config`),
#: or multiply the cost (`best_of` candidates; `max_completion_tokens` next to the pinned `max_tokens`
#: is refused by the services that know both).
CAPABILITY_PROPERTIES = (
    "dimensions", "audio", "modalities", "tools", "tool_choice", "tool_calls", "response_format",
    "logit_bias", "functions", "function_call", "data_sources", "enhancements", "input_type",
    "parallel_tool_calls", "context", "best_of", "suffix", "completion_config", "max_completion_tokens",
)
#: Discriminator values left out for the same reasons (structured output, audio input, tool and
#: function results).
CAPABILITY_VARIANTS = ("json_schema", "audio_url", "input_audio", "tool", "function")
#: Properties left out of one schema only: image + text is a capability of its own (`image_text_input`).
_LEFT_OUT = frozenset({("ImageEmbeddingInput", "text")})
#: Header names that frame the HTTP message: the client sets them; a generated value breaks the request.
_FRAMING_HEADERS = frozenset({
    "content-length", "transfer-encoding", "host", "connection", "expect", "upgrade", "te", "trailer",
    "keep-alive", "proxy-connection", "content-type", "accept-encoding", "api-key", "authorization",
})
#: RFC 9110 §5.1/§5.5: a field name is a token; a field value is visible ASCII with inner spaces/tabs.
_FIELD_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_FIELD_VALUE = re.compile(r"^(?:[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?$")
_INT_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def generation_view(spec: Spec, *, api_version: str, max_tokens: int, operations: list[str] | None = None) -> dict:
    """A new OpenAPI document for generation (spec.raw is never mutated)."""
    view = copy.deepcopy(spec.raw)
    _select_operations(view, operations)
    _pin_parameters(view, api_version)
    schemas = (view.get("components") or {}).get("schemas") or {}
    _rewrite_discriminated_bases(view, schemas)
    _flatten_all_of(view, schemas)
    limit = max(1, max_tokens)
    for name, schema in schemas.items():
        schemas[name] = _clamp(schema, name=name, max_tokens=limit)
    for operation_id, media in _request_media(view):
        if isinstance(media.get("schema"), dict):
            media["schema"] = _clamp(media["schema"], name="", max_tokens=limit)
            body = _resolve(view, media["schema"])
            for constraint in prose.constraints(spec.api, operation_id):
                for path, keywords in constraint.narrow.items():
                    _narrow(view, body, path.split("."), keywords)
            _require_token_limit(body)
    return view


def _request_media(view: dict) -> Iterator[tuple[str, dict]]:
    for item in view.get("paths", {}).values():
        for method in _METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            content = (op.get("requestBody") or {}).get("content") or {}
            for media in content.values():
                if isinstance(media, dict):
                    yield str(op.get("operationId")), media


def _resolve(view: dict, node: Any) -> Any:
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 20:
        node = resolve_pointer(view, node["$ref"])
        seen += 1
    return node


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
        for value, target in list(kept.items()):
            sub_name = target.rsplit("/", 1)[-1]
            sub = schemas[sub_name]
            rest = [i for i in sub.get("allOf", []) if not (isinstance(i, dict) and i.get("$ref") == base_pointer)]
            properties = dict(base.get("properties") or {})
            required = list(base.get("required") or [])
            for part in [sub, *[i for i in rest if isinstance(i, dict) and "$ref" not in i]]:
                properties.update(part.get("properties") or {})
                required += [r for r in part.get("required") or [] if r not in required]
            if value == "image_url" and "image_url" not in properties:
                # Azure OpenAI 2024-04-01-preview puts `url` beside `type`; the services read
                # `image_url.url` (as the later specs say), so the spec's shape is never sent.
                del kept[value]
                continue
            rest = [i for i in rest if isinstance(i, dict) and "$ref" in i]
            properties[prop] = {"type": "string", "enum": [value]}
            new = {k: v for k, v in sub.items() if k not in ("allOf", "properties", "required")}
            new.update({"type": "object", "properties": properties, "required": sorted(set(required) | {prop})})
            if rest:
                new["allOf"] = rest
            schemas[sub_name] = new
        schemas[base_name] = {"oneOf": [{"$ref": t} for t in kept.values()]}


def _flatten_all_of(view: dict, schemas: dict[str, Any]) -> None:
    """`allOf` of plain objects merged into one object (so it can be closed); a lone `allOf: [$ref]`
    becomes the `$ref`. Repeated until nothing changes, so parts are flattened before their users."""
    for _ in range(8):
        changed: list[bool] = []
        for name in list(schemas):
            schemas[name] = _flatten(view, schemas[name], changed)
        for _, media in _request_media(view):
            if "schema" in media:
                media["schema"] = _flatten(view, media["schema"], changed)
        if not changed:
            return


def _flatten(view: dict, node: Any, changed: list[bool]) -> Any:
    if isinstance(node, list):
        return [_flatten(view, i, changed) for i in node]
    if not isinstance(node, dict):
        return node
    node = {k: _flatten(view, v, changed) for k, v in node.items()}
    parts = node.get("allOf")
    if not isinstance(parts, list) or not parts:
        return node
    if len(parts) == 1 and not node.get("properties") and not node.get("required"):
        changed.append(True)
        return copy.deepcopy(parts[0])
    resolved = [_resolve(view, p) for p in parts]
    if not all(_plain_object(r) for r in resolved):
        return node
    merged = {k: v for k, v in node.items() if k != "allOf"}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for part in [*resolved, node]:
        properties.update(copy.deepcopy(part.get("properties") or {}))
        required += [r for r in part.get("required") or [] if r not in required]
    merged.update(type="object", properties=properties)
    if required:
        merged["required"] = required
    changed.append(True)
    return merged


def _plain_object(node: Any) -> bool:
    return (
        isinstance(node, dict)
        and not any(k in node for k in ("allOf", "anyOf", "oneOf", "discriminator"))
        and (node.get("type") == "object" or isinstance(node.get("properties"), dict))
    )


def _clamp(schema: Any, *, name: str, max_tokens: int, prop: str = "", depth: int = 0) -> Any:
    """Cost and validity clamps, applied recursively to one schema."""
    if not isinstance(schema, dict) or depth > 40:
        return schema
    s = dict(schema)
    open_values = _is_open_enum(s["anyOf"]) if isinstance(s.get("anyOf"), list) else None
    if open_values is not None:
        s = {"type": "string", "enum": open_values}
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(s.get(key), list):
            s[key] = [_clamp(i, name=name, max_tokens=max_tokens, prop=prop, depth=depth + 1) for i in s[key]]
    if isinstance(s.get("items"), dict):
        s["items"] = _clamp(s["items"], name=name, max_tokens=max_tokens, prop=prop, depth=depth + 1)
    if isinstance(s.get("properties"), dict):
        props = {}
        for key, sub in s["properties"].items():
            if key in CAPABILITY_PROPERTIES or (name, key) in _LEFT_OUT:
                continue
            props[key] = _property(sub, key, name=name, max_tokens=max_tokens, depth=depth)
        s["properties"] = props
        if isinstance(s.get("required"), list):
            s["required"] = [r for r in s["required"] if r not in CAPABILITY_PROPERTIES]
        if depth == 0 and "Request" in name and "Message" in name and "content" in props:
            # An assistant message may omit content in the spec, but without tool calls (never
            # generated) every chat template refuses a message that says nothing.
            s["required"] = [*[r for r in s.get("required") or [] if r != "content"], "content"]
    if s.get("additionalProperties") in ({}, True):
        s["additionalProperties"] = False  # unknown keys are the extra-parameters tests' business
    if (
        s.get("type") == "object"
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
    if key in TOKEN_LIMIT_FIELDS:
        return {"type": "integer", "minimum": 1, "maximum": max_tokens}
    if key == "n":
        return {"type": "integer", "enum": [1]}
    if (key == "url" and "Image" in name) or (key == "image" and name == "ImageEmbeddingInput"):
        return {"type": "string", "enum": list(TINY_PNGS)}
    if key == "parameters" and name == "FunctionDefinition":
        return {"type": "object", "properties": {}}
    clamped = _clamp(sub, name=name, max_tokens=max_tokens, prop=key, depth=depth + 1)
    if (key == "content" and "Message" in name) or (key == "text" and "Content" in name) or key == "stop":
        # Every chat template refuses empty or null message content, and an empty stop sequence
        # stops nothing: generated ones are never empty.
        clamped = _non_empty(clamped, nullable=key == "stop")
    return clamped


def _non_empty(schema: Any, *, nullable: bool) -> Any:
    if not isinstance(schema, dict):
        return schema
    s = dict(schema)
    if not nullable:
        s.pop("nullable", None)
    for key in ("anyOf", "oneOf"):
        if isinstance(s.get(key), list):
            s[key] = [_non_empty(i, nullable=nullable) for i in s[key]]
    if s.get("type") == "string":
        s["minLength"] = max(1, s.get("minLength", 0))
    if s.get("type") == "array":
        s["minItems"] = max(1, s.get("minItems", 0))
        if isinstance(s.get("items"), dict):
            s["items"] = _non_empty(s["items"], nullable=False)
    return s


def _narrow(view: dict, schema: Any, path: list[str], keywords: dict[str, Any]) -> None:
    """Add a prose constraint's keywords to the schema at `path` (property names; "[]" = items),
    through `$ref`s and into every branch of a oneOf/anyOf where the keyword fits the type."""
    node = _resolve(view, schema)
    if not isinstance(node, dict):
        return
    branches = [node, *[_resolve(view, b) for k in ("oneOf", "anyOf") for b in node.get(k) or []]]
    if not path:
        for branch in branches:
            if isinstance(branch, dict):
                for keyword, value in keywords.items():
                    if _fits(keyword, branch):
                        _tighten(branch, keyword, value)
        return
    head, rest = path[0], path[1:]
    for branch in branches:
        if not isinstance(branch, dict):
            continue
        if head == "[]" and isinstance(branch.get("items"), dict):
            _narrow(view, branch["items"], rest, keywords)
        elif isinstance((branch.get("properties") or {}).get(head), dict):
            _narrow(view, branch["properties"][head], rest, keywords)


def _tighten(schema: dict, keyword: str, value: Any) -> None:
    """Set `keyword` so the schema only gets narrower (the view's own clamps stay in force)."""
    old = schema.get(keyword)
    if old is None or keyword in ("pattern", "nullable"):
        schema[keyword] = value
    elif keyword in ("minimum", "minLength", "minItems"):
        schema[keyword] = max(old, value)
    elif keyword in ("maximum", "maxLength", "maxItems"):
        schema[keyword] = min(old, value)
    elif keyword == "enum":
        schema[keyword] = [v for v in old if v in value]


def _fits(keyword: str, schema: dict) -> bool:
    kind = schema.get("type")
    if keyword in ("minLength", "maxLength", "pattern", "enum"):
        return kind == "string" or (kind is None and "enum" in schema)
    if keyword in ("minItems", "maxItems"):
        return kind == "array"
    if keyword in ("minimum", "maximum"):
        return kind in ("integer", "number")
    return True


def _require_token_limit(body: Any) -> None:
    """The first token-limit field the request schema defines is required: no unbounded answer."""
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        return
    field = next((f for f in TOKEN_LIMIT_FIELDS if f in body["properties"]), None)
    if field is not None:
        body["required"] = [*[r for r in body.get("required") or [] if r != field], field]


_TOKEN_FIELDS: dict[tuple[str, str], str | None] = {}


def token_limit_field(spec: Spec, operation_id: str) -> str | None:
    """The field of this operation's request that caps the answer's tokens (None: it spends none)."""
    key = (spec.sha256, operation_id)
    if key not in _TOKEN_FIELDS:
        _TOKEN_FIELDS[key] = _token_limit_field(spec, operation_id)
    return _TOKEN_FIELDS[key]


def _token_limit_field(spec: Spec, operation_id: str) -> str | None:
    op = spec.operation(operation_id)
    if not op.request_schema_pointer:
        return None
    schema = resolve_pointer(spec.raw, op.request_schema_pointer)
    names: set[str] = set()

    def collect(node: Any, depth: int = 0) -> None:
        node = _resolve(spec.raw, node)
        if not isinstance(node, dict) or depth > 6:
            return
        names.update(node.get("properties") or {})
        for part in node.get("allOf") or []:
            collect(part, depth + 1)

    collect(schema)
    return next((f for f in TOKEN_LIMIT_FIELDS if f in names), None)


def bound_tokens(body: Any, field: str | None, limit: int) -> Any:
    """`body` with its token limit present and at most `limit`, unless the value is itself what a
    negative case breaks (not a non-negative integer): then it is left as drawn."""
    if field is None or not isinstance(body, dict):
        return body
    value = body.get(field)
    if field not in body:
        return {**body, field: limit}
    if isinstance(value, int) and not isinstance(value, bool) and value > limit:
        return {**body, field: limit}
    return body


def sendable_headers(case_headers: Any, declared: set[str]) -> dict[str, str]:
    """The generated headers an HTTP/1.1 client can send: declared header parameters only, never a
    framing or credential header, names and values as RFC 9110 allows them."""
    out: dict[str, str] = {}
    for name, value in (case_headers or {}).items():
        name, value = str(name), str(value)
        lower = name.lower()
        if lower in _FRAMING_HEADERS or lower not in declared:
            continue
        if _FIELD_NAME.match(name) and _FIELD_VALUE.match(value):
            out[name] = value
    return out


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

    Positive cases are repaired to honour the relations the prose states between fields; negative
    cases that are valid per the real spec are filtered out unless `only_invalid=False`.
    """
    import schemathesis  # imported lazily: heavy, and only generation needs it

    op = spec.operation(operation_id)
    schema = _schemathesis_schema(view)
    generation_mode = {"positive": schemathesis.GenerationMode.POSITIVE,
                       "negative": schemathesis.GenerationMode.NEGATIVE}[mode]
    strategy = schema[op.path][op.method].as_strategy(generation_mode=generation_mode)
    if mode == "positive":
        strategy = strategy.map(lambda case: _repaired(spec.api, operation_id, case))
    if mode == "negative" and only_invalid:
        strategy = strategy.filter(lambda case: bool(case_violations(spec, operation_id, case)))
    return strategy


def _repaired(api: str, operation_id: str, case: Any) -> Any:
    prose.repair(api, operation_id, case.body)
    return case


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

    # An explicit config: never pick up a schemathesis.toml from the user's working directory; no NUL
    # characters (valid JSON, but a service refusing them is not deviating from this spec); no
    # credentials (the client adds the real one) and no undeclared headers or query parameters in
    # negative cases (their random names and values can break the HTTP message itself).
    config = SchemathesisConfig.from_dict({"generation": {
        "allow-x00": False, "codec": "utf-8", "with-security-parameters": False, "allow-extra-parameters": False,
    }})
    schema = schemathesis.openapi.from_dict(view, config=config)
    while len(_SCHEMAS) >= _SCHEMAS_MAX:
        _SCHEMAS.pop(next(iter(_SCHEMAS)))
    _SCHEMAS[id(view)] = (view, schema)
    return schema
