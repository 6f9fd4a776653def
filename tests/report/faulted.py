"""Reports of real faulted runs, made once per test session and shared by the tests that read them.

A deep run with several faults is the page a customer gets from a badly broken target: the size
test and the browser tests both read it. Under pytest-xdist every worker would make its own, so
the first one to get the lock makes them for all (in the directory the workers share).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: Faults that fail many rules many times: repeated findings, streams, errors, auth, generated requests.
DEEP_FAULTS = (
    "usage-sum-wrong",
    "stream-no-done",
    "chat-missing-id",
    "emb-count-short",
    "error-shape-bare",
    "accept-invalid",
    "auth-any-key",
)
AOAI_FAULTS = ("usage-sum-wrong", "stream-no-done", "auth-any-key")


def _run(out: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "run", "--report-dir", str(out), "--seed", "7", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=out.parent,
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]


def faulted_reports(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> dict[str, Path]:
    """{"deep": dir, "aoai": dir}: a deep model-inference run and a smoke Azure OpenAI run, both faulted."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if worker_id != "master" else base
    dirs = {"deep": root / "faulted-deep" / "reports", "aoai": root / "faulted-aoai" / "reports"}
    with open(root / "faulted-reports.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "faulted-reports.done").exists():
            for d in dirs.values():
                d.parent.mkdir(parents=True, exist_ok=True)
            faults = [a for f in DEEP_FAULTS for a in ("--fault", f)]
            _run(dirs["deep"], "--depth", "deep", *faults)
            faults = [a for f in AOAI_FAULTS for a in ("--fault", f)]
            _run(dirs["aoai"], "--api", "azure-openai", "--depth", "smoke", *faults)
            (root / "faulted-reports.done").write_text("made\n")
    return dirs
