"""OpenAPI 3.0 schemas -> JSON Schema 2020-12, and the one validator that judges bodies.

Plain validators are both too lax and too strict for the Azure specs: they ignore `nullable`,
`readOnly`/`writeOnly` and base-class `discriminator`s, and they treat open enums
(`anyOf: [{type: string}, {type: string, enum: [...]}]`) as a vague anyOf. The converter below
rewrites each spec once per direction into a JSON Schema document that mirrors the spec's layout
(so a spec pointer is also a pointer into the converted document). Every converted node carries
`x-origin`, the pointer of the spec node it came from, so a failure names the spec location.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import referencing.exceptions
from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import _WrappedReferencingError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conformance.spec.formats import OPEN_ENUM, _format, _short
from conformance.spec.schema_fast import compile_fast
from conformance.text import clip

DIRECTIONS = ("request", "response")
ORIGIN = "x-origin"
#: Where dispatching twins of discriminated base schemas live in a converted document.
DISPATCH = "x-dispatch"

#: OpenAPI-only or annotation keywords dropped by the converter (handled, or irrelevant to validity).
_DROP = frozenset(
    {"nullable", "readOnly", "writeOnly", "discriminator", "example", "examples", "xml", "externalDocs",
     "deprecated", "description", "title", "default"}
)
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_SINGLE = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames")

@dataclass(frozen=True)
class SchemaIssue:
    """One place where a JSON value deviates from (or, for notes, goes beyond) its schema."""

    path: str
    value: str
    keyword: str
    message: str
    pointer: str
    component: str | None
    level: str = "error"  # "error" | "note"

    def __str__(self) -> str:
        tail = " (note)" if self.level == "note" else ""
        return f"{self.path} = {self.value}: {self.message} (keyword {self.keyword}) [{self.pointer}]{tail}"


# --------------------------------------------------------------------------------------------
# Conversion


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def resolve_pointer(document: Any, pointer: str) -> Any:
    """Follow a local JSON pointer ("#/components/schemas/X"); KeyError when it leads nowhere."""
    node = document
    frag = pointer[1:] if pointer.startswith("#") else pointer
    for token in filter(None, frag.split("/")):
        token = unescape(token)
        if isinstance(node, list):
            node = node[int(token)]
        elif isinstance(node, dict):
            node = node[token]
        else:
            raise KeyError(pointer)
    return node


def component_of(pointer: str) -> str | None:
    parts = pointer.split("/")
    if len(parts) >= 4 and parts[1] == "components":
        return unescape(parts[3])
    return None


@dataclass
class ConversionContext:
    """What converting one node needs to know about the whole document."""

    document: dict[str, Any]
    direction: str
    #: Absolute URI prefix for `$ref`s into the converted document ("urn:...#" is appended to).
    base_uri: str = ""
    #: Discriminated base schema pointer -> (property name, {value: target pointer}).
    bases: dict[str, tuple[str, dict[str, str]]] | None = None
    #: x-ms-enum `modelAsString: true` marks an extensible enum (autorest semantics): treat it as open.
    ms_enum_open: bool = True

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {self.direction!r}")
        if self.bases is None:
            self.bases = find_discriminated_bases(self.document)

    def ref(self, pointer: str) -> str:
        return f"{self.base_uri}{pointer}"


def find_discriminated_bases(document: dict[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    """Component schemas that carry a discriminator and are not themselves a oneOf/anyOf."""
    schemas = (document.get("components") or {}).get("schemas") or {}
    out: dict[str, tuple[str, dict[str, str]]] = {}
    for name, schema in schemas.items():
        if not isinstance(schema, dict) or not isinstance(schema.get("discriminator"), dict):
            continue
        if "oneOf" in schema or "anyOf" in schema:
            continue  # handled inline where the schema is converted
        pointer = f"#/components/schemas/{escape(name)}"
        prop = schema["discriminator"].get("propertyName")
        mapping = dict(schema["discriminator"].get("mapping") or {})
        if not mapping:  # implicit mapping: components that allOf back to the base
            for sub_name, sub in schemas.items():
                refs = [i.get("$ref") for i in (sub.get("allOf") or []) if isinstance(i, dict)]
                if isinstance(sub, dict) and pointer in refs:
                    mapping[sub.get("x-ms-discriminator-value", sub_name)] = f"#/components/schemas/{escape(sub_name)}"
        if isinstance(prop, str) and mapping:
            out[pointer] = (prop, mapping)
    return out


def _is_open_enum(items: list[Any]) -> list[Any] | None:
    """`anyOf` of plain string schemas, some with `enum`, one without: the listed values, else None."""
    if len(items) < 2 or not all(isinstance(i, dict) and i.get("type") == "string" for i in items):
        return None
    allowed = {"type", "enum", "description", "title", "x-ms-enum"}
    if any(set(i) - allowed for i in items):
        return None
    if not any("enum" not in i for i in items) or not any("enum" in i for i in items):
        return None
    return [v for i in items for v in i.get("enum", [])]


def _dispatch_schema(ctx: ConversionContext, prop: str, mapping: dict[str, str], fallback: dict, origin: str) -> dict:
    """An if/then/else chain on the discriminator value; unmapped values fall back to `fallback`."""
    chain: dict[str, Any] = fallback
    for value, target in reversed(list(mapping.items())):
        chain = {
            "if": {"properties": {prop: {"const": value}}, "required": [prop]},
            "then": {"$ref": ctx.ref(target), ORIGIN: target},
            "else": chain,
            ORIGIN: origin,
        }
    return chain


def _subtype_union(ctx: ConversionContext, s: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    """A oneOf/anyOf whose branches are all subtypes of one discriminated base (AOAI's pattern):
    the inherited discriminator picks the branch, as OpenAPI intends (the branches overlap)."""
    assert ctx.bases is not None
    branches = s.get("oneOf") or s.get("anyOf")
    if not isinstance(branches, list) or not branches:
        return None
    refs = [b.get("$ref") if isinstance(b, dict) else None for b in branches]
    if not all(isinstance(r, str) for r in refs):
        return None
    for prop, mapping in ctx.bases.values():
        inverse = {target: value for value, target in mapping.items()}
        if all(r in inverse for r in refs):
            return prop, {inverse[r]: r for r in refs}  # type: ignore[index]
    return None


def _flag(document: dict[str, Any], schema: Any, key: str, depth: int = 0) -> bool:
    """Whether a property schema is readOnly/writeOnly, looking through `$ref` and single `allOf`."""
    if not isinstance(schema, dict) or depth > 8:
        return False
    if schema.get(key) is True:
        return True
    if isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#"):
        try:
            return _flag(document, resolve_pointer(document, schema["$ref"]), key, depth + 1)
        except (KeyError, ValueError, IndexError):
            return False
    return False


def to_json_schema(
    openapi_schema: Any, *, direction: str, origin: str = "#", context: ConversionContext | None = None,
    backref_bases: frozenset[str] = frozenset(),
) -> Any:
    """Convert one OpenAPI 3.0 schema node (recursively) to JSON Schema 2020-12.

    `origin` is the node's pointer in the spec; `backref_bases` are discriminated bases that an
    `allOf` directly under this node may reference plainly (a subtype pointing back at its base).
    """
    ctx = context or ConversionContext(document={}, direction=direction, bases={})
    return _convert(openapi_schema, ctx, origin, backref_bases)


def _convert(s: Any, ctx: ConversionContext, origin: str, backref: frozenset[str] = frozenset()) -> Any:
    if isinstance(s, bool) or not isinstance(s, dict):
        return s
    assert ctx.bases is not None
    out: dict[str, Any] = {}

    if isinstance(s.get("$ref"), str):
        target = s["$ref"]
        if target in ctx.bases and target not in backref:
            out["$ref"] = ctx.ref(f"#/{DISPATCH}/{escape(target.rsplit('/', 1)[-1])}")
        else:
            out["$ref"] = ctx.ref(target) if target.startswith("#") else target

    open_values = _is_open_enum(s["anyOf"]) if isinstance(s.get("anyOf"), list) else None
    ms_enum = s.get("x-ms-enum")
    if open_values is not None:
        out["type"] = "string"
        out[OPEN_ENUM] = open_values
    elif ctx.ms_enum_open and isinstance(ms_enum, dict) and ms_enum.get("modelAsString") and "enum" in s:
        out[OPEN_ENUM] = list(s["enum"])

    for key, value in s.items():
        if key in _DROP or key == "$ref" or key.startswith("x-") or key in out:
            continue
        if key == "anyOf" and open_values is not None:
            continue
        if key == "enum" and OPEN_ENUM in out:
            continue
        here = f"{origin}/{escape(key)}"
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: _convert(v, ctx, f"{here}/{escape(k)}") for k, v in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [
                _convert(v, ctx, f"{here}/{i}", backref if key == "allOf" else frozenset())
                for i, v in enumerate(value)
            ]
        elif key in _SCHEMA_SINGLE and isinstance(value, dict):
            out[key] = _convert(value, ctx, here)
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            if value and bound in s:  # OpenAPI 3.0 boolean form -> 2020-12 numeric form
                out[key] = s[bound]
        elif key in ("minimum", "maximum") and s.get("exclusive" + key.capitalize()) is True:
            continue
        else:
            out[key] = value

    # readOnly properties are not sent in requests; writeOnly ones are not returned in responses.
    if isinstance(out.get("required"), list) and isinstance(s.get("properties"), dict):
        flag = "readOnly" if ctx.direction == "request" else "writeOnly"
        skipped = {k for k, v in s["properties"].items() if _flag(ctx.document, v, flag)}
        if skipped:
            out["required"] = [r for r in out["required"] if r not in skipped]

    disc = s.get("discriminator")
    if isinstance(disc, dict) and ("oneOf" in s or "anyOf" in s) and disc.get("mapping"):
        out = _dispatch_schema(ctx, disc["propertyName"], dict(disc["mapping"]), out, origin)
    else:
        subtypes = _subtype_union(ctx, s)
        if subtypes is not None:
            prop, mapping = subtypes
            key = "oneOf" if "oneOf" in s else "anyOf"
            rest = {k: v for k, v in out.items() if k != key}
            branch_origin = f"{origin}/{key}"
            unlisted = {"properties": {prop: {"enum": list(mapping), ORIGIN: branch_origin}}, "required": [prop],
                        ORIGIN: branch_origin}
            out = {**rest, "allOf": [*rest.get("allOf", []), _dispatch_schema(ctx, prop, mapping, unlisted, origin)]}

    out[ORIGIN] = origin
    if s.get("nullable") is True:
        out = {"if": {"type": "null"}, "else": out, ORIGIN: origin}
    return out


def convert_document(document: dict[str, Any], *, direction: str, base_uri: str) -> dict[str, Any]:
    """The whole spec with every schema node converted in place, plus `x-dispatch` twins."""
    ctx = ConversionContext(document=document, direction=direction, base_uri=base_uri)
    assert ctx.bases is not None
    out: dict[str, Any] = {}
    components = document.get("components") or {}
    schemas = components.get("schemas") or {}
    conv_schemas: dict[str, Any] = {}
    # subtype pointer -> bases it may reference plainly from its own allOf
    backrefs: dict[str, set[str]] = {}
    for base, (_prop, mapping) in ctx.bases.items():
        for target in mapping.values():
            backrefs.setdefault(target, set()).add(base)
    for name, schema in schemas.items():
        pointer = f"#/components/schemas/{escape(name)}"
        conv_schemas[name] = _convert(schema, ctx, pointer, frozenset(backrefs.get(pointer, ())))
    out["components"] = {"schemas": conv_schemas}
    for section in ("parameters", "requestBodies", "responses", "headers"):
        if isinstance(components.get(section), dict):
            out["components"][section] = _convert_container(components[section], ctx, f"#/components/{section}")
    out["paths"] = _convert_container(document.get("paths") or {}, ctx, "#/paths")
    dispatch: dict[str, Any] = {}
    for base, (prop, mapping) in ctx.bases.items():
        name = base.rsplit("/", 1)[-1]
        dispatch[name] = _dispatch_schema(ctx, prop, mapping, {"$ref": ctx.ref(base), ORIGIN: base}, base)
    out[DISPATCH] = dispatch
    return out


def _convert_container(node: Any, ctx: ConversionContext, origin: str) -> Any:
    """Walk non-schema OpenAPI structure, converting every `schema` member found."""
    if isinstance(node, dict):
        res: dict[str, Any] = {}
        for k, v in node.items():
            here = f"{origin}/{escape(k)}"
            if k == "schema" and isinstance(v, dict):
                res[k] = _convert(v, ctx, here)
            elif k in ("example", "examples", "x-ms-examples", "description"):
                continue
            else:
                res[k] = _convert_container(v, ctx, here)
        return res
    if isinstance(node, list):
        return [_convert_container(v, ctx, f"{origin}/{i}") for i, v in enumerate(node)]
    return node


# --------------------------------------------------------------------------------------------
# Validation

NOTE_KEYWORD = "open-enum"
#: A value that fits several oneOf branches: a defect of the spec (overlapping branches), not of the
#: service, so it is reported as a note rather than blamed on the target.
AMBIGUOUS_KEYWORD = "oneOf-ambiguous"
_NOTE_KEYWORDS = frozenset({NOTE_KEYWORD, AMBIGUOUS_KEYWORD})


def _is_note(error: ValidationError) -> bool:
    return error.validator in _NOTE_KEYWORDS


def _open_enum(validator: Any, values: list[Any], instance: Any, schema: dict) -> Iterator[ValidationError]:
    """An unlisted string in an open enum: yielded as a note-error that combinators do not count."""
    if isinstance(instance, str) and instance not in values:
        yield ValidationError(
            f"{_short(instance, 60)} is not one of the listed values {_short(values, 80)} (allowed: the enum is open)",
            validator=NOTE_KEYWORD, validator_value=values,
        )


def _any_of(validator: Any, value: list[Any], instance: Any, schema: dict) -> Iterator[ValidationError]:
    """anyOf where notes do not make a branch fail (the first branch that holds wins, notes and all)."""
    errors: list[ValidationError] = []
    for index, sub in enumerate(value):
        errs = list(validator.descend(instance, sub, schema_path=index))
        real = [e for e in errs if not _is_note(e)]
        if not real:
            yield from errs
            return
        errors.extend(real)
    yield ValidationError(f"{_short(instance, 60)} is not valid under any of the given schemas", context=errors)


def _one_of(validator: Any, value: list[Any], instance: Any, schema: dict) -> Iterator[ValidationError]:
    errors: list[ValidationError] = []
    valid: list[tuple[int, list[ValidationError]]] = []
    for index, sub in enumerate(value):
        errs = list(validator.descend(instance, sub, schema_path=index))
        real = [e for e in errs if not _is_note(e)]
        if real:
            errors.extend(real)
        else:
            valid.append((index, errs))
    if not valid:
        yield ValidationError(f"{_short(instance, 60)} is not valid under any of the given schemas", context=errors)
    else:
        if len(valid) > 1:
            yield ValidationError(
                f"{_short(instance, 60)} fits more than one oneOf branch ({[i for i, _ in valid]}); "
                "the spec's branches overlap",
                validator=AMBIGUOUS_KEYWORD, validator_value=[i for i, _ in valid],
            )
        yield from valid[0][1]


def _holds(validator: Any, sub: Any, instance: Any) -> bool:
    return not any(not _is_note(e) for e in validator.evolve(schema=sub).iter_errors(instance))


def _not(validator: Any, sub: Any, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if _holds(validator, sub, instance):
        yield ValidationError(f"{_short(instance, 60)} must not be valid under the `not` schema")


def _if(validator: Any, sub: Any, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if _holds(validator, sub, instance):
        if "then" in schema:
            yield from validator.descend(instance, schema["then"], schema_path="then")
    elif "else" in schema:
        yield from validator.descend(instance, schema["else"], schema_path="else")


#: (id(registry), absolute $ref) -> (registry, resolved): kept alive, so an id cannot be reused.
_REFS: dict[tuple[int, str], tuple[Any, Any]] = {}
_REFS_MAX = 8192


def _ref(validator: Any, ref: str, instance: Any, schema: dict) -> Iterator[ValidationError]:
    """`$ref` with the lookup cached: referencing's `lookup` (urljoin, urldefrag, pointer walk) was
    ~45 % of validating a chunk. Only absolute refs are cached (the converter writes only those):
    their target does not depend on where they are used. Then it descends exactly as jsonschema does."""
    registry = getattr(getattr(validator, "_resolver", None), "_registry", None)
    hit = _REFS.get((id(registry), ref)) if registry is not None else None
    if hit is None or hit[0] is not registry:
        if registry is None or not urlsplit(ref).scheme:
            yield from validator._validate_reference(ref=ref, instance=instance)
            return
        try:
            resolved = validator._resolver.lookup(ref)
        except referencing.exceptions.Unresolvable as err:
            raise _WrappedReferencingError(err) from err
        if len(_REFS) >= _REFS_MAX:
            _REFS.clear()
        hit = _REFS[(id(registry), ref)] = (registry, resolved)
    yield from validator.descend(instance, hit[1].contents, resolver=hit[1].resolver)


_Base = Draft202012Validator
ConformanceValidator = validators.extend(
    _Base,
    {
        OPEN_ENUM: _open_enum,
        "format": _format,
        "anyOf": _any_of,
        "oneOf": _one_of,
        "not": _not,
        "if": _if,
        "$ref": _ref,
    },
)


def json_path(parts: Iterable[Any]) -> str:
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", str(p)):
            out += f".{p}"
        else:
            out += "[" + _short(str(p), 60) + "]"
    return out


def _origin(error: ValidationError, fallback: str) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    return str(schema.get(ORIGIN, fallback))


def _leaves(error: ValidationError, depth: int = 0) -> list[ValidationError]:
    """The errors of the most relevant anyOf/oneOf branch, instead of "not valid under any".

    Branches whose type does not even match the instance are ignored; of the rest, the branch
    whose errors reach deepest into the instance (it matched the most) is reported, all of it.
    """
    if error.validator not in ("anyOf", "oneOf") or not error.context or depth > 32:
        return [error]
    branches: dict[Any, list[ValidationError]] = {}
    for e in error.context:
        branches.setdefault(e.relative_schema_path[0] if e.relative_schema_path else None, []).append(e)
    applicable = [
        errs for errs in branches.values()
        if not any(e.validator == "type" and not e.relative_path for e in errs)
    ]
    if not applicable:
        return [error]
    best = max(applicable, key=lambda errs: (max(len(e.absolute_path) for e in errs), -len(errs)))
    return [leaf for e in best for leaf in _leaves(e, depth + 1)]


def _message(error: ValidationError) -> str:
    if error.validator == "type":
        return f"{_short(error.instance, 60)} is not of type {_short(error.validator_value, 60)}"
    if error.validator == "enum":
        return f"{_short(error.instance, 60)} is not one of {_short(error.validator_value, 100)}"
    if error.validator in ("anyOf", "oneOf") and error.context:
        kinds = sorted({str(e.validator_value) for e in error.context if e.validator == "type"})
        return f"{_short(error.instance, 60)} matches none of the allowed types ({', '.join(kinds)})"
    if error.validator == "const":
        return f"{_short(error.instance, 60)} is not {_short(error.validator_value, 60)}"
    text = " ".join(str(error.message).split())
    return clip(text, 240)


def issue_from_error(error: ValidationError, *, pointer: str, level: str = "error") -> SchemaIssue:
    where = _origin(error, pointer)
    return SchemaIssue(
        path=json_path(error.absolute_path),
        value=_short(error.instance),
        keyword=str(error.validator),
        message=_message(error),
        pointer=where,
        component=component_of(where),
        level=level,
    )


class SchemaValidator:
    """A compiled validator for one converted (sub)schema; build once, call `validate` often."""

    def __init__(self, schema: dict[str, Any], *, pointer: str, registry: Registry | None = None) -> None:
        self.pointer = pointer
        self.schema = schema
        self._registry = registry or Registry()
        self._validator = ConformanceValidator(schema, registry=self._registry)
        self._fast: Any = _UNCOMPILED

    def validate(self, instance: Any) -> list[SchemaIssue]:
        """Every issue and note: [] at once when the jsonschema_rs pre-check (schema_fast) accepts."""
        fast = self._fast
        if fast is _UNCOMPILED:
            fast = self._fast = compile_fast(self.schema, self._registry)
        if fast is not None:
            try:
                accepted = fast.is_valid(instance)
            except Exception:  # noqa: BLE001 - a value jsonschema_rs cannot take: the Python walk judges it
                accepted = None
            if accepted:
                return []
            if accepted is False:
                # There is an issue or a note to report: no Python is_valid() pass first, it would
                # only say "invalid" again.
                return self._issues(instance)
        return self.validate_python(instance)

    def validate_python(self, instance: Any) -> list[SchemaIssue]:
        """The exact judgement by the Python validator alone (what `validate` must always equal)."""
        try:
            if self._validator.is_valid(instance):  # no error and no note
                return []
        except RecursionError:
            return [self._too_deep(instance)]
        return self._issues(instance)

    def _too_deep(self, instance: Any) -> SchemaIssue:
        return SchemaIssue("$", _short(instance, 60), "depth", "value nests too deeply to validate",
                           self.pointer, component_of(self.pointer))

    def _issues(self, instance: Any) -> list[SchemaIssue]:
        try:
            errors = list(self._validator.iter_errors(instance))
        except RecursionError:
            return [self._too_deep(instance)]
        real = [issue_from_error(leaf, pointer=self.pointer) for e in errors if not _is_note(e) for leaf in _leaves(e)]
        notes = [issue_from_error(e, pointer=self.pointer, level="note") for e in errors if _is_note(e)]
        out: list[SchemaIssue] = []
        seen: set[tuple[str, str, str]] = set()
        for issue in real + notes:  # allOf + own `required` can repeat the same complaint
            if (issue.path, issue.keyword, issue.message) not in seen:
                seen.add((issue.path, issue.keyword, issue.message))
                out.append(issue)
        return out


_UNCOMPILED: Any = object()


def build_registry(converted: dict[str, dict[str, Any]]) -> Registry:
    """One registry per spec: each converted document under its own URI."""
    resources = [(uri, Resource(contents=doc, specification=DRAFT202012)) for uri, doc in converted.items()]
    return Registry().with_resources(resources)
