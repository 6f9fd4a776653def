"""Each OpenAPI 3.0 construct the converter handles: one value that must pass, one that must fail,
asserting on JSON path, keyword, spec pointer and component. Small inline specs plus the real one."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from conformance.spec import Spec, load_spec
from conformance.spec.schema import SchemaIssue, to_json_schema

S = "#/components/schemas/"


def _spec(schemas: dict[str, Any]) -> Spec:
    return Spec.from_dict(
        {
            "openapi": "3.0.0",
            "info": {"title": "t", "version": "1"},
            "paths": {},
            "components": {"schemas": schemas},
        }
    )


def _errors(issues: list[SchemaIssue]) -> list[tuple[str, str, str]]:
    return [(i.path, i.keyword, i.pointer) for i in issues if i.level == "error"]


ANIMALS = _spec(
    {
        "Pet": {
            "type": "object",
            "required": ["kind"],
            "properties": {
                "kind": {"anyOf": [{"type": "string"}, {"type": "string", "enum": ["cat", "dog"]}]}
            },
            "discriminator": {"propertyName": "kind", "mapping": {"cat": S + "Cat", "dog": S + "Dog"}},
        },
        "Cat": {
            "type": "object",
            "required": ["kind", "lives"],
            "properties": {
                "kind": {"type": "string", "enum": ["cat"]},
                "lives": {"type": "integer", "format": "int32"},
            },
            "allOf": [{"$ref": S + "Pet"}],
        },
        "Dog": {
            "allOf": [{"$ref": S + "Pet"}, {"type": "object", "properties": {"bark": {"type": "string"}}}],
            "required": ["bark"],
        },
        "Owner": {
            "type": "object",
            "properties": {
                "pets": {"type": "array", "items": {"$ref": S + "Pet"}},
                "best": {"allOf": [{"$ref": S + "Pet"}], "nullable": True},
                "pick": {"oneOf": [{"$ref": S + "Cat"}, {"$ref": S + "Dog"}]},
            },
        },
        "Record": {
            "type": "object",
            "required": ["id", "secret", "name"],
            "properties": {
                "id": {"type": "string", "readOnly": True},
                "secret": {"type": "string", "writeOnly": True},
                "name": {"type": "string", "nullable": True, "enum": ["a", "b"]},
                "when": {"type": "integer", "format": "unixtime"},
                "small": {"type": "integer", "format": "int32"},
                "big": {"type": "integer", "format": "int64"},
                "ratio": {"type": "number", "format": "float"},
                "size": {"type": "string", "enum": ["S", "M"]},
                "state": {"$ref": S + "State"},
                "maybe": {"allOf": [{"$ref": S + "State"}], "nullable": True},
                "link": {"type": "string", "format": "uri"},
                "positive": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
                "extra": {"type": "object", "additionalProperties": {}},
            },
        },
        "State": {"anyOf": [{"type": "string"}, {"type": "string", "enum": ["on", "off"]}]},
        "Shape": {
            "oneOf": [
                {"type": "object", "properties": {"r": {"type": "number"}}},
                {"type": "object", "properties": {"side": {"type": "number"}}},
            ]
        },
    }
)

RECORD = {"id": "1", "secret": "s", "name": "a"}


def test_nullable_accepts_null_even_with_enum_and_wrapped_refs() -> None:
    for name in (None, "a"):
        assert ANIMALS.validate(S + "Record", {**RECORD, "name": name, "maybe": None}) == []
    issues = ANIMALS.validate(S + "Record", {**RECORD, "name": "c", "state": None})
    assert _errors(issues) == [
        ("$.name", "enum", S + "Record/properties/name"),
        ("$.state", "type", S + "State"),
    ]


def test_readonly_is_required_in_responses_only() -> None:
    body = {"secret": "s", "name": "a"}  # no readOnly `id`
    assert ANIMALS.validate(S + "Record", body, direction="request") == []
    assert _errors(ANIMALS.validate(S + "Record", body, direction="response")) == [
        ("$", "required", S + "Record")
    ]
    assert ANIMALS.validate(S + "Record", {**body, "id": "x"}, direction="request") == []  # still allowed


def test_writeonly_is_required_in_requests_only() -> None:
    body = {"id": "1", "name": "a"}  # no writeOnly `secret`
    assert ANIMALS.validate(S + "Record", body, direction="response") == []
    issues = ANIMALS.validate(S + "Record", body, direction="request")
    assert [(i.path, i.keyword, i.message) for i in issues] == [
        ("$", "required", "'secret' is a required property")
    ]


def test_discriminator_dispatches_to_the_mapped_subtype() -> None:
    assert (
        ANIMALS.validate(S + "Owner", {"pets": [{"kind": "cat", "lives": 9}, {"kind": "dog", "bark": "w"}]})
        == []
    )
    issues = ANIMALS.validate(S + "Owner", {"pets": [{"kind": "cat", "lives": 9}, {"kind": "dog"}]})
    assert _errors(issues) == [("$.pets[1]", "required", S + "Dog")]
    assert issues[0].component == "Dog"
    # validating the base itself dispatches too
    assert _errors(ANIMALS.validate(S + "Pet", {"kind": "cat"})) == [("$", "required", S + "Cat")]


def test_unmapped_discriminator_value_validates_against_the_base_only() -> None:
    issues = ANIMALS.validate(S + "Owner", {"pets": [{"kind": "hamster", "wheel": True}]})
    assert _errors(issues) == []
    assert [(i.path, i.keyword, i.level) for i in issues] == [("$.pets[0].kind", "open-enum", "note")]
    assert _errors(ANIMALS.validate(S + "Owner", {"pets": [{"wheel": True}]})) == [
        ("$.pets[0]", "required", S + "Pet")
    ]


def test_subtype_allof_back_reference_means_the_plain_base_without_recursion() -> None:
    assert ANIMALS.validate(S + "Cat", {"kind": "cat", "lives": 1}) == []
    # The base's own constraints still apply through the allOf (base requires `kind`).
    assert ("$", "required", S + "Pet") in _errors(ANIMALS.validate(S + "Dog", {"bark": "w"}))
    assert ("$.kind", "enum", S + "Cat/properties/kind") in _errors(
        ANIMALS.validate(S + "Cat", {"kind": "dog", "lives": 1})
    )


def test_oneof_over_subtypes_uses_the_inherited_discriminator() -> None:
    # Cat and Dog overlap as schemas; the discriminator makes `pick` unambiguous.
    assert ANIMALS.validate(S + "Owner", {"pick": {"kind": "dog", "bark": "w", "lives": 3}}) == []
    assert _errors(ANIMALS.validate(S + "Owner", {"pick": {"kind": "dog", "lives": 3}})) == [
        ("$.pick", "required", S + "Dog")
    ]
    assert _errors(ANIMALS.validate(S + "Owner", {"pick": {"kind": "bird"}})) == [
        ("$.pick.kind", "enum", S + "Owner/properties/pick/oneOf")
    ]


def test_ambiguous_oneof_is_a_note_not_an_error() -> None:
    issues = ANIMALS.validate(S + "Shape", {"r": 1})
    assert [(i.keyword, i.level) for i in issues] == [("oneOf-ambiguous", "note")]
    assert _errors(ANIMALS.validate(S + "Shape", {"r": "x", "side": "y"})) != []


def test_open_enum_note_versus_closed_enum_error() -> None:
    issues = ANIMALS.validate(S + "Record", {**RECORD, "state": "dimmed", "size": "M"})
    assert [(i.path, i.keyword, i.level, i.pointer) for i in issues] == [
        ("$.state", "open-enum", "note", S + "State")
    ]
    assert "dimmed" in str(issues[0]) and str(issues[0]).endswith("(note)")
    assert _errors(ANIMALS.validate(S + "Record", {**RECORD, "size": "XL"})) == [
        ("$.size", "enum", S + "Record/properties/size")
    ]


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("small", 2**31 - 1, 2**31),
        ("big", -(2**63), 2**63),
        ("ratio", 0.5, float("nan")),
        ("when", 1700000000, 1700000000000),
        ("when", 0, -5),
        ("link", "https://example.com/x", "not a uri"),
        ("positive", 0.1, 0),
    ],
)
def test_formats_and_bounds(field: str, good: Any, bad: Any) -> None:
    assert ANIMALS.validate(S + "Record", {**RECORD, field: good}) == []
    issues = _errors(ANIMALS.validate(S + "Record", {**RECORD, field: bad}))
    assert (
        len(issues) == 1 and issues[0][0] == f"$.{field}" and issues[0][2] == f"{S}Record/properties/{field}"
    )
    assert issues[0][1] in ("format", "exclusiveMinimum")


def test_additional_properties_empty_schema_allows_anything() -> None:
    assert ANIMALS.validate(S + "Record", {**RECORD, "extra": {"a": [1, {"b": None}]}, "unknown": 1}) == []


def test_hostile_depth_does_not_crash() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = {"kind": "cat", "lives": deep}
    issues = ANIMALS.validate(S + "Pet", deep)
    assert issues and issues[0].level == "error"


def test_converter_directly() -> None:
    converted = to_json_schema(
        {"type": "string", "nullable": True, "readOnly": True, "example": "x"},
        direction="response",
        origin="#/x",
    )
    assert converted == {
        "if": {"type": "null"},
        "else": {"type": "string", "x-origin": "#/x"},
        "x-origin": "#/x",
    }
    opened = to_json_schema(
        {"anyOf": [{"type": "string"}, {"type": "string", "enum": ["a"]}]}, direction="request"
    )
    assert opened["type"] == "string" and opened["x-open-enum"] == ["a"]


# ---- the real 2025-04-01 spec ---------------------------------------------------------------

CHAT = {
    "id": "x",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                    {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}},
                ],
            },
        }
    ],
    "usage": {"completion_tokens": 1, "prompt_tokens": 2, "total_tokens": 3},
}


def test_real_spec_user_message_without_content_fails_at_chat_request_user_message() -> None:
    spec = load_spec("model-inference", "2025-04-01")
    ok = {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": "unmapped role: base only"},
        ]
    }
    assert spec.validate_request("getChatCompletions", ok) == []
    issues = spec.validate_request("getChatCompletions", {"messages": [{"role": "user"}]})
    assert len(issues) == 1
    issue = issues[0]
    assert (issue.path, issue.keyword, issue.pointer, issue.component) == (
        "$.messages[0]",
        "required",
        S + "ChatRequestUserMessage",
        "ChatRequestUserMessage",
    )
    assert "content" in issue.message


def test_real_spec_content_item_dispatch_and_response_format_family() -> None:
    spec = load_spec("model-inference", "2025-04-01")
    body = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url"}]}],
        "response_format": {"type": "json_schema"},
    }
    assert _errors(spec.validate_request("getChatCompletions", body)) == [
        ("$.messages[0].content[1]", "required", S + "ChatMessageImageContentItem"),
        ("$.response_format", "required", S + "ChatCompletionsResponseFormatJsonSchema"),
    ]


def test_real_spec_nested_path_value_and_pointer() -> None:
    spec = load_spec("model-inference", "2025-04-01")
    assert spec.validate_response("getChatCompletions", 200, CHAT) == []  # nullable content
    bad = copy.deepcopy(CHAT)
    bad["choices"][0]["message"]["tool_calls"][1]["function"]["arguments"] = {"x": 1}
    bad["choices"][0]["finish_reason"] = 3
    issues = spec.validate_response("getChatCompletions", 200, bad)
    by_path = {i.path: i for i in issues}
    args = by_path["$.choices[0].message.tool_calls[1].function.arguments"]
    assert (args.keyword, args.value, args.component) == ("type", '{"x": 1}', "FunctionCall")
    assert args.pointer == S + "FunctionCall/properties/arguments"
    reason = by_path["$.choices[0].finish_reason"]
    assert (reason.keyword, reason.value, reason.component) == ("type", "3", "CompletionsFinishReason")
    assert str(reason).startswith("$.choices[0].finish_reason = 3: 3 is not of type")


def test_real_spec_readonly_fields_required_in_responses() -> None:
    spec = load_spec("model-inference", "2025-04-01")
    bad = copy.deepcopy(CHAT)
    del bad["choices"][0]["finish_reason"]  # readOnly + required + nullable
    assert _errors(spec.validate_response("getChatCompletions", 200, bad)) == [
        ("$.choices[0]", "required", S + "ChatChoice")
    ]
    assert spec.validate("#/components/schemas/ChatChoice", {"index": 0}, direction="request") == []


def test_real_stream_chunk_and_open_finish_reason() -> None:
    spec = load_spec("model-inference", "2025-04-01")
    chunk = {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "finish_reason": "end_turn", "delta": {"content": "hi"}}],
    }
    issues = spec.validate_stream_chunk("getChatCompletions", chunk)
    assert _errors(issues) == [("$.object", "enum", S + "StreamingChatCompletionsUpdate/properties/object")]
    assert [(i.path, i.keyword) for i in issues if i.level == "note"] == [
        ("$.choices[0].finish_reason", "open-enum")
    ]


def test_real_azure_openai_chat_responses_from_the_corpus_shape() -> None:
    spec = load_spec("azure-openai")
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o",
        "system_fingerprint": None,
        "prompt_filter_results": [],
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": "hi"},
            }
        ],
        "usage": {"completion_tokens": 1, "prompt_tokens": 2, "total_tokens": 3},
    }
    issues = spec.validate_response("ChatCompletions_Create", 200, body)
    assert _errors(issues) == [
        ("$.system_fingerprint", "type", S + "chatCompletionsResponseCommon/properties/system_fingerprint")
    ]
    first_chunk = {
        "id": "",
        "object": "",
        "created": 0,
        "model": "",
        "choices": [],
        "prompt_filter_results": [],
    }
    # The prompt-filter opener is not a completion chunk: the chunk schema (2024-10-21) rejects its empty
    # object; conformance/rules/streaming.py judges it by its documented shape instead.
    assert _errors(spec.validate_stream_chunk("ChatCompletions_Create", first_chunk)) == [
        ("$.object", "enum", S + "createChatCompletionStreamResponse/properties/object")
    ]
    content_chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "gpt-4o",
                     "system_fingerprint": "fp_1", "usage": None,
                     "choices": [{"index": 0, "finish_reason": None, "logprobs": None, "delta": {"content": "hi"}}]}
    assert _errors(spec.validate_stream_chunk("ChatCompletions_Create", content_chunk)) == []
