"""Conformant personas: each makes the other legitimate choices a real service makes, and the suite
must report no violation against any of them (faults break the contract; personas must not)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.reference import running_reference
from conformance.reference.personas import PERSONAS, check_persona_names
from conformance.rules.errors import ERROR_POINTERS
from conformance.rules.streaming import FILTER_ANNOTATION_CHUNK, PROMPT_FILTER_CHUNK, annotation_kind
from conformance.spec import load_spec
from conformance.spec.prose import PROSE, prose_violations

CHAT = {"messages": [{"role": "user", "content": "Say hello to the conformance suite"}], "max_tokens": 8}


def _post(ref: Any, api: str, body: dict[str, Any]) -> httpx.Response:
    if api == "azure-openai":
        url = ref.endpoint(api) + "/deployments/reference-chat/chat/completions?api-version=2024-10-21"
    else:
        url = ref.endpoint(api) + "/chat/completions?api-version=2025-04-01"
    return httpx.post(url, headers={"api-key": ref.api_key}, json=body, timeout=30)


def _chunks(text: str) -> list[dict[str, Any]]:
    data = [line[len("data: "):] for line in text.split("\n\n") if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


def test_unknown_persona_is_refused_with_the_known_ones() -> None:
    assert check_persona_names(["sparse"]) == frozenset({"sparse"})
    with pytest.raises(ValueError, match="known: azure-openai-streams, prose-limits, sparse"):
        check_persona_names(["nope"])
    assert all(p.description and p.source for p in PERSONAS.values())


def test_azure_openai_streams_persona_streams_like_azure_openai() -> None:
    with running_reference(personas=["azure-openai-streams"]) as ref:
        events = _chunks(_post(ref, "azure-openai", {**CHAT, "stream": True}).text)
    kinds = [annotation_kind(c) for c in events]
    assert kinds[0] == PROMPT_FILTER_CHUNK and events[0]["choices"] == []
    stop = next(i for i, c in enumerate(events) if any(ch.get("finish_reason") for ch in c.get("choices", [])))
    assert FILTER_ANNOTATION_CHUNK in kinds[1:stop], "an annotation while the content is still coming"
    assert kinds[stop + 1] == FILTER_ANNOTATION_CHUNK, "the delayed annotation after the stop chunk"
    assert "content_filter_offsets" in events[stop + 1]["choices"][0] and "delta" not in events[stop + 1]["choices"][0]
    assert events[-1]["choices"] == [] and events[-1]["usage"]["total_tokens"] > 0
    assert all(c["usage"] is None for c in events[:-1])


def test_sparse_persona_omits_what_is_optional() -> None:
    with running_reference(personas=["sparse"]) as ref:
        body = _post(ref, "azure-openai", CHAT).json()
        events = _chunks(_post(ref, "azure-openai", {**CHAT, "stream": True}).text)
    assert not {"usage", "prompt_filter_results", "system_fingerprint"} & set(body)
    assert "content_filter_results" not in body["choices"][0] and body["choices"][0]["logprobs"] is None
    assert all("role" not in ch["delta"] and "usage" not in c for c in events for ch in c["choices"])


#: Per prose constraint: where it is sent (API, api-version, operation, path under the API's endpoint) and a
#: schema-valid body that breaks it. Azure OpenAI at 2024-04-01-preview, where the completions ranges are
#: prose only (they are schema limits in 2024-10-21).
_AOAI = "2024-04-01-preview"
_AOAI_CHAT = ("azure-openai", _AOAI, "ChatCompletions_Create", "/deployments/reference-chat/chat/completions")
_AOAI_COMPLETIONS = ("azure-openai", _AOAI, "Completions_Create", "/deployments/reference-instruct/completions")
_AOAI_EMBED = ("azure-openai", _AOAI, "embeddings_create", "/deployments/reference-embed/embeddings")
_MI = "2025-05-01"
_PROMPT = {"prompt": "Say hello", "max_tokens": 8}
BREAKING: dict[str, tuple[tuple[str, str, str, str], dict[str, Any]]] = {
    "AOAI-TOP-LOGPROBS-NEEDS-LOGPROBS": (_AOAI_CHAT, {**CHAT, "top_logprobs": 2}),
    "AOAI-ENCODING-FORMAT": (_AOAI_EMBED, {"input": "hello", "encoding_format": "int8"}),
    "AOAI-EMBEDDINGS-INPUT-TEXT": (_AOAI_EMBED, {"input": ""}),
    "AOAI-COMPLETIONS-LOGPROBS-RANGE": (_AOAI_COMPLETIONS, {**_PROMPT, "logprobs": 6}),
    "AOAI-COMPLETIONS-PRESENCE-PENALTY": (_AOAI_COMPLETIONS, {**_PROMPT, "presence_penalty": -2.5}),
    "AOAI-COMPLETIONS-FREQUENCY-PENALTY": (_AOAI_COMPLETIONS, {**_PROMPT, "frequency_penalty": 3}),
    "AOAI-COMPLETIONS-TEMPERATURE": (_AOAI_COMPLETIONS, {**_PROMPT, "temperature": 2.5}),
    "AOAI-COMPLETIONS-TOP-P": (_AOAI_COMPLETIONS, {**_PROMPT, "top_p": 1.5}),
    "AOAI-COMPLETIONS-N-RANGE": (_AOAI_COMPLETIONS, {**_PROMPT, "n": 129}),
    "AOAI-COMPLETIONS-MAX-TOKENS-MIN": (_AOAI_COMPLETIONS, {**_PROMPT, "max_tokens": -1}),
    "AOAI-COMPLETIONS-STOP-COUNT": (_AOAI_COMPLETIONS, {**_PROMPT, "stop": ["a", "b", "c", "d", "e"]}),
    "AOAI-COMPLETIONS-PROMPT-COUNT": (_AOAI_COMPLETIONS, {**_PROMPT, "prompt": []}),
    "AOAI-COMPLETIONS-BEST-OF": (_AOAI_COMPLETIONS, {**_PROMPT, "best_of": 1, "n": 1}),
    "MI-EMBEDDINGS-INPUT-TEXT": (("model-inference", _MI, "getEmbeddings", "/embeddings"), {"input": []}),
    "MI-IMAGE-EMBEDDINGS-INPUT": (("model-inference", _MI, "getImageEmbeddings", "/images/embeddings"),
                                  {"input": [{"image": "https://example.com/cat.png"}]}),
    "MI-USER-SECURITY-CONTEXT": (("model-inference", _MI, "getChatCompletions", "/chat/completions"),
                                 {**CHAT, "user_security_context": {"source_ip": "10.0.0.256"}}),
}


def test_every_prose_constraint_has_a_breaking_request() -> None:
    assert set(BREAKING) == {c.id for c in PROSE}


@pytest.fixture(scope="module")
def prose_limits() -> Any:
    with running_reference(personas=["prose-limits"]) as ref:
        yield ref


@pytest.mark.parametrize("constraint", PROSE, ids=lambda c: c.id)
def test_prose_limits_persona_refuses_what_the_prose_forbids(prose_limits: Any, constraint: Any) -> None:
    """A request valid per the schema that breaks one sentence is refused the way its API refuses an
    invalid value, in its API's error shape, naming the parameter and the sentence."""
    (api, version, operation_id, path), body = BREAKING[constraint.id]
    spec = load_spec(api, version)
    assert [i for i in spec.validate_request(operation_id, body) if getattr(i, "level", "error") == "error"] == []
    [why] = prose_violations(api, operation_id, body)
    assert why.startswith(f"{constraint.id}: ")
    refusal = httpx.post(f"{prose_limits.endpoint(api)}{path}?api-version={version}",
                         headers={"api-key": prose_limits.api_key}, json=body, timeout=30)
    assert refusal.status_code == (422 if api == "model-inference" else 400), refusal.text
    assert refusal.headers["content-type"] == "application/json"
    assert spec.validate(ERROR_POINTERS[api], refusal.json()) == [], "the refusal is in the API's error shape"
    error = refusal.json()["error"]
    assert error["code"] == "invalid_value" == refusal.headers["x-ms-error-code"]
    assert f"'{constraint.param}'" in error["message"] and constraint.sentence in error["message"]
    if api == "azure-openai":
        assert error["param"] == constraint.param and error["type"] == "invalid_request_error"
    else:
        assert error["target"] == constraint.param
        assert error["details"] == [{"code": "invalid_value", "message": why.split(": ", 1)[1],
                                     "target": constraint.param}]


def test_prose_limits_persona_answers_what_the_prose_allows(prose_limits: Any) -> None:
    url = prose_limits.endpoint("azure-openai") + "/deployments/reference-chat/chat/completions?api-version=2024-10-21"
    ok = httpx.post(url, headers={"api-key": prose_limits.api_key},
                    json={**CHAT, "top_logprobs": 2, "logprobs": True}, timeout=30)
    assert ok.status_code == 200, ok.text


def _alarms(report_dir: Path) -> list[str]:
    """Violations and warnings: against a conformant persona every one is a false alarm."""
    data = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    return [f"{r['outcome']} {r['rule_id']} on {r['operation_id']}: {(r['findings'] or [{}])[0].get('message', '')}"
            for r in data["results"] if r["outcome"] in ("violation", "warning")]


@pytest.mark.slow
@pytest.mark.parametrize("api", ["model-inference", "azure-openai"])
@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_no_false_alarm_against_any_persona(tmp_path: Path, persona: str, api: str) -> None:
    """In strict (an azure run can only have fewer violations: its profile downgrades, never raises);
    warnings count too (the seed sweep runs every persona at standard depth in both profiles)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    report_dir = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "run", "--api", api, "--profile", "strict", "--depth", "smoke",
         "--persona", persona, "--report-dir", str(report_dir)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path, check=False,
    )
    assert (report_dir / "results.json").is_file(), proc.stdout[-2000:] + proc.stderr[-2000:]
    assert _alarms(report_dir) == []
    assert proc.returncode == 0, proc.stdout[-2000:]
