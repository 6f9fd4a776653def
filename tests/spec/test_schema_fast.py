"""The jsonschema_rs pre-check (conformance/schema_fast.py) never changes what validation reports.

`SchemaValidator.validate` (pre-check, then the Python walk when it rejects) must equal
`validate_python` (the Python walk alone) issue for issue, notes included: on every vendored
example, every recorded corpus response and chunk, and generated instances per schema (positive
ones drawn from the schema, and mutated ones), plus the constructs where a naive pre-check would
hide a note or accept what Python rejects.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.constants import APIS
from conformance.spec import Spec, available_versions, load_spec
from conformance.spec.files import SPECS_DIR
from conformance.spec.schema import SchemaValidator
from conformance.traffic import detect_api, read_traffic
from conformance.transport.exchange import NO_JSON
from tests.paths import SHARED, shared

CORPUS = SHARED / "corpus"
SPECS = [(api, version) for api in APIS for version in available_versions(api)]
#: Instances per schema: half drawn from the schema, half of those mutated.
EXAMPLES_PER_SCHEMA = 100


def _same(v: SchemaValidator, instance: Any) -> bool:
    """Assert equality with the Python walk; True when the pre-check alone accepted."""
    fast, exact = v.validate(instance), v.validate_python(instance)
    assert fast == exact, f"{v.pointer}: pre-check changed the issues of {json.dumps(instance, default=str)[:300]}"
    return not exact and v._fast is not None and v._fast.is_valid(instance)


def _validators(spec: Spec) -> dict[tuple[str, str], SchemaValidator]:
    out = {}
    for op in spec.operations.values():
        if op.request_schema_pointer:
            out[(op.request_schema_pointer, "request")] = spec.validator(op.request_schema_pointer, "request")
        pointers = [p for media in op.responses.values() for p in media.values() if p]
        for pointer in pointers:
            out[(pointer, "response")] = spec.validator(pointer, "response")
        if op.stream_chunk_pointer and op.stream_chunk_version in (None, spec.version):
            out[(op.stream_chunk_pointer, "response")] = spec.validator(op.stream_chunk_pointer, "response")
    return out


ALL = [(api, version, pointer, direction)
       for api, version in SPECS for pointer, direction in _validators(load_spec(api, version))]


@pytest.mark.parametrize(("api", "version"), SPECS)
def test_every_vendored_validator_has_the_pre_check(api: str, version: str) -> None:
    validators = _validators(load_spec(api, version))
    for v in validators.values():
        v.validate({})
    assert validators and [p for p, v in validators.items() if v._fast is None] == []


@pytest.mark.parametrize(("api", "version"), SPECS)
def test_vendored_examples_get_the_same_issues(api: str, version: str) -> None:
    """Every vendored example (of any spec version: more instances) against this spec's schemas."""
    spec = load_spec(api, version)
    files = sorted(SPECS_DIR.rglob("examples/**/*.json"))
    assert len(files) > 10
    checked = accepted = 0
    for file in files:
        example = json.loads(file.read_text(encoding="utf-8"))
        params = example.get("parameters") or {}
        bodies = [(ptr, "request", params["body"]) for ptr in _request_pointers(spec) if "body" in params]
        for response in (example.get("responses") or {}).values():
            if isinstance(response, dict) and "body" in response:
                bodies += [(p, "response", response["body"]) for p in _response_pointers(spec)]
        for pointer, direction, body in bodies:
            accepted += _same(spec.validator(pointer, direction), body)
            checked += 1
    assert checked and accepted, "the examples must exercise both paths"


def _request_pointers(spec: Spec) -> set[str]:
    return {op.request_schema_pointer for op in spec.operations.values() if op.request_schema_pointer}


def _response_pointers(spec: Spec) -> set[str]:
    return {p for op in spec.operations.values() for media in op.responses.values() for p in media.values() if p}


def test_corpus_responses_and_chunks_get_the_same_issues() -> None:
    """Each recorded request, response and chunk against every vendored version of its API."""
    shared("corpus")
    from conformance.rules.views import chunks, transcript

    count = {"checked": 0, "accepted": 0, "notes": 0}

    def same(v: SchemaValidator, instance: Any) -> None:
        count["accepted"] += _same(v, instance)
        count["notes"] += any(i.level == "note" for i in v.validate(instance))
        count["checked"] += 1

    for ex in read_traffic(sorted(CORPUS.glob("*.json"))):
        for version in available_versions(detect_api(ex)):
            spec = load_spec(detect_api(ex), version)
            op = spec.match(ex.request.method, ex.request.path)
            if op is None or ex.response is None:
                continue
            if op.request_schema_pointer and ex.request.json is not NO_JSON:
                same(spec.validator(op.request_schema_pointer, "request"), ex.request.json)
            pointer = spec.response_pointer(op.operation_id, ex.response.status)
            if pointer and ex.response.json is not NO_JSON:
                same(spec.validator(pointer), ex.response.json)
            ts = transcript(ex)
            chunk_spec = spec.stream_chunk_spec(op.operation_id)
            if chunk_spec is not None and ts is not None:
                for _, chunk in chunks(ts):
                    same(chunk_spec[0].validator(chunk_spec[1]), chunk)
    assert count["checked"] > 1000 and count["accepted"] and count["notes"], count


# -- generated instances --------------------------------------------------------------------------

_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(-1e3, 1e3), st.text(max_size=8))
_JSON = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                          max_size=3), max_leaves=6)
#: Values a mutation puts somewhere: the edges the formats, bounds and enums care about.
_EDGES = st.sampled_from([
    None, True, 0, -1, 1.5, 2**31 - 1, 2**31, -(2**31) - 1, 2**63, 10**11, 10**11 - 1, 1e300, float("nan"),
    float("inf"), "", "zz-unlisted", "assistant", "stop", "length", "http://x", "not a uri", "2024-01-01T00:00:00Z",
    "2024-13-01T00:00:00Z", [], {}, [1, "a"], {"type": "function"},
])


class _Gen:
    """A hypothesis strategy per converted schema: values that mostly satisfy it (test support)."""

    def __init__(self, spec: Spec, direction: str) -> None:
        spec._ensure_converted()
        self.registry = spec._registry
        self.direction = direction

    def resolve(self, ref: str) -> Any:
        from conformance.spec.schema import resolve_pointer

        base, _, frag = ref.partition("#")
        return resolve_pointer(self.registry.contents(base), "#" + frag)

    def of(self, node: Any, depth: int = 0) -> st.SearchStrategy[Any]:
        """`depth` counts objects and arrays only (dispatch chains nest many `if`s and `$ref`s)."""
        if not isinstance(node, dict) or depth > 6:
            return _LEAVES
        if "$ref" in node:
            return st.deferred(lambda: self.of(self.resolve(node["$ref"]), depth))
        if "if" in node:
            return self._conditional(node, depth)
        if node.get("x-open-enum"):
            return st.sampled_from(node["x-open-enum"]) | st.sampled_from(["zz-unlisted", ""])
        if "enum" in node:
            return st.sampled_from(node["enum"])
        if "const" in node:
            return st.just(node["const"])
        if "anyOf" in node or "oneOf" in node:
            return st.one_of(*[self.of(b, depth) for b in node.get("anyOf") or node["oneOf"]])
        if "allOf" in node:
            merged = self.merged(node)
            return self.of(merged if merged["properties"] else node["allOf"][0], depth)
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            props = node.get("properties") or {}
            required = node.get("required", [])  # some are declared nowhere (upstream mistakes)
            optional = {k: self.of(v, depth + 1) for k, v in props.items() if k not in required}
            return st.fixed_dictionaries({k: self.of(props.get(k), depth + 1) for k in required}, optional=optional)
        if kind == "array":
            return st.lists(self.of(node.get("items", {}), depth + 1), min_size=node.get("minItems", 0),
                            max_size=min(3, node.get("maxItems", 3)))
        if kind == "string":
            fmt = {"uri": st.just("https://example.com/a.png"), "date-time": st.just("2024-05-01T10:00:00Z")}
            low = node.get("minLength", 0)
            return fmt.get(node.get("format"), st.text(min_size=low, max_size=max(12, low)))
        if kind in ("integer", "number"):
            lo, hi = node.get("minimum", -(2**31)), node.get("maximum", 2**31 - 1)
            if node.get("format") == "unixtime":
                lo, hi = 1_600_000_000, 1_800_000_000
            ints = st.integers(int(math.ceil(lo)), int(math.floor(hi)))
            return ints if kind == "integer" else ints | st.floats(lo, hi, allow_nan=False)
        if kind == "boolean":
            return st.booleans()
        return _LEAVES

    def _conditional(self, node: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
        """nullable (`if: {type: null}`) or a discriminator dispatch (`if: {properties: {p: {const}}}`)."""
        cond, branches = node["if"], []
        if "then" in node:
            then = self.of(node["then"], depth)
            consts = {k: v["const"] for k, v in (cond.get("properties") or {}).items() if "const" in v}
            branches.append(then.map(lambda d: {**d, **consts} if isinstance(d, dict) else d))
        if "else" in node:
            branches.append(self.of(node["else"], depth))
        if cond.get("type") == "null":
            branches.append(st.none())
        return st.one_of(*branches) if branches else _LEAVES

    def merged(self, node: dict[str, Any]) -> dict[str, Any]:
        """allOf parts (refs followed) folded into one object schema, as the specs use allOf."""
        out: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        todo, steps = [node], 0
        while todo and steps < 40:
            part = todo.pop()
            steps += 1
            if "$ref" in part:
                todo.append(self.resolve(part["$ref"]))
            if "if" in part and "else" in part:
                todo.append(part["else"])
            todo.extend(p for p in part.get("allOf", []) if isinstance(p, dict))
            out["properties"].update(part.get("properties") or {})
            out["required"] += part.get("required", [])
        return out


def _paths(value: Any, here: tuple = ()) -> Iterator[tuple]:
    yield here
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*here, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*here, i))


def _mutate(value: Any, data: st.DataObject) -> Any:
    """One random change at one random place: replace, delete, add a key, or append an item."""
    value = json.loads(json.dumps(value))
    path = data.draw(st.sampled_from(list(_paths(value))))
    new = data.draw(_EDGES | _JSON)
    if not path:
        return new
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    action = data.draw(st.sampled_from(["replace", "delete", "add", "append"]))
    target = parent[path[-1]]
    if action == "delete":
        del parent[path[-1]]
    elif action == "add" and isinstance(target, dict):
        target[data.draw(st.sampled_from(["extra", "role", "index", "type", "content"]))] = new
    elif action == "append" and isinstance(target, list):
        target.append(new if not target else data.draw(st.sampled_from([new, target[0]])))
    else:
        parent[path[-1]] = new
    return value


@pytest.mark.parametrize(("api", "version", "pointer", "direction"), ALL)
def test_generated_instances_get_the_same_issues(api: str, version: str, pointer: str, direction: str) -> None:
    spec = load_spec(api, version)
    v = spec.validator(pointer, direction)
    gen = _Gen(spec, direction).of(v.schema)
    seen = {"mutated": 0}

    @settings(max_examples=EXAMPLES_PER_SCHEMA, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        instance = data.draw(gen)
        accepted = _same(v, instance)
        # ...and never needlessly slow: a drawn instance with nothing to report skips the Python walk.
        assert accepted == (v.validate_python(instance) == []), instance
        for _ in range(data.draw(st.integers(0, 3))):
            instance = _mutate(instance, data)
            _same(v, instance)
            seen["mutated"] += 1

    run()
    assert seen["mutated"] > EXAMPLES_PER_SCHEMA // 2


# -- constructs where a careless pre-check would differ -------------------------------------------

OPEN = {"anyOf": [{"type": "string"}, {"type": "string", "enum": ["a", "b"]}]}


def _spec(schemas: dict[str, Any], paths: dict[str, Any] | None = None) -> Spec:
    return Spec.from_dict({"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": paths or {},
                           "components": {"schemas": schemas}})


def _issues(spec: Spec, name: str, instance: Any) -> list[tuple[str, str, str]]:
    v = spec.validator(f"#/components/schemas/{name}")
    v.validate("warm-up")
    assert v._fast is not None, "the construct must be handled by the pre-check, not bypass it"
    _same(v, instance)
    return [(i.path, i.keyword, i.level) for i in v.validate(instance)]


def test_open_enum_note_survives_in_the_first_of_several_any_of_branches() -> None:
    spec = _spec({"Open": OPEN, "S": {"anyOf": [{"$ref": "#/components/schemas/Open"}, {"type": "string"}]}})
    assert _issues(spec, "S", "zz") == [("$", "open-enum", "note")]
    assert _issues(spec, "S", "a") == []


def test_one_of_ambiguity_note_is_not_hidden_by_a_strictly_valid_branch() -> None:
    spec = _spec({"Open": OPEN, "S": {"oneOf": [{"$ref": "#/components/schemas/Open"}, {"type": "string", "maxLength": 9}]}})
    assert ("$", "oneOf-ambiguous", "note") in _issues(spec, "S", "zz")
    assert ("$", "oneOf-ambiguous", "note") in _issues(spec, "S", "a")


def test_open_enum_inside_not_and_discriminator_conditions_is_judged_leniently() -> None:
    spec = _spec({"Open": OPEN, "N": {"type": "object", "properties": {"k": {"not": {"$ref": "#/components/schemas/Open"}}}}})
    assert _issues(spec, "N", {"k": "zz"}) == [("$.k", "not", "error")]
    assert _issues(spec, "N", {"k": 3}) == []


def test_non_finite_numbers_are_left_to_python_even_where_a_branch_is_negated() -> None:
    """NaN is a number to Python but no type to jsonschema_rs: inside a oneOf that once hid a note."""
    branch = {"type": "object", "properties": {"d": {"type": "number"}}}
    spec = _spec({"S": {"oneOf": [branch, {**branch, "required": ["d"]}]}})
    assert ("$", "oneOf-ambiguous", "note") in _issues(spec, "S", {"d": float("nan")})
    assert _issues(spec, "S", {"d": float("inf")}) == _issues(spec, "S", {"d": 1}) == [("$", "oneOf-ambiguous", "note")]


@pytest.mark.parametrize(("fmt", "bad", "good"), [
    ("int32", [2**31, -(2**31) - 1, 1.5, float("nan"), float("inf")], [2**31 - 1, -(2**31), 7.0]),
    ("int64", [2**63, 1e300, float("-inf")], [2**63 - 1, -(2**63)]),
    ("unixtime", [10**11, -1, 1.5, float("inf")], [0, 1_700_000_000]),
    ("float", [float("nan"), float("inf")], [1.5, 2**70]),
])
def test_numeric_formats_are_as_strict_as_the_python_path(fmt: str, bad: list[Any], good: list[Any]) -> None:
    spec = _spec({"N": {"type": "number", "format": fmt}})
    for value in bad:
        assert [k for _, k, _ in _issues(spec, "N", value)] == ["format"], value
    for value in good:
        assert _issues(spec, "N", value) == [], value


def test_uri_date_time_and_pattern_use_the_python_checks() -> None:
    spec = _spec({"U": {"type": "string", "format": "uri"}, "D": {"type": "string", "format": "date-time"},
                  "P": {"type": "string", "pattern": r"^\d+$"}})
    assert _issues(spec, "U", "relative/path") == [("$", "format", "error")]
    assert _issues(spec, "D", "2024-02-30T00:00:00Z") == [("$", "format", "error")]
    assert _issues(spec, "P", "12a") == [("$", "pattern", "error")]
    assert _issues(spec, "P", "١٢") == []  # Python's \d is Unicode-aware; ECMA's is not: Python decides


def test_pointer_with_braces_compiles_and_validates() -> None:
    body = {"content": {"application/json": {"schema": {"type": "object", "required": ["id"],
                                                        "properties": {"id": {"type": "string"}}}}}}
    spec = _spec({}, {"/deployments/{deployment-id}/chat": {"post": {"operationId": "x", "responses": {"200": body}}}})
    v = spec.validator(spec.response_pointer("x", 200))
    assert v.validate({"id": "a"}) == [] and v._fast is not None
    assert [i.keyword for i in v.validate({})] == ["required"]


def test_unknown_keywords_disable_the_pre_check_but_not_validation() -> None:
    spec = _spec({"U": {"type": "array", "uniqueItems": True}})
    v = spec.validator("#/components/schemas/U")
    assert [i.keyword for i in v.validate([1, 1])] == ["uniqueItems"]
    assert v._fast is None and v.validate([1, 2]) == []


def test_very_deep_values_never_reach_jsonschema_rs_recursion() -> None:
    """A hostile answer nesting `innererror` 100k deep (the error schema is recursive) must not crash
    the process in jsonschema_rs; beyond MAX_DEPTH the Python walk judges it, as before."""
    spec = load_spec("model-inference", "2025-04-01")
    v = spec.validator(spec.response_pointer("getChatCompletions", 400))
    v.validate({})

    def nested(depth: int) -> dict[str, Any]:
        root = inner = {"code": "x"}
        for _ in range(depth):
            inner["innererror"] = inner = {"code": "x"}
        return {"error": {"code": "c", "message": "m", "innererror": root}}

    assert v._fast.is_valid(nested(10)) and not v._fast.is_valid(nested(100_000))
    assert _same(v, nested(10)) and not _same(v, nested(200))
