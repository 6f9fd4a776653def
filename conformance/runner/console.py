"""What a run prints: a header naming the target, one line per failing rule while it runs, and at
the end the failing rules with their counts and, on the very last line, the verdict.

Every detail (JSON path, value, curl line) is in the report and, with `-v`, in pytest's failure
sections; the console only has to say what is being tested and whether it conforms. Server text
is neutralised (no terminal escapes) and scrubbed of the credential before it is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from typing import Any
from urllib.parse import urlsplit

import pytest

from conformance import __version__
from conformance.report._safe import clip, neutralise, scrubber
from conformance.text import count

#: Characters of a finding's message on its live line.
LINE_MESSAGE = 140


def one_line(text: Any, limit: int = LINE_MESSAGE) -> str:
    """Server-supplied text made safe and short enough for one console line."""
    return clip(" ".join(neutralise(scrubber()(str(text))).split()), limit)


def write_own_line(tr: Any, line: str, **markup: bool) -> None:
    """A line of its own, even in the middle of pytest's progress dots."""
    tw = getattr(tr, "_tw", None)
    if tw is not None and getattr(tw, "width_of_current_line", 0):
        tw.line()
    tr.write_line(line, **markup)


def target_text(endpoint: str | None, reference: bool) -> str:
    """Host and path of the endpoint, never its query or user info."""
    parts = urlsplit(endpoint or "")
    where = parts.netloc.rsplit("@", 1)[-1] + parts.path.rstrip("/")
    return f"{where} (embedded reference deployment)" if reference else where


def header_lines(session: Any, workers: int = 0) -> list[str]:
    cfg = session.config
    budget = cfg.budget
    run = f"profile {cfg.profile} · depth {cfg.depth} · budget {budget.max_requests} requests, max_tokens {budget.max_tokens}"
    if workers:
        run += f" · {workers} workers"
    return [
        f"azure-inference-conformance {__version__} · target {target_text(cfg.endpoint, session.reference is not None)}",
        f"api {cfg.api} · api-version {session.api_version} · {run} · seed {session.seed}",
    ]


def violations_of(findings: Iterable[Any]) -> list[list[str]]:
    """[rule, operation, message] of each unwaived violation: what a test report carries to the console."""
    out = []
    for f in findings:
        if getattr(f.level, "value", f.level) == "violation" and not f.waived:
            where = f" at {f.path}" if f.path else ""
            out.append([f.rule_id, f.operation_id or "-", f"{f.message}{where}"])
    return out


def rule_line(rule: str, operation: str, message: str) -> str:
    return f"FAIL [{rule}] {one_line(operation, 60)}: {one_line(message)}"


def tail_lines(results: Any, written: dict[str, Any] | None = None) -> list[str]:
    """The end of the console: failing rules with counts, reports, cost, and the verdict last."""
    s = results.summary
    lines: list[str] = []
    failing: dict[str, list[Any]] = {}
    for r in results.results:
        if r.outcome == "violation":
            failing.setdefault(r.rule_id, []).append(r)
    if failing:
        width = max(len(rule) for rule in failing)
        lines.append(f"failing rules ({len(failing)}; details in the report, or on the console with -v):")
        for rule, rows in sorted(failing.items(), key=lambda kv: (-len(kv[1]), -_findings(kv[1]), kv[0])):
            ops = sorted({r.operation_id for r in rows})
            n = _findings(rows)
            lines.append(f"  {rule:<{width}}  {len(ops)} operation{'s' if len(ops) != 1 else ''}, "
                         f"{n} finding{'s' if n != 1 else ''}: {one_line(', '.join(ops), 100)}")
    for error in s.errors[:5]:
        lines.append(f"incomplete: {one_line(error, 300)}")
    if len(s.errors) > 5:
        lines.append(f"incomplete: … and {len(s.errors) - 5} more (see the report)")
    if getattr(s, "interrupted", None):
        lines.append(f"interrupted: {one_line(s.interrupted, 300)}")
    for line in [*getattr(s, "deselected", []), *getattr(s, "not_judged", [])][:12]:
        lines.append(f"not judged: {one_line(line, 300)}")
    for stale in s.stale_waivers:
        until = f", expired {stale.get('expires')}" if stale.get("kind") == "expired" else ""
        lines.append(one_line(f"stale waiver ({stale.get('kind')}{until}): {stale.get('rule')} on "
                              f"{stale.get('operation')}: {stale.get('reason')}", 200))
    if written:
        lines.append("reports: " + " · ".join(str(p) for p in written.values()))
    lines.append(f"requests {s.requests}, retries {s.retries}, tokens {s.tokens.get('total', 0)}, "
                 f"{s.duration_s:.1f} s, seed {s.seed} (reproduce with --seed {s.seed})")
    lines.append(verdict_line(s))
    return lines


def verdict_line(s: Any) -> str:
    """The console's last word: verdict, counts and the exit code the process ends with."""
    c = s.counts
    return (f"{s.verdict.upper()} ({s.target.profile} profile): {count(c.get('violation', 0), 'violation')}, "
            f"{count(c.get('warning', 0), 'warning')}, {count(c.get('pass', 0), 'pass', 'passes')}, "
            f"{c.get('not_judged', 0)} not judged, {c.get('not_applicable', 0)} not applicable, "
            f"{c.get('waived', 0)} waived -> exit {s.exit_code}")


def _findings(rows: list[Any]) -> int:
    """Violations found for a rule (at least one per failing operation)."""
    total = 0
    for r in rows:
        n = sum(1 for f in r.findings if f.get("level") == "violation" and not f.get("waived"))
        total += max(n, 1)
    return total


class ConsolePlugin:
    """The run's console hooks, registered by the plugin on the controller once the session exists."""

    def __init__(self, config: Any, session: Any, state: Callable[[], dict[str, Any]]) -> None:
        self.config = config
        self.session = session
        self.state = state  # the plugin's run state: "results" and "written" once the run is judged
        self.rules_shown: set[str] = set()

    @property
    def terminal(self) -> Any:
        return self.config.pluginmanager.get_plugin("terminalreporter")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self) -> None:
        """The header, whatever pytest's verbosity (`-q` hides pytest's own)."""
        tr = self.terminal
        if tr is None:
            return
        workers = int(getattr(self.config.option, "numprocesses", 0) or 0)
        for line in header_lines(self.session, workers=workers):
            write_own_line(tr, line, bold=True)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """One line the first time each rule fails (the controller sees every worker's reports)."""
        tr = self.terminal
        for rule, operation, message in getattr(report, "conformance_violations", None) or []:
            if rule in self.rules_shown or tr is None:
                continue
            self.rules_shown.add(rule)
            write_own_line(tr, rule_line(rule, operation, message), red=True)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self) -> Generator[None, Any, Any]:
        """Outermost wrapper: pytest's own summary is written inside it, so the verdict is the last line."""
        result = yield
        state = self.state() or {}
        tr = self.terminal
        if "results" not in state or tr is None:
            return result
        written = dict(state.get("written", {}))
        for name, opt in (("junit", "xmlpath"), ("pytest-html", "htmlpath")):
            path = getattr(self.config.option, opt, None)
            if path:
                written.setdefault(name, path)
        lines = tail_lines(state["results"], written)
        for line in lines[:-1]:
            write_own_line(tr, line)
        s = state["results"].summary
        colour = {"green": True} if s.verdict == "conformant" else {"red": True} if s.exit_code else {"yellow": True}
        tr.write_line(lines[-1], bold=True, **colour)
        return result
