"""Small builders for rule tests: exchanges from documents, and judging them the production way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from conformance.rules._model import Finding, RuleContext
from conformance.rules.judge import applicable_rules, judge_exchange
from conformance.rules.profiles import apply_profile
from conformance.spec import load_spec
from conformance.transport.exchange import Exchange, RecordedRequest, RecordedResponse, parse_json_body
from conformance.transport.sse import parse_stream

MI_BASE = "https://example.services.ai.azure.com/models"
AOAI_BASE = "https://example.openai.azure.com/openai/deployments/gpt"


def ctx(api: str = "model-inference") -> RuleContext:
    spec = load_spec(api)
    return RuleContext(spec=spec, api=api, api_version=spec.version)


def exchange(
    op: str | None = "getChatCompletions",
    request: Any = None,
    *,
    status: int = 200,
    body: Any = None,
    raw: bytes | None = None,
    sse: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    path: str = "/chat/completions",
    api: str = "model-inference",
    credential_echo: list[str] | None = None,
) -> Exchange:
    """An exchange whose response is a JSON `body`, `raw` bytes, or an `sse` event stream."""
    base = AOAI_BASE if api == "azure-openai" else MI_BASE
    req_body = json.dumps(request).encode() if request is not None else None
    rq = RecordedRequest(
        "POST" if request is not None else "GET",
        f"{base}{path}?{urlencode({'api-version': '2025-04-01'})}",
        {"content-type": "application/json"} if req_body else {},
        req_body,
        request if request is not None else parse_json_body(b"")[0],
    )
    hdrs = dict(headers or {})
    if sse is not None:
        data = sse.encode() if isinstance(sse, str) else sse
        hdrs.setdefault("content-type", "text/event-stream")
        resp = RecordedResponse(status, hdrs, data, stream=parse_stream(data))
    else:
        data = raw if raw is not None else json.dumps(body).encode() if body is not None else b""
        hdrs.setdefault("content-type", "application/json")
        parsed, err = parse_json_body(data)
        resp = RecordedResponse(status, hdrs, data, json=parsed, json_error=err if data else None)
    return Exchange(rq, resp, operation_id=op, credential_echo=list(credential_echo or []))


def sse_of(*chunks: Any, done: bool = True) -> str:
    """A well-formed event stream of the given chunks (dicts as JSON, strings verbatim)."""
    parts = [f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n" for c in chunks]
    return "".join(parts) + ("data: [DONE]\n\n" if done else "")


def judge(ex: Exchange, *, api: str = "model-inference", profile: str | None = None) -> list[Finding]:
    c = ctx(api)
    found = judge_exchange(c, ex, raise_errors=True)
    return apply_profile(found, profile, api) if profile else found


def of(findings: list[Finding], rule_id: str) -> list[Finding]:
    return [f for f in findings if f.rule_id == rule_id]


def applied(ex: Exchange, api: str = "model-inference") -> list[str]:
    return applicable_rules(ctx(api), ex)


def load_example(rel: str) -> dict[str, Any]:
    root = Path(__file__).resolve().parents[2] / "specs"
    return json.loads((root / rel).read_text(encoding="utf-8"))
