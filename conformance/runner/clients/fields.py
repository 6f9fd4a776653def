"""Read every field an official client exposes on a result, the way a user's code would read it.

Each SDK declares its result fields differently (azure-ai-inference: `_attr_to_rest_field` on its
models; openai: pydantic `model_fields`); both map a field to its wire name, so every reading comes
with the JSON path the rules compare it to. Values are normalised to JSON-like data (a datetime to
its Unix time, an enum to its value); what the client could not convert is kept as it is and flagged.
"""

from __future__ import annotations

import datetime
import enum
import typing
from collections.abc import Iterator
from typing import Any

from conformance.rules.interop import FieldReading

#: Bound on readings per result (a list of 2,048 embeddings needs no 2,048 x N readings).
MAX_READINGS = 400


def read_fields(obj: Any, name: str, path: str = "$") -> list[FieldReading]:
    """Readings of every declared field of `obj` (a client result), depth first, bounded."""
    out: list[FieldReading] = []
    for r in _walk(obj, name, path):
        out.append(r)
        if len(out) >= MAX_READINGS:
            break
    return out


def _declared(obj: Any) -> list[tuple[str, str, bool, Any]] | None:
    """(attribute, wire name, required, annotation) of a client model instance, or None if not a model."""
    cls = type(obj)
    rest = getattr(obj, "_attr_to_rest_field", None)
    if isinstance(rest, dict):  # azure-ai-inference (_model_base.Model)
        ann: dict[str, Any] = {}
        for k in reversed(cls.__mro__):
            ann.update(getattr(k, "__annotations__", {}))
        return [(a, rf._rest_name, not _optional(ann.get(a)), ann.get(a)) for a, rf in rest.items()]
    fields = getattr(cls, "model_fields", None)
    if isinstance(fields, dict) and hasattr(obj, "model_dump"):  # openai (pydantic)
        return [(a, f.alias or a, f.is_required(), f.annotation) for a, f in fields.items()]
    return None


def _optional(annotation: Any) -> bool:
    if annotation is None:
        return True
    if isinstance(annotation, str):
        return annotation.startswith("Optional") or "None" in annotation
    return type(None) in typing.get_args(annotation)


def _walk(obj: Any, attr: str, path: str) -> Iterator[FieldReading]:
    for name, wire, required, annotation in _declared(obj) or ():
        where, wpath = f"{attr}.{name}", f"{path}.{wire}"
        try:
            value = getattr(obj, name)
        except Exception as exc:  # reading a field is where lazy clients convert, and may raise
            yield FieldReading(where, wpath, error=f"{type(exc).__name__}: {exc}", required=required)
            continue
        yield from _value(value, where, wpath, required, annotation)


def _value(value: Any, attr: str, path: str, required: bool, annotation: Any) -> Iterator[FieldReading]:
    if _declared(value) is not None:
        yield FieldReading(attr, path, kind="object", required=required)
        yield from _walk(value, attr, path)
        return
    if isinstance(value, list) and any(_declared(v) is not None for v in value):
        yield FieldReading(attr, path, kind="object", required=required)
        for i, v in enumerate(value):
            yield from _value(v, f"{attr}[{i}]", f"{path}[{i}]", True, None)
        return
    wants_datetime = annotation is datetime.datetime
    converted = not wants_datetime or value is None or isinstance(value, datetime.datetime)
    yield FieldReading(attr, path, value=normalise(value), required=required,
                       declared="datetime" if wants_datetime else None, converted=converted)


def normalise(value: Any) -> Any:
    """A client value as JSON-like data: datetime -> Unix seconds, enum -> value, containers recursively."""
    if isinstance(value, datetime.datetime):
        return int(value.timestamp())
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in value.items()}
    dump = getattr(value, "model_dump", None) or getattr(value, "as_dict", None)
    if callable(dump):
        return normalise(dump())
    return value
