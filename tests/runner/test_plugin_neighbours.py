"""Installing the suite leaves other pytest projects alone: with pytest-profiling (which owns
`--profile`) in the same environment, a plain project runs with both plugins loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_plain_project_runs_with_pytest_profiling_and_the_suite_installed(tmp_path: Path) -> None:
    pytest.importorskip("pytest_profiling", reason="pytest-profiling is in the dev extra")
    (tmp_path / "test_plain.py").write_text("def test_adds():\n    assert 1 + 1 == 2\n", encoding="utf-8")
    proc = _pytest(tmp_path, "--trace-config", "-q", "--profile")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "1 passed" in proc.stdout
    plugins = proc.stdout
    assert "conformance.runner.plugin" in plugins and "pytest_profiling" in plugins
    assert (tmp_path / "prof" / "combined.prof").exists()  # pytest-profiling did its job
    assert not (tmp_path / "reports").exists()  # and the suite's plugin wrote nothing
