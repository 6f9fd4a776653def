"""Error-answer rules: shape classification and errata, content type, header code, Retry-After, echo."""

from __future__ import annotations

import json

import pytest

from conformance.rules._model import Level
from conformance.rules.errors import classify_error
from conformance.transport.exchange import NO_JSON
from tests.rules.helpers import applied, exchange, judge, of

REQ = {"messages": [{"role": "user", "content": "Hi"}]}
AZURE_CORE = {"error": {"code": "BadRequest", "message": "messages is required"}}


def err(body=None, *, status=400, raw=None, headers=None, api="model-inference", **kw):  # type: ignore[no-untyped-def]
    op = "ChatCompletions_Create" if api == "azure-openai" else "getChatCompletions"
    return exchange(op, REQ, status=status, body=body, raw=raw, headers=headers, api=api, **kw)


def test_conformant_error_has_no_findings() -> None:
    ex = err(AZURE_CORE, headers={"x-ms-error-code": "BadRequest"})
    assert judge(ex) == []
    assert {"ERROR-SHAPE", "ERROR-CONTENT-TYPE", "ERROR-HEADER-CODE", "NO-SERVER-ERROR"} <= set(applied(ex))
    assert "SCHEMA-RESPONSE" not in applied(ex) and "RETRY-AFTER" not in applied(ex)


@pytest.mark.parametrize(
    ("body", "variant"),
    [
        (AZURE_CORE, "azure-core"),
        ({"status": 422, "code": "parameter_not_supported", "message": "m", "detail": {"loc": ["body"]}},
         "rest-reference-top-level"),
        ({"detail": "Extra parameters ['n'] are not allowed"}, "fastapi-detail"),
        ({"detail": [{"loc": ["body", "n"], "msg": "x"}]}, "fastapi-detail"),
        ({"statusCode": 401, "message": "Unauthorized."}, "apim-statuscode"),
        ({"error": ["Extra inputs are not permitted"]}, "error-array"),
        ({"error": {"code": "Invalid input", "message": json.dumps({"detail": [{"type": "extra_forbidden"}]})}},
         "json-in-string"),
        ({"error": {"code": 400, "message": "Validation error"}}, "code-integer"),
        ({"error": {"code": None, "message": "x"}}, "code-null"),
        ({"error": {"message": "no code"}}, "unknown"),
        ({"status": "Serverless endpoint not found"}, "unknown"),
        ([1, 2], "unknown"),
        (NO_JSON, "not-json"),
    ],
)
def test_classify_error(body: object, variant: str) -> None:
    assert classify_error(body) == variant


OBSERVED = ["rest-reference-top-level", "fastapi-detail", "apim-statuscode", "error-array", "json-in-string",
            "code-integer", "code-null"]
SAMPLES = {
    "rest-reference-top-level": {"status": 400, "code": "content_filter", "message": "filtered"},
    "fastapi-detail": {"detail": "Extra parameters ['n'] are not allowed"},
    "apim-statuscode": {"statusCode": 401, "message": "Unauthorized."},
    "error-array": {"error": ["Extra inputs are not permitted"]},
    "json-in-string": {"error": {"code": "Invalid input", "message": '{"detail": []}'}},
    "code-integer": {"error": {"code": 400, "message": "Validation error"}},
    "code-null": {"error": {"code": None, "message": "x"}},
    "unknown": {"status": "Serverless endpoint not found"},
}


@pytest.mark.parametrize("variant", sorted(SAMPLES))
def test_error_shape_levels_per_profile(variant: str) -> None:
    [strict] = of(judge(err(SAMPLES[variant]), profile="strict"), "ERROR-SHAPE")
    [azure] = of(judge(err(SAMPLES[variant]), profile="azure"), "ERROR-SHAPE")
    assert strict.variant == variant and strict.level == Level.VIOLATION
    assert "expected" in strict.message and "Body:" in strict.message
    assert azure.level == (Level.WARNING if variant in OBSERVED else Level.VIOLATION)
    if variant in OBSERVED:
        assert azure.erratum


def test_error_shape_paths_and_values() -> None:
    [code] = of(judge(err(SAMPLES["code-integer"])), "ERROR-SHAPE")
    assert code.path == "$.error.code" and code.value == "400" and "integer" in code.message
    [text] = of(judge(err(raw=b"NOT FOUND", status=404, headers={"content-type": "text/plain"})), "ERROR-SHAPE")
    assert text.variant == "not-json" and text.path == "body" and "NOT FOUND" in (text.value or "")


def test_error_shape_validates_deeper_against_the_spec() -> None:
    body = {"error": {"code": "Invalid input", "message": "m", "details": [{"type": "enum", "loc": ["body"]}]}}
    found = of(judge(err(body), profile="azure"), "ERROR-SHAPE")
    assert found and all(f.variant == "azure-core-invalid" and f.level == Level.VIOLATION for f in found)
    assert {f.path for f in found} == {"$.error.details[0]"} and found[0].keyword == "required"


def test_openai_style_error_nulls_follow_the_null_for_absent_convention() -> None:
    body = {"error": {"message": "filtered", "type": None, "param": "prompt", "code": "content_filter"}}
    [strict] = of(judge(err(body, api="azure-openai"), api="azure-openai", profile="strict"), "ERROR-SHAPE")
    assert strict.path == "$.error.type" and strict.value == "null" and strict.level == Level.VIOLATION
    assert strict.variant == "null-for-absent"
    [azure] = of(judge(err(body, api="azure-openai"), api="azure-openai", profile="azure"), "ERROR-SHAPE")
    assert azure.level == Level.WARNING and (azure.erratum or "").startswith("C-NULL-FOR-ABSENT")
    # A wrong type that is not null is no absence: it stays a violation.
    wrong = {"error": {"message": "filtered", "type": 3, "code": "content_filter"}}
    [bad] = of(judge(err(wrong, api="azure-openai"), api="azure-openai", profile="azure"), "ERROR-SHAPE")
    assert bad.level == Level.VIOLATION and bad.variant == "azure-core-invalid"


def test_openai_style_null_code_is_a_convention_warning() -> None:
    body = {"error": {"message": "server error", "type": "server_error", "param": None, "code": None}}
    [azure] = of(judge(err(body, api="azure-openai", status=500), api="azure-openai", profile="azure"), "ERROR-SHAPE")
    assert azure.variant == "code-null" and (azure.erratum or "").startswith("C-OPENAI-ERROR-STYLE")


def test_error_content_type() -> None:
    [f] = of(judge(err(raw=b"NOT FOUND", status=404, headers={"content-type": "text/plain"})), "ERROR-CONTENT-TYPE")
    assert f.path == "header:content-type" and f.value == '"text/plain"' and "404" in f.message
    empty = err(raw=b"", status=404)
    assert "ERROR-CONTENT-TYPE" not in applied(empty)


def test_error_header_code() -> None:
    [f] = of(judge(err(AZURE_CORE, headers={"x-ms-error-code": "Other"})), "ERROR-HEADER-CODE")
    assert f.path == "header:x-ms-error-code" and f.value == '"Other"' and "BadRequest" in f.message
    int_code = err(SAMPLES["code-integer"], headers={"x-ms-error-code": "400"})
    assert of(judge(int_code), "ERROR-HEADER-CODE") == []
    assert of(judge(err(AZURE_CORE)), "ERROR-HEADER-CODE") == []  # absent header is fine


def test_retry_after() -> None:
    body = {"error": {"code": "429", "message": "rate limited"}}
    assert of(judge(err(body, status=429, headers={"Retry-After": "10"})), "RETRY-AFTER") == []
    assert of(judge(err(body, status=429, headers={"retry-after-ms": "100"})), "RETRY-AFTER") == []
    [f] = of(judge(err(body, status=429), profile="strict"), "RETRY-AFTER")
    assert f.level == Level.WARNING and f.path == "header:retry-after" and "429" in f.message


def test_auth_no_echo_never_prints_the_credential() -> None:
    assert of(judge(err(AZURE_CORE)), "AUTH-NO-ECHO") == []
    found = of(judge(err(AZURE_CORE, credential_echo=["header:x-echo", "body"]), profile="azure"), "AUTH-NO-ECHO")
    assert [f.path for f in found] == ["header:x-echo", "body"]
    assert all(f.level == Level.VIOLATION and f.value == "<credential withheld>" for f in found)
