"""A representative, hand-built RunResults: every outcome, a hostile exchange, stale waivers.

Used by the report's self-tests and to preview the report layout without running a suite
(`python -m tests.report.sample OUT_DIR`). The hostile exchange carries what a malicious
target could send: markup, terminal escapes, bidi overrides and an echoed credential.
"""

from __future__ import annotations

import sys
from pathlib import Path

from conformance.results import RuleResult, RunResults, Summary, Target

#: What a hostile target puts in its answers; the report must show it as inert text.
SCRIPT = "<script>alert(1)</script>"
ESC_RED = "\x1b[31m"
FAKE_SECRET = "sk-conformance-FAKE-7f3a9c2e5b1d4086"


def _exchange(
    method: str, url: str, status: int | None, body: str, *, ctype="application/json", extra_headers=None
):
    headers = {"content-type": ctype, "x-request-id": "7d2c0c36-1f1e-4a3b-9f0b-0c1d2e3f4a5b"}
    headers.update(extra_headers or {})
    request_body = '{"messages":[{"role":"user","content":"Say hello."}],"max_tokens":16}'
    ex = {
        "operation": "getChatCompletions",
        "purpose": "positive: minimal chat request",
        "request": {
            "method": method,
            "url": url,
            "headers": {"content-type": "application/json", "api-key": "[redacted]"},
            "body": request_body,
        },
        "error": None if status else "timeout: no response within 30 s",
        "retries": 0,
        "curl": (
            f"curl -sS -X {method} '{url}' -H 'content-type: application/json' "
            f"-H \"api-key: $CONFORMANCE_API_KEY\" --data-raw '{request_body}'"
        ),
    }
    if status:
        ex["response"] = {
            "status": status,
            "headers": headers,
            "body": body,
            "truncated": False,
            "elapsed": 0.412,
        }
    return ex


def sample_results(*, failing: bool = True, secret: str = FAKE_SECRET) -> RunResults:
    """A run of the chat and embeddings operations; `failing=False` drops the violations."""
    base = "https://contoso-ai.services.ai.azure.com/models"
    hostile = (
        '{"id":"cmpl-1","object":"chat.completion","created":1718000000,"model":"phi-4",'
        f'"choices":[{{"index":0,"finish_reason":"exploded","message":{{"role":"assistant",'
        f'"content":"{SCRIPT} your key is {secret}"}}}}],'
        '"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}'
    )
    stream = (
        'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n'
        f'data: {{"id":"c1","choices":[{{"index":0,"delta":{{"content":"{ESC_RED}red\u202eevil"}}}}]}}\n\n'
    )
    exchanges = {
        "x1": _exchange(
            "POST",
            f"{base}/chat/completions?api-version=2025-05-01",
            200,
            hostile,
            extra_headers={"x-echo": f"{secret} <img src=x onerror=alert(2)> {ESC_RED}"},
        ),
        "x2": _exchange(
            "POST", f"{base}/chat/completions?api-version=2025-05-01", 200, stream, ctype="text/event-stream"
        ),
        "x3": _exchange(
            "POST",
            f"{base}/embeddings?api-version=2025-05-01",
            400,
            '{"detail":"Extra parameters [\'foo\'] are not allowed"}',
        ),
    }
    # A generated request showing the same fault as x1, with a noisier body: never the example shown.
    exchanges["x4"] = _exchange(
        "POST", f"{base}/chat/completions?api-version=2025-05-01", 200, hostile.replace("exploded", "imploded")
    )
    exchanges["x4"]["purpose"] = "positive (generated)"
    exchanges["x4"]["request"]["body"] = (
        '{"messages":[{"role":"user","content":"\\ud83d\\ude00 fuzz"}],"temperature":3.57e-154,"max_tokens":16}'
    )
    exchanges["x2"]["stream"] = {
        "events": 2,
        "cut_reason": None,
        "closed_normally": True,
        "framing_issues": [],
    }

    def finding(rule: str, op: str, level: str, message: str, ex: str | None, **kw) -> dict:
        out = {
            "rule": rule,
            "level": level,
            "message": message,
            "path": "",
            "value": None,
            "pointer": None,
            "keyword": None,
            "variant": None,
            "erratum": None,
            "waived": None,
            "operation": op,
            "exchange": ex,
        }
        out.update(kw)
        return out

    chat, emb = "getChatCompletions", "getEmbeddings"
    results = [
        RuleResult("BODY-JSON", chat, "pass", "schema", "violation", tests=["suite/test_chat.py::test_min"]),
        RuleResult("CHAT-USAGE-SUM", chat, "pass", "semantics", "violation"),
        RuleResult("STREAM-FIRST-ROLE", chat, "pass", "streaming", "violation"),
        RuleResult("AUTH-WRONG", chat, "pass", "auth", "violation"),
        RuleResult("AUTH-WRONG", emb, "pass", "auth", "violation"),
        RuleResult(
            "SCHEMA-RESPONSE",
            emb,
            "pass",
            "schema",
            "violation",
            findings=[
                finding(
                    "SCHEMA-RESPONSE",
                    emb,
                    "note",
                    "unlisted value of an open enum",
                    "x3",
                    path="$.data[0].object",
                    value='"embedding"',
                )
            ],
        ),
        RuleResult(
            "ERROR-SHAPE",
            emb,
            "warning",
            "errors",
            "violation",
            findings=[
                finding(
                    "ERROR-SHAPE",
                    emb,
                    "warning",
                    'error body is FastAPI\'s {"detail"} shape',
                    "x3",
                    path="$",
                    value='{"detail": "Extra parameters …"}',
                    variant="fastapi-detail",
                    erratum="E-ERROR-DETAIL: serverless models "
                    'answer {"detail": ...} (langchain-ai/langchain#29679)',
                )
            ],
        ),
        RuleResult(
            "EXTRA-PARAMS-ERROR",
            emb,
            "waived",
            "extra-parameters",
            "violation",
            reason="known on serverless until 2025-09 (ticket 4711)",
            findings=[
                finding(
                    "EXTRA-PARAMS-ERROR",
                    emb,
                    "violation",
                    "400 instead of 422",
                    "x3",
                    path="status",
                    value="400",
                    waived="known on serverless until 2025-09 (ticket 4711)",
                )
            ],
        ),
        RuleResult(
            "UNSUPPORTED-422",
            emb,
            "not_applicable",
            "unsupported-parameters",
            "violation",
            reason="target claims no unsupported parameter",
        ),
        RuleResult(
            "CHAT-JSON-SCHEMA",
            chat,
            "not_applicable",
            "semantics",
            "violation",
            reason="the target claims json_schema unsupported",
        ),
    ]
    if failing:
        results += [
            RuleResult(
                "SCHEMA-RESPONSE",
                chat,
                "violation",
                "schema",
                "violation",
                tests=["suite/test_chat.py::test_min"],
                findings=[
                    finding(
                        "SCHEMA-RESPONSE",
                        chat,
                        "violation",
                        f"'imploded' is not one of the finish reasons {ESC_RED}",
                        "x4",
                        path="$.choices[0].finish_reason",
                        value='"imploded"',
                        pointer="2025-05-01#/components/schemas/CompletionsFinishReason",
                        keyword="enum",
                    ),
                    finding(
                        "SCHEMA-RESPONSE",
                        chat,
                        "violation",
                        f"'exploded' is not one of the finish reasons {ESC_RED}",
                        "x1",
                        path="$.choices[0].finish_reason",
                        value='"exploded"',
                        pointer="2025-05-01#/components/schemas/CompletionsFinishReason",
                        keyword="enum",
                    )
                ],
            ),
            RuleResult(
                "STREAM-DONE",
                chat,
                "violation",
                "streaming",
                "violation",
                findings=[
                    finding(
                        "STREAM-DONE",
                        chat,
                        "violation",
                        "the stream ended without `data: [DONE]`",
                        "x2",
                        path="stream:event[2]",
                    )
                ],
            ),
            RuleResult(
                "X-RETIRED-RULE",
                chat,
                "violation",
                "",
                "violation",
                findings=[
                    finding("X-RETIRED-RULE", chat, "violation", f"{SCRIPT} from a foreign file", "x404")
                ],
            ),
        ]
    summary = Summary(
        verdict="not conformant" if failing else "conformant",
        counts={},
        target=Target(
            "contoso-ai.services.ai.azure.com",
            "model-inference",
            "2025-05-01",
            "azure",
            "standard",
            endpoint_path="/models",
            models={"chat": "phi-4", "embeddings": "cohere-embed-v3"},
        ),
        spec_file="specs/model-inference/2025-05-01/openapi.yaml",
        spec_sha256="3f1c9a7e0b6d4c2a8e5f7b9d1c3a5e7f9b1d3c5a7e9f1b3d5c7a9e1f3b5d7c9a",
        suite_version="0.1.0",
        started="2025-06-02T03:00:12Z",
        duration_s=83.4,
        requests=57,
        retries=2,
        tokens={"prompt": 1830, "completion": 412, "total": 2242},
        seed=20250602,
        budget={"max_requests": 200, "max_tokens": 50000, "used": 57},
        stale_waivers=[
            {
                "kind": "expired",
                "rule": "STREAM-DONE",
                "operation": "*",
                "reason": "fixed in May release",
                "expires": "2025-05-31",
                "matches": 1,
            }
        ],
    )
    capabilities = {
        "claimed": {"streaming": True, "tools": True, "json_schema": False},
        "discovered": {"streaming": True, "tools": False, "image_embeddings": False},
        "contradictions": ["tools: claimed true, but tool_choice=required returned no tool call"],
    }
    from conformance.results.pipeline import summarise

    return summarise(
        RunResults(summary=summary, results=results, capabilities=capabilities, exchanges=exchanges)
    )


if __name__ == "__main__":  # preview: python -m tests.report.sample reports/
    from conformance.report import write_reports

    print(write_reports(sample_results(), Path(sys.argv[1] if len(sys.argv) > 1 else "reports")))
