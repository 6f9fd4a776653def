"""Every behaviour judge, both ways, on hand-built exchanges (the live proof is in test_run_*.py)."""

from __future__ import annotations

import pytest

from conformance.rules import behaviour as B
from conformance.rules._model import Level
from conformance.rules.catalogue import behaviour_rules, get_rule
from conformance.rules.profiles import apply_profile
from tests.rules.helpers import exchange

AZ = {"error": {"code": "x", "message": "m"}}


def _ex(status: int, body: object = AZ, **kw: object) -> object:
    return exchange(
        "getChatCompletions",
        {"messages": [{"role": "user", "content": "hi"}]},
        status=status,
        body=body,
        **kw,
    )


def ids(findings: object) -> list[str]:
    return [f.rule_id for f in findings]


def test_every_behaviour_rule_has_a_judge() -> None:
    assert behaviour_rules() and all(r.check is not None for r in behaviour_rules())


def test_positive_accepted() -> None:
    assert not list(B.positive_accepted(_ex(200, {})))
    assert not list(B.positive_accepted(_ex(429)))
    refusal = _ex(422, {"error": {"code": "parameter_not_supported", "message": "m", "target": "tools"}})
    assert not list(B.positive_accepted(refusal, unclaimed={"tools"}))
    found = list(B.positive_accepted(refusal, unclaimed=set()))
    assert ids(found) == ["POSITIVE-ACCEPTED"] and "422" in found[0].message
    found = list(B.positive_accepted(_ex(500)))
    assert ids(found) == ["POSITIVE-ACCEPTED"] and "server error" in found[0].message


def test_positive_accepted_takes_each_apis_refusal_of_a_parameter_the_target_does_not_claim() -> None:
    # Model Inference: a 422 naming the parameter (REST reference); a 400 is not that contract.
    mi = _ex(422, {"error": {"code": "parameter_not_supported", "message": "m", "target": "seed"}})
    assert not list(B.positive_accepted(mi, refusable={"seed"}))
    assert ids(B.positive_accepted(mi, refusable=set())) == ["POSITIVE-ACCEPTED"]  # claimed: must be accepted
    mi_400 = _ex(400, {"error": {"code": "unsupported_parameter", "message": "m", "param": "seed"}})
    assert ids(B.positive_accepted(mi_400, refusable={"seed"})) == ["POSITIVE-ACCEPTED"]
    # Azure OpenAI: a 4xx error naming it (`param`, or quoted in the message), the real o-series answer.
    aoai = _ex(400, {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this model.",
                               "type": "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter"}})
    assert not list(B.positive_accepted(aoai, refusable={"max_tokens"}, api="azure-openai"))
    quoted = _ex(400, {"error": {"message": "Unsupported value: 'temperature' does not support 0.5.", "code": None}})
    assert not list(B.positive_accepted(quoted, refusable={"temperature"}, api="azure-openai"))
    # A refusal that names no parameter, or only mentions one in passing, is not that convention.
    vague = _ex(400, {"error": {"code": "invalid_request", "message": "temperature above 0.5 is not accepted."}})
    assert ids(B.positive_accepted(vague, refusable={"temperature"}, api="azure-openai")) == ["POSITIVE-ACCEPTED"]
    assert ids(B.positive_accepted(aoai, refusable={"seed"}, api="azure-openai")) == ["POSITIVE-ACCEPTED"]
    unauthorized = _ex(401, {"error": {"code": "401", "message": "m", "param": "seed"}})
    assert ids(B.positive_accepted(unauthorized, refusable={"seed"}, api="azure-openai")) == ["POSITIVE-ACCEPTED"]


def test_negative_rejected() -> None:
    assert not list(B.negative_rejected(_ex(400), why_invalid="x"))
    found = list(B.negative_rejected(_ex(200, {}), why_invalid="`messages` is missing"))
    assert (
        ids(found) == ["NEGATIVE-REJECTED"]
        and "accepted" in found[0].message
        and "`messages` is missing" in found[0].message
    )
    found = list(B.negative_rejected(_ex(500), why_invalid="x"))
    assert "server error" in found[0].message and found[0].value == "500"
    found = list(B.negative_rejected(_ex(400, None), why_invalid="x"))
    assert "without an error body" in found[0].message


def test_auth_missing_and_wrong() -> None:
    assert not list(B.auth_missing(_ex(401)))
    assert ids(B.auth_missing(_ex(200, {}))) == ["AUTH-MISSING"]
    (f,) = B.auth_missing(_ex(403))
    assert f.level == Level.WARNING
    assert not list(B.auth_wrong(_ex(401)))
    (f,) = B.auth_wrong(_ex(200, {}))
    assert "wrong credential" in f.message and f.value == "200"
    assert ids(B.auth_wrong(_ex(401, None))) == ["AUTH-WRONG"]


def test_auth_scheme() -> None:
    assert not list(B.auth_scheme(_ex(200, {}), scheme="bearer"))
    (f,) = B.auth_scheme(_ex(401), scheme="bearer")
    assert "'bearer'" in f.message


def test_api_version_rules_and_the_404_erratum() -> None:
    assert not list(B.api_version_missing(_ex(400)))
    (f,) = B.api_version_missing(_ex(200, {}))
    assert "not enforced" in f.message
    (f,) = B.api_version_missing(_ex(404, {"error": {"code": "404", "message": "Resource not found"}}))
    assert f.variant == "404"
    strict = apply_profile([f], "strict", "model-inference")[0]
    assert strict.level == Level.VIOLATION
    (f,) = B.api_version_missing(_ex(404, {"error": {"code": "404", "message": "Resource not found"}}))
    azure = apply_profile([f], "azure", "model-inference")[0]
    assert azure.level == Level.WARNING and azure.erratum
    assert not list(B.api_version_unknown(_ex(400), version="1999"))
    assert ids(B.api_version_unknown(_ex(200, {}), version="1999")) == ["APIVERSION-UNKNOWN"]
    assert not list(B.api_version_supported(_ex(200, {}), version="2025-04-01"))
    assert ids(B.api_version_supported(_ex(400), version="2024-05-01-preview")) == ["APIVERSION-SUPPORTED"]


def test_routes_and_methods() -> None:
    assert not list(B.route_not_found(_ex(404)))
    assert ids(B.route_not_found(_ex(400))) == ["ROUTE-NOT-FOUND"]
    (f,) = B.route_not_found(
        exchange(
            "getChatCompletions", {}, status=404, raw=b"NOT FOUND", headers={"content-type": "text/plain"}
        )
    )
    assert "JSON error body" in f.message
    assert not list(B.method_not_allowed(_ex(405)))
    assert ids(B.method_not_allowed(_ex(404))) == ["METHOD-NOT-ALLOWED"]


def test_extra_parameters() -> None:
    assert not list(B.extra_params_error(_ex(400), param="p", header=None))
    (f,) = B.extra_params_error(_ex(200, {}), param="p", header="error")
    assert f.path == "$.p" and "accepted" in f.message
    assert not list(B.extra_params_drop(_ex(200, {}), param="p"))
    assert ids(B.extra_params_drop(_ex(400), param="p")) == ["EXTRA-PARAMS-DROP"]
    assert not list(B.extra_params_pass_through(_ex(200, {}), param="safe_prompt", accepted_by_model=True))
    assert ids(B.extra_params_pass_through(_ex(422), param="safe_prompt", accepted_by_model=True)) == [
        "EXTRA-PARAMS-PASS-THROUGH"
    ]
    assert not list(B.extra_params_pass_through(_ex(422), param="x", accepted_by_model=False))
    (f,) = B.extra_params_pass_through(_ex(200, {}), param="x", accepted_by_model=False)
    assert "silently accepted" in f.message
    assert not list(B.extra_params_invalid(_ex(400), value="ignore"))
    (f,) = B.extra_params_invalid(_ex(200, {}), value="ignore")
    assert f.path == "header:extra-parameters"


def test_unsupported_422_shapes() -> None:
    good = {"error": {"code": "parameter_not_supported", "message": "m", "target": "response_format"}}
    assert not list(B.unsupported_422(_ex(422, good), param="response_format"))
    (f,) = B.unsupported_422(_ex(200, {}), param="response_format")
    assert "silently accepted" in f.message
    (f,) = B.unsupported_422(_ex(400), param="response_format")
    assert "not 422" in f.message
    found = list(
        B.unsupported_422(
            _ex(422, {"error": {"code": "invalid_input", "message": "m"}}), param="response_format"
        )
    )
    assert any("'invalid_input'" in x.message for x in found) and any(
        "does not identify" in x.message for x in found
    )
    rest_ref = {
        "status": 422,
        "code": "parameter_not_supported",
        "detail": {"loc": ["body", "response_format"], "input": "json_object"},
        "message": "One of the parameters contain invalid values.",
    }
    (f,) = B.unsupported_422(_ex(422, rest_ref), param="response_format")
    assert f.variant == "rest-reference-top-level"
    assert apply_profile([f], "strict", "model-inference")[0].level == Level.VIOLATION
    (f,) = B.unsupported_422(_ex(422, rest_ref), param="response_format")
    assert apply_profile([f], "azure", "model-inference")[0].level == Level.WARNING
    assert not list(B.supported_not_422(_ex(200, {}), param="tools"))
    assert ids(B.supported_not_422(_ex(422), param="tools")) == ["SUPPORTED-NOT-422"]


def test_content_filter_variants() -> None:
    ok = {"error": {"code": "content_filter", "message": "filtered"}}
    assert not list(B.content_filter(_ex(400, ok)))
    assert not list(
        B.content_filter(
            _ex(200, {"choices": [{"index": 0, "finish_reason": "content_filter", "message": {}}]})
        )
    )
    (f,) = B.content_filter(_ex(200, {"choices": [{"index": 0, "finish_reason": "stop"}]}))
    assert "without any content-filter signal" in f.message
    assert "server error" in next(iter(B.content_filter(_ex(500)))).message
    (f,) = B.content_filter(_ex(400, {"error": {"code": "bad_request", "message": "m"}}))
    assert f.value == '"bad_request"'
    rest_ref = {
        "status": 400,
        "code": "content_filter",
        "message": "The response was filtered",
        "param": "messages",
        "type": None,
    }
    (f,) = B.content_filter(_ex(400, rest_ref))
    assert f.variant == "rest-reference-top-level"
    assert apply_profile([f], "azure", "model-inference")[0].level == Level.WARNING
    (f,) = B.content_filter(_ex(400, rest_ref))
    assert apply_profile([f], "strict", "model-inference")[0].level == Level.VIOLATION


def test_stream_consistency_tool_followup_and_base64() -> None:
    a, b = _ex(200, {}), _ex(200, {})
    assert not list(B.stream_consistency(a, b, streamed_text="x y", plain_text="x y"))
    (f,) = B.stream_consistency(a, b, streamed_text="x", plain_text="y")
    assert apply_profile([f], "strict", "model-inference")[0].level == Level.WARNING
    assert not list(B.tool_followup(_ex(200, {})))
    assert ids(B.tool_followup(_ex(400))) == ["CHAT-TOOL-FOLLOWUP"]
    assert not list(B.base64_agrees(a, [[0.5, 0.25]], [[0.5, 0.25]]))
    (f,) = B.base64_agrees(a, [[0.5, 0.25]], [[0.5, 0.75]])
    assert f.path == "$.data[0].embedding"


def test_transport_errors_are_findings() -> None:
    ex = _ex(200, {})
    ex.response = None
    ex.error = "timeout: read timed out after 30s"
    (f,) = B.auth_missing(ex)
    assert "timeout" in f.message and f.path == "transport"


@pytest.mark.parametrize("rule_id", sorted(r.id for r in behaviour_rules()))
def test_behaviour_rules_cite_a_source(rule_id: str) -> None:
    rule = get_rule(rule_id)
    assert rule is not None and rule.source and rule.statement.endswith(".")


def test_operation_served() -> None:
    assert not list(B.operation_served(_ex(200, {}), claimed_by_name=True))
    assert not list(B.operation_served(_ex(400), claimed_by_name=True))  # served, refused: other rules judge that
    named = list(B.operation_served(_ex(404, {"error": {"code": "NotFound", "message": "m"}}), claimed_by_name=True))
    assert ids(named) == ["OPERATION-SERVED"] and named[0].level == Level.VIOLATION
    assert "answered 404 (code NotFound)" in named[0].message and "getChatCompletions" in named[0].message
    by_glob = list(B.operation_served(_ex(404, None), claimed_by_name=False))
    assert ids(by_glob) == ["OPERATION-SERVED"] and by_glob[0].level == Level.WARNING
