"""The validate-traffic pipeline: spec choice, unmatched routes, exit codes, JUnit, command line."""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.runner.offline import (
    TrafficUsageError,
    add_arguments,
    main,
    nearest_version,
    validate_traffic,
)
from tests.paths import DATA as _DATA
from tests.paths import shared

DATA = _DATA / "traffic"
BASE = "https://example-resource.services.ai.azure.com/models"


def _chat(
    created: int = 1718000000, api_version: str = "2025-04-01", path: str = "/chat/completions"
) -> dict:
    return {
        "request": {
            "method": "POST",
            "url": f"{BASE}{path}?api-version={api_version}",
            "headers": {"Content-Type": "application/json", "api-key": "offline-secret-0006"},
            "body": {"messages": [{"role": "user", "content": "hi"}]},
        },
        "response": {
            "status": 200,
            "headers": {"Content-Type": "application/json"},
            "body": {
                "id": "c1",
                "object": "chat.completion",
                "created": created,
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "hello"},
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        },
    }


def _write(path: Path, *records: dict) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_nearest_version_prefers_closest_date_then_older_then_ga() -> None:
    versions = ["2024-05-01-preview", "2025-04-01", "2025-05-01"]
    assert nearest_version("2025-04-10", versions) == "2025-04-01"
    assert nearest_version("2025-04-20", versions) == "2025-05-01"
    assert nearest_version("2025-04-16", versions) == "2025-04-01"  # 15 days each way: the older one
    assert nearest_version("2023-01-01", versions) == "2024-05-01-preview"
    assert nearest_version("2030-01-01", versions) == "2025-05-01"
    assert nearest_version("latest", versions) == "2025-05-01"


def test_conformant_traffic_passes_and_writes_all_reports(tmp_path: Path) -> None:
    traffic = _write(tmp_path / "ok.jsonl", _chat())
    results, code = validate_traffic([traffic], report_dir=tmp_path / "r")
    assert code == 0 and results.summary.verdict == "conformant"
    s = results.summary
    assert (s.requests, s.target.depth, s.target.api, s.target.api_version) == (
        1,
        "traffic",
        "model-inference",
        "2025-04-01",
    )
    assert s.target.endpoint_host == "recorded traffic (1 file): example-resource.services.ai.azure.com"
    assert s.spec_file == "specs/model-inference/2025-04-01/openapi.yaml" and len(s.spec_sha256) == 64
    assert s.tokens == {"prompt": 1, "completion": 1, "total": 2}
    assert {p.name for p in (tmp_path / "r").iterdir()} >= {"report.html", "results.json", "junit.xml"}
    for name in ("report.html", "results.json", "junit.xml"):
        assert "offline-secret-0006" not in (tmp_path / "r" / name).read_text(encoding="utf-8")


def test_violation_is_named_by_rule_path_and_value_in_results_and_junit(tmp_path: Path) -> None:
    bad = _chat(created=18)  # 1970: CHAT-CREATED
    traffic = _write(tmp_path / "bad.jsonl", _chat(), bad)
    results, code = validate_traffic([traffic], profile="strict", report_dir=tmp_path / "r")
    assert code == 1 and results.summary.verdict == "not conformant"
    (row,) = [r for r in results.results if r.outcome == "violation"]
    assert (row.rule_id, row.operation_id) == ("CHAT-CREATED", "getChatCompletions")
    (finding,) = row.findings
    assert finding["test"] == "bad.jsonl#line[2]" and finding["path"] == "$.created"
    suite = ET.parse(tmp_path / "r" / "junit.xml").getroot()
    failures = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failures] == [
        ("traffic.getChatCompletions", "bad.jsonl#line[2]::CHAT-CREATED")
    ]
    text = failures[0].find("failure").text
    assert "[CHAT-CREATED] violation" in text and "at: $.created" in text
    assert suite.get("failures") == "1" and int(suite.get("tests")) == len(list(suite.iter("testcase")))


def _aoai_completion_without_logprobs() -> dict:
    return {
        "request": {
            "method": "POST",
            "url": "https://example.openai.azure.com/openai/deployments/d/completions?api-version=2024-10-21",
            "headers": {"Content-Type": "application/json"},
            "body": {"prompt": "hi", "max_tokens": 4, "logprobs": 1},
        },
        "response": {
            "status": 200,
            "headers": {"Content-Type": "application/json"},
            "body": {"id": "c2", "object": "text_completion", "created": 1718000000, "model": "m",
                     "choices": [{"index": 0, "text": " there", "finish_reason": "stop", "logprobs": None}]},
        },
    }


def test_traffic_of_both_apis_is_judged_by_each_apis_own_rules(tmp_path: Path) -> None:
    traffic = _write(tmp_path / "both.jsonl", _chat(), _aoai_completion_without_logprobs())
    results, code = validate_traffic([traffic], report_dir=tmp_path / "r")
    assert results.summary.target.api == "azure-openai, model-inference"
    violations = {(r.rule_id, r.operation_id) for r in results.results if r.outcome == "violation"}
    assert ("COMPLETIONS-LOGPROBS", "Completions_Create") in violations, violations  # an Azure OpenAI rule
    assert code == 1


def test_unmatched_routes_and_unvendored_versions_are_reported(tmp_path: Path) -> None:
    traffic = _write(tmp_path / "t.jsonl", _chat(path="/v2/unknown"), _chat(api_version="2025-04-10"))
    results, code = validate_traffic([traffic], report_dir=tmp_path / "r")
    (na,) = [r for r in results.results if r.outcome == "not_applicable"]
    assert na.rule_id == "*" and na.operation_id == "POST /models/v2/unknown"
    assert na.reason == "no operation of model-inference 2025-04-01 matches POST /models/v2/unknown"
    assert (
        results.summary.target.api_version
        == "2025-04-01 (nearest vendored spec for recorded api-version 2025-04-10)"
    )
    assert code == 0


def test_waivers_turn_violations_into_waived(tmp_path: Path) -> None:
    traffic = _write(tmp_path / "bad.jsonl", _chat(created=18))
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n  - rule: CHAT-CREATED\n    operation: getChatCompletions\n    reason: known, fix shipping\n"
    )
    results, code = validate_traffic([traffic], report_dir=tmp_path / "r", waivers=waivers)
    assert code == 0
    assert [r.outcome for r in results.results if r.rule_id == "CHAT-CREATED"] == ["waived"]
    junit = (tmp_path / "r" / "junit.xml").read_text(encoding="utf-8")
    assert 'name="waived" value="known, fix shipping"' in junit and "<failure" not in junit


def test_input_and_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results, code = validate_traffic([DATA / "broken.json"], report_dir=tmp_path / "r")
    assert code == 2 and results.summary.verdict == "incomplete"
    assert results.capabilities["traffic"]["unreadable"][0].startswith("broken.json: not valid JSON")
    with pytest.raises(TrafficUsageError, match="not vendored"):
        validate_traffic([DATA], api="model-inference", api_version="1999-01-01", report_dir=tmp_path / "r")

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert main(parser.parse_args([str(DATA / "info.json"), "--report-dir", str(tmp_path / "c")])) == 0
    out = capsys.readouterr().out
    assert "1 exchange from" in out
    assert out.splitlines()[-1].startswith("CONFORMANT (azure profile): 0 violations")  # the verdict, last
    assert (
        main(
            parser.parse_args(
                [
                    str(DATA),
                    "--api",
                    "azure-openai",
                    "--api-version",
                    "2025-04-01",
                    "--report-dir",
                    str(tmp_path / "c"),
                ]
            )
        )
        == 2
    )
    assert "not vendored for azure-openai" in capsys.readouterr().err


def test_whole_corpus_runs_through_the_pipeline(tmp_path: Path) -> None:
    CORPUS = shared("corpus")
    results, code = validate_traffic([CORPUS], profile="azure", report_dir=tmp_path / "r")
    files = len(list(CORPUS.glob("*.json")))
    assert results.summary.requests == files and results.capabilities["traffic"]["unreadable_count"] == 0
    assert code in (0, 1) and results.summary.verdict in ("conformant", "not conformant")
    versions = results.summary.target.api_version
    assert versions.startswith("azure-openai 2024-04-01-preview (nearest vendored spec for recorded api-version ")
    assert "2024-10-21" in versions
    suite = ET.parse(tmp_path / "r" / "junit.xml").getroot()
    assert int(suite.get("tests")) > files
