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
from conformance.rules.streaming import FILTER_ANNOTATION_CHUNK, PROMPT_FILTER_CHUNK, annotation_kind

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
    with pytest.raises(ValueError, match="known: azure-openai-streams, sparse"):
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


def _violations(report_dir: Path) -> list[str]:
    data = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    return [f"{r['rule_id']} on {r['operation_id']}: {(r['findings'] or [{}])[0].get('message', '')}"
            for r in data["results"] if r["outcome"] == "violation"]


@pytest.mark.slow
@pytest.mark.parametrize("api", ["model-inference", "azure-openai"])
@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_no_false_alarm_against_any_persona(tmp_path: Path, persona: str, api: str) -> None:
    """In strict (an azure run can only have fewer violations: its profile downgrades, never raises)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    report_dir = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "run", "--api", api, "--profile", "strict", "--depth", "smoke",
         "--persona", persona, "--report-dir", str(report_dir)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path, check=False,
    )
    assert (report_dir / "results.json").is_file(), proc.stdout[-2000:] + proc.stderr[-2000:]
    assert _violations(report_dir) == []
    assert proc.returncode == 0, proc.stdout[-2000:]
