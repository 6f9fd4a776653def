"""Trends: what changed night after night, per deployment (`conformance trend DIR`).

DIR holds dated results.json files, one per deployment and night, in any of these layouts:
`DIR/<deployment>/<YYYY-MM-DD>.json`, `DIR/<deployment>/<YYYY-MM-DD>/results.json`,
`DIR/<YYYY-MM-DD>/<deployment>/results.json`. The deployment is the path below DIR with its date
parts removed (files directly in DIR are grouped by the endpoint, API and api-version they name);
the night is the date in the path, else the UTC date the run started. When one deployment has
several runs on one night, the last one started counts. Every file is read by the project's one
results reader; a file it cannot read is listed, never fatal.

A rule is failing on a night when one of its results is a violation. It "started failing" on the
first night it fails after a night it did not, and "stopped failing" on the first night after that
it is judged and holds. A failing rule that became waived (a waiver or a baseline accepted it) or
was not judged any more is marked as such: neither is a fix.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance.report._rules import RuleBook
from conformance.report._safe import host_only
from conformance.report.fleet import FAILING
from conformance.report.json_out import read_results_json
from conformance.report.matrix import RUN_LEVEL, outcome_rank
from conformance.results import RunResults
from conformance.rules._model import FAMILIES

TREND_FORMAT_VERSION = 1
_DATE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")
#: Outcomes that show a rule was judged and held.
_HELD = ("pass", "warning")


def _date_of(part: str) -> str | None:
    m = _DATE.search(part)
    if not m:
        return None
    y, mo, d = m.groups()
    if not (1 <= int(mo) <= 12 and 1 <= int(d) <= 31):
        return None
    return f"{y}-{mo}-{d}"


@dataclass
class Night:
    date: str
    source: str  # the file, relative to DIR
    started: str
    verdict: str
    violations: int
    warnings: int
    #: family -> {"worst": outcome, "violations": n, "warnings": n}
    families: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: rule id -> operations with a failing outcome
    failing: dict[str, list[str]] = field(default_factory=dict)
    #: rules judged and holding (pass or warning) on some operation and failing on none
    held: list[str] = field(default_factory=list)
    #: rules with a waived violation and no unwaived one
    waived: list[str] = field(default_factory=list)


@dataclass
class Event:
    date: str
    rule_id: str
    kind: str  # "started" | "stopped" | "waived" | "no longer judged"
    operations: list[str]
    family: str = ""


@dataclass
class DeploymentTrend:
    name: str
    endpoint_host: str
    api: str
    api_version: str
    nights: list[Night]
    events: list[Event]
    families: list[str]
    #: rules that failed on some night, with their family
    rules: dict[str, str]


@dataclass
class Trend:
    deployments: list[DeploymentTrend]
    unreadable: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": TREND_FORMAT_VERSION,
            "deployments": [asdict(d) for d in self.deployments],
            "unreadable": list(self.unreadable),
        }


def _night(date: str, source: str, results: RunResults, rules: RuleBook) -> Night:
    s = results.summary
    families: dict[str, dict[str, Any]] = {}
    failing: dict[str, list[str]] = {}
    held: set[str] = set()
    waived: set[str] = set()
    for r in results.results:
        fam = rules.family(r.rule_id, r.family)
        cell = families.setdefault(fam, {"worst": r.outcome, "violations": 0, "warnings": 0})
        if outcome_rank(r.outcome) < outcome_rank(cell["worst"]):
            cell["worst"] = r.outcome
        if r.outcome == "violation":
            cell["violations"] += 1
        elif r.outcome == "warning":
            cell["warnings"] += 1
        if r.outcome in FAILING:
            failing.setdefault(r.rule_id, []).append(r.operation_id or RUN_LEVEL)
        elif r.outcome in _HELD:
            held.add(r.rule_id)
        elif r.outcome == "waived":
            waived.add(r.rule_id)
    return Night(
        date=date,
        source=source,
        started=s.started,
        verdict=s.verdict,
        violations=int(s.counts.get("violation", 0)),
        warnings=int(s.counts.get("warning", 0)),
        families=families,
        failing={k: sorted(v) for k, v in sorted(failing.items())},
        held=sorted(held - failing.keys() - waived),
        waived=sorted(waived - failing.keys()),
    )


def _events(nights: list[Night], family: dict[str, str]) -> list[Event]:
    events: list[Event] = []
    for prev, cur in zip(nights, nights[1:], strict=False):
        for rule_id, ops in cur.failing.items():
            if rule_id not in prev.failing:
                events.append(Event(cur.date, rule_id, "started", ops, family.get(rule_id, "")))
        for rule_id, ops in prev.failing.items():
            if rule_id in cur.failing:
                continue
            kind = "stopped" if rule_id in cur.held else "waived" if rule_id in cur.waived else "no longer judged"
            events.append(Event(cur.date, rule_id, kind, ops, family.get(rule_id, "")))
    return events


def _identity(results: RunResults) -> str:
    tg = results.summary.target
    path = str(getattr(tg, "endpoint_path", "") or "")
    return f"{host_only(tg.endpoint_host)}{path} {tg.api} {tg.api_version}".strip()


def _place(root: Path, path: Path, results: RunResults) -> tuple[str, str]:
    """(deployment, night) of one file: its path below `root` without date parts, and the date in it."""
    rel = path.relative_to(root)
    name = "/".join(p for p in rel.parent.parts if _date_of(p) is None) or _identity(results)
    date = next((d for d in map(_date_of, reversed(rel.parts)) if d), None)
    return name, date or (results.summary.started or "")[:10] or "unknown"


def collect(root: Path) -> Trend:
    """Read every results file under `root` into one trend per deployment."""
    root = Path(root)
    rules = RuleBook.load()
    #: deployment -> night -> (started, Night, RunResults): the last run started on a night wins
    groups: dict[str, dict[str, tuple[str, Night, RunResults]]] = {}
    family: dict[str, str] = {}
    unreadable: list[dict[str, str]] = []
    for path in sorted(p for p in root.rglob("*.json") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        try:
            results = read_results_json(path)
            name, date = _place(root, path, results)
            night = _night(date, rel, results, rules)
        except (ValueError, TypeError, AttributeError) as exc:
            if path.name not in ("fleet.json", "trend.json"):  # our own outputs, when written into DIR
                unreadable.append({"file": rel, "reason": str(exc) or type(exc).__name__})
            continue
        family.update({r.rule_id: rules.family(r.rule_id, r.family) for r in results.results})
        earlier = groups.setdefault(name, {}).get(date)
        if earlier is None or earlier[0] <= results.summary.started:
            groups[name][date] = (results.summary.started, night, results)
    order = {f: i for i, f in enumerate(FAMILIES)}
    out = []
    for name, by_date in sorted(groups.items()):
        nights = [by_date[d][1] for d in sorted(by_date)]
        latest = by_date[max(by_date)][2].summary.target
        families = {f for n in nights for f in n.families}
        failed = {rule_id for n in nights for rule_id in n.failing}
        out.append(
            DeploymentTrend(
                name=name,
                endpoint_host=host_only(latest.endpoint_host),
                api=latest.api,
                api_version=latest.api_version,
                nights=nights,
                events=_events(nights, family),
                families=sorted(families, key=lambda f: (order.get(f, len(order)), f)),
                rules={rule_id: family.get(rule_id, "") for rule_id in sorted(failed)},
            )
        )
    return Trend(out, unreadable)
