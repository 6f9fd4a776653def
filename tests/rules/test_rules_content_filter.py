"""Azure OpenAI content-filter annotations (every documented form) and the content_filter error's inner error."""

from __future__ import annotations

from typing import Any

from conformance.rules._model import Level
from tests.rules.helpers import applied, exchange, judge, of

AOAI = "azure-openai"
SAFE = {"filtered": False, "severity": "safe"}
NO = {"filtered": False, "detected": False}


def answer(choice_results: dict, prompt_results: dict | None = None, key: str = "content_filter_results") -> dict:
    return {"id": "c", "object": "chat.completion", "created": 1735689600, "model": "m",
            "prompt_filter_results": [{"prompt_index": 0, key: prompt_results or {"hate": SAFE}}],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hi"},
                         "content_filter_results": choice_results}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def ex(body: dict, status: int = 200) -> Any:
    return exchange("ChatCompletions_Create", {"messages": [{"role": "user", "content": "Hi"}]}, status=status,
                    body=body, api=AOAI)


def test_every_documented_form_is_accepted() -> None:
    choice = {"hate": SAFE, "sexual": SAFE, "violence": SAFE, "self_harm": SAFE, "profanity": NO,
              "protected_material_text": NO,
              "protected_material_code": {**NO, "citation": {"URL": "https://github.com/x/y", "license": "MIT"}},
              "ungrounded_material": {**NO, "details": [{"completion_start_offset": 0, "completion_end_offset": 5}]},
              "custom_blocklists": [{"filtered": False, "id": "list"}],
              "custom_topics": {"filtered": False, "details": [{"detected": False, "id": "topic"}]},
              "brand_new_category": {"anything": 1}}
    prompt = {"jailbreak": NO, "indirect_attack": NO, "custom_blocklists": {"filtered": False, "details": []}}
    found = judge(ex(answer(choice, prompt, key="content_filter_result")), api=AOAI, profile="azure")
    assert of(found, "AOAI-FILTER-ANNOTATIONS") == []
    assert [f for f in found if f.level == Level.VIOLATION] == []
    assert "AOAI-FILTER-ANNOTATIONS" in applied(ex(answer({})), AOAI)
    assert "AOAI-FILTER-ANNOTATIONS" not in applied(ex(answer({})), "model-inference")
    errored = {"error": {"code": "content_filter_error", "message": "The filter timed out."}}
    assert of(judge(ex(answer(errored)), api=AOAI), "AOAI-FILTER-ANNOTATIONS") == []


def test_malformed_categories_are_named_at_their_path() -> None:
    [f] = of(judge(ex(answer({"ungrounded_material": {"filtered": False, "detected": "no"}})), api=AOAI),
             "AOAI-FILTER-ANNOTATIONS")
    assert f.path == "$.choices[0].content_filter_results.ungrounded_material.detected" and f.value == '"no"'
    [f] = of(judge(ex(answer({}, {"custom_blocklists": [{"filtered": True}]}, key="content_filter_result")),
                   api=AOAI), "AOAI-FILTER-ANNOTATIONS")
    assert f.path == "$.prompt_filter_results[0].content_filter_result.custom_blocklists[0].id"
    [f] = of(judge(ex(answer({"hate": {"filtered": "false", "severity": "safe"}})), api=AOAI),
             "AOAI-FILTER-ANNOTATIONS")
    assert f.path.endswith("hate.filtered")


def _cf_error(inner: Any, key: str = "innererror") -> dict:
    err: dict[str, Any] = {"code": "content_filter", "message": "filtered", "param": "prompt", "status": 400}
    if inner is not None:
        err[key] = inner
    return {"error": err}


def test_content_filter_inner_error() -> None:
    real = {"code": "ResponsibleAIPolicyViolation",
            "content_filter_result": {"hate": SAFE, "jailbreak": NO, "self_harm": {"filtered": True, "severity": "medium"}}}
    assert of(judge(ex(_cf_error(real), 400), api=AOAI), "AOAI-CONTENT-FILTER-INNER") == []
    spec = {"code": "ResponsibleAIPolicyViolation", "content_filter_results": {"custom_blocklists": [
        {"filtered": True, "id": "list"}]}}
    assert of(judge(ex(_cf_error(spec, "inner_error"), 400), api=AOAI), "AOAI-CONTENT-FILTER-INNER") == []
    [f] = of(judge(ex(_cf_error(None), 400), api=AOAI), "AOAI-CONTENT-FILTER-INNER")
    assert f.level == Level.WARNING and f.variant == "no-inner-error"
    unfiltered = {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {"hate": SAFE}}
    [f] = of(judge(ex(_cf_error(unfiltered), 400), api=AOAI), "AOAI-CONTENT-FILTER-INNER")
    assert f.level == Level.VIOLATION and f.path == "$.error.innererror.content_filter_result"
    [f] = of(judge(ex(_cf_error({**real, "code": 7}), 400), api=AOAI), "AOAI-CONTENT-FILTER-INNER")
    assert f.path == "$.error.innererror.code"
    other = {"error": {"code": "invalid_request", "message": "m"}}
    assert "AOAI-CONTENT-FILTER-INNER" not in applied(ex(other, 400), AOAI)
