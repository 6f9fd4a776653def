"""Record → save → replay: traffic recorded from the reference deployment passes validate-traffic, and
traffic recorded from a faulted reference is caught by the rules that name the fault.

This is the `conformance run --save-traffic` round trip: live exchanges from the real client are
written with `dump_exchange` as JSON lines and judged offline by the same rules.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.runner.offline import validate_traffic
from conformance.traffic import dump_exchange
from conformance.transport.exchange import Exchange

reference = pytest.importorskip("conformance.reference", reason="reference deployment module not available")
client_mod = pytest.importorskip("conformance.transport.client", reason="conformance.transport.client not available")
from conformance.config import resolve_config  # noqa: E402
from conformance.reference.faults import FAULTS  # noqa: E402

CAUGHT = ("chat-missing-id", "stream-no-done", "usage-sum-wrong", "emb-count-short")


def record(faults: tuple[str, ...] = ()) -> tuple[list[Exchange], str]:
    """A small, representative session against the reference: chat, stream, embeddings, info, a 400.

    Returns the exchanges and the key that was presented (to prove it never reaches a file).
    """
    exchanges: list[Exchange] = []
    with reference.running_reference(faults=faults) as srv:
        config = resolve_config(
            {"endpoint": srv.endpoint("model-inference"), "api_key": srv.api_key}, None, {}
        )
        client = client_mod.TargetClient(config, recorder=exchanges.append)
        messages = [{"role": "user", "content": "Say hello in three words."}]
        client.request(
            "POST",
            "/chat/completions",
            json={"messages": messages, "max_tokens": 20},
            purpose="positive: chat",
        )
        client.request(
            "POST",
            "/chat/completions",
            json={"messages": messages, "stream": True},
            purpose="positive: stream",
        )
        client.request(
            "POST", "/embeddings", json={"input": ["one", "two", "three"]}, purpose="positive: embeddings"
        )
        client.request("GET", "/info", purpose="positive: info")
        client.request(
            "POST", "/chat/completions", json={"max_tokens": 5}, purpose="negative: missing messages"
        )
        key = srv.api_key
    return exchanges, key


def replay(exchanges: list[Exchange], tmp_path: Path, profile: str = "azure") -> tuple[object, int, Path]:
    traffic = tmp_path / "saved.jsonl"
    traffic.write_text("".join(json.dumps(dump_exchange(x)) + "\n" for x in exchanges), encoding="utf-8")
    results, code = validate_traffic([traffic], profile=profile, report_dir=tmp_path / "reports")
    return results, code, traffic


@pytest.mark.parametrize("profile", ["strict", "azure"])
def test_reference_traffic_passes_offline(tmp_path: Path, profile: str) -> None:
    exchanges, key = record()
    assert len(exchanges) == 5 and all(x.response is not None for x in exchanges)
    results, code, traffic = replay(exchanges, tmp_path, profile)

    violations = [
        f"{f['rule']} {f['test']} {f['path']}: {f['message']}"
        for r in results.results
        for f in r.findings
        if f["level"] == "violation"
    ]
    assert violations == []
    assert code == 0 and results.summary.verdict == "conformant"
    assert results.summary.requests == 5 and results.summary.target.depth == "traffic"
    passed = {(r.rule_id, r.operation_id) for r in results.results if r.outcome == "pass"}
    for pair in [
        ("SCHEMA-RESPONSE", "getChatCompletions"),
        ("SCHEMA-RESPONSE", "getEmbeddings"),
        ("SCHEMA-RESPONSE", "getModelInfo"),
        ("STREAM-DONE", "getChatCompletions"),
    ]:
        assert pair in passed
    assert results.summary.tokens["total"] > 0
    saved = traffic.read_text(encoding="utf-8")
    assert key not in saved
    assert key not in (tmp_path / "reports" / "junit.xml").read_text(encoding="utf-8")
    assert (tmp_path / "reports" / "results.json").is_file()
    assert (tmp_path / "reports" / "report.html").is_file()


@pytest.mark.parametrize("fault", CAUGHT)
def test_reference_faults_are_caught_offline(tmp_path: Path, fault: str) -> None:
    results, code, _ = replay(record((fault,))[0], tmp_path)
    expected = set(FAULTS[fault].rules)
    violated = {r.rule_id for r in results.results if r.outcome == "violation"}
    assert expected <= violated, f"{fault}: expected {sorted(expected)}, got {sorted(violated)}"
    assert code == 1 and results.summary.verdict == "not conformant"
    finding = next(f for r in results.results if r.rule_id in expected for f in r.findings)
    assert finding["test"].startswith("saved.jsonl#line[") and finding["message"]
    junit = (tmp_path / "reports" / "junit.xml").read_text(encoding="utf-8")
    assert f"::{sorted(expected)[0]}" in junit and "<failure" in junit
