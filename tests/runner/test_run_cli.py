"""`conformance run` end to end, as a user runs it: exit codes, verdicts, outputs, xdist, budget."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


def run(
    *args: str, report_dir: Path, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CONFORMANCE_") and not k.startswith("PYTEST_")
    }
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", "run", "--report-dir", str(report_dir), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=report_dir.parent,
    )


def results(report_dir: Path) -> dict:
    return json.loads((report_dir / "results.json").read_text(encoding="utf-8"))


def violations(data: dict) -> list[dict]:
    return [r for r in data["results"] if r["outcome"] == "violation"]


@pytest.mark.slow
@pytest.mark.parametrize("api", ["model-inference", "azure-openai"])
@pytest.mark.parametrize("profile", ["azure", "strict"])
def test_reference_is_conformant(tmp_path: Path, api: str, profile: str) -> None:
    out = tmp_path / "reports"
    proc = run("--api", api, "--profile", profile, "--depth", "smoke", report_dir=out)
    data = results(out)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert violations(data) == []
    assert data["summary"]["verdict"] == "conformant"
    assert data["summary"]["counts"]["pass"] > 50
    assert data["summary"]["target"]["reference"] is True
    for name in ("report.html", "results.json", "junit.xml"):
        assert (out / name).stat().st_size > 0
    if api == "azure-openai":
        na = {r["operation_id"] for r in data["results"] if r["outcome"] == "not_applicable"}
        assert "Create_Assistant" in na  # offered by the spec, not by the reference: n/a, never a pass
        assert not any(
            r["outcome"] == "pass" and r["operation_id"] == "Create_Assistant" for r in data["results"]
        )


@pytest.mark.slow
def test_minimal_azure_openai_target_file_is_conformant(tmp_path: Path) -> None:
    """endpoint, api and deployments only: the inference operations are tested, the rest is not claimed."""
    import yaml

    from conformance.reference import running_reference

    with running_reference() as ref:
        target = tmp_path / "aoai.yaml"
        target.write_text(yaml.safe_dump({
            "endpoint": ref.endpoint("azure-openai"), "api": "azure-openai",
            "models": {"chat": "reference-chat", "completions": "reference-instruct", "embeddings": "reference-embed"},
        }), encoding="utf-8")
        out = tmp_path / "reports"
        proc = run("--target", str(target), "--depth", "smoke", report_dir=out,
                   env={"CONFORMANCE_API_KEY": ref.api_key})
    data = results(out)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert data["summary"]["verdict"] == "conformant" and violations(data) == []
    judged = {r["operation_id"] for r in data["results"] if r["outcome"] == "pass"}
    assert {"ChatCompletions_Create", "Completions_Create", "embeddings_create"} <= judged
    unclaimed = [r for r in data["results"] if r["operation_id"] == "Create_Assistant"]
    assert unclaimed and {r["outcome"] for r in unclaimed} == {"not_applicable"}


@pytest.mark.slow
def test_reference_is_conformant_at_standard_depth(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    proc = run("--depth", "standard", "--profile", "strict", report_dir=out)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert violations(results(out)) == []


@pytest.mark.slow
def test_fault_is_reported_with_rule_operation_path_and_curl(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    proc = run("--fault", "chat-missing-id", "--depth", "smoke", "-v", report_dir=out)
    assert proc.returncode == 1, proc.stdout[-3000:]
    text = proc.stdout
    assert "[SCHEMA-RESPONSE] violation" in text
    assert "operation: getChatCompletions" in text
    assert "at: $" in text and "'id' is a required property" in text or '"id" is a required property' in text
    assert "api-key: $CONFORMANCE_API_KEY" in text
    data = results(out)
    assert data["summary"]["verdict"] == "not conformant"
    assert any(
        v["rule_id"] == "SCHEMA-RESPONSE" and v["operation_id"] == "getChatCompletions"
        for v in violations(data)
    )
    # pytest-html: the run's identity heads its environment table; long curl lines wrap.
    details = (out / "pytest-details.html").read_text(encoding="utf-8")
    blob = re.search(r'data-jsonblob="([^"]*)"', details).group(1)
    environment = json.loads(html.unescape(blob))["environment"]
    assert list(environment)[:6] == ["Target", "API", "api-version", "Profile", "Depth", "Seed"]
    assert environment["Target"].endswith("/models (embedded reference deployment)")
    assert environment["API"] == "model-inference" and environment["Profile"] == "azure"
    assert environment["Seed"].startswith(str(data["summary"]["seed"]))
    assert ".logwrapper .log" in details and "overflow-wrap: anywhere" in details


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    proc = run("--fault", "no-such-fault", report_dir=tmp_path / "r")
    assert proc.returncode == 2 and "unknown fault" in proc.stderr
    proc = run("--profile", "lenient", report_dir=tmp_path / "r")
    assert proc.returncode == 2


def test_unreachable_target_exits_3(tmp_path: Path) -> None:
    proc = run(
        "--endpoint",
        "http://127.0.0.1:9/models",
        report_dir=tmp_path / "r",
        env={"CONFORMANCE_API_KEY": "k" * 32},
    )
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "unreachable" in (proc.stdout + proc.stderr)
    # Still a report that says why nothing was judged.
    summary = results(tmp_path / "r")["summary"]
    assert summary["verdict"] == "incomplete" and summary["exit_code"] == 3
    assert "unreachable" in summary["errors"][0]
    assert "did not complete" in (tmp_path / "r" / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_xdist_same_verdict_and_shared_budget(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    proc = run("--depth", "smoke", "-n", "2", report_dir=out)
    assert proc.returncode == 0, proc.stdout[-3000:]
    data = results(out)
    assert violations(data) == [] and data["summary"]["counts"]["pass"] > 50
    out2 = tmp_path / "budget"
    proc = run("--depth", "smoke", "-n", "2", "--max-requests", "40", report_dir=out2)
    data = results(out2)
    assert data["summary"]["requests"] <= 40
    skipped = [r for r in data["results"] if r["outcome"] == "not_judged"]
    assert skipped and all("budget exhausted" in r["reason"] for r in skipped if "budget" in r["reason"])
    assert any("budget exhausted" in r["reason"] for r in skipped)
    assert proc.returncode == 1 and data["summary"]["verdict"] == "incomplete"  # the budget left rules unjudged


def test_environment_settings_apply_to_the_reference_run(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    proc = run("-k", "info", report_dir=out, env={"CONFORMANCE_PROFILE": "strict", "CONFORMANCE_DEPTH": "smoke"})
    assert proc.returncode == 0, proc.stdout[-3000:]
    target = results(out)["summary"]["target"]
    assert (target["profile"], target["depth"], target["reference"]) == ("strict", "smoke", True)


@pytest.mark.slow
def test_requests_in_flight_together_are_judged_as_one_after_another(tmp_path: Path) -> None:
    """The same seed gives the same requests, verdicts, counts and notes with one request in flight or several."""
    faults = [arg for fault in ("accept-invalid", "reject-valid", "emb-dimensions-ignored", "emb-base64-mismatch",
                                "auth-no-bearer", "extra-params-ignored") for arg in ("--fault", fault)]
    runs = {}
    for in_flight in ("1", "4"):
        out = tmp_path / f"in-flight-{in_flight}"
        proc = run("--depth", "standard", "--seed", "11", "--max-in-flight", in_flight, *faults, report_dir=out)
        assert proc.returncode == 1, proc.stdout[-3000:]
        runs[in_flight] = results(out)
    one, several = runs["1"], runs["4"]
    assert violations(one) and one["results"] == several["results"]
    for key in ("verdict", "counts", "requests", "retries", "tokens", "notes", "errors", "not_judged"):
        assert one["summary"][key] == several["summary"][key], key

    def sent(data: dict) -> list[tuple]:
        return [(x["operation"], x["purpose"], x["request"]["method"], re.sub(r"^https?://[^/]+", "", x["request"]["url"]),
                 x["request"].get("body")) for x in data["exchanges"].values()]

    assert sent(one) == sent(several)
