"""Honest verdicts end to end: in every case the console, results.json, report.html, JUnit and the
process's exit code say the same thing.

Each case runs `conformance run` as a user would (a subprocess against the embedded reference or a
loopback server) at smoke depth.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from tests.hostile.servers import HOSTILE, child_env
from tests.servers import serve_raw

LABELS = {"conformant": "Conformant", "not conformant": "Not conformant", "partial": "Partial",
          "incomplete": "Incomplete"}


def _cmd(*args: str, report_dir: Path) -> list[str]:
    return [sys.executable, "-m", "conformance.cli", "run", "--depth", "smoke", "--report-dir", str(report_dir), *args]


def run(*args: str, report_dir: Path, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_cmd(*args, report_dir=report_dir), capture_output=True, text=True, timeout=timeout,
                          env=child_env(**(env or {})), cwd=report_dir.parent)


def assert_agree(proc: subprocess.CompletedProcess[str], report_dir: Path, verdict: str, exit_code: int) -> dict:
    """Console, results.json, report.html, JUnit and the exit code tell the same story; returns results.json."""
    output = proc.stdout + proc.stderr
    assert proc.returncode == exit_code, output[-3000:]
    data = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    s = data["summary"]
    assert (s["verdict"], s["exit_code"]) == (verdict, exit_code), s
    assert data["format_version"] == 2
    verdict_lines = [line for line in output.splitlines() if line.startswith(f"{verdict.upper()} (")]
    assert verdict_lines and verdict_lines[-1].endswith(f"-> exit {exit_code}"), output[-2000:]
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert f'<div class="big">{LABELS[verdict]}</div>' in page
    junit = report_dir / "junit.xml"
    if junit.exists():
        root = ET.parse(junit).getroot()
        suites = [root] if root.tag == "testsuite" else list(root)
        failures = sum(int(x.get("failures", 0)) + int(x.get("errors", 0)) for x in suites)
        if verdict in ("conformant", "partial"):
            assert failures == 0, failures  # waived and baselined tests pass
        elif verdict == "not conformant":
            assert failures > 0
    assert "Traceback (most recent call last)" not in output and "INTERNALERROR" not in output
    return data


def outcomes(data: dict, op: str) -> dict[str, str]:
    return {r["rule_id"]: r["outcome"] for r in data["results"] if r["operation_id"] == op}


# -- verdicts ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_deselected_tests_make_a_partial_run_that_names_what_was_not_judged(tmp_path: Path) -> None:
    out = tmp_path / "r"
    data = assert_agree(run("-k", "chat", report_dir=out), out, "partial", 0)
    s = data["summary"]
    assert s["deselected"] and "deselected" in s["deselected"][0]
    assert any(line.startswith("getEmbeddings: ") for line in s["not_judged"])
    assert outcomes(data, "getEmbeddings")["SCHEMA-RESPONSE"] == "not_judged"
    assert "not judged: getEmbeddings" in (out / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_full_reference_run_judges_every_rule_that_applies(tmp_path: Path) -> None:
    out = tmp_path / "r"
    data = assert_agree(run(report_dir=out), out, "conformant", 0)
    assert data["summary"]["counts"]["not_judged"] == 0
    from conformance.rules.catalogue import all_rules

    # Every rule of the API appears (judged, or not applicable with the reason), and nearly all were judged.
    seen = {r["rule_id"] for r in data["results"]}
    mine = {r.id for r in all_rules() if r.api in ("any", "model-inference")}
    assert seen == mine, seen ^ mine  # and no rule of the other API
    judged = {r["rule_id"] for r in data["results"] if r["outcome"] in ("pass", "warning")}
    unjudged = mine - judged
    assert len(unjudged) <= 4, unjudged  # e.g. RETRY-AFTER: the reference never throttles
    assert all(r["reason"] for r in data["results"] if r["outcome"] == "not_applicable")


@pytest.mark.slow
def test_an_operation_that_is_not_served_is_one_finding(tmp_path: Path) -> None:
    out = tmp_path / "r"
    data = assert_agree(run("--fault", "image-embeddings-not-served", report_dir=out), out, "not conformant", 1)
    violations = [(r["rule_id"], r["operation_id"]) for r in data["results"] if r["outcome"] == "violation"]
    assert violations == [("OPERATION-SERVED", "getImageEmbeddings")]
    image = outcomes(data, "getImageEmbeddings")
    for rule in ("AUTH-MISSING", "APIVERSION-MISSING", "EXTRA-PARAMS-ERROR", "POSITIVE-ACCEPTED", "SCHEMA-RESPONSE"):
        assert image[rule] == "not_judged", (rule, image[rule])
    reasons = {r["reason"] for r in data["results"] if r["operation_id"] == "getImageEmbeddings" and r["outcome"] == "not_judged"}
    assert reasons == {"getImageEmbeddings is not served (a valid request was answered 404)"}


def test_every_route_404_exits_3_with_a_hint_about_the_endpoint_path(tmp_path: Path) -> None:
    from conformance.reference import running_reference

    out = tmp_path / "r"
    with running_reference() as ref:
        proc = run("--endpoint", ref.base_url + "/wrong", report_dir=out, env={"CONFORMANCE_API_KEY": ref.api_key})
    data = assert_agree(proc, out, "incomplete", 3)
    assert "every operation answered 404" in proc.stdout + proc.stderr
    assert "/models" in data["summary"]["errors"][0]


# -- waivers and baselines --------------------------------------------------------------------------


@pytest.mark.slow
def test_waived_and_baselined_tests_pass_in_pytest_and_junit(tmp_path: Path) -> None:
    first = tmp_path / "first"
    failing = assert_agree(run("--fault", "chat-missing-id", report_dir=first), first, "not conformant", 1)
    assert ("SCHEMA-RESPONSE", "getChatCompletions") in {(r["rule_id"], r["operation_id"])
                                                         for r in failing["results"] if r["outcome"] == "violation"}
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - rule: SCHEMA-RESPONSE\n    operation: getChatCompletions\n"
                       "    reason: vendor ticket 4711\n  - rule: STREAM-DONE\n    reason: never matches\n",
                       encoding="utf-8")
    waived = tmp_path / "waived"
    proc = run("--fault", "chat-missing-id", "--waivers", str(waivers), report_dir=waived)
    data = assert_agree(proc, waived, "conformant", 0)
    r = next(r for r in data["results"] if (r["rule_id"], r["operation_id"]) == ("SCHEMA-RESPONSE", "getChatCompletions"))
    assert r["outcome"] == "waived" and r["reason"] == "vendor ticket 4711"
    assert [w["rule"] for w in data["summary"]["stale_waivers"]] == ["STREAM-DONE"]  # the matched one is not stale
    junit = (waived / "junit.xml").read_text(encoding="utf-8")
    assert 'name="waived" value="SCHEMA-RESPONSE on getChatCompletions: vendor ticket 4711"' in junit
    baselined = tmp_path / "baselined"
    proc = run("--fault", "chat-missing-id", "--baseline", str(first / "results.json"), report_dir=baselined)
    data = assert_agree(proc, baselined, "conformant", 0)
    assert "in baseline" in (baselined / "junit.xml").read_text(encoding="utf-8")
    diff = subprocess.run([sys.executable, "-m", "conformance.cli", "diff", str(first / "results.json"),
                           str(baselined / "results.json")], capture_output=True, text=True, timeout=60)
    assert diff.returncode == 0 and "Still failing (accepted)" in diff.stdout and "No longer judged" not in diff.stdout


def test_unknown_rule_in_waivers_exits_2_in_one_line(tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - rule: SCHEMA-RESPONS\n    reason: typo\n", encoding="utf-8")
    proc = run("--waivers", str(waivers), report_dir=tmp_path / "r")
    assert proc.returncode == 2
    assert "unknown rule 'SCHEMA-RESPONS' (did you mean SCHEMA-RESPONSE?)" in proc.stderr
    _one_line_error(proc)


def test_old_results_file_is_refused_clearly(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"format_version": 1, "summary": {}, "results": []}), encoding="utf-8")
    proc = run("--baseline", str(old), report_dir=tmp_path / "r")
    assert proc.returncode == 2 and "format_version 1 was written by an older suite version" in proc.stderr
    _one_line_error(proc)


# -- user errors: one line, exit 2 ----------------------------------------------------------------


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> None:
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output and "INTERNALERROR" not in output, output[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, proc.stderr


@pytest.mark.parametrize("key", [None, ""])
def test_missing_or_empty_key_exits_2(tmp_path: Path, key: str | None) -> None:
    env = {} if key is None else {"CONFORMANCE_API_KEY": key}
    proc = run("--endpoint", "http://127.0.0.1:9/models", report_dir=tmp_path / "r", env=env)
    assert proc.returncode == 2 and "CONFORMANCE_API_KEY" in proc.stderr
    _one_line_error(proc)


def test_entra_without_azure_identity_exits_2(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "azure"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("", encoding="utf-8")  # a plain `azure` package without `identity`
    env = {"PYTHONPATH": os.pathsep.join([str(shadow.parent), os.environ.get("PYTHONPATH", "")])}
    proc = run("--endpoint", "http://127.0.0.1:9/models", "--auth", "entra", report_dir=tmp_path / "r", env=env)
    assert proc.returncode == 2 and "azure-identity" in proc.stderr
    _one_line_error(proc)


@pytest.mark.parametrize(("text", "message"), [
    ("endpiont: http://127.0.0.1:9/models\n", "did you mean 'endpoint'?"),
    ("capabilities: {streming: true}\n", "did you mean 'streaming'?"),
])
def test_unknown_target_file_keys_exit_2(tmp_path: Path, text: str, message: str) -> None:
    target = tmp_path / "target.yaml"
    target.write_text(text, encoding="utf-8")
    proc = run("--target", str(target), report_dir=tmp_path / "r", env={"CONFORMANCE_API_KEY": "k" * 20})
    assert proc.returncode == 2 and message in proc.stderr
    _one_line_error(proc)


def test_report_dir_that_is_a_file_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("not a folder", encoding="utf-8")
    proc = run(report_dir=blocker)
    assert proc.returncode == 2 and "cannot write reports" in proc.stderr
    _one_line_error(proc)


# -- interruptions and bounds ---------------------------------------------------------------------

#: Tight limits so a dripping server costs seconds, not minutes.
TIGHT = {"connect_timeout": 2, "read_timeout": 2, "total_timeout": 2, "max_stream_seconds": 2,
         "stream_idle_timeout": 2, "max_retries": 0, "max_retry_wait": 1}


def _target(path: Path, **limits: float) -> Path:
    path.write_text(yaml.safe_dump({
        "api": "model-inference", "models": {"chat": "c", "embeddings": "e", "image_embeddings": "i"},
        "limits": {**TIGHT, **limits},
    }), encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_writes_an_incomplete_report_with_the_process_exit_code(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "r"
    with serve_raw(HOSTILE["drip"]) as server:
        target = _target(tmp_path / "t.yaml", total_timeout=30)
        proc = subprocess.Popen(_cmd("--endpoint", server.url + "/models", "--target", str(target), report_dir=out),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                                env=child_env(CONFORMANCE_API_KEY="k" * 20))
        deadline = time.monotonic() + 60
        while len(server.requests) < 2 and time.monotonic() < deadline:  # the probe, then a dripping answer
            time.sleep(0.2)
        time.sleep(1)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    data = assert_agree(done, out, "incomplete", 1)
    assert data["summary"]["interrupted"] == sig.name


@pytest.mark.slow
def test_max_duration_bounds_the_run(tmp_path: Path) -> None:
    out = tmp_path / "r"
    with serve_raw(HOSTILE["drip"]) as server:
        started = time.monotonic()
        proc = run("--endpoint", server.url + "/models", "--target", str(_target(tmp_path / "t.yaml", total_timeout=30)),
                   "--max-duration", "12", report_dir=out, env={"CONFORMANCE_API_KEY": "k" * 20}, timeout=120)
        took = time.monotonic() - started
    data = assert_agree(proc, out, "incomplete", 1)
    assert "max duration of 12 s reached" in data["summary"]["interrupted"]
    assert took < 50, took
    # While the dripping answer kept it waiting, progress said which test waited and for how long.
    assert re.search(r"\[conformance\] pre-flight: waiting \d+ s for POST /models/", proc.stdout + proc.stderr)


@pytest.mark.slow
def test_an_endless_stream_costs_one_stream_limit_per_operation(tmp_path: Path) -> None:
    out = tmp_path / "r"
    with serve_raw(HOSTILE["endless-stream"]) as server:
        # One process: each xdist worker keeps its own breakers (one stream limit per operation per worker).
        proc = run("--endpoint", server.url + "/models", "--target", str(_target(tmp_path / "t.yaml")),
                   "--workers", "0", report_dir=out, env={"CONFORMANCE_API_KEY": "k" * 20})
        streams = [r for r in server.requests if b'"stream": true' in r.body or b'"stream":true' in r.body]
    data = assert_agree(proc, out, "not conformant", 1)
    assert len(streams) == 1, len(streams)  # one chat operation, one cut stream
    assert any("never ended" in e for e in data["summary"]["errors"])
    chat = outcomes(data, "getChatCompletions")
    assert chat["STREAM-COMPLETE"] == "violation" and chat["STREAM-CONSISTENCY"] == "not_judged"
