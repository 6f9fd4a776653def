"""The vendored specs as objects: operations, path matching, and cached validators.

`load_spec()` parses one upstream file (untouched, in `Spec.raw`), lists every operation, and
converts the document once per direction (`conformance.spec.schema`). Validators are compiled lazily
and cached per (pointer, direction), so judging an exchange never builds a validator.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from conformance.constants import APIS
from conformance.spec.files import SPECS_DIR, MissingDataError
from conformance.spec.schema import (
    DIRECTIONS,
    DISPATCH,
    ConversionContext,
    SchemaIssue,
    SchemaValidator,
    build_registry,
    component_of,
    convert_document,
    escape,
    find_discriminated_bases,
    resolve_pointer,
    to_json_schema,
)

_FILES = {"model-inference": "openapi.yaml", "azure-openai": "inference.json"}
_DEFAULTS = {"model-inference": "2025-04-01", "azure-openai": "2024-04-01-preview"}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
#: The streamed chat chunk schema of each API: (spec version holding it, pointer). No operation references
#: it (see specs/model-inference/NOTES.md). A version without one borrows it from the version named here:
#: Azure OpenAI 2024-04-01-preview has no chunk schema, the stable 2024-10-21 is the first that has one
#: (docs/behaviours.md, "Azure OpenAI streamed chunks").
CHUNK_SCHEMAS: dict[str, tuple[str | None, str]] = {
    "model-inference": (None, "#/components/schemas/StreamingChatCompletionsUpdate"),
    "azure-openai": ("2024-10-21", "#/components/schemas/createChatCompletionStreamResponse"),
}


class _StringDateLoader(yaml.SafeLoader):
    """YAML without implicit timestamps: `2025-04-01` stays the string the JSON view has."""


_StringDateLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _check_api(api: str) -> None:
    if api not in APIS:
        raise ValueError(f"unknown api {api!r}; choose one of: {', '.join(APIS)}")


def available_versions(api: str) -> list[str]:
    _check_api(api)
    root = SPECS_DIR / api
    return sorted(p.parent.name for p in root.glob(f"*/{_FILES[api]}"))


def default_version(api: str) -> str:
    _check_api(api)
    return _DEFAULTS[api]


def load_spec(api: str = "model-inference", version: str | None = None) -> Spec:
    """The parsed spec for api/version (cached); ValueError names the choices when unknown."""
    _check_api(api)
    version = version or default_version(api)
    choices = available_versions(api)
    if not choices:
        # Not a usage error: the installation lacks its data (a wheel built without the specs).
        raise MissingDataError(f"no vendored {api} spec is installed (looked in {SPECS_DIR / api}); "
                               "reinstall the package")
    if version not in choices:
        raise ValueError(f"unknown {api} version {version!r}; available: {', '.join(choices)}")
    return _load(api, version)


@cache
def _load(api: str, version: str) -> Spec:
    path = SPECS_DIR / api / version / _FILES[api]
    data = path.read_bytes()
    text = data.decode("utf-8")
    raw = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_StringDateLoader)  # noqa: S506
    return Spec(raw, api=api, version=version, file=path, sha256=hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # "query" | "header" | "path" | "cookie"
    required: bool
    schema: dict[str, Any]  # converted, self-contained JSON Schema


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    parameters: tuple[Parameter, ...]
    request_schema_pointer: str | None
    request_media_types: tuple[str, ...]
    responses: dict[str, dict[str, str | None]]
    stream_chunk_pointer: str | None
    streaming: bool
    summary: str = ""
    #: The spec version whose document holds `stream_chunk_pointer` (None: this operation's own spec).
    stream_chunk_version: str | None = None

    def path_regex(self) -> re.Pattern[str]:
        """The template as a regex matching a whole relative path (one segment per parameter)."""
        return re.compile("^" + _template_regex(self.path) + "/?$")

    def parameter(self, name: str, location: str | None = None) -> Parameter | None:
        for p in self.parameters:
            if p.name == name and (location is None or p.location == location):
                return p
        return None


def _template_regex(template: str) -> str:
    out = []
    for part in re.split(r"(\{[^}/]+\})", template):
        out.append("[^/]+" if part.startswith("{") and part.endswith("}") else re.escape(part))
    return "".join(out)


class Spec:
    """One vendored spec file: its operations and the validators derived from it."""

    def __init__(self, raw: dict[str, Any], *, api: str, version: str, file: Path, sha256: str) -> None:
        self.api = api
        self.version = version
        self.file = file
        self.sha256 = sha256
        self.raw = raw
        self._bases = find_discriminated_bases(raw)
        self.operations: dict[str, Operation] = self._collect_operations()
        self._uris = {d: f"urn:conformance:{api}:{version}:{d}" for d in DIRECTIONS}
        self._converted: dict[str, dict[str, Any]] | None = None
        self._registry = None
        self._validators: dict[tuple[str, str], SchemaValidator] = {}
        self._lock = threading.Lock()
        self._matchers = sorted(
            ((op, re.compile("(?:^|/)" + _template_regex(op.path).lstrip("/") + "/?$")) for op in self.operations.values()),
            key=lambda item: _specificity(item[0].path),
            reverse=True,
        )

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, api: str = "custom", version: str = "0") -> Spec:
        """A Spec over an in-memory document (tests, fragments); never cached globally."""
        data = json.dumps(raw, sort_keys=True).encode()
        return cls(raw, api=api, version=version, file=Path("<memory>"), sha256=hashlib.sha256(data).hexdigest())

    def __repr__(self) -> str:
        return f"<Spec {self.api} {self.version} ({len(self.operations)} operations)>"

    # ---- operations -----------------------------------------------------------------------

    def operation(self, operation_id: str) -> Operation:
        try:
            return self.operations[operation_id]
        except KeyError:
            raise KeyError(
                f"{self.api} {self.version} has no operation {operation_id!r}; "
                f"known: {', '.join(sorted(self.operations))}"
            ) from None

    def match(self, method: str, path: str) -> Operation | None:
        """The operation for a request: exact relative path, or any path ending with a template."""
        path = path.split("?", 1)[0].split("#", 1)[0] or "/"
        method = method.upper()
        for op, rx in self._matchers:
            if op.method == method and rx.search(path):
                return op
        return None

    def _collect_operations(self) -> dict[str, Operation]:
        ops: dict[str, Operation] = {}
        for template, item in (self.raw.get("paths") or {}).items():
            if not isinstance(item, dict):
                continue
            shared = item.get("parameters") or []
            for method in _METHODS:
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                here = f"#/paths/{escape(template)}/{method}"
                op_id = op.get("operationId") or f"{method.upper()} {template}"
                ops[op_id] = self._operation(op_id, method, template, op, shared, here)
        return ops

    def _operation(self, op_id: str, method: str, template: str, op: dict, shared: list, here: str) -> Operation:
        params: dict[tuple[str, str], Parameter] = {}
        for p in [*shared, *(op.get("parameters") or [])]:
            p = self._deref(p)
            if not isinstance(p, dict) or "name" not in p:
                continue
            schema = self._inline(p.get("schema") or {})
            converted = to_json_schema(
                schema, direction="request", origin="#",
                context=ConversionContext(document=self.raw, direction="request", bases={}),
            )
            params[(p["name"], p.get("in", ""))] = Parameter(
                p["name"], p.get("in", ""), bool(p.get("required", p.get("in") == "path")), converted
            )
        body = self._deref(op.get("requestBody") or {})
        media: dict[str, Any] = (body.get("content") if isinstance(body, dict) else None) or {}
        req_pointer = None
        body_pointer = (op.get("requestBody") or {}).get("$ref") or f"{here}/requestBody"
        for mt in sorted(media, key=lambda m: "json" not in m):
            req_pointer = self._schema_pointer(media[mt], f"{body_pointer}/content/{escape(mt)}")
            break
        responses: dict[str, dict[str, str | None]] = {}
        for status, resp in (op.get("responses") or {}).items():
            resp_pointer = resp.get("$ref") if isinstance(resp, dict) and "$ref" in resp else f"{here}/responses/{status}"
            resp = self._deref(resp)
            content = (resp.get("content") if isinstance(resp, dict) else None) or {}
            responses[str(status)] = {
                mt: self._without_chunk_branch(self._schema_pointer(c, f"{resp_pointer}/content/{escape(mt)}"))
                for mt, c in content.items()
            }
        streaming = self._has_boolean_property(req_pointer, "stream")
        chunk, chunk_version = self._chunk_schema() if streaming and template.endswith("/chat/completions") else (None, None)
        summary = op.get("summary") or (op.get("description") or "").strip().split("\n", 1)[0]
        return Operation(
            operation_id=op_id, method=method.upper(), path=template, parameters=tuple(params.values()),
            request_schema_pointer=req_pointer, request_media_types=tuple(media), responses=responses,
            stream_chunk_pointer=chunk, streaming=streaming, summary=summary, stream_chunk_version=chunk_version,
        )

    def _without_chunk_branch(self, pointer: str | None) -> str | None:
        """Azure OpenAI 2024-10-21 declares its chat 200 as oneOf [response, stream chunk] under
        application/json. A JSON body is the response (chunks arrive as server-sent events and are judged
        by the chunk schema), so it is validated against the response branch alone: otherwise a response
        with one defect would be reported against whichever branch it resembles least."""
        if pointer is None:
            return None
        node = resolve_pointer(self.raw, pointer)
        branches = node.get("oneOf") if isinstance(node, dict) and len(node) == 1 else None
        if not isinstance(branches, list):
            return pointer
        chunk_pointers = {p for _, p in CHUNK_SCHEMAS.values()}
        refs = [b.get("$ref") for b in branches if isinstance(b, dict)]
        rest = [r for r in refs if r not in chunk_pointers]
        if len(refs) == len(branches) and len(rest) == 1 and len(refs) == 2:
            return rest[0]
        return pointer

    def _chunk_schema(self) -> tuple[str | None, str | None]:
        """(pointer, version) of the streamed chat chunk schema: this spec's own, or the one its API's
        chunk-schema version defines. Never the non-streamed response schema: a chunk is not a response."""
        names = self._schema_names()
        for _, pointer in CHUNK_SCHEMAS.values():
            if pointer.rsplit("/", 1)[-1] in names:
                return pointer, None
        donor = CHUNK_SCHEMAS.get(self.api)
        if donor is None or donor[0] is None or donor[0] not in available_versions(self.api):
            return None, None
        return donor[1], donor[0]

    def _schema_names(self) -> set[str]:
        return set((self.raw.get("components") or {}).get("schemas") or {})

    def _deref(self, node: Any, depth: int = 0) -> Any:
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and depth < 16:
            node = resolve_pointer(self.raw, node["$ref"])
            depth += 1
        return node

    def _inline(self, schema: Any, depth: int = 0) -> Any:
        """Parameter schemas fully dereferenced, so `Parameter.schema` stands alone."""
        if depth > 12:
            return {}
        if isinstance(schema, dict):
            if isinstance(schema.get("$ref"), str):
                target = self._inline(self._deref(schema), depth + 1)
                rest = {k: v for k, v in schema.items() if k != "$ref"}
                return {**target, **rest} if isinstance(target, dict) else target
            return {k: self._inline(v, depth + 1) for k, v in schema.items()}
        if isinstance(schema, list):
            return [self._inline(v, depth + 1) for v in schema]
        return schema

    @staticmethod
    def _schema_pointer(media_obj: Any, here: str) -> str | None:
        if not isinstance(media_obj, dict) or not isinstance(media_obj.get("schema"), dict):
            return None
        schema = media_obj["schema"]
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#") and len(schema) == 1:
            return ref
        return f"{here}/schema"

    def _has_boolean_property(self, pointer: str | None, name: str) -> bool:
        if pointer is None:
            return False
        todo, seen = [resolve_pointer(self.raw, pointer)], 0
        while todo and seen < 64:
            node = self._deref(todo.pop())
            seen += 1
            if not isinstance(node, dict):
                continue
            prop = (node.get("properties") or {}).get(name)
            if isinstance(self._deref(prop), dict) and self._deref(prop).get("type") == "boolean":
                return True
            todo.extend(node.get("allOf") or [])
        return False

    # ---- validation -----------------------------------------------------------------------

    def _ensure_converted(self) -> None:
        if self._converted is not None:
            return
        with self._lock:
            if self._converted is None:
                converted = {
                    self._uris[d]: convert_document(self.raw, direction=d, base_uri=self._uris[d]) for d in DIRECTIONS
                }
                self._registry = build_registry(converted)
                self._converted = converted

    def validator(self, pointer: str, direction: str = "response") -> SchemaValidator:
        """The cached compiled validator for a spec pointer ("#/components/schemas/ChatCompletions")."""
        key = (pointer, direction)
        found = self._validators.get(key)
        if found is not None:
            return found
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        try:
            resolve_pointer(self.raw, pointer)
        except (KeyError, IndexError, ValueError):
            raise KeyError(f"{self.api} {self.version}: no schema at {pointer}") from None
        self._ensure_converted()
        target = pointer
        if pointer in self._bases:  # validating "the base" means dispatching on its discriminator
            target = f"#/{DISPATCH}/{pointer.rsplit('/', 1)[-1]}"
        schema = {"$ref": self._uris[direction] + target, "x-origin": pointer}
        with self._lock:
            found = self._validators.get(key)
            if found is None:
                found = SchemaValidator(schema, pointer=pointer, registry=self._registry)
                self._validators[key] = found
        return found

    def validate(self, pointer: str, instance: Any, *, direction: str = "response") -> list[SchemaIssue]:
        return self.validator(pointer, direction).validate(instance)

    def validate_request(self, operation_id: str, body: Any) -> list[SchemaIssue]:
        pointer = self.operation(operation_id).request_schema_pointer
        return [] if pointer is None else self.validate(pointer, body, direction="request")

    def response_pointer(self, operation_id: str, status: int, media_type: str = "application/json") -> str | None:
        entry = self._response_entry(self.operation(operation_id), status)
        if entry is None:
            return None
        media_type = media_type.split(";")[0].strip().lower()
        for mt, pointer in entry.items():
            if mt.lower() == media_type:
                return pointer
        return None

    def _response_entry(self, op: Operation, status: int) -> dict[str, str | None] | None:
        for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
            if key in op.responses:
                return op.responses[key]
        return None

    def validate_response(self, operation_id: str, status: int, body: Any) -> list[SchemaIssue]:
        """Issues of a JSON response body against the schema declared for its status.

        A status with no declared response (AOAI declares no `default` on many operations) has
        nothing to validate against: [] for errors, a single note for an undeclared 2xx.
        """
        op = self.operation(operation_id)
        if self._response_entry(op, status) is None:
            if 200 <= status < 300:
                return [
                    SchemaIssue("$", "", "undeclared-status",
                                f"{operation_id} declares no response for status {status}; body not validated",
                                f"#/paths/{escape(op.path)}/{op.method.lower()}/responses", None, "note")
                ]
            return []
        pointer = self.response_pointer(operation_id, status)
        return [] if pointer is None else self.validate(pointer, body, direction="response")

    def stream_chunk_spec(self, operation_id: str) -> tuple[Spec, str] | None:
        """(spec, pointer) streamed chunks of the operation are validated against, or None."""
        op = self.operation(operation_id)
        if op.stream_chunk_pointer is None:
            return None
        if op.stream_chunk_version in (None, self.version):
            return self, op.stream_chunk_pointer
        return load_spec(self.api, op.stream_chunk_version), op.stream_chunk_pointer

    def validate_stream_chunk(self, operation_id: str, chunk: Any) -> list[SchemaIssue]:
        found = self.stream_chunk_spec(operation_id)
        return [] if found is None else found[0].validate(found[1], chunk, direction="response")

    def component(self, pointer: str) -> str | None:
        return component_of(pointer)


def _specificity(template: str) -> tuple[int, int, int]:
    """Longest template first; among equals, more literal segments first ("/threads/runs")."""
    segments = [s for s in template.split("/") if s]
    literal = sum(1 for s in segments if not s.startswith("{"))
    return (len(segments), literal, len(template))
