"""Success responses: JSON bodies and the per-API decorations shared by every operation."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from starlette.responses import Response

from conformance.reference.context import RequestContext


def json_ok(ctx: RequestContext, body: Any, *, raw_replace: tuple[str, str] | None = None) -> Response:
    """A 200 JSON answer. `raw_replace` edits the serialised text (faults that no JSON value can
    express, like a number literal `1e999`)."""
    text = json.dumps(body, ensure_ascii=False)
    if raw_replace is not None:
        text = text.replace(raw_replace[0], raw_replace[1], 1)
    media = "text/plain" if ctx.faulted("json-content-type-text") else "application/json"
    return Response(text, status_code=200, media_type=media)


def now(ctx: RequestContext) -> int:
    """`created`: Unix seconds (the `created-milliseconds` fault multiplies by 1000)."""
    seconds = int(time.time())
    return seconds * 1000 if ctx.faulted("created-milliseconds") else seconds


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


_SAFE = {"filtered": False, "severity": "safe"}


def filter_results(ctx: RequestContext, *, prompt: bool, hit: bool = False) -> dict[str, Any]:
    """Azure OpenAI content filter annotations (`contentFilterPromptResults` / `...ChoiceResults`)."""
    # severity is an open enum (x-ms-enum modelAsString): any string is valid, so the fault is a number.
    severity: Any = 3 if ctx.faulted("aoai-filter-severity-invalid") else "safe"
    out: dict[str, Any] = {
        "hate": {"filtered": hit, "severity": "high" if hit else severity},
        "self_harm": dict(_SAFE),
        "sexual": dict(_SAFE),
        "violence": dict(_SAFE),
    }
    if prompt:
        out["jailbreak"] = {"filtered": False, "detected": False}
        out["custom_blocklists"] = {"filtered": False, "details": []}
    else:
        out["protected_material_text"] = {"filtered": False, "detected": False}
        out["protected_material_code"] = {"filtered": False, "detected": False}
        if ctx.faulted("filter-annotation-malformed"):
            out["ungrounded_material"] = {"filtered": False, "detected": "no"}
    if hit and ctx.faulted("content-filter-inner-unfiltered"):
        out["hate"] = {"filtered": False, "severity": "safe"}
    return out


def prompt_filter_results(ctx: RequestContext, count: int = 1) -> list[dict[str, Any]]:
    return [{"prompt_index": i, "content_filter_results": filter_results(ctx, prompt=True)} for i in range(count)]
