"""Waivers and baselines: accepting known violations without hiding them.

A waiver is a reviewed, dated exception ("this deployment is known to break RULE on getEmbeddings
until the fix ships"); a baseline is a previous run's results, used as a regression gate so only
new violations fail. Both are one `Acceptance`, asked one question, `reason_for(rule, operation)`:
the live judge asks it when a test ends (so an accepted violation passes in pytest and JUnit) and
the results pipeline asks it for findings no test judged (recorded traffic). A waiver past its
date stops applying; a waiver that accepted nothing is reported as stale. Dates are UTC.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

BASELINE_REASON = "in baseline"
_KEYS = {"rule", "operation", "reason", "expires"}
#: Outcomes of a baseline that count as a deviation someone has already seen.
_KNOWN = ("violation", "waived")


class WaiverError(ValueError):
    """The waivers file is unreadable or malformed (a configuration error, not a target problem)."""


def today_utc() -> date:
    """The one "today" of waivers: UTC, so a waiver expires at the same moment on every machine."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Waiver:
    rule: str  # exact rule id: a glob here would let one line waive a whole family
    reason: str
    operation: str = "*"  # operationId glob (fnmatch, case-sensitive)
    expires: date | None = None  # last day (UTC) the waiver applies; from the next day it is ignored

    def matches(self, rule_id: str, operation_id: str) -> bool:
        return self.rule == rule_id and fnmatch.fnmatchcase(operation_id or "", self.operation)

    def expired(self, today: date) -> bool:
        return self.expires is not None and today > self.expires

    def describe(self, kind: str, **extra: Any) -> dict[str, Any]:
        out = {
            "kind": kind,
            "rule": self.rule,
            "operation": self.operation,
            "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
        }
        out.update(extra)
        return out


def load_waivers(path: Path, known_rules: Iterable[str] | None = None) -> list[Waiver]:
    """Read `{"waivers": [{"rule", "operation", "reason", "expires": "YYYY-MM-DD"}]}` strictly.

    Unknown keys are errors (a misspelt `expires` would make a waiver permanent), and so is a rule id
    the catalogue does not know (a misspelt id would waive nothing, silently).
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WaiverError(f"{path}: cannot read waivers file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise WaiverError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise WaiverError(f"{path}: not valid YAML{where}") from exc
    if raw is None:
        return []
    if not isinstance(raw, dict) or set(raw) != {"waivers"}:
        raise WaiverError(f'{path}: expected a mapping with the single key "waivers" (a list)')
    items = raw["waivers"] or []
    if not isinstance(items, list):
        raise WaiverError(f'{path}: "waivers" must be a list, got {type(items).__name__}')
    known = sorted(set(known_rules)) if known_rules is not None else None
    return [_parse(item, f"{path}: waivers[{i}]", known) for i, item in enumerate(items)]


def _parse(item: Any, where: str, known_rules: list[str] | None) -> Waiver:
    if not isinstance(item, dict):
        raise WaiverError(f"{where}: expected a mapping, got {type(item).__name__}")
    unknown = sorted(str(k) for k in item if k not in _KEYS)
    if unknown:
        raise WaiverError(
            f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(_KEYS))})"
        )
    for key in ("rule", "reason"):
        value = item.get(key)
        if not isinstance(value, str) or not value.strip():
            raise WaiverError(f'{where}: "{key}" is required and must be a non-empty string')
    rule = item["rule"].strip()
    if known_rules is not None and rule not in known_rules:
        close = difflib.get_close_matches(rule, known_rules, n=1)
        hint = f" (did you mean {close[0]}?)" if close else " (see `conformance rules`)"
        raise WaiverError(f"{where}: unknown rule {rule!r}{hint}")
    operation = item.get("operation", "*")
    if not isinstance(operation, str) or not operation.strip():
        raise WaiverError(f'{where}: "operation" must be a non-empty string (an operationId or glob)')
    return Waiver(
        rule=rule,
        reason=item["reason"].strip(),
        operation=operation.strip(),
        expires=_parse_date(item.get("expires"), where),
    )


def _parse_date(value: Any, where: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):  # YAML already parsed an unquoted YYYY-MM-DD
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise WaiverError(f'{where}: "expires" must be a date YYYY-MM-DD, got {value!r}')


def baseline_known(baseline: Any) -> set[tuple[str, str]]:
    """(rule, operation) pairs a baseline RunResults already showed failing."""
    return {(r.rule_id, r.operation_id) for r in baseline.results if r.outcome in _KNOWN}


@dataclass
class Acceptance:
    """Live waivers plus a baseline: which violations the user has accepted, and why."""

    waivers: list[Waiver] = field(default_factory=list)
    known: set[tuple[str, str]] = field(default_factory=set)  # from the baseline
    today: date = field(default_factory=today_utc)

    @classmethod
    def build(cls, waivers: Iterable[Waiver] = (), baseline: Any = None, today: date | None = None) -> Acceptance:
        return cls(list(waivers), baseline_known(baseline) if baseline is not None else set(), today or today_utc())

    def __bool__(self) -> bool:
        return bool(self.waivers or self.known)

    def reason_for(self, rule_id: str, operation_id: str) -> str | None:
        """Why a violation of `rule_id` on `operation_id` is accepted (a live waiver first), or None."""
        for w in self.waivers:
            if w.matches(rule_id, operation_id) and not w.expired(self.today):
                return w.reason
        if (rule_id, operation_id) in self.known:
            return BASELINE_REASON
        return None

    def accept(self, findings: Iterable[dict[str, Any]]) -> None:
        """Mark accepted violation findings (dicts) not yet marked: recorded traffic, merged workers."""
        for f in findings:
            if f.get("level") == "violation" and not f.get("waived"):
                f["waived"] = self.reason_for(f.get("rule", ""), f.get("operation") or "")

    def stale(self, findings: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Waivers to review: expired ones (with how many violations they would have accepted) and
        live ones that accepted nothing. A waiver that accepted a violation is never stale."""
        violations = [(f.get("rule", ""), f.get("operation") or "") for f in findings if f.get("level") == "violation"]
        out: list[dict[str, Any]] = []
        for w in self.waivers:
            hits = sum(1 for rule, op in violations if w.matches(rule, op))
            if w.expired(self.today):
                entry = w.describe("expired", matches=hits)
            elif hits == 0:
                entry = w.describe("unmatched")
            else:
                continue
            if entry not in out:
                out.append(entry)
        return out
