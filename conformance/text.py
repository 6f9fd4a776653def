"""Bounded one-line renderings of values for messages: the one shortener of the project."""

from __future__ import annotations

import json
from typing import Any


def shorten(value: Any, limit: int = 120) -> str:
    """A one-line, bounded rendering of a JSON value for messages."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    text = text.replace("\n", "\\n")
    return clip(text, limit)


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`1 violation`, `3 violations`: a count with its noun agreeing."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
