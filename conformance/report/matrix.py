"""The two matrices of the report, as data: compliance (operation x rule family) and capabilities.

Kept apart from the HTML so the layout rules (family order, hidden empty columns, worst outcome
first, stable anchors) are tested without parsing markup.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from conformance.report._rules import RuleBook
from conformance.report._safe import anchor
from conformance.results import OUTCOMES, RUN_LEVEL, RuleResult
from conformance.rules._model import FAMILIES
from conformance.text import count

_WORDS = {
    "violation": ("violation", "violations"),
    "waived": ("waived", "waived"),
    "warning": ("warning", "warnings"),
    "pass": ("pass", "pass"),
    "not_applicable": ("n/a", "n/a"),
    "not_judged": ("not judged", "not judged"),
}


def outcome_rank(outcome: str) -> int:
    """Position in OUTCOMES (worst first); unknown outcomes sort as the worst, never hidden."""
    return OUTCOMES.index(outcome) if outcome in OUTCOMES else -1


def count_text(outcome: str, n: int) -> str:
    one, many = _WORDS.get(outcome, (outcome, outcome))
    return count(n, one, many)


@dataclass
class Cell:
    operation: str
    family: str
    anchor: str
    results: list[RuleResult] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in sorted(self.results, key=lambda r: outcome_rank(r.outcome)):
            out[r.outcome] = out.get(r.outcome, 0) + 1
        return out

    @property
    def worst(self) -> str:
        return min((r.outcome for r in self.results), key=outcome_rank, default="")

    @property
    def label(self) -> str:
        """Textual, so the matrix reads without colour: "1 violation · 3 pass"."""
        return " · ".join(count_text(o, n) for o, n in self.counts.items())


@dataclass
class Matrix:
    operations: list[str]
    families: list[str]
    cells: dict[tuple[str, str], Cell]

    def cell(self, operation: str, family: str) -> Cell | None:
        return self.cells.get((operation, family))


def operation_name(r: RuleResult) -> str:
    return r.operation_id or RUN_LEVEL


def compliance_matrix(results: list[RuleResult], rules: RuleBook | None = None) -> Matrix:
    """Rows: operations (sorted, run-level last); columns: FAMILIES order, empty ones hidden,
    unknown families appended (a result is never dropped because its family is new)."""
    rules = rules or RuleBook()
    cells: dict[tuple[str, str], Cell] = {}
    for r in results:
        op, fam = operation_name(r), rules.family(r.rule_id, r.family)
        cell = cells.get((op, fam))
        if cell is None:
            cell = cells[(op, fam)] = Cell(op, fam, anchor("cell", op, fam))
        cell.results.append(r)
    used = {fam for _, fam in cells}
    families = [f for f in FAMILIES if f in used] + sorted(used - set(FAMILIES))
    operations = sorted({op for op, _ in cells}, key=lambda op: (op == RUN_LEVEL, op))
    return Matrix(operations, families, cells)


@dataclass(frozen=True)
class CapabilityRow:
    name: str
    claimed: str | None  # JSON rendering, None when not claimed
    discovered: str | None
    status: str  # "consistent" | "contradiction" | "not verified" | "not claimed"


def _render(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def capability_rows(capabilities: dict[str, Any]) -> list[CapabilityRow]:
    claimed = capabilities.get("claimed") if isinstance(capabilities.get("claimed"), dict) else {}
    found = capabilities.get("discovered") if isinstance(capabilities.get("discovered"), dict) else {}
    rows = []
    for name in sorted(set(claimed) | set(found), key=str):
        c = _render(claimed[name]) if name in claimed else None
        d = _render(found[name]) if name in found else None
        if c is None:
            status = "not claimed"
        elif d is None:
            status = "not verified"
        else:
            status = "consistent" if c == d else "contradiction"
        rows.append(CapabilityRow(str(name), c, d, status))
    return rows
