"""Each fault of the reference changes the behaviour it claims (a direct check per fault; the
rule-level proof that each named rule catches it comes from the suite's self-tests)."""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from conformance.reference import FAULTS, ReferenceServer, running_reference
from conformance.reference.faults import check_fault_names
from conformance.transport.sse import parse_stream

V = "2025-05-01"
AV = "2024-04-01-preview"
MSG = [{"role": "user", "content": "one two three four five"}]
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


class Probe:
    def __init__(self, server: ReferenceServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.base_url, headers={"api-key": server.api_key}, timeout=5)

    def chat(self, body: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        return self.http.post(
            "/models/chat/completions",
            params={"api-version": V},
            json={"messages": MSG, **(body or {})},
            **kw,
        )

    def emb(self, body: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.http.post("/models/embeddings", params={"api-version": V}, json=body, **kw)

    def stream(self, body: dict[str, Any] | None = None) -> tuple[httpx.Response, list[str]]:
        r = self.chat({"stream": True, **(body or {})})
        return r, [e.data for e in parse_stream(r.content).data_events()]

    def chunks(self) -> list[dict[str, Any]]:
        return self.chunks_of(None)

    def chunks_of(self, body: dict[str, Any] | None) -> list[dict[str, Any]]:
        return [json.loads(d) for d in self.stream(body)[1] if d != "[DONE]"]

    def aoai_chat(self, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(
            "/openai/deployments/reference-chat/chat/completions", params={"api-version": AV}, json=body
        )


def _aoai(p: Probe, kind: str, body: dict[str, Any], deployment: str | None = None) -> httpx.Response:
    """An Azure OpenAI request: kind "chat/completions", "completions" or "embeddings"."""
    names = {"chat/completions": "reference-chat", "completions": "reference-instruct", "embeddings": "reference-embed"}
    return p.http.post(f"/openai/deployments/{deployment or names[kind]}/{kind}", params={"api-version": AV}, json=body)


def _aoai_chunks(p: Probe, kind: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    r = _aoai(p, kind, {**body, "stream": True})
    return [json.loads(e.data) for e in parse_stream(r.content).data_events() if e.data != "[DONE]"]


_PROMPT = {"prompt": "one two three"}


def _choice(r: httpx.Response) -> dict[str, Any]:
    return r.json()["choices"][0]


def _invalid(p: Probe) -> httpx.Response:
    return p.chat({"temperature": 5})


def _unsupported(p: Probe) -> httpx.Response:
    return p.emb({"input": ["x"], "encoding_format": "int8"})


def _filtered(p: Probe) -> httpx.Response:
    return p.chat({"messages": [{"role": "user", "content": p.server.settings.content_filter_trigger}]})


def _error(p: Probe) -> httpx.Response:
    return p.chat({"messages": []})


def _stream_endless(p: Probe) -> bool:
    events = 0
    with p.http.stream(
        "POST", "/models/chat/completions", params={"api-version": V}, json={"messages": MSG, "stream": True}
    ) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                assert line != "data: [DONE]"
                events += 1
            if events > 40:
                return True
    return False


def _b64(p: Probe, body: dict[str, Any]) -> list[float]:
    emb = p.emb({"encoding_format": "base64", **body}).json()["data"][0]["embedding"]
    raw = base64.b64decode(emb)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


#: fault -> a check that is True when the fault's deviation is observed.
CHECKS: dict[str, Callable[[Probe], bool]] = {
    "chat-missing-id": lambda p: "id" not in p.chat().json(),
    "chat-finish-reason-int": lambda p: _choice(p.chat())["finish_reason"] == 1,
    "embeddings-missing-usage": lambda p: "usage" not in p.emb({"input": ["x"]}).json(),
    "info-missing-model-name": lambda p: (
        "model_name" not in p.http.get("/models/info", params={"api-version": V}).json()
    ),
    "aoai-filter-severity-invalid": lambda p: (
        p.aoai_chat({"messages": MSG}).json()["prompt_filter_results"][0]["content_filter_results"]["hate"][
            "severity"
        ]
        == 3
    ),
    "truncated-body": lambda p: _incomplete(lambda: p.http.get("/models/info", params={"api-version": V})),
    "image-embeddings-not-served": lambda p: p.http.post(
        "/models/images/embeddings", params={"api-version": V}, json={"input": [{"image": "data:image/png;base64,AA=="}]}
    ).status_code == 404,
    "body-invalid-json": lambda p: (
        lambda r: r.status_code == 200 and r.headers["content-type"] == "application/json" and _not_json(r.text)
    )(p.chat()),
    "json-content-type-text": lambda p: p.chat().headers["content-type"].startswith("text/plain"),
    "stream-content-type-json": lambda p: (
        p.stream()[0].headers["content-type"].startswith("application/json")
    ),
    "stream-no-done": lambda p: "[DONE]" not in p.stream()[1],
    "stream-data-after-done": lambda p: p.stream()[1].index("[DONE]") < len(p.stream()[1]) - 1,
    "stream-invalid-json-chunk": lambda p: any(_not_json(d) for d in p.stream()[1] if d != "[DONE]"),
    "stream-single-newline": lambda p: (lambda body: b"\n\n" not in body and body.count(b"\ndata: ") > 3)(
        p.stream()[0].content
    ),
    "stream-chunk-missing-choices": lambda p: any("choices" not in c for c in p.chunks()),
    "stream-object-chunk": lambda p: {c["object"] for c in p.chunks()} == {"chat.completion.chunk"},
    "stream-id-changes": lambda p: len({c["id"] for c in p.chunks()}) == 2,
    "stream-role-user": lambda p: p.chunks()[0]["choices"][0]["delta"]["role"] == "user",
    "stream-finish-reason-twice": lambda p: (
        sum(c["choices"][0]["finish_reason"] is not None for c in p.chunks()) == 2
    ),
    "stream-no-finish-reason": lambda p: all(c["choices"][0]["finish_reason"] is None for c in p.chunks()),
    "stream-usage-mismatch": lambda p: (
        lambda u: u["total_tokens"] != u["prompt_tokens"] + u["completion_tokens"]
    )(p.chunks()[-1]["usage"]),
    "stream-content-number": lambda p: [c["choices"][0]["delta"].get("content") for c in p.chunks()][1] == 42,
    "stream-sse-comments": lambda p: (
        b": keep-alive" in p.stream()[0].content and b"event: message" in p.stream()[0].content
    ),
    "stream-endless": _stream_endless,
    "stream-tool-name-repeated": lambda p: [
        tc["function"].get("name")
        for c in p.chunks_of({"tools": [TOOL], "tool_choice": "required"})
        for tc in c["choices"][0]["delta"].get("tool_calls") or []
    ].count(TOOL["function"]["name"]) == 2,
    "stream-finish-no-delta": lambda p: "delta" not in p.chunks()[-1]["choices"][0]
    and p.chunks()[-1]["choices"][0]["finish_reason"] == "stop",
    "stream-differs": lambda p: (
        "".join(c["choices"][0]["delta"].get("content", "") for c in p.chunks())
        != _choice(p.chat())["message"]["content"]
    ),
    "error-shape-detail": lambda p: set(_error(p).json()) == {"detail"},
    "error-shape-bare": lambda p: set(_error(p).json()) == {"message"},
    "error-code-int": lambda p: _error(p).json()["error"]["code"] == 400,
    "error-text-plain": lambda p: _error(p).headers["content-type"].startswith("text/plain"),
    "error-header-mismatch": lambda p: (lambda r: r.headers["x-ms-error-code"] != r.json()["error"]["code"])(
        _error(p)
    ),
    "invalid-request-500": lambda p: _invalid(p).status_code == 500,
    "accept-invalid": lambda p: (
        _invalid(p).status_code == 200 and p.chat({"messages": []}).status_code == 200
    ),
    "reject-valid": lambda p: (
        p.chat({"temperature": 0.9}).status_code == 400
        and p.chat({"top_p": 1}).status_code == 400
        and p.chat({"temperature": 0.1}).status_code == 200
    ),
    "not-found-plain": lambda p: (
        lambda r: r.status_code == 404 and r.headers["content-type"].startswith("text/plain")
    )(p.http.get("/models/nope")),
    "wrong-method-404": lambda p: (
        p.http.get("/models/chat/completions", params={"api-version": V}).status_code == 404
    ),
    "rate-limit-no-retry-after": lambda p: _rate_limited(p),
    "auth-none": lambda p: (
        httpx.post(
            p.server.base_url + "/models/chat/completions", params={"api-version": V}, json={"messages": MSG}
        ).status_code
        == 200
    ),
    "auth-any-key": lambda p: p.chat(headers={"api-key": "wrong"}).status_code == 200,
    "auth-403": lambda p: (
        httpx.post(
            p.server.base_url + "/models/chat/completions", params={"api-version": V}, json={"messages": MSG}
        ).status_code
        == 403
    ),
    "auth-no-bearer": lambda p: (
        httpx.post(
            p.server.base_url + "/models/chat/completions",
            params={"api-version": V},
            json={"messages": MSG},
            headers={"Authorization": f"Bearer {p.server.api_key}"},
        ).status_code
        == 401
    ),
    "echo-credential": lambda p: (
        lambda r, e: (
            r.headers.get("x-echo-key") == p.server.api_key
            and r.json()["model"] == p.server.api_key
            and p.server.api_key in e.text
        )
    )(p.chat(), _error(p)),
    "api-version-optional": lambda p: (
        p.http.post("/models/chat/completions", json={"messages": MSG}).status_code == 200
    ),
    "api-version-any": lambda p: (
        p.http.post(
            "/models/chat/completions", params={"api-version": "1999-01-01"}, json={"messages": MSG}
        ).status_code
        == 200
    ),
    "api-version-404": lambda p: (lambda r: r.status_code == 404 and r.json()["error"]["code"] == "404")(
        p.http.post("/models/chat/completions", json={"messages": MSG})
    ),
    "api-version-reject-old": lambda p: (
        p.http.post(
            "/models/chat/completions", params={"api-version": "2024-05-01-preview"}, json={"messages": MSG}
        ).status_code
        == 400
    ),
    "extra-params-ignored": lambda p: p.chat({"foo": 1}).status_code == 200,
    "extra-params-drop-fails": lambda p: (
        p.chat({"foo": 1}, headers={"extra-parameters": "drop"}).status_code == 400
    ),
    "extra-params-pass-through-silent": lambda p: (
        p.chat({"foo": 1}, headers={"extra-parameters": "pass-through"}).status_code == 200
    ),
    "extra-params-invalid-accepted": lambda p: (
        p.chat(headers={"extra-parameters": "bogus"}).status_code == 200
    ),
    "unsupported-200": lambda p: _unsupported(p).status_code == 200,
    "unsupported-400": lambda p: _unsupported(p).status_code == 400,
    "unsupported-wrong-code": lambda p: (
        lambda e: e["code"] == "invalid_input" and "target" not in e and "encoding_format" not in e["message"]
    )(_unsupported(p).json()["error"]),
    "supported-422": lambda p: p.chat({"tools": [TOOL]}).status_code == 422,
    "content-filter-500": lambda p: _filtered(p).status_code == 500,
    "content-filter-silent": lambda p: _filtered(p).status_code == 200,
    "content-filter-wrong-code": lambda p: _filtered(p).json()["error"]["code"] == "bad_request",
    "usage-sum-wrong": lambda p: (lambda u: u["total_tokens"] != u["prompt_tokens"] + u["completion_tokens"])(
        p.chat().json()["usage"]
    ),
    "max-tokens-ignored": lambda p: p.chat({"max_tokens": 2}).json()["usage"]["completion_tokens"] > 2,
    "length-not-reported": lambda p: (
        lambda r: _choice(r)["finish_reason"] == "stop" and r.json()["usage"]["completion_tokens"] == 2
    )(p.chat({"max_tokens": 2})),
    "stop-sequence-included": lambda p: "three" in _choice(p.chat({"stop": ["three"]}))["message"]["content"],
    "created-milliseconds": lambda p: p.chat().json()["created"] > 10**11,
    "choices-index-gap": lambda p: _choice(p.chat())["index"] == 1,
    "tool-choice-ignored": lambda p: (
        "tool_calls" not in _choice(p.chat({"tools": [TOOL], "tool_choice": "required"}))["message"]
    ),
    "tool-call-unknown-function": lambda p: (
        _choice(p.chat({"tools": [TOOL], "tool_choice": "required"}))["message"]["tool_calls"][0]["function"][
            "name"
        ]
        != "get_weather"
    ),
    "tool-args-invalid-json": lambda p: _not_json(
        _choice(p.chat({"tools": [TOOL], "tool_choice": "required"}))["message"]["tool_calls"][0]["function"][
            "arguments"
        ]
    ),
    "tool-choice-none-ignored": lambda p: (
        "tool_calls" in _choice(p.chat({"tools": [TOOL], "tool_choice": "none"}))["message"]
    ),
    "tool-followup-rejected": lambda p: (
        p.chat({"messages": [*MSG, {"role": "tool", "tool_call_id": "c1", "content": "ok"}]}).status_code
        == 400
    ),
    "json-mode-invalid": lambda p: _not_json(
        _choice(p.chat({"response_format": {"type": "json_object"}}))["message"]["content"]
    ),
    "json-schema-ignored": lambda p: (
        not isinstance(
            json.loads(
                _choice(
                    p.chat(
                        {
                            "response_format": {
                                "type": "json_schema",
                                "json_schema": {
                                    "name": "x",
                                    "schema": {
                                        "type": "object",
                                        "required": ["a"],
                                        "properties": {"a": {"type": "string"}},
                                    },
                                },
                            }
                        }
                    )
                )["message"]["content"]
            ),
            dict,
        )
    ),
    "n-ignored": lambda p: len(_aoai(p, "chat/completions", {"messages": MSG, "n": 2}).json()["choices"]) == 1,
    "best-of-returns-all": lambda p: len(_aoai(p, "completions", {**_PROMPT, "best_of": 3}).json()["choices"]) == 3,
    "logprobs-dropped": lambda p: (
        _choice(_aoai(p, "chat/completions", {"messages": MSG, "logprobs": True}))["logprobs"] is None
        and _choice(_aoai(p, "completions", {**_PROMPT, "logprobs": 1}))["logprobs"] is None
    ),
    "echo-ignored": lambda p: not _choice(_aoai(p, "completions", {**_PROMPT, "echo": True}))["text"].startswith(
        "one two three"),
    "parallel-tool-calls-ignored": lambda p: len(_choice(_aoai(p, "chat/completions", {
        "messages": MSG, "tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False}))["message"]["tool_calls"]) == 2,
    "stream-usage-dropped": lambda p: not any(
        "usage" in c for c in _aoai_chunks(p, "chat/completions", {"messages": MSG,
                                                                   "stream_options": {"include_usage": True}})),
    "completions-stream-text-number": lambda p: any(
        ch.get("text") == 42 for c in _aoai_chunks(p, "completions", _PROMPT) for ch in c["choices"]),
    "param-refused": lambda p: _aoai(p, "chat/completions", {"messages": MSG, "user": "u"}).status_code == 400,
    "deployment-any": lambda p: _aoai(p, "chat/completions", {"messages": MSG}, "no-such").status_code == 200,
    "deployment-kind-500": lambda p: _aoai(p, "embeddings", {"input": "x"}, "reference-chat").status_code == 500,
    "long-input-500": lambda p: p.emb({"input": ["word " * 9000]}).status_code == 500,
    "filter-annotation-malformed": lambda p: _choice(_aoai(p, "chat/completions", {"messages": MSG}))[
        "content_filter_results"].get("ungrounded_material", {}).get("detected") == "no",
    "content-filter-inner-unfiltered": lambda p: not any(
        v.get("filtered") for v in _aoai(p, "chat/completions", {"messages": [
            {"role": "user", "content": p.server.settings.content_filter_trigger}]}).json()["error"]["inner_error"][
            "content_filter_results"].values()),
    "emb-count-short": lambda p: len(p.emb({"input": ["a", "b"]}).json()["data"]) == 1,
    "emb-index-duplicate": lambda p: (
        [d["index"] for d in p.emb({"input": ["a", "b"]}).json()["data"]] == [0, 0]
    ),
    "emb-dimensions-ignored": lambda p: (
        len(p.emb({"input": ["a"], "dimensions": 64}).json()["data"][0]["embedding"]) != 64
    ),
    "emb-ragged": lambda p: (
        len({len(d["embedding"]) for d in p.emb({"input": ["a", "b"]}).json()["data"]}) == 2
    ),
    "emb-base64-float64": lambda p: (
        len(
            base64.b64decode(
                p.emb({"input": ["a"], "encoding_format": "base64", "dimensions": 64}).json()["data"][0][
                    "embedding"
                ]
            )
        )
        == 512
    ),
    "emb-base64-mismatch": lambda p: (
        _b64(p, {"input": ["a"]}) != p.emb({"input": ["a"]}).json()["data"][0]["embedding"]
    ),
    "emb-usage-wrong": lambda p: (lambda u: u["total_tokens"] < u["prompt_tokens"])(
        p.emb({"input": ["a"]}).json()["usage"]
    ),
    "emb-infinite": lambda p: (
        b"1e999" in p.emb({"input": ["a"]}).content
        and math.isinf(json.loads(p.emb({"input": ["a"]}).content)["data"][0]["embedding"][0])
    ),
}


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


def _incomplete(send: Callable[[], httpx.Response]) -> bool:
    """Whether the answer ended before the bytes its Content-Length promised."""
    try:
        send()
    except httpx.RemoteProtocolError as exc:
        return "incomplete" in str(exc).lower() or "peer closed" in str(exc).lower()
    return False


def _rate_limited(p: Probe) -> bool:
    statuses = [p.chat() for _ in range(5)]
    limited = [r for r in statuses if r.status_code == 429]
    return len(limited) == 1 and not {"retry-after", "retry-after-ms"} & set(limited[0].headers)


def test_every_fault_has_a_check_and_rules():
    assert set(CHECKS) == set(FAULTS)
    assert all(f.rules and f.description for f in FAULTS.values())
    with pytest.raises(ValueError, match="no-such-fault"):
        check_fault_names(["no-such-fault"])


@pytest.fixture(scope="module")
def baseline() -> Probe:
    with running_reference() as server:
        probe = Probe(server)
        yield probe
        probe.http.close()


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_changes_behaviour(name, baseline):
    with running_reference(faults=[name]) as server:
        probe = Probe(server)
        try:
            assert CHECKS[name](probe), f"fault {name} not observable"
        finally:
            probe.http.close()
    if name not in ("rate-limit-no-retry-after", "stream-endless"):  # the clean reference does not deviate
        assert not CHECKS[name](baseline), f"clean reference shows {name}"
