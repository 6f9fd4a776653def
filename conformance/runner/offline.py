"""`conformance validate-traffic`: judge recorded exchanges with the same rules and profiles as a live run.

Pipeline: read (conformance.traffic) -> pick the API and vendored spec per exchange -> match the
operation -> judge every exchange-scope rule -> apply the profile -> collect -> waivers -> verdict ->
report.html + results.json + junit.xml. Nothing here talks to a target.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import conformance
from conformance.constants import APIS, DEFAULT_PROFILE, PROFILES
from conformance.report import write_reports
from conformance.report._safe import clip, neutralise, scrubber
from conformance.results import RunResults, Summary, Target
from conformance.results.collect import ResultCollector, now_iso
from conformance.results.pipeline import conclude
from conformance.results.verdict import RunEnd
from conformance.results.waivers import Acceptance, load_waivers
from conformance.rules._model import Finding, Level, RuleContext
from conformance.rules.catalogue import all_rules
from conformance.rules.judge import applicable_rules, judge_exchange
from conformance.rules.profiles import apply_profile
from conformance.runner.console import verdict_line
from conformance.spec import available_versions, default_version, load_spec
from conformance.spec.files import SPECS_DIR
from conformance.text import count
from conformance.traffic import TrafficError, detect_api, match_operation, read_traffic, recorded_api_version
from conformance.traffic import traffic_files as _traffic_files
from conformance.transport.exchange import Exchange

#: Pseudo rule id for rows about whole exchanges (unmatched route, no response).
ALL_RULES = "*"
#: Findings rendered in full per JUnit testcase (rendering includes a curl line; keep junit.xml small).
JUNIT_FINDINGS = 5


class TrafficUsageError(ValueError):
    """Bad command-line input (unknown api, unvendored --api-version, unreadable waivers): exit 2."""


@dataclass
class _Row:
    """One evaluated (exchange, rule) pair, kept for the JUnit file."""

    source: str
    operation: str
    rule: str
    findings: list[Finding] = field(default_factory=list)
    skipped: str = ""


@dataclass
class _Run:
    """What the pipeline learns while it goes (besides the collector)."""

    rows: list[_Row] = field(default_factory=list)
    hosts: set[str] = field(default_factory=set)
    specs: dict[tuple[str, str], Any] = field(default_factory=dict)
    #: (api, spec version) -> recorded api-versions that were mapped onto it
    mapped: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    tokens: Counter[str] = field(default_factory=Counter)
    exchanges: int = 0
    judged: int = 0
    unanswered: int = 0


def validate_traffic(
    paths: list[Path],
    *,
    api: str | None = None,
    api_version: str | None = None,
    profile: str = "azure",
    report_dir: Path = Path("reports"),
    waivers: Path | None = None,
) -> tuple[RunResults, int]:
    """Validate recorded traffic; write the reports; return (results, exit code 0/1/2).

    Bad arguments (unknown api or profile, an --api-version we do not vendor, a malformed waivers
    file) raise `TrafficUsageError`; `main` turns that into exit code 2.
    """
    started, t0 = now_iso(), time.monotonic()
    if api is not None and api not in APIS:
        raise TrafficUsageError(f"unknown api {api!r} (choose from {', '.join(APIS)})")
    if profile not in PROFILES:
        raise TrafficUsageError(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")
    if api is not None and api_version is not None:
        _check_version(api, api_version)
    acceptance = Acceptance.build(_load_waivers(waivers)) if waivers else None

    collector = ResultCollector(prefix="t")
    errors: list[TrafficError] = []
    run = _Run()
    for ex in read_traffic(paths, errors):
        _judge_one(run, collector, ex, api or detect_api(ex), api_version, profile)

    summary = _summary(run, api, profile, started, time.monotonic() - t0, len(_traffic_files(paths)))
    if run.unanswered:
        summary.notes.append(f"{run.unanswered} recorded exchange(s) had no response (a transport failure when "
                             "they were recorded); they were not judged")
    # Nothing judged at all is an input problem (exit 2), not a verdict on a target.
    end = RunEnd(errors=list(collector.errors), unusable_input=run.judged == 0)
    results = conclude(collector, summary, acceptance=acceptance, end=end,
                       capabilities={"traffic": _traffic_info(run, errors)})
    write_all(results, run, errors, Path(report_dir))
    return results, results.summary.exit_code


def _judge_one(run: _Run, collector: ResultCollector, ex: Exchange, api: str, forced_version: str | None,
               profile: str) -> None:
    """Match, judge, profile and collect one recorded exchange (the same rules as a live run)."""
    run.exchanges += 1
    recorded = recorded_api_version(ex)
    spec = _spec_for(run, api, forced_version, recorded)
    host = ex.request.url.split("/")[2] if "://" in ex.request.url else ""
    if host and host != "recorded.invalid":
        run.hosts.add(host)
    op = match_operation(ex, spec)
    if op is None:
        where = f"{ex.request.method} {ex.request.path}"
        reason = f"no operation of {api} {spec.version} matches {where}"
        collector.mark_not_applicable(ALL_RULES, where, reason)
        run.rows.append(_Row(ex.source, where, ALL_RULES, skipped=reason))
        return
    if ex.response is None:
        reason = f"no response recorded ({ex.error or 'unknown reason'})"
        run.unanswered += 1
        run.rows.append(_Row(ex.source, op, ALL_RULES, skipped=reason))
        return
    if recorded and recorded != spec.version:
        ex.purpose = f"recorded at api-version {recorded}; judged against {spec.version}"
    ctx = RuleContext(spec=spec, api=api, api_version=spec.version, target=None)
    findings = apply_profile(judge_exchange(ctx, ex), profile, api)
    collector.add_findings(findings, test=ex.source)
    collector.saw_answer(ex, op)
    rules = applicable_rules(ctx, ex)
    for rule_id in rules:
        collector.mark_evaluated(rule_id, op, ex.source)
    by_rule: dict[str, list[Finding]] = {r: [] for r in rules}
    for f in findings:
        by_rule.setdefault(f.rule_id, []).append(f)
    run.rows.extend(_Row(ex.source, op, r, fs) for r, fs in by_rule.items())
    run.judged += 1
    _add_tokens(run.tokens, ex)


# -- spec selection --------------------------------------------------------------------------------


def _check_version(api: str, version: str) -> None:
    if version not in available_versions(api):
        raise TrafficUsageError(
            f"api-version {version} is not vendored for {api} (vendored: {', '.join(available_versions(api))})"
        )


def _spec_for(run: _Run, api: str, forced: str | None, recorded: str | None) -> Any:
    """The vendored spec to judge with: --api-version, else the recorded one, else the nearest one."""
    versions = available_versions(api)
    if forced and forced in versions:
        version = forced
    elif recorded and recorded in versions:
        version = recorded
    elif recorded:
        version = nearest_version(recorded, versions)
        run.mapped.setdefault((api, version), set()).add(recorded)
    else:
        version = default_version(api)
    key = (api, version)
    if key not in run.specs:
        run.specs[key] = load_spec(api, version)
    return run.specs[key]


def nearest_version(recorded: str, versions: list[str]) -> str:
    """The vendored api-version closest in date to `recorded` (ties: the older, then the GA one)."""

    def day(v: str) -> int | None:
        try:
            return date.fromisoformat(v[:10]).toordinal()
        except ValueError:
            return None

    target = day(recorded)
    if target is None or not versions:
        return sorted(versions)[-1] if versions else recorded
    return min(versions, key=lambda v: (abs((day(v) or 0) - target), (day(v) or 0) > target, "preview" in v))


def _load_waivers(path: Path) -> Any:
    try:
        return load_waivers(path, known_rules=[r.id for r in all_rules()])
    except ValueError as exc:
        raise TrafficUsageError(str(exc)) from exc


# -- summary ---------------------------------------------------------------------------------------


def _summary(run: _Run, api: str | None, profile: str, started: str, duration: float, files: int) -> Summary:
    apis = sorted({a for a, _ in run.specs}) or [api or "model-inference"]
    hosts = sorted(run.hosts)
    where = f"recorded traffic ({files} file{'s' if files != 1 else ''})"
    if 0 < len(hosts) <= 3:
        where += ": " + ", ".join(hosts)
    specs = [run.specs[k] for k in sorted(run.specs)]
    return Summary(
        verdict="incomplete",
        counts={},
        target=Target(endpoint_host=where, api=", ".join(apis), api_version=_versions_text(run, len(apis) > 1),
                      profile=profile, depth="traffic"),
        spec_file=", ".join(_spec_path(s) for s in specs),
        spec_sha256=", ".join(str(s.sha256) for s in specs),
        suite_version=conformance.__version__,
        started=started,
        duration_s=round(duration, 3),
        requests=run.exchanges,
        tokens={"prompt": run.tokens["prompt"], "completion": run.tokens["completion"],
                "total": run.tokens["total"]},
    )


def _versions_text(run: _Run, with_api: bool) -> str:
    """Spec versions used; a recorded api-version we do not vendor is named next to its stand-in."""
    parts = []
    for api, version in sorted(run.specs):
        text = f"{api} {version}" if with_api else version
        recorded = run.mapped.get((api, version))
        if recorded:
            text += f" (nearest vendored spec for recorded api-version {', '.join(sorted(recorded))})"
        parts.append(text)
    return "; ".join(parts)


def _spec_path(spec: Any) -> str:
    try:
        return "specs/" + Path(spec.file).resolve().relative_to(SPECS_DIR).as_posix()
    except (ValueError, TypeError):
        return str(spec.file)


def _add_tokens(tokens: Counter[str], ex: Exchange) -> None:
    """Sum reported usage: the JSON body's `usage`, or the last stream chunk that carries one."""
    resp = ex.response
    usage: Any = None
    if resp is not None and resp.stream is not None:
        for ev in reversed(resp.stream.events):
            if '"usage"' in ev.data:
                try:
                    usage = json.loads(ev.data).get("usage")
                except (ValueError, AttributeError, RecursionError):
                    continue
                if usage:
                    break
    elif resp is not None and isinstance(resp.json, dict):
        usage = resp.json.get("usage")
    if not isinstance(usage, dict):
        return
    for ours, theirs in (("prompt", "prompt_tokens"), ("completion", "completion_tokens"), ("total", "total_tokens")):
        value = usage.get(theirs)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12:
            tokens[ours] += value


def _traffic_info(run: _Run, errors: list[TrafficError]) -> dict[str, Any]:
    """Reading statistics and problems, shown with the results (capabilities["traffic"])."""
    return {
        "exchanges": run.exchanges,
        "judged": run.judged,
        "unreadable": [str(e) for e in errors if e.kind == "error"][:200],
        "skipped": [str(e) for e in errors if e.kind != "error"][:200],
        "unreadable_count": sum(e.kind == "error" for e in errors),
        "skipped_count": sum(e.kind != "error" for e in errors),
        "api_versions": _versions_text(run, True),
    }


# -- writing ---------------------------------------------------------------------------------------


def write_all(results: RunResults, run: _Run, errors: list[TrafficError], report_dir: Path) -> dict[str, Path]:
    """report.html + results.json (the report package) and junit.xml (here)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    written = dict(write_reports(results, report_dir, pytest_html_name=None))  # no pytest run offline
    junit = report_dir / "junit.xml"
    write_junit(results, run.rows, errors, junit)
    written["junit"] = junit
    return written


def write_junit(results: RunResults, rows: list[_Row], errors: list[TrafficError], path: Path) -> None:
    """One `<testcase classname="traffic.<operation>" name="<source>::<rule>">` per evaluated pair."""
    scrub = scrubber()

    def safe(text: str, limit: int = 20000) -> str:
        return clip(neutralise(scrub(text)), limit)

    waived = {(r.rule_id, r.operation_id): r.reason for r in results.results if r.outcome == "waived"}
    suite = ET.Element("testsuite", name="conformance.validate-traffic")
    props = ET.SubElement(suite, "properties")
    for name, value in (("profile", results.summary.target.profile), ("api", results.summary.target.api),
                        ("api_version", results.summary.target.api_version), ("verdict", results.summary.verdict)):
        ET.SubElement(props, "property", name=name, value=safe(value, 2000))
    counts = Counter[str]()
    for row in rows:
        case = ET.SubElement(suite, "testcase", classname=safe(f"traffic.{row.operation}", 500),
                             name=safe(f"{row.source}::{row.rule}", 1000))
        counts["tests"] += 1
        violations = [f for f in row.findings if f.level == Level.VIOLATION and not f.waived]
        if row.skipped:
            ET.SubElement(case, "skipped", message=safe(row.skipped, 1000))
            counts["skipped"] += 1
        elif violations and (row.rule, row.operation) in waived:
            # Accepted by a waiver or the baseline: the testcase passes and says why.
            props = ET.SubElement(case, "properties")
            ET.SubElement(props, "property", name="waived", value=safe(waived[(row.rule, row.operation)], 1000))
        elif violations:
            failure = ET.SubElement(case, "failure", message=safe(violations[0].message, 1000), type=row.rule)
            failure.text = safe(_render_some(violations))
            counts["failures"] += 1
        others = [f for f in row.findings if f not in violations]
        if others:
            ET.SubElement(case, "system-out").text = safe(_render_some(others))
    for err in errors:
        case = ET.SubElement(suite, "testcase", classname="traffic.input", name=safe(f"{err.file}#{err.entry}", 1000))
        ET.SubElement(case, "skipped", message=safe(f"{err.kind}: {err.message}", 1000))
        counts["tests"] += 1
        counts["skipped"] += 1
    for key in ("tests", "failures", "skipped"):
        suite.set(key, str(counts[key]))
    suite.set("errors", "0")
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def _render_some(findings: list[Finding], limit: int = JUNIT_FINDINGS) -> str:
    """The first findings in full; the rest counted (results.json keeps them all)."""
    text = "\n\n".join(_render(f) for f in findings[:limit])
    if len(findings) > limit:
        text += f"\n\n… and {len(findings) - limit} more finding(s) of this rule on this exchange (see results.json)"
    return text


def _render(f: Finding) -> str:
    try:
        return f.render()
    except ImportError:  # reproduction line needs conformance.transport.curl; the finding itself still reads
        return f.render(with_request=False)


# -- command line (the lead registers the subcommand) ----------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="HAR files, JSON / JSON-lines exchanges, test-proxy recordings, vcrpy cassettes, or directories")
    parser.add_argument("--api", choices=APIS, default=None,
                        help="judge every exchange as this API (default: /openai/ paths are Azure OpenAI)")
    parser.add_argument("--api-version", default=None,
                        help="vendored spec version to judge with (default: the recorded one, or the nearest)")
    parser.add_argument("--profile", choices=PROFILES, default=DEFAULT_PROFILE)
    parser.add_argument("--report-dir", type=Path, default=Path("reports"))
    parser.add_argument("--waivers", type=Path, default=None, metavar="FILE")


def main(args: argparse.Namespace) -> int:
    scrub = scrubber()
    try:
        results, code = validate_traffic(list(args.paths), api=args.api, api_version=args.api_version,
                                         profile=args.profile, report_dir=args.report_dir, waivers=args.waivers)
    except TrafficUsageError as exc:
        print(f"conformance validate-traffic: {neutralise(scrub(str(exc)))}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"conformance validate-traffic: cannot write reports ({exc.strerror or exc})", file=sys.stderr)
        return 2
    s = results.summary
    info = results.capabilities.get("traffic", {})
    for line in info.get("unreadable", [])[:20]:
        print(f"unreadable: {neutralise(scrub(line))}", file=sys.stderr)
    print(f"{count(s.requests, 'exchange')} from {s.target.endpoint_host}, spec {s.target.api_version}, "
          f"{count(info.get('unreadable_count', 0), 'unreadable entry', 'unreadable entries')}")
    if code == 2:
        print("conformance validate-traffic: no exchange could be judged (see the unreadable and unmatched entries)",
              file=sys.stderr)
    print(f"reports in {args.report_dir}")
    print(verdict_line(s))  # the last line, as in a live run
    return code
