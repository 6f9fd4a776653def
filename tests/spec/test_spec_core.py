"""Spec loading, the operation registry, path matching, validator caching, and the generation view."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import HealthCheck, given, settings

from conformance.constants import APIS
from conformance.runner.generation import TINY_PNGS, case_violations, generation_strategy, generation_view
from conformance.spec import available_versions, default_version, load_spec
from conformance.spec.files import SPECS_DIR
from tests.paths import shared

MI_OPS = {"getChatCompletions", "getEmbeddings", "getImageEmbeddings", "getModelInfo"}


def test_versions_and_defaults() -> None:
    assert available_versions("model-inference") == ["2024-05-01-preview", "2025-04-01", "2025-05-01"]
    assert available_versions("azure-openai") == ["2024-04-01-preview", "2024-10-21"]
    assert default_version("model-inference") == "2025-04-01"
    assert default_version("azure-openai") == "2024-04-01-preview"
    assert APIS == ("model-inference", "azure-openai")


def test_unknown_version_and_api_name_the_choices() -> None:
    with pytest.raises(ValueError, match=r"2024-05-01-preview, 2025-04-01, 2025-05-01"):
        load_spec("model-inference", "2023-01-01")
    with pytest.raises(ValueError, match=r"model-inference, azure-openai"):
        load_spec("openai")


@pytest.mark.parametrize("version", ["2024-05-01-preview", "2025-04-01", "2025-05-01"])
def test_model_inference_registry(version: str) -> None:
    spec = load_spec("model-inference", version)
    assert set(spec.operations) == MI_OPS
    assert spec.version == version and len(spec.sha256) == 64 and spec.raw["openapi"] == "3.0.0"
    chat = spec.operation("getChatCompletions")
    assert (chat.method, chat.path) == ("POST", "/chat/completions")
    assert chat.request_schema_pointer == "#/components/schemas/ChatCompletionsOptions"
    assert chat.request_media_types == ("application/json",)
    assert chat.responses["200"] == {"application/json": "#/components/schemas/ChatCompletions"}
    assert chat.responses["default"] == {
        "application/json": "#/components/schemas/Azure.Core.Foundations.ErrorResponse"
    }
    assert chat.stream_chunk_pointer == "#/components/schemas/StreamingChatCompletionsUpdate"
    assert chat.streaming is True
    for op_id in MI_OPS:
        op = spec.operation(op_id)
        api_version = op.parameter("api-version", "query")
        assert api_version is not None and api_version.required
        extra = op.parameter("extra-parameters", "header")
        if op_id == "getModelInfo":
            assert extra is None and op.method == "GET" and op.request_schema_pointer is None
        else:
            assert extra is not None and not extra.required
            assert extra.schema["x-open-enum"] == ["error", "drop", "pass-through"]
    assert spec.operation("getEmbeddings").stream_chunk_pointer is None
    assert spec.operation("getEmbeddings").streaming is False


def test_azure_openai_registry() -> None:
    spec = load_spec("azure-openai")
    assert spec.raw["servers"][0]["url"] == "https://{endpoint}/openai"
    for op_id in (
        "ChatCompletions_Create",
        "Completions_Create",
        "embeddings_create",
        "Create_Assistant",
        "List_Assistants",
        "Create_Thread_And_Run",
        "Submit_Tool_Outputs_To_Run",
        "Transcriptions_Create",
    ):
        assert op_id in spec.operations
    assert len(spec.operations) == 35
    chat = spec.operation("ChatCompletions_Create")
    assert chat.path == "/deployments/{deployment-id}/chat/completions"
    assert chat.streaming is True  # `stream` is inherited through allOf from chatCompletionsRequestCommon
    # No chunk schema in this spec: chunks are validated against the stable 2024-10-21 chunk schema.
    assert chat.stream_chunk_pointer == "#/components/schemas/createChatCompletionStreamResponse"
    assert chat.stream_chunk_version == "2024-10-21"
    chunk_spec, pointer = spec.stream_chunk_spec("ChatCompletions_Create")
    assert chunk_spec.version == "2024-10-21" and pointer == chat.stream_chunk_pointer
    assert spec.operation("Completions_Create").stream_chunk_pointer is None  # no completions chunk schema
    assert chat.parameter("deployment-id", "path").required
    emb = spec.operation("embeddings_create")
    assert emb.request_schema_pointer.startswith("#/paths/~1deployments~1{deployment-id}~1embeddings/post/")
    assert "default" not in emb.responses
    assert spec.operation("Transcriptions_Create").request_media_types == ("multipart/form-data",)


@pytest.mark.parametrize(
    ("api", "method", "path", "expected"),
    [
        ("model-inference", "POST", "/chat/completions", "getChatCompletions"),
        ("model-inference", "POST", "/models/chat/completions", "getChatCompletions"),
        ("model-inference", "POST", "/api/models/embeddings", "getEmbeddings"),
        (
            "model-inference",
            "POST",
            "/api/models/images/embeddings?api-version=2025-04-01",
            "getImageEmbeddings",
        ),
        ("model-inference", "post", "/images/embeddings/", "getImageEmbeddings"),
        ("model-inference", "GET", "/info", "getModelInfo"),
        ("model-inference", "GET", "/chat/completions", None),
        ("model-inference", "POST", "/chat/completionsx", None),
        ("model-inference", "POST", "/xchat/completions", None),
        ("azure-openai", "POST", "/deployments/gpt4/chat/completions", "ChatCompletions_Create"),
        ("azure-openai", "POST", "/openai/deployments/x/chat/completions", "ChatCompletions_Create"),
        ("azure-openai", "POST", "/openai/deployments/x/completions", "Completions_Create"),
        ("azure-openai", "POST", "/openai/deployments/x/embeddings", "embeddings_create"),
        ("azure-openai", "POST", "/openai/threads/runs", "Create_Thread_And_Run"),
        ("azure-openai", "POST", "/openai/threads/t1", "Modify_Thread"),
        ("azure-openai", "GET", "/openai/threads/t1/runs/r1/steps/s1", "Get_Run_Step"),
        ("azure-openai", "POST", "/openai/v1/chat/completions", None),
    ],
)
def test_match(api: str, method: str, path: str, expected: str | None) -> None:
    op = load_spec(api).match(method, path)
    assert (op.operation_id if op else None) == expected


def test_path_regex_matches_whole_relative_paths() -> None:
    op = load_spec("azure-openai").operation("ChatCompletions_Create")
    assert op.path_regex().match("/deployments/my-dep/chat/completions")
    assert not op.path_regex().match("/deployments/a/b/chat/completions")


def test_load_spec_and_validators_are_cached() -> None:
    spec = load_spec("model-inference")
    assert spec is load_spec("model-inference", "2025-04-01")
    v1 = spec.validator("#/components/schemas/ChatCompletions")
    assert v1 is spec.validator("#/components/schemas/ChatCompletions")
    assert v1 is not spec.validator("#/components/schemas/ChatCompletions", "request")
    with pytest.raises(KeyError, match="no schema"):
        spec.validator("#/components/schemas/Nope")


def test_response_pointer_and_status_selection() -> None:
    spec = load_spec("model-inference")
    assert spec.response_pointer("getChatCompletions", 200) == "#/components/schemas/ChatCompletions"
    assert (
        spec.response_pointer("getChatCompletions", 400)
        == "#/components/schemas/Azure.Core.Foundations.ErrorResponse"
    )
    assert spec.response_pointer("getChatCompletions", 200, "text/event-stream") is None
    bad_error = {"detail": "Extra parameters ['x'] are not allowed"}
    issues = spec.validate_response("getChatCompletions", 400, bad_error)
    assert [(i.path, i.keyword) for i in issues] == [("$", "required")]
    aoai = load_spec("azure-openai")
    assert aoai.validate_response("embeddings_create", 401, {"statusCode": 401, "message": "denied"}) == []
    note = aoai.validate_response("Create_Assistant", 201, {})
    assert [(i.keyword, i.level) for i in note] == [("undeclared-status", "note")]


def test_validating_a_chat_response_reuses_its_compiled_validator() -> None:
    spec = load_spec("model-inference")
    body = {
        "id": "x",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
        "usage": {"completion_tokens": 1, "prompt_tokens": 2, "total_tokens": 3},
    }
    assert spec.validate_response("getChatCompletions", 200, body) == []
    # Speed is measured by bench/hot_paths.py; here only that validators are compiled once and reused.
    compiled = dict(spec._validators)
    spec.validate_response("getChatCompletions", 200, body)
    assert compiled and all(spec._validators[k] is v for k, v in compiled.items())


def test_vendored_specs_equal_the_shared_copies() -> None:
    SHARED_SPECS = shared("specs")
    shared_files = [p for p in SHARED_SPECS.rglob("*") if p.is_file() and p.suffix in (".json", ".yaml", ".tsp")]
    assert len(shared_files) > 20
    for p in shared_files:
        mine = SPECS_DIR / p.relative_to(SHARED_SPECS)
        assert mine.read_bytes() == p.read_bytes(), f"{mine} differs from {p}"


def test_sources_lists_every_vendored_file_with_its_checksum() -> None:
    listed = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| ((?:model-inference|azure-openai)/\S+) \| .* \| ([0-9a-f]{64}) \|$",
                             (SPECS_DIR / "SOURCES.md").read_text(encoding="utf-8"), re.M)
    }
    vendored = {
        p.relative_to(SPECS_DIR).as_posix(): p
        for p in SPECS_DIR.rglob("*")
        if p.is_file() and p.suffix in (".json", ".yaml", ".tsp") and p.relative_to(SPECS_DIR).parts[0] in APIS
    }
    assert set(listed) == set(vendored)
    for name, path in vendored.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == listed[name], name


# ---- generation view (conformance/generation.py) ---------------------------------------------


def _draw(spec, op_id: str, mode: str, view: dict, n: int = 30, **kw) -> list:
    cases: list = []

    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(generation_strategy(spec, op_id, mode=mode, view=view, **kw))
    def collect(case) -> None:
        cases.append(case)

    collect()
    return cases


def test_generation_view_does_not_mutate_the_spec() -> None:
    spec = load_spec("model-inference")
    before = spec.sha256, repr(spec.raw["components"]["schemas"]["ChatRequestMessage"])
    view = generation_view(spec, api_version="2025-04-01", max_tokens=8)
    assert view is not spec.raw
    assert (spec.sha256, repr(spec.raw["components"]["schemas"]["ChatRequestMessage"])) == before
    schemas = view["components"]["schemas"]
    assert schemas["ChatRequestMessage"] == {
        "oneOf": [
            {"$ref": S}
            for S in (
                "#/components/schemas/ChatRequestSystemMessage",
                "#/components/schemas/ChatRequestUserMessage",
                "#/components/schemas/ChatRequestAssistantMessage",
                # no ChatRequestToolMessage: a generated tool result answers no tool call (a real 400)
            )
        ]
    }
    assert schemas["ChatRequestUserMessage"]["properties"]["role"] == {"type": "string", "enum": ["user"]}
    assert "allOf" not in schemas["ChatRequestUserMessage"]
    options = schemas["ChatCompletionsOptions"]
    assert options["additionalProperties"] is False
    assert options["properties"]["max_tokens"] == {"type": "integer", "minimum": 1, "maximum": 8}
    assert "modalities" not in options["properties"]
    assert "dimensions" not in schemas["EmbeddingsOptions"]["properties"]
    assert schemas["EmbeddingsOptions"]["properties"]["input"]["maxItems"] == 4
    assert schemas["ChatMessageImageUrl"]["properties"]["url"]["enum"] == list(TINY_PNGS)
    assert schemas["FunctionDefinition"]["properties"]["parameters"] == {"type": "object", "properties": {}}
    assert schemas["ChatRole"]["enum"] == ["system", "developer", "user", "assistant", "tool"]
    assert "json_schema" not in repr(schemas["ChatCompletionsResponseFormat"])
    chat = view["paths"]["/chat/completions"]["post"]
    assert [p.get("name") for p in chat["parameters"]] == ["api-version"]
    assert chat["parameters"][0]["schema"] == {"type": "string", "enum": ["2025-04-01"]}


@pytest.mark.parametrize("op_id", sorted(MI_OPS))
def test_positive_generated_cases_are_valid_per_the_real_spec(op_id: str) -> None:
    spec = load_spec("model-inference")
    view = generation_view(spec, api_version="2025-04-01", max_tokens=16, operations=[op_id])
    assert [op["operationId"] for item in view["paths"].values() for op in item.values()] == [op_id]
    cases = _draw(spec, op_id, "positive", view)
    assert len(cases) == 30
    for case in cases:
        assert case_violations(spec, op_id, case) == [], case.body
        assert case.query["api-version"] == "2025-04-01"
        assert "extra-parameters" not in {k.lower() for k in (case.headers or {})}
        if isinstance(case.body, dict):
            assert case.body.get("max_tokens", 1) <= 16


GENERATED = [("model-inference", v, op) for v in ("2024-05-01-preview", "2025-04-01", "2025-05-01")
             for op in ("getChatCompletions", "getEmbeddings", "getImageEmbeddings")] + [
    ("azure-openai", "2024-04-01-preview", op) for op in ("ChatCompletions_Create", "Completions_Create",
                                                          "embeddings_create")]


@pytest.mark.parametrize(("api", "version", "op_id"), GENERATED)
def test_positive_cases_honour_schema_prose_and_token_budget(api: str, version: str, op_id: str) -> None:
    from conformance.reference._spec import request_properties
    from conformance.runner.generation import token_limit_field
    from conformance.spec.prose import prose_violations

    spec = load_spec(api, version)
    view = generation_view(spec, api_version=version, max_tokens=16, operations=[op_id])
    field = token_limit_field(spec, op_id)
    known = request_properties(api, version, op_id)
    for case in _draw(spec, op_id, "positive", view, n=40):
        assert case_violations(spec, op_id, case) == [], case.body
        assert prose_violations(api, op_id, case.body) == [], case.body
        assert not case.headers, "no generated header: credentials come from the client, extra ones are not sent"
        assert set(case.body) <= known, f"keys the spec does not define: {set(case.body) - known}"
        if field is not None:  # every request that can spend tokens carries the budget's limit
            assert isinstance(case.body[field], int) and 1 <= case.body[field] <= 16, case.body
        for message in case.body.get("messages") or []:
            assert message.get("content") not in (None, "", []), message


def test_generated_headers_are_only_what_http_can_carry() -> None:
    from conformance.runner.generation import bound_tokens, sendable_headers

    declared = {"extra-parameters", "x-ms-client-request-id"}
    assert sendable_headers({"extra-parameters": "drop", "transfer-encoding": "]?5E", "api-key": "k",
                             "x-ms-client-request-id": " lead", "undeclared": "v", "Content-Length": "3"},
                            declared | {"transfer-encoding", "content-length"}) == {"extra-parameters": "drop"}
    assert sendable_headers({"x-ms-client-request-id": "caf\u00e9"}, declared) == {}
    assert bound_tokens({"messages": []}, "max_tokens", 16) == {"messages": [], "max_tokens": 16}
    assert bound_tokens({"max_tokens": 10**9}, "max_tokens", 16) == {"max_tokens": 16}
    # A value that is itself what a negative case breaks is left as drawn.
    assert bound_tokens({"max_tokens": "ten"}, "max_tokens", 16) == {"max_tokens": "ten"}
    assert bound_tokens({"input": ["x"]}, None, 16) == {"input": ["x"]}


def test_negative_chat_cases_are_mostly_invalid_and_detectably_so() -> None:
    # Unfiltered, measured with derandomize=True: most negative chat cases are invalid per the real
    # spec (all 30 with schemathesis 4.32); the others only break the view's tightening (maxLength,
    # closed additionalProperties, pins), which the real spec allows.
    # `case_violations` detects those, and generation_strategy filters them out by default.
    spec = load_spec("model-inference")
    view = generation_view(spec, api_version="2025-04-01", max_tokens=16, operations=["getChatCompletions"])
    raw = _draw(spec, "getChatCompletions", "negative", view, only_invalid=False)
    invalid = [c for c in raw if case_violations(spec, "getChatCompletions", c)]
    assert 0.3 <= len(invalid) / len(raw) <= 1.0, f"{len(invalid)}/{len(raw)}"
    valid = [c for c in raw if c not in invalid]
    assert all(
        [i for i in spec.validate_request("getChatCompletions", c.body) if i.level == "error"] == []
        for c in valid
        if isinstance(c.body, dict)
    )
    filtered = _draw(spec, "getChatCompletions", "negative", view)
    assert len(filtered) == 30 and all(case_violations(spec, "getChatCompletions", c) for c in filtered)
