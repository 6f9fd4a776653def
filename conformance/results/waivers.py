"""Waivers and baselines: accepting known violations without hiding them.

A waiver is a reviewed, dated exception ("this deployment is known to break RULE on getEmbeddings
until the fix ships"); a baseline is a previous run's results, used as a regression gate so only
new violations fail. Both turn matching violation outcomes into "waived" (still shown, never
counted as failures) and recompute the verdict. A waiver past its date stops applying, and a
waiver that matches nothing is reported as stale, so exceptions cannot outlive their reason.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from conformance.results import RunResults
from conformance.results.verdict import INCOMPLETE, copied, finalize

BASELINE_REASON = "in baseline"
_KEYS = {"rule", "operation", "reason", "expires"}


class WaiverError(ValueError):
    """The waivers file is unreadable or malformed (a configuration error, not a target problem)."""


@dataclass(frozen=True)
class Waiver:
    rule: str  # exact rule id: a glob here would let one line waive a whole family
    reason: str
    operation: str = "*"  # operationId glob (fnmatch, case-sensitive)
    expires: date | None = None  # last day the waiver applies; from the next day it is ignored

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


def load_waivers(path: Path) -> list[Waiver]:
    """Read `{"waivers": [{"rule", "operation", "reason", "expires": "YYYY-MM-DD"}]}` strictly.

    Unknown keys are errors: a misspelt `expires` would otherwise make a waiver permanent.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WaiverError(f"{path}: cannot read waivers file ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise WaiverError(f"{path}: not valid YAML ({exc})") from exc
    if raw is None:
        return []
    if not isinstance(raw, dict) or set(raw) != {"waivers"}:
        raise WaiverError(f'{path}: expected a mapping with the single key "waivers" (a list)')
    items = raw["waivers"] or []
    if not isinstance(items, list):
        raise WaiverError(f'{path}: "waivers" must be a list, got {type(items).__name__}')
    return [_parse(item, f"{path}: waivers[{i}]") for i, item in enumerate(items)]


def _parse(item: Any, where: str) -> Waiver:
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
    operation = item.get("operation", "*")
    if not isinstance(operation, str) or not operation.strip():
        raise WaiverError(f'{where}: "operation" must be a non-empty string (an operationId or glob)')
    return Waiver(
        rule=item["rule"].strip(),
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


def _waive(result: Any, reason: str) -> None:
    result.outcome = "waived"
    result.reason = reason
    for f in result.findings:
        if isinstance(f, dict) and f.get("level", "violation") == "violation":
            f["waived"] = reason


def apply_waivers(results: RunResults, waivers: list[Waiver], today: date | None = None) -> RunResults:
    """A copy of `results` with live waivers applied, stale ones listed, the verdict recomputed."""
    today = today or datetime.now(UTC).date()
    out = copied(results)
    used: set[int] = set()
    would_match: dict[int, int] = {}
    for r in out.results:
        if r.outcome != "violation":
            continue
        for i, w in enumerate(waivers):
            if not w.matches(r.rule_id, r.operation_id):
                continue
            if not w.expired(today):
                used.add(i)
                _waive(r, w.reason)
                break
            would_match[i] = would_match.get(i, 0) + 1
    stale = out.summary.stale_waivers
    for i, w in enumerate(waivers):
        if w.expired(today):
            entry = w.describe("expired", matches=would_match.get(i, 0))
        elif i not in used:
            entry = w.describe("unmatched")
        else:
            continue
        if entry not in stale:
            stale.append(entry)
    return finalize(out, complete=results.summary.verdict != INCOMPLETE)


def apply_baseline(results: RunResults, baseline: RunResults) -> RunResults:
    """A copy where violations already known in `baseline` (same rule and operation) are waived.

    "Known" means a violation or a waived outcome in the baseline: both are deviations someone has
    already seen. Only new violations keep the verdict "not conformant".
    """
    known = {(r.rule_id, r.operation_id) for r in baseline.results if r.outcome in ("violation", "waived")}
    out = copied(results)
    for r in out.results:
        if r.outcome == "violation" and (r.rule_id, r.operation_id) in known:
            _waive(r, BASELINE_REASON)
    return finalize(out, complete=results.summary.verdict != INCOMPLETE)
