"""The reference deployment is conformant (strict): every answer of every route and parameter
family validates against the vendored spec of its api-version, errors are ErrorResponse bodies."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from conformance.reference import ReferenceServer, running_reference
from conformance.spec import load_spec
from conformance.transport.sse import parse_stream

MI, AOAI = "model-inference", "azure-openai"
MI_VERSIONS = ["2024-05-01-preview", "2025-04-01", "2025-05-01"]
AOAI_VERSION = "2024-04-01-preview"
#: Both vendored Azure OpenAI versions are served; the answers must meet each one's schemas.
AOAI_VERSIONS = ["2024-04-01-preview", "2024-10-21"]
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\nfake-image-bytes").decode()
ERROR_POINTER = {
    MI: "#/components/schemas/Azure.Core.Foundations.ErrorResponse",
    AOAI: "#/components/schemas/errorResponse",
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
            "required": ["city", "days"],
        },
    },
}


@pytest.fixture(scope="module")
def ref() -> Iterator[ReferenceServer]:
    with running_reference() as server:
        yield server


@pytest.fixture(scope="module")
def client(ref: ReferenceServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ref.base_url, headers={"api-key": ref.api_key}, timeout=10) as c:
        yield c


def errors_only(issues: list[Any]) -> list[str]:
    return [f"{i.path}: {i.message}" for i in issues if i.level == "error" and not _base64_embedding(i)]


def _base64_embedding(issue: Any) -> bool:
    """The one known spec contradiction: `EmbeddingItem.embedding` is typed as an array of numbers
    while its description (and `encoding_format: base64`) says it may be "a base64 encoded string"."""
    return (
        issue.keyword == "type"
        and issue.path.startswith("$.data[")
        and issue.path.endswith("].embedding")
        and issue.value.startswith('"')
    )


def check(api: str, version: str, op: str, r: httpx.Response) -> Any:
    """Assert the answer is spec-valid; return the JSON body or the list of chunks."""
    spec = load_spec(api, version)
    ctype = r.headers.get("content-type", "")
    if ctype.startswith("text/event-stream"):
        assert r.status_code == 200
        transcript = parse_stream(r.content)
        data = [e.data for e in transcript.data_events()]
        assert data[-1] == "[DONE]", data[-3:]
        assert r.content.endswith(b"data: [DONE]\n\n")
        chunks = [json.loads(d) for d in data[:-1]]
        for chunk in chunks:
            assert errors_only(spec.validate_stream_chunk(op, chunk)) == [], chunk
        return chunks
    assert ctype.startswith("application/json"), ctype
    body = r.json()
    if r.status_code >= 400:
        assert errors_only(spec.validate(ERROR_POINTER[api], body)) == [], body
        assert isinstance(body["error"]["code"], str) and body["error"]["message"]
        assert r.headers["x-ms-error-code"] == body["error"]["code"]
    else:
        assert r.status_code == 200
    assert errors_only(spec.validate_response(op, r.status_code, body)) == [], body
    return body


def mi_post(client: httpx.Client, path: str, version: str, body: Any, **kw: Any) -> httpx.Response:
    return client.post(f"/models{path}", params={"api-version": version}, json=body, **kw)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "You are terse."}, {"role": "user", "content": text}]


def content_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))


# -- model inference, every api-version ---------------------------------------------------------


@pytest.mark.parametrize("version", MI_VERSIONS)
class TestModelInference:
    def test_chat_json_and_stream_agree(self, client, version):
        body = {"messages": user("tell me about the moon and the stars"), "temperature": 0, "seed": 7}
        plain = check(MI, version, "getChatCompletions", mi_post(client, "/chat/completions", version, body))
        choice = plain["choices"][0]
        assert choice["finish_reason"] == "stop" and "moon" in choice["message"]["content"]
        usage = plain["usage"]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert usage["completion_tokens"] == len(choice["message"]["content"].split())
        r = mi_post(client, "/chat/completions", version, {**body, "stream": True})
        chunks = check(MI, version, "getChatCompletions", r)
        assert len(chunks) > 3 and len({c["id"] for c in chunks}) == 1
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        assert [c["choices"][0]["finish_reason"] for c in chunks].count("stop") == 1
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        assert all(c["object"] == "chat.completion" for c in chunks)
        assert content_of(chunks) == choice["message"]["content"]
        final = chunks[-1]["usage"]
        assert (
            final["total_tokens"]
            == final["prompt_tokens"] + final["completion_tokens"]
            == usage["total_tokens"]
        )

    def test_max_tokens_cut_and_stop(self, client, version):
        r = mi_post(
            client, "/chat/completions", version, {"messages": user("one two three four"), "max_tokens": 3}
        )
        body = check(MI, version, "getChatCompletions", r)
        assert body["choices"][0]["finish_reason"] == "length"
        assert body["usage"]["completion_tokens"] <= 3
        # An answer exactly as long as max_tokens was cut by it too (its end would need one more token).
        plain = check(MI, version, "getChatCompletions",
                      mi_post(client, "/chat/completions", version, {"messages": user("one two three four")}))
        exact = plain["usage"]["completion_tokens"]
        r = mi_post(client, "/chat/completions", version, {"messages": user("one two three four"), "max_tokens": exact})
        body = check(MI, version, "getChatCompletions", r)
        assert body["choices"][0]["finish_reason"] == "length" and body["usage"]["completion_tokens"] == exact
        r = mi_post(client, "/chat/completions", version,
                    {"messages": user("one two three four"), "max_tokens": exact + 1})
        assert check(MI, version, "getChatCompletions", r)["choices"][0]["finish_reason"] == "stop"
        r = mi_post(
            client,
            "/chat/completions",
            version,
            {"messages": user("alpha beta STOPHERE gamma"), "stop": ["STOPHERE"]},
        )
        body = check(MI, version, "getChatCompletions", r)
        assert "STOPHERE" not in body["choices"][0]["message"]["content"]
        assert body["choices"][0]["finish_reason"] == "stop"
        assert body["choices"][0]["message"]["content"].endswith("beta")

    @pytest.mark.parametrize("choice", ["auto", "required", "named", "none"])
    def test_tools(self, client, version, choice):
        tool_choice = (
            {"type": "function", "function": {"name": "get_weather"}} if choice == "named" else choice
        )
        text = "what is the weather?" if choice != "auto" else "call get_weather for Paris"
        r = mi_post(
            client,
            "/chat/completions",
            version,
            {"messages": user(text), "tools": [WEATHER_TOOL], "tool_choice": tool_choice},
        )
        body = check(MI, version, "getChatCompletions", r)
        choice0 = body["choices"][0]
        if choice == "none":
            assert choice0["finish_reason"] == "stop" and "tool_calls" not in choice0["message"]
            return
        assert choice0["finish_reason"] == "tool_calls"
        call = choice0["message"]["tool_calls"][0]
        assert call["type"] == "function" and call["function"]["name"] == "get_weather"
        args = json.loads(call["function"]["arguments"])
        jsonschema.validate(args, WEATHER_TOOL["function"]["parameters"])
        # the follow-up turn is accepted and answered with text
        follow = [
            *user(text),
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "sunny and 21 degrees"},
        ]
        r = mi_post(client, "/chat/completions", version, {"messages": follow, "tools": [WEATHER_TOOL]})
        body = check(MI, version, "getChatCompletions", r)
        assert (
            body["choices"][0]["finish_reason"] == "stop"
            and "sunny" in body["choices"][0]["message"]["content"]
        )
        streamed = check(
            MI,
            version,
            "getChatCompletions",
            mi_post(
                client,
                "/chat/completions",
                version,
                {"messages": user(text), "tools": [WEATHER_TOOL], "tool_choice": tool_choice, "stream": True},
            ),
        )
        assert [c["choices"][0]["finish_reason"] for c in streamed][-1] == "tool_calls"

    def test_json_object_and_json_schema(self, client, version):
        r = mi_post(
            client,
            "/chat/completions",
            version,
            {"messages": user("give json"), "response_format": {"type": "json_object"}, "max_tokens": 2},
        )
        body = check(MI, version, "getChatCompletions", r)
        assert isinstance(json.loads(body["choices"][0]["message"]["content"]), dict)
        schema = {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 2},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "n": {"type": "number", "minimum": 3},
            },
            "required": ["name", "tags", "n"],
            "additionalProperties": False,
        }
        fmt = {"type": "json_schema", "json_schema": {"name": "thing", "schema": schema, "strict": True}}
        body = check(
            MI,
            version,
            "getChatCompletions",
            mi_post(client, "/chat/completions", version, {"messages": user("x"), "response_format": fmt}),
        )
        jsonschema.validate(json.loads(body["choices"][0]["message"]["content"]), schema)

    def test_multimodal_image_url(self, client, version):
        content = [
            {"type": "text", "text": "describe this picture"},
            {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
        ]
        r = mi_post(
            client, "/chat/completions", version, {"messages": [{"role": "user", "content": content}]}
        )
        body = check(MI, version, "getChatCompletions", r)
        assert "picture" in body["choices"][0]["message"]["content"]

    @pytest.mark.parametrize("fmt", ["float", "base64"])
    def test_embeddings(self, client, version, fmt):
        body = {
            "input": ["first text", "second one here"],
            "dimensions": 64,
            "encoding_format": fmt,
            "input_type": "query",
        }
        out = check(MI, version, "getEmbeddings", mi_post(client, "/embeddings", version, body))
        assert [d["index"] for d in out["data"]] == [0, 1]
        assert out["usage"]["prompt_tokens"] == out["usage"]["total_tokens"] == 5
        floats = check(
            MI,
            version,
            "getEmbeddings",
            mi_post(client, "/embeddings", version, {**body, "encoding_format": "float"}),
        )
        for item, ref_item in zip(out["data"], floats["data"], strict=True):
            vec = item["embedding"]
            if fmt == "base64":
                vec = list(struct.unpack("<64f", base64.b64decode(vec)))
            assert vec == ref_item["embedding"] and len(vec) == 64
            assert abs(sum(v * v for v in vec) - 1) < 1e-4

    def test_default_dimensions_and_stability(self, client, version):
        a = check(MI, version, "getEmbeddings", mi_post(client, "/embeddings", version, {"input": ["same"]}))
        b = check(MI, version, "getEmbeddings", mi_post(client, "/embeddings", version, {"input": ["same"]}))
        assert (
            len(a["data"][0]["embedding"]) == 256 and a["data"][0]["embedding"] == b["data"][0]["embedding"]
        )

    @pytest.mark.parametrize("with_text", [False, True])
    def test_image_embeddings(self, client, version, with_text):
        item = {"image": PNG, **({"text": "a red square"} if with_text else {})}
        out = check(
            MI,
            version,
            "getImageEmbeddings",
            mi_post(client, "/images/embeddings", version, {"input": [item, item], "dimensions": 64}),
        )
        assert len(out["data"]) == 2 and len(out["data"][1]["embedding"]) == 64
        bad = mi_post(client, "/images/embeddings", version, {"input": [{"image": "not a data url"}]})
        assert bad.status_code == 400
        check(MI, version, "getImageEmbeddings", bad)

    def test_info(self, client, version):
        r = client.get("/models/info", params={"api-version": version})
        assert check(MI, version, "getModelInfo", r)["model_type"] == "chat-completion"
        r = client.get("/models/info", params={"api-version": version, "model": "reference-embed"})
        body = check(MI, version, "getModelInfo", r)
        assert body["model_type"] == ("chat-completion" if version.startswith("2024") else "embeddings")

    def test_auth(self, ref, version):
        url = f"{ref.base_url}/models/chat/completions"
        body = {"messages": user("hi")}
        for headers in ({}, {"api-key": "wrong"}, {"Authorization": "Bearer wrong"}):
            r = httpx.post(url, params={"api-version": version}, json=body, headers=headers)
            assert r.status_code == 401 and "wrong" not in r.text
            check(MI, version, "getChatCompletions", r)
        r = httpx.post(
            url,
            params={"api-version": version},
            json=body,
            headers={"Authorization": f"Bearer {ref.api_key}"},
        )
        assert r.status_code == 200 and ref.api_key not in r.text

    def test_extra_parameters(self, client, version):
        body = {"messages": user("hi"), "safe_prompt": True, "frobnicate": 1}
        r = mi_post(client, "/chat/completions", version, body)
        assert (
            r.status_code == 400
            and check(MI, version, "getChatCompletions", r)["error"]["target"] == "safe_prompt"
        )
        assert "frobnicate" in r.json()["error"]["message"]
        r = mi_post(client, "/chat/completions", version, body, headers={"extra-parameters": "drop"})
        assert r.status_code == 200
        check(MI, version, "getChatCompletions", r)
        r = mi_post(
            client,
            "/chat/completions",
            version,
            {"messages": user("hi"), "safe_prompt": True},
            headers={"extra-parameters": "pass-through"},
        )
        assert r.status_code == 200
        r = mi_post(client, "/chat/completions", version, body, headers={"extra-parameters": "pass-through"})
        assert (
            r.status_code == 422
            and check(MI, version, "getChatCompletions", r)["error"]["target"] == "frobnicate"
        )
        r = mi_post(client, "/chat/completions", version, body, headers={"extra-parameters": "ignore"})
        assert (
            r.status_code == 400
            and check(MI, version, "getChatCompletions", r)["error"]["code"] == "invalid_header_value"
        )
        # user_security_context is defined only in 2025-05-01
        usc = {"messages": user("hi"), "user_security_context": {"application_name": "app"}}
        r = mi_post(client, "/chat/completions", version, usc)
        assert r.status_code == (200 if version == "2025-05-01" else 400)

    @pytest.mark.parametrize(
        "op,path,body,param",
        [
            (
                "getChatCompletions",
                "/chat/completions",
                {"messages": [{"role": "user", "content": "hi"}], "modalities": ["text", "audio"]},
                "modalities",
            ),
            (
                "getChatCompletions",
                "/chat/completions",
                {
                    "messages": [
                        {
                            "role": "user",
                            "content": [
                                {
                                    "type": "input_audio",
                                    "format": "wav",
                                    "input_audio": {"data": "AAAA", "format": "wav"},
                                }
                            ],
                        }
                    ]
                },
                "messages",
            ),
            ("getEmbeddings", "/embeddings", {"input": ["x"], "encoding_format": "int8"}, "encoding_format"),
            (
                "getImageEmbeddings",
                "/images/embeddings",
                {"input": [{"image": PNG}], "encoding_format": "ubinary"},
                "encoding_format",
            ),
        ],
    )
    def test_unsupported_422(self, client, version, op, path, body, param):
        r = mi_post(client, path, version, body)
        assert r.status_code == 422
        err = check(MI, version, op, r)["error"]
        assert err["code"] == "parameter_not_supported" and err["target"] == param and param in err["message"]

    def test_content_filter(self, ref, client, version):
        trigger = ref.settings.content_filter_trigger
        for stream in (False, True):
            r = mi_post(
                client, "/chat/completions", version, {"messages": user(f"say {trigger}"), "stream": stream}
            )
            assert r.status_code == 400 and r.headers["content-type"].startswith("application/json")
            err = check(MI, version, "getChatCompletions", r)["error"]
            assert (
                err["code"] == "content_filter"
                and err["innererror"]["code"] == "ResponsibleAIPolicyViolation"
            )

    def test_request_errors(self, ref, client, version):
        url = "/models/chat/completions"
        cases = [
            (client.post(url, json={"messages": user("hi")}), 400, "MissingApiVersionParameter"),
            (
                client.post(url, params={"api-version": "2099-01-01"}, json={"messages": user("hi")}),
                400,
                "UnsupportedApiVersion",
            ),
            (
                client.post(
                    url,
                    params={"api-version": version},
                    content=b"{not json",
                    headers={"content-type": "application/json"},
                ),
                400,
                "invalid_json",
            ),
            (
                client.post(
                    url,
                    params={"api-version": version},
                    content=b"hi",
                    headers={"content-type": "text/plain"},
                ),
                415,
                "UnsupportedMediaType",
            ),
            (
                mi_post(client, "/chat/completions", version, {"messages": [], "temperature": 9}),
                400,
                "invalid_request",
            ),
            (
                mi_post(client, "/chat/completions", version, {"messages": [{"role": "user"}]}),
                400,
                "invalid_request",
            ),
            (client.get(url, params={"api-version": version}), 405, "MethodNotAllowed"),
            (client.post("/models/nope", params={"api-version": version}, json={}), 404, "NotFound"),
        ]
        for r, status, code in cases:
            assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
            check(MI, version, "getChatCompletions", r)
        assert "2025-05-01" in cases[1][0].json()["error"]["message"]
        assert cases[6][0].headers["allow"] == "POST"


# -- Azure OpenAI ---------------------------------------------------------------------------------


def aoai_post_v(version: str, client: httpx.Client, deployment: str, op: str, body: Any, **kw: Any) -> httpx.Response:
    return aoai_post(client, deployment, op, body, version, **kw)


def aoai_post(
    client: httpx.Client, deployment: str, op: str, body: Any, version: str = AOAI_VERSION, **kw: Any
) -> httpx.Response:
    return client.post(
        f"/openai/deployments/{deployment}/{op}", params={"api-version": version}, json=body, **kw
    )


@pytest.mark.parametrize("version", AOAI_VERSIONS)
class TestAzureOpenAI:
    def test_chat_n_and_filters(self, client, version):
        r = aoai_post_v(version, client, "reference-chat", "chat/completions", {"messages": user("hello moon"), "n": 3})
        body = check(AOAI, version, "ChatCompletions_Create", r)
        assert [c["index"] for c in body["choices"]] == [0, 1, 2]
        assert body["prompt_filter_results"][0]["content_filter_results"]["hate"]["severity"] == "safe"
        assert all("content_filter_results" in c for c in body["choices"])
        u = body["usage"]
        assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]

    def test_chat_stream(self, client, version):
        body = {"messages": user("hello stream world")}
        plain = check(
            AOAI,
            version,
            "ChatCompletions_Create",
            aoai_post_v(version, client, "reference-chat", "chat/completions", body),
        )
        chunks = check(
            AOAI,
            version,
            "ChatCompletions_Create",
            aoai_post_v(version, client, "reference-chat", "chat/completions", {**body, "stream": True}),
        )
        assert content_of(chunks) == plain["choices"][0]["message"]["content"]
        assert "prompt_filter_results" in chunks[0]
        assert [c["choices"][0].get("finish_reason") for c in chunks].count("stop") == 1

    def test_tools_json_mode_and_image(self, client, version):
        r = aoai_post_v(
            version,
            client,
            "reference-chat",
            "chat/completions",
            {
                "messages": user("weather?"),
                "tools": [WEATHER_TOOL],
                "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            },
        )
        body = check(AOAI, version, "ChatCompletions_Create", r)
        assert body["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
        r = aoai_post_v(
            version,
            client,
            "reference-chat",
            "chat/completions",
            {"messages": user("json"), "response_format": {"type": "json_object"}},
        )
        json.loads(check(AOAI, version, "ChatCompletions_Create", r)["choices"][0]["message"]["content"])
        # The image part's shape changed: {"url"} in 2024-04-01-preview, {"image_url": {"url"}} in 2024-10-21.
        image = {"url": PNG} if version == "2024-04-01-preview" else {"image_url": {"url": PNG}}
        parts = [{"type": "text", "text": "look"}, {"type": "image_url", **image}]
        r = aoai_post_v(
            version,
            client, "reference-chat", "chat/completions", {"messages": [{"role": "user", "content": parts}]}
        )
        assert r.status_code == 200
        check(AOAI, version, "ChatCompletions_Create", r)

    def test_completions(self, client, version):
        r = aoai_post_v(
            version,
            client, "reference-instruct", "completions", {"prompt": ["a b c", "d e"], "max_tokens": 4}
        )
        body = check(AOAI, version, "Completions_Create", r)
        assert [c["index"] for c in body["choices"]] == [0, 1]
        assert all(c["finish_reason"] == "length" for c in body["choices"])
        r = aoai_post_v(version, client, "reference-instruct", "completions", {"prompt": "go on", "stream": True})
        chunks = check(AOAI, version, "Completions_Create", r)
        assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"])

    @pytest.mark.parametrize("fmt", ["float", "base64"])
    def test_embeddings(self, client, fmt, version):
        r = aoai_post_v(
            version,
            client,
            "reference-embed",
            "embeddings",
            {"input": "just one", "encoding_format": fmt, "dimensions": 64},
        )
        body = check(AOAI, version, "embeddings_create", r)
        assert len(body["data"]) == 1 and body["usage"]["prompt_tokens"] == 2



class TestAzureOpenAIErrors:
    def test_errors(self, ref, client):
        trigger = ref.settings.content_filter_trigger
        r = aoai_post(
            client, "reference-chat", "chat/completions", {"messages": user(trigger), "stream": True}
        )
        err = check(AOAI, AOAI_VERSION, "ChatCompletions_Create", r)["error"]
        assert r.status_code == 400 and err["code"] == "content_filter"
        assert err["inner_error"]["content_filter_results"]["hate"]["filtered"] is True
        r = aoai_post(client, "no-such-deployment", "chat/completions", {"messages": user("x")})
        assert r.status_code == 404 and check(AOAI, AOAI_VERSION, "ChatCompletions_Create", r)
        r = aoai_post(client, "reference-embed", "embeddings", {"input": ["x"], "encoding_format": "int8"})
        assert r.status_code == 422 and r.json()["error"]["param"] == "encoding_format"
        r = aoai_post(
            client,
            "reference-chat",
            "chat/completions",
            {"messages": user("x"), "tool_choice": "required", "tools": [WEATHER_TOOL]},
        )
        assert r.status_code == 400  # "required" is not in the 2024-04-01-preview enum
        r = client.post("/openai/deployments/reference-chat/chat/completions", json={"messages": user("x")})
        assert r.status_code == 400 and r.json()["error"]["code"] == "MissingApiVersionParameter"
        for method, path in (
            ("GET", "/openai/assistants"),
            ("POST", "/openai/deployments/x/images/generations"),
        ):
            r = client.request(method, path, params={"api-version": AOAI_VERSION}, json={})
            assert r.status_code == 404 and r.json()["error"]["code"] == "OperationNotImplemented"

    def test_target_dicts(self, ref):
        mi, aoai = ref.target(MI), ref.target(AOAI)
        assert mi["endpoint"] == ref.base_url + "/models" and aoai["endpoint"] == ref.base_url + "/openai"
        assert aoai["operations"] == ["ChatCompletions_Create", "Completions_Create", "embeddings_create"]
        assert ref.api_key not in json.dumps([mi, aoai]) and mi["auth"] == "api-key"
        assert set(mi) == {
            "endpoint",
            "api",
            "api_version",
            "auth",
            "auth_schemes",
            "models",
            "capabilities",
            "content_filter",
            "budget",
            "operations",
        }
