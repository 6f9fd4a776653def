"""Findings grouped for reading: identical findings once with a count, failing rules in one table.

A faulted run repeats the same fault on every request that touches it (one wrong `usage` total
shows up on every chat answer). A reader needs it once, with how often it happened and the
simplest exchange that shows it, so the grouping key ignores what varies between occurrences
(numbers and quoted strings in the message, array indices in the path) and the example is the
smallest hand-written exchange, because a fuzzed request hides the fault behind noise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from conformance.report.matrix import operation_name, outcome_rank
from conformance.results import OUTCOMES, RuleResult

#: Quoted strings ('...', "...") and numbers (integers, decimals, exponents) in a message.
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_NUMBER = re.compile(r"(?<![A-Za-z_])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_INDEX = re.compile(r"\[\d+\]")


def message_shape(message: Any) -> str:
    """A message with its varying parts replaced: the same fault on two requests gives one shape."""
    text = _QUOTED.sub("‹s›", str(message or ""))
    return _NUMBER.sub("‹n›", text)


def path_shape(path: Any) -> str:
    """A JSON path with array indices generalised: `$.data[3].index` -> `$.data[*].index`."""
    return _INDEX.sub("[*]", str(path or ""))


def is_generated(exchange: Any) -> bool:
    """Whether the suite generated this request (property-based) rather than writing it by hand."""
    return isinstance(exchange, dict) and "generated" in str(exchange.get("purpose") or "")


def exchange_size(exchange: Any) -> int:
    """Bytes a reader has to look at: request body plus response body."""
    if not isinstance(exchange, dict):
        return 0
    size = 0
    for part in ("request", "response"):
        doc = exchange.get(part)
        if isinstance(doc, dict):
            size += len(str(doc.get("body") or "")) + len(str(doc.get("url") or ""))
    return size


def example_rank(finding: dict[str, Any], exchanges: dict[str, Any], position: int) -> tuple[int, int, int, int]:
    """Sort key of a finding as an example: one with an exchange, hand-written, smallest, earliest."""
    ref = finding.get("exchange")
    ex = ref if isinstance(ref, dict) else exchanges.get(ref) if isinstance(ref, str) else None
    if not isinstance(ex, dict):
        return (1, 1, 0, position)
    return (0, int(is_generated(ex)), exchange_size(ex), position)


@dataclass
class FindingGroup:
    """Findings of one rule on one operation that say the same thing (differing only in values)."""

    level: str
    path: str
    shape: str
    #: In the order the run produced them.
    findings: list[dict[str, Any]] = field(default_factory=list)
    #: The finding shown in full: the simplest exchange that shows the fault.
    example: dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.findings)

    @property
    def others(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f is not self.example]


def group_findings(findings: list[dict[str, Any]], exchanges: dict[str, Any]) -> list[FindingGroup]:
    """Groups in order of first appearance; each group's example chosen by `example_rank`."""
    groups: dict[tuple[str, str, str], FindingGroup] = {}
    ranks: dict[int, tuple[int, int, int, int]] = {}
    for position, f in enumerate(findings):
        level = str(f.get("level") or "violation")
        key = (level, path_shape(f.get("path")), message_shape(f.get("message")))
        group = groups.get(key)
        if group is None:
            group = groups[key] = FindingGroup(level, key[1], key[2])
        group.findings.append(f)
        ranks[id(f)] = example_rank(f, exchanges, position)
    for group in groups.values():
        group.example = min(group.findings, key=lambda f: ranks[id(f)])
    return list(groups.values())


def counted_findings(result: RuleResult) -> list[dict[str, Any]]:
    """The findings that make up a result's outcome (notes inform, they never count)."""
    return [f for f in result.findings if isinstance(f, dict) and f.get("level") != "note"]


@dataclass
class FailingRule:
    """One row of the failing-rules table: a rule and every operation it failed on."""

    rule_id: str
    outcome: str  # the worst outcome of the rule over its operations
    level: str
    family: str
    results: list[RuleResult] = field(default_factory=list)
    occurrences: int = 0
    #: The simplest reproduction over all operations (None when no finding carries an exchange).
    example: dict[str, Any] | None = None

    @property
    def operations(self) -> list[str]:
        return [operation_name(r) for r in self.results]


def is_failing(outcome: str) -> bool:
    """Violations and warnings, and outcomes this version does not know (never hidden)."""
    return outcome in ("violation", "warning") or outcome not in OUTCOMES


def failing_rules(
    results: list[RuleResult], exchanges: dict[str, Any], family_of: Any, family_order: list[str]
) -> list[FailingRule]:
    """Rules with a violation or a warning (or an outcome this version does not know), worst first."""
    rows: dict[str, FailingRule] = {}
    best: dict[str, tuple[int, int, int, int]] = {}
    position = 0
    for r in results:
        if not is_failing(r.outcome):
            continue
        row = rows.get(r.rule_id)
        if row is None:
            row = rows[r.rule_id] = FailingRule(r.rule_id, r.outcome, r.level, family_of(r))
        elif outcome_rank(r.outcome) < outcome_rank(row.outcome):
            row.outcome = r.outcome
        row.results.append(r)
        for f in counted_findings(r):
            row.occurrences += 1
            position += 1
            rank = example_rank(f, exchanges, position)
            if rank[0] == 0 and (r.rule_id not in best or rank < best[r.rule_id]):
                best[r.rule_id], row.example = rank, f
    order = {fam: i for i, fam in enumerate(family_order)}
    for row in rows.values():
        row.results.sort(key=lambda r: (outcome_rank(r.outcome), operation_name(r)))
    return sorted(
        rows.values(),
        key=lambda row: (outcome_rank(row.outcome), order.get(row.family, len(order)), row.rule_id),
    )
