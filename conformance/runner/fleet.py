"""Several targets in one command: one `conformance run` process per target file, a bounded number at
a time, then a fleet summary (`fleet.json`, `fleet.html`) over what they wrote.

Each target runs in its own process with its own budget, report folder (`<report-dir>/<name>/`,
the name being the target file's stem) and credential (the variable its target file names in
`api_key_env`, read by the child's own configuration loader: the key never passes through
arguments). A target that fails to start (unreadable file, missing credential) is reported and
does not stop the others. The exit code is the highest of the targets' exit codes (0 conformant,
1 violations or incomplete, 2 usage or configuration error, 3 unreachable); a child killed by a
signal counts as 2.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from conformance.report._safe import clip, neutralise
from conformance.report.fleet import Fleet, NotRun, build_fleet
from conformance.report.fleet_html import write_fleet

#: Options of `conformance run` that name one deployment: refused with several targets.
PER_TARGET_OPTIONS = ("--endpoint", "--api-key", "--baseline", "--save-traffic")
#: Options the fleet consumes itself instead of passing them to every target.
_FLEET_OPTIONS = ("--target", "--report-dir", "--parallel-targets")
CONSOLE_NAME = "console.txt"


@dataclass
class TargetRun:
    name: str
    target_file: Path
    report_dir: Path
    exit_code: int | None = None
    duration_s: float = 0.0
    reason: str = ""  # the child's last error line when it wrote no results

    @property
    def results_file(self) -> Path:
        return self.report_dir / "results.json"


def target_names(files: Sequence[Path]) -> list[str]:
    """Report folder names: each file's stem made path-safe, numbered on a clash (a.yaml, x/a.yaml)."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for f in files:
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(f).stem).strip(".-") or "target"
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def forwarded_arguments(argv: Sequence[str]) -> list[str]:
    """`conformance run` arguments minus the ones the fleet consumes (--target, --report-dir,
    --parallel-targets, in both `--opt value` and `--opt=value` forms), in their original order; anything
    after `--` is kept verbatim."""
    out: list[str] = []
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg == "--":  # what follows belongs to pytest, verbatim
            out.extend(argv[i:])
            break
        if arg in _FLEET_OPTIONS:
            skip = True
            continue
        if any(arg.startswith(opt + "=") for opt in _FLEET_OPTIONS):
            continue
        out.append(arg)
    return out


def refused_options(argv: Sequence[str]) -> list[str]:
    return [opt for opt in PER_TARGET_OPTIONS if any(a == opt or a.startswith(opt + "=") for a in argv)]


def _exit_code(returncode: int) -> int:
    return returncode if returncode in (0, 1, 2, 3) else 2


def _last_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith(("conformance", "ERROR", "error")) or "Error" in ln:
            return clip(neutralise(ln.removeprefix("ERROR: ")), 500)
    return clip(neutralise(lines[-1]), 500) if lines else "no output"


class _Children:
    """The processes this fleet started, so an interrupt stops exactly those."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.stopping = False

    def terminate(self) -> None:
        with self.lock:
            self.stopping = True
            for p in self.procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)


def run_fleet(
    target_files: Sequence[Path],
    *,
    report_root: Path,
    parallel: int,
    forwarded: Sequence[str] = (),
    echo: Callable[[str], None] = print,
) -> tuple[list[TargetRun], int]:
    """Run every target; write the fleet summary into `report_root`; return the runs and the exit code.

    Ctrl-C stops the targets this fleet started (each writes its own interrupted report), writes the
    fleet summary of what exists, then re-raises.
    """
    report_root = Path(report_root)
    runs = [
        TargetRun(name, Path(f), report_root / name)
        for name, f in zip(target_names(target_files), target_files, strict=True)
    ]
    parallel = max(1, min(parallel, len(runs)))
    echo(f"conformance fleet: {len(runs)} targets, {parallel} at a time, reports under {report_root}/")
    children = _Children()
    finished: list[str] = []
    finished_lock = threading.Lock()

    def one(run: TargetRun) -> None:
        started = time.monotonic()
        try:
            run.report_dir.mkdir(parents=True, exist_ok=True)
            run.results_file.unlink(missing_ok=True)  # a stale file must not pass for this run's results
            console = run.report_dir / CONSOLE_NAME
            cmd = [sys.executable, "-m", "conformance.cli", "run", "--target", str(run.target_file),
                   "--report-dir", str(run.report_dir), *forwarded]
            with console.open("wb") as out:
                with children.lock:
                    if children.stopping:
                        run.exit_code, run.reason = 2, "not started: the fleet run was interrupted"
                        return
                    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                    children.procs.append(proc)
                code = proc.wait()
            run.exit_code = _exit_code(code)
            if not run.results_file.is_file():
                run.reason = _last_error(console.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:  # report folder not writable, interpreter gone: this target only
            run.exit_code, run.reason = 2, f"could not start: {exc}"
        run.duration_s = round(time.monotonic() - started, 1)
        with finished_lock:
            finished.append(run.name)
            n = len(finished)
        where = run.reason or str(run.report_dir / "report.html")
        echo(f"  [{n}/{len(runs)}] {run.name}: exit {run.exit_code} in {run.duration_s:.1f} s — {where}")

    interrupted = False
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="conformance-target") as pool:
        futures = [pool.submit(one, r) for r in runs]
        try:
            for fut in futures:
                fut.result()
        except KeyboardInterrupt:
            interrupted = True
            children.terminate()

    produced = [r for r in runs if r.results_file.is_file()]
    not_run = [
        NotRun(r.name, str(r.target_file), r.exit_code if r.exit_code is not None else 2, r.reason)
        for r in runs
        if not r.results_file.is_file()
    ]
    fleet = build_fleet(
        [r.results_file for r in produced], report_root, names=[r.name for r in produced], not_run=not_run
    )
    paths = write_fleet(fleet, report_root)
    code = max((r.exit_code if r.exit_code is not None else 2 for r in runs), default=0)
    echo(fleet_summary_text(fleet, paths["html"], code))
    if interrupted:
        raise KeyboardInterrupt
    return runs, code


def fleet_summary_text(fleet: Fleet, html_path: Path, code: int) -> str:
    """The console's last lines: one per target, worst first, then the fleet's tally and exit code."""
    lines = ["", "Fleet summary (worst first):"]
    for d in fleet.deployments:
        lines.append(f"  {d.name:24} {d.verdict:15} {d.violations:4} violations {d.warnings:4} warnings")
    for n in fleet.not_run:
        lines.append(f"  {n.name:24} {'did not run':15} exit {n.exit_code}: {n.reason}")
    tally = ", ".join(f"{c} {v}" for v, c in fleet.verdict_counts().items())
    if fleet.not_run:
        tally += (", " if tally else "") + f"{len(fleet.not_run)} did not run"
    lines.append(f"Fleet report: {html_path}")
    lines.append(f"Fleet: {tally or 'nothing ran'} -> exit {code}")
    return "\n".join(lines)
