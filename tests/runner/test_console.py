"""The console of `conformance run`: a header naming the target, one line per failing rule, and the
failing rules with their counts and the verdict at the very end; `--` hands arguments to pytest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cli import parse_run, workers_for
from conformance.runner.options import DEFAULT_WORKERS, OPTIONS, to_pytest_args


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conformance.cli", "run", *args], capture_output=True, text=True,
                          timeout=240, env=_env(), cwd=tmp_path)


@pytest.mark.slow
def test_faulted_run_console_is_short_and_ends_with_the_failing_rules_and_the_verdict(tmp_path: Path) -> None:
    proc = _run(tmp_path, "--fault", "chat-missing-id", "--fault", "stream-no-done", "--depth", "smoke",
                "--seed", "11", "--report-dir", "out")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    lines = proc.stdout.rstrip("\n").splitlines()
    assert len(lines) < 40, proc.stdout
    header = "\n".join(lines[:2])
    for part in ("azure-inference-conformance", "target 127.0.0.1:", "/models (embedded reference deployment)",
                 "api model-inference", "api-version 2025-04-01", "profile azure", "depth smoke",
                 "budget ", "seed 11"):
        assert part in header, header
    live = [line for line in lines if line.startswith("FAIL ")]
    assert {line.split()[1] for line in live} == {"[SCHEMA-RESPONSE]", "[STREAM-DONE]"}, proc.stdout
    assert not lines[2].startswith("[conformance]"), proc.stdout  # progress lines only for long runs
    assert lines[-1].startswith("NOT CONFORMANT (azure profile): ")
    tail = "\n".join(lines[-8:])
    assert "failing rules (2" in tail
    assert "SCHEMA-RESPONSE  1 operation," in tail and "STREAM-DONE" in tail
    assert "out/report.html" in tail and "out/junit.xml" in tail and "out/pytest-details.html" in tail
    # The details are in the report, not on the console (-v shows them: tests/runner/test_run_cli.py).
    assert "reproduce: curl" not in proc.stdout


@pytest.mark.slow
def test_double_dash_hands_the_rest_to_pytest(tmp_path: Path) -> None:
    proc = _run(tmp_path, "--depth", "smoke", "--report-dir", "out", "--", "--junitxml", "mine.xml",
                "-k", "test_unknown_api_version_is_refused and getModelInfo")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "testcase" in (tmp_path / "mine.xml").read_text(encoding="utf-8")
    assert not (tmp_path / "out" / "junit.xml").exists()  # the user's --junitxml replaces ours
    assert json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["summary"]["verdict"]


@pytest.mark.slow
def test_plugin_route_writes_the_same_outputs_as_conformance_run(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "conformance.runner.suite", "-p", "no:cacheprovider", "-q",
         "--conformance-depth", "smoke", "--conformance-report-dir", "out", "-k", "getModelInfo"],
        capture_output=True, text=True, timeout=240, env=_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    for name in ("report.html", "results.json", "junit.xml", "pytest-details.html"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    assert proc.stdout.rstrip().splitlines()[-1].startswith("PARTIAL (azure profile)")  # -k left rules unjudged


def test_one_option_table_makes_both_command_lines() -> None:
    args, passthrough = parse_run(["run", "--profile", "strict", "--seed", "5", "--fault", "chat-missing-id",
                                   "--insecure", "-k", "chat", "--", "--profile"])
    assert passthrough == ["-k", "chat", "--profile"]
    pytest_args = to_pytest_args(args)
    assert pytest_args[:2] == ["--conformance-profile", "strict"]
    assert "--conformance-seed" in pytest_args and "--conformance-fault" in pytest_args
    assert "--conformance-insecure" in pytest_args
    assert all(a.startswith("--conformance-") for a in pytest_args[::2] if a.startswith("--"))
    assert {o.name for o in OPTIONS if not o.pytest} == {"workers", "parallel-targets"}


def test_workers_default_to_several_against_an_endpoint_and_none_against_the_reference(monkeypatch) -> None:
    monkeypatch.delenv("CONFORMANCE_ENDPOINT", raising=False)

    def workers(*argv: str) -> int:
        args, passthrough = parse_run(["run", *argv])
        return workers_for(args, passthrough)

    assert workers() == 0
    assert workers("--endpoint", "https://example.invalid/models") == DEFAULT_WORKERS > 1
    assert workers("--endpoint", "https://example.invalid/models", "--workers", "0") == 0
    assert workers("--endpoint", "https://example.invalid/models", "-n", "2") == 0  # pytest's own -n decides
    assert workers("--endpoint", "https://example.invalid/models", "-p", "no:xdist") == 0
    assert workers("--workers", "3") == 3
    monkeypatch.setenv("CONFORMANCE_ENDPOINT", "https://example.invalid/models")
    assert workers() == DEFAULT_WORKERS
