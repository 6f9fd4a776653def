"""OpenAPI formats and the open-enum marker, shared by the detailed validator and its fast path.

jsonschema's format checker knows none of int32, int64, unixtime; these checks are strict where cheap.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from jsonschema import ValidationError

from conformance.text import shorten

#: Keyword the converter writes for an open enum (any string valid; an unlisted value is a note).
OPEN_ENUM = "x-open-enum"

_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
#: Upper bound for `unixtime` seconds: year 5138. Larger values are almost surely milliseconds.
_UNIXTIME_MAX = 10**11
_URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S*$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _short(value: Any, limit: int = 120) -> str:
    """`shorten`, safe on hostile values (nesting deep enough to exhaust the JSON encoder)."""
    try:
        return shorten(value, limit)
    except RecursionError:
        return f"<{type(value).__name__} nested too deeply to render>"


def _format(validator: Any, fmt: str, instance: Any, schema: dict) -> Iterator[ValidationError]:
    """OpenAPI formats, checked strictly where cheap (jsonschema's checker knows none of int32...)."""
    is_num = isinstance(instance, int | float) and not isinstance(instance, bool)
    if fmt in _INT_RANGES and is_num:
        lo, hi = _INT_RANGES[fmt]
        if isinstance(instance, float) and (not math.isfinite(instance) or not instance.is_integer()):
            yield ValidationError(f"{_short(instance)} is not an integral {fmt}")
        elif not lo <= instance <= hi:
            yield ValidationError(f"{_short(instance)} is outside the {fmt} range [{lo}, {hi}]")
    elif fmt in ("float", "double") and isinstance(instance, float) and not math.isfinite(instance):
        yield ValidationError(f"{instance!r} is not a finite {fmt} (JSON has no NaN or Infinity)")
    elif fmt == "unixtime" and is_num:
        if isinstance(instance, float) and not instance.is_integer():
            yield ValidationError(f"{_short(instance)} is not whole seconds (unixtime)")
        elif not 0 <= instance < _UNIXTIME_MAX:
            hint = " (milliseconds instead of seconds?)" if instance >= _UNIXTIME_MAX else ""
            yield ValidationError(f"{_short(instance)} is not a plausible unixtime in seconds{hint}")
    elif fmt == "uri" and isinstance(instance, str) and not _URI_RE.match(instance):
        yield ValidationError(f"{_short(instance)} is not an absolute URI")
    elif fmt == "date-time" and isinstance(instance, str):
        ok = bool(_DATETIME_RE.match(instance))
        if ok:
            try:
                datetime.fromisoformat(instance.replace("z", "Z").replace("t", "T"))
            except ValueError:
                ok = False
        if not ok:
            yield ValidationError(f"{_short(instance)} is not an RFC 3339 date-time")
