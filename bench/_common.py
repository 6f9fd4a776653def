"""Shared plumbing for the benchmark scripts: result rows, the markdown table, the reference process.

Benchmarks are scripts, not tests: they print a table and exit nonzero only when they crash, never
because a goal was missed. `run_all.py` runs each script with `--json FILE` and merges the rows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CONFORMANCE = str(Path(sys.executable).with_name("conformance"))
#: The reference child reads its key from here, so the key never appears on a command line.
KEY_ENV = "BENCH_REFERENCE_KEY"


@dataclass
class Row:
    """One measured number, with the goal it is held against (empty goal: informational)."""

    bench: str
    metric: str
    value: str
    goal: str = ""
    met: bool | None = None

    @property
    def status(self) -> str:
        return "" if self.met is None else ("goal met" if self.met else "goal missed")


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.machine()}"


def table(rows: list[Row]) -> str:
    lines = ["| benchmark | metric | value | goal | status |", "|---|---|---|---|---|"]
    lines += [f"| {r.bench} | {r.metric} | {r.value} | {r.goal} | {r.status} |" for r in rows]
    return "\n".join(lines)


def main_wrapper(title: str, measure: Any, argv: list[str] | None = None) -> int:
    """Parse `--json`, measure, print the table; exit 1 only on a crash."""
    parser = argparse.ArgumentParser(description=title)
    parser.add_argument("--json", help="also write the rows to this file (used by run_all.py)")
    args = parser.parse_args(argv)
    rows: list[Row] = measure()
    print(f"## {title}\n\n{machine()}\n\n{table(rows)}\n")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows]), encoding="utf-8")
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_SERVE = (
    "import os; from conformance.reference.server import serve; "
    "from conformance.reference.settings import ReferenceSettings; "
    f"serve(port=int(os.environ['BENCH_PORT']), settings=ReferenceSettings(api_key=os.environ['{KEY_ENV}']))"
)


@dataclass
class Reference:
    base_url: str
    api_key: str

    def endpoint(self, api: str = "model-inference") -> str:
        return self.base_url + ("/models" if api == "model-inference" else "/openai")


@contextlib.contextmanager
def reference_process() -> Iterator[Reference]:
    """The reference in its own process, so the clients measured never share its GIL.

    `running_reference()` serves from a thread of the caller; a client loop in the same process
    would then compete with the server for the interpreter and the comparison would be unfair.
    """
    port, key = free_port(), secrets.token_hex(16)
    env = dict(os.environ, BENCH_PORT=str(port), **{KEY_ENV: key})
    proc = subprocess.Popen([PYTHON, "-c", _SERVE], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"reference process exited: {proc.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("reference process did not start within 20 s") from None
                time.sleep(0.05)
        yield Reference(base, key)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def run_conformance(args: list[str], *, workdir: Path, api_key: str | None = None, timeout: float = 600,
                    extra_env: dict[str, str] | None = None) -> tuple[float, dict[str, Any], int]:
    """Run `conformance run ...` in a fresh process; return (wall seconds, results.json summary, exit code)."""
    report_dir = workdir / "report"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
    if api_key:
        env["CONFORMANCE_API_KEY"] = api_key
    env.update(extra_env or {})
    t0 = time.perf_counter()
    proc = subprocess.run([CONFORMANCE, "run", "--report-dir", str(report_dir), *args], cwd=workdir, env=env,
                          capture_output=True, timeout=timeout)
    wall = time.perf_counter() - t0
    results = report_dir / "results.json"
    if not results.exists():
        tail = (proc.stdout + proc.stderr).decode(errors="replace")[-2000:]
        raise RuntimeError(f"conformance run {' '.join(args)} wrote no results.json (exit {proc.returncode}):\n{tail}")
    summary = json.loads(results.read_text(encoding="utf-8"))["summary"]
    return wall, summary, proc.returncode


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")
