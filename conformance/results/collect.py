"""Collects what a run judged: the raw material of the results pipeline (`conformance.results.pipeline`).

Live runs (the pytest plugin, possibly across xdist workers) and recorded-traffic validation both
feed a `ResultCollector`; its state is plain JSON so workers can hand it to the controller. Besides
findings and judged (rule, operation) pairs it keeps what coverage needs: which pairs the suite's
tests planned to judge, which tests ran or were deselected, and which kinds of answer each
operation gave, so that a rule that never got a chance is reported as not judged, never as held.
"""

from __future__ import annotations

import json
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.rules._model import Finding
from conformance.transport.curl import to_curl
from conformance.transport.exchange import Exchange

#: Distinct suite notes listed in the summary (the count covers them all).
MAX_NOTES = 20
Pair = tuple[str, str]


def exchange_record(exchange: Exchange) -> dict[str, Any]:
    """The report's view of an exchange: redacted dict plus a curl line to reproduce it."""
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


def answer_kinds(exchange: Exchange) -> tuple[str, ...]:
    """What kind of answer an exchange is, for rule prerequisites: any / 2xx / stream (2xx streamed)."""
    resp = exchange.response
    if resp is None:
        return ()
    if not 200 <= resp.status < 300:
        return ("any",)
    if resp.stream is not None and resp.stream.events:
        return ("any", "2xx", "stream")
    return ("any", "2xx")


@dataclass
class ResultCollector:
    """Accumulates judged pairs, findings, n/a and not-judged marks, and the coverage plan."""

    #: (rule, operation) -> list of test ids that evaluated it
    evaluated: dict[Pair, list[str]] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    #: (rule, operation) -> reason
    not_applicable: dict[Pair, str] = field(default_factory=dict)
    not_judged: dict[Pair, str] = field(default_factory=dict)
    exchanges: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: What the target showed about its capabilities (merged across workers).
    discovered: dict[str, Any] = field(default_factory=dict)
    #: Tests that crashed instead of judging ("nodeid: error") and operations that stopped answering.
    errors: list[str] = field(default_factory=list)
    #: What the official clients made of the target: (client, call) -> entry (see RunResults.clients).
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Suite notes: cases dropped because the suite, not the target, could not carry them out
    #: (a request it could not send, an answer it left unbounded that ran out of time).
    notes: list[str] = field(default_factory=list)
    #: (rule, operation) -> test ids that mean to judge it (from the suite's `rules` markers).
    plan: dict[Pair, list[str]] = field(default_factory=dict)
    #: Rules that some test restricted to operations of a kind (`kinds` marker) names: an exchange rule
    #: named by no other test applies only where those tests plan it; any other applies everywhere.
    kind_rules: set[str] = field(default_factory=set)
    #: Operations the target offers (target file `operations`), in spec order.
    offered: list[str] = field(default_factory=list)
    #: Test ids whose body ran (whatever the outcome), deselected by -k/-m, or crashed (id -> error).
    ran: set[str] = field(default_factory=set)
    deselected: set[str] = field(default_factory=set)
    crashed: dict[str, str] = field(default_factory=dict)
    #: operation -> answer kind ("any", "2xx", "stream") -> count
    answers: dict[str, dict[str, int]] = field(default_factory=dict)
    #: operation -> [why it counts as not served (404 to a valid request), claimed by name], from the
    #: pre-flight: its other rules are not judged (claimed by name) or not applicable (glob only)
    unserved: dict[str, list[Any]] = field(default_factory=dict)
    #: Why sending stopped before the end (max duration), if it did.
    stopped: str | None = None
    _exchange_ids: dict[int, str] = field(default_factory=dict)
    _alive: weakref.WeakValueDictionary[int, Exchange] = field(default_factory=weakref.WeakValueDictionary)
    prefix: str = "x"

    def mark_evaluated(self, rule_id: str, operation_id: str, test: str = "") -> None:
        tests = self.evaluated.setdefault((rule_id, operation_id), [])
        if test and test not in tests:
            tests.append(test)

    def mark_not_applicable(self, rule_id: str, operation_id: str, reason: str) -> None:
        self.not_applicable.setdefault((rule_id, operation_id), reason)

    def mark_not_judged(self, rule_id: str, operation_id: str, reason: str) -> None:
        self.not_judged.setdefault((rule_id, operation_id), reason)

    def plan_test(self, test: str, operation_id: str, rules: Iterable[str]) -> None:
        for rule_id in rules:
            tests = self.plan.setdefault((rule_id, operation_id), [])
            if test not in tests:
                tests.append(test)

    def saw_answer(self, exchange: Exchange, operation_id: str) -> None:
        kinds = self.answers.setdefault(operation_id, {})
        for kind in answer_kinds(exchange):
            kinds[kind] = kinds.get(kind, 0) + 1

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
            "not_judged": [[r, o, why] for (r, o), why in self.not_judged.items()],
            "exchanges": self.exchanges,
            "errors": self.errors,
            "notes": self.notes,
            "discovered": self.discovered,
            "clients": self.clients,
            "plan": [[r, o, t] for (r, o), t in self.plan.items()],
            "offered": self.offered,
            "kind_rules": sorted(self.kind_rules),
            "ran": sorted(self.ran),
            "deselected": sorted(self.deselected),
            "crashed": self.crashed,
            "answers": self.answers,
            "unserved": self.unserved,
            "stopped": self.stopped,
        }

    def merge_json(self, data: dict[str, Any]) -> None:
        for r, o, tests in data.get("evaluated", []):
            for t in tests or [""]:
                self.mark_evaluated(r, o, t)
        self.findings.extend(data.get("findings", []))
        for r, o, why in data.get("not_applicable", []):
            self.mark_not_applicable(r, o, why)
        for r, o, why in data.get("not_judged", []):
            self.mark_not_judged(r, o, why)
        self.exchanges.update(data.get("exchanges", {}))
        self.errors.extend(e for e in data.get("errors", []) if e not in self.errors)
        for r, o, tests in data.get("plan", []):
            for t in tests:
                self.plan_test(t, o, [r])
        self.offered = self.offered or list(data.get("offered", []))
        self.kind_rules.update(data.get("kind_rules", []))
        self.ran.update(data.get("ran", []))
        self.deselected.update(data.get("deselected", []))
        self.crashed.update(data.get("crashed", {}))
        for op, kinds in (data.get("answers") or {}).items():
            mine = self.answers.setdefault(op, {})
            for kind, n in kinds.items():
                mine[kind] = mine.get(kind, 0) + int(n)
        self.unserved.update(data.get("unserved") or {})
        self.stopped = self.stopped or data.get("stopped")
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


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
