"""Collects what a run judged into `RunResults`: the one path from findings to results.

Live runs (the pytest plugin, possibly across xdist workers) and recorded-traffic validation both
feed a `ResultCollector`; its state is plain JSON so workers can hand it to the controller.
"""

from __future__ import annotations

import json
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.results import RuleResult, RunResults, Summary, count_outcomes
from conformance.rules._model import Finding, Level
from conformance.transport.exchange import Exchange

#: Distinct suite notes listed in the summary (the count covers them all).
MAX_NOTES = 20


def exchange_record(exchange: Exchange) -> dict[str, Any]:
    """The report's view of an exchange: redacted dict plus a curl line to reproduce it."""
    from conformance.transport.curl import to_curl

    data = exchange.to_dict()
    data["curl"] = to_curl(exchange.request)
    if exchange.response is not None and exchange.response.stream is not None:
        t = exchange.response.stream
        data["stream"] = {
            "events": len(t.events),
            "cut_reason": t.cut_reason,
            "closed_normally": t.closed_normally,
            "framing_issues": list(t.framing_issues)[:20],
        }
    return data


@dataclass
class ResultCollector:
    """Accumulates evaluated (rule, operation) pairs, findings, skips and n/a marks."""

    #: (rule, operation) -> list of test ids that evaluated it
    evaluated: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    #: (rule, operation) -> reason
    not_applicable: dict[tuple[str, str], str] = field(default_factory=dict)
    skipped: dict[tuple[str, str], str] = field(default_factory=dict)
    exchanges: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: What the target showed about its capabilities (merged across workers).
    discovered: dict[str, Any] = field(default_factory=dict)
    #: Tests that crashed instead of judging ("nodeid: error"), reported as an incomplete run.
    errors: list[str] = field(default_factory=list)
    #: What the official clients made of the target: (client, call) -> entry (see RunResults.clients).
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Suite notes: cases dropped because the suite, not the target, could not carry them out
    #: (a request it could not send, an answer it left unbounded that ran out of time).
    notes: list[str] = field(default_factory=list)
    _exchange_ids: dict[int, str] = field(default_factory=dict)
    _alive: weakref.WeakValueDictionary[int, Exchange] = field(default_factory=weakref.WeakValueDictionary)
    prefix: str = "x"

    def mark_evaluated(self, rule_id: str, operation_id: str, test: str = "") -> None:
        tests = self.evaluated.setdefault((rule_id, operation_id), [])
        if test and test not in tests:
            tests.append(test)

    def mark_not_applicable(self, rule_id: str, operation_id: str, reason: str) -> None:
        self.not_applicable.setdefault((rule_id, operation_id), reason)

    def mark_skipped(self, rule_id: str, operation_id: str, reason: str) -> None:
        self.skipped.setdefault((rule_id, operation_id), reason)

    def record_client(self, client: str, version: str | None, call: str, operation: str | None, outcome: str,
                      why: str = "", exchange: Exchange | None = None, rule: str | None = None) -> None:
        """One official-client call: "works", "fails" (why: the client's error or the mismatch, and the
        rule that reported it) or "not judged"."""
        self.clients[f"{client} {call}"] = {
            "client": client, "version": version, "call": call, "operation": operation, "outcome": outcome,
            "why": why, "rule": rule, "exchange": self._exchange_ref(exchange),
        }

    def _exchange_ref(self, exchange: Exchange | None) -> str | None:
        if exchange is None:
            return None
        # id() is reused once an exchange is freed: an id maps to its ref only while that very
        # exchange is alive, or a later exchange would be reported as an earlier one.
        key = id(exchange)
        if key not in self._exchange_ids or self._alive.get(key) is not exchange:
            ref = f"{self.prefix}{len(self.exchanges) + 1}"
            self._exchange_ids[key] = ref
            self._alive[key] = exchange
            self.exchanges[ref] = exchange_record(exchange)
        return self._exchange_ids[key]

    def add_findings(self, findings: Iterable[Finding], test: str = "") -> None:
        for f in findings:
            op = f.operation_id or "(none)"
            self.mark_evaluated(f.rule_id, op, test)
            data = f.to_dict()
            data["operation"] = op
            data["exchange"] = self._exchange_ref(f.exchange)
            data["test"] = test
            self.findings.append(data)

    # -- crossing process boundaries (pytest-xdist) -------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "evaluated": [[r, o, t] for (r, o), t in self.evaluated.items()],
            "findings": self.findings,
            "not_applicable": [[r, o, why] for (r, o), why in self.not_applicable.items()],
            "skipped": [[r, o, why] for (r, o), why in self.skipped.items()],
            "exchanges": self.exchanges,
            "errors": self.errors,
            "notes": self.notes,
            "discovered": self.discovered,
            "clients": self.clients,
        }

    def merge_json(self, data: dict[str, Any]) -> None:
        for r, o, tests in data.get("evaluated", []):
            for t in tests or [""]:
                self.mark_evaluated(r, o, t)
        self.findings.extend(data.get("findings", []))
        for r, o, why in data.get("not_applicable", []):
            self.mark_not_applicable(r, o, why)
        for r, o, why in data.get("skipped", []):
            self.mark_skipped(r, o, why)
        self.exchanges.update(data.get("exchanges", {}))
        self.errors.extend(data.get("errors", []))
        self.clients.update(data.get("clients") or {})
        self.notes.extend(data.get("notes", []))
        for key, value in (data.get("discovered") or {}).items():
            mine = self.discovered.get(key)
            if isinstance(mine, dict) and isinstance(value, dict):
                mine.update(value)
            elif isinstance(mine, list) and isinstance(value, list):
                self.discovered[key] = sorted(set(mine) | set(value), key=str)
            else:
                self.discovered[key] = value

    def dump(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json()), encoding="utf-8")

    # -- results ------------------------------------------------------------------------------
    def rule_results(self) -> list[RuleResult]:
        from conformance.rules.catalogue import get_rule

        by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for f in self.findings:
            by_key.setdefault((f["rule"], f["operation"]), []).append(f)
        keys = set(self.evaluated) | set(self.not_applicable) | set(self.skipped) | set(by_key)
        out: list[RuleResult] = []
        for rule_id, op in sorted(keys):
            rule = get_rule(rule_id)
            fs = by_key.get((rule_id, op), [])
            levels = {f["level"] for f in fs if not f.get("waived")}
            if Level.VIOLATION.value in levels:
                outcome = "violation"
            elif any(f.get("waived") for f in fs):
                outcome = "waived"
            elif Level.WARNING.value in levels:
                outcome = "warning"
            elif (rule_id, op) in self.evaluated:
                outcome = "pass"
            elif (rule_id, op) in self.not_applicable:
                outcome = "not_applicable"
            else:
                outcome = "skipped"
            reason = self.not_applicable.get((rule_id, op)) or self.skipped.get((rule_id, op)) or ""
            if outcome == "pass" and (rule_id, op) in self.skipped and not fs:
                # Some tests of this pair ran and passed, others were skipped: it still passed.
                reason = ""
            out.append(
                RuleResult(
                    rule_id=rule_id,
                    operation_id=op,
                    outcome=outcome,
                    family=rule.family if rule else "",
                    level=rule.level.value if rule else "",
                    findings=fs,
                    tests=sorted(self.evaluated.get((rule_id, op), [])),
                    reason=reason,
                )
            )
        return out

    def build(self, summary: Summary, capabilities: dict[str, Any] | None = None) -> RunResults:
        results = self.rule_results()
        summary.counts = count_outcomes(results)
        summary.errors = list(self.errors)
        if self.notes:
            shown = sorted(set(self.notes))[:MAX_NOTES]
            summary.notes = [*summary.notes, f"{len(self.notes)} case(s) dropped as suite notes (never judged "
                             "against the target):", *shown]
            if len(set(self.notes)) > len(shown):
                summary.notes.append(f"... and {len(set(self.notes)) - len(shown)} more")
        if summary.counts.get("violation"):
            summary.verdict = "not conformant"
        elif summary.counts.get("pass") or summary.counts.get("warning") or summary.counts.get("waived"):
            summary.verdict = "conformant"
        else:
            summary.verdict = "incomplete"
        if self.errors and summary.verdict == "conformant":
            summary.verdict = "incomplete"
        return RunResults(summary=summary, results=results, capabilities=capabilities or {}, exchanges=self.exchanges,
                          clients=[self.clients[k] for k in sorted(self.clients)])


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
