"""The example workflows run as written: valid GitHub Actions workflows (checked against the workflow
schema by check-jsonschema, offline), installing the suite from its repository, calling only options
the `conformance` command has."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.cli import build_parser, parse_run
from tests.paths import REPO

WORKFLOWS = sorted((REPO / "examples").glob("*.yml"))


def _steps(workflow: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def _commands(script: str) -> list[list[str]]:
    """`conformance ...` command lines of a run script (folded `>` blocks and `\\` continuations joined)."""
    joined = script.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line.startswith("conformance "):
            words = shlex.split(line.split(">", 1)[0])
            out.append(words[1:])
    return out


def test_there_are_example_workflows() -> None:
    assert len(WORKFLOWS) >= 2


def test_example_workflows_validate_against_the_github_workflow_schema() -> None:
    pytest.importorskip("check_jsonschema", reason="check-jsonschema is in the dev extra")
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_example_installs_the_suite_from_its_repository(workflow: Path) -> None:
    doc = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    installs = [s["run"] for s in _steps(workflow) if "pip install" in s.get("run", "")]
    assert installs, "the workflow installs the suite"
    source = doc.get("env", {}).get("CONFORMANCE_SUITE", "")
    assert source.startswith("git+https://") and "@" in source.rsplit("/", 1)[-1], source
    assert all("$CONFORMANCE_SUITE" in run for run in installs), installs


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_example_commands_exist(workflow: Path) -> None:
    parser, _ = build_parser()
    found = 0
    for step in _steps(workflow):
        for words in _commands(step.get("run", "")):
            found += 1
            if words[0] == "run":
                args, passthrough = parse_run(words)
                assert passthrough == [], f"{workflow.name}: options `conformance run` does not have: {passthrough}"
            else:
                parser.parse_args(words)  # exits (SystemExit) on an unknown option
    assert found, f"{workflow.name} calls no conformance command"
