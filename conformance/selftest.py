"""Mutation self-test: prove every verdict of the suite both ways against the reference deployment.

A conformance suite is only worth its verdicts. This script runs `conformance run` against the
UNFAULTED reference and against each of its conformant personas (`conformance.reference.personas`:
other legitimate choices of real services; every violation in these baselines is a false alarm),
and then once per named fault of
`conformance.reference.faults.FAULTS` (every fault must be "killed": at least one of the rules the
fault names must report it). Each run is a separate `conformance run` subprocess, bounded by a
timeout, so a fault that hangs or crashes the suite is reported instead of stalling the script.

    python -m conformance.selftest [--api model-inference|azure-openai|both] [--profile azure|strict|both]
                                   [--jobs 2] [--depth smoke] [--json out.json] [--faults a,b]
                                   [--personas all|none|a,b]
    python -m conformance.selftest --seeds [N] [--api ...] [--profile ...] [--depth standard]
                                   [--personas all|none|a,b]

The last line printed is exactly `killed K/N, false alarms F`; the exit code is 0 iff every fault
was killed, F == 0 and every run produced results.

With `--seeds N` (default 20) it runs no fault at all: the unfaulted reference and each chosen
persona (`--personas`, default all), at standard depth, once per seed, API and profile, and prints
the false alarms (violations and warnings; the reference and its personas are conformant, so every
one is the suite's) per seed, API/profile and persona. The last line is then exactly
`false alarms F over R runs`; the exit code is 0 iff F == 0 and every run produced results.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from conformance.constants import APIS, DEPTHS, PROFILES
from conformance.reference.faults import FAULTS, Fault
from conformance.reference.personas import PERSONAS
from conformance.rules._model import Level
from conformance.rules.catalogue import all_rules

#: A smoke run takes seconds; this only bounds a run that hangs (see docs/selftest.md for timings).
DEFAULT_TIMEOUT = 180.0
#: Fixed so that a failing self-test reproduces; pass --seed to explore other generated requests.
DEFAULT_SEED = 20250401
#: Seeds per API and profile of `--seeds` without a number.
DEFAULT_SEEDS = 20
#: The reference answers in milliseconds: tight limits bound the faults that hang or never end
#: (stream-endless) without any risk of false alarms.
SELFTEST_LIMITS = {"read_timeout": 10, "total_timeout": 15, "max_stream_seconds": 2, "stream_idle_timeout": 2,
                   "max_retry_wait": 1}
#: Environment variables that would point the child at another target or change its settings.
_CHILD_ENV_DROP = ("CONFORMANCE_",)


@dataclass(frozen=True)
class Job:
    """One `conformance run` against the reference: unfaulted when `fault` is None, as a conformant
    persona when `persona` is set (a baseline too: every violation there is a false alarm)."""

    api: str
    profile: str
    fault: str | None = None
    persona: str | None = None
    #: The run's seed when it differs from the settings' (seed sweeps).
    seed: int | None = None

    @property
    def label(self) -> str:
        who = self.fault or (f"persona-{self.persona}" if self.persona else "unfaulted")
        seed = f"#{self.seed}" if self.seed is not None else ""
        return f"{who}@{self.api}/{self.profile}{seed}"


@dataclass
class RunOutcome:
    """What one subprocess run left behind."""

    job: Job
    exit_code: int | None  # None: killed by the timeout
    duration: float
    report_dir: Path
    results: dict[str, Any] | None
    output: str = ""
    error: str | None = None  # why the run produced no usable results

    def violations(self) -> int:
        if self.results is None:
            return 0
        return int(self.results.get("summary", {}).get("counts", {}).get("violation", 0))

    def fired(self, expect: str = "violation") -> dict[str, set[str]]:
        """rule id -> "operation at path" of every finding that kills a fault expected at `expect`.

        Keyed by place, not just by rule, so that a false alarm of the unfaulted run (subtracted
        from a faulted run) cannot hide a fault the same rule reports elsewhere.
        """
        out: dict[str, set[str]] = {}
        for r in (self.results or {}).get("results", []):
            if kills(r, self.job.profile, expect):
                places = {f"{r.get('operation_id')} at {f.get('path') or '-'}" for f in r.get("findings") or [{}]}
                out.setdefault(r["rule_id"], set()).update(places)
        return out

    def alarms(self) -> list[str]:
        """Every (rule, operation) that did not pass cleanly: violations and warnings."""
        out = []
        for r in (self.results or {}).get("results", []):
            if r.get("outcome") in ("violation", "warning"):
                first = (r.get("findings") or [{}])[0]
                out.append(f"{r['outcome']} {r['rule_id']} on {r.get('operation_id')}: "
                           f"{first.get('path', '')} {first.get('message', '')}".rstrip())
        return out

    def outcomes(self) -> dict[str, set[str]]:
        """rule id -> every outcome it had in this run (over all operations)."""
        out: dict[str, set[str]] = {}
        for r in (self.results or {}).get("results", []):
            out.setdefault(r["rule_id"], set()).add(r["outcome"])
        return out


@dataclass
class FaultVerdict:
    fault: Fault
    run: RunOutcome
    #: Rules that fired in the faulted run, with the places they fired that the unfaulted run had not.
    fired: dict[str, set[str]] = field(default_factory=dict)

    @property
    def expected_fired(self) -> list[str]:
        return [r for r in self.fault.rules if r in self.fired]

    @property
    def killed(self) -> bool:
        return bool(self.expected_fired)


@dataclass
class SelftestReport:
    baselines: list[RunOutcome]
    verdicts: list[FaultVerdict]

    @property
    def false_alarms(self) -> int:
        return sum(b.violations() for b in self.baselines)

    @property
    def killed(self) -> int:
        return sum(v.killed for v in self.verdicts)

    @property
    def errors(self) -> list[str]:
        runs = self.baselines + [v.run for v in self.verdicts]
        return [f"{r.job.label}: {r.error}" for r in runs if r.error]

    @property
    def ok(self) -> bool:
        return self.killed == len(self.verdicts) and self.false_alarms == 0 and not self.errors

    def summary_line(self) -> str:
        return f"killed {self.killed}/{len(self.verdicts)}, false alarms {self.false_alarms}"

    def to_json(self) -> dict[str, Any]:
        return {
            "killed": self.killed,
            "faults": len(self.verdicts),
            "false_alarms": self.false_alarms,
            "ok": self.ok,
            "errors": self.errors,
            "baselines": [
                {
                    "api": b.job.api,
                    "profile": b.job.profile,
                    "persona": b.job.persona,
                    "exit_code": b.exit_code,
                    "duration_s": round(b.duration, 2),
                    "violations": _violation_list(b),
                    "outcomes": {k: sorted(v) for k, v in sorted(b.outcomes().items())},
                }
                for b in self.baselines
            ],
            "faults_detail": [
                {
                    "fault": v.fault.name,
                    "api": v.run.job.api,
                    "profile": v.run.job.profile,
                    "killed": v.killed,
                    "fired": {k: sorted(ops) for k, ops in sorted(v.fired.items())},
                    "expected": list(v.fault.rules),
                    "expect": v.fault.expect,
                    "expected_fired": v.expected_fired,
                    "exit_code": v.run.exit_code,
                    "duration_s": round(v.run.duration, 2),
                    "error": v.run.error,
                }
                for v in self.verdicts
            ],
        }


def kills(result: dict[str, Any], profile: str, expect: str = "violation") -> bool:
    """Whether one results.json entry counts as the rule catching a fault expected at `expect`.

    A violation always does. A warning does for a fault expected at warning level (`Fault.expect`:
    the deviation is only distinguishable as a warning), for WARNING-level rules, and in profile
    `azure` for a finding an erratum downgraded (the fault is caught, the profile just forgives it);
    otherwise, in `strict` a violation-level rule must report a violation.
    """
    outcome = result.get("outcome")
    if outcome == "violation":
        return True
    if outcome != "warning":
        return False
    if expect == "warning" or _rule_levels().get(result.get("rule_id", "")) == Level.WARNING:
        return True
    return profile == "azure" and any(f.get("erratum") for f in result.get("findings", []))


def _rule_levels() -> dict[str, Level]:
    return {r.id: r.level for r in all_rules()}


def _violation_list(run: RunOutcome) -> list[str]:
    out = []
    for r in (run.results or {}).get("results", []):
        if r.get("outcome") == "violation":
            first = (r.get("findings") or [{}])[0]
            out.append(f"{r['rule_id']} on {r.get('operation_id')}: {first.get('path', '')} {first.get('message', '')}")
    return out


# -- planning -------------------------------------------------------------------------------------


def fault_apis(fault: Fault, api_choice: str) -> list[str]:
    """The APIs a fault is exercised on.

    A fault specific to one API runs on it (with --api both or the default model-inference, so
    every fault of the table is counted; with --api azure-openai, model-inference-only faults are
    left out). A fault for "any" API runs on the chosen API, or on both with --api both.
    """
    if fault.api != "any":
        if api_choice == "azure-openai" and fault.api != "azure-openai":
            return []
        return [fault.api]
    return list(APIS) if api_choice == "both" else [api_choice]


def plan(
    api_choice: str, profiles: Sequence[str], faults: Iterable[Fault], personas: Sequence[str] = ()
) -> tuple[list[Job], list[tuple[Fault, Job]]]:
    """Baseline jobs (one per api x profile used, and one per persona there) and one job per
    (fault, api, profile)."""
    fault_jobs = [(f, Job(api, p, f.name)) for f in faults for api in fault_apis(f, api_choice) for p in profiles]
    apis = list(APIS) if api_choice == "both" else [api_choice]
    apis += [j.api for _, j in fault_jobs if j.api not in apis]
    baselines = [Job(api, p) for api in apis for p in profiles]
    baselines += [Job(api, p, persona=name) for name in personas for api in apis for p in profiles]
    return baselines, fault_jobs


# -- running --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSettings:
    depth: str = "smoke"
    timeout: float = DEFAULT_TIMEOUT
    max_requests: int | None = None
    seed: int | None = DEFAULT_SEED
    #: Extra arguments passed through to pytest (e.g. ["-k", "stream"]).
    pytest_args: tuple[str, ...] = ()
    #: A target file without endpoint: it narrows the reference's published one (limits).
    target_file: Path | None = None


def command(job: Job, report_dir: Path, settings: RunSettings) -> list[str]:
    cmd = [sys.executable, "-m", "conformance.cli", "run", "--api", job.api, "--profile", job.profile,
           "--depth", settings.depth, "--report-dir", str(report_dir)]
    if settings.target_file:
        cmd += ["--target", str(settings.target_file)]
    if job.fault:
        cmd += ["--fault", job.fault]
    if job.persona:
        cmd += ["--persona", job.persona]
    if settings.max_requests:
        cmd += ["--max-requests", str(settings.max_requests)]
    if settings.seed is not None:
        cmd += ["--seed", str(settings.seed)]
    return cmd + list(settings.pytest_args)


def child_env() -> dict[str, str]:
    """The environment without CONFORMANCE_* settings: the child must test the embedded reference."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_CHILD_ENV_DROP)}


def run_job(job: Job, work_dir: Path, settings: RunSettings) -> RunOutcome:
    """Run one `conformance run` in a subprocess; never raises for what the run did."""
    if job.seed is not None:
        settings = replace(settings, seed=job.seed)
    job_dir = work_dir / job.label.replace("@", "__").replace("/", "_").replace("#", "_")
    job_dir.mkdir(parents=True, exist_ok=True)
    # The child runs inside job_dir, so relative defaults (reports/) stay inside it too.
    report_dir = job_dir / "reports"
    started = time.monotonic()
    try:
        proc = subprocess.run(
            command(job, report_dir, settings), cwd=job_dir, env=child_env(), capture_output=True,
            timeout=settings.timeout, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = _text(exc.stdout) + _text(exc.stderr)
        return RunOutcome(job, None, time.monotonic() - started, report_dir, None, out,
                          error=f"did not finish within {settings.timeout:.0f}s")
    duration = time.monotonic() - started
    output = _text(proc.stdout) + _text(proc.stderr)
    results_file = report_dir / "results.json"
    try:
        results = json.loads(results_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        tail = " | ".join(output.strip().splitlines()[-3:])
        return RunOutcome(job, proc.returncode, duration, report_dir, None, output,
                          error=f"exit {proc.returncode}, no readable {results_file.name} ({exc}); output ends: {tail}")
    error = None
    if proc.returncode not in (0, 1):
        error = f"exit code {proc.returncode} (expected 0 or 1)"
    return RunOutcome(job, proc.returncode, duration, report_dir, results, output, error)


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", errors="replace")


def run_selftest(
    api: str = "model-inference",
    profiles: Sequence[str] = ("azure",),
    faults: Iterable[str] | None = None,
    *,
    jobs: int = 2,
    settings: RunSettings | None = None,
    work_dir: Path | None = None,
    progress: Callable[[RunOutcome], None] | None = None,
    select: bool = True,
    personas: Sequence[str] = (),
) -> SelftestReport:
    """Run the baselines (the unfaulted reference and each chosen conformant persona), then every
    chosen fault; keep run folders under `work_dir` if given.

    With `select`, a fault's run is narrowed (`-k`) to the suite tests that judged the fault's
    expected rules on the unfaulted reference, which cuts a run to a few seconds; a rule no test
    judged there (e.g. RETRY-AFTER, which only applies to 429 answers) falls back to the full run.
    """
    settings = settings or RunSettings()
    chosen = [FAULTS[name] for name in faults] if faults is not None else list(FAULTS.values())
    baseline_jobs, fault_jobs = plan(api, profiles, chosen, personas)
    with _workspace(work_dir, "conformance-selftest-", settings) as (work, settings):
        base_runs = _run_all(baseline_jobs, work, lambda job: settings, jobs, progress)
        baselines = [base_runs[j] for j in baseline_jobs]
        by_target = {(b.job.api, b.job.profile): b for b in baselines if b.job.persona is None}

        def settings_for(job: Job) -> RunSettings:
            base = by_target.get((job.api, job.profile))
            keyword = selection(FAULTS[job.fault or ""].rules, base) if select and base else None
            return replace(settings, pytest_args=(*settings.pytest_args, "-k", keyword)) if keyword else settings

        fault_runs = _run_all([j for _, j in fault_jobs], work, settings_for, jobs, progress)
        verdicts = []
        for fault, job in fault_jobs:
            run = fault_runs[job]
            base_fired = by_target[(job.api, job.profile)].fired(fault.expect)
            fired = {rule: ops - base_fired.get(rule, set()) for rule, ops in run.fired(fault.expect).items()}
            verdicts.append(FaultVerdict(fault, run, {r: ops for r, ops in fired.items() if ops}))
        return SelftestReport(baselines, verdicts)


@contextlib.contextmanager
def _workspace(work_dir: Path | None, prefix: str, settings: RunSettings) -> Iterator[tuple[Path, RunSettings]]:
    """The folder the runs write into (a temporary one, removed afterwards, unless `work_dir` is given)
    and `settings` with the self-test's bounds as the target file, unless one was chosen."""
    owned_tmp = work_dir is None
    work = Path(tempfile.mkdtemp(prefix=prefix)) if owned_tmp else Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    try:
        if settings.target_file is None:
            target = work / "selftest-target.yaml"
            target.write_text(json.dumps({"limits": SELFTEST_LIMITS}), encoding="utf-8")  # JSON is YAML
            settings = replace(settings, target_file=target)
        yield work, settings
    finally:
        if owned_tmp:
            shutil.rmtree(work, ignore_errors=True)


#: Rules no test judges on the unfaulted reference (they apply to answers it never gives), with
#: the tests that meet the faulted answer. Anything else unjudged falls back to the full run.
UNJUDGED_ON_REFERENCE = {
    # Only 429 answers are judged; rate-limit-no-retry-after throttles every 5th request.
    "RETRY-AFTER": {"test_missing_credential_is_refused", "test_wrong_credential_is_refused",
                    "test_every_claimed_credential_scheme_works"},
}


def selection(rules: Iterable[str], baseline: RunOutcome) -> str | None:
    """A `-k` expression naming the test functions that judged `rules` on `baseline`, or None
    (run everything) when any of the rules was judged by no test there."""
    names: set[str] = set()
    for rule in rules:
        tests = {t for r in (baseline.results or {}).get("results", []) if r.get("rule_id") == rule
                 for t in r.get("tests") or []} or set(UNJUDGED_ON_REFERENCE.get(rule, ()))
        if not tests:
            return None
        names |= {t.split("::")[-1].split("[")[0] for t in tests}
    return " or ".join(sorted(names)) or None


def _run_all(
    jobs_: Sequence[Job], work: Path, settings_for: Callable[[Job], RunSettings], parallel: int,
    progress: Callable[[RunOutcome], None] | None,
) -> dict[Job, RunOutcome]:
    outcomes: dict[Job, RunOutcome] = {}
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(run_job, j, work, settings_for(j)) for j in jobs_]
        for future in as_completed(futures):
            outcome = future.result()
            outcomes[outcome.job] = outcome
            if progress is not None:
                progress(outcome)
    return outcomes


# -- seed sweeps -----------------------------------------------------------------------------------


#: How a sweep's table names the run of the reference without a persona.
NO_PERSONA = "(none)"


@dataclass
class SeedSweep:
    """Unfaulted runs (the reference and its conformant personas) over many seeds: every violation or
    warning is a false alarm of the suite."""

    runs: list[RunOutcome]
    seeds: list[int]
    depth: str

    @property
    def false_alarms(self) -> int:
        return sum(len(r.alarms()) for r in self.runs)

    @property
    def errors(self) -> list[str]:
        return [f"{r.job.label}: {r.error}" for r in self.runs if r.error]

    @property
    def ok(self) -> bool:
        return self.false_alarms == 0 and not self.errors

    def per_seed(self) -> dict[int, int]:
        counts = dict.fromkeys(self.seeds, 0)
        for r in self.runs:
            counts[r.job.seed or 0] = counts.get(r.job.seed or 0, 0) + len(r.alarms())
        return counts

    def summary_line(self) -> str:
        return f"false alarms {self.false_alarms} over {len(self.runs)} runs"

    def render(self) -> str:
        """One row per seed and persona, one column per API/profile, then each alarm on its own line."""
        columns = sorted({(r.job.api, r.job.profile) for r in self.runs})
        personas = sorted({r.job.persona or "" for r in self.runs})
        by_key = {(r.job.seed, r.job.persona or "", r.job.api, r.job.profile): r for r in self.runs}
        header = ["seed", "persona", *[f"{a}/{p}" for a, p in columns], "false alarms"]
        rows = [header]
        for seed in self.seeds:
            for persona in personas:
                runs = [by_key.get((seed, persona, a, p)) for a, p in columns]
                cells = ["-" if run is None else ("ERROR" if run.error else str(len(run.alarms()))) for run in runs]
                total = sum(len(run.alarms()) for run in runs if run is not None)
                rows.append([str(seed), persona or NO_PERSONA, *cells, str(total)])
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
        lines.append("")
        for r in sorted(self.runs, key=lambda r: (r.job.seed or 0, r.job.persona or "", r.job.api, r.job.profile)):
            who = f" persona {r.job.persona}" if r.job.persona else ""
            lines += [f"false alarm: seed {r.job.seed} {r.job.api}/{r.job.profile}{who}: {a}" for a in r.alarms()]
        lines += [f"error: {e}" for e in self.errors]
        lines.append(f"{len(self.seeds)} seeds x {len(columns)} API/profile pairs x {len(personas)} "
                     f"(reference and personas: {', '.join(p or NO_PERSONA for p in personas)}) at depth {self.depth}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "false_alarms": self.false_alarms,
            "ok": self.ok,
            "depth": self.depth,
            "errors": self.errors,
            "per_seed": {str(k): v for k, v in self.per_seed().items()},
            "runs": [{"seed": r.job.seed, "api": r.job.api, "profile": r.job.profile, "persona": r.job.persona,
                      "exit_code": r.exit_code,
                      "duration_s": round(r.duration, 2), "alarms": r.alarms(), "error": r.error}
                     for r in self.runs],
        }


def sweep_seeds(
    apis: Sequence[str],
    profiles: Sequence[str],
    seeds: Sequence[int],
    *,
    jobs: int = 2,
    settings: RunSettings | None = None,
    work_dir: Path | None = None,
    progress: Callable[[RunOutcome], None] | None = None,
    personas: Sequence[str | None] = (None,),
) -> SeedSweep:
    """Run the reference once per (seed, API, profile, persona) and collect what each run flagged;
    `personas` holds None for the reference without a persona."""
    settings = settings or RunSettings(depth="standard")
    with _workspace(work_dir, "conformance-seeds-", settings) as (work, settings):
        planned = [Job(api, profile, persona=persona, seed=seed)
                   for seed in seeds for persona in personas for api in apis for profile in profiles]
        done = _run_all(planned, work, lambda job: settings, jobs, progress)
        return SeedSweep([done[j] for j in planned], list(seeds), settings.depth)


# -- output ---------------------------------------------------------------------------------------


def render_table(report: SelftestReport) -> str:
    rows = [("fault", "api", "profile", "killed", "by rules", "expected", "expected fired", "s")]
    for v in report.verdicts:
        by = ", ".join(sorted(v.fired)) or ("-" if not v.run.error else f"ERROR: {v.run.error}")
        rows.append((
            v.fault.name, v.run.job.api, v.run.job.profile, "yes" if v.killed else "NO", by,
            ", ".join(v.fault.rules) + (" (as warning)" if v.fault.expect == "warning" else ""),
            ", ".join(v.expected_fired) or "none", f"{v.run.duration:.1f}",
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1])
    lines.append("")
    for b in report.baselines:
        status = b.error or f"{b.violations()} violation(s)"
        who = f"reference as persona {b.job.persona}" if b.job.persona else "unfaulted reference"
        lines.append(f"{who} {b.job.api}/{b.job.profile}: {status} ({b.duration:.1f}s)")
        lines += [f"  false alarm: {v}" for v in _violation_list(b)]
    lines += [f"error: {e}" for e in report.errors]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m conformance.selftest", description=__doc__.split("\n\n")[0])
    p.add_argument("--api", choices=[*APIS, "both"], default="model-inference")
    p.add_argument("--profile", choices=[*PROFILES, "both"], default="azure")
    p.add_argument("--jobs", type=int, default=2, help="runs in parallel (default 2)")
    p.add_argument("--depth", choices=DEPTHS,
                   help="generation depth (default smoke; standard with --seeds)")
    p.add_argument("--seeds", type=int, nargs="?", const=DEFAULT_SEEDS, metavar="N",
                   help=f"no faults: run the unfaulted reference and each persona over N seeds (default "
                        f"{DEFAULT_SEEDS}) per API and profile, starting at --seed, and print the false alarms "
                        "per seed, API/profile and persona")
    p.add_argument("--json", help="also write the outcome as JSON to this file")
    p.add_argument("--faults", help="comma-separated fault names (default: every fault)")
    p.add_argument("--personas", default="all",
                   help="comma-separated conformant personas run as baselines and in --seeds sweeps besides "
                        "the reference itself (default: all; 'none': none)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds allowed per run")
    p.add_argument("--max-requests", type=int, help="request budget per run")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed for generated requests")
    p.add_argument("--keep", help="keep every run's report folder under this directory")
    p.add_argument("--full", action="store_true",
                   help="run the whole smoke suite for every fault (default: only the tests that judge its rules)")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.faults.split(",") if n.strip()] if args.faults else None
    unknown = sorted(set(names or ()) - FAULTS.keys())
    if unknown:
        p.error(f"unknown fault(s): {', '.join(unknown)}")
    personas = (sorted(PERSONAS) if args.personas == "all" else [] if args.personas == "none"
                else [n.strip() for n in args.personas.split(",") if n.strip()])
    unknown = sorted(set(personas) - PERSONAS.keys())
    if unknown:
        p.error(f"unknown persona(s): {', '.join(unknown)}")
    profiles = list(PROFILES) if args.profile == "both" else [args.profile]
    depth = args.depth or ("standard" if args.seeds is not None else "smoke")
    settings = RunSettings(depth=depth, timeout=args.timeout, max_requests=args.max_requests, seed=args.seed)

    def progress(o: RunOutcome) -> None:
        print(f"  {o.job.label}: exit {o.exit_code} in {o.duration:.1f}s", file=sys.stderr, flush=True)

    started = time.monotonic()
    if args.seeds is not None:
        if args.seeds < 1:
            p.error("--seeds needs at least 1 seed")
        apis = list(APIS) if args.api == "both" else [args.api]
        sweep = sweep_seeds(apis, profiles, [args.seed + i for i in range(args.seeds)], jobs=args.jobs,
                            settings=settings, work_dir=Path(args.keep) if args.keep else None, progress=progress,
                            personas=[None, *personas])
        print(sweep.render())
        print(f"wall time {time.monotonic() - started:.1f}s with --jobs {args.jobs}")
        if args.json:
            Path(args.json).write_text(json.dumps(sweep.to_json(), indent=2), encoding="utf-8")
        print(sweep.summary_line())
        return 0 if sweep.ok else 1
    report = run_selftest(args.api, profiles, names, jobs=args.jobs, settings=settings,
                          work_dir=Path(args.keep) if args.keep else None, progress=progress, select=not args.full,
                          personas=personas)
    print(render_table(report))
    print(f"wall time {time.monotonic() - started:.1f}s with --jobs {args.jobs}")
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")
    print(report.summary_line())
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
