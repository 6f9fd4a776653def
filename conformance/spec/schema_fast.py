"""A jsonschema_rs pre-check for `SchemaValidator`: same issues, found ~100x faster when there are none.

The Python validator (schema.py) walks every value and gives exact issues and open-enum notes, but
a 16 x 1536-float embeddings answer costs it 100 ms and a long stream ~90 us per chunk. Most bodies
have nothing to report, so the converted documents are compiled once more with jsonschema_rs, and
`SchemaValidator.validate` returns [] when the compiled "strict" variant accepts the instance; only
the rest takes the Python walk. That is only sound if *strict-valid implies no issue and no note*
under the Python semantics, so the variant is rewritten to mirror them exactly:

- open enums (`x-open-enum`) become closed `enum`s: an unlisted value fails here, and the Python
  walk then reports it as the note it is;
- Python judges `if` conditions and `not` subschemas, and which anyOf/oneOf branches hold, with
  notes ignored ("lenient"); so each converted document also exists in a lenient variant (open
  enums dropped, oneOf ambiguity allowed), and those places refer to it. A strict `anyOf` holds
  when the FIRST leniently valid branch is strictly valid (that branch's notes are the ones Python
  reports); a strict `oneOf` when exactly one branch is leniently valid and it is strictly valid
  (two leniently valid branches are Python's "oneOf-ambiguous" note);
- NaN and +-Infinity (Python's json.loads accepts them) are numbers to Python but no JSON type to
  jsonschema_rs, and integers beyond 64 bits may compare differently: an instance holding either
  anywhere fails the pre-check (the guard, checked first), so everything below only ever sees values
  on which both validators agree, in positive and in negated places alike; so do values nested
  deeper than `MAX_DEPTH` (jsonschema_rs would recurse on the native stack);
- OpenAPI formats (jsonschema_rs knows none of int32/int64/unixtime) become equivalent keywords
  (integral bounds); `float`/`double` only reject non-finite numbers, which the guard already
  does; `uri`, `date-time` and `pattern` call the Python checks themselves as custom formats, so
  regex dialects cannot differ.

Anything the rewrite does not know (a keyword outside `_KNOWN`, a `$ref` outside the registry)
disables the pre-check for that registry: slower, never different. tests/test_schema_fast.py
checks the equivalence on every vendored example, the recorded corpus and generated instances.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import jsonschema_rs
from referencing import Registry

from conformance.spec.formats import OPEN_ENUM, _format

STRICT, LENIENT = "strict", "lenient"
#: JSON Schema keywords the rewrite reproduces exactly (Python and jsonschema_rs agree on them).
_KNOWN = frozenset({
    "$ref", "type", "properties", "required", "additionalProperties", "items", "allOf", "anyOf", "oneOf",
    "if", "then", "else", "not", "enum", "const", "format", "pattern", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems", "minLength", "maxLength",
    "minProperties", "maxProperties",
})
_GUARD_URI = "urn:conformance:pre-check:guard"
#: Deeper instances fail the guard (and take the Python walk): jsonschema_rs recurses on the native
#: stack and crashes the process on very deep values under a recursive schema (~50k levels measured;
#: the Azure error schemas recurse through `innererror`). The guard is checked first, so the spec's
#: schema is never entered with a value deeper than this.
MAX_DEPTH = 64
_SCALARS = ["boolean", "integer", "null", "number", "string"]


def _guard_level(depth: int) -> dict[str, Any]:
    """Level `depth` of the guard: a JSON type (not NaN/Infinity), integers within 64 bits, and
    containers only while the next level exists. Unrolled rather than recursive, for the reason above."""
    level: dict[str, Any] = {"if": {"type": "integer"}, "then": {"minimum": -(2**63), "maximum": 2**64 - 1}}
    if depth >= MAX_DEPTH:
        return {**level, "type": _SCALARS}
    deeper = {"$ref": f"{_GUARD_URI}:{depth + 1}"}
    return {**level, "type": ["array", "object", *_SCALARS], "items": deeper, "additionalProperties": deeper}


_INTEGRAL_BOUNDS = {
    "int32": (-(2**31), 2**31 - 1, "maximum"),
    "int64": (-(2**63), 2**63 - 1, "maximum"),
    "unixtime": (0, 10**11, "exclusiveMaximum"),  # schema._UNIXTIME_MAX
}
_PYTHON_FORMATS = ("uri", "date-time")
#: Characters left as they are in a `$ref` fragment; jsonschema_rs wants the rest percent-encoded.
_FRAGMENT_SAFE = "/~!$&'()*+,;=:@-._"


class Unsupported(ValueError):
    """The schema uses something the rewrite cannot reproduce exactly."""


def _python_format(fmt: str) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        return not any(True for _ in _format(None, fmt, value, {}))

    return check


def _python_pattern(pattern: str) -> Callable[[str], bool]:
    rx = re.compile(pattern)  # jsonschema's `pattern` is re.search on the Python side too

    def check(value: str) -> bool:
        return rx.search(value) is not None

    return check


class Rewriter:
    """Rewrites converted documents into their strict and lenient jsonschema_rs variants."""

    def __init__(self, bases: frozenset[str]) -> None:
        self.bases = bases
        #: Custom format name -> the Python check it runs (passed to jsonschema_rs as `formats=`).
        self.formats: dict[str, Callable[[str], bool]] = {}
        self._names: dict[str, str] = {}

    @staticmethod
    def uri(base: str, mode: str) -> str:
        return f"{base}:{mode}"

    def ref(self, ref: str, mode: str) -> str:
        base, _, fragment = ref.partition("#")
        if base not in self.bases:
            raise Unsupported(f"$ref outside the registry: {ref}")
        return f"{self.uri(base, mode)}#{quote(fragment, safe=_FRAGMENT_SAFE)}"

    def document(self, node: Any, mode: str, *, schemas: bool = False) -> Any:
        """A converted document's layout, with every schema in it rewritten (pointers unchanged)."""
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if schemas or (key == "schema" and isinstance(value, dict)):
                out[key] = self.schema(value, mode)
            else:
                out[key] = self.document(value, mode, schemas=key in ("schemas", "x-dispatch"))
        return out

    def schema(self, node: Any, mode: str) -> Any:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            raise Unsupported(f"not a schema: {node!r:.60}")
        unknown = {k for k in node if k not in _KNOWN and not k.startswith("x-")}
        if unknown:
            raise Unsupported(f"keywords {sorted(unknown)}")
        out: dict[str, Any] = {}
        also: list[Any] = []  # extra constraints, conjoined through allOf
        for key, value in node.items():
            if key == OPEN_ENUM:
                if mode == STRICT:
                    also.append({"enum": list(value)})
            elif key.startswith("x-"):
                continue
            elif key == "$ref":
                out[key] = self.ref(value, mode)
            elif key == "properties":
                out[key] = {name: self.schema(sub, mode) for name, sub in value.items()}
            elif key in ("items", "additionalProperties", "then", "else"):
                out[key] = self.schema(value, mode)
            elif key in ("if", "not"):
                out[key] = self.schema(value, LENIENT)  # Python: holds when no real error (notes ignored)
            elif key == "allOf":
                out[key] = [self.schema(sub, mode) for sub in value]
            elif key == "anyOf":
                also.append(self._any_of(value, mode))
            elif key == "oneOf":
                also.extend(self._one_of(value, mode))
            elif key == "format":
                also.extend(self._format(value))
            elif key == "pattern":
                also.append({"format": self._register(f"pattern:{value}", _python_pattern(value))})
            else:
                out[key] = value
        if also:
            out["allOf"] = [*out.get("allOf", []), *also]
        return out

    def _any_of(self, branches: list[Any], mode: str) -> dict[str, Any]:
        lenient = [self.schema(b, LENIENT) for b in branches]
        if mode == LENIENT:
            return {"anyOf": lenient}
        # Python reports the notes of the first branch without real errors: that one must be clean.
        return {"anyOf": [
            {"allOf": [*({"not": earlier} for earlier in lenient[:i]), self.schema(b, STRICT)]}
            for i, b in enumerate(branches)
        ]}

    def _one_of(self, branches: list[Any], mode: str) -> list[dict[str, Any]]:
        lenient = [self.schema(b, LENIENT) for b in branches]
        if mode == LENIENT:  # several valid branches are only a note (oneOf-ambiguous)
            return [{"anyOf": lenient}]
        return [{"oneOf": lenient}, {"anyOf": [self.schema(b, STRICT) for b in branches]}]

    def _format(self, fmt: Any) -> list[dict[str, Any]]:
        if fmt in _INTEGRAL_BOUNDS:
            lo, hi, upper = _INTEGRAL_BOUNDS[fmt]
            return [{"minimum": lo, upper: hi, "multipleOf": 1}]
        if fmt in _PYTHON_FORMATS:
            return [{"format": self._register(fmt, _python_format(fmt))}]
        return []  # float/double: finite, as the guard ensures; schema._format checks no other format

    def _register(self, key: str, check: Callable[[str], bool]) -> str:
        """A custom format name running `check` (own names: jsonschema_rs' built-ins differ)."""
        if key not in self._names:
            self._names[key] = name = f"conformance-{len(self._names)}"
            self.formats[name] = check
        return self._names[key]


class FastBundle:
    """The strict and lenient variants of every document of one `referencing.Registry`."""

    def __init__(self, registry: Registry) -> None:
        bases = frozenset(str(uri) for uri in registry)
        self.rewriter = Rewriter(bases)
        resources = [
            (self.rewriter.uri(base, mode), self.rewriter.document(registry.contents(base), mode))
            for base in sorted(bases) for mode in (STRICT, LENIENT)
        ]
        resources += [(f"{_GUARD_URI}:{depth}", _guard_level(depth)) for depth in range(MAX_DEPTH + 1)]
        self.registry = jsonschema_rs.Registry(resources, draft=jsonschema_rs.Draft202012, retriever=_no_retrieval)

    def compile(self, schema: dict[str, Any]) -> Any:
        """A jsonschema_rs validator of `schema`'s strict variant, behind the guard."""
        strict = {"allOf": [{"$ref": f"{_GUARD_URI}:0"}, self.rewriter.schema(schema, STRICT)]}
        return jsonschema_rs.Draft202012Validator(
            strict, registry=self.registry, formats=dict(self.rewriter.formats), validate_formats=True,
            retriever=_no_retrieval,
        )


def _no_retrieval(uri: str) -> Any:
    raise Unsupported(f"no retrieval of {uri}: every reference must be in the registry")


_BUNDLES: dict[int, tuple[weakref.ref, FastBundle | None]] = {}
_LOCK = threading.Lock()


def _bundle(registry: Registry) -> FastBundle | None:
    key = id(registry)
    with _LOCK:
        entry = _BUNDLES.get(key)
        if entry is not None and entry[0]() is registry:
            return entry[1]
        try:
            bundle: FastBundle | None = FastBundle(registry)
        except Exception:  # noqa: BLE001 - anything the rewrite or jsonschema_rs refuses: no pre-check
            bundle = None

        def _forget(ref: weakref.ref, key: int = key) -> None:
            found = _BUNDLES.get(key)
            if found is not None and found[0] is ref:
                _BUNDLES.pop(key, None)

        _BUNDLES[key] = (weakref.ref(registry, _forget), bundle)
        return bundle


def compile_fast(schema: dict[str, Any], registry: Registry) -> Any | None:
    """The pre-check for `schema` (refs into `registry`), or None when it cannot be exact."""
    bundle = _bundle(registry)
    if bundle is None:
        return None
    try:
        with _LOCK:  # the rewriter's format table grows while compiling
            return bundle.compile(schema)
    except Exception:  # noqa: BLE001 - e.g. an unsupported keyword in this one schema
        return None
